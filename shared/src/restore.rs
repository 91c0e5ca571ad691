//! Replaying a backup into a cluster: choose the backup, verify every object against
//! its manifest checksum, then write in dependency order.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use serde_json::Value;
use tracing::{info, warn};

use crate::audit::{Audit, ObjectAccess, Scope};
use crate::backup::read_manifest;
use crate::cluster::ClusterAccess;
use crate::event::{BackupSelector, Existing, Invocation, RestoreRequest};
use crate::kinds::ResolvedKind;
use crate::layout::RunLayout;
use crate::manifest::{FORMAT_VERSION, Manifest, ManifestFile};
use crate::object::{comparable, generated_by_cluster, set_namespace};
use crate::report::{Action, ObjectResult, Report};
use crate::store::{Store, sha256_hex};
use crate::{Error, Result};

/// The order kinds are written in. Each kind comes after what it refers to: a
/// namespace before anything in it; definitions of custom resources before the
/// resources; claims, accounts, secrets and config before the workloads that mount
/// them; roles before their bindings. Kinds not listed come after these, in the
/// manifest's order, so custom resources land once their definitions exist.
const RESTORE_ORDER: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "StorageClass",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "LimitRange",
    "ResourceQuota",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "Service",
    "NetworkPolicy",
    "PodDisruptionBudget",
];

/// How long restore waits for an object being deleted to be gone: a namespace still
/// terminating (a tenant deleted by mistake and restored at once), or an object that
/// `overwrite` deletes to recreate.
const DELETION_WAIT: Duration = Duration::from_secs(120);

/// Files read and verified ahead of the writes.
const FILES_AHEAD: usize = 4;

/// Objects written at once unless `LIFEBOAT_RESTORE_CONCURRENCY` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The most objects written at once. An API server serves 200 mutating requests at
/// once by default (`--max-mutating-requests-inflight`), shared by every client and
/// controller of the cluster; a restore keeps well inside that, and EKS's limits.
pub const MAX_CONCURRENCY: usize = 64;

/// `LIFEBOAT_RESTORE_CONCURRENCY` is not a number the restore may use.
#[derive(Debug, thiserror::Error)]
#[error(
    "LIFEBOAT_RESTORE_CONCURRENCY must be a whole number from 1 to {MAX_CONCURRENCY} (objects written at once); \
     got '{0}'. Unset it for the default of {DEFAULT_CONCURRENCY}"
)]
pub struct InvalidConcurrency(pub String);

/// The restore concurrency a setting asks for: `None` (unset or empty) is the default.
pub fn concurrency(setting: Option<&str>) -> Result<usize, InvalidConcurrency> {
    match setting.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_CONCURRENCY),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
            _ => Err(InvalidConcurrency(s.to_string())),
        },
    }
}

/// The restore concurrency from `LIFEBOAT_RESTORE_CONCURRENCY`.
pub fn concurrency_from_env() -> Result<usize, InvalidConcurrency> {
    concurrency(std::env::var("LIFEBOAT_RESTORE_CONCURRENCY").ok().as_deref())
}

/// How long restore waits for a restored CustomResourceDefinition to be served.
const ESTABLISH_WAIT: Duration = Duration::from_secs(60);

/// What a restore needs from outside, built once per function instance.
#[derive(Clone)]
pub struct Restore {
    /// How clusters are reached.
    pub cluster: ClusterAccess,
    /// The S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The audit check that must pass, when required, before anything is read or written.
    pub audit: Audit,
    /// Objects written at once within one kind.
    pub concurrency: usize,
    /// The clock; tests pass their own.
    pub clock: fn() -> DateTime<Utc>,
}

impl Restore {
    /// A restore with the default concurrency ([`DEFAULT_CONCURRENCY`]).
    pub fn new(cluster: ClusterAccess, s3: aws_sdk_s3::Client, audit: Audit) -> Self {
        Self {
            cluster,
            s3,
            audit,
            concurrency: DEFAULT_CONCURRENCY,
            clock: Utc::now,
        }
    }

