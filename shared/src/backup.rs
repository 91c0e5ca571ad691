//! One backup run: every configured kind of every tenant in scope, listed page by
//! page and streamed into the bucket, then the manifest.
//!
//! Each tenant's kind becomes one file (a `v1` `List`), so a run costs one S3 write per
//! tenant and kind, not one per object. Memory is bounded by the files in flight, each
//! holding one page of objects and at most one multipart part, not by the size of the
//! cluster; the manifest's index (a name per object) is the only thing that grows with it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use kube::Client;
use kube::api::ListParams;
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::{info, warn};

use crate::Result;
use crate::audit::{Audit, ObjectAccess, Scope};
use crate::claim::{self, Claimed};
use crate::cluster::{ClusterAccess, ClusterError};
use crate::event::{BackupRequest, Invocation};
use crate::kinds::{KindResolver, ResolvedKind};
use crate::layout::RunLayout;
use crate::manifest::{FORMAT_VERSION, Manifest, ManifestFile, RunError, RunStatus};
use crate::object::{Listed, strip_server_set_fields, write_stored};
use crate::report::{Action, ObjectResult, Report, Status};
use crate::store::{Store, StoreError, Upload};

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
        let (client, kinds, namespaces) = connected?;
        let layout = RunLayout::new(request.run_time, &request.infrastructure);
        let store = Store::new(self.s3.clone(), &request.bucket, self.kms_key_id.clone());
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
        // A retry of a scheduled run that already committed must not redo (and so
        // possibly degrade) it; a retry of one that failed or never committed redoes it.
        // Checked under the claim, so an invocation that waited out another sees its commit.
        match committed_manifest(&store, &layout).await {
            Ok(Some(previous)) if previous.status == RunStatus::Completed => {
                claim.release().await;
                report.status = Status::AlreadyCompleted;
                return Ok(report.finish((self.clock)()));
            }
            Ok(_) => {}
            Err(e) => {
                claim.release().await;
                return Err(e);
            }
        }

        let run = Run {
            backup: self,
            store: &store,
            layout: &layout,
            client: &client,
            cluster: &request.cluster,
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
            claim.release().await;
            return Err(e.into());
        }
        files.sort_by(|a, b| a.key.cmp(&b.key));
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
            files,
        };
        // The manifest goes last: it is the commit marker, so a run cut off before this
        // line leaves no manifest and restore never picks it.
        let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest always serialises");
        let committed = store.put(&layout.manifest_key(), manifest_bytes).await;
        claim.release().await;
        committed?;
        // Files an earlier attempt stored but this one did not (a tenant deleted in
        // between) stay in the folder: restore reads only what the manifest lists, so
        // they are inert, and the backup role may not delete, lest it could destroy backups.
        info!(run = layout.run_path(), files = manifest.files.len(), objects = manifest.object_count(), status = ?manifest.status, "backup committed");
        Ok(report.finish((self.clock)()))
    }
}

