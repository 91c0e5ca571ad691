//! Restore drills: proof, on a schedule, that the latest backup actually restores.
//!
//! A drill restores an infrastructure's newest complete backup into throwaway
//! namespaces (`lifeboat-drill-<time>-<infrastructure hash>-<n>`, one per tenant) on a cluster kept for
//! drills, through the restore itself and its namespace mapping, so it tests what an
//! operator would run on the bad day. A second pass, a dry run of the same restore,
//! then reads every object back against the backup ([`compare`]). The namespaces are
//! deleted, and the outcome is kept beside the backup ([`record`]), returned, and
//! logged as one line whose fields the alarms count.
//!
//! The schedule fires daily and a drill runs only when none passed in the interval, so
//! each day's line also says how long ago one last passed, and a schedule that stops
//! firing is noticed as a gap in that line.

mod compare;
mod record;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};

pub use record::{DrillCounts, DrillRecord, DrillStatus, LISTED_MISMATCHES, Mismatch};

use crate::Result;
use crate::event::{BackupSelector, DrillRequest, Existing, Invocation, RestoreRequest};
use crate::manifest::{self, RunError};
use crate::restore::Restore;
use crate::store::Store;

/// How far back a passed drill is looked for, in intervals: far enough to see past the
/// alarm's threshold of two.
const WINDOW_INTERVALS: i32 = 3;

/// The namespace prefix of every drill; nothing else is ever deleted by a drill.
pub const NAMESPACE_PREFIX: &str = "lifeboat-drill-";

/// Runs drills with a restore's clients.
pub struct Drill {
    /// The restore a drill runs twice.
    pub restore: Restore,
}

impl Drill {
    /// Runs the drill `request` asks for, if it is due.
    pub async fn run(&self, request: &DrillRequest, invocation: &Invocation) -> Result<DrillRecord> {
        let started_at = (self.restore.clock)();
        let store = Store::new(self.restore.s3.clone(), &request.bucket, None);
        let window = TimeDelta::days(i64::from(request.every_days) * i64::from(WINDOW_INTERVALS));
        let last_passed = record::newest_passed(&store, &request.infrastructure, request.drill_time, window).await?;
        let mut drill = DrillRecord {
            function: "drill".into(),
            status: DrillStatus::NotDue,
            infrastructure: request.infrastructure.clone(),
            cluster: request.cluster.clone(),
            bucket: request.bucket.clone(),
            drill_time: request.drill_time,
            backup: None,
            record: None,
            namespaces: BTreeMap::new(),
            objects: DrillCounts::default(),
            mismatches: Vec::new(),
            errors: Vec::new(),
            cleanup_errors: Vec::new(),
            last_passed_at: last_passed,
            hours_since_passed: record::hours_since(last_passed, request.drill_time, window),
            started_at,
            finished_at: started_at,
        };
        if !request.force && !is_due(last_passed, request) {
            drill.finished_at = (self.restore.clock)();
            log(&drill);
            return Ok(drill);
        }

        let (layout, manifest) =
            manifest::find(&store, &request.infrastructure, &BackupSelector::Latest, started_at).await?;
        let key = record::key(&layout, request.drill_time);
        // A retried invocation of the same drill answers with what the first one found.
        if store.exists_listed(&key).await? {
            let kept: DrillRecord = serde_json::from_slice(&store.get(&key, None).await?).map_err(|e| {
                crate::Error::DrillRecordUnreadable {
                    bucket: request.bucket.clone(),
                    key: key.clone(),
                    reason: e.to_string(),
                }
            })?;
            log(&kept);
            return Ok(kept);
        }
        drill.backup = Some(layout.run_path().to_string());
        drill.namespaces = throwaway_namespaces(request, &manifest.tenants, &mut drill.errors);

        let restore = RestoreRequest {
            infrastructure: request.infrastructure.clone(),
            cluster: request.cluster.clone(),
            region: request.region.clone(),
            bucket: request.bucket.clone(),
            role: request.role.clone(),
            source_infrastructure: request.infrastructure.clone(),
            backup: BackupSelector::Run(layout.run_path().to_string()),
            tenants: Some(drill.namespaces.keys().cloned().collect()),
            kinds: None,
            names: None,
            label_selector: None,
            namespace_mapping: drill.namespaces.clone(),
            existing: Existing::Skip,
            dry_run: false,
        };
        if !drill.namespaces.is_empty() {
            self.restore_and_compare(&restore, invocation, &mut drill).await;
            drill.cleanup_errors = self.delete_namespaces(request, drill.namespaces.values()).await;
        }

        let passed = drill.errors.is_empty() && drill.objects.mismatched == 0 && drill.objects.verified > 0;
        drill.status = if passed {
            DrillStatus::Passed
        } else {
            DrillStatus::Failed
        };
        if passed {
            drill.last_passed_at = Some(request.drill_time);
            drill.hours_since_passed = 0;
        }
        drill.record = Some(key.clone());
        drill.finished_at = (self.restore.clock)();
        let bytes = serde_json::to_vec_pretty(&drill).expect("a drill record always serialises");
        store.put_new(&key, bytes).await?;
        log(&drill);
        Ok(drill)
    }

