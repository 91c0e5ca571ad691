//! Writing one verified object: create it, or compare it with what exists and skip,
//! leave or replace it; as a server-side dry run when asked.
//!
//! Requests are built here from checked names, each percent-encoded as one path
//! segment (see [`crate::names`]), never by pasting a name into a path.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kube::Client;
use kube::api::{DeleteParams, GetParams, PostParams};
use serde_json::Value;

use super::failure::ObjectFailure;
use super::load::Job;
use super::prepare::{Prepared, prepare};
use super::wait::wait_until_gone;
use crate::event::{Existing, RestoreRequest};
use crate::kinds::ResolvedKind;
use crate::names::{collection_path, segment};
use crate::object::{comparable, generated_by_cluster};
use crate::report::{Action, ObjectResult};

/// One kind's collection in one namespace (or cluster-wide), as requests address it.
pub(super) struct Target<'a> {
    client: &'a Client,
    collection: String,
}

impl<'a> Target<'a> {
    pub(super) fn new(client: &'a Client, kind: &ResolvedKind, namespace: Option<&str>) -> Self {
        Self {
            client,
            collection: collection_path(kind, namespace),
        }
    }

    /// Writes an object with one request of its JSON: a POST that creates it, or, given
    /// the name of the object it replaces, a PUT. `Api::create` and `Api::replace` would
    /// copy it into a `DynamicObject` and decode the answer into another, though nothing
    /// reads that answer.
    ///
    /// The write asks for strict field validation. Without it an API server drops the
    /// fields it does not know and answers with success: a backup restored into an older
    /// cluster, or into one whose custom resource definition lacks a field, would come
    /// back with less than was backed up while the report said `created`. With it the
    /// server refuses the object (400), which the report then names. API servers from
    /// 1.25 on honour it, as they do for kubectl, which sends the same; older ones ignore
    /// it. `PostParams` has no field for it, so it is added to the query here.
    ///
    /// A dry run's write is a server-side dry run (`dryRun=All`): the API server decodes,
    /// defaults, validates and admits the object (quotas, policy webhooks) as it would a
    /// real one, and keeps nothing.
    pub(super) async fn send(&self, object: &Value, replacing: Option<&str>, dry_run: bool) -> Result<(), kube::Error> {
        let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
        let builder = kube::core::Request::new(&self.collection);
        let params = PostParams {
            dry_run,
            ..PostParams::default()
        };
        let mut request = match replacing {
            None => builder.create(&params, body),
            Some(name) => builder.replace(&segment(name), &params, body),
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
        self.client.request_text(request).await.map(drop)
    }

    /// The object as the cluster holds it, or `None`.
    pub(super) async fn get(&self, name: &str) -> Result<Option<Value>, kube::Error> {
        let request = kube::core::Request::new(&self.collection)
            .get(&segment(name), &GetParams::default())
            .map_err(kube::Error::BuildRequest)?;
        match self.client.request::<Value>(request).await {
            Ok(object) => Ok(Some(object)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, name: &str) -> Result<(), kube::Error> {
        let request = kube::core::Request::new(&self.collection)
            .delete(&segment(name), &DeleteParams::default())
            .map_err(kube::Error::BuildRequest)?;
        self.client.request_text(request).await.map(drop)
    }
}

/// What a dry run would create before the objects that need it: namespaces, and
/// definitions of custom resources. The API server checks a dry-run write against the
/// cluster as it is, where an object in a namespace yet to be created is refused (404,
/// or 403 while the old one is still being deleted) and a custom resource without its
/// definition is not served. Such objects are reported `would-create` unchecked, with
/// the reason, rather than failed for what the real restore puts right first.
#[derive(Default)]
pub(super) struct CreatedFirst {
    namespaces: Mutex<BTreeSet<String>>,
    /// (group, kind) a definition would serve, to the definition's name.
    definitions: Mutex<BTreeMap<(String, String), String>>,
}

impl CreatedFirst {
    /// Takes note of a group's results.
    pub(super) fn note(&self, results: &[ObjectResult]) {
        let mut namespaces = self.namespaces.lock().expect("never poisoned");
        for r in results
            .iter()
            .filter(|r| r.action == Action::WouldCreate && r.kind == "Namespace")
        {
            if let Some(ns) = r.target_namespace.as_ref().or(r.tenant.as_ref()) {
                namespaces.insert(ns.clone());
            }
        }
    }

    /// Takes note of a definition a dry run would create, from the definition itself.
    fn note_definition(&self, definition: &Value) {
        let spec = &definition["spec"];
        if let (Some(group), Some(kind), Some(name)) = (
            spec["group"].as_str(),
            spec["names"]["kind"].as_str(),
            crate::object::name(definition),
        ) {
            self.definitions
                .lock()
                .expect("never poisoned")
                .insert((group.into(), kind.into()), name.into());
        }
    }

    /// The definition a dry run would create that serves `kind` of `group`, if any.
    pub(super) fn definition_of(&self, group: &str, kind: &str) -> Option<String> {
        self.definitions
            .lock()
            .expect("never poisoned")
            .get(&(group.to_string(), kind.to_string()))
            .cloned()
    }

    /// Why an object bound for namespace `target` cannot be checked by the cluster yet.
    fn unchecked(&self, target: Option<&str>) -> Option<String> {
        let ns = target?;
        self.namespaces
            .lock()
            .expect("never poisoned")
            .contains(ns)
            .then(|| format!("not checked by the cluster: the restore would create the namespace {ns} first"))
    }
}

/// Kinds an overwrite may delete and create again when they cannot change in place:
/// those whose deletion takes nothing else along. A Namespace takes every object in
/// it, a definition its custom resources, a workload its pods, a claim its volume's
/// data, and a ServiceAccount its tokens; those are never deleted by a restore.
fn recreatable(kind: &ResolvedKind) -> bool {
    matches!(
        (kind.group.as_str(), kind.kind.as_str()),
        ("", "Secret" | "ConfigMap" | "Service" | "LimitRange" | "ResourceQuota")
            | (
                "rbac.authorization.k8s.io",
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            )
            | ("networking.k8s.io", "Ingress" | "IngressClass" | "NetworkPolicy")
            | ("policy", "PodDisruptionBudget")
            | ("autoscaling", "HorizontalPodAutoscaler")
            | ("storage.k8s.io", "StorageClass")
            | ("scheduling.k8s.io", "PriorityClass")
    )
}

/// Writes the objects of one restore.
pub(super) struct Writer<'a> {
    pub client: &'a Client,
    pub request: &'a RestoreRequest,
    /// In a dry run, what earlier groups would create.
    pub created_first: CreatedFirst,
    /// References to mapped namespaces rewritten so far.
    pub rewritten: AtomicU64,
}

impl Writer<'_> {
    /// Restores one job and says what became of it.
    pub(super) async fn restore(&self, job: Job<'_>) -> ObjectResult {
        let is_namespace = job.kind == ResolvedKind::namespace();
        let tenant = super::plan::tenant_of(job.file, job.name);
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
                self.write(object, &job.kind, job.name, target.as_deref(), is_namespace)
                    .await
            }
            Err(failure) => Err(failure),
        };
        match outcome {
            Ok((action, reason)) => {
                result.action = action;
                result.reason = reason;
            }
            Err(failure) => result.reason = Some(failure.to_string()),
        }
        result
    }

    /// Writes one verified object; the error is the reason it failed. `name` has passed
    /// its kind's rule; a namespaced object goes into `target`, the (mapped) tenant,
    /// whatever its body says.
    async fn write(
        &self,
        object: Value,
        kind: &ResolvedKind,
        name: &str,
        target: Option<&str>,
        is_namespace: bool,
    ) -> Result<(Action, Option<String>), ObjectFailure> {
        if let Some(why) = generated_by_cluster(kind, &object) {
            return Ok((Action::Skipped, Some(why.into())));
        }
        let Prepared {
            object,
            name,
            notes,
            rewritten,
        } = prepare(self.client, self.request, object, kind, name, target).await;
        self.rewritten.fetch_add(rewritten as u64, Ordering::Relaxed);
        let noted = |reason: Option<String>| {
            let all: Vec<String> = reason.into_iter().chain(notes.iter().cloned()).collect();
            (!all.is_empty()).then(|| all.join("; "))
        };
        let api = Target::new(self.client, kind, if kind.namespaced { target } else { None });

        let dry_run = self.request.dry_run;
        let done = |real: Action, would: Action| if dry_run { would } else { real };
        if dry_run
            && kind.namespaced
            && let Some(why) = self.created_first.unchecked(target)
        {
            return Ok((Action::WouldCreate, Some(why)));
        }

        // Most objects of a restore are missing (a tenant deleted, a new cluster), so a
        // create comes first: one request where a read and a create would be two. One
        // that exists is then read and compared as below. A dry run sends the same
        // writes, which the API server checks in full and does not keep.
        //
        // A create whose answer was lost (the connection broke after it was sent) may
        // have been applied: the object is read back like one that exists, so the
        // report says what the cluster holds, and a create is sent again only when it
        // is not there.
        let mut answer_lost = false;
        if !is_namespace {
            match api.send(&object, None, dry_run).await {
                Ok(()) => return Ok((self.created(kind, &object), noted(None))),
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) if !dry_run && outcome_unknown(&e) => answer_lost = true,
                Err(e) => return Err(ObjectFailure::of_write("create", e)),
            }
        }
        let mut current = api.get(&name).await.map_err(|source| ObjectFailure::Read {
            what: "the current object".into(),
            source,
        })?;
        let deleting = |c: &Value| c["metadata"].get("deletionTimestamp").is_some_and(|t| !t.is_null());
        if is_namespace && current.as_ref().is_some_and(deleting) {
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
            return Ok((done(Action::Created, Action::WouldCreate), noted(None)));
        };
        let resource_version = current["metadata"]["resourceVersion"].as_str().map(str::to_string);
        if comparable(current, kind) == object {
            if answer_lost {
                return Ok((Action::Created, noted(Some(LOST_CREATE.into()))));
            }
            return Ok((Action::Unchanged, None));
        }
        match self.request.existing {
            Existing::Skip => Ok((
                Action::Skipped,
                Some("it exists and differs from the backup; existing is skip (overwrite replaces it)".into()),
            )),
            Existing::Overwrite => {
                let how = replace(&api, kind, &name, object, resource_version, dry_run).await?;
                Ok((done(Action::Updated, Action::WouldUpdate), noted(how)))
            }
        }
    }

    /// The action of a create that went through, noting a definition a dry run would create.
    fn created(&self, kind: &ResolvedKind, object: &Value) -> Action {
        if !self.request.dry_run {
            return Action::Created;
        }
        if kind.kind == "CustomResourceDefinition" && kind.group == "apiextensions.k8s.io" {
            self.created_first.note_definition(object);
        }
        Action::WouldCreate
    }
}

