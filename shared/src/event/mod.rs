//! The backup and restore events, as the scheduler or an operator sends them, and their
//! validation. A bad event is refused here, before any cluster or bucket is touched,
//! with a message that names the field and its rule.

mod backup;
mod catalog;
mod drill;
mod restore;
mod retention;

pub use backup::BackupRequest;
pub use catalog::{Against, CatalogRequest, LiveCluster, Query, Range};
pub use drill::DrillRequest;
pub use restore::{BackupSelector, Existing, RestoreRequest};
pub use retention::RetentionRequest;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::allowed::Allowed;
use crate::eks::ClusterRole;
use crate::{Error, Result};

/// What the function's configuration supplies for every event: the defaults of fields
/// an event may leave out, and what the deployment serves at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// The function's own region (`AWS_REGION`).
    pub region: Option<String>,
    /// The regional backup bucket (`LIFEBOAT_BUCKET`).
    pub bucket: Option<String>,
    /// What the deployment serves; see [`crate::allowed`].
    pub allowed: Allowed,
}

impl Default for Defaults {
    /// No defaults, and everything allowed: for tools and tests that build requests
    /// themselves. The functions build theirs from [`crate::config::Config`].
    fn default() -> Self {
        Self {
            region: None,
            bucket: None,
            allowed: Allowed::any(),
        }
    }
}

impl Defaults {
    /// Checks that the deployment serves where a request would act.
    fn check_serves(&self, infrastructure: &str, cluster: &str, region: &str, bucket: &str) -> Result<()> {
        self.allowed.check("infrastructure", infrastructure)?;
        self.allowed.check("cluster", cluster)?;
        self.allowed.check("region", region)?;
        self.allowed.check("bucket", bucket)?;
        Ok(())
    }
}

/// A field of an event breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {rule}{}", got.as_ref().map(|g| format!("; got {g}")).unwrap_or_default())]
pub struct InvalidField {
    /// The field, as a path into the event (`source.backup`, `tenants[1]`).
    pub field: String,
    /// What it must hold.
    pub rule: String,
    /// What it held, or what the parser said of it.
    pub got: Option<String>,
}

impl InvalidField {
    /// `field` breaks `rule`, holding `got`.
    pub fn new(field: impl Into<String>, rule: impl Into<String>, got: impl std::fmt::Debug) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
            got: Some(format!("{got:?}")),
        }
    }
}

/// What each field of either event must hold, for refusals the parser finds (a wrong
/// type, a malformed time) as much as for those found after it.
fn rule_of(field: &str) -> Option<&'static str> {
    let field = field.split('[').next().unwrap_or(field);
    Some(match field {
        "infrastructure" | "cluster" | "source.infrastructure" | "infrastructures" => NAME_RULE,
        "region" => "must be an AWS region such as us-east-1, or left out for the function's own",
        "bucket" => {
            "must be an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-'), or left out for the function's own"
        }
        "role_arn" => "must be an IAM role ARN such as arn:aws:iam::123456789012:role/lifeboat",
        "external_id" => "must be a string of 2 to 1224 characters, given with role_arn",
        "tenants" | "exclude_tenants" => {
            "must be a list of namespace names (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)"
        }
        "scheduled_time" => {
            "must be an RFC 3339 time such as 2026-11-22T13:00:00Z, no more than 5 minutes ahead of the function's clock"
        }
        "source" => "must be an object with infrastructure and backup",
        "source.backup" => "must be \"latest\" or a run path YYYY/MM/DD/HHmmss such as 2026/11/22/130000",
        "kinds" | "names" => "must be a non-empty list of non-empty strings; leave it out to take all",
        "exclude_kinds" => "must be a list of kinds of the setting's K8sResourceKinds",
        "tenant_selector" | "label_selector" => {
            "must be a label selector: comma-separated requirements such as env=prod, tier!=cache, team, !legacy, \
             zone in (a,b)"
        }
        "namespace_mapping" => "must map backed-up namespace names to namespace names restored into, one to one",
        "existing" => "must be \"skip\" or \"overwrite\"",
        "dry_run" | "force" => "must be true or false",
        "every_days" => {
            "must be a whole number of days from 1 to 90: a drill is due when none passed in that many days"
        }
        "action" => "must be \"list\", \"describe\", \"history\" or \"diff\"",
        "from" | "to" => "must not be after to; both are RFC 3339 times such as 2026-11-22T13:00:00Z",
        "limit" => "must be a whole number of backups from 1 to 1000; leave it out for 50",
        "backup" => "must be \"latest\" or a run path YYYY/MM/DD/HHmmss such as 2026/11/22/130000",
        "against" => "must be \"live\" (the cluster as it is now) or the run path YYYY/MM/DD/HHmmss of another backup",
        "kind" => "must name a kind as Kubernetes spells it, or Kind.group",
        "namespace" => {
            "must be a namespace name (lowercase letters, digits and '-', at most 63, starting and ending with a \
             letter or digit), or left out for a cluster-scoped kind"
        }
        "name" => "must be an object name: not empty, not . or .., and without '/' or '%'",
        "verify" | "conceal_configmaps" => "must be true or false",
        "retention_days" => "must be a whole number of days from 1 to 36500",
        "keep_completed" => {
            "must be a whole number from 1 to 1000: how many of each infrastructure's newest complete backups are kept \
             whatever their age; leave it out for 3"
        }
        _ => return None,
    })
}