    /// Restores, then reads back, counting into `drill`.
    async fn restore_and_compare(&self, restore: &RestoreRequest, invocation: &Invocation, drill: &mut DrillRecord) {
        let mut passes = compare::Passes::default();
        let mut errors = Vec::new();
        match self
            .restore
            .run_observed(restore, invocation, &mut |r| passes.restored(r))
            .await
        {
            Ok(report) => {
                errors.extend(report.errors);
                let check = RestoreRequest {
                    dry_run: true,
                    ..restore.clone()
                };
                match self
                    .restore
                    .run_observed(&check, invocation, &mut |r| passes.verified(r))
                    .await
                {
                    Ok(report) => errors.extend(report.errors),
                    Err(e) => errors.push(run_error(format!("the read-back pass failed: {e}"))),
                }
            }
            Err(e) => errors.push(run_error(format!("the restore failed: {e}"))),
        }
        let (counts, mismatches) = passes.finish();
        drill.objects = counts;
        drill.mismatches = mismatches;
        drill.errors.extend(errors);
    }

    /// Deletes the drill's namespaces; what could not be deleted, each with what to do.
    async fn delete_namespaces<'a>(
        &self,
        request: &DrillRequest,
        names: impl Iterator<Item = &'a String>,
    ) -> Vec<String> {
        let client = match self
            .restore
            .cluster
            .client(&request.cluster, &request.region, request.role.as_ref())
            .await
        {
            Ok(client) => client,
            Err(e) => {
                return vec![format!(
                    "could not reach the cluster to delete the drill namespaces: {e}"
                )];
            }
        };
        let namespaces: Api<Namespace> = Api::all(client);
        let mut failed = Vec::new();
        for name in names.filter(|n| n.starts_with(NAMESPACE_PREFIX)) {
            match namespaces.delete(name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => failed.push(format!(
                    "the drill namespace {name} was not deleted ({e}); delete it with `kubectl delete namespace {name}`"
                )),
            }
        }
        failed
    }
}

/// Whether a drill is due: none passed in the last `every_days`, with an hour's grace
/// so that a daily schedule's drift never skips a day.
fn is_due(last_passed: Option<DateTime<Utc>>, request: &DrillRequest) -> bool {
    let interval = TimeDelta::days(i64::from(request.every_days)) - TimeDelta::hours(1);
    last_passed.is_none_or(|t| request.drill_time - t >= interval)
}

