//! What a stored object is: the object as the API server returned it, less the fields
//! the server sets, so that it is a manifest `kubectl apply -f` and a fresh `create`
//! both accept in any cluster. Also which objects the cluster makes itself.

use serde_json::Value;

use crate::kinds::ResolvedKind;

/// Metadata the API server assigns. A create that carries them is refused
/// (`resourceVersion`), or they would be wrong in the target cluster (`uid`, times).
const SERVER_SET_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    // Owners are referenced by uid, and restored owners get new uids, so every
    // reference would dangle; the garbage collector would delete the restored object.
    "ownerReferences",
];

/// Removes server-set fields in place and makes sure the object names its kind (list
/// responses leave `apiVersion` and `kind` off their items).
pub fn strip_server_set_fields(object: &mut Value, kind: &ResolvedKind) {
    let Some(map) = object.as_object_mut() else { return };
    map.insert("apiVersion".into(), Value::String(kind.api_version()));
    map.insert("kind".into(), Value::String(kind.kind.clone()));
    // Status is observed state; the cluster recomputes it.
    map.remove("status");
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        for field in SERVER_SET_METADATA {
            meta.remove(*field);
        }
    }
    // A Service's cluster IPs are allocated from the target cluster's range; copying
    // them would clash there.
    if kind.group.is_empty()
        && kind.kind == "Service"
        && let Some(Value::Object(spec)) = map.get_mut("spec")
        && spec.get("clusterIP").and_then(Value::as_str) != Some("None")
    {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
}

/// Why the cluster makes this object itself, if it does. Such objects are neither
/// backed up nor restored: the cluster recreates them, and a copy would carry stale
/// credentials (service-account tokens) or conflict with the cluster's own.
pub fn generated_by_cluster(kind: &ResolvedKind, object: &Value) -> Option<&'static str> {
    if !kind.group.is_empty() {
        return None;
    }
    match kind.kind.as_str() {
        "Secret" if object.get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token") => {
            Some("service-account token secret, made by the cluster's token controller")
        }
        "ConfigMap" if name(object) == Some("kube-root-ca.crt") => {
            Some("kube-root-ca.crt, published into every namespace by the cluster")
        }
        _ => None,
    }
}

/// The object's name.
pub fn name(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}

/// The object's namespace.
pub fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

/// Sets the object's namespace, for restoring into a mapped namespace.
pub fn set_namespace(object: &mut Value, namespace: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String(namespace.into()));
    }
}

/// The object's content that a restore compares to decide `unchanged`: everything but
/// server-set fields.
pub fn comparable(mut object: Value, kind: &ResolvedKind) -> Value {
    strip_server_set_fields(&mut object, kind);
    object
}

/// Serialises an object the way it is stored: pretty JSON with a final newline.
pub fn to_stored_bytes(object: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(object).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret_kind() -> ResolvedKind {
        ResolvedKind::new("", "v1", "Secret", "secrets", true)
    }

    #[test]
    fn server_set_fields_go_and_content_stays() {
        let mut s = json!({
            "metadata": {
                "name": "db", "namespace": "t", "uid": "u", "resourceVersion": "1", "creationTimestamp": "x",
                "managedFields": [], "generation": 2, "selfLink": "/x", "labels": {"a": "b"}, "annotations": {"c": "d"},
                "ownerReferences": [{"uid": "o"}]
            },
            "type": "Opaque", "data": {"k": "AAEC/w=="}, "immutable": true, "status": {}
        });
        strip_server_set_fields(&mut s, &secret_kind());
        assert_eq!(
            s,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": "db", "namespace": "t", "labels": {"a": "b"}, "annotations": {"c": "d"} },
                "type": "Opaque", "data": {"k": "AAEC/w=="}, "immutable": true
            })
        );
    }

    #[test]
    fn cluster_made_objects_are_recognised() {
        let token = json!({"metadata": {"name": "default-token-x"}, "type": "kubernetes.io/service-account-token"});
        let root_ca = json!({"metadata": {"name": "kube-root-ca.crt"}});
        let mine = json!({"metadata": {"name": "app"}, "type": "Opaque"});
        let cm = ResolvedKind::new("", "v1", "ConfigMap", "configmaps", true);
        assert!(generated_by_cluster(&secret_kind(), &token).is_some());
        assert!(generated_by_cluster(&cm, &root_ca).is_some());
        assert!(generated_by_cluster(&secret_kind(), &mine).is_none());
        assert!(generated_by_cluster(&cm, &mine).is_none());
    }

    #[test]
    fn a_service_loses_its_allocated_ip_but_a_headless_one_keeps_none() {
        let svc = ResolvedKind::new("", "v1", "Service", "services", true);
        let mut s = json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ports": []}});
        strip_server_set_fields(&mut s, &svc);
        assert_eq!(s["spec"], json!({"ports": []}));
        let mut h = json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "None"}});
        strip_server_set_fields(&mut h, &svc);
        assert_eq!(h["spec"]["clusterIP"], "None");
    }
}
