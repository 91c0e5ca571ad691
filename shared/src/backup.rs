//! One backup run: every configured kind of every tenant in scope, listed page by
//! page and streamed into the bucket, then the manifest.
//!
//! Memory is bounded by one page of objects plus the uploads in flight, not by the
//! size of the cluster; the manifest's index (a line per object) is the only thing that
//! grows with the cluster.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;
use tracing::{info, warn};

use crate::Result;
use crate::audit::{Audit, ObjectAccess, Scope};
use crate::cluster::{ClusterAccess, ClusterError};
use crate::event::{BackupRequest, Invocation};
use crate::kinds::{KindResolver, ResolvedKind};
use crate::layout::RunLayout;
use crate::manifest::{FORMAT_VERSION, Manifest, ManifestEntry, RunError, RunStatus};
use crate::object::{generated_by_cluster, strip_server_set_fields, to_stored_bytes};
use crate::report::{Action, ObjectResult, Report, Status};
use crate::store::{Store, StoreError};

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
    /// Uploads in flight at once.
    pub upload_concurrency: usize,
    /// The clock; tests pass their own.
    pub clock: fn() -> DateTime<Utc>,
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
            upload_concurrency: 32,
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
        let audit = self
            .audit
            .check(&Scope {
                bucket: &request.bucket,
                access: ObjectAccess::Write,
                function_arn: invocation.function_arn.as_deref(),
            })
            .await;
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
        if !request.settings.is_enabled {
            report.status = Status::Disabled;
            return Ok(report.finish((self.clock)()));
        }
        let layout = RunLayout::new(request.run_time, &request.infrastructure);
        let store = Store::new(self.s3.clone(), &request.bucket, self.kms_key_id.clone());
        report.backup = Some(format!("s3://{}/{}", request.bucket, layout.prefix()));
        report.run_path = Some(layout.run_path().to_string());

        // A retry of a scheduled run that already committed must not redo (and so
        // possibly degrade) it; a retry of one that failed or never committed redoes it.
        if let Some(previous) = committed_manifest(&store, &layout).await?
            && previous.status == RunStatus::Completed
        {
            report.status = Status::AlreadyCompleted;
            return Ok(report.finish((self.clock)()));
        }

        let client = self
            .cluster
            .client(&request.cluster, &request.region, request.role.as_ref())
            .await?;
        let resolver = KindResolver::discover(client.clone(), &request.cluster).await?;
        let kinds = resolver.resolve_all(&request.settings.kinds)?;

        let mut run = Run {
            backup: self,
            store: &store,
            layout: &layout,
            client: &client,
            entries: BTreeMap::new(),
            report,
            deadline: invocation.deadline,
            stopped: false,
        };
        let tenants = run.tenants(request).await?;
        info!(infrastructure = %request.infrastructure, run = layout.run_path(), tenants = tenants.len(), kinds = kinds.len(), "backup started");

        for tenant in &tenants {
            if run.out_of_time() || !run.store_namespace(tenant).await? {
                continue;
            }
            for kind in kinds.iter().filter(|k| k.namespaced) {
                run.store_kind(kind, Some(tenant)).await?;
            }
        }
        for kind in kinds.iter().filter(|k| !k.namespaced) {
            run.store_kind(kind, None).await?;
        }

        let Run { entries, report, .. } = run;
        let finished_at = (self.clock)();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            infrastructure: request.infrastructure.clone(),
            cluster: request.cluster.clone(),
            region: request.region.clone(),
            run_path: layout.run_path().to_string(),
            run_time: request.run_time,
            started_at,
            finished_at,
            settings: request.settings.clone(),
            kinds,
            tenants,
            status: if report.has_failures() {
                RunStatus::PartiallyFailed
            } else {
                RunStatus::Completed
            },
            errors: report.errors.clone(),
            objects: entries.into_values().collect(),
        };
        // The manifest goes last: it is the commit marker, so a run cut off before this
        // line leaves no manifest and restore never picks it.
        let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest always serialises");
        store.put(&layout.manifest_key(), manifest_bytes).await?;
        // Objects an earlier attempt stored but this one did not (deleted in between)
        // stay in the folder: restore reads only what the manifest lists, so they are
        // inert, and the backup role may not delete, lest it could destroy backups.
        info!(run = layout.run_path(), objects = manifest.objects.len(), status = ?manifest.status, "backup committed");
        Ok(report.finish((self.clock)()))
    }
}

