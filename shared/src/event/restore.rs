//! The restore event: which backup to read, what of it to restore, and where to.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Defaults, InvalidField, check_kinds, check_name, check_namespace, cluster_role, invalid, or_default, parse, rule_of,
};
use crate::eks::ClusterRole;
use crate::selector::LabelSelector;
use crate::{Error, Result};

/// What restore does with an object that already exists in the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Existing {
    /// Leave it as it is.
    #[default]
    Skip,
    /// Replace it with the backed-up object.
    Overwrite,
}

/// Which backup a restore reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BackupSelector {
    /// The newest backup whose manifest says it completed.
    Latest,
    /// One run, by its path `YYYY/MM/DD/HHmmss`.
    Run(String),
}

impl std::fmt::Display for BackupSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupSelector::Latest => f.write_str("latest"),
            BackupSelector::Run(path) => f.write_str(path),
        }
    }
}

/// Where a restore reads from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    /// Whose backups; defaults to the event's infrastructure.
    #[serde(default)]
    pub infrastructure: Option<String>,
    /// `latest` (the default) or a run path.
    #[serde(default)]
    pub backup: Option<String>,
}

/// The restore event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreEvent {
    /// The infrastructure restored into.
    pub infrastructure: String,
    /// The cluster restored into.
    pub cluster: String,
    /// The cluster's region; defaults to the function's.
    #[serde(default)]
    pub region: Option<String>,
    /// The backup bucket; defaults to the function's.
    #[serde(default)]
    pub bucket: Option<String>,
    /// A role to assume before reaching the cluster (a cluster in another account).
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The external ID the role's trust policy asks for.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Which backup to read.
    #[serde(default)]
    pub source: Option<Source>,
    /// Only these tenants (by their name in the backup).
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// Only these kinds (`Kind`, or `Kind.group`). Cluster-scoped kinds are restored only
    /// when named here.
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// Only objects with these names.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// Only objects whose labels this selector matches (`app=wordpress,tier!=cache`).
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Backed-up namespace to the namespace restored into.
    #[serde(default)]
    pub namespace_mapping: BTreeMap<String, String>,
    /// What to do with objects that already exist.
    #[serde(default)]
    pub existing: Existing,
    /// Report what would happen, each write checked by the cluster, and keep nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A restore event with its defaults filled in and its rules checked.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The infrastructure restored into.
    pub infrastructure: String,
    /// The cluster restored into.
    pub cluster: String,
    /// The cluster's region.
    pub region: String,
    /// The backup bucket.
    pub bucket: String,
    /// The role assumed to reach the cluster, if any.
    pub role: Option<ClusterRole>,
    /// Whose backups are read.
    pub source_infrastructure: String,
    /// Which backup.
    pub backup: BackupSelector,
    /// Tenant filter; `None` for all.
    pub tenants: Option<Vec<String>>,
    /// Kind filter; `None` for every namespaced kind.
    pub kinds: Option<Vec<String>>,
    /// Name filter; `None` for all.
    pub names: Option<Vec<String>>,
    /// Label filter; `None` for all.
    pub label_selector: Option<LabelSelector>,
    /// Namespace mapping.
    pub namespace_mapping: BTreeMap<String, String>,
    /// What to do with existing objects.
    pub existing: Existing,
    /// Whether to send writes as server-side dry runs, which the cluster keeps none of.
    pub dry_run: bool,
}

