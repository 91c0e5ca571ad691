//! The drill event: which infrastructure's latest backup is restored, into which
//! cluster, and how often a drill is due.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::backup::check_scheduled_time;
use super::{Defaults, InvalidField, check_name, check_namespace, cluster_role, or_default, parse, rule_of};
use crate::eks::ClusterRole;
use crate::{Error, Result};

/// Days between drills unless the event says otherwise: weekly.
pub(crate) const DEFAULT_EVERY_DAYS: u32 = 7;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DrillEvent {
    infrastructure: String,
    cluster: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    tenants: Option<Vec<String>>,
    #[serde(default)]
    every_days: Option<u32>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    scheduled_time: Option<DateTime<Utc>>,
}

/// A drill event with its defaults filled in and its rules checked.
#[derive(Debug, Clone)]
pub struct DrillRequest {
    /// Whose latest complete backup is drilled.
    pub infrastructure: String,
    /// The cluster the drill restores into: one the operator keeps for drills.
    pub cluster: String,
    /// The drill cluster's region.
    pub region: String,
    /// The backup bucket.
    pub bucket: String,
    /// The role assumed to reach the drill cluster, if any.
    pub role: Option<ClusterRole>,
    /// Only these tenants of the backup; `None` for all of them.
    pub tenants: Option<Vec<String>>,
    /// A drill is due when none passed in this many days.
    pub every_days: u32,
    /// Drill now, whether due or not.
    pub force: bool,
    /// The drill's nominal time: it names the throwaway namespaces and the record, so a
    /// retried invocation finds its own.
    pub drill_time: DateTime<Utc>,
}

impl DrillRequest {
    /// Parses and validates a drill event arriving at `now`.
    pub fn from_event(event: Value, defaults: &Defaults, now: DateTime<Utc>) -> Result<Self> {
        let event: DrillEvent = parse(event)?;
        check_name("infrastructure", &event.infrastructure)?;
        check_name("cluster", &event.cluster)?;
        if let Some(tenants) = &event.tenants {
            if tenants.is_empty() {
                return Err(Error::InvalidEvent(InvalidField::new(
                    "tenants",
                    rule_of("tenants").unwrap_or_default(),
                    tenants,
                )));
            }
            tenants.iter().try_for_each(|t| check_namespace("tenants", t))?;
        }
        let every_days = event.every_days.unwrap_or(DEFAULT_EVERY_DAYS);
        if !(1..=90).contains(&every_days) {
            return Err(Error::InvalidEvent(InvalidField::new(
                "every_days",
                rule_of("every_days").unwrap_or_default(),
                every_days,
            )));
        }
        check_scheduled_time(event.scheduled_time, now)?;
        let request = Self {
            region: or_default("region", event.region, &defaults.region, "AWS_REGION")?,
            bucket: or_default("bucket", event.bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?,
            role: cluster_role(event.role_arn, event.external_id, &defaults.allowed)?,
            infrastructure: event.infrastructure,
            cluster: event.cluster,
            tenants: event.tenants,
            every_days,
            force: event.force,
            drill_time: event.scheduled_time.unwrap_or(now),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowed::{Allowed, Patterns};
    use crate::event::testing::{defaults, plain};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-12-05T12:00:00Z".parse().unwrap()
    }

    fn refusal(event: Value) -> String {
        plain(DrillRequest::from_event(event, &defaults(), now()).unwrap_err())
    }

    #[test]
    fn a_scheduled_drill_is_weekly_and_named_by_its_scheduled_time() {
        let event = json!({ "infrastructure": "prod", "cluster": "drills", "scheduled_time": "2026-12-05T06:00:00Z" });
        let r = DrillRequest::from_event(event, &defaults(), now()).unwrap();
        assert_eq!((r.every_days, r.force, r.tenants), (7, false, None));
        assert_eq!(r.drill_time, "2026-12-05T06:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let r = DrillRequest::from_event(
            json!({ "infrastructure": "prod", "cluster": "drills" }),
            &defaults(),
            now(),
        )
        .unwrap();
        assert_eq!(r.drill_time, now());
    }

    #[test]
    fn bad_fields_are_refused_each_with_its_rule() {
        let base = json!({ "infrastructure": "prod", "cluster": "drills" });
        let with = |field: &str, value: Value| {
            let mut e = base.clone();
            e[field] = value;
            refusal(e)
        };
        assert!(with("every_days", json!(0)).starts_with("every_days must be a whole number of days from 1 to 90"));
        assert!(with("every_days", json!(91)).starts_with("every_days must be"));
        assert!(with("tenants", json!([])).starts_with("tenants must be a list of namespace names"));
        assert!(with("tenants", json!(["Shop"])).starts_with("tenants must be"));
        assert!(with("force", json!("yes")).starts_with("force must be true or false"));
        assert!(with("scheduled_time", json!("2026-12-05T12:06:00Z")).starts_with("scheduled_time may be at most 5"));
        assert!(with("cluster", json!("../x")).starts_with("cluster must be"));
        assert!(with("namespace_mapping", json!({})).contains("namespace_mapping"));
    }

    #[test]
    fn a_drill_cluster_the_deployment_does_not_serve_is_refused() {
        let mut d = defaults();
        d.allowed = Allowed {
            clusters: Patterns::of(["prod-*"]),
            ..Allowed::any()
        };
        let e = json!({ "infrastructure": "prod", "cluster": "drills" });
        let refused = DrillRequest::from_event(e, &d, now()).unwrap_err().to_string();
        assert!(refused.contains("drills"), "{refused}");
    }
}
