//! The backup and restore events, as the scheduler or an operator sends them, and their
//! validation. A bad event is refused here, before any cluster or bucket is touched.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::eks::ClusterRole;
use crate::settings::ResourceBackupConfig;
use crate::{Error, Result};

/// What the function's environment supplies when an event leaves it out.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// The function's own region (`AWS_REGION`).
    pub region: Option<String>,
    /// The regional backup bucket (`LIFEBOAT_BUCKET`).
    pub bucket: Option<String>,
}

impl Defaults {
    /// `AWS_REGION` and `LIFEBOAT_BUCKET` from the function's environment.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Self {
            region: var("AWS_REGION"),
            bucket: var("LIFEBOAT_BUCKET"),
        }
    }
}

/// What the Lambda runtime says about one invocation, beside its event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The function's own ARN, without a version or alias qualifier: the audit trail's
    /// selectors name functions that way. `None` when not run by Lambda.
    pub function_arn: Option<String>,
    /// When Lambda will stop the function; `None` for no deadline.
    pub deadline: Option<DateTime<Utc>>,
}

impl Invocation {
    /// From the Lambda context: the invoked ARN and the deadline in milliseconds since
    /// the epoch. A deadline already past cannot be one (the runtime emulator sends a
    /// relative value), so the run goes on without it.
    pub fn from_context(invoked_function_arn: &str, deadline_ms: u64, now: DateTime<Utc>) -> Self {
        // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        let parts: Vec<&str> = invoked_function_arn.splitn(8, ':').collect();
        let function_arn = (parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function")
            .then(|| parts[..7].join(":"));
        Self {
            function_arn,
            deadline: DateTime::from_timestamp_millis(deadline_ms as i64).filter(|d| *d > now),
        }
    }
}

/// The backup event: a scheduled run's input, or an on-demand payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupEvent {
    /// The infrastructure's name; it names the folder its backups go to.
    pub infrastructure: String,
    /// The cluster to back up.
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
    /// The infrastructure's backup setting.
    pub settings: ResourceBackupConfig,
    /// Tenant namespaces to back up; all namespaces when absent.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// The scheduler's time for this run; a retry of the run carries the same one.
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
}

/// A backup event with its defaults filled in and its rules checked.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The infrastructure's name.
    pub infrastructure: String,
    /// The cluster to back up.
    pub cluster: String,
    /// The cluster's region.
    pub region: String,
    /// The backup bucket.
    pub bucket: String,
    /// The role assumed to reach the cluster, if any.
    pub role: Option<ClusterRole>,
    /// The validated setting.
    pub settings: ResourceBackupConfig,
    /// Tenant namespaces to back up; `None` for all.
    pub tenants: Option<Vec<String>>,
    /// The run's time; it fixes the run's folder.
    pub run_time: DateTime<Utc>,
}

