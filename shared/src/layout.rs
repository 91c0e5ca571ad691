//! Where a backup run lives in the bucket: the layout operators already browse.
//!
//! ```text
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/namespaces/<tenant>/<resource>.json
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/cluster/<resource>.json
//! <YYYY>/<MM>/<DD>/<HHmmss>/infra/<infrastructure>/k8s/cluster/namespaces.json  (the tenants' Namespaces)
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

    /// The Namespace objects of the tenants backed up, one `List`. Namespaces are
    /// cluster-scoped, and one file for all of them costs one write, not one per tenant.
    pub fn namespaces_key(&self) -> String {
        self.kind_key(&ResolvedKind::namespace(), None)
    }

    /// Every object of a resolved kind in one tenant (or, for `None`, of a cluster-scoped
    /// kind), as one `List`: one write per tenant and kind however many objects it holds.
    pub fn kind_key(&self, kind: &ResolvedKind, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("{}namespaces/{ns}/{}.json", self.prefix, kind.resource_dir()),
            None => format!("{}cluster/{}.json", self.prefix, kind.resource_dir()),
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
            l.namespaces_key(),
            "2026/11/22/150005/infra/prod/k8s/cluster/namespaces.json"
        );
    }

    #[test]
    fn each_kind_of_a_tenant_is_one_file_under_its_namespace_or_the_cluster_folder() {
        let l = RunLayout::for_run_path("2026/11/22/130000", "prod");
        let secret = ResolvedKind::new("", "v1", "Secret", "secrets", true);
        let role = ResolvedKind::new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false);
        assert_eq!(
            l.kind_key(&secret, Some("billing")),
            "2026/11/22/130000/infra/prod/k8s/namespaces/billing/secrets.json"
        );
        assert_eq!(
            l.kind_key(&role, None),
            "2026/11/22/130000/infra/prod/k8s/cluster/clusterroles.rbac.authorization.k8s.io.json"
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