    /// Runs one restore. When auditing is required, a restore the trail would not record
    /// is refused first, before a backup object is read (a dry run reads Secrets too) or
    /// anything is written.
    pub async fn run(&self, request: &RestoreRequest, invocation: &Invocation) -> Result<Report> {
        let started_at = (self.clock)();
        let audit = self
            .audit
            .check_required(&Scope {
                bucket: &request.bucket,
                access: ObjectAccess::Read,
                function_arn: invocation.function_arn.as_deref(),
            })
            .await?;
        if !audit.is_audited() {
            warn!(infrastructure = %request.infrastructure, audit = %audit.explain(), "this restore is not audited; auditing is not required");
        }
        let mut report = Report::new(
            "restore",
            &request.infrastructure,
            &request.cluster,
            &request.bucket,
            started_at,
            audit,
        );
        report.dry_run = Some(request.dry_run);
        let store = Store::new(self.s3.clone(), &request.bucket, None);
        let not_found = || Error::BackupNotFound {
            infrastructure: request.source_infrastructure.clone(),
            backup: request.backup.to_string(),
            bucket: request.bucket.clone(),
        };
        let layout = match &request.backup {
            BackupSelector::Latest => store
                .latest_complete_run(&request.source_infrastructure)
                .await?
                .ok_or_else(not_found)?,
            BackupSelector::Run(path) => RunLayout::for_run_path(path, &request.source_infrastructure),
        };
        let manifest = read_manifest(&store, &layout).await?.ok_or_else(not_found)?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(Error::InvalidEvent(format!(
                "the backup {} has manifest format {}, and this restore reads format {FORMAT_VERSION} only; \
                 restore it with the lifeboat release that wrote it",
                manifest.run_path, manifest.format_version
            )));
        }
        report.backup = Some(format!("s3://{}/{}", request.bucket, layout.prefix()));
        report.run_path = Some(layout.run_path().to_string());
        check_filters(request, &manifest)?;

        let client = self
            .cluster
            .client(&request.cluster, &request.region, request.role.as_ref())
            .await?;
        let selected = select(request, &manifest);
        info!(
            backup = layout.run_path(),
            files = selected.len(),
            objects = selected.iter().map(|(_, names)| names.len()).sum::<usize>(),
            dry_run = request.dry_run,
            "restore started"
        );

        let mut writer = Writer {
            client: &client,
            store: &store,
            layout: &layout,
            request,
            created_first: CreatedFirst::default(),
        };
        let concurrency = self.concurrency.max(1);
        for group in in_restore_order(selected, &manifest) {
            // A few files are read and verified ahead of the writes, so the writes never
            // wait on S3; each file is verified whole before any object of it is written.
            let results: Vec<ObjectResult> = stream::iter(group)
                .map(|(file, names, kind)| writer.load(file, names, kind))
                .buffered(FILES_AHEAD)
                .flat_map(stream::iter)
                .map(|job| writer.restore(job))
                .buffer_unordered(concurrency)
                .collect()
                .await;
            // A new definition is served only once the API server has established it;
            // its custom resources, which come later, would be refused before that.
            let created_definitions: Vec<&str> = results
                .iter()
                .filter(|r| r.kind == "CustomResourceDefinition" && r.action == Action::Created)
                .map(|r| r.name.as_str())
                .collect();
            for name in created_definitions {
                if let Err(reason) = wait_until_established(&client, name).await {
                    report.error(crate::manifest::RunError {
                        tenant: None,
                        kind: Some("CustomResourceDefinition".into()),
                        name: Some(name.into()),
                        message: reason,
                    });
                }
            }
            if request.dry_run {
                writer.created_first.note(&results);
            }
            results.into_iter().for_each(|r| report.record(r));
        }
        Ok(report.finish((self.clock)()))
    }
}

