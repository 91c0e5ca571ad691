//! The JSON report both functions return and log as one line.
//!
//! Reports name objects and say what happened to them; they never carry an object's
//! content, so a Secret's values cannot reach a log through them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::AuditStatus;
use crate::manifest::RunError;

/// How many objects a report lists one by one. A Lambda response is capped at 6 MB and
/// a run may hold tens of thousands of objects; past this the counts still cover every
/// object, and failures are always listed.
pub(crate) const LISTED_OBJECTS: usize = 2000;

/// The report's key for cluster-scoped objects, in place of a tenant.
pub(crate) const CLUSTER_SCOPE: &str = "(cluster)";

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Stored in the backup.
    BackedUp,
    /// Created in the cluster.
    Created,
    /// Replaced in the cluster.
    Updated,
    /// Left alone (already there with `existing: skip`, or made by the cluster itself).
    Skipped,
    /// Already in the cluster exactly as backed up.
    Unchanged,
    /// Would be created (dry run).
    WouldCreate,
    /// Would be replaced (dry run).
    WouldUpdate,
    /// Failed; the reason says why.
    Failed,
}

impl Action {
    /// The action as reports spell it (`backed-up`, `would-create`): its serde name,
    /// for the places that name it outside a serialised report.
    pub(crate) fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// How a run ended, as the report states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Everything asked for was done.
    Completed,
    /// Some objects, kinds or tenants failed; the rest was done.
    PartiallyFailed,
    /// The setting is disabled; nothing was done.
    Disabled,
    /// This scheduled run had already completed; nothing was done again.
    AlreadyCompleted,
    /// Another invocation of this scheduled run holds it (see [`crate::claim`]); nothing
    /// was done, so the run's folder gets one attempt's files, never a mix.
    AlreadyRunning,
}

/// One object's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    /// Tenant (namespace) as backed up; absent for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Namespace written to, when restore mapped it elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// What happened.
    pub action: Action,
    /// Why, for skipped and failed objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A function's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `backup` or `restore`.
    pub function: &'static str,
    /// How the run ended.
    pub status: Status,
    /// The infrastructure acted on.
    pub infrastructure: String,
    /// Its cluster.
    pub cluster: String,
    /// The bucket.
    pub bucket: String,
    /// The backup written or read: `s3://bucket/YYYY/MM/DD/HHmmss/infra/<name>/k8s/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The run path `YYYY/MM/DD/HHmmss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_path: Option<String>,
    /// Each kind as the setting (or request) names it, and the `apiVersion` it was read
    /// or written as.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kinds: BTreeMap<String, String>,
    /// Restore only: how many references to a mapped namespace were rewritten.
    #[serde(skip_serializing_if = "is_zero")]
    pub namespace_references_rewritten: u64,
    /// Restore only: whether this was a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Per tenant (or `(cluster)`), per kind, per action: how many objects.
    pub counts: BTreeMap<String, BTreeMap<String, BTreeMap<Action, u64>>>,
    /// Objects one by one (see [`LISTED_OBJECTS`]).
    pub objects: Vec<ObjectResult>,
    /// Objects counted but not listed.
    pub objects_not_listed: u64,
    /// Failures of whole tenants, kinds or the run.
    pub errors: Vec<RunError>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i64,
    /// Whether the run is audited.
    pub audit: AuditStatus,
}

impl Report {
    /// An empty report for a run starting at `started_at`, audited as `audit` says.
    pub fn new(
        function: &'static str,
        infrastructure: &str,
        cluster: &str,
        bucket: &str,
        started_at: DateTime<Utc>,
        audit: AuditStatus,
    ) -> Self {
        Self {
            function,
            status: Status::Completed,
            infrastructure: infrastructure.into(),
            cluster: cluster.into(),
            bucket: bucket.into(),
            backup: None,
            run_path: None,
            kinds: BTreeMap::new(),
            namespace_references_rewritten: 0,
            dry_run: None,
            counts: BTreeMap::new(),
            objects: Vec::new(),
            objects_not_listed: 0,
            errors: Vec::new(),
            started_at,
            finished_at: started_at,
            duration_ms: 0,
            audit,
        }
    }

