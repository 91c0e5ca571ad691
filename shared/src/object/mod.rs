//! What a stored object is: the object as the API server returned it, less the fields
//! the server sets, so that it is a manifest `kubectl apply -f` and a fresh `create`
//! both accept in any cluster. Also which objects the cluster makes itself, and which a
//! backup leaves to the controllers that make them ([`rules`]).

pub mod rules;
mod stored;

pub use stored::{Listed, write_stored};

use serde_json::Value;

use crate::kinds::ResolvedKind;

/// Metadata the API server assigns. A create that carries them is refused
/// (`resourceVersion`), or they would be wrong in the target cluster (`uid`, times).
pub(crate) const SERVER_SET_METADATA: &[&str] = &[
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

/// Removes what the server sets, in place, and applies the kind's own rules (see
/// [`rules`]); makes sure the object names its kind (list responses leave `apiVersion`
/// and `kind` off their items).
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
    rules::clean_kind(kind, map);
}

/// Why the cluster makes this object itself, if it does. Such objects are neither
/// backed up nor restored: the cluster recreates them, and a copy would carry stale
/// credentials (service-account tokens) or conflict with the cluster's own.
pub fn generated_by_cluster(kind: &ResolvedKind, object: &Value) -> Option<&'static str> {
    made_by_cluster(kind, name(object), object.get("type").and_then(Value::as_str))
}

/// [`generated_by_cluster`], from an object's name and (top-level) `type`.
pub(crate) fn made_by_cluster(kind: &ResolvedKind, name: Option<&str>, type_: Option<&str>) -> Option<&'static str> {
    if !kind.group.is_empty() {
        return None;
    }
    match kind.kind.as_str() {
        "Secret" if type_ == Some("kubernetes.io/service-account-token") => {
            Some("service-account token secret, made by the cluster's token controller")
        }
        "ConfigMap" if name == Some("kube-root-ca.crt") => {
            Some("kube-root-ca.crt, published into every namespace by the cluster")
        }
        _ => None,
    }
}

/// The object's name.
pub fn name(object: &Value) -> Option<&str> {
    metadata_str(object, "name")
}

// Not `Value::pointer`: it allocates two strings per path segment to unescape it, and
// these run several times for every object a backup or restore handles.
fn metadata_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
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
    fn a_name_comes_from_metadata_only() {
        let object = json!({"name": "top", "metadata": {"name": "a/b~c", "namespace": "t"}});
        assert_eq!(name(&object), Some("a/b~c"));
        for odd in [
            json!({"name": "n"}),
            json!({"metadata": "n"}),
            json!({"metadata": {"name": 1}}),
            json!([]),
        ] {
            assert_eq!(name(&odd), None, "{odd}");
        }
    }

    /// Writes `object` the fast way and reads it back.
    fn written(kind: &ResolvedKind, object: &Value) -> (Listed, Option<Value>) {
        let text = serde_json::to_string(object).unwrap();
        let raw: Box<serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        let listed = write_stored(kind, &raw, &[], &mut out).unwrap();
        let back = (!out.is_empty()).then(|| serde_json::from_slice(&out).expect("what is written is JSON"));
        (listed, back)
    }

    #[test]
    fn writing_a_listed_object_undecoded_stores_what_stripping_it_would() {
        let cm = ResolvedKind::new("", "v1", "ConfigMap", "configmaps", true);
        let svc = ResolvedKind::new("", "v1", "Service", "services", true);
        let widget = ResolvedKind::new("example.com", "v1", "Widget", "widgets", true);
        let objects = [
            (
                secret_kind(),
                json!({
                    "metadata": {
                        "name": "db", "namespace": "t", "uid": "u", "resourceVersion": "1", "creationTimestamp": "x",
                        "managedFields": [{"manager": "m"}], "generation": 2, "selfLink": "/x", "deletionTimestamp": "y",
                        "deletionGracePeriodSeconds": 3, "ownerReferences": [{"uid": "o"}],
                        "labels": {"a.b/c": "d"}, "annotations": {"quote\"d": "line\nbreak \u{1F600} ü", "empty": ""}
                    },
                    "type": "Opaque", "data": {"k": "AAEC/w==", "tab\tkey": ""}, "immutable": true, "status": {"x": 1}
                }),
            ),
            (
                cm.clone(),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dotted.name-1"}, "data": {}}),
            ),
            (cm.clone(), json!({"metadata": {}, "binaryData": {"b": "AA=="}})),
            (
                widget,
                json!({"metadata": {"name": "w", "finalizers": ["f"]}, "spec": {"n": 1.5, "list": [null, true]}}),
            ),
            (
                svc,
                json!({"metadata": {"name": "s", "uid": "u"}, "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}}),
            ),
        ];
        for (kind, object) in objects {
            let mut stripped = object.clone();
            strip_server_set_fields(&mut stripped, &kind);
            let (listed, back) = written(&kind, &object);
            assert_eq!(listed, Listed::Written(name(&object).unwrap_or_default().to_string()));
            assert_eq!(back, Some(stripped), "{object}");
        }
    }

    #[test]
    fn writing_a_listed_object_leaves_out_what_the_cluster_makes() {
        let token = json!({"metadata": {"name": "default-token-x"}, "type": "kubernetes.io/service-account-token"});
        let root_ca = json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {}});
        let cm = ResolvedKind::new("", "v1", "ConfigMap", "configmaps", true);
        for (kind, object) in [(secret_kind(), token), (cm, root_ca)] {
            let (listed, back) = written(&kind, &object);
            assert_eq!(
                listed,
                Listed::Skipped(
                    name(&object).unwrap().to_string(),
                    generated_by_cluster(&kind, &object).unwrap().to_string()
                )
            );
            assert_eq!(back, None, "nothing is written for it");
        }
    }

    #[test]
    fn writing_a_listed_object_leaves_out_what_a_backed_up_controller_makes_and_what_is_labelled_out() {
        let revisions = ResolvedKind::new("apps", "v1", "ControllerRevision", "controllerrevisions", true);
        let sets = ResolvedKind::new("apps", "v1", "StatefulSet", "statefulsets", true);
        let owned = json!({"metadata": {"name": "db-6d4b", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u", "controller": true}]}});
        let text = serde_json::to_string(&owned).unwrap();
        let raw: Box<serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        let listed = write_stored(&revisions, &raw, &[revisions.clone(), sets], &mut out).unwrap();
        assert!(matches!(listed, Listed::Skipped(ref n, ref why) if n == "db-6d4b" && why.contains("StatefulSet db")));
        assert!(out.is_empty());
        // Without its owner's kind in the backup, it is stored, its reference stripped.
        let (listed, back) = written(&revisions, &owned);
        assert_eq!(listed, Listed::Written("db-6d4b".into()));
        assert_eq!(back.unwrap()["metadata"], json!({"name": "db-6d4b"}));

        let cm = ResolvedKind::new("", "v1", "ConfigMap", "configmaps", true);
        let excluded = json!({"metadata": {"name": "scratch", "labels": {"lifeboat.io/exclude": "true"}}});
        assert_eq!(
            written(&cm, &excluded).0,
            Listed::Skipped("scratch".into(), "labelled lifeboat.io/exclude=true".into())
        );
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