/// The manifest an earlier attempt of this run committed, if any. Its key is listed
/// before it is read: the backup role may list only manifest keys, and S3 answers a GET
/// of a missing key with 403 rather than 404 to a role that may not list it, which would
/// make "not committed yet" and "not allowed" look alike.
async fn committed_manifest(store: &Store, layout: &RunLayout) -> Result<Option<Manifest>> {
    if !store.exists_listed(&layout.manifest_key()).await? {
        return Ok(None);
    }
    read_manifest(store, layout).await
}

/// The manifest of a run, if it has one.
pub async fn read_manifest(store: &Store, layout: &RunLayout) -> Result<Option<Manifest>> {
    match store.get(&layout.manifest_key()).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(manifest) => Ok(Some(manifest)),
            // An unreadable manifest commits nothing; treat the run as not committed.
            Err(e) => {
                warn!(key = layout.manifest_key(), error = %e, "manifest is unreadable");
                Ok(None)
            }
        },
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

struct Run<'a> {
    backup: &'a Backup,
    store: &'a Store,
    layout: &'a RunLayout,
    client: &'a Client,
    entries: BTreeMap<String, ManifestEntry>,
    report: Report,
    deadline: Option<DateTime<Utc>>,
    stopped: bool,
}

impl Run<'_> {
    /// Whether the run must stop listing to commit before the deadline. A run cut off
    /// by Lambda leaves no manifest, so nothing of it could be restored; stopping early
    /// keeps everything stored so far.
    fn out_of_time(&mut self) -> bool {
        if self.stopped {
            return true;
        }
        let Some(deadline) = self.deadline else { return false };
        if (self.backup.clock)() + COMMIT_RESERVE < deadline {
            return false;
        }
        self.stopped = true;
        warn!(deadline = %deadline, "stopping to commit before the deadline");
        self.report.error(RunError {
            tenant: None,
            kind: None,
            name: None,
            message: format!(
                "the run stopped {}s before the Lambda deadline to commit what it had stored; objects not listed by then \
                 are not in this backup; raise the function's timeout or back up fewer tenants per run",
                COMMIT_RESERVE.num_seconds()
            ),
        });
        true
    }

    /// The tenants in scope: those named, or every namespace.
    async fn tenants(&mut self, request: &BackupRequest) -> Result<Vec<String>> {
        if let Some(tenants) = &request.tenants {
            return Ok(tenants.clone());
        }
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ResolvedKind::namespace().api_resource());
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = list_page(&api, self.backup.page_size, token.as_deref())
                .await
                .map_err(|source| ClusterError::Request {
                    cluster: request.cluster.clone(),
                    what: "listing namespaces",
                    source,
                })?;
            names.extend(page.0.iter().filter_map(|o| crate::object::name(o).map(str::to_string)));
            token = page.1;
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// Stores the tenant's Namespace object; false when the tenant cannot be backed up.
    async fn store_namespace(&mut self, tenant: &str) -> Result<bool> {
        let kind = ResolvedKind::namespace();
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &kind.api_resource());
        let object = match api.get_opt(tenant).await {
            Ok(Some(ns)) => ns,
            Ok(None) => {
                self.report.error(RunError {
                    tenant: Some(tenant.into()),
                    kind: None,
                    name: None,
                    message: format!(
                        "the tenant namespace '{tenant}' does not exist in the cluster; nothing of it was backed up"
                    ),
                });
                return Ok(false);
            }
            Err(e) => {
                self.report.error(RunError {
                    tenant: Some(tenant.into()),
                    kind: None,
                    name: None,
                    message: format!("cannot read the namespace: {e}"),
                });
                return Ok(false);
            }
        };
        let mut value = serde_json::to_value(object).expect("a namespace always serialises");
        strip_server_set_fields(&mut value, &kind);
        let key = self.layout.namespace_key(tenant);
        self.upload_all(vec![(key, kind, Some(tenant.to_string()), value)])
            .await?;
        Ok(true)
    }

    /// Stores every object of one kind in one namespace (or cluster-wide), page by page.
    async fn store_kind(&mut self, kind: &ResolvedKind, tenant: Option<&str>) -> Result<()> {
        let ar = kind.api_resource();
        let api: Api<DynamicObject> = match tenant {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        let mut token: Option<String> = None;
        loop {
            if self.out_of_time() {
                return Ok(());
            }
            let (items, next) = match list_page(&api, self.backup.page_size, token.as_deref()).await {
                Ok(page) => page,
                // A continue token expires once etcd compacts past it (a few minutes);
                // start the kind over. Keys are stable, so objects already stored are
                // simply written again.
                Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                    warn!(kind = %kind.kind, tenant, "list continuation expired; listing the kind again");
                    token = None;
                    continue;
                }
                Err(e) => {
                    self.report.error(RunError {
                        tenant: tenant.map(str::to_string),
                        kind: Some(kind.kind.clone()),
                        name: None,
                        message: format!("cannot list {}: {e}", kind.resource_dir()),
                    });
                    return Ok(());
                }
            };
            let mut batch = Vec::with_capacity(items.len());
            for mut object in items {
                let name = crate::object::name(&object).unwrap_or_default().to_string();
                if let Some(why) = generated_by_cluster(kind, &object) {
                    self.report.record(ObjectResult {
                        tenant: tenant.map(str::to_string),
                        target_namespace: None,
                        kind: kind.kind.clone(),
                        name,
                        action: Action::Skipped,
                        reason: Some(why.into()),
                    });
                    continue;
                }
                strip_server_set_fields(&mut object, kind);
                batch.push((
                    self.layout.object_key(kind, tenant, &name),
                    kind.clone(),
                    tenant.map(str::to_string),
                    object,
                ));
            }
            self.upload_all(batch).await?;
            match next {
                Some(t) => token = Some(t),
                None => return Ok(()),
            }
        }
    }

    /// Uploads a batch with bounded concurrency and records each outcome. A failed
    /// upload fails that object only, unless every upload fails for a reason that
    /// will not go away (the bucket or key is unusable), which ends the run.
    async fn upload_all(&mut self, batch: Vec<(String, ResolvedKind, Option<String>, Value)>) -> Result<()> {
        let store = self.store;
        let prefix_len = self.layout.prefix().len();
        let results: Vec<_> = stream::iter(batch)
            .map(|(key, kind, tenant, object)| async move {
                let bytes = to_stored_bytes(&object);
                let size = bytes.len() as u64;
                let outcome = store.put(&key, bytes).await;
                (key, kind, tenant, object, size, outcome)
            })
            .buffer_unordered(self.backup.upload_concurrency.max(1))
            .collect()
            .await;
        let mut all_failed = !results.is_empty();
        let mut last_error = None;
        for (key, kind, tenant, object, size, outcome) in results {
            let name = crate::object::name(&object).unwrap_or_default().to_string();
            let mut result = ObjectResult {
                tenant: tenant.clone(),
                target_namespace: None,
                kind: kind.kind.clone(),
                name: name.clone(),
                action: Action::BackedUp,
                reason: None,
            };
            match outcome {
                Ok(sha256) => {
                    all_failed = false;
                    let relative = key[prefix_len..].to_string();
                    let namespace = if kind == ResolvedKind::namespace() {
                        None
                    } else {
                        tenant
                    };
                    self.entries.insert(
                        relative.clone(),
                        ManifestEntry {
                            key: relative,
                            api_version: kind.api_version(),
                            kind: kind.kind,
                            namespace,
                            name,
                            sha256,
                            size,
                        },
                    );
                }
                Err(e) => {
                    result.action = Action::Failed;
                    result.reason = Some(e.to_string());
                    last_error = Some(e);
                }
            }
            self.report.record(result);
        }
        match last_error {
            Some(e) if all_failed && self.entries.is_empty() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// One page of a LIST, as plain JSON objects, and the token for the next page.
async fn list_page(
    api: &Api<DynamicObject>,
    limit: u32,
    token: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), kube::Error> {
    let mut params = ListParams::default().limit(limit);
    if let Some(t) = token {
        params = params.continue_token(t);
    }
    let list = api.list(&params).await?;
    let next = list.metadata.continue_.filter(|t| !t.is_empty());
    let items = list
        .items
        .into_iter()
        .map(|o| serde_json::to_value(o).expect("an object always serialises"))
        .collect();
    Ok((items, next))
}
