//! One backup run: every configured kind of every tenant in scope, listed page by
//! page and streamed into the bucket, then the manifest.
//!
//! Each tenant's kind becomes one file (a `v1` `List`), so a run costs one S3 write per
//! tenant and kind, not one per object. Memory is bounded by the files in flight, each
//! holding one page of objects and at most one multipart part, not by the size of the
//! cluster; the manifest's index (a name per object) is the only thing that grows with it.
//! Every write is create-only (see [`crate::store`]): a committed backup is never
//! written over, by a retry or by anything else.

mod run;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use kube::Client;
use serde_json::Value;
use tracing::{info, warn};

use crate::Result;
use crate::audit::{Audit, ObjectAccess, Scope};
use crate::claim::{self, Claimed};
use crate::cluster::{ClusterAccess, ClusterError};
use crate::event::{BackupRequest, Invocation};
use crate::kinds::{KindResolver, ResolvedKind};
use crate::layout::RunLayout;
use crate::list_file::{Page, list_page_text};
use crate::manifest::{FORMAT_VERSION, Manifest, RunStatus};
use crate::report::{Report, Status};
use crate::store::Store;
use run::{Run, State};

/// The time kept back before a deadline to write the manifest and the report.
pub const COMMIT_RESERVE: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// What a run needs from outside, built once per function instance.
#[derive(Clone)]
pub struct Backup {
    /// How clusters are reached.
    pub cluster: ClusterAccess,
    /// The S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The KMS key objects are encrypted with; `None` for the bucket's default.
    pub kms_key_id: Option<String>,
    /// The audit check whose result each report carries.
    pub audit: Audit,
    /// Objects per LIST page.
    pub page_size: u32,
    /// Files (a tenant's kind each) listed and uploaded at once.
    pub upload_concurrency: usize,
    /// The clock; tests pass their own.
    pub clock: fn() -> DateTime<Utc>,
}

/// What the cluster gave a run before it claimed anything.
struct Connected {
    client: Client,
    kinds: Vec<ResolvedKind>,
    namespaces: Vec<Value>,
}

impl Backup {
    /// Defaults that keep a page's worth of uploads busy without overrunning S3's
    /// per-prefix request rate or the Lambda's connection limits.
    pub fn new(cluster: ClusterAccess, s3: aws_sdk_s3::Client, kms_key_id: Option<String>, audit: Audit) -> Self {
        Self {
            cluster,
            s3,
            kms_key_id,
            audit,
            page_size: 500,
            upload_concurrency: 8,
            clock: Utc::now,
        }
    }

    /// Runs one backup, which must be committed before the invocation's deadline.
    /// Errors are returned only when nothing useful could be stored (the cluster is
    /// unreachable, a kind is unknown, the bucket refuses writes); failures of single
    /// tenants and kinds end up in the report. An unaudited backup still runs: the
    /// report says so, since a missed backup would cost more than an unaudited one.
    pub async fn run(&self, request: &BackupRequest, invocation: &Invocation) -> Result<Report> {
        let started_at = (self.clock)();
        let scope = Scope {
            bucket: &request.bucket,
            access: ObjectAccess::Write,
            function_arn: invocation.function_arn.as_deref(),
        };
        let audit_check = self.audit.check(&scope);
        // The audit check and reaching the cluster wait on different services, so they
        // overlap; a disabled backup never reaches the cluster.
        let (audit, connected) = if request.settings.is_enabled {
            let (audit, connected) = tokio::join!(audit_check, self.connect(request));
            (audit, Some(connected))
        } else {
            (audit_check.await, None)
        };
        if !audit.is_audited() {
            warn!(infrastructure = %request.infrastructure, audit = %audit.explain(), "this backup is not audited");
        }
        let mut report = Report::new(
            "backup",
            &request.infrastructure,
            &request.cluster,
            &request.bucket,
            started_at,
            audit,
        );
        let Some(connected) = connected else {
            report.status = Status::Disabled;
            return Ok(report.finish((self.clock)()));
        };
        let connected = connected?;
        report.kinds = request
            .kinds
            .iter()
            .zip(&connected.kinds)
            .map(|(name, kind)| (name.clone(), kind.api_version()))
            .collect();
        let layout = RunLayout::new(request.run_time, &request.infrastructure);
        report.backup = Some(format!("s3://{}/{}", request.bucket, layout.prefix()));
        report.run_path = Some(layout.run_path().to_string());

        // One invocation at a time writes a scheduled run's folder (see `crate::claim`);
        // claimed only now, so a run refused for bad input has written nothing.
        let claim = match claim::claim(
            &self.s3,
            &request.bucket,
            self.kms_key_id.clone(),
            &layout,
            &request.infrastructure,
            started_at,
            invocation.deadline,
        )
        .await?
        {
            Claimed::Held(claim) => claim,
            Claimed::Busy { until } => {
                warn!(run = layout.run_path(), %until, "another invocation of this run holds it; leaving it alone");
                report.status = Status::AlreadyRunning;
                return Ok(report.finish((self.clock)()));
            }
        };
        let layout = layout.with_attempt(claim.attempt());
        // Whatever happens under the claim, it is released here and only here.
        let outcome = self
            .claimed(request, invocation, &layout, connected, report, started_at)
            .await;
        claim.release().await;
        outcome
    }

