//! Reaching the cluster as EKS expects: DescribeCluster from the AWS emulator, and a
//! presigned STS token that the API server hands to a token-review webhook, which
//! checks it as the EKS authenticator does and recomputes its signature with botocore.
//! Nothing on the Kubernetes side is mocked.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use lifeboat::backup::Backup;
use lifeboat::cluster::{ClusterAccess, ClusterError};
use lifeboat::eks::{Clock, EksAccess, TOKEN_LIFETIME, presigned_token};
use lifeboat::event::{BackupRequest, Defaults};
use lifeboat_tests::eks::{EksStack, REGION, Role, accepted, client_with_fixed_token};
use lifeboat_tests::{Invocation, action_of, count, eventually, expect_report, unique};
use serde_json::json;

const TIME: &str = "2026-11-22T13:00:00Z";

fn refused(invocation: Invocation) -> (String, String) {
    match invocation {
        Invocation::Failed { error_type, message } => (error_type, message),
        Invocation::Report(report) => panic!("the run was let in: {report}"),
    }
}

/// A clock the test moves, as a long run would move the real one.
fn movable_clock(offset_seconds: i64) -> (Clock, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(offset_seconds));
    let read = offset.clone();
    let clock: Clock = Arc::new(move || {
        let offset = read.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_secs(offset as u64)
        } else {
            now - Duration::from_secs(offset.unsigned_abs())
        }
    });
    (clock, offset)
}

#[tokio::test]
async fn a_backup_and_a_restore_get_in_with_their_role_token_alone() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    let tenant = stack.seed_tenant("eks").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let before = stack.configuration(ns).await;

    let event = stack.backup_event(&infra, &[ns], TIME);
    let report = expect_report("backup", eks.invoke_as(Role::Backup, "backup", &event).await);
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(count(&report, ns, "Secret", "backed-up"), 5);

    stack.delete_namespace(ns).await;
    let report = expect_report(
        "restore",
        eks.invoke_as(Role::Restore, "restore", &stack.restore_event(&infra))
            .await,
    );
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(stack.configuration(ns).await, before);

    let log = eks.webhook_log_text();
    for user in ["lifeboat-backup", "lifeboat-restore"] {
        assert!(log.contains(user), "the webhook never authenticated {user}:\n{log}");
    }
}

#[tokio::test]
async fn no_token_or_role_credential_appears_in_logs_or_reports() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    let tenant = stack.seed_tenant("eksleak").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let mut printed = Vec::new();
    let backup = eks
        .invoke_as(Role::Backup, "backup", &stack.backup_event(&infra, &[ns], TIME))
        .await;
    printed.push(format!("{backup:?}"));
    let mut other = stack.backup_event(&infra, &[ns], TIME);
    other["cluster"] = json!("lifeboat-other");
    printed.push(format!("{:?}", eks.invoke_as(Role::Backup, "backup", &other).await));
    printed.push(format!(
        "{:?}",
        eks.invoke_as(Role::Restore, "restore", &stack.restore_event(&infra))
            .await
    ));

    for instance in ["eks-backup", "eks-restore"] {
        let secrets = eks.instance_secrets(instance);
        let log = eks.instance_log(instance);
        assert!(
            log.contains(&infra),
            "the {instance} log does not hold this test's runs, so it proves nothing"
        );
        for needle in secrets
            .iter()
            .map(String::as_str)
            .chain(["k8s-aws-v1.", "X-Amz-Signature"])
        {
            assert!(!log.contains(needle), "a credential or token is in the {instance} log");
            assert!(
                printed.iter().all(|p| !p.contains(needle)),
                "a credential or token is in a report"
            );
        }
    }
}