impl Backup {
    /// Reaches the cluster and reads what the run needs before it claims anything: the
    /// kinds to back up and every Namespace object. Discovery and the namespace LIST do
    /// not wait on each other.
    async fn connect(&self, request: &BackupRequest) -> Result<(Client, Vec<ResolvedKind>, Vec<Value>)> {
        let client = self
            .cluster
            .client(&request.cluster, &request.region, request.role.as_ref())
            .await?;
        let (resolver, namespaces) = tokio::join!(
            KindResolver::discover(client.clone(), &request.cluster, &request.settings.kinds),
            self.list_namespaces(&client, &request.cluster)
        );
        let kinds = resolver?.resolve_all(&request.settings.kinds)?;
        Ok((client, kinds, namespaces?))
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

/// The tenants in scope (those named, or every namespace) and, of `all` namespaces, the
/// Namespace objects to store: the tenants' own, or every one when `every_namespace`.
fn select_tenants(request: &BackupRequest, every_namespace: bool, mut all: Vec<Value>) -> (Vec<String>, Vec<Value>) {
    let tenants = match &request.tenants {
        Some(tenants) => tenants.clone(),
        None => all
            .iter()
            .filter_map(|o| crate::object::name(o).map(str::to_string))
            .collect(),
    };
    if !every_namespace {
        all.retain(|o| crate::object::name(o).is_some_and(|n| tenants.iter().any(|t| t == n)));
    }
    (tenants, all)
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

/// The report line of an object whose file was sent (or failed to be) with `outcome`.
fn stored(
    tenant: Option<String>,
    kind: &ResolvedKind,
    name: String,
    outcome: &std::result::Result<ManifestFile, StoreError>,
) -> ObjectResult {
    ObjectResult {
        tenant,
        target_namespace: None,
        kind: kind.kind.clone(),
        name,
        action: if outcome.is_ok() {
            Action::BackedUp
        } else {
            Action::Failed
        },
        reason: outcome.as_ref().err().map(ToString::to_string),
    }
}

struct Run<'a> {
    backup: &'a Backup,
    store: &'a Store,
    layout: &'a RunLayout,
    client: &'a Client,
    cluster: &'a str,
    /// What the files in flight record. Held only between awaits, never across one.
    state: Mutex<State>,
    deadline: Option<DateTime<Utc>>,
    stopped: AtomicBool,
}

struct State {
    files: Vec<ManifestFile>,
    report: Report,
    /// Files stored.
    stored: usize,
    /// The last failed write, which ends the run if no write succeeded.
    store_error: Option<StoreError>,
}

impl Run<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("no task panicked holding the state")
    }

