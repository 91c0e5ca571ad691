//! The retention event: how long backups are kept, and how many complete ones are kept
//! whatever their age.

use serde::Deserialize;
use serde_json::Value;

use super::{Defaults, InvalidField, check_name, or_default, parse, rule_of};
use crate::{Error, Result};

/// Complete backups of each infrastructure kept whatever their age, unless the event
/// says otherwise.
pub(crate) const DEFAULT_KEEP_COMPLETED: u32 = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionEvent {
    retention_days: u32,
    #[serde(default)]
    keep_completed: Option<u32>,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    infrastructures: Option<Vec<String>>,
    #[serde(default)]
    dry_run: bool,
}

/// A retention event with its defaults filled in and its rules checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRequest {
    /// The bucket whose backups are expired.
    pub bucket: String,
    /// Runs older than this many days go, but for the newest complete ones.
    pub retention_days: u32,
    /// The newest complete backups of each infrastructure kept whatever their age.
    pub keep_completed: u32,
    /// Only these infrastructures' runs; `None` for every infrastructure in the bucket,
    /// removed ones included.
    pub infrastructures: Option<Vec<String>>,
    /// Report what would go, and delete nothing.
    pub dry_run: bool,
}

impl RetentionRequest {
    /// Parses and validates a retention event.
    pub fn from_event(event: Value, defaults: &Defaults) -> Result<Self> {
        let event: RetentionEvent = parse(event)?;
        if !(1..=36_500).contains(&event.retention_days) {
            return Err(Error::InvalidEvent(InvalidField::new(
                "retention_days",
                rule_of("retention_days").unwrap_or_default(),
                event.retention_days,
            )));
        }
        let keep_completed = event.keep_completed.unwrap_or(DEFAULT_KEEP_COMPLETED);
        if !(1..=1000).contains(&keep_completed) {
            return Err(Error::InvalidEvent(InvalidField::new(
                "keep_completed",
                rule_of("keep_completed").unwrap_or_default(),
                keep_completed,
            )));
        }
        if let Some(names) = &event.infrastructures {
            names.iter().try_for_each(|n| check_name("infrastructures", n))?;
        }
        let bucket = or_default("bucket", event.bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?;
        defaults.allowed.check("bucket", &bucket)?;
        Ok(Self {
            bucket,
            retention_days: event.retention_days,
            keep_completed,
            infrastructures: event.infrastructures,
            dry_run: event.dry_run,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testing::{defaults, plain};
    use serde_json::json;

    #[test]
    fn three_complete_backups_are_kept_unless_the_event_says_otherwise() {
        let r = RetentionRequest::from_event(json!({"retention_days": 90}), &defaults()).unwrap();
        assert_eq!((r.keep_completed, r.dry_run, r.bucket.as_str()), (3, false, "bucket"));
    }

    #[test]
    fn each_bad_value_names_its_rule() {
        for (event, rule) in [
            (json!({"retention_days": 0}), "retention_days must be"),
            (
                json!({"retention_days": 7, "keep_completed": 0}),
                "keep_completed must be",
            ),
            (
                json!({"keep_completed": 3}),
                "the event: missing field `retention_days`",
            ),
            (json!({"retention_days": "90"}), "retention_days must be"),
        ] {
            let refused = plain(RetentionRequest::from_event(event.clone(), &defaults()).unwrap_err());
            assert!(refused.starts_with(rule), "{event}: {refused}");
        }
    }
}
