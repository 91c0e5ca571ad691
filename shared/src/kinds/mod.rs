//! Kind names, as the setting spells them, resolved through the cluster's API discovery
//! to the group, version, plural and scope that requests need: for a backup, from a name
//! (`Ingress`, or `Ingress.networking.k8s.io` to pick a group; see [`resolve`]); for a
//! restore, from the exact group, version and kind a backup lists (see [`served`]).

mod resolve;
mod served;

pub use resolve::KindResolver;
pub use served::ServedKinds;

use serde::{Deserialize, Serialize};

/// Why kinds could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum KindsError {
    /// The cluster serves no resource of this kind.
    #[error(
        "the cluster '{cluster}' serves no kind named '{kind}'; check the spelling (Kubernetes spells kinds like \"ConfigMap\") \
         and, for a custom resource, that its CustomResourceDefinition is installed"
    )]
    Unknown {
        /// The kind asked for.
        kind: String,
        /// The cluster asked.
        cluster: String,
    },
    /// The kind exists but cannot be listed, so it cannot be backed up.
    #[error(
        "the kind '{kind}' cannot be listed on cluster '{cluster}', so it cannot be backed up; remove it from K8sResourceKinds"
    )]
    NotListable {
        /// The kind asked for.
        kind: String,
        /// The cluster asked.
        cluster: String,
    },
    /// The kind was not found, and some of the cluster's API groups did not answer.
    #[error(
        "the cluster '{cluster}' serves no kind named '{kind}' among the API groups that answered; these did not: \
         {groups}. Check them (an aggregated API whose backend is down, say), or name the kind's group as Kind.group"
    )]
    Unanswered {
        /// The kind asked for.
        kind: String,
        /// The cluster asked.
        cluster: String,
        /// The group versions that failed.
        groups: String,
    },
    /// Discovery itself failed.
    #[error(
        "API discovery on cluster '{cluster}' failed: {source}; check that the function may reach the cluster and list its APIs"
    )]
    Discovery {
        /// The cluster asked.
        cluster: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// A kind as a setting or a request names it: `Kind`, or `Kind.group` to pick a group;
/// `None` when it is neither.
pub fn split_kind_name(name: &str) -> Option<(&str, Option<&str>)> {
    let (kind, group) = match name.split_once('.') {
        Some((kind, group)) => (kind, Some(group)),
        None => (name, None),
    };
    let kind_ok =
        kind.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && kind.chars().all(|c| c.is_ascii_alphanumeric());
    let group_ok = group.is_none_or(crate::names::is_dns_subdomain);
    (kind_ok && group_ok).then_some((kind, group))
}

/// A kind with everything a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResolvedKind {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// The kind's name.
    pub kind: String,
    /// The resource's plural, as in its URL.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

impl ResolvedKind {
    /// A kind from its parts.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }

    /// The core Namespace kind, which every backup stores for each tenant.
    pub fn namespace() -> Self {
        Self::new("", "v1", "Namespace", "namespaces", false)
    }

    /// `v1` or `group/version`, as objects carry it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The folder name of this kind in a backup: the plural, qualified by a non-core group.
    pub fn resource_dir(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// Whether `name` (`Kind` or `Kind.group`) names the kind `kind` of `group` ("" for core).
pub(crate) fn names_kind(name: &str, kind: &str, group: &str) -> bool {
    match split_kind_name(name) {
        Some((k, None)) => k == kind,
        Some((k, Some(g))) => k == kind && g == group,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_grouped_kinds_name_their_version_and_folder() {
        let secret = ResolvedKind::new("", "v1", "Secret", "secrets", true);
        let deploy = ResolvedKind::new("apps", "v1", "Deployment", "deployments", true);
        assert_eq!(
            (secret.api_version(), secret.resource_dir()),
            ("v1".to_string(), "secrets".to_string())
        );
        assert_eq!(
            (deploy.api_version(), deploy.resource_dir()),
            ("apps/v1".to_string(), "deployments.apps".to_string())
        );
    }

    #[test]
    fn a_kind_is_named_alone_or_with_its_group() {
        assert_eq!(split_kind_name("Ingress"), Some(("Ingress", None)));
        assert_eq!(
            split_kind_name("Ingress.networking.k8s.io"),
            Some(("Ingress", Some("networking.k8s.io")))
        );
        for bad in ["", "ingress.", "In-gress", ".apps", "Ingress.Networking", "Ingress..x"] {
            assert_eq!(split_kind_name(bad), None, "{bad}");
        }
        let ingress = |name| names_kind(name, "Ingress", "networking.k8s.io");
        assert!(ingress("Ingress") && ingress("Ingress.networking.k8s.io"));
        assert!(!ingress("Ingress.extensions") && !ingress("Secret") && !ingress("Ingress."));
        assert!(names_kind("Secret", "Secret", "") && !names_kind("Secret.apps", "Secret", ""));
    }
}
