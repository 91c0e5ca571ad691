//! What a drill found, as it is returned, logged and kept beside the backup it tested
//! (`<run>/infra/<name>/k8s/drill-<YYYYMMDDTHHmmssZ>.json`, one per drill, create-only),
//! and how the newest passed drill is found again from those records.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::layout::{RunLayout, run_path_of};
use crate::manifest::RunError;
use crate::runs::NewestFirst;
use crate::store::{Store, StoreError};

/// How a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DrillStatus {
    /// Every object of the backup was restored and read back as backed up.
    Passed,
    /// Something was not restored, or did not read back as backed up; the record says what.
    Failed,
    /// A drill passed within the interval; nothing was restored.
    NotDue,
}

impl DrillStatus {
    /// The status as the record and the log line spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "Passed",
            Self::Failed => "Failed",
            Self::NotDue => "NotDue",
        }
    }
}

/// One object that did not come back as backed up. Names only: never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The tenant as backed up; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// What went wrong.
    pub reason: String,
}

/// Objects of the backup, by what the drill made of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillCounts {
    /// Written into the drill namespaces by the first pass.
    pub restored: u64,
    /// Read back by the second pass exactly as backed up.
    pub verified: u64,
    /// Left alone by both passes for a reason of the restore's own (made by the cluster).
    pub skipped: u64,
    /// Not restored, or not as backed up.
    pub mismatched: u64,
}

/// A drill's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillRecord {
    /// Always `drill`.
    pub function: String,
    /// How it ended.
    pub status: DrillStatus,
    /// Whose backup was drilled.
    pub infrastructure: String,
    /// The cluster restored into.
    pub cluster: String,
    /// The bucket.
    pub bucket: String,
    /// The drill's nominal time.
    pub drill_time: DateTime<Utc>,
    /// The run path of the backup drilled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Where this record is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Each tenant drilled, and the throwaway namespace it was restored into.
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
    /// Objects, by outcome.
    #[serde(default)]
    pub objects: DrillCounts,
    /// The objects that did not come back as backed up (the first [`LISTED_MISMATCHES`]).
    #[serde(default)]
    pub mismatches: Vec<Mismatch>,
    /// Failures of whole tenants, kinds or the restore.
    #[serde(default)]
    pub errors: Vec<RunError>,
    /// Throwaway namespaces that could not be deleted; they need deleting by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanup_errors: Vec<String>,
    /// When a drill of this infrastructure last passed, if one did in the window looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_passed_at: Option<DateTime<Utc>>,
    /// Hours since then, or the window's length when none passed in it: the metric the
    /// "no drill passed" alarm watches.
    pub hours_since_passed: i64,
    /// When the drill started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

/// Mismatches listed one by one; the rest are counted.
pub const LISTED_MISMATCHES: usize = 100;

/// The record's key for a drill at `time` of the backup at `layout`.
pub(super) fn key(layout: &RunLayout, time: DateTime<Utc>) -> String {
    format!("{}drill-{}.json", layout.prefix(), time.format("%Y%m%dT%H%M%SZ"))
}

/// The drill time a record's key (relative to its run's prefix) names.
fn time_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix("drill-")?.strip_suffix(".json")?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// When a drill of `infrastructure` last passed, looking at the backups of the last
/// `window` before `now`. A drill always tests the newest complete backup of its time,
/// so records under newer runs are newer drills: the walk stops at the first run with
/// a passed one. A record that does not parse is passed over, not believed.
pub(super) async fn newest_passed(
    store: &Store,
    infrastructure: &str,
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut runs = NewestFirst::new(store, &run_path_of(now - window), &run_path_of(now));
    while let Some(run_path) = runs.next().await? {
        let layout = RunLayout::for_run_path(&run_path, infrastructure);
        let mut records: Vec<(DateTime<Utc>, String)> = store
            .keys_under(&format!("{}drill-", layout.prefix()))
            .await?
            .into_iter()
            .filter_map(|key| {
                let time = time_of(key.strip_prefix(layout.prefix())?)?;
                Some((time, key))
            })
            .collect();
        records.sort_unstable_by(|a, b| b.cmp(a));
        for (time, key) in records {
            let bytes = store.get(&key, None).await?;
            let passed = serde_json::from_slice::<DrillRecord>(&bytes)
                .is_ok_and(|r| r.status == DrillStatus::Passed && r.infrastructure == infrastructure);
            if passed {
                return Ok(Some(time));
            }
        }
    }
    Ok(None)
}

/// Hours from `last_passed` to `now`, or the window's length when none passed in it.
pub(super) fn hours_since(last_passed: Option<DateTime<Utc>>, now: DateTime<Utc>, window: TimeDelta) -> i64 {
    last_passed.map_or(window, |t| now - t).num_hours().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_named_by_its_drill_time_beside_the_backup() {
        let layout = RunLayout::for_run_path("2026/12/01/060000", "prod");
        let time: DateTime<Utc> = "2026-12-05T06:00:00Z".parse().unwrap();
        let key = key(&layout, time);
        assert_eq!(key, "2026/12/01/060000/infra/prod/k8s/drill-20261205T060000Z.json");
        assert_eq!(time_of(key.strip_prefix(layout.prefix()).unwrap()), Some(time));
        for bad in [
            "drill-2026.json",
            "drill-20261205T060000Z.json.bak",
            "manifest.json",
            "drill-.json",
        ] {
            assert_eq!(time_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_log_line_spells_each_status_as_the_record_does() {
        for status in [DrillStatus::Passed, DrillStatus::Failed, DrillStatus::NotDue] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn hours_since_the_last_passed_drill_are_the_windows_when_none_passed() {
        let now: DateTime<Utc> = "2026-12-05T06:00:00Z".parse().unwrap();
        let window = TimeDelta::days(21);
        assert_eq!(hours_since(Some(now - TimeDelta::minutes(90)), now, window), 1);
        assert_eq!(hours_since(None, now, window), 21 * 24);
        assert_eq!(hours_since(Some(now + TimeDelta::hours(1)), now, window), 0);
    }
}