impl RestoreRequest {
    /// Parses and validates a restore event.
    pub fn from_event(event: Value, defaults: &Defaults) -> Result<Self> {
        let event: RestoreEvent = parse(event)?;
        check_name("infrastructure", &event.infrastructure)?;
        check_name("cluster", &event.cluster)?;
        let source = event.source.unwrap_or(Source {
            infrastructure: None,
            backup: None,
        });
        let source_infrastructure = source.infrastructure.unwrap_or_else(|| event.infrastructure.clone());
        check_name("source.infrastructure", &source_infrastructure)?;
        let backup = match source.backup.as_deref() {
            None | Some("latest") => BackupSelector::Latest,
            Some(path) if crate::layout::is_run_path(path) => BackupSelector::Run(path.to_string()),
            Some(other) => return Err(invalid("source.backup", other)),
        };
        if let Some(tenants) = &event.tenants {
            tenants.iter().try_for_each(|t| check_namespace("tenants", t))?;
        }
        let mut targets = BTreeSet::new();
        for (from, to) in &event.namespace_mapping {
            check_namespace("namespace_mapping", from)?;
            check_namespace("namespace_mapping", to)?;
            if !targets.insert(to) {
                return Err(Error::InvalidEvent(InvalidField {
                    field: "namespace_mapping".into(),
                    rule: rule_of("namespace_mapping").unwrap_or_default().into(),
                    got: Some(format!("two namespaces mapped to {to:?}")),
                }));
            }
        }
        check_kinds(&event.kinds)?;
        if let Some(names) = &event.names
            && (names.is_empty() || names.iter().any(String::is_empty))
        {
            return Err(Error::InvalidEvent(InvalidField::new(
                "names",
                rule_of("names").unwrap_or_default(),
                names,
            )));
        }
        let label_selector = match &event.label_selector {
            Some(text) => Some(LabelSelector::parse(text).map_err(|_| invalid("label_selector", text))?),
            None => None,
        };
        let request = Self {
            region: or_default("region", event.region, &defaults.region, "AWS_REGION")?,
            bucket: or_default("bucket", event.bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?,
            role: cluster_role(event.role_arn, event.external_id, &defaults.allowed)?,
            infrastructure: event.infrastructure,
            cluster: event.cluster,
            source_infrastructure,
            backup,
            tenants: event.tenants,
            kinds: event.kinds,
            names: event.names,
            label_selector,
            namespace_mapping: event.namespace_mapping,
            existing: event.existing,
            dry_run: event.dry_run,
        };
        // The source infrastructure is not checked: backups outlive the infrastructures
        // that wrote them, and the bucket they are read from is.
        defaults.check_serves(
            &request.infrastructure,
            &request.cluster,
            &request.region,
            &request.bucket,
        )?;
        Ok(request)
    }

    /// The namespace a backed-up namespace is restored into.
    pub fn target_namespace<'a>(&'a self, namespace: &'a str) -> &'a str {
        self.namespace_mapping
            .get(namespace)
            .map(String::as_str)
            .unwrap_or(namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testing::{defaults, plain};
    use serde_json::json;

    fn refusal(event: Value) -> String {
        plain(RestoreRequest::from_event(event, &defaults()).unwrap_err())
    }

    #[test]
    fn a_misspelt_field_is_refused_rather_than_ignored() {
        let e = json!({ "infrastructure": "prod", "cluster": "c", "tenant": ["a"], "source": {"backup": "latest"} });
        let refused = refusal(e);
        assert!(
            refused.starts_with("tenant: unknown field `tenant`, expected one of"),
            "{refused}"
        );
    }

    #[test]
    fn restore_defaults_to_latest_skip_and_a_real_run() {
        let r = RestoreRequest::from_event(json!({ "infrastructure": "prod", "cluster": "c" }), &defaults()).unwrap();
        assert_eq!(
            (r.backup, r.existing, r.dry_run, r.source_infrastructure.as_str()),
            (BackupSelector::Latest, Existing::Skip, false, "prod")
        );
    }

    #[test]
    fn restore_names_a_run_by_its_path_only() {
        let ok = json!({ "infrastructure": "p", "cluster": "c", "source": { "backup": "2026/11/22/130000" } });
        assert_eq!(
            RestoreRequest::from_event(ok, &defaults()).unwrap().backup,
            BackupSelector::Run("2026/11/22/130000".into())
        );
        let bad = json!({ "infrastructure": "p", "cluster": "c", "source": { "backup": "yesterday" } });
        assert_eq!(
            refusal(bad),
            "source.backup must be \"latest\" or a run path YYYY/MM/DD/HHmmss such as 2026/11/22/130000; got \"yesterday\""
        );
    }

    #[test]
    fn a_role_to_assume_must_be_an_iam_role_arn() {
        let with = |role: Value| {
            let mut e = json!({ "infrastructure": "p", "cluster": "c" });
            e.as_object_mut().unwrap().extend(role.as_object().unwrap().clone());
            RestoreRequest::from_event(e, &defaults())
        };
        let ok =
            with(json!({ "role_arn": "arn:aws:iam::210987654321:role/lifeboat", "external_id": "fleet-7" })).unwrap();
        assert_eq!(ok.role.unwrap().external_id.as_deref(), Some("fleet-7"));
        let user = plain(with(json!({ "role_arn": "arn:aws:iam::1:user/x" })).unwrap_err());
        assert!(user.starts_with("role_arn must be an IAM role ARN"), "{user}");
        let alone = plain(with(json!({ "external_id": "fleet-7" })).unwrap_err());
        assert!(alone.starts_with("external_id is given without role_arn"), "{alone}");
    }

    #[test]
    fn names_that_would_escape_the_layout_are_refused_each_with_its_rule() {
        for infra in ["", "a/b", "..", "x y"] {
            let e = json!({ "infrastructure": infra, "cluster": "c" });
            assert!(refusal(e).starts_with("infrastructure must be 1 to 100"), "{infra}");
        }
        let e = json!({ "infrastructure": "p", "cluster": "c", "namespace_mapping": { "a": "B" } });
        assert!(refusal(e).starts_with("namespace_mapping must map"));
        let e = json!({ "infrastructure": "p", "cluster": "c", "namespace_mapping": { "a": "x", "b": "x" } });
        assert_eq!(
            refusal(e),
            "namespace_mapping must map backed-up namespace names to namespace names restored into, one to one; \
             got two namespaces mapped to \"x\""
        );
        let e = json!({ "infrastructure": "p", "cluster": "c", "kinds": [] });
        assert!(refusal(e).starts_with("kinds must be a non-empty list"));
        let e = json!({ "infrastructure": "p", "cluster": "c", "existing": "replace" });
        assert!(refusal(e).starts_with("existing must be \"skip\" or \"overwrite\""));
    }
}
