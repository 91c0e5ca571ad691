//! What a stored object is: the object as the API server returned it, less the fields
//! the server sets, so that it is a manifest `kubectl apply -f` and a fresh `create`
//! both accept in any cluster. Also which objects the cluster makes itself.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

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
    made_by_cluster(kind, name(object), object.get("type").and_then(Value::as_str))
}

/// [`generated_by_cluster`], from an object's name and (top-level) `type`.
fn made_by_cluster(kind: &ResolvedKind, name: Option<&str>, type_: Option<&str>) -> Option<&'static str> {
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

/// What became of one listed object handed to [`write_stored`].
#[derive(Debug, PartialEq, Eq)]
pub enum Listed {
    /// Written, as the object of this name.
    Written(String),
    /// Left out, as the cluster makes it itself (see [`generated_by_cluster`]).
    Skipped(String, &'static str),
}

/// Writes one object of a LIST response to `out` as it is stored: what
/// [`strip_server_set_fields`] makes of it, without decoding it. A backup handles every
/// object of a cluster once, and decoding each into a [`Value`] (a map and a string per
/// field, all dropped again at once) was most of its own CPU time; here only the object's
/// top level and its metadata are split into fields, and every other value is copied as
/// the API server sent it. A kind whose content must change (a Service's cluster IPs) is
/// decoded as before.
pub fn write_stored(kind: &ResolvedKind, raw: &RawValue, out: &mut Vec<u8>) -> serde_json::Result<Listed> {
    if kind.group.is_empty() && kind.kind == "Service" {
        let mut object: Value = serde_json::from_str(raw.get())?;
        let name = name(&object).unwrap_or_default().to_string();
        strip_server_set_fields(&mut object, kind);
        serde_json::to_writer(&mut *out, &object)?;
        return Ok(Listed::Written(name));
    }
    let Fields(fields) = serde_json::from_str(raw.get())?;
    let field = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    let metadata = match field("metadata") {
        Some(raw) => serde_json::from_str::<Fields>(raw.get())?.0,
        None => Vec::new(),
    };
    let name = match metadata.iter().find(|(k, _)| k == "name") {
        Some((_, raw)) => serde_json::from_str::<String>(raw.get())?,
        None => String::new(),
    };
    let type_ = field("type").and_then(|raw| serde_json::from_str::<Cow<str>>(raw.get()).ok());
    if let Some(why) = made_by_cluster(kind, Some(&name), type_.as_deref()) {
        return Ok(Listed::Skipped(name, why));
    }
    out.extend_from_slice(b"{\"apiVersion\":");
    serde_json::to_writer(&mut *out, &kind.api_version())?;
    out.extend_from_slice(b",\"kind\":");
    serde_json::to_writer(&mut *out, &kind.kind)?;
    for (key, value) in &fields {
        match key.as_ref() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                out.extend_from_slice(b",\"metadata\":{");
                let kept = metadata
                    .iter()
                    .filter(|(k, _)| !SERVER_SET_METADATA.contains(&k.as_ref()));
                for (i, (key, value)) in kept.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_field(out, key, value)?;
                }
                out.push(b'}');
            }
            _ => {
                out.push(b',');
                write_field(out, key, value)?;
            }
        }
    }
    out.push(b'}');
    Ok(Listed::Written(name))
}

fn write_field(out: &mut Vec<u8>, key: &str, value: &RawValue) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    out.extend_from_slice(value.get().as_bytes());
    Ok(())
}

/// A JSON object's fields in their order, their values left as the text they were.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    fields.push((key, map.next_value()?));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A field name, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The object's name.
pub fn name(object: &Value) -> Option<&str> {
    metadata_str(object, "name")
}

/// The object's namespace.
pub fn namespace(object: &Value) -> Option<&str> {
    metadata_str(object, "namespace")
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
    fn name_and_namespace_come_from_metadata_only() {
        let object = json!({"name": "top", "metadata": {"name": "a/b~c", "namespace": "t"}});
        assert_eq!(name(&object), Some("a/b~c"));
        assert_eq!(namespace(&object), Some("t"));
        let cluster_scoped = json!({"metadata": {"name": "n"}});
        assert_eq!(namespace(&cluster_scoped), None);
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
        let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        let listed = write_stored(kind, &raw, &mut out).unwrap();
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
                    generated_by_cluster(&kind, &object).unwrap()
                )
            );
            assert_eq!(back, None, "nothing is written for it");
        }
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