/// Filters that name something the backup does not hold are mistakes, not empty sets.
fn check_filters(request: &RestoreRequest, manifest: &Manifest) -> Result<()> {
    if let Some(tenants) = &request.tenants
        && let Some(missing) = tenants.iter().find(|t| !manifest.tenants.contains(t))
    {
        return Err(Error::InvalidEvent(format!(
            "the backup {} holds no tenant '{missing}'; it holds: {}",
            manifest.run_path,
            manifest.tenants.join(", ")
        )));
    }
    if let Some(kinds) = &request.kinds {
        let held: BTreeSet<&str> = manifest
            .kinds
            .iter()
            .map(|k| k.kind.as_str())
            .chain(["Namespace"])
            .collect();
        if let Some(missing) = kinds.iter().find(|k| !held.contains(k.as_str())) {
            return Err(Error::InvalidEvent(format!(
                "the backup {} holds no kind '{missing}'; it holds: {}",
                manifest.run_path,
                held.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// The files the request needs, each with the names of the objects wanted from it. A
/// tenant's Namespace object comes along with any object of that tenant, whatever the
/// kind and name filters say, because the objects cannot be written without it.
fn select<'m>(request: &RestoreRequest, manifest: &'m Manifest) -> Vec<(&'m ManifestFile, Vec<&'m str>)> {
    let wanted = |list: &Option<Vec<String>>, value: &str| list.as_ref().is_none_or(|l| l.iter().any(|v| v == value));
    let is_namespaces = |f: &ManifestFile| f.kind == "Namespace" && f.api_version == "v1";
    let objects: Vec<(&ManifestFile, Vec<&str>)> = manifest
        .files
        .iter()
        .filter(|f| !is_namespaces(f))
        .filter(|f| match &f.namespace {
            Some(ns) => wanted(&request.tenants, ns),
            None => request.tenants.is_none(),
        })
        .filter(|f| wanted(&request.kinds, &f.kind))
        .map(|f| {
            let names = f
                .objects
                .iter()
                .map(String::as_str)
                .filter(|n| wanted(&request.names, n))
                .collect::<Vec<_>>();
            (f, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    let namespaces_needed: BTreeSet<&str> = objects.iter().filter_map(|(f, _)| f.namespace.as_deref()).collect();
    let namespaces_asked = |name: &str| {
        wanted(&request.tenants, name)
            && (request.kinds.is_none() || wanted(&request.kinds, "Namespace"))
            && wanted(&request.names, name)
    };
    manifest
        .files
        .iter()
        .filter(|f| is_namespaces(f))
        .map(|f| {
            let names = f
                .objects
                .iter()
                .map(String::as_str)
                .filter(|n| namespaces_needed.contains(n) || namespaces_asked(n))
                .collect::<Vec<_>>();
            (f, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .chain(objects)
        .collect()
}

/// A file wanted for restore, the names wanted from it, and its objects' kind.
type Wanted<'m> = (&'m ManifestFile, Vec<&'m str>, Option<ResolvedKind>);

/// Groups files by kind, in [`RESTORE_ORDER`].
fn in_restore_order<'m>(files: Vec<(&'m ManifestFile, Vec<&'m str>)>, manifest: &Manifest) -> Vec<Vec<Wanted<'m>>> {
    let rank = |kind: &str| {
        RESTORE_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(RESTORE_ORDER.len())
    };
    let mut keyed: Vec<(usize, usize, &ManifestFile, Vec<&str>)> = Vec::with_capacity(files.len());
    for (file, names) in files {
        let kind_position = manifest.kinds.iter().position(|k| k.kind == file.kind).unwrap_or(0);
        keyed.push((rank(&file.kind), kind_position, file, names));
    }
    keyed.sort_by_key(|(rank, position, _, _)| (*rank, *position));
    let mut groups: Vec<Vec<Wanted<'m>>> = Vec::new();
    let mut last = None;
    for (rank, position, file, names) in keyed {
        if last != Some((rank, position)) {
            groups.push(Vec::new());
            last = Some((rank, position));
        }
        groups
            .last_mut()
            .expect("a group was just pushed")
            .push((file, names, manifest.kind_of(file)));
    }
    groups
}

/// One object to restore, out of a verified file, or the reason it cannot be.
struct Job<'m> {
    file: &'m ManifestFile,
    name: &'m str,
    kind: Option<ResolvedKind>,
    object: Result<Value, String>,
}

struct Writer<'a> {
    client: &'a Client,
    store: &'a Store,
    layout: &'a RunLayout,
    request: &'a RestoreRequest,
    /// In a dry run, what earlier groups would create.
    created_first: CreatedFirst,
}

/// What a dry run would create before the objects that need it: namespaces, and
/// definitions of custom resources. The API server checks a dry-run write against the
/// cluster as it is, where an object in a namespace yet to be created is refused (404,
/// or 403 while the old one is still being deleted) and a custom resource without its
/// definition is not served. Such objects are reported `would-create` unchecked, with
/// the reason, rather than failed for what the real restore puts right first.
#[derive(Default)]
struct CreatedFirst {
    namespaces: BTreeSet<String>,
    definitions: BTreeSet<String>,
}

impl CreatedFirst {
    /// Takes note of a group's results.
    fn note(&mut self, results: &[ObjectResult]) {
        for r in results.iter().filter(|r| r.action == Action::WouldCreate) {
            match r.kind.as_str() {
                "Namespace" => {
                    if let Some(ns) = r.target_namespace.as_ref().or(r.tenant.as_ref()) {
                        self.namespaces.insert(ns.clone());
                    }
                }
                "CustomResourceDefinition" => {
                    self.definitions.insert(r.name.clone());
                }
                _ => {}
            }
        }
    }

    /// Why an object of `kind` bound for `target` cannot be checked by the cluster yet.
    fn unchecked(&self, kind: &ResolvedKind, target: Option<&str>) -> Option<String> {
        if let (true, Some(ns)) = (kind.namespaced, target)
            && self.namespaces.contains(ns)
        {
            return Some(format!(
                "not checked by the cluster: the restore would create the namespace {ns} first"
            ));
        }
        let definition = format!("{}.{}", kind.plural, kind.group);
        self.definitions
            .contains(&definition)
            .then(|| format!("not checked by the cluster: the restore would create the definition {definition} first"))
    }
}

impl Writer<'_> {
    /// Reads one file, checks it against its manifest checksum and takes out the objects
    /// wanted. A file that fails its checksum yields nothing to write: each object wanted
    /// from it fails with the reason.
    async fn load<'m>(&self, file: &'m ManifestFile, names: Vec<&'m str>, kind: Option<ResolvedKind>) -> Vec<Job<'m>> {
        let objects = self.read_verified(file).await;
        let mut by_name: std::collections::HashMap<String, Value> = match objects {
            Ok(items) => items
                .into_iter()
                .filter_map(|o| crate::object::name(&o).map(str::to_string).map(|n| (n, o)))
                .filter(|(n, _)| names.contains(&n.as_str()))
                .collect(),
            Err(reason) => {
                return names
                    .into_iter()
                    .map(|name| Job {
                        file,
                        name,
                        kind: kind.clone(),
                        object: Err(reason.clone()),
                    })
                    .collect();
            }
        };
        names
            .into_iter()
            .map(|name| Job {
                file,
                name,
                kind: kind.clone(),
                object: by_name
                    .remove(name)
                    .ok_or_else(|| format!("the manifest lists it in {} but the file does not hold it", file.key)),
            })
            .collect()
    }

    async fn read_verified(&self, file: &ManifestFile) -> Result<Vec<Value>, String> {
        let key = format!("{}{}", self.layout.prefix(), file.key);
        let bytes = self.store.get(&key).await.map_err(|e| e.to_string())?;
        let actual = sha256_hex(&bytes);
        if actual != file.sha256 {
            return Err(format!(
                "checksum mismatch: s3://{}/{key} has SHA-256 {actual} but the manifest recorded {}; the file was changed after the backup and nothing of it was written",
                self.store.bucket(),
                file.sha256
            ));
        }
        let mut list: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("the stored file {key} is not JSON: {e}"))?;
        match list.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(format!("the stored file {key} is not a List of objects")),
        }
    }

    async fn restore(&self, job: Job<'_>) -> ObjectResult {
        let is_namespace = job.kind.as_ref().is_some_and(|k| *k == ResolvedKind::namespace());
        let tenant = if is_namespace {
            Some(job.name.to_string())
        } else {
            job.file.namespace.clone()
        };
        let target = tenant.as_deref().map(|t| self.request.target_namespace(t).to_string());
        let mut result = ObjectResult {
            target_namespace: target.clone().filter(|t| Some(t) != tenant.as_ref()),
            tenant,
            kind: job.file.kind.clone(),
            name: job.name.to_string(),
            action: Action::Failed,
            reason: None,
        };
        let outcome = match job.object {
            Ok(object) => {
                self.write(job.file, object, job.kind, target.as_deref(), is_namespace)
                    .await
            }
            Err(reason) => Err(reason),
        };
        match outcome {
            Ok((action, reason)) => {
                result.action = action;
                result.reason = reason;
            }
            Err(reason) => result.reason = Some(reason),
        }
        result
    }

    /// Writes one verified object; the error is the reason it failed.
    async fn write(
        &self,
        file: &ManifestFile,
        mut object: Value,
        kind: Option<ResolvedKind>,
        target: Option<&str>,
        is_namespace: bool,
    ) -> Result<(Action, Option<String>), String> {
        let kind = kind.ok_or_else(|| {
            format!(
                "the manifest does not record the kind {} {}",
                file.api_version, file.kind
            )
        })?;
        if let Some(why) = generated_by_cluster(&kind, &object) {
            return Ok((Action::Skipped, Some(why.into())));
        }
        let ar = kind.api_resource();
        let api: Api<DynamicObject> = match (kind.namespaced, target) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        };
        let original = crate::object::name(&object).unwrap_or_default().to_string();
        let name = if is_namespace {
            target.unwrap_or(&original).to_string()
        } else {
            original
        };
        if is_namespace {
            rename_namespace(&mut object, &name);
        } else if let (true, Some(ns)) = (kind.namespaced, target) {
            set_namespace(&mut object, ns);
        }

        let dry_run = self.request.dry_run;
        let done = |real: Action, would: Action| if dry_run { would } else { real };
        if dry_run
            && !is_namespace
            && let Some(why) = self.created_first.unchecked(&kind, target)
        {
            return Ok((Action::WouldCreate, Some(why)));
        }

        // Most objects of a restore are missing (a tenant deleted, a new cluster), so a
        // create comes first: one request where a read and a create would be two. One
        // that exists is then read and compared as below. A dry run sends the same
        // writes, which the API server checks in full and does not keep.
        if !is_namespace {
            match send(&api, &object, None, dry_run).await {
                Ok(_) => return Ok((done(Action::Created, Action::WouldCreate), None)),
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => return Err(failed("create", &e)),
            }
        }
        let mut current = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read the current object: {e}"))?;
        if is_namespace
            && current
                .as_ref()
                .is_some_and(|c| c.metadata.deletion_timestamp.is_some())
        {
            if dry_run {
                return Ok((
                    Action::WouldCreate,
                    Some("the namespace is being deleted; it would be recreated once it is gone".into()),
                ));
            }
            wait_until_gone(&api, &name).await?;
            current = None;
        }
        let Some(current) = current else {
            create(&api, &object, dry_run).await?;
            return Ok((done(Action::Created, Action::WouldCreate), None));
        };
        let current_value = serde_json::to_value(&current).map_err(|e| e.to_string())?;
        if comparable(current_value, &kind) == object {
            return Ok((Action::Unchanged, None));
        }
        match self.request.existing {
            Existing::Skip => Ok((
                Action::Skipped,
                Some("it exists and differs from the backup; existing is skip (overwrite replaces it)".into()),
            )),
            Existing::Overwrite => {
                let how = replace(&api, &name, object, current.metadata.resource_version, dry_run).await?;
                Ok((done(Action::Updated, Action::WouldUpdate), how))
            }
        }
    }
}

/// A namespace restored under another name carries that name, in its metadata and in
/// the label the API server keeps equal to it.
fn rename_namespace(object: &mut Value, name: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("name".into(), Value::String(name.into()));
        if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut)
            && labels.contains_key("kubernetes.io/metadata.name")
        {
            labels.insert("kubernetes.io/metadata.name".into(), Value::String(name.into()));
        }
    }
}

async fn create(api: &Api<DynamicObject>, object: &Value, dry_run: bool) -> Result<(), String> {
    send(api, object, None, dry_run).await.map_err(|e| failed("create", &e))
}

/// The reason a write failed. A field the target cluster does not know is named as
/// such, with what to do, since the server's own words for it read as a bad request.
fn failed(write: &str, error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 400 && status.message.contains("strict decoding error") => format!(
            "{write} refused: the cluster does not know some of the object's fields and would drop them ({}); \
             restore into a cluster that serves them (a newer Kubernetes version, or the custom resource \
             definition as backed up)",
            status.message
        ),
        e => format!("{write} failed: {e}"),
    }
}

/// Writes an object with one request of its stored JSON: a POST that creates it, or,
/// given the name of the object it replaces, a PUT. `Api::create` and `Api::replace`
/// would copy it into a `DynamicObject` and decode the answer (the object as written)
/// into another, though nothing reads that answer: allocations per field of every object
/// written, CPU that a restore sharing its host takes from the API server it waits on.
///
/// The write asks for strict field validation. Without it an API server drops the fields
/// it does not know and answers with success: a backup restored into an older cluster,
/// or into one whose custom resource definition lacks a field, would come back with less
/// than was backed up while the report said `created`. With it the server refuses the
/// object (400), which the report then names. API servers from 1.25 on honour it, as they
/// do for kubectl, which sends the same; older ones ignore it and drop such fields as
/// before. `PostParams` has no field for it, so it is added to the query here.
///
/// A dry run's write is a server-side dry run (`dryRun=All`): the API server decodes,
/// defaults, validates and admits the object (quotas, policy webhooks) as it would a
/// real one, and keeps nothing.
async fn send(
    api: &Api<DynamicObject>,
    object: &Value,
    replacing: Option<&str>,
    dry_run: bool,
) -> Result<(), kube::Error> {
    let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
    let builder = kube::core::Request::new(api.resource_url());
    let params = PostParams {
        dry_run,
        ..PostParams::default()
    };
    let mut request = match replacing {
        None => builder.create(&params, body),
        Some(name) => builder.replace(name, &params, body),
    }
    .map_err(kube::Error::BuildRequest)?;
    let uri = request.uri().to_string();
    let joiner = match uri.find('?') {
        None => "?",
        Some(_) if uri.ends_with(['?', '&']) => "",
        Some(_) => "&",
    };
    *request.uri_mut() = format!("{uri}{joiner}fieldValidation=Strict")
        .parse()
        .map_err(|e: http::uri::InvalidUri| kube::Error::HttpError(e.into()))?;
    api.clone().into_client().request_text(request).await.map(drop)
}

/// Replaces an object; says how when it was not in place. Some objects cannot be
/// changed in place (an immutable Secret or ConfigMap, a Secret whose type differs);
/// those are deleted and created again, which is what `overwrite` promises. Only the
/// server's `Invalid` (422) leads there: an object refused for fields the cluster does
/// not know (400) would be refused again after the delete, and the cluster's copy is
/// kept. A dry run stops at the 422 and says what the restore would do: its create
/// cannot be checked while the object it would replace is there.
async fn replace(
    api: &Api<DynamicObject>,
    name: &str,
    mut object: Value,
    resource_version: Option<String>,
    dry_run: bool,
) -> Result<Option<String>, String> {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            resource_version.map(Value::String).unwrap_or(Value::Null),
        );
    }
    match send(api, &object, Some(name), dry_run).await {
        Ok(()) => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 422 => {
            let why = format!("it cannot change in place ({})", status.message);
            if dry_run {
                return Ok(Some(format!("{why}; it would be deleted and created again")));
            }
            api.delete(name, &DeleteParams::default())
                .await
                .map_err(|e| format!("delete before re-create failed: {e}"))?;
            wait_until_gone(api, name).await?;
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("resourceVersion");
            }
            create(api, &object, false).await?;
            Ok(Some(format!("{why}, so it was deleted and created again")))
        }
        Err(e) => Err(failed("replace", &e)),
    }
}

