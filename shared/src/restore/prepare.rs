//! What a restore makes of a verified object before it writes it: what the backup
//! stripped, stripped again (a forged file may carry it); the object placed in its
//! (mapped) tenant, or a Namespace renamed; the references it holds to namespaces the
//! request maps elsewhere rewritten, so a tenant restored beside its original works
//! there rather than pointing back at the original; and a claim's volume kept only where
//! it can bind.
//!
//! Only structured references are rewritten (a binding's ServiceAccount subjects, a
//! volume's claim, a network policy's namespace selector by name, an ExternalName
//! Service's cluster name, an Endpoints' targets); names inside free text, such as an
//! environment variable, are left as they are.

use std::collections::BTreeMap;

use kube::Client;
use serde_json::Value;

use super::write::Target;
use crate::event::RestoreRequest;
use crate::kinds::ResolvedKind;
use crate::object::{set_namespace, strip_server_set_fields};

/// An object ready to write.
pub(super) struct Prepared {
    /// The object.
    pub object: Value,
    /// Its name in the cluster (a mapped Namespace's is its new one).
    pub name: String,
    /// What the restore changed in it that the report says.
    pub notes: Vec<String>,
    /// How many references to mapped namespaces were rewritten.
    pub rewritten: usize,
}

/// Prepares `object`, of `kind` and named `name` in the backup, for `target`.
pub(super) async fn prepare(
    client: &Client,
    request: &RestoreRequest,
    mut object: Value,
    kind: &ResolvedKind,
    name: &str,
    target: Option<&str>,
) -> Prepared {
    strip_server_set_fields(&mut object, kind);
    let is_namespace = *kind == ResolvedKind::namespace();
    let name = if is_namespace { target.unwrap_or(name) } else { name }.to_string();
    if is_namespace {
        rename_namespace(&mut object, &name);
    } else if kind.namespaced {
        set_namespace(&mut object, target.unwrap_or_default());
    } else if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("namespace");
    }
    let mut notes = Vec::new();
    let rewritten = rewrite_namespaces(kind, &mut object, &request.namespace_mapping);
    if rewritten > 0 {
        notes.push(format!("{rewritten} reference(s) to mapped namespaces rewritten"));
    }
    if kind.group.is_empty()
        && kind.kind == "PersistentVolumeClaim"
        && let Some(volume) = object
            .pointer("/spec/volumeName")
            .and_then(Value::as_str)
            .map(str::to_string)
        && !volume_is_for(client, request, &volume, target.unwrap_or_default(), &name).await
    {
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("volumeName");
        }
        notes.push(format!(
            "its volume {volume} is neither restored with it nor waiting for it, so the cluster binds or provisions another"
        ));
    }
    Prepared {
        object,
        name,
        notes,
        rewritten,
    }
}

/// Whether a claim restored as `namespace`/`claim` may keep binding to `volume`: the
/// restore writes volumes too (the request names PersistentVolume), or the volume is in
/// the cluster, free or reserved for this claim. Otherwise the claim would wait forever.
async fn volume_is_for(client: &Client, request: &RestoreRequest, volume: &str, namespace: &str, claim: &str) -> bool {
    let restored = request
        .kinds
        .as_ref()
        .is_some_and(|kinds| kinds.iter().any(|k| k == "PersistentVolume"));
    if restored {
        return true;
    }
    let volumes = ResolvedKind::new("", "v1", "PersistentVolume", "persistentvolumes", false);
    match Target::new(client, &volumes, None).get(volume).await {
        Ok(Some(found)) => match found.pointer("/spec/claimRef") {
            None | Some(Value::Null) => true,
            Some(claim_ref) => claim_ref["namespace"] == namespace && claim_ref["name"] == claim,
        },
        _ => false,
    }
}

/// A namespace restored under another name carries that name, in its metadata and in
/// the label the API server keeps equal to it.
fn rename_namespace(object: &mut Value, name: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("name".into(), Value::String(name.into()));
        if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut)
            && labels.contains_key(NAMESPACE_NAME_LABEL)
        {
            labels.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name.into()));
        }
    }
}