    /// Records one object's outcome.
    pub fn record(&mut self, result: ObjectResult) {
        let scope = result.tenant.clone().unwrap_or_else(|| CLUSTER_SCOPE.into());
        *self
            .counts
            .entry(scope)
            .or_default()
            .entry(result.kind.clone())
            .or_default()
            .entry(result.action)
            .or_default() += 1;
        if result.action == Action::Failed || self.objects.len() < LISTED_OBJECTS {
            self.objects.push(result);
        } else {
            self.objects_not_listed += 1;
        }
    }

    /// Records a failure beyond single objects.
    pub fn error(&mut self, error: RunError) {
        self.errors.push(error);
    }

    /// Whether anything failed.
    pub(crate) fn has_failures(&self) -> bool {
        !self.errors.is_empty() || self.objects.iter().any(|o| o.action == Action::Failed)
    }

    /// Closes the report at `finished_at`; the status follows from what failed unless
    /// it was already set to something other than `Completed`.
    pub(crate) fn finish(mut self, finished_at: DateTime<Utc>) -> Self {
        if self.status == Status::Completed && self.has_failures() {
            self.status = Status::PartiallyFailed;
        }
        self.finished_at = finished_at;
        self.duration_ms = (finished_at - self.started_at).num_milliseconds();
        self
    }

    /// How many objects took `action`, over all tenants and kinds.
    pub fn count(&self, action: Action) -> u64 {
        self.counts
            .values()
            .flat_map(|kinds| kinds.values())
            .filter_map(|a| a.get(&action))
            .sum()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A failed run as the Lambda error response carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error's type ([`crate::Error::error_type`]).
    pub error_type: &'static str,
    /// What happened and what to do next.
    pub message: String,
}

/// What a function hands back for a run: the report as JSON, or the failure. Either is
/// logged as one JSON line first, so the log holds every outcome the caller saw.
pub fn outcome(function: &str, run: crate::Result<Report>) -> Result<serde_json::Value, Failure> {
    match run {
        Ok(report) => {
            // Status and infrastructure are fields of their own so that a CloudWatch
            // metric filter can count successful runs per infrastructure (the
            // deployment's "no successful backup" alarm reads them).
            let (status, infrastructure) = (report.status, report.infrastructure.clone());
            let report = serde_json::to_value(&report).expect("a report always serialises");
            tracing::info!(function, infrastructure, status = ?status, report = %report, "report");
            Ok(report)
        }
        Err(e) => {
            tracing::error!(function, error_type = e.error_type(), retryable = e.is_retryable(), error = %e, "run failed");
            Err(Failure {
                error_type: e.error_type(),
                message: e.to_string(),
            })
        }
    }
}

/// What the catalog hands back for a question: the answer as it is, or the failure.
/// Only the outcome is logged, with the action and infrastructure asked about: an answer
/// can be long, and the log needs no second copy of it.
pub fn answered(
    function: &str,
    event: &serde_json::Value,
    answer: crate::Result<serde_json::Value>,
) -> Result<serde_json::Value, Failure> {
    let said = |field: &str| {
        event
            .get(field)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (action, infrastructure) = (said("action"), said("infrastructure"));
    match answer {
        Ok(answer) => {
            tracing::info!(function, action, infrastructure, "answered");
            Ok(answer)
        }
        Err(e) => {
            tracing::error!(function, action, infrastructure, error_type = e.error_type(), retryable = e.is_retryable(), error = %e, "request failed");
            Err(Failure {
                error_type: e.error_type(),
                message: e.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(n: usize, action: Action) -> ObjectResult {
        ObjectResult {
            tenant: Some("t".into()),
            target_namespace: None,
            kind: "Secret".into(),
            name: format!("s{n}"),
            action,
            reason: None,
        }
    }

    #[test]
    fn counts_cover_every_object_while_the_list_is_capped_but_keeps_failures() {
        let audit = AuditStatus::Audited { trail: "t".into() };
        let mut r = Report::new("backup", "i", "c", "b", Utc::now(), audit);
        for n in 0..LISTED_OBJECTS + 10 {
            r.record(object(n, Action::BackedUp));
        }
        r.record(object(0, Action::Failed));
        let r = r.finish(Utc::now());
        assert_eq!(r.count(Action::BackedUp), (LISTED_OBJECTS + 10) as u64);
        assert_eq!(r.objects_not_listed, 10);
        assert_eq!(r.objects.last().unwrap().action, Action::Failed);
        assert_eq!(r.status, Status::PartiallyFailed);
    }
}