impl BackupRequest {
    /// Parses and validates a backup event; `now` is the run time of an on-demand run.
    pub fn from_event(event: Value, defaults: &Defaults, now: DateTime<Utc>) -> Result<Self> {
        let event: BackupEvent = parse(event)?;
        check_name("infrastructure", &event.infrastructure)?;
        check_name("cluster", &event.cluster)?;
        if let Some(tenants) = &event.tenants {
            tenants.iter().try_for_each(|t| check_namespace("tenants", t))?;
        }
        Ok(Self {
            region: or_default("region", event.region, &defaults.region, "AWS_REGION")?,
            bucket: or_default("bucket", event.bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?,
            role: cluster_role(event.role_arn, event.external_id)?,
            infrastructure: event.infrastructure,
            cluster: event.cluster,
            settings: event.settings,
            tenants: event.tenants,
            run_time: event.scheduled_time.unwrap_or(now),
        })
    }
}

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
    /// The newest backup with a manifest.
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
pub struct Source {
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
pub struct RestoreEvent {
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
    /// Only these kinds.
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// Only objects with these names.
    #[serde(default)]
    pub names: Option<Vec<String>>,
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
    /// Kind filter; `None` for all.
    pub kinds: Option<Vec<String>>,
    /// Name filter; `None` for all.
    pub names: Option<Vec<String>>,
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
            Some(other) => {
                return Err(Error::InvalidEvent(format!(
                    "source.backup must be \"latest\" or a run path YYYY/MM/DD/HHmmss such as 2026/11/22/130000; got {other:?}"
                )));
            }
        };
        if let Some(tenants) = &event.tenants {
            tenants.iter().try_for_each(|t| check_namespace("tenants", t))?;
        }
        let mut targets = std::collections::BTreeSet::new();
        for (from, to) in &event.namespace_mapping {
            check_namespace("namespace_mapping", from)?;
            check_namespace("namespace_mapping", to)?;
            if !targets.insert(to) {
                return Err(Error::InvalidEvent(format!(
                    "namespace_mapping sends two namespaces to '{to}'; each namespace restored into must come from one backed-up namespace"
                )));
            }
        }
        for (field, list) in [("kinds", &event.kinds), ("names", &event.names)] {
            if list
                .as_ref()
                .is_some_and(|l| l.is_empty() || l.iter().any(String::is_empty))
            {
                return Err(Error::InvalidEvent(format!(
                    "{field}, when given, must be a non-empty list of non-empty strings; leave it out to take all"
                )));
            }
        }
        Ok(Self {
            region: or_default("region", event.region, &defaults.region, "AWS_REGION")?,
            bucket: or_default("bucket", event.bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?,
            role: cluster_role(event.role_arn, event.external_id)?,
            infrastructure: event.infrastructure,
            cluster: event.cluster,
            source_infrastructure,
            backup,
            tenants: event.tenants,
            kinds: event.kinds,
            names: event.names,
            namespace_mapping: event.namespace_mapping,
            existing: event.existing,
            dry_run: event.dry_run,
        })
    }

    /// The namespace a backed-up namespace is restored into.
    pub fn target_namespace<'a>(&'a self, namespace: &'a str) -> &'a str {
        self.namespace_mapping
            .get(namespace)
            .map(String::as_str)
            .unwrap_or(namespace)
    }
}

fn cluster_role(role_arn: Option<String>, external_id: Option<String>) -> Result<Option<ClusterRole>> {
    match (role_arn, external_id) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Error::InvalidEvent(
            "external_id is given without role_arn; it belongs to the role assumed".into(),
        )),
        (Some(arn), external_id) => {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[5].starts_with("role/") {
                return Err(Error::InvalidEvent(format!(
                    "role_arn must be an IAM role ARN such as arn:aws:iam::123456789012:role/lifeboat; got {arn:?}"
                )));
            }
            if external_id.as_ref().is_some_and(|id| id.len() < 2 || id.len() > 1224) {
                return Err(Error::InvalidEvent("external_id must be 2 to 1224 characters".into()));
            }
            Ok(Some(ClusterRole { arn, external_id }))
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(event: Value) -> Result<T> {
    serde_json::from_value(event).map_err(|e| Error::InvalidEvent(e.to_string()))
}

fn or_default(field: &str, given: Option<String>, default: &Option<String>, variable: &str) -> Result<String> {
    given
        .or_else(|| default.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::InvalidEvent(format!(
                "{field} is missing: give it in the event or set {variable} in the function's environment"
            ))
        })
}

/// Names that become part of an S3 key: letters, digits, '-', '_' and '.', as
/// infrastructure and cluster names are.
fn check_name(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value != "."
        && value != ".."
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidEvent(format!(
            "{field} must be 1 to 100 letters, digits, '-', '_' or '.'; got {value:?}"
        )))
    }
}

