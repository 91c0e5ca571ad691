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
//!
//! Backups are never written over, so a retry of a run whose first attempt died before
//! its manifest cannot reuse that attempt's keys: its files go into `k8s/attempt-<n>/`
//! beside them, laid out the same way. The manifest, written once, lists the files that
//! make the backup, wherever they are.

use chrono::{DateTime, Utc};

use crate::kinds::ResolvedKind;

/// One run's folder for one infrastructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLayout {
    run_path: String,
    prefix: String,
    attempt: u32,
}

impl RunLayout {
    /// The folder of the run at `time` (UTC, to the second).
    pub fn new(time: DateTime<Utc>, infrastructure: &str) -> Self {
        Self::for_run_path(&run_path_of(time), infrastructure)
    }

    /// The folder of an existing run, named by its path `YYYY/MM/DD/HHmmss`.
    pub fn for_run_path(run_path: &str, infrastructure: &str) -> Self {
        Self {
            run_path: run_path.to_string(),
            prefix: format!("{run_path}/infra/{infrastructure}/k8s/"),
            attempt: 1,
        }
    }

    /// The same run, for the files of attempt `attempt` (the first is 1).
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt.max(1);
        self
    }

    /// Where this attempt's files go: the run's folder for the first attempt, and
    /// `attempt-<n>/` in it for a retry.
    fn files_prefix(&self) -> String {
        match self.attempt {
            1 => self.prefix.clone(),
            n => format!("{}attempt-{n}/", self.prefix),
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
        format!("{}{}", self.files_prefix(), file_key(kind, namespace))
    }

    /// Whether `key`, relative to [`Self::prefix`], is where some attempt of a run
    /// stores the objects of `kind` in `namespace` (or of a cluster-scoped kind).
    pub fn is_file_key(key: &str, kind: &ResolvedKind, namespace: Option<&str>) -> bool {
        let expected = file_key(kind, namespace);
        match key.strip_prefix("attempt-").and_then(|rest| rest.split_once('/')) {
            Some((n, rest)) => n.parse::<u32>().is_ok_and(|n| n > 1) && !n.starts_with('0') && rest == expected,
            None => key == expected,
        }
    }
}

/// A file's key relative to an attempt's folder.
fn file_key(kind: &ResolvedKind, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("namespaces/{ns}/{}.json", kind.resource_dir()),
        None => format!("cluster/{}.json", kind.resource_dir()),
    }
}

/// The run path `YYYY/MM/DD/HHmmss` of a run at `time` (UTC, to the second); paths
/// compare as their times do.
pub(crate) fn run_path_of(time: DateTime<Utc>) -> String {
    time.format("%Y/%m/%d/%H%M%S").to_string()
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
    fn a_retry_writes_its_files_beside_the_first_attempts_and_they_are_recognised_as_the_runs() {
        let secret = ResolvedKind::new("", "v1", "Secret", "secrets", true);
        let l = RunLayout::for_run_path("2026/11/22/130000", "prod").with_attempt(3);
        assert_eq!(
            l.kind_key(&secret, Some("billing")),
            "2026/11/22/130000/infra/prod/k8s/attempt-3/namespaces/billing/secrets.json"
        );
        assert_eq!(l.manifest_key(), "2026/11/22/130000/infra/prod/k8s/manifest.json");
        for ok in [
            "namespaces/billing/secrets.json",
            "attempt-3/namespaces/billing/secrets.json",
        ] {
            assert!(RunLayout::is_file_key(ok, &secret, Some("billing")), "{ok}");
        }
        for bad in [
            "namespaces/payroll/secrets.json",
            "cluster/secrets.json",
            "attempt-1/namespaces/billing/secrets.json",
            "attempt-03/namespaces/billing/secrets.json",
            "attempt-x/namespaces/billing/secrets.json",
            "../namespaces/billing/secrets.json",
            "namespaces/billing/secrets.json/../../x",
        ] {
            assert!(!RunLayout::is_file_key(bad, &secret, Some("billing")), "{bad}");
        }
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