const NAME_RULE: &str = "must be 1 to 100 letters, digits, '-', '_' or '.' (not '.' or '..')";

/// Parses an event, naming the field that does not fit and its rule.
fn parse<T: serde::de::DeserializeOwned>(event: Value) -> Result<T> {
    serde_path_to_error::deserialize(event).map_err(|e| {
        let field = e.path().to_string();
        let detail = e.into_inner().to_string();
        let invalid = match rule_of(&field) {
            Some(rule) => InvalidField {
                field,
                rule: rule.into(),
                got: Some(detail),
            },
            // The setting's own errors name its field and rule already.
            None if field.starts_with("settings") => InvalidField {
                field: "settings:".into(),
                rule: detail,
                got: None,
            },
            // Missing and unknown fields: serde's words name the field.
            None => InvalidField {
                field: if field == "." {
                    "the event:".into()
                } else {
                    format!("{field}:")
                },
                rule: detail,
                got: None,
            },
        };
        Error::InvalidEvent(invalid)
    })
}

/// A field from the event, or the function's default for it; checked against its rule
/// and against what the deployment serves.
fn or_default(field: &'static str, given: Option<String>, default: &Option<String>, variable: &str) -> Result<String> {
    let value = given
        .or_else(|| default.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::InvalidEvent(InvalidField {
                field: field.into(),
                rule: format!("is missing: give it in the event or set {variable} in the function's environment"),
                got: None,
            })
        })?;
    let ok = match field {
        "region" => is_region(&value),
        _ => is_bucket_name(&value),
    };
    if !ok {
        return Err(invalid(field, &value));
    }
    Ok(value)
}

/// A `kinds` filter: left out, or a non-empty list of `Kind` or `Kind.group`.
fn check_kinds(kinds: &Option<Vec<String>>) -> Result<(), Error> {
    let Some(kinds) = kinds else { return Ok(()) };
    if kinds.is_empty() {
        return Err(Error::InvalidEvent(InvalidField::new(
            "kinds",
            rule_of("kinds").unwrap_or_default(),
            kinds,
        )));
    }
    match kinds.iter().find(|k| crate::kinds::split_kind_name(k).is_none()) {
        Some(bad) => Err(Error::InvalidEvent(InvalidField::new(
            "kinds",
            "must name kinds as Kubernetes spells them, or Kind.group",
            bad,
        ))),
        None => Ok(()),
    }
}

fn invalid(field: &str, got: &str) -> Error {
    Error::InvalidEvent(InvalidField::new(field, rule_of(field).unwrap_or("is not valid"), got))
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`.
fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// S3's rule for bucket names, enough to keep them out of URLs' other parts.
fn is_bucket_name(value: &str) -> bool {
    (3..=63).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric()
}

/// Names that become part of an S3 key: letters, digits, '-', '_' and '.', as
/// infrastructure and cluster names are.
fn check_name(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value != "."
        && value != ".."
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok { Ok(()) } else { Err(invalid(field, value)) }
}

/// Namespace names follow Kubernetes' DNS label rule.
fn check_namespace(field: &str, value: &str) -> Result<()> {
    if crate::names::is_dns_label(value) {
        Ok(())
    } else {
        Err(invalid(field, value))
    }
}

/// The role an event names for a cluster in another account, which the deployment must
/// list for this function.
fn cluster_role(
    role_arn: Option<String>,
    external_id: Option<String>,
    allowed: &Allowed,
) -> Result<Option<ClusterRole>> {
    match (role_arn, external_id) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Error::InvalidEvent(InvalidField {
            field: "external_id".into(),
            rule: "is given without role_arn; it belongs to the role assumed".into(),
            got: None,
        })),
        (Some(arn), external_id) => {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[5].starts_with("role/") {
                return Err(invalid("role_arn", &arn));
            }
            if let Some(id) = &external_id
                && !(2..=1224).contains(&id.len())
            {
                return Err(Error::InvalidEvent(InvalidField {
                    field: "external_id".into(),
                    rule: rule_of("external_id").unwrap_or_default().into(),
                    got: Some(format!("{} characters", id.len())),
                }));
            }
            allowed.check("role_arn", &arn)?;
            Ok(Some(ClusterRole { arn, external_id }))
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
    pub(crate) fn from_context(invoked_function_arn: &str, deadline_ms: u64, now: DateTime<Utc>) -> Self {
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

/// What the event modules' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::Defaults;
    use crate::allowed::Allowed;

    /// A refusal's words, without the error type's own prefix.
    pub fn plain(error: crate::Error) -> String {
        match error {
            crate::Error::InvalidEvent(field) => field.to_string(),
            other => panic!("not an invalid event: {other}"),
        }
    }

    /// A function's defaults, serving everything.
    pub fn defaults() -> Defaults {
        Defaults {
            region: Some("us-east-1".into()),
            bucket: Some("bucket".into()),
            allowed: Allowed::any(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn regions_and_buckets_are_recognised_by_shape() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["", "us-east", "US-EAST-1", "us-east-1/../x", "us_east_1", "-east-1"] {
            assert!(!is_region(bad), "{bad}");
        }
        for ok in ["lifeboat-backups-123456789012-us-east-1", "a.b-c"] {
            assert!(is_bucket_name(ok), "{ok}");
        }
        for bad in ["ab", "Bucket", "b/key", "-b", "b-", &"b".repeat(64)] {
            assert!(!is_bucket_name(bad), "{bad}");
        }
    }
}
