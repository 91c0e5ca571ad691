//! The trust boundary of a restore: what it may write, decided from the request and
//! the target cluster, never from the bucket alone.
//!
//! A manifest's checksums prove that each file is the one its manifest lists, and
//! nothing more: whoever could write a manifest could list any file under any kind. So
//! the manifest is read only for what to look at. Each file's kind is resolved again
//! through the target cluster's discovery from the `apiVersion` and kind it is listed
//! under, which also gives its scope and URL; the file must sit where a backup stores
//! that kind for that tenant; a cluster-scoped kind is written only when the request
//! names it; and every name is checked before it reaches a URL. What fails a check is
//! reported object by object, with the reason, and the rest of the restore goes on.

use std::collections::BTreeSet;

use crate::event::InvalidField;
use crate::event::RestoreRequest;
use crate::kinds::{KindsError, ResolvedKind, ServedKinds};
use crate::layout::RunLayout;
use crate::manifest::{Manifest, ManifestFile};
use crate::names;
use crate::report::{Action, ObjectResult};
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

/// A file the request wants, with the names wanted from it.
pub(super) struct Selected<'m> {
    pub file: &'m ManifestFile,
    pub names: Vec<&'m str>,
}

impl<'m> Selected<'m> {
    /// The objects of `file` whose names `wanted` takes; `None` when there are none.
    fn of(file: &'m ManifestFile, wanted: impl Fn(&str) -> bool) -> Option<Self> {
        let names: Vec<&str> = file.objects.iter().map(String::as_str).filter(|n| wanted(n)).collect();
        (!names.is_empty()).then_some(Self { file, names })
    }
}

/// A file cleared for writing: its kind as the target cluster serves it, and the
/// tenant its namespaced objects belong to.
pub(super) struct Admitted<'m> {
    pub file: &'m ManifestFile,
    pub names: Vec<&'m str>,
    pub kind: ResolvedKind,
}

/// What becomes of one selected file.
pub(super) enum Admission<'m> {
    /// Its objects may be written; `refused` holds those whose names broke their rule.
    Write(Admitted<'m>, Vec<ObjectResult>),
    /// None of its objects are written, each for the reason given.
    Refuse(Vec<ObjectResult>),
}

/// Filters that name something the backup does not hold are mistakes, not empty sets.
pub(super) fn check_filters(request: &RestoreRequest, manifest: &Manifest) -> Result<()> {
    if let Some(tenants) = &request.tenants
        && let Some(missing) = tenants.iter().find(|t| !manifest.tenants.contains(t))
    {
        return Err(Error::InvalidEvent(InvalidField {
            field: "tenants".into(),
            rule: format!(
                "must name tenants the backup {} holds: {}",
                manifest.run_path,
                manifest.tenants.join(", ")
            ),
            got: Some(format!("{missing:?}")),
        }));
    }
    if let Some(kinds) = &request.kinds {
        let held: BTreeSet<&str> = manifest
            .files
            .iter()
            .map(|f| f.kind.as_str())
            .chain(["Namespace"])
            .collect();
        let holds = |k: &String| {
            k == "Namespace"
                || manifest
                    .files
                    .iter()
                    .any(|f| f.is_taken_by(Some(std::slice::from_ref(k))))
        };
        if let Some(missing) = kinds.iter().find(|k| !holds(k)) {
            return Err(Error::InvalidEvent(InvalidField {
                field: "kinds".into(),
                rule: format!(
                    "must name kinds the backup {} holds: {}",
                    manifest.run_path,
                    held.into_iter().collect::<Vec<_>>().join(", ")
                ),
                got: Some(format!("{missing:?}")),
            }));
        }
    }
    Ok(())
}

fn is_namespaces_file(file: &ManifestFile) -> bool {
    file.kind == "Namespace" && file.api_version == "v1" && file.namespace.is_none()
}

/// The files the request needs, each with the names of the objects wanted from it. A
/// tenant's Namespace object comes along with any object of that tenant, whatever the
/// kind and name filters say, because the objects cannot be written without it.
pub(super) fn select<'m>(request: &RestoreRequest, manifest: &'m Manifest) -> Vec<Selected<'m>> {
    let wanted = |list: &Option<Vec<String>>, value: &str| list.as_ref().is_none_or(|l| l.iter().any(|v| v == value));
    let objects: Vec<Selected> = manifest
        .files
        .iter()
        .filter(|f| !is_namespaces_file(f))
        .filter(|f| match &f.namespace {
            Some(ns) => wanted(&request.tenants, ns),
            None => request.tenants.is_none(),
        })
        .filter(|f| f.is_taken_by(request.kinds.as_deref()))
        .filter_map(|f| Selected::of(f, |n| wanted(&request.names, n)))
        .collect();
    let namespaces_needed: BTreeSet<&str> = objects.iter().filter_map(|s| s.file.namespace.as_deref()).collect();
    let namespaces_asked = |name: &str| {
        wanted(&request.tenants, name)
            && (request.kinds.is_none() || wanted(&request.kinds, "Namespace"))
            && wanted(&request.names, name)
    };
    manifest
        .files
        .iter()
        .filter(|f| is_namespaces_file(f))
        .filter_map(|f| Selected::of(f, |n| namespaces_needed.contains(n) || namespaces_asked(n)))
        .chain(objects)
        .collect()
}

