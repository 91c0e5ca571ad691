//! The backup event: a scheduled run's input, or an on-demand payload.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{Defaults, InvalidField, check_name, check_namespace, cluster_role, or_default, parse, rule_of};
use crate::eks::ClusterRole;
use crate::selector::LabelSelector;
use crate::settings::ResourceBackupConfig;
use crate::{Error, Result};

/// How far ahead of the function's clock a `scheduled_time` may be. The scheduler sends
/// the time it fired, which is never ahead by more than clock skew; a run dated later
/// would stand as every restore's `latest` until the real runs caught up with it.
pub(crate) const MAX_SCHEDULED_AHEAD: TimeDelta = TimeDelta::minutes(5);

/// The backup event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackupEvent {
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
    /// Only namespaces whose labels this selector matches (`env=prod`).
    #[serde(default)]
    pub tenant_selector: Option<String>,
    /// Namespaces left out.
    #[serde(default)]
    pub exclude_tenants: Option<Vec<String>>,
    /// Kinds of the setting left out of this run.
    #[serde(default)]
    pub exclude_kinds: Option<Vec<String>>,
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
    /// The kinds to back up: the setting's, less `exclude_kinds`.
    pub kinds: Vec<String>,
    /// Tenant namespaces to back up; `None` for all.
    pub tenants: Option<Vec<String>>,
    /// Only namespaces whose labels this matches.
    pub tenant_selector: Option<LabelSelector>,
    /// Namespaces left out.
    pub exclude_tenants: Vec<String>,
    /// The run's time; it fixes the run's folder.
    pub run_time: DateTime<Utc>,
}