/// Each tenant drilled and the namespace it goes to; a tenant asked for that the backup
/// does not hold is an error of the drill.
fn throwaway_namespaces(
    request: &DrillRequest,
    backed_up: &[String],
    errors: &mut Vec<RunError>,
) -> BTreeMap<String, String> {
    // Drills of several infrastructures may share a drill cluster and a scheduled time;
    // a short hash of the infrastructure's name (which may hold characters a namespace
    // may not) keeps their namespaces apart.
    let stamp = request.drill_time.format("%Y%m%d%H%M%S");
    let infrastructure = &crate::store::sha256_hex(request.infrastructure.as_bytes())[..8];
    let tenants: Vec<&String> = match &request.tenants {
        None => backed_up.iter().collect(),
        Some(asked) => {
            for missing in asked.iter().filter(|t| !backed_up.contains(t)) {
                errors.push(RunError {
                    tenant: Some(missing.clone()),
                    kind: None,
                    name: None,
                    message: "the backup holds no such tenant; check the drill's tenants".into(),
                });
            }
            asked.iter().filter(|t| backed_up.contains(t)).collect()
        }
    };
    if tenants.is_empty() && errors.is_empty() {
        errors.push(run_error("the backup holds no tenants to drill".into()));
    }
    tenants
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.clone(),
                format!("{NAMESPACE_PREFIX}{stamp}-{infrastructure}-{}", i + 1),
            )
        })
        .collect()
}

fn run_error(message: String) -> RunError {
    RunError {
        tenant: None,
        kind: None,
        name: None,
        message,
    }
}

/// The drill's line in the log: the alarms' metric filters read `status` and
/// `hours_since_passed`.
fn log(drill: &DrillRecord) {
    let status = drill.status.as_str();
    let infrastructure = drill.infrastructure.as_str();
    let backup = drill.backup.as_deref().unwrap_or_default();
    let hours_since_passed = drill.hours_since_passed;
    if drill.status == DrillStatus::Failed {
        tracing::error!(
            function = "drill",
            status,
            infrastructure,
            backup,
            hours_since_passed,
            mismatched = drill.objects.mismatched,
            errors = drill.errors.len(),
            "drill failed"
        );
    } else {
        tracing::info!(
            function = "drill",
            status,
            infrastructure,
            backup,
            hours_since_passed,
            verified = drill.objects.verified,
            "drill finished"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testing::defaults;
    use serde_json::json;

    fn request(tenants: Option<&[&str]>) -> DrillRequest {
        let mut e = json!({ "infrastructure": "prod", "cluster": "drills", "scheduled_time": "2026-12-05T06:00:00Z" });
        if let Some(t) = tenants {
            e["tenants"] = json!(t);
        }
        DrillRequest::from_event(e, &defaults(), "2026-12-05T06:00:00Z".parse().unwrap()).unwrap()
    }

    #[test]
    fn a_drill_is_due_when_none_passed_in_the_interval_less_an_hours_grace() {
        let r = request(None);
        let ago = |hours| Some(r.drill_time - TimeDelta::hours(hours));
        assert!(is_due(None, &r));
        assert!(!is_due(ago(24), &r));
        assert!(!is_due(ago(7 * 24 - 2), &r));
        assert!(is_due(ago(7 * 24 - 1), &r));
        assert!(is_due(ago(30 * 24), &r));
    }

    #[test]
    fn each_tenant_gets_its_own_throwaway_namespace_and_a_missing_one_is_an_error() {
        let backed_up = vec!["billing".to_string(), "shop".to_string()];
        let mut errors = Vec::new();
        let all = throwaway_namespaces(&request(None), &backed_up, &mut errors);
        let prod = &crate::store::sha256_hex(b"prod")[..8];
        assert_eq!(errors, vec![]);
        assert_eq!(
            all,
            BTreeMap::from([
                ("billing".into(), format!("lifeboat-drill-20261205060000-{prod}-1")),
                ("shop".into(), format!("lifeboat-drill-20261205060000-{prod}-2")),
            ])
        );
        let some = throwaway_namespaces(&request(Some(&["shop", "gone"])), &backed_up, &mut errors);
        assert_eq!(some.keys().collect::<Vec<_>>(), vec!["shop"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].tenant.as_deref(), Some("gone"));
        let mut errors = Vec::new();
        assert!(throwaway_namespaces(&request(None), &[], &mut errors).is_empty());
        assert_eq!(errors[0].message, "the backup holds no tenants to drill");
    }
}
