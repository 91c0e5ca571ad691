//! Where a backup run lives in the bucket: the layout operators already browse.
//!
//! ```text
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/namespaces/<tenant>/namespace.json
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/namespaces/<tenant>/<resource>/<name>.json
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/cluster/<resource>/<name>.json
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/manifest.json
//! ```
//! `<resource>` is the plural, qualified by the group outside the core group
//! (`secrets`, `deployments.apps`), so two kinds of the same name never collide.

use chrono::{DateTime, Utc};

use crate::kinds::ResolvedKind;

/// One run's folder for one infrastructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLayout {
    run_path: String,
    prefix: String,
}

impl RunLayout {
    /// The folder of the run at `time` (UTC, to the second).
    pub fn new(time: DateTime<Utc>, infrastructure: &str) -> Self {
        Self::for_run_path(&time.format("%Y/%m/%d/%H%M%S").to_string(), infrastructure)
    }

    /// The folder of an existing run, named by its path `YYYY/MM/DD/HHmmss`.
    pub fn for_run_path(run_path: &str, infrastructure: &str) -> Self {
        Self {
            run_path: run_path.to_string(),
            prefix: format!("{run_path}/infra/{infrastructure}/k8s/"),
        }
    }

    /// `YYYY/MM/DD/HHmmss`.
    pub fn run_path(&self) -> &str {
        &self.run_path
    }

    /// Every key of the run starts with this.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The commit marker.
    pub fn manifest_key(&self) -> String {
        format!("{}manifest.json", self.prefix)
    }

    /// A tenant's own Namespace object.
    pub fn namespace_key(&self, namespace: &str) -> String {
        format!("{}namespaces/{namespace}/namespace.json", self.prefix)
    }

    /// An object of a resolved kind; `namespace` is `None` for cluster-scoped kinds.
    pub fn object_key(&self, kind: &ResolvedKind, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) => format!("{}namespaces/{ns}/{}/{name}.json", self.prefix, kind.resource_dir()),
            None => format!("{}cluster/{}/{name}.json", self.prefix, kind.resource_dir()),
        }
    }
}

/// Whether `path` has the form `YYYY/MM/DD/HHmmss` of a run.
pub fn is_run_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let widths = [4, 2, 2, 6];
    parts.len() == widths.len()
        && parts
            .iter()
            .zip(widths)
            .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_folder_is_the_utc_time_of_the_run() {
        let t = DateTime::parse_from_rfc3339("2026-11-22T13:00:05-02:00")
            .unwrap()
            .with_timezone(&Utc);
        let l = RunLayout::new(t, "prod");
        assert_eq!(l.run_path(), "2026/11/22/150005");
        assert_eq!(l.manifest_key(), "2026/11/22/150005/infra/prod/k8s/manifest.json");
        assert_eq!(
            l.namespace_key("billing"),
            "2026/11/22/150005/infra/prod/k8s/namespaces/billing/namespace.json"
        );
    }

    #[test]
    fn objects_sit_under_their_namespace_or_the_cluster_folder() {
        let l = RunLayout::for_run_path("2026/11/22/130000", "prod");
        let secret = ResolvedKind::new("", "v1", "Secret", "secrets", true);
        let role = ResolvedKind::new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false);
        assert_eq!(
            l.object_key(&secret, Some("billing"), "db"),
            "2026/11/22/130000/infra/prod/k8s/namespaces/billing/secrets/db.json"
        );
        assert_eq!(
            l.object_key(&role, None, "view"),
            "2026/11/22/130000/infra/prod/k8s/cluster/clusterroles.rbac.authorization.k8s.io/view.json"
        );
    }

    #[test]
    fn run_paths_are_recognised_by_shape() {
        assert!(is_run_path("2026/11/22/130000"));
        for bad in [
            "2026/11/22",
            "2026/11/22/1300",
            "latest",
            "2026/11/22/13000a",
            "../11/22/130000",
        ] {
            assert!(!is_run_path(bad), "{bad}");
        }
    }
}