    /// The part of a run that needs its claim.
    async fn claimed(
        &self,
        request: &BackupRequest,
        invocation: &Invocation,
        layout: &RunLayout,
        connected: Connected,
        mut report: Report,
        started_at: DateTime<Utc>,
    ) -> Result<Report> {
        let store = Store::new(self.s3.clone(), &request.bucket, self.kms_key_id.clone());
        // A retry of a run that committed must not redo it: its manifest is final,
        // whatever its status. Checked under the claim, so an invocation that waited
        // out another sees its commit. Listed rather than read: the backup role may not
        // read backups.
        if store.exists_listed(&layout.manifest_key()).await? {
            report.status = Status::AlreadyCompleted;
            return Ok(report.finish((self.clock)()));
        }

        let Connected {
            client,
            kinds,
            namespaces,
        } = connected;
        let run = Run {
            backup: self,
            store: &store,
            layout,
            client: &client,
            cluster: &request.cluster,
            kinds: &kinds,
            state: Mutex::new(State {
                files: Vec::new(),
                report,
                stored: 0,
                store_error: None,
            }),
            deadline: invocation.deadline,
            stopped: AtomicBool::new(false),
        };
        let namespace_kind = ResolvedKind::namespace();
        // A setting that names Namespace backs up every namespace, into the same file as
        // the tenants' own Namespace objects.
        let every_namespace = kinds.contains(&namespace_kind);
        let (tenants, namespaces) = select_tenants(request, every_namespace, namespaces);
        info!(infrastructure = %request.infrastructure, run = layout.run_path(), tenants = tenants.len(), kinds = kinds.len(), "backup started");
        let present: Vec<&str> = run.store_namespaces(&tenants, namespaces).await;

        // One file per tenant and kind, several in flight: each waits on the API server
        // and S3 most of its time, and holds at most a page and a part in memory.
        let units = present
            .iter()
            .flat_map(|tenant| kinds.iter().filter(|k| k.namespaced).map(move |k| (k, Some(*tenant))))
            .chain(
                kinds
                    .iter()
                    .filter(|k| !k.namespaced && **k != namespace_kind)
                    .map(|k| (k, None)),
            );
        stream::iter(units)
            .map(|(kind, tenant)| run.store_kind(kind, tenant))
            .buffer_unordered(self.upload_concurrency.max(1))
            .collect::<Vec<()>>()
            .await;

        let State {
            mut files,
            report,
            stored,
            store_error,
        } = run.state.into_inner().expect("no task panicked holding the state");
        if let Some(e) = store_error
            && stored == 0
        {
            // Nothing could be stored: the bucket or key is unusable, and a manifest
            // would commit an empty backup.
            return Err(e.into());
        }
        files.sort_by(|a, b| a.key.cmp(&b.key));
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            infrastructure: request.infrastructure.clone(),
            cluster: request.cluster.clone(),
            region: request.region.clone(),
            run_path: layout.run_path().to_string(),
            run_time: request.run_time,
            started_at,
            finished_at: (self.clock)(),
            settings: request.settings.clone(),
            kinds,
            tenants,
            status: if report.has_failures() {
                RunStatus::PartiallyFailed
            } else {
                RunStatus::Completed
            },
            errors: report.errors.clone(),
            files,
        };
        // The manifest goes last: it is the commit marker, so a run cut off before this
        // line leaves no manifest and restore never picks it. Files an earlier attempt
        // stored stay beside this one's: restore reads only what the manifest lists, so
        // they are inert, and the backup role may not delete, lest it could destroy backups.
        let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest always serialises");
        store.put_new(&layout.manifest_key(), manifest_bytes).await?;
        info!(run = layout.run_path(), files = manifest.files.len(), objects = manifest.object_count(), status = ?manifest.status, "backup committed");
        Ok(report.finish((self.clock)()))
    }

    /// Reaches the cluster and reads what the run needs before it claims anything: the
    /// kinds to back up and every Namespace object. Discovery and the namespace LIST do
    /// not wait on each other.
    async fn connect(&self, request: &BackupRequest) -> Result<Connected> {
        let client = self
            .cluster
            .client(&request.cluster, &request.region, request.role.as_ref())
            .await?;
        let (resolver, namespaces) = tokio::join!(
            KindResolver::discover(client.clone(), &request.cluster, &request.kinds),
            self.list_namespaces(&client, &request.cluster)
        );
        let kinds = resolver?.resolve_all(&request.kinds)?;
        Ok(Connected {
            client,
            kinds,
            namespaces: namespaces?,
        })
    }

    /// Every Namespace object, in one paged LIST rather than a GET per tenant.
    async fn list_namespaces(&self, client: &Client, cluster: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let failed = |source| ClusterError::Request {
            cluster: cluster.to_string(),
            what: "listing namespaces",
            source,
        };
        loop {
            let text = list_page_text(
                client,
                &ResolvedKind::namespace(),
                None,
                self.page_size,
                token.as_deref(),
            )
            .await
            .map_err(failed)?;
            let page: Page<Value> = serde_json::from_str(&text).map_err(|e| failed(kube::Error::SerdeError(e)))?;
            all.extend(page.items);
            token = page.metadata.next();
            if token.is_none() {
                return Ok(all);
            }
        }
    }
}