#[tokio::test]
async fn the_backup_role_may_read_but_not_write() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    let tenant = stack.seed_tenant("leastprivilege").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    expect_report(
        "backup",
        eks.invoke_as(Role::Backup, "backup", &stack.backup_event(&infra, &[ns], TIME))
            .await,
    );
    stack
        .secrets(ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();

    let report = expect_report(
        "restore",
        eks.invoke_as(Role::Backup, "restore", &stack.restore_event(&infra))
            .await,
    );
    assert_eq!(report["status"], "PartiallyFailed", "{report}");
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "failed");
    let reason = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "db-credentials")
        .unwrap()["reason"]
        .to_string();
    assert!(
        reason.contains("forbidden") && reason.contains("lifeboat-backup"),
        "{reason}"
    );
    assert!(
        stack.secrets(ns).get_opt("db-credentials").await.unwrap().is_none(),
        "the backup role wrote a secret"
    );
}

/// What each of the three refusals says, so that each test checks its message names
/// its own cause and neither of the others.
const CAUSES: [&str; 3] = ["had expired", "signature does not verify", "serves another cluster"];

fn assert_names_only(message: &str, cause: &str) {
    assert!(message.contains(cause), "{message}");
    for other in CAUSES.iter().filter(|c| **c != cause) {
        assert!(!message.contains(other), "{message} also says {other}");
    }
}

#[tokio::test]
async fn a_token_for_another_cluster_is_refused_and_the_error_says_so() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    let ns = stack.new_tenant("othercluster").await;
    let infra = unique("infra");
    // lifeboat-other is described by EKS with this same API server behind it, so the
    // token reaches the webhook, signed for the wrong cluster name.
    let mut event = stack.backup_event(&infra, &[&ns], TIME);
    event["cluster"] = json!("lifeboat-other");
    let request = BackupRequest::from_event(event, &Defaults::default(), chrono::Utc::now()).unwrap();
    let credentials = eks.role_credentials(Role::Backup).await;
    let backup = Backup::new(
        ClusterAccess::Eks(Box::new(EksAccess::new(EksStack::sdk_with(credentials.clone()).await))),
        stack.s3.clone(),
        None,
        stack.audit().await,
    );
    let err = backup.run(&request, &Default::default()).await.unwrap_err();
    assert_eq!(err.error_type(), "ClusterUnauthorized", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("'lifeboat-other'") && message.contains("401"),
        "{message}"
    );
    assert_names_only(&message, "serves another cluster");
    assert!(
        message.contains("assumed-role/lifeboat-backup"),
        "STS's name for the signer: {message}"
    );
    let refusals = eks.webhook_refusals_of(credentials.access_key_id());
    assert!(
        refusals
            .iter()
            .any(|r| r.starts_with("signature mismatch for cluster lifeboat-local")),
        "the webhook did not refuse this test's token for its cluster: {refusals:?}"
    );
    assert!(
        stack
            .keys_under(&format!("2026/11/22/130000/infra/{infra}/"))
            .await
            .is_empty(),
        "a refused run wrote to S3"
    );
}

#[tokio::test]
async fn a_cluster_that_is_missing_or_not_active_is_named_with_its_region() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    for (cluster, expected) in [
        ("no-such-cluster", "has no cluster"),
        ("lifeboat-creating", "not ACTIVE"),
    ] {
        let mut event = stack.backup_event(&unique("infra"), &["default"], TIME);
        event["cluster"] = json!(cluster);
        let (error_type, message) = refused(eks.invoke_as(Role::Backup, "backup", &event).await);
        assert_eq!(error_type, "ClusterNotAvailable", "{message}");
        assert!(
            message.contains(cluster) && message.contains(REGION) && message.contains(expected),
            "{message}"
        );
    }
}

async fn backup_request(eks: &EksStack, tenant: &str) -> BackupRequest {
    let event = eks.stack.backup_event(&unique("infra"), &[tenant], TIME);
    BackupRequest::from_event(event, &Defaults::default(), chrono::Utc::now()).unwrap()
}

async fn run_backup(eks: &EksStack, access: EksAccess, tenant: &str) -> lifeboat::Result<lifeboat::report::Report> {
    let backup = Backup::new(
        ClusterAccess::Eks(Box::new(access)),
        eks.stack.s3.clone(),
        None,
        eks.stack.audit().await,
    );
    backup
        .run(&backup_request(eks, tenant).await, &Default::default())
        .await
}