/// The note on an object whose create was applied although its answer was lost.
const LOST_CREATE: &str = "the cluster's answer to the create was lost; read back, the object is there as backed up";

/// Whether a write failed where the API server may have acted on it: the request went
/// out and no answer came back. An answer of any status, or a request that could not
/// be built, says the outcome.
fn outcome_unknown(error: &kube::Error) -> bool {
    matches!(error, kube::Error::HyperError(_) | kube::Error::Service(_))
}

async fn create(api: &Target<'_>, object: &Value, dry_run: bool) -> Result<(), ObjectFailure> {
    api.send(object, None, dry_run)
        .await
        .map_err(|e| ObjectFailure::of_write("create", e))
}

/// Replaces an object; says how when it was not in place. Some objects cannot be
/// changed in place (an immutable Secret or ConfigMap, a Secret whose type differs);
/// those of a [`recreatable`] kind are deleted and created again, which is what
/// `overwrite` promises, and the reason says so. Only the server's `Invalid` (422) leads
/// there: an object refused for fields the cluster does not know (400) would be refused
/// again after the delete, and the cluster's copy is kept. A dry run stops at the 422
/// and says what the restore would do.
async fn replace(
    api: &Target<'_>,
    kind: &ResolvedKind,
    name: &str,
    mut object: Value,
    resource_version: Option<String>,
    dry_run: bool,
) -> Result<Option<String>, ObjectFailure> {
    let wanted = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            resource_version.map(Value::String).unwrap_or(Value::Null),
        );
    }
    match api.send(&object, Some(name), dry_run).await {
        Ok(()) => Ok(None),
        // The replace went out and its answer was lost: what the cluster holds now says
        // whether it was applied.
        Err(e) if !dry_run && outcome_unknown(&e) => {
            let current = api.get(name).await.map_err(|source| ObjectFailure::Read {
                what: "the object after a replace whose answer was lost".into(),
                source,
            })?;
            if current.is_some_and(|current| comparable(current, kind) == wanted) {
                Ok(Some(
                    "the cluster's answer to the replace was lost; read back, the object is as backed up".into(),
                ))
            } else {
                Err(ObjectFailure::AnswerLost {
                    write: "replace",
                    source: e,
                })
            }
        }
        Err(kube::Error::Api(status)) if status.code == 422 => {
            if !recreatable(kind) {
                return Err(ObjectFailure::NotRecreatable {
                    message: status.message,
                    kind: kind.kind.clone(),
                });
            }
            let why = format!("it cannot change in place ({})", status.message);
            if dry_run {
                return Ok(Some(format!("{why}; it would be deleted and created again")));
            }
            api.delete(name)
                .await
                .map_err(|e| ObjectFailure::of_write("delete before re-create", e))?;
            wait_until_gone(api, name).await?;
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("resourceVersion");
            }
            create(api, &object, false).await?;
            Ok(Some(format!("{why}, so it was deleted and created again")))
        }
        Err(e) => Err(ObjectFailure::of_write("replace", e)),
    }
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
