//! Retention through the real function: runs past the retention days go, but each
//! infrastructure's newest complete backups stay whatever their age, and Object Lock
//! has the last word.

use aws_sdk_s3::primitives::DateTime as S3Time;
use aws_sdk_s3::types::{ObjectLockRetention, ObjectLockRetentionMode};
use lifeboat_tests::storage::{manifest_key, put};
use lifeboat_tests::{Invocation, Stack, unique};
use serde_json::{Value, json};

/// Every version under a run's folder of one infrastructure, with its key.
async fn versions_of(stack: &Stack, infra: &str, run: &str) -> Vec<(String, String)> {
    let prefix = format!("{run}/infra/{infra}/k8s/");
    let page = stack
        .s3
        .list_object_versions()
        .bucket(&stack.bucket)
        .prefix(&prefix)
        .send()
        .await
        .unwrap();
    page.versions()
        .iter()
        .map(|v| (v.key().unwrap().to_string(), v.version_id().unwrap().to_string()))
        .collect()
}

/// Lets time pass for Object Lock: the run's versions are retained no longer, as they
/// would not be once the retention days have gone by. (The stack's bucket holds every
/// version for a day.)
async fn lock_lapsed(stack: &Stack, infra: &str, run: &str) {
    for (key, version) in versions_of(stack, infra, run).await {
        stack
            .s3
            .put_object_retention()
            .bucket(&stack.bucket)
            .key(&key)
            .version_id(&version)
            .bypass_governance_retention(true)
            .retention(
                ObjectLockRetention::builder()
                    .mode(ObjectLockRetentionMode::Governance)
                    .retain_until_date(S3Time::from_secs(1_767_225_600))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn runs_of(report: &Value, infra: &str, field: &str) -> Vec<String> {
    report["infrastructures"][infra][field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} of {infra}: {report}"))
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn old_runs_go_but_the_newest_complete_ones_stay_whatever_their_age_and_locked_ones_are_held() {
    let stack = Stack::connect().await;
    let infra = unique("retention");
    let ns = stack.small_tenant("retention").await;
    let an_hour_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let recent = an_hour_ago.format("%Y-%m-%dT%H:00:00Z").to_string();
    let recent_run = an_hour_ago.format("%Y/%m/%d/%H0000").to_string();
    // Newest first: a recent complete run, one that failed in part, two old complete
    // ones, an older complete one, and one that died before its manifest.
    let times = [
        (recent.as_str(), true),
        ("2026-11-04T00:00:00Z", false),
        ("2026-11-03T00:00:00Z", true),
        ("2026-11-02T00:00:00Z", true),
        ("2026-11-01T00:00:00Z", true),
    ];
    for (time, whole) in times {
        let tenants: Vec<&str> = if whole { vec![&ns] } else { vec![&ns, "no-such-tenant"] };
        let report = stack
            .report("backup", &stack.backup_event(&infra, &tenants, time))
            .await;
        let expected = if whole { "Completed" } else { "PartiallyFailed" };
        assert_eq!(report["status"], expected, "{report}");
    }
    let died = "2026/10/30/000000";
    put(
        &stack,
        &format!("{died}/infra/{infra}/k8s/namespaces/{ns}/secrets.json"),
        b"{}".to_vec(),
    )
    .await;
    let old = [
        "2026/11/04/000000",
        "2026/11/03/000000",
        "2026/11/02/000000",
        "2026/11/01/000000",
        died,
    ];
    for run in old {
        lock_lapsed(&stack, &infra, run).await;
    }
    // Another infrastructure whose old run Object Lock still holds.
    let locked = unique("retention");
    for time in ["2026-11-03T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z"] {
        let report = stack.report("backup", &stack.backup_event(&locked, &[&ns], time)).await;
        assert_eq!(report["status"], "Completed", "{report}");
    }

    let event = |dry_run: bool| json!({"retention_days": 7, "keep_completed": 2, "infrastructures": [infra, locked], "dry_run": dry_run});
    let mut before = Vec::new();
    for run in old {
        before.push(versions_of(&stack, &infra, run).await);
    }
    let dry = stack.report("retention", &event(true)).await;
    for (run, versions) in old.iter().zip(before) {
        assert_eq!(
            versions_of(&stack, &infra, run).await,
            versions,
            "a dry run deleted some of {run}: {dry}"
        );
    }

    let report = stack.report("retention", &event(false)).await;
    // The recent run is within the days; of the old ones, the newest complete one is
    // kept as the second of the two newest complete backups, whatever its age; the run
    // that failed in part, the older complete ones and the dead run go.
    assert_eq!(report["infrastructures"][&infra]["kept"], 1, "{report}");
    assert_eq!(
        runs_of(&report, &infra, "kept_as_newest_completed"),
        ["2026/11/03/000000"]
    );
    let deleted = ["2026/11/04/000000", "2026/11/02/000000", "2026/11/01/000000", died];
    assert_eq!(runs_of(&report, &infra, "deleted"), deleted);
    assert_eq!(
        runs_of(&dry, &infra, "deleted"),
        deleted,
        "the dry run named what the run deleted"
    );
    for run in deleted {
        assert!(
            versions_of(&stack, &infra, run).await.is_empty(),
            "{run} still holds versions"
        );
    }
    assert_eq!(
        lifeboat_tests::storage::versions(&stack, &manifest_key(&infra, "2026/11/03/000000")).await,
        1
    );
    assert_eq!(
        lifeboat_tests::storage::versions(&stack, &manifest_key(&infra, &recent_run)).await,
        1
    );

    // Object Lock has the last word: the locked infrastructure's older run is due, but
    // S3 refuses, and nothing of it goes, its manifest first.
    assert_eq!(
        runs_of(&report, &locked, "kept_as_newest_completed"),
        ["2026/11/03/000000", "2026/11/02/000000"]
    );
    let held = runs_of(&report, &locked, "held");
    assert!(
        held.len() == 1
            && held[0].starts_with("2026/11/01/000000: Object Lock holds")
            && held[0].contains("retained until"),
        "{report}"
    );
    assert_eq!(
        lifeboat_tests::storage::versions(&stack, &manifest_key(&locked, "2026/11/01/000000")).await,
        1
    );

    // The catalog lists what is left.
    let list = stack
        .report(
            "catalog",
            &json!({"action": "list", "infrastructure": infra, "from": "2026-10-01T00:00:00Z"}),
        )
        .await;
    let left: Vec<&str> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup"].as_str().unwrap())
        .collect();
    assert_eq!(left, [recent_run.as_str(), "2026/11/03/000000"], "{list}");

    match stack.invoke("retention", &json!({"retention_days": 0})).await {
        Invocation::Failed { error_type, message } => {
            assert_eq!(error_type, "InvalidEvent");
            assert!(
                message.contains("retention_days must be a whole number of days from 1 to 36500"),
                "{message}"
            );
        }
        Invocation::Report(report) => panic!("a retention of 0 days ran: {report}"),
    }
}
