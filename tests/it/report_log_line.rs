//! The deployment's "no successful backup" alarm counts report lines with a CloudWatch
//! metric filter (terraform/alarms.tf). That only works while the line the functions
//! print carries the fields the filter names, so this pins the two together.

use lifeboat_tests::{Stack, unique};
use serde_json::{Value, json};

/// The report lines the functions printed for `infrastructure`.
fn report_lines(stack: &Stack, infrastructure: &str) -> Vec<Value> {
    stack
        .function_logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "report" && line["fields"]["infrastructure"] == infrastructure)
        .map(|line| line["fields"].clone())
        .collect()
}

/// What the filter's pattern matches: a backup whose run completed, now or before.
fn counted_as_success(fields: &Value) -> bool {
    fields["function"] == "backup" && (fields["status"] == "Completed" || fields["status"] == "AlreadyCompleted")
}

#[tokio::test]
async fn each_backup_prints_the_status_and_infrastructure_the_alarm_counts() {
    let alarms = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../terraform/alarms.tf")).unwrap();
    for field in [
        "$.fields.function = \\\"backup\\\"",
        "$.fields.status = \\\"Completed\\\"",
        "$.fields.status = \\\"AlreadyCompleted\\\"",
        "Infrastructure = \"$.fields.infrastructure\"",
    ] {
        assert!(
            alarms.contains(field),
            "terraform/alarms.tf no longer filters on {field}"
        );
    }

    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("alarm").await;
    let infra = unique("infra");
    let event = stack.backup_event(&infra, &[tenant.namespace.as_str()], "2026-11-22T13:00:00Z");
    stack.report("backup", &event).await;
    // The scheduler's retry of the same run.
    stack.report("backup", &event).await;
    let mut disabled = event.clone();
    disabled["settings"]["IsEnabled"] = json!(false);
    stack.report("backup", &disabled).await;

    let lines = report_lines(&stack, &infra);
    let statuses: Vec<&str> = lines.iter().map(|l| l["status"].as_str().unwrap_or("?")).collect();
    assert_eq!(statuses, ["Completed", "AlreadyCompleted", "Disabled"], "{lines:#?}");
    let successes: Vec<bool> = lines.iter().map(counted_as_success).collect();
    assert_eq!(successes, [true, true, false]);
    assert!(lines.iter().all(|l| l["function"] == "backup"));
}