/// Namespace names follow Kubernetes' DNS label rule.
fn check_namespace(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidEvent(format!(
            "{field} holds {value:?}, which is not a namespace name (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Defaults {
        Defaults {
            region: Some("us-east-1".into()),
            bucket: Some("b".into()),
        }
    }

    #[test]
    fn an_invocation_names_its_function_without_qualifier_and_ignores_a_past_deadline() {
        let now = Utc::now();
        let later = (now + chrono::TimeDelta::minutes(5)).timestamp_millis() as u64;
        let unqualified = "arn:aws:lambda:us-east-1:123456789012:function:lifeboat-restore";
        for arn in [
            unqualified.to_string(),
            format!("{unqualified}:7"),
            format!("{unqualified}:live"),
        ] {
            let invocation = Invocation::from_context(&arn, later, now);
            assert_eq!(invocation.function_arn.as_deref(), Some(unqualified), "{arn}");
            assert!(invocation.deadline.is_some());
        }
        let emulated = Invocation::from_context("not an arn", 3_000, now);
        assert_eq!(emulated, Invocation::default());
    }

    #[test]
    fn the_design_backup_event_parses_and_keeps_its_scheduled_time() {
        let e = json!({
            "infrastructure": "prod", "cluster": "prod-eks", "region": "us-east-1",
            "bucket": "lifeboat-backups-123456789012-us-east-1",
            "settings": { "IsEnabled": true, "IntervalInHours": "1", "K8sResourceKinds": ["Secret", "ConfigMap"] },
            "tenants": ["duploservices-billing"], "scheduled_time": "2026-11-22T13:00:00Z"
        });
        let r = BackupRequest::from_event(e, &defaults(), Utc::now()).unwrap();
        assert_eq!(r.run_time.to_rfc3339(), "2026-11-22T13:00:00+00:00");
        assert_eq!(r.bucket, "lifeboat-backups-123456789012-us-east-1");
    }

    #[test]
    fn region_and_bucket_default_from_the_environment_or_say_what_to_set() {
        let e = json!({ "infrastructure": "prod", "cluster": "c", "settings": { "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": ["Secret"] } });
        let now = Utc::now();
        let r = BackupRequest::from_event(e.clone(), &defaults(), now).unwrap();
        assert_eq!(
            (r.region.as_str(), r.bucket.as_str(), r.run_time),
            ("us-east-1", "b", now)
        );
        let err = BackupRequest::from_event(e, &Defaults::default(), now)
            .unwrap_err()
            .to_string();
        assert!(err.contains("LIFEBOAT_BUCKET") || err.contains("AWS_REGION"), "{err}");
    }

    #[test]
    fn a_misspelt_field_is_refused_rather_than_ignored() {
        let e = json!({ "infrastructure": "prod", "cluster": "c", "tenant": ["a"], "source": {"backup": "latest"} });
        let err = RestoreRequest::from_event(e, &defaults()).unwrap_err().to_string();
        assert!(err.contains("unknown field `tenant`"), "{err}");
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
        assert!(
            RestoreRequest::from_event(bad, &defaults())
                .unwrap_err()
                .to_string()
                .contains("YYYY/MM/DD/HHmmss")
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
        assert!(with(json!({ "role_arn": "arn:aws:iam::1:user/x" })).is_err());
        assert!(with(json!({ "external_id": "fleet-7" })).is_err());
    }

    #[test]
    fn names_that_would_escape_the_layout_are_refused() {
        for infra in ["", "a/b", "..", "x y"] {
            let e = json!({ "infrastructure": infra, "cluster": "c" });
            assert!(RestoreRequest::from_event(e, &defaults()).is_err(), "{infra}");
        }
        let e = json!({ "infrastructure": "p", "cluster": "c", "namespace_mapping": { "a": "B" } });
        assert!(RestoreRequest::from_event(e, &defaults()).is_err());
        let e = json!({ "infrastructure": "p", "cluster": "c", "namespace_mapping": { "a": "x", "b": "x" } });
        assert!(RestoreRequest::from_event(e, &defaults()).is_err());
    }
}
