//! What changed between two versions of one object, field by field: the paths of the
//! fields added, removed or changed, with their values where the kind's values may be
//! shown, and only keyed fingerprints where they may not (every field of a Secret, and
//! of a ConfigMap when asked).

use serde::Serialize;
use serde_json::Value;

use super::fingerprint::Fingerprints;

/// A value longer than this (as JSON) is not shown in an answer, only said to differ:
/// answers stay readable and within Lambda's response size.
const MAX_SHOWN: usize = 1024;

/// How a field changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldChangeKind {
    /// Present only in the newer version.
    Added,
    /// Present only in the older version.
    Removed,
    /// Present in both, with different values.
    Changed,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field, as `spec.template.spec.containers[0].image` or
    /// `metadata.labels["app.kubernetes.io/name"]`.
    pub path: String,
    /// How it changed.
    pub change: FieldChangeKind,
    /// The older value, where it may be shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The newer value, where it may be shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The older value's keyed fingerprint, where the value is concealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_fingerprint: Option<String>,
    /// The newer value's keyed fingerprint, where the value is concealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_fingerprint: Option<String>,
    /// Whether the values are concealed (Secrets; ConfigMaps when asked).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub concealed: bool,
    /// Whether a value was too long to show.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub elided: bool,
}

/// How values of one object are shown.
pub(crate) struct Showing<'f> {
    /// Whether every value is concealed.
    pub concealed: bool,
    pub fingerprints: &'f Fingerprints,
}

/// The fields that differ between `before` and `after`, in path order.
pub(crate) fn changes(before: &Value, after: &Value, showing: &Showing) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(String::new(), Some(before), Some(after), showing, &mut out);
    out
}

fn walk(path: String, before: Option<&Value>, after: Option<&Value>, showing: &Showing, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(b), Some(a)) if b == a => {}
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))).collect();
            keys.sort_unstable();
            for key in keys {
                walk(join(&path, key), b.get(key), a.get(key), showing, out);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if b.len() == a.len() => {
            for (i, (b, a)) in b.iter().zip(a).enumerate() {
                walk(format!("{path}[{i}]"), Some(b), Some(a), showing, out);
            }
        }
        (None, None) => {}
        (before, after) => out.push(field(path, before, after, showing)),
    }
}

fn field(path: String, before: Option<&Value>, after: Option<&Value>, showing: &Showing) -> FieldChange {
    let change = match (before, after) {
        (None, _) => FieldChangeKind::Added,
        (_, None) => FieldChangeKind::Removed,
        _ => FieldChangeKind::Changed,
    };
    let path = if path.is_empty() { ".".to_string() } else { path };
    if showing.concealed {
        return FieldChange {
            path,
            change,
            before: None,
            after: None,
            before_fingerprint: before.and_then(|v| showing.fingerprints.of(v)),
            after_fingerprint: after.and_then(|v| showing.fingerprints.of(v)),
            concealed: true,
            elided: false,
        };
    }
    let long = |v: Option<&Value>| v.is_some_and(|v| v.to_string().len() > MAX_SHOWN);
    let elided = long(before) || long(after);
    let shown = |v: Option<&Value>| if elided { None } else { v.cloned() };
    FieldChange {
        path,
        change,
        before: shown(before),
        after: shown(after),
        before_fingerprint: None,
        after_fingerprint: None,
        concealed: false,
        elided,
    }
}

/// `parent.key`, or `parent["key"]` for a key that is not a plain identifier.
fn join(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.into())),
    }
}

/// Whether the values of an object of `kind` are concealed.
pub(crate) fn is_concealed(kind: &str, conceal_configmaps: bool) -> bool {
    kind == "Secret" || (conceal_configmaps && kind == "ConfigMap")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shown(concealed: bool, fingerprints: &Fingerprints) -> Showing<'_> {
        Showing {
            concealed,
            fingerprints,
        }
    }

    #[test]
    fn changed_added_and_removed_fields_are_named_by_their_paths() {
        let before = json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "tier": "front"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "nginx:1.25"}]}}}
        });
        let after = json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "shop", "team": "a"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}
        });
        let off = Fingerprints::off();
        let got: Vec<(String, FieldChangeKind, Option<Value>, Option<Value>)> =
            changes(&before, &after, &shown(false, &off))
                .into_iter()
                .map(|c| (c.path, c.change, c.before, c.after))
                .collect();
        let want = vec![
            (
                "metadata.labels[\"app.kubernetes.io/name\"]".to_string(),
                FieldChangeKind::Changed,
                Some(json!("web")),
                Some(json!("shop")),
            ),
            (
                "metadata.labels.team".into(),
                FieldChangeKind::Added,
                None,
                Some(json!("a")),
            ),
            (
                "metadata.labels.tier".into(),
                FieldChangeKind::Removed,
                Some(json!("front")),
                None,
            ),
            (
                "spec.replicas".into(),
                FieldChangeKind::Changed,
                Some(json!(2)),
                Some(json!(3)),
            ),
            (
                "spec.template.spec.containers[0].image".into(),
                FieldChangeKind::Changed,
                Some(json!("nginx:1.25")),
                Some(json!("nginx:1.27")),
            ),
        ];
        assert_eq!(got, want);
        assert!(changes(&before, &before, &shown(false, &off)).is_empty());
    }

    #[test]
    fn a_concealed_value_is_never_shown_only_fingerprinted() {
        let keyed = Fingerprints::with_key(b"k".to_vec());
        let before = json!({"data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        let after = json!({"data": {"password": "aHVudGVyMw==", "user": "YWRtaW4="}});
        let found = changes(&before, &after, &shown(true, &keyed));
        assert_eq!(found.len(), 1);
        let c = &found[0];
        assert_eq!(
            (c.path.as_str(), c.change, c.concealed),
            ("data.password", FieldChangeKind::Changed, true)
        );
        assert!(c.before.is_none() && c.after.is_none());
        assert_eq!(c.before_fingerprint, keyed.of(&json!("aHVudGVyMg==")));
        assert_ne!(c.before_fingerprint, c.after_fingerprint);
        let text = serde_json::to_string(&found).unwrap();
        assert!(!text.contains("aHVudGVyMg") && !text.contains("aHVudGVyMw"), "{text}");
    }

    #[test]
    fn arrays_of_another_length_and_long_values_are_one_change() {
        let off = Fingerprints::off();
        let before = json!({"ports": [1, 2], "blob": "x".repeat(MAX_SHOWN)});
        let after = json!({"ports": [1, 2, 3], "blob": "y".repeat(MAX_SHOWN)});
        let found = changes(&before, &after, &shown(false, &off));
        assert_eq!(found[0].path, "blob");
        assert!(found[0].elided && found[0].before.is_none());
        assert_eq!(found[1].path, "ports");
        assert_eq!(found[1].after, Some(json!([1, 2, 3])));
    }

    #[test]
    fn secrets_are_always_concealed_configmaps_when_asked() {
        assert!(is_concealed("Secret", false));
        assert!(!is_concealed("ConfigMap", false));
        assert!(is_concealed("ConfigMap", true));
        assert!(!is_concealed("Deployment", true));
    }
}
