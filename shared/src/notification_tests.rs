//! The run event: what it says of a report or a failure, that it names no object, and
//! that a bus refusing it leaves the run's result alone.

use super::*;
use crate::audit::AuditStatus;
use crate::manifest::RunError;
use crate::report::{Action, ObjectResult, Status};
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_smithy_mocks::{mock, mock_client};
use chrono::Utc;

fn report() -> Report {
    let audit = AuditStatus::Audited { trail: "t".into() };
    let mut report = Report::new("backup", "prod", "prod-eks", "lifeboat-backups", Utc::now(), audit);
    report.run_path = Some("2026/11/22/130000".into());
    for (tenant, name, action) in [
        ("billing", "db-credentials", Action::BackedUp),
        ("billing", "tls-cert", Action::BackedUp),
        ("shop", "api-token", Action::Failed),
    ] {
        report.record(ObjectResult {
            tenant: Some(tenant.into()),
            target_namespace: None,
            kind: "Secret".into(),
            name: name.into(),
            action,
            reason: Some("S3 SlowDown".into()),
        });
    }
    report.error(RunError {
        tenant: Some("shop".into()),
        kind: Some("Secret".into()),
        name: None,
        message: "S3 PutObject failed".into(),
    });
    report.finish(Utc::now())
}

#[test]
fn a_report_becomes_a_summary_that_names_no_object() {
    let event = RunEvent::of("backup", &json!({}), &Ok(report()));
    assert_eq!(event.detail_type, "lifeboat backup PartiallyFailed");
    let detail = &event.detail;
    assert_eq!(detail["status"], "PartiallyFailed");
    assert_eq!(
        (detail["infrastructure"].as_str(), detail["cluster"].as_str()),
        (Some("prod"), Some("prod-eks"))
    );
    assert_eq!(detail["run_path"], "2026/11/22/130000");
    assert_eq!(detail["objects"], json!({ "backed-up": 2, "failed": 1 }));
    assert_eq!(detail["error_count"], 1);
    assert_eq!(detail["errors"][0]["message"], "S3 PutObject failed");
    let text = detail.to_string();
    for name in ["db-credentials", "tls-cert", "api-token"] {
        assert!(!text.contains(name), "the event names {name}: {text}");
    }
}

#[test]
fn a_failed_run_names_its_error_and_only_what_the_event_gave_as_names() {
    let failed: crate::Result<Report> = Err(crate::Error::BackupNotFound {
        infrastructure: "prod".into(),
        backup: "latest".into(),
        bucket: "lifeboat-backups".into(),
    });
    let event = RunEvent::of(
        "restore",
        &json!({ "infrastructure": "prod", "cluster": { "not": "a name" } }),
        &failed,
    );
    assert_eq!(event.detail_type, "lifeboat restore Failed");
    assert_eq!(event.detail["error_type"], "BackupNotFound");
    assert_eq!(event.detail["infrastructure"], "prod");
    assert_eq!(event.detail["cluster"], Value::Null);
    assert!(event.detail["message"].as_str().unwrap().contains("latest"));
}

#[test]
fn every_status_has_its_detail_type() {
    for (status, says) in [
        (Status::Completed, "Completed"),
        (Status::AlreadyRunning, "AlreadyRunning"),
        (Status::Disabled, "Disabled"),
    ] {
        let mut report = report();
        report.status = status;
        assert_eq!(
            RunEvent::of("backup", &json!({}), &Ok(report)).detail_type,
            format!("lifeboat backup {says}")
        );
    }
}

#[tokio::test]
async fn the_event_goes_to_the_bus_with_lifeboat_as_its_source() {
    let put = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            let entry = &r.entries()[0];
            r.entries().len() == 1
                && entry.event_bus_name() == Some("ops")
                && entry.source() == Some(SOURCE)
                && entry.detail_type() == Some("lifeboat backup PartiallyFailed")
                && entry
                    .detail()
                    .is_some_and(|d| d.contains("\"status\":\"PartiallyFailed\""))
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let notifier = Notifier::with_client(mock_client!(aws_sdk_eventbridge, [&put]), "ops");
    notifier
        .publish(RunEvent::of("backup", &json!({}), &Ok(report())))
        .await;
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn a_bus_that_refuses_the_event_leaves_the_run_alone_and_none_is_sent_when_off() {
    let refused = mock!(aws_sdk_eventbridge::Client::put_events)
        .then_error(|| aws_sdk_eventbridge::operation::put_events::PutEventsError::unhandled("AccessDeniedException"));
    let notifier = Notifier::with_client(mock_client!(aws_sdk_eventbridge, [&refused]), "default");
    notifier
        .publish(RunEvent::of("backup", &json!({}), &Ok(report())))
        .await;
    assert_eq!(refused.num_calls(), 1);
    let sdk = aws_config::SdkConfig::builder().build();
    Notifier::new(&sdk, None)
        .publish(RunEvent::of("backup", &json!({}), &Ok(report())))
        .await;
}