    /// Whether the run must stop listing to commit before the deadline. A run cut off
    /// by Lambda leaves no manifest, so nothing of it could be restored; stopping early
    /// keeps everything stored so far.
    fn out_of_time(&self) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return true;
        }
        let Some(deadline) = self.deadline else { return false };
        if (self.backup.clock)() + COMMIT_RESERVE < deadline {
            return false;
        }
        if self.stopped.swap(true, Ordering::Relaxed) {
            return true;
        }
        warn!(deadline = %deadline, "stopping to commit before the deadline");
        self.state().report.error(RunError {
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

    /// Stores the Namespace objects in one file; returns the tenants that exist.
    async fn store_namespaces<'t>(&self, tenants: &'t [String], namespaces: Vec<Value>) -> Vec<&'t str> {
        let kind = ResolvedKind::namespace();
        let present: Vec<&str> = tenants
            .iter()
            .map(String::as_str)
            .filter(|t| namespaces.iter().any(|o| crate::object::name(o) == Some(*t)))
            .collect();
        for tenant in tenants.iter().filter(|t| !present.contains(&t.as_str())) {
            self.state().report.error(RunError {
                tenant: Some(tenant.clone()),
                kind: None,
                name: None,
                message: format!(
                    "the tenant namespace '{tenant}' does not exist in the cluster; nothing of it was backed up"
                ),
            });
        }
        let mut file = ListFile::new(self.store.upload(self.layout.namespaces_key()));
        for mut object in namespaces {
            strip_server_set_fields(&mut object, &kind);
            file.push(&object);
        }
        let names = file.names.clone();
        let outcome = file.finish(self.layout, &kind, None).await;
        let mut state = self.state();
        for name in names {
            // A namespace is reported under its own tenant, as it is restored with it.
            state.report.record(stored(Some(name.clone()), &kind, name, &outcome));
        }
        state.settle(outcome);
        present
    }

    /// Stores every object of one kind in one tenant (or cluster-wide) as one file,
    /// listed page by page and sent as it grows.
    async fn store_kind(&self, kind: &ResolvedKind, tenant: Option<&str>) {
        let mut file = ListFile::new(self.store.upload(self.layout.kind_key(kind, tenant)));
        let mut skipped = Vec::new();
        let mut token: Option<String> = None;
        loop {
            if self.out_of_time() {
                // The run's errors name each tenant and kind the stop cut short, so an
                // operator knows what this backup lacks.
                let not_started = token.is_none();
                self.state().report.error(RunError {
                    tenant: tenant.map(str::to_string),
                    kind: Some(kind.kind.clone()),
                    name: None,
                    message: if not_started {
                        format!(
                            "{} were not backed up: the run stopped before its Lambda deadline",
                            kind.resource_dir()
                        )
                    } else {
                        format!(
                            "only the first {} {} were backed up: the run stopped before its Lambda deadline",
                            file.names.len(),
                            kind.resource_dir()
                        )
                    },
                });
                if not_started {
                    // Nothing listed: no file, rather than an empty one that reads as
                    // "this tenant has none".
                    file.abandon().await;
                    return;
                }
                // What was listed is stored: a consistent part of the kind.
                break;
            }
            let text = match list_page_text(self.client, kind, tenant, self.backup.page_size, token.as_deref()).await {
                Ok(text) => text,
                // A continue token expires once etcd compacts past it (a few minutes);
                // start the kind over, in a file of its own.
                Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                    warn!(kind = %kind.kind, tenant, "list continuation expired; listing the kind again");
                    file.abandon().await;
                    file = ListFile::new(self.store.upload(self.layout.kind_key(kind, tenant)));
                    skipped.clear();
                    token = None;
                    continue;
                }
                Err(e) => {
                    file.abandon().await;
                    self.list_failed(kind, tenant, e);
                    return;
                }
            };
            // The page's objects are copied into the file from the response text, never
            // decoded whole (see `write_stored`).
            let page = match serde_json::from_str::<Page<&RawValue>>(&text) {
                Ok(page) => page,
                Err(e) => {
                    file.abandon().await;
                    self.list_failed(kind, tenant, kube::Error::SerdeError(e));
                    return;
                }
            };
            for object in page.items {
                match file.push_listed(kind, object) {
                    Ok(Listed::Written(_)) => {}
                    Ok(Listed::Skipped(name, why)) => skipped.push((name, why)),
                    Err(e) => {
                        file.abandon().await;
                        self.list_failed(kind, tenant, kube::Error::SerdeError(e));
                        return;
                    }
                }
            }
            let next = page.metadata.next();
            if let Err(e) = file.upload.flush_full_parts().await {
                let names = std::mem::take(&mut file.names);
                file.abandon().await;
                self.file_failed(kind, tenant, &names, e);
                return;
            }
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let names = file.names.clone();
        let outcome = file.finish(self.layout, kind, tenant).await;
        let mut state = self.state();
        for (name, why) in skipped {
            state.report.record(ObjectResult {
                tenant: tenant.map(str::to_string),
                target_namespace: None,
                kind: kind.kind.clone(),
                name,
                action: Action::Skipped,
                reason: Some(why.into()),
            });
        }
        for name in names {
            state
                .report
                .record(stored(tenant.map(str::to_string), kind, name, &outcome));
        }
        state.settle(outcome);
    }

    fn list_failed(&self, kind: &ResolvedKind, tenant: Option<&str>, error: kube::Error) {
        self.state().report.error(RunError {
            tenant: tenant.map(str::to_string),
            kind: Some(kind.kind.clone()),
            name: None,
            message: format!(
                "cannot list {} in cluster '{}': {error}",
                kind.resource_dir(),
                self.cluster
            ),
        });
    }

    fn file_failed(&self, kind: &ResolvedKind, tenant: Option<&str>, names: &[String], error: StoreError) {
        let mut state = self.state();
        for name in names {
            state.report.record(ObjectResult {
                tenant: tenant.map(str::to_string),
                target_namespace: None,
                kind: kind.kind.clone(),
                name: name.clone(),
                action: Action::Failed,
                reason: Some(error.to_string()),
            });
        }
        state.report.error(RunError {
            tenant: tenant.map(str::to_string),
            kind: Some(kind.kind.clone()),
            name: None,
            message: error.to_string(),
        });
        state.store_error = Some(error);
    }
}

impl State {
    /// Records a file's outcome.
    fn settle(&mut self, outcome: std::result::Result<ManifestFile, StoreError>) {
        match outcome {
            Ok(file) => {
                self.stored += 1;
                self.files.push(file);
            }
            Err(e) => self.store_error = Some(e),
        }
    }
}