#[tokio::test]
async fn an_expired_token_is_refused_and_the_error_names_the_clock() {
    let eks = EksStack::connect().await;
    let ns = eks.stack.new_tenant("expired").await;
    let credentials = eks.role_credentials(Role::Backup).await;
    // A function whose clock is 20 minutes behind signs tokens that are already too old.
    let (clock, _) = movable_clock(-20 * 60);
    let access = EksAccess {
        clock,
        ..EksAccess::new(EksStack::sdk_with(credentials.clone()).await)
    };
    let err = run_backup(&eks, access, &ns).await.unwrap_err();
    assert!(
        matches!(err, lifeboat::Error::Cluster(ClusterError::Refused { .. })),
        "{err}"
    );
    assert_eq!(err.error_type(), "ClusterUnauthorized");
    let message = err.to_string();
    assert_names_only(&message, "had expired");
    assert!(message.contains("behind the cluster's"), "{message}");
    let refusals = eks.webhook_refusals_of(credentials.access_key_id());
    assert!(
        refusals.iter().any(|r| r.starts_with("expired:")),
        "the webhook did not refuse this test's token for its age: {refusals:?}"
    );
}

#[tokio::test]
async fn a_tampered_signature_is_refused_and_the_error_names_the_signature() {
    let eks = EksStack::connect().await;
    let ns = eks.stack.new_tenant("tampered").await;
    let credentials = eks.role_credentials(Role::Backup).await;

    // A token whose signature was altered in transit.
    let access = EksAccess::new(EksStack::sdk_with(credentials.clone()).await);
    let (config, _) = access.connect(&eks.stack.cluster, REGION, None).await.unwrap();
    let good = presigned_token(&credentials, &eks.stack.cluster, REGION, SystemTime::now()).unwrap();
    assert!(
        accepted(&client_with_fixed_token(config.clone(), &good)).await,
        "the untampered token must be accepted"
    );
    let url = String::from_utf8(base64_url(&good)).unwrap();
    let signature_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered_url = url.clone().into_bytes();
    tampered_url[signature_at] = if tampered_url[signature_at] == b'0' { b'1' } else { b'0' };
    let tampered = format!("k8s-aws-v1.{}", encode_url(&tampered_url));
    assert!(
        !accepted(&client_with_fixed_token(config, &tampered)).await,
        "a tampered token was accepted"
    );

    // A whole run signing with the wrong secret for its access key fails the same way.
    let forged = aws_credential_types::Credentials::new(
        credentials.access_key_id(),
        "not-the-secret-for-this-key",
        credentials.session_token().map(str::to_string),
        None,
        "test",
    );
    let err = run_backup(&eks, EksAccess::new(EksStack::sdk_with(forged).await), &ns)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ClusterUnauthorized", "{err}");
    let message = err.to_string();
    assert_names_only(&message, "signature does not verify");
    assert!(message.contains("SignatureDoesNotMatch"), "STS's own code: {message}");
    let refusals = eks.webhook_refusals_of(credentials.access_key_id());
    assert!(
        refusals.iter().any(|r| r.starts_with("signature mismatch")),
        "the webhook did not refuse this test's token for its signature: {refusals:?}"
    );
}