impl BackupRequest {
    /// Parses and validates a backup event; `now` is the run time of an on-demand run
    /// and the clock a scheduled time is held against.
    pub fn from_event(event: Value, defaults: &Defaults, now: DateTime<Utc>) -> Result<Self> {
        let event: BackupEvent = parse(event)?;
        check_name("infrastructure", &event.infrastructure)?;
        check_name("cluster", &event.cluster)?;
        if let Some(tenants) = &event.tenants {
            tenants.iter().try_for_each(|t| check_namespace("tenants", t))?;
        }
        let exclude_tenants = event.exclude_tenants.unwrap_or_default();
        exclude_tenants
            .iter()
            .try_for_each(|t| check_namespace("exclude_tenants", t))?;
        let tenant_selector = match &event.tenant_selector {
            Some(text) => Some(LabelSelector::parse(text).map_err(|_| {
                Error::InvalidEvent(InvalidField::new(
                    "tenant_selector",
                    rule_of("tenant_selector").unwrap_or_default(),
                    text,
                ))
            })?),
            None => None,
        };
        let excluded = event.exclude_kinds.unwrap_or_default();
        if let Some(unknown) = excluded.iter().find(|k| !event.settings.kinds.contains(k)) {
            return Err(Error::InvalidEvent(InvalidField::new(
                "exclude_kinds",
                format!(
                    "must name kinds of the setting's K8sResourceKinds ({})",
                    event.settings.kinds.join(", ")
                ),
                unknown,
            )));
        }
        let kinds: Vec<String> = event
            .settings
            .kinds
            .iter()
            .filter(|k| !excluded.contains(k))
            .cloned()
            .collect();
        if kinds.is_empty() {
            return Err(Error::InvalidEvent(InvalidField::new(
                "exclude_kinds",
                "must leave at least one kind of the setting to back up",
                excluded,
            )));
        }
        check_scheduled_time(event.scheduled_time, now)?;
        let request = Self {
            region: or_default("region", event.region, &defaults.region, "AWS_REGION")?,
            bucket: or_default("bucket", event.bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?,
            role: cluster_role(event.role_arn, event.external_id, &defaults.allowed)?,
            infrastructure: event.infrastructure,
            cluster: event.cluster,
            settings: event.settings,
            kinds,
            tenants: event.tenants,
            tenant_selector,
            exclude_tenants,
            run_time: event.scheduled_time.unwrap_or(now),
        };
        defaults.check_serves(
            &request.infrastructure,
            &request.cluster,
            &request.region,
            &request.bucket,
        )?;
        Ok(request)
    }
}

/// Refuses a `scheduled_time` further ahead of the function's clock than clock skew.
pub(super) fn check_scheduled_time(scheduled_time: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<()> {
    if let Some(time) = scheduled_time
        && time > now + MAX_SCHEDULED_AHEAD
    {
        return Err(Error::InvalidEvent(InvalidField::new(
            "scheduled_time",
            format!(
                "may be at most {} minutes ahead of the function's clock ({}), or a run dated later would stand \
                 as the latest backup",
                MAX_SCHEDULED_AHEAD.num_minutes(),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowed::{Allowed, Patterns};
    use crate::event::testing::{defaults, plain};
    use serde_json::json;

    fn event() -> Value {
        json!({
            "infrastructure": "prod", "cluster": "prod-eks", "region": "us-east-1",
            "bucket": "lifeboat-backups-123456789012-us-east-1",
            "settings": { "IsEnabled": true, "IntervalInHours": "1", "K8sResourceKinds": ["Secret", "ConfigMap"] },
            "tenants": ["duploservices-billing"], "scheduled_time": "2026-11-22T13:00:00Z"
        })
    }

    fn refusal(event: Value, now: DateTime<Utc>) -> String {
        plain(BackupRequest::from_event(event, &defaults(), now).unwrap_err())
    }

    #[test]
    fn the_design_backup_event_parses_and_keeps_its_scheduled_time() {
        let r = BackupRequest::from_event(event(), &defaults(), Utc::now()).unwrap();
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
            ("us-east-1", "bucket", now)
        );
        let err = plain(BackupRequest::from_event(e, &Defaults::default(), now).unwrap_err());
        assert_eq!(
            err,
            "region is missing: give it in the event or set AWS_REGION in the function's environment"
        );
    }

    #[test]
    fn a_scheduled_time_more_than_five_minutes_ahead_is_refused() {
        let now: DateTime<Utc> = "2026-11-22T13:00:00Z".parse().unwrap();
        let mut e = event();
        e["scheduled_time"] = json!("2026-11-22T13:05:00Z");
        assert!(BackupRequest::from_event(e.clone(), &defaults(), now).is_ok());
        e["scheduled_time"] = json!("2099-01-01T00:00:00Z");
        let refused = refusal(e, now);
        assert!(
            refused.starts_with("scheduled_time may be at most 5 minutes ahead")
                && refused.ends_with("got \"2099-01-01T00:00:00Z\""),
            "{refused}"
        );
    }

    #[test]
    fn a_refused_field_is_named_with_its_rule_whatever_was_wrong_with_it() {
        let now = Utc::now();
        let rows: Vec<(&str, Value, &str)> = vec![
            (
                "scheduled_time",
                json!("yesterday"),
                "scheduled_time must be an RFC 3339 time",
            ),
            ("scheduled_time", json!(7), "scheduled_time must be an RFC 3339 time"),
            ("infrastructure", json!(1), "infrastructure must be 1 to 100 letters"),
            (
                "infrastructure",
                json!("a/b"),
                "infrastructure must be 1 to 100 letters",
            ),
            ("cluster", json!(""), "cluster must be 1 to 100 letters"),
            ("region", json!("us-east-1/../x"), "region must be an AWS region"),
            ("bucket", json!("Bucket"), "bucket must be an S3 bucket name"),
            ("tenants", json!("billing"), "tenants must be a list of namespace names"),
            (
                "tenants",
                json!(["Billing_Team"]),
                "tenants must be a list of namespace names",
            ),
            (
                "role_arn",
                json!("arn:aws:iam::1:user/x"),
                "role_arn must be an IAM role ARN",
            ),
        ];
        for (field, value, says) in rows {
            let mut e = event();
            e[field] = value.clone();
            let refused = refusal(e, now);
            assert!(refused.starts_with(says), "{field} = {value}: {refused}");
        }
        let mut e = event();
        e["settings"]["IntervalInHours"] = json!("1.5");
        assert!(refusal(e, now).contains("IntervalInHours written as a string must be digits only"));
        let mut e = event();
        e.as_object_mut().unwrap().remove("infrastructure");
        assert_eq!(refusal(e, now), "the event: missing field `infrastructure`");
    }

    #[test]
    fn the_scope_narrows_tenants_and_kinds_and_refuses_what_it_cannot_mean() {
        let mut e = event();
        e["tenant_selector"] = json!("env=prod,team");
        e["exclude_tenants"] = json!(["scratch"]);
        e["exclude_kinds"] = json!(["ConfigMap"]);
        let r = BackupRequest::from_event(e.clone(), &defaults(), Utc::now()).unwrap();
        assert_eq!(r.kinds, ["Secret"]);
        assert_eq!(r.exclude_tenants, ["scratch"]);
        assert_eq!(r.tenant_selector.unwrap().as_str(), "env=prod,team");
        assert_eq!(
            r.settings.kinds,
            ["Secret", "ConfigMap"],
            "the setting keeps its meaning"
        );
        let rows: Vec<(&str, Value, &str)> = vec![
            (
                "exclude_kinds",
                json!(["Deployment"]),
                "exclude_kinds must name kinds of the setting",
            ),
            (
                "exclude_kinds",
                json!(["Secret", "ConfigMap"]),
                "exclude_kinds must leave at least one kind",
            ),
            (
                "tenant_selector",
                json!("env=pr od"),
                "tenant_selector must be a label selector",
            ),
            (
                "exclude_tenants",
                json!(["Scratch"]),
                "exclude_tenants must be a list of namespace names",
            ),
        ];
        for (field, value, says) in rows {
            let mut bad = event();
            bad[field] = value;
            let refused = refusal(bad, Utc::now());
            assert!(refused.starts_with(says), "{refused}");
        }
    }

    #[test]
    fn only_what_the_deployment_serves_is_accepted() {
        let mut d = defaults();
        d.allowed = Allowed {
            clusters: Patterns::of(["prod-*"]),
            buckets: Patterns::of(["lifeboat-backups-*"]),
            role_arns: Patterns::of(["arn:aws:iam::210987654321:role/lifeboat-backup"]),
            ..Allowed::any()
        };
        assert!(BackupRequest::from_event(event(), &d, Utc::now()).is_ok());
        let rows = [
            ("cluster", json!("other-eks"), "LIFEBOAT_ALLOWED_CLUSTERS"),
            ("bucket", json!("attacker-bucket"), "LIFEBOAT_ALLOWED_BUCKETS"),
            (
                "role_arn",
                json!("arn:aws:iam::210987654321:role/lifeboat-restore"),
                "LIFEBOAT_ALLOWED_ROLE_ARNS",
            ),
        ];
        for (field, value, variable) in rows {
            let mut e = event();
            e[field] = value;
            let refused = BackupRequest::from_event(e, &d, Utc::now()).unwrap_err();
            assert_eq!(refused.error_type(), "NotAllowed");
            assert!(refused.to_string().contains(variable), "{refused}");
        }
    }
}
