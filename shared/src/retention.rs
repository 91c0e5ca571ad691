//! Retention: deleting the runs older than the retention days, except the newest
//! complete backups of each infrastructure, which are kept whatever their age, so that
//! an infrastructure whose backups have been failing for longer than the retention days
//! still has its last good ones.
//!
//! An S3 lifecycle rule cannot tell a run's status, so this replaces the rule that
//! expired current versions. It deletes versions one by one and may not bypass Object
//! Lock, which holds each version for the retention days from its write: whatever this
//! code decides, S3 refuses to delete anything younger. A run's manifest goes first, so
//! a run cut short is an incomplete run (never restored, never listed) rather than a
//! manifest whose files are gone. A run whose manifest cannot be read for a moment is
//! kept: nothing is deleted on doubt.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tracing::info;

use crate::Result;
use crate::event::{Invocation, RetentionRequest};
use crate::layout::{RunLayout, run_path_of};
use crate::manifest::{self, FUTURE_SLACK, ManifestError, RunStatus};
use crate::runs::NewestFirst;
use crate::store::{Store, StoreError};

/// How long before the Lambda deadline retention stops starting on another run.
const DEADLINE_RESERVE: TimeDelta = TimeDelta::seconds(10);

/// What became of one infrastructure's runs.
#[derive(Debug, Default, Serialize)]
pub struct InfrastructureRetention {
    /// Runs kept because they are younger than the retention days.
    pub kept: u64,
    /// Runs older than the retention days kept as the newest complete backups.
    pub kept_as_newest_completed: Vec<String>,
    /// Runs deleted (or, in a dry run, that would be).
    pub deleted: Vec<String>,
    /// Runs Object Lock still holds, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
}

/// The report of one retention run.
#[derive(Debug, Serialize)]
pub struct RetentionReport {
    pub function: &'static str,
    pub bucket: String,
    pub retention_days: u32,
    pub keep_completed: u32,
    pub dry_run: bool,
    /// Runs at or before this path are past the retention days.
    pub cutoff: String,
    pub infrastructures: BTreeMap<String, InfrastructureRetention>,
    /// Object versions (and delete markers) deleted.
    pub versions_deleted: u64,
    /// Whether every run was looked at; a run stopped by its deadline goes on next time.
    pub complete: bool,
    /// What could not be read or deleted, and why.
    pub errors: Vec<String>,
}

/// Expires the runs of the request's bucket.
pub async fn run(
    s3: &aws_sdk_s3::Client,
    request: &RetentionRequest,
    invocation: &Invocation,
    now: DateTime<Utc>,
) -> Result<RetentionReport> {
    let store = Store::new(s3.clone(), &request.bucket, None);
    let cutoff = run_path_of(now - TimeDelta::days(i64::from(request.retention_days)));
    let newest = run_path_of(now + FUTURE_SLACK);
    let mut report = RetentionReport {
        function: "retention",
        bucket: request.bucket.clone(),
        retention_days: request.retention_days,
        keep_completed: request.keep_completed,
        dry_run: request.dry_run,
        cutoff: cutoff.clone(),
        infrastructures: BTreeMap::new(),
        versions_deleted: 0,
        complete: true,
        errors: Vec::new(),
    };
    // Complete backups seen so far per infrastructure, newest first.
    let mut completed: BTreeMap<String, u32> = BTreeMap::new();
    let mut runs = NewestFirst::new(&store, "", &newest);
    while let Some(run_path) = runs.next().await? {
        if invocation.deadline.is_some_and(|d| Utc::now() + DEADLINE_RESERVE >= d) {
            report.complete = false;
            report.errors.push(format!(
                "stopped at {run_path} before the Lambda deadline; the next run goes on from there"
            ));
            break;
        }
        let infrastructures = match &request.infrastructures {
            Some(named) => named.clone(),
            None => store.list_folders(&format!("{run_path}/infra/")).await?,
        };
        for infrastructure in infrastructures {
            let layout = RunLayout::for_run_path(&run_path, &infrastructure);
            let status = match manifest::read_committed(&store, &layout, &infrastructure).await {
                Ok(found) => found.map(|m| m.status),
                Err(ManifestError::Store(e)) => {
                    report.errors.push(format!("{run_path} of {infrastructure} kept: {e}"));
                    continue;
                }
                // Written over: its status cannot be believed, so it counts as no backup.
                Err(_) => None,
            };
            let seen = completed.entry(infrastructure.clone()).or_default();
            let fate = fate(&run_path, &cutoff, status, seen, request.keep_completed);
            let outcome = report.infrastructures.entry(infrastructure.clone()).or_default();
            match fate {
                // A named infrastructure's young run counts only when it committed.
                Fate::Young if request.infrastructures.is_some() && status.is_none() => {}
                Fate::Young => outcome.kept += 1,
                Fate::NewestCompleted => outcome.kept_as_newest_completed.push(run_path.clone()),
                Fate::Expired => match delete_run(&store, &layout, request.dry_run).await {
                    // A named infrastructure with nothing in this run.
                    Ok(Deleted::All(0)) => {}
                    Ok(Deleted::All(n)) => {
                        report.versions_deleted += n;
                        outcome.deleted.push(run_path.clone());
                    }
                    Ok(Deleted::Held(n, why)) => {
                        report.versions_deleted += n;
                        outcome.held.push(format!("{run_path}: {why}"));
                    }
                    Err(e) => report.errors.push(format!("{run_path} of {infrastructure}: {e}")),
                },
            }
        }
    }
    info!(
        bucket = %request.bucket,
        deleted = report.infrastructures.values().map(|i| i.deleted.len()).sum::<usize>(),
        versions = report.versions_deleted,
        dry_run = request.dry_run,
        "retention done"
    );
    Ok(report)
}

