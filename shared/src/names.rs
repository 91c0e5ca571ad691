//! Kubernetes names, checked before they reach a URL, and the URLs built from them.
//!
//! A restore reads names and namespaces from a bucket it does not trust. kube builds a
//! request's path by pasting the name in as it is, so a name such as
//! `../../clusterroles/x` would address another resource altogether. Every name from a
//! backup is therefore checked against the rule the API server applies to its kind and,
//! on top of that, percent-encoded as one path segment.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::kinds::ResolvedKind;

/// Bytes that may not stand bare in one path segment: everything RFC 3986 does not
/// allow there, and `/`, `%`, `?` and `#`, which would end or change the segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {name:?} is not a valid name: {rule}")]
pub struct InvalidName {
    /// What the name is of (`the namespace`, `the Secret`).
    pub what: String,
    /// The name as found.
    pub name: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

const LABEL_RULE: &str =
    "a namespace name is 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit";
const SUBDOMAIN_RULE: &str = "1 to 253 lowercase letters, digits, '-' and '.', each dot-separated part starting and \
                              ending with a letter or digit";
const SEGMENT_RULE: &str = "1 to 253 characters, not '.' or '..', without '/' or '%'";

/// An RFC 1123 label, as namespaces are named.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// An RFC 1123 subdomain, as most built-in kinds name their objects.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A name the API server accepts as one path segment, its rule for kinds without a
/// stricter one (RBAC objects, custom resources).
pub fn is_path_segment_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name != "." && name != ".." && !name.contains(['/', '%'])
}

/// Checks a namespace name.
pub fn check_namespace(name: &str) -> Result<(), InvalidName> {
    if is_dns_label(name) {
        Ok(())
    } else {
        Err(InvalidName {
            what: "the namespace".into(),
            name: name.into(),
            rule: LABEL_RULE,
        })
    }
}

/// Checks an object's name against the rule of its kind: a DNS label for namespaces, a
/// path segment for RBAC objects and custom resources (whose names may hold `:`), and a
/// DNS subdomain for every other kind of the built-in groups.
pub fn check_object_name(kind: &ResolvedKind, name: &str) -> Result<(), InvalidName> {
    if kind.group.is_empty() && kind.kind == "Namespace" {
        return check_namespace(name);
    }
    let (ok, rule) = if uses_subdomain_names(&kind.group) {
        (is_dns_subdomain(name), SUBDOMAIN_RULE)
    } else {
        (is_path_segment_name(name), SEGMENT_RULE)
    };
    if ok {
        Ok(())
    } else {
        Err(InvalidName {
            what: format!("the {}", kind.kind),
            name: name.into(),
            rule,
        })
    }
}

/// Built-in groups whose kinds are named as DNS subdomains. RBAC is not among them: its
/// objects are named as path segments (`system:controller:deployment-controller`).
fn uses_subdomain_names(group: &str) -> bool {
    group.is_empty()
        || matches!(
            group,
            "apps"
                | "batch"
                | "autoscaling"
                | "policy"
                | "networking.k8s.io"
                | "storage.k8s.io"
                | "scheduling.k8s.io"
                | "apiextensions.k8s.io"
                | "extensions"
                | "discovery.k8s.io"
                | "coordination.k8s.io"
                | "node.k8s.io"
        )
}

/// One path segment, percent-encoded.
pub fn segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// The URL path of a kind's collection, in `namespace` when the kind is namespaced:
/// `/api/v1/namespaces/t/secrets`, `/apis/rbac.authorization.k8s.io/v1/clusterroles`.
pub fn collection_path(kind: &ResolvedKind, namespace: Option<&str>) -> String {
    let base = if kind.group.is_empty() {
        format!("/api/{}", segment(&kind.version))
    } else {
        format!("/apis/{}/{}", segment(&kind.group), segment(&kind.version))
    };
    match namespace {
        Some(ns) if kind.namespaced => format!("{base}/namespaces/{}/{}", segment(ns), segment(&kind.plural)),
        _ => format!("{base}/{}", segment(&kind.plural)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ResolvedKind {
        ResolvedKind::new("", "v1", "Secret", "secrets", true)
    }

    fn cluster_role() -> ResolvedKind {
        ResolvedKind::new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false)
    }

    #[test]
    fn a_name_that_would_climb_out_of_its_collection_is_refused_for_every_kind() {
        let widget = ResolvedKind::new("example.com", "v1", "Widget", "widgets", true);
        for (kind, rule) in [
            (secret(), SUBDOMAIN_RULE),
            (cluster_role(), SEGMENT_RULE),
            (widget, SEGMENT_RULE),
            (ResolvedKind::namespace(), LABEL_RULE),
        ] {
            for name in ["../../clusterroles/x", "..", ".", "a/b", "a%2Fb", ""] {
                let refused = check_object_name(&kind, name).unwrap_err();
                assert_eq!(
                    (refused.name.as_str(), refused.rule),
                    (name, rule),
                    "{} {name:?}",
                    kind.kind
                );
            }
        }
    }

    #[test]
    fn each_kind_is_held_to_its_own_rule() {
        let rule_broken = |kind: &ResolvedKind, name: &str| check_object_name(kind, name).map_err(|e| e.rule);
        assert_eq!(rule_broken(&secret(), "db.credentials.prod"), Ok(()));
        assert_eq!(rule_broken(&secret(), "Db"), Err(SUBDOMAIN_RULE));
        assert_eq!(rule_broken(&secret(), "system:x"), Err(SUBDOMAIN_RULE));
        assert_eq!(rule_broken(&cluster_role(), "system:aggregate-to-admin"), Ok(()));
        assert_eq!(rule_broken(&ResolvedKind::namespace(), "billing-prod"), Ok(()));
        assert_eq!(rule_broken(&ResolvedKind::namespace(), "billing.prod"), Err(LABEL_RULE));
        assert_eq!(rule_broken(&secret(), &"a".repeat(254)), Err(SUBDOMAIN_RULE));
        assert_eq!(
            check_object_name(&secret(), "Db").unwrap_err().what,
            "the Secret",
            "the refusal names the kind"
        );
        let refused = check_namespace("-bad").unwrap_err().to_string();
        assert!(refused.contains("\"-bad\"") && refused.contains("1 to 63"), "{refused}");
    }

    #[test]
    fn paths_are_built_from_encoded_segments() {
        assert_eq!(
            collection_path(&secret(), Some("billing")),
            "/api/v1/namespaces/billing/secrets"
        );
        assert_eq!(
            collection_path(&cluster_role(), Some("billing")),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles"
        );
        assert_eq!(segment("system:a b/../c%"), "system:a%20b%2F..%2Fc%25");
    }
}
