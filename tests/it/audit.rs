//! The audit check against the AWS emulator's CloudTrail: the functions report the
//! stack's trail, and a restore that a trail would not record is refused when auditing
//! is required. The stack's trail is shared by every test running in parallel and is
//! never stopped; the cases that need a trail in another state make a trail of their
//! own and run the library with it, as the binaries' environment cannot vary per test.

use aws_sdk_cloudtrail::types::ReadWriteType;
use lifeboat::audit::{Audit, AuditConfig, AuditStatus};
use lifeboat::backup::Backup;
use lifeboat::cluster::ClusterAccess;
use lifeboat::event::{BackupRequest, Defaults, Invocation, RestoreRequest};
use lifeboat::report::{Report, Status};
use lifeboat::restore::Restore;
use lifeboat_tests::trails::{Logging, Trails, covering, selector};
use lifeboat_tests::{Stack, count, unique};
use serde_json::json;

const TIME: &str = "2026-11-22T13:00:00Z";
const RESTORE_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:lifeboat-restore";
const BACKUP_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:lifeboat-backup";

/// The check the functions run, with `trail` in place of the stack's.
async fn audit_with(trail: &str, required: bool) -> Audit {
    let config = AuditConfig {
        trail_arn: Some(trail.to_string()),
        required,
    };
    Audit::new(lifeboat::audit::cloudtrail_client(&lifeboat::aws::load().await), config)
}

fn invoked_as(function_arn: &str) -> Invocation {
    Invocation {
        function_arn: Some(function_arn.into()),
        deadline: None,
    }
}

/// A tenant backed up through the backup function, with one of its Secrets deleted since,
/// so a restore that runs would create it again: its namespace, the infrastructure
/// backed up, and the backup's report.
async fn backed_up_tenant_missing_a_secret(stack: &Stack, prefix: &str) -> (String, String, serde_json::Value) {
    let tenant = stack.seed_tenant(prefix).await;
    let infra = unique("infra");
    let report = stack
        .report("backup", &stack.backup_event(&infra, &[&tenant.namespace], TIME))
        .await;
    assert_eq!(report["status"], "Completed", "{report}");
    stack
        .secrets(&tenant.namespace)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();
    (tenant.namespace, infra, report)
}

fn restore_request(stack: &Stack, infra: &str) -> RestoreRequest {
    RestoreRequest::from_event(stack.restore_event(infra), &Defaults::default()).unwrap()
}

async fn restore_with(stack: &Stack, s3: aws_sdk_s3::Client, audit: Audit, infra: &str) -> lifeboat::Result<Report> {
    Restore::new(ClusterAccess::Kubeconfig { path: None }, s3, audit)
        .run(&restore_request(stack, infra), &invoked_as(RESTORE_ARN))
        .await
}

/// An S3 client that reaches nothing: nothing listens on port 1 of the loopback.
async fn unreachable_s3() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&lifeboat::aws::load().await)
        .endpoint_url("http://127.0.0.1:1")
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn refusal(run: lifeboat::Result<Report>) -> lifeboat::Error {
    match run {
        Err(e @ lifeboat::Error::NotAudited(_)) => e,
        Err(other) => panic!("the restore failed otherwise: {other}"),
        Ok(report) => panic!("an unaudited restore ran: {report:?}"),
    }
}

#[tokio::test]
async fn a_backup_and_a_restore_through_the_functions_report_the_trail_that_audits_them() {
    let stack = Stack::connect().await;
    let trails = Trails::connect().await;
    let (ns, infra, backup) = backed_up_tenant_missing_a_secret(&stack, "audited").await;
    let audited = json!({ "status": "audited", "trail": trails.stack_trail });

    assert_eq!(backup["audit"], audited, "{backup}");
    let restore = stack.report("restore", &stack.restore_event(&infra)).await;
    assert_eq!(restore["status"], "Completed", "{restore}");
    assert_eq!(restore["audit"], audited, "{restore}");
    assert_eq!(count(&restore, &ns, "Secret", "created"), 1);
}

#[tokio::test]
async fn a_required_audit_refuses_a_restore_while_the_trail_is_stopped_before_reading_or_writing_anything() {
    let stack = Stack::connect().await;
    let trails = Trails::connect().await;
    let (ns, infra, _) = backed_up_tenant_missing_a_secret(&stack, "stopped").await;
    let before = stack.configuration(&ns).await;
    let trail = trails.create(covering(&stack.bucket), Logging::Stopped).await;

    let err = refusal(restore_with(&stack, stack.s3.clone(), audit_with(&trail, true).await, &infra).await);
    assert_eq!(err.error_type(), "NotAudited");
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains(&trail)
            && message.contains("not logging")
            && message.contains("start-logging")
            && message.contains("LIFEBOAT_AUDIT_REQUIRED=false"),
        "{message}"
    );
    assert_eq!(
        stack.configuration(&ns).await,
        before,
        "a refused restore wrote to the cluster"
    );

    // With a bucket that cannot be reached, the refusal is the same: nothing was read.
    let err = refusal(restore_with(&stack, unreachable_s3().await, audit_with(&trail, true).await, &infra).await);
    assert_eq!(err.error_type(), "NotAudited", "{err}");
}