/// The label the API server gives every namespace, equal to its name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Rewrites the references to mapped namespaces an object holds; returns how many.
fn rewrite_namespaces(kind: &ResolvedKind, object: &mut Value, mapping: &BTreeMap<String, String>) -> usize {
    if mapping.is_empty() {
        return 0;
    }
    let mut rewritten = 0;
    let mut swap = |slot: &mut Value| {
        if let Some(to) = slot.as_str().and_then(|from| mapping.get(from)) {
            *slot = Value::String(to.clone());
            rewritten += 1;
        }
    };
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            for subject in items(object, &["subjects"]) {
                if subject["kind"] == "ServiceAccount"
                    && let Some(ns) = subject.get_mut("namespace")
                {
                    swap(ns);
                }
            }
        }
        ("", "PersistentVolume") => {
            if let Some(ns) = object.pointer_mut("/spec/claimRef/namespace") {
                swap(ns);
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            for (rules, peers) in [("ingress", "from"), ("egress", "to")] {
                for rule in items(object, &["spec", rules]) {
                    for peer in items(rule, &[peers]) {
                        if let Some(name) = peer
                            .pointer_mut("/namespaceSelector/matchLabels")
                            .and_then(|labels| labels.get_mut(NAMESPACE_NAME_LABEL))
                        {
                            swap(name);
                        }
                    }
                }
            }
        }
        ("", "Service") => {
            if let Some(Value::String(host)) = object.pointer_mut("/spec/externalName") {
                // <service>.<namespace>.svc[.<cluster domain>]
                let parts: Vec<&str> = host.split('.').collect();
                if parts.len() >= 3
                    && parts[2] == "svc"
                    && let Some(to) = mapping.get(parts[1])
                {
                    let mut renamed = parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
                    renamed[1] = to.clone();
                    *host = renamed.join(".");
                    rewritten += 1;
                }
            }
        }
        ("", "Endpoints") => {
            for subset in items(object, &["subsets"]) {
                for list in ["addresses", "notReadyAddresses"] {
                    for address in items(subset, &[list]) {
                        if let Some(ns) = address.pointer_mut("/targetRef/namespace") {
                            swap(ns);
                        }
                    }
                }
            }
        }
        _ => {}
    }
    rewritten
}

/// The elements of the array at `path`, mutably; none when it is not there.
fn items<'v>(value: &'v mut Value, path: &[&str]) -> impl Iterator<Item = &'v mut Value> {
    let mut at = Some(value);
    for key in path {
        at = at.and_then(|v| v.get_mut(*key));
    }
    at.and_then(Value::as_array_mut).into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> BTreeMap<String, String> {
        BTreeMap::from([("billing".to_string(), "billing-dr".to_string())])
    }

    fn kind(group: &str, kind: &str) -> ResolvedKind {
        ResolvedKind::new(group, "v1", kind, "x", true)
    }

    #[test]
    fn each_structured_reference_to_a_mapped_namespace_is_rewritten_and_counted() {
        let rows = [
            (
                kind("rbac.authorization.k8s.io", "RoleBinding"),
                json!({ "subjects": [
                    { "kind": "ServiceAccount", "name": "app", "namespace": "billing" },
                    { "kind": "ServiceAccount", "name": "ci", "namespace": "tooling" },
                    { "kind": "User", "name": "jane", "namespace": "billing" }] }),
                json!({ "subjects": [
                    { "kind": "ServiceAccount", "name": "app", "namespace": "billing-dr" },
                    { "kind": "ServiceAccount", "name": "ci", "namespace": "tooling" },
                    { "kind": "User", "name": "jane", "namespace": "billing" }] }),
                1,
            ),
            (
                kind("", "PersistentVolume"),
                json!({ "spec": { "claimRef": { "namespace": "billing", "name": "data" } } }),
                json!({ "spec": { "claimRef": { "namespace": "billing-dr", "name": "data" } } }),
                1,
            ),
            (
                kind("networking.k8s.io", "NetworkPolicy"),
                json!({ "spec": { "ingress": [{ "from": [{ "podSelector": {} },
                    { "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "billing" } } }] }] } }),
                json!({ "spec": { "ingress": [{ "from": [{ "podSelector": {} },
                    { "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "billing-dr" } } }] }] } }),
                1,
            ),
            (
                kind("", "Service"),
                json!({ "spec": { "externalName": "db.billing.svc.cluster.local" } }),
                json!({ "spec": { "externalName": "db.billing-dr.svc.cluster.local" } }),
                1,
            ),
            (
                kind("", "Endpoints"),
                json!({ "subsets": [{ "addresses": [{ "ip": "10.0.0.1", "targetRef": { "namespace": "billing" } }] }] }),
                json!({ "subsets": [{ "addresses": [{ "ip": "10.0.0.1", "targetRef": { "namespace": "billing-dr" } }] }] }),
                1,
            ),
            (
                kind("", "Service"),
                json!({ "spec": { "externalName": "api.example.com" } }),
                json!({ "spec": { "externalName": "api.example.com" } }),
                0,
            ),
        ];
        for (kind, mut object, expected, count) in rows {
            assert_eq!(
                rewrite_namespaces(&kind, &mut object, &mapping()),
                count,
                "{}",
                kind.kind
            );
            assert_eq!(object, expected, "{}", kind.kind);
        }
    }

    #[test]
    fn without_a_mapping_nothing_changes() {
        let mut binding = json!({ "subjects": [{ "kind": "ServiceAccount", "namespace": "billing" }] });
        let before = binding.clone();
        let rb = kind("rbac.authorization.k8s.io", "RoleBinding");
        assert_eq!(rewrite_namespaces(&rb, &mut binding, &BTreeMap::new()), 0);
        assert_eq!(binding, before);
    }
}