/// What becomes of one run of an infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Within the retention days.
    Young,
    /// Past them, but among the newest complete backups.
    NewestCompleted,
    /// Past them: it goes.
    Expired,
}

/// The fate of the run at `run_path` of status `status` (`None`: no manifest, or one
/// that cannot be believed), runs being taken newest first; `completed` counts the
/// infrastructure's complete backups seen so far, this one included once decided.
fn fate(run_path: &str, cutoff: &str, status: Option<RunStatus>, completed: &mut u32, keep: u32) -> Fate {
    let is_completed = status == Some(RunStatus::Completed);
    let among_newest = is_completed && *completed < keep;
    if is_completed {
        *completed += 1;
    }
    if run_path > cutoff {
        Fate::Young
    } else if among_newest {
        Fate::NewestCompleted
    } else {
        Fate::Expired
    }
}

enum Deleted {
    /// Every version of the run, this many.
    All(u64),
    /// This many, and Object Lock held the rest.
    Held(u64, String),
}

/// Deletes every version under the run's folder, its manifest first.
async fn delete_run(store: &Store, layout: &RunLayout, dry_run: bool) -> std::result::Result<Deleted, StoreError> {
    let mut versions = store.versions_under(layout.prefix()).await?;
    let manifest_key = layout.manifest_key();
    versions.sort_by_key(|(key, _)| *key != manifest_key);
    if dry_run {
        return Ok(Deleted::All(versions.len() as u64));
    }
    let mut deleted = 0;
    for (key, version) in &versions {
        match store.delete_version(key, version).await {
            Ok(()) => deleted += 1,
            Err(StoreError::Locked { detail, .. }) => {
                return Ok(Deleted::Held(deleted, format!("Object Lock holds {key}: {detail}")));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Deleted::All(deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_complete_backups_are_kept_however_old_and_young_ones_count_toward_them() {
        let cutoff = "2026/11/28/000000";
        let (done, partly) = (Some(RunStatus::Completed), Some(RunStatus::PartiallyFailed));
        // Newest first.
        let runs = [
            ("2026/12/05/000000", done, Fate::Young),
            ("2026/12/04/000000", partly, Fate::Young),
            ("2026/11/20/000000", partly, Fate::Expired),
            ("2026/11/19/000000", None, Fate::Expired),
            ("2026/11/18/000000", done, Fate::NewestCompleted),
            ("2026/11/17/000000", done, Fate::NewestCompleted),
            ("2026/11/16/000000", done, Fate::Expired),
        ];
        let mut completed = 0;
        for (run, status, expected) in runs {
            assert_eq!(fate(run, cutoff, status, &mut completed, 3), expected, "{run}");
        }
        assert_eq!(completed, 4);
        let mut none = 0;
        assert_eq!(
            fate(cutoff, cutoff, done, &mut none, 1),
            Fate::NewestCompleted,
            "the cutoff itself is past"
        );
    }
}