#[tokio::test]
async fn a_required_audit_refuses_a_restore_the_trail_does_not_record_in_the_bucket() {
    let stack = Stack::connect().await;
    let trails = Trails::connect().await;
    let (ns, infra, _) = backed_up_tenant_missing_a_secret(&stack, "uncovered").await;
    let before = stack.configuration(&ns).await;
    // Logging, and recording every function, but the objects of another bucket only.
    let elsewhere = selector(
        ReadWriteType::All,
        &[
            ("AWS::S3::Object", "arn:aws:s3:::some-other-bucket/"),
            ("AWS::Lambda::Function", "arn:aws:lambda"),
        ],
    );
    let trail = trails.create(vec![elsewhere], Logging::On).await;

    let err = refusal(restore_with(&stack, stack.s3.clone(), audit_with(&trail, true).await, &infra).await);
    let message = err.to_string();
    assert!(
        message.contains(&trail)
            && message.contains(&format!("arn:aws:s3:::{}/", stack.bucket))
            && message.contains("LIFEBOAT_AUDIT_REQUIRED=false"),
        "{message}"
    );
    assert!(!message.contains("not logging"), "{message}");
    assert_eq!(
        stack.configuration(&ns).await,
        before,
        "a refused restore wrote to the cluster"
    );

    // A trail that records only writes misses what restore does: it reads.
    let writes_only = selector(
        ReadWriteType::WriteOnly,
        &[
            ("AWS::S3::Object", &format!("arn:aws:s3:::{}/", stack.bucket)),
            ("AWS::Lambda::Function", RESTORE_ARN),
        ],
    );
    let trail = trails.create(vec![writes_only], Logging::On).await;
    let err = refusal(restore_with(&stack, stack.s3.clone(), audit_with(&trail, true).await, &infra).await);
    assert!(err.to_string().contains("object reads"), "{err}");
}

#[tokio::test]
async fn a_restore_that_does_not_require_auditing_proceeds_and_reports_it_is_not_audited() {
    let stack = Stack::connect().await;
    let trails = Trails::connect().await;
    let (ns, infra, _) = backed_up_tenant_missing_a_secret(&stack, "unrequired").await;
    let trail = trails.create(covering(&stack.bucket), Logging::Stopped).await;

    let report = restore_with(&stack, stack.s3.clone(), audit_with(&trail, false).await, &infra)
        .await
        .unwrap();
    assert_eq!(report.status, Status::Completed);
    let AuditStatus::NotAudited { trail: named, problems } = &report.audit else {
        panic!("{:?}", report.audit)
    };
    assert_eq!(named, &trail);
    assert!(
        problems.len() == 1 && problems[0].contains("not logging"),
        "{problems:?}"
    );
    assert!(
        stack.secrets(&ns).get_opt("db-credentials").await.unwrap().is_some(),
        "the restore did not run"
    );
}

#[tokio::test]
async fn a_backup_completes_while_the_trail_is_stopped_and_reports_it_is_not_audited() {
    let stack = Stack::connect().await;
    let trails = Trails::connect().await;
    let tenant = stack.seed_tenant("unaudited").await;
    let infra = unique("infra");
    let trail = trails.create(covering(&stack.bucket), Logging::Stopped).await;
    // Required or not, backup never refuses.
    let backup = Backup::new(
        ClusterAccess::Kubeconfig { path: None },
        stack.s3.clone(),
        None,
        audit_with(&trail, true).await,
    );
    let request = BackupRequest::from_event(
        stack.backup_event(&infra, &[&tenant.namespace], TIME),
        &Defaults::default(),
        chrono::Utc::now(),
    )
    .unwrap();

    let report = backup.run(&request, &invoked_as(BACKUP_ARN)).await.unwrap();
    assert_eq!(report.status, Status::Completed);
    let json = serde_json::to_value(&report.audit).unwrap();
    assert_eq!(json["status"], "not_audited", "{json}");
    assert_eq!(json["trail"], json!(trail));
    assert!(json["problems"][0].as_str().unwrap().contains("not logging"), "{json}");
    let manifest = format!("2026/11/22/130000/infra/{infra}/k8s/manifest.json");
    assert!(
        stack.keys_under(&manifest).await.contains(&manifest),
        "the unaudited backup was not committed"
    );
}