#[tokio::test]
async fn a_run_that_outlives_its_token_signs_a_new_one_and_carries_on() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    let credentials = eks.role_credentials(Role::Backup).await;
    let sdk = EksStack::sdk_with(credentials.clone()).await;

    // Both clients start with a token that has a few seconds left to live: the function's
    // clock starts just under a token lifetime behind.
    let (clock, offset) = movable_clock(-(TOKEN_LIFETIME.as_secs() as i64 - 4));
    let refreshing = EksAccess {
        clock: clock.clone(),
        ..EksAccess::new(sdk.clone())
    };
    let never_refreshing = EksAccess {
        clock: clock.clone(),
        refresh_after: Duration::from_secs(3600),
        ..EksAccess::new(sdk)
    };
    let first = ClusterAccess::Eks(Box::new(refreshing))
        .client(&stack.cluster, REGION, None)
        .await
        .unwrap();
    let second = ClusterAccess::Eks(Box::new(never_refreshing))
        .client(&stack.cluster, REGION, None)
        .await
        .unwrap();

    // Wait until tokens of that age are refused: one signed now by the same clock is no
    // older than the ones the clients hold.
    let (config, _) = EksAccess {
        clock: clock.clone(),
        ..EksAccess::new(EksStack::sdk_with(credentials.clone()).await)
    }
    .connect(&stack.cluster, REGION, None)
    .await
    .unwrap();
    let probe = presigned_token(&credentials, &stack.cluster, REGION, clock()).unwrap();
    let probe = client_with_fixed_token(config, &probe);
    eventually("the clients' tokens have expired", Duration::from_secs(60), || {
        accepted_not(&probe)
    })
    .await;

    // The run goes on: its clock has moved on by the lifetime.
    offset.store(0, Ordering::SeqCst);
    assert!(
        accepted(&first).await,
        "the refreshing client was refused after its first token expired"
    );
    assert!(
        !accepted(&second).await,
        "without refresh the run would have failed, so the test proves nothing"
    );
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(first, "default");
    secrets
        .list(&Default::default())
        .await
        .expect("the run reads on with its new token");
}

async fn accepted_not(client: &kube::Client) -> bool {
    !accepted(client).await
}

fn base64_url(token: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.strip_prefix("k8s-aws-v1.").unwrap())
        .unwrap()
}

fn encode_url(url: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
}

#[tokio::test]
async fn sts_refusing_the_infrastructures_role_fails_the_run_before_anything_is_written() {
    let eks = EksStack::connect().await;
    let stack = &eks.stack;
    let ns = stack.new_tenant("assumerefused").await;
    let infra = unique("infra");
    // A cluster in another account: the run assumes the infrastructure's role first.
    let role_arn = "arn:aws:iam::123456789012:role/lifeboat-remote";
    let mut event = stack.backup_event(&infra, &[&ns], TIME);
    event["role_arn"] = json!(role_arn);
    event["external_id"] = json!("fleet-7");
    let request = BackupRequest::from_event(event, &Defaults::default(), chrono::Utc::now()).unwrap();
    // STS refuses the assumption, as it does when the role's trust policy does not
    // name the function's role or the external ID differs.
    let aws = std::env::var("AWS_ENDPOINT_URL").expect("the stack env is sourced");
    let proxy = lifeboat_tests::faults::Proxy::s3(&aws).await;
    proxy.script(|seen| {
        if seen.method == "POST" && seen.path == "/" {
            lifeboat_tests::faults::Fault::Answer {
                status: 403,
                headers: vec![("content-type", "text/xml".into())],
                body: "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
                       arn:aws:sts::123456789012:assumed-role/lifeboat-backup/run is not authorized to perform: \
                       sts:AssumeRole on resource: arn:aws:iam::123456789012:role/lifeboat-remote</Message></Error>\
                       <RequestId>fault</RequestId></ErrorResponse>"
                    .into(),
            }
        } else {
            lifeboat_tests::faults::Fault::Pass
        }
    });
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.url)
        .credentials_provider(eks.role_credentials(Role::Backup).await)
        .load()
        .await;
    let backup = Backup::new(
        ClusterAccess::Eks(Box::new(EksAccess::new(sdk))),
        stack.s3.clone(),
        None,
        stack.audit().await,
    );
    let err = backup.run(&request, &Default::default()).await.unwrap_err();
    assert_eq!(err.error_type(), "ClusterNotAvailable", "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("cannot assume role {role_arn}"))
            && message.contains("AccessDenied")
            && message.contains("trust policy (and external ID)"),
        "{message}"
    );
    // A refusal is an answer: asked once, not again; and the cluster was never asked.
    let seen = proxy.seen();
    assert_eq!(
        seen.iter().filter(|s| s.method == "POST" && s.path == "/").count(),
        1,
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|s| s.path.starts_with("/clusters")),
        "EKS was asked: {seen:?}"
    );
    let run = "2026/11/22/130000";
    assert!(stack.keys_under(&format!("{run}/infra/{infra}/")).await.is_empty());
    assert!(stack.keys_under(&format!("claims/{run}/{infra}.json")).await.is_empty());
}
