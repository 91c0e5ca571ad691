//! Secret values never appear in what the functions print or return: not in plain
//! text, not base64-encoded as the API carries them, and not at any log level.

use lifeboat_tests::{Stack, unique};
use serde_json::json;

/// Every way a value could leak: as stored, and base64 with each of the three
/// alignments, so a value embedded at any offset of an encoded field is still found.
fn encodings(marker: &str) -> Vec<String> {
    use k8s_openapi::ByteString;
    let mut found = vec![marker.to_string()];
    for pad in ["", "x", "xy"] {
        let encoded = serde_json::to_value(ByteString(format!("{pad}{marker}").into_bytes())).unwrap();
        let encoded = encoded.as_str().unwrap().to_string();
        // The first group of four holds the padding; the last may hold what follows
        // the marker in a real value. What lies between depends on the marker alone.
        let skip = if pad.is_empty() { 0 } else { 4 };
        found.push(encoded[skip..encoded.len() - 4].to_string());
    }
    found
}

#[tokio::test]
async fn no_secret_value_appears_in_logs_or_reports() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("leak").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let mut printed = Vec::new();

    let backup = stack
        .report("backup", &stack.backup_event(&infra, &[ns], "2026-11-22T13:00:00Z"))
        .await;
    printed.push(backup.to_string());
    stack.delete_namespace(ns).await;
    for (existing, dry_run) in [("skip", true), ("skip", false), ("overwrite", false)] {
        let mut event = stack.restore_event(&infra);
        event["existing"] = json!(existing);
        event["dry_run"] = json!(dry_run);
        printed.push(stack.report("restore", &event).await.to_string());
    }
    // A failure's message goes to the log and the caller too.
    let key = format!("2026/11/22/130000/infra/{infra}/k8s/namespaces/{ns}/secrets.json");
    stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(&key)
        .body(b"{\"tampered\":true}".to_vec().into())
        .send()
        .await
        .unwrap();
    printed.push(stack.report("restore", &stack.restore_event(&infra)).await.to_string());

    let logs = stack.function_logs();
    assert!(
        logs.contains(ns),
        "the emulator log does not hold this test's runs, so it proves nothing"
    );
    for needle in encodings(&tenant.marker) {
        assert!(
            !logs.contains(&needle),
            "a secret value ({needle}) is in the function logs"
        );
        for report in &printed {
            assert!(
                !report.contains(&needle),
                "a secret value ({needle}) is in a report: {report}"
            );
        }
    }
    // The check itself finds a value when one is there.
    let leaked = serde_json::to_string(&k8s_openapi::ByteString(format!("pw-{}", tenant.marker).into_bytes())).unwrap();
    assert!(encodings(&tenant.marker).iter().any(|n| leaked.contains(n.as_str())));
}

/// At `RUST_LOG=trace` the libraries under the functions would print what they send and
/// receive; the functions hold those libraries to levels that print no bodies.
#[tokio::test]
async fn at_trace_level_no_request_or_response_body_is_logged() {
    let stack = Stack::connect().await;
    let url = std::env::var("LIFEBOAT_TRACE_URL").expect("LIFEBOAT_TRACE_URL is set (infra/test.sh)");
    let log = std::env::var("LIFEBOAT_TRACE_LOG").expect("LIFEBOAT_TRACE_LOG is set (infra/test.sh)");
    let tenant = stack.seed_tenant("trace").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let backup = lifeboat_tests::expect_report(
        "backup",
        lifeboat_tests::invoke_at(
            &url,
            "backup",
            &stack.backup_event(&infra, &[ns], "2026-11-22T13:00:00Z"),
        )
        .await,
    );
    assert_eq!(backup["status"], "Completed", "{backup}");
    stack.delete_namespace(ns).await;
    for dry_run in [true, false] {
        let mut event = stack.restore_event(&infra);
        event["dry_run"] = json!(dry_run);
        let report = lifeboat_tests::expect_report("restore", lifeboat_tests::invoke_at(&url, "restore", &event).await);
        assert_eq!(report["status"], "Completed", "{report}");
    }

    let logs = std::fs::read_to_string(&log).expect("the trace instance's log reads");
    assert!(
        logs.contains(ns),
        "the trace log does not hold this test's runs, so it proves nothing"
    );
    assert!(
        logs.contains("\"level\":\"TRACE\""),
        "the instance does not log at trace level, so this proves nothing"
    );
    for needle in encodings(&tenant.marker) {
        assert!(
            !logs.contains(&needle),
            "a secret value ({needle}) is in the trace-level log"
        );
    }
    for credential in [
        "X-Amz-Security-Token",
        "x-amz-security-token",
        "k8s-aws-v1.",
        "BEGIN PRIVATE KEY",
    ] {
        assert!(!logs.contains(credential), "{credential} is in the trace-level log");
    }
}