/// One stored file being built: a `v1` `List` written one object a line, which
/// `kubectl apply -f` accepts as it is.
struct ListFile<'a> {
    upload: Upload<'a>,
    names: Vec<String>,
}

impl<'a> ListFile<'a> {
    fn new(mut upload: Upload<'a>) -> Self {
        upload
            .buffer()
            .extend_from_slice(b"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n");
        Self {
            upload,
            names: Vec::new(),
        }
    }

    fn push(&mut self, object: &Value) {
        let buffer = self.upload.buffer();
        if !self.names.is_empty() {
            buffer.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut *buffer, object).expect("a JSON value always serialises");
        self.names
            .push(crate::object::name(object).unwrap_or_default().to_string());
    }

    /// Adds one object of a LIST page, unless the cluster makes it itself.
    fn push_listed(&mut self, kind: &ResolvedKind, object: &RawValue) -> serde_json::Result<Listed> {
        let buffer = self.upload.buffer();
        let mark = buffer.len();
        if !self.names.is_empty() {
            buffer.extend_from_slice(b",\n");
        }
        let listed = write_stored(kind, object, buffer);
        match &listed {
            Ok(Listed::Written(name)) => self.names.push(name.clone()),
            // Nothing of a skipped or unreadable object stays, not even its separator.
            _ => buffer.truncate(mark),
        }
        listed
    }

    async fn abandon(self) {
        self.upload.abort().await;
    }

    async fn finish(
        mut self,
        layout: &RunLayout,
        kind: &ResolvedKind,
        tenant: Option<&str>,
    ) -> std::result::Result<ManifestFile, StoreError> {
        self.upload.buffer().extend_from_slice(b"\n]}\n");
        let key = self.upload_key(layout, kind, tenant);
        let (sha256, size) = self.upload.finish().await?;
        Ok(ManifestFile {
            key,
            api_version: kind.api_version(),
            kind: kind.kind.clone(),
            namespace: tenant.map(str::to_string),
            sha256,
            size,
            objects: self.names,
        })
    }

    fn upload_key(&self, layout: &RunLayout, kind: &ResolvedKind, tenant: Option<&str>) -> String {
        let full = if *kind == ResolvedKind::namespace() {
            layout.namespaces_key()
        } else {
            layout.kind_key(kind, tenant)
        };
        full[layout.prefix().len()..].to_string()
    }
}

/// The wire form of one LIST page. Stored objects stay the text the API server sent
/// (`&RawValue`, see `write_stored`); the few a run reads rather than stores, its
/// namespaces, are decoded (`Value`).
#[derive(serde::Deserialize)]
struct Page<'a, T> {
    #[serde(default, borrow)]
    metadata: PageMeta<'a>,
    // Named, as plain `default` would ask `T` for a default too.
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

#[derive(Default, serde::Deserialize)]
struct PageMeta<'a> {
    #[serde(default, rename = "continue", borrow)]
    continue_: Option<std::borrow::Cow<'a, str>>,
}

impl PageMeta<'_> {
    /// The token for the next page; none, or an empty one, on the last.
    fn next(self) -> Option<String> {
        self.continue_.filter(|t| !t.is_empty()).map(|t| t.into_owned())
    }
}

/// The response text of one page of a LIST of a kind in a namespace (or cluster-wide).
async fn list_page_text(
    client: &Client,
    kind: &ResolvedKind,
    namespace: Option<&str>,
    limit: u32,
    token: Option<&str>,
) -> Result<String, kube::Error> {
    let base = if kind.group.is_empty() {
        format!("/api/{}", kind.version)
    } else {
        format!("/apis/{}/{}", kind.group, kind.version)
    };
    let path = match namespace {
        Some(ns) if kind.namespaced => format!("{base}/namespaces/{ns}/{}", kind.plural),
        _ => format!("{base}/{}", kind.plural),
    };
    let mut params = ListParams::default().limit(limit);
    if let Some(t) = token {
        params = params.continue_token(t);
    }
    let request = kube::core::Request::new(path)
        .list(&params)
        .map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await
}