/// Groups files by kind, in [`RESTORE_ORDER`], then in the order the manifest first
/// lists each kind.
pub(super) fn in_restore_order<'m>(selected: Vec<Selected<'m>>, manifest: &Manifest) -> Vec<Vec<Selected<'m>>> {
    let rank = |kind: &str| {
        RESTORE_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(RESTORE_ORDER.len())
    };
    let first_listed = |file: &ManifestFile| {
        manifest
            .files
            .iter()
            .position(|f| f.kind == file.kind && f.api_version == file.api_version)
            .unwrap_or(0)
    };
    let mut keyed: Vec<((usize, usize), Selected)> = selected
        .into_iter()
        .map(|s| ((rank(&s.file.kind), first_listed(s.file)), s))
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let mut groups: Vec<Vec<Selected>> = Vec::new();
    let mut last = None;
    for (key, s) in keyed {
        if last != Some(key) {
            groups.push(Vec::new());
            last = Some(key);
        }
        groups.last_mut().expect("a group was just pushed").push(s);
    }
    groups
}

/// One result per wanted object of a file, all with the same action and reason.
pub(super) fn each(selected: &Selected, target: Option<String>, action: Action, reason: &str) -> Vec<ObjectResult> {
    selected
        .names
        .iter()
        .map(|name| ObjectResult {
            tenant: tenant_of(selected.file, name),
            target_namespace: target.clone(),
            kind: selected.file.kind.clone(),
            name: name.to_string(),
            action,
            reason: Some(reason.to_string()),
        })
        .collect()
}

/// The tenant an object belongs to: its file's, or, for a Namespace, its own name.
pub(super) fn tenant_of(file: &ManifestFile, name: &str) -> Option<String> {
    if is_namespaces_file(file) {
        Some(name.to_string())
    } else {
        file.namespace.clone()
    }
}

/// `v1` or `group/version`, split; `None` when it is neither.
fn split_api_version(api_version: &str) -> Option<(&str, &str)> {
    let (group, version) = match api_version.split_once('/') {
        Some(("", _)) => return None,
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    // Groups are DNS subdomains and versions are like v1, v2beta1.
    let version_ok = !version.is_empty()
        && version.len() <= 63
        && version.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (version_ok && (group.is_empty() || names::is_dns_subdomain(group))).then_some((group, version))
}

/// Decides whether a selected file's objects may be written. `would_define` says, in a
/// dry run, whether the restore would first create the definition that serves a kind
/// the cluster does not serve yet; such a file is returned as `Ok(None)`.
pub(super) async fn admit<'m>(
    selected: Selected<'m>,
    request: &RestoreRequest,
    served: &ServedKinds,
    would_define: impl Fn(&str, &str) -> Option<String>,
) -> std::result::Result<Admission<'m>, KindsError> {
    let file = selected.file;
    let target = file
        .namespace
        .as_deref()
        .map(|ns| request.target_namespace(ns).to_string())
        .filter(|t| Some(t.as_str()) != file.namespace.as_deref());
    let refuse = |action, reason: String| Ok(Admission::Refuse(each(&selected, target.clone(), action, &reason)));
    let listed = format!("{} {}", file.api_version, file.kind);

    let Some((group, version)) = split_api_version(&file.api_version) else {
        return refuse(
            Action::Failed,
            format!(
                "the manifest lists {} under {listed:?}, which is no apiVersion and kind",
                file.key
            ),
        );
    };
    if let Some(ns) = &file.namespace
        && let Err(e) = names::check_namespace(ns)
    {
        return refuse(Action::Failed, format!("the manifest lists {} for {e}", file.key));
    }
    let kind = if is_namespaces_file(file) {
        ResolvedKind::namespace()
    } else {
        match served.lookup(group, version, &file.kind).await? {
            Some(kind) => kind,
            None => {
                if request.dry_run
                    && let Some(definition) = would_define(group, &file.kind)
                {
                    return refuse(
                        Action::WouldCreate,
                        format!(
                            "not checked by the cluster: the restore would create the definition {definition} first"
                        ),
                    );
                }
                return refuse(
                    Action::Failed,
                    format!(
                        "the cluster does not serve {listed}: for a custom resource, restore its \
                         CustomResourceDefinition with it (name CustomResourceDefinition in kinds) or install it first"
                    ),
                );
            }
        }
    };

    // Scope, place and request, as the cluster and the request say, not the manifest.
    if kind.namespaced != file.namespace.is_some() {
        return refuse(
            Action::Failed,
            format!(
                "the manifest lists {} as {}, but the cluster serves {listed} {}; nothing of it was written",
                file.key,
                if file.namespace.is_some() {
                    "a tenant's file"
                } else {
                    "a cluster-wide file"
                },
                if kind.namespaced {
                    "in namespaces"
                } else {
                    "cluster-wide"
                },
            ),
        );
    }
    if !RunLayout::is_file_key(&file.key, &kind, file.namespace.as_deref()) {
        return refuse(
            Action::Failed,
            format!(
                "the manifest lists {listed} at {}, which is not where a backup stores it; nothing of it was written",
                file.key
            ),
        );
    }
    if !kind.namespaced && kind != ResolvedKind::namespace() && request.kinds.is_none() {
        // With kinds given, the file was selected because they name its kind.
        return refuse(
            Action::Skipped,
            format!(
                "{} is cluster-scoped, and cluster-scoped kinds are restored only when the request names them: \
                 add \"{}\" to kinds to restore it",
                file.kind, file.kind
            ),
        );
    }

    let (names, refused): (Vec<&str>, Vec<&str>) = selected
        .names
        .iter()
        .partition(|name| names::check_object_name(&kind, name).is_ok());
    let refused = refused
        .into_iter()
        .map(|name| ObjectResult {
            tenant: tenant_of(file, name),
            target_namespace: target.clone(),
            kind: file.kind.clone(),
            name: name.to_string(),
            action: Action::Failed,
            reason: names::check_object_name(&kind, name)
                .err()
                .map(|e| format!("{e}; it was not written")),
        })
        .collect();
    Ok(Admission::Write(Admitted { file, names, kind }, refused))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