/// Polls `condition` until it holds or `timeout` passes; says which.
async fn poll_until<F, Fut>(timeout: Duration, mut condition: F) -> Result<bool, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits, bounded, until a CustomResourceDefinition reports `Established`.
async fn wait_until_established(client: &Client, name: &str) -> Result<(), String> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let established = poll_until(ESTABLISH_WAIT, || async {
        let crd = api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read the definition '{name}': {e}"))?;
        Ok(crd
            .and_then(|crd| crd.status)
            .and_then(|status| status.conditions)
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            }))
    })
    .await?;
    if established {
        Ok(())
    } else {
        Err(format!(
            "the definition '{name}' was created but not established within {}s; its custom resources may fail",
            ESTABLISH_WAIT.as_secs()
        ))
    }
}

/// Waits, bounded, for an object being deleted to be gone.
async fn wait_until_gone(api: &Api<DynamicObject>, name: &str) -> Result<(), String> {
    let gone = poll_until(DELETION_WAIT, || async {
        let current = api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read '{name}': {e}"))?;
        Ok(current.is_none())
    })
    .await?;
    if gone {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is still being deleted after {}s; restore again once it is gone",
            DELETION_WAIT.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use kube::api::ApiResource;

    /// A stand-in for an API server, for what the local stack's (1.20, which ignores
    /// `fieldValidation`) cannot show: it records each request's method and path and
    /// gives the answers it was handed, in turn.
    fn stand_in(answers: Vec<(u16, &'static str)>) -> (Api<DynamicObject>, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let log = seen.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            log.lock()
                .unwrap()
                .push(format!("{} {}", request.method(), request.uri()));
            // A request beyond the script is answered 500, and the test reads it in the log.
            let (code, body) = answers.lock().unwrap().pop_front().unwrap_or((500, "{}"));
            async move {
                http::Response::builder()
                    .status(code)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(kube::client::Body::from(body.as_bytes().to_vec()))
            }
        });
        let ar = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        (
            Api::namespaced_with(Client::new(service, "default"), "tenant", &ar),
            seen,
        )
    }

    fn config_map() -> Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app", "namespace": "tenant"},
            "data": {"key": "value"},
            "binaryData2": {"from": "a newer cluster"},
        })
    }

    /// What an API server from 1.25 on answers a strict write with a field it does not know.
    const UNKNOWN_FIELD: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"binaryData2\"",
        "reason":"BadRequest","code":400}"#;

    /// What an API server answers a replace of an immutable object.
    const IMMUTABLE: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"field is immutable","reason":"Invalid","code":422}"#;

    #[tokio::test]
    async fn creates_and_replaces_ask_the_api_server_to_refuse_fields_it_does_not_know() {
        let (api, seen) = stand_in(vec![(201, "{}"), (200, "{}")]);
        create(&api, &config_map(), false).await.unwrap();
        replace(&api, "app", config_map(), Some("7".into()), false)
            .await
            .unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "POST /api/v1/namespaces/tenant/configmaps?fieldValidation=Strict",
                "PUT /api/v1/namespaces/tenant/configmaps/app?fieldValidation=Strict",
            ]
        );
    }

    #[tokio::test]
    async fn an_object_with_a_field_the_cluster_does_not_know_fails_and_the_clusters_copy_is_kept() {
        let (api, seen) = stand_in(vec![(400, UNKNOWN_FIELD), (400, UNKNOWN_FIELD)]);
        let created = create(&api, &config_map(), false).await.unwrap_err();
        let replaced = replace(&api, "app", config_map(), Some("7".into()), false)
            .await
            .unwrap_err();
        for (reason, write) in [(created, "create"), (replaced, "replace")] {
            assert!(
                reason.starts_with(&format!(
                    "{write} refused: the cluster does not know some of the object's fields"
                )) && reason.contains(r#"unknown field "binaryData2""#)
                    && reason.contains("restore into a cluster that serves them"),
                "{reason}"
            );
        }
        // No DELETE: the refusal would only repeat after one, with the cluster's copy gone.
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "POST /api/v1/namespaces/tenant/configmaps?fieldValidation=Strict",
                "PUT /api/v1/namespaces/tenant/configmaps/app?fieldValidation=Strict",
            ]
        );
    }

    #[tokio::test]
    async fn an_object_that_cannot_change_in_place_is_created_again_with_the_same_validation() {
        let gone = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not found","reason":"NotFound","code":404}"#;
        let (api, seen) = stand_in(vec![(422, IMMUTABLE), (200, "{}"), (404, gone), (201, "{}")]);
        let how = replace(&api, "app", config_map(), Some("7".into()), false)
            .await
            .unwrap();
        assert_eq!(
            how.as_deref(),
            Some("it cannot change in place (field is immutable), so it was deleted and created again")
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(
            seen[1].starts_with("DELETE /api/v1/namespaces/tenant/configmaps/app"),
            "{seen:?}"
        );
        assert_eq!(
            seen[3],
            "POST /api/v1/namespaces/tenant/configmaps?fieldValidation=Strict"
        );
    }

    #[tokio::test]
    async fn a_dry_run_sends_its_writes_for_the_api_server_to_check_and_not_keep() {
        let (api, seen) = stand_in(vec![(201, "{}"), (200, "{}"), (400, UNKNOWN_FIELD)]);
        create(&api, &config_map(), true).await.unwrap();
        assert_eq!(
            replace(&api, "app", config_map(), Some("7".into()), true)
                .await
                .unwrap(),
            None
        );
        // What the cluster would refuse, a dry run reports as the restore would.
        let refused = create(&api, &config_map(), true).await.unwrap_err();
        assert!(
            refused.starts_with("create refused: the cluster does not know"),
            "{refused}"
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "POST /api/v1/namespaces/tenant/configmaps?&dryRun=All&fieldValidation=Strict",
                "PUT /api/v1/namespaces/tenant/configmaps/app?&dryRun=All&fieldValidation=Strict",
                "POST /api/v1/namespaces/tenant/configmaps?&dryRun=All&fieldValidation=Strict",
            ]
        );
    }

    #[tokio::test]
    async fn a_dry_run_says_an_object_that_cannot_change_in_place_would_be_created_again_and_deletes_nothing() {
        let (api, seen) = stand_in(vec![(422, IMMUTABLE)]);
        let how = replace(&api, "app", config_map(), Some("7".into()), true)
            .await
            .unwrap();
        assert_eq!(
            how.as_deref(),
            Some("it cannot change in place (field is immutable); it would be deleted and created again")
        );
        assert_eq!(
            *seen.lock().unwrap(),
            ["PUT /api/v1/namespaces/tenant/configmaps/app?&dryRun=All&fieldValidation=Strict"]
        );
    }

    #[test]
    fn a_dry_run_leaves_unchecked_what_needs_a_namespace_or_definition_it_would_create_first() {
        let result = |kind: &str, name: &str, tenant: Option<&str>, target: Option<&str>, action| ObjectResult {
            tenant: tenant.map(Into::into),
            target_namespace: target.map(Into::into),
            kind: kind.into(),
            name: name.into(),
            action,
            reason: None,
        };
        let mut first = CreatedFirst::default();
        first.note(&[
            result(
                "Namespace",
                "billing",
                Some("billing"),
                Some("billing-dr"),
                Action::WouldCreate,
            ),
            result("Namespace", "payroll", Some("payroll"), None, Action::Unchanged),
        ]);
        first.note(&[result(
            "CustomResourceDefinition",
            "widgets.example.com",
            None,
            None,
            Action::WouldCreate,
        )]);
        let config_maps = ResolvedKind::new("", "v1", "ConfigMap", "configmaps", true);
        let widgets = ResolvedKind::new("example.com", "v1", "Widget", "widgets", true);
        assert_eq!(
            first.unchecked(&config_maps, Some("billing-dr")).as_deref(),
            Some("not checked by the cluster: the restore would create the namespace billing-dr first")
        );
        assert_eq!(first.unchecked(&config_maps, Some("billing")), None);
        assert_eq!(first.unchecked(&config_maps, Some("payroll")), None);
        assert_eq!(
            first.unchecked(&widgets, Some("payroll")).as_deref(),
            Some("not checked by the cluster: the restore would create the definition widgets.example.com first")
        );
    }

    #[test]
    fn restore_concurrency_defaults_when_unset_and_is_bounded_when_set() {
        assert_eq!(concurrency(None).unwrap(), DEFAULT_CONCURRENCY);
        assert_eq!(concurrency(Some("")).unwrap(), DEFAULT_CONCURRENCY);
        assert_eq!(concurrency(Some("1")).unwrap(), 1);
        assert_eq!(concurrency(Some(" 64 ")).unwrap(), 64);
        for bad in ["0", "65", "-1", "8.5", "many"] {
            let message = concurrency(Some(bad)).unwrap_err().to_string();
            assert!(
                message.contains("LIFEBOAT_RESTORE_CONCURRENCY") && message.contains(&format!("'{bad}'")),
                "{message}"
            );
        }
    }
}