/// The tenants in scope and, of `all` namespaces, the Namespace objects to store: the
/// tenants' own, or every one when `every_namespace`. The tenants are those named (or
/// every namespace), less those whose labels the tenant selector does not match and
/// those excluded; a named tenant that does not exist stays, for the run to report.
fn select_tenants(request: &BackupRequest, every_namespace: bool, mut all: Vec<Value>) -> (Vec<String>, Vec<Value>) {
    let labels_of = |name: &str| -> BTreeMap<String, String> {
        all.iter()
            .find(|o| crate::object::name(o) == Some(name))
            .and_then(|o| serde_json::from_value(o["metadata"]["labels"].clone()).ok())
            .unwrap_or_default()
    };
    let tenants: Vec<String> = match &request.tenants {
        Some(tenants) => tenants.clone(),
        None => all
            .iter()
            .filter_map(|o| crate::object::name(o).map(str::to_string))
            .collect(),
    }
    .into_iter()
    .filter(|t| !request.exclude_tenants.contains(t))
    .filter(|t| {
        request.tenant_selector.as_ref().is_none_or(|s| {
            // A named tenant that is missing is kept, so the run says so.
            !all.iter().any(|o| crate::object::name(o) == Some(t.as_str())) || s.matches(&labels_of(t))
        })
    })
    .collect();
    if !every_namespace {
        all.retain(|o| crate::object::name(o).is_some_and(|n| tenants.iter().any(|t| t == n)));
    }
    (tenants, all)
}
