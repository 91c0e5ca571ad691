//! The backup setting's rules, through the real backup function: each bad value is
//! refused with a message naming the field and the rule, and nothing reaches S3.

use lifeboat_tests::{Invocation, Stack, unique};
use serde_json::{Value, json};

const TIME: &str = "2026-11-22T13:00:00Z";

/// How a message shows the bad value of `field`, or the field itself when it is missing.
fn got(settings: &Value, field: &str) -> String {
    settings.get(field).map_or(field.to_string(), |v| format!("got {v}"))
}

async fn refused(stack: &Stack, event: &Value) -> (String, String) {
    match stack.invoke("backup", event).await {
        Invocation::Failed { error_type, message } => (error_type, message),
        Invocation::Report(report) => panic!("the event {event} was accepted: {report}"),
    }
}

#[tokio::test]
async fn each_bad_setting_is_refused_with_its_rule_and_nothing_is_written() {
    let stack = Stack::connect().await;
    let tenant = stack.new_tenant("settings").await;
    let infra = unique("infra");
    // (setting, the field, the words of the one rule it breaks)
    let table: Vec<(Value, &str, &str)> = vec![
        (
            json!({ "IsEnabled": true, "IntervalInHours": "1.5", "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "written as a string must be digits only",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": 1.5, "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "must be a whole number of hours",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": 0, "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "must be at least 1 hour",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": -1, "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "must be at least 1 hour",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": "", "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "written as a string must be digits only",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": "abc", "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "written as a string must be digits only",
        ),
        (
            json!({ "IsEnabled": true, "K8sResourceKinds": ["Secret"] }),
            "IntervalInHours",
            "is missing IntervalInHours",
        ),
        (
            json!({ "IsEnabled": "yes", "IntervalInHours": 1, "K8sResourceKinds": ["Secret"] }),
            "IsEnabled",
            "must be true or false",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": [] }),
            "K8sResourceKinds",
            "must name at least one kind",
        ),
        (
            json!({ "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": "Secret" }),
            "K8sResourceKinds",
            "must be a list of kind names",
        ),
    ];
    // Each message says its own rule and none of the others'.
    let rules: std::collections::BTreeSet<&str> = table.iter().map(|(_, _, rule)| *rule).collect();
    for (settings, field, rule) in &table {
        let mut event = stack.backup_event(&infra, &[&tenant], TIME);
        event["settings"] = settings.clone();
        let (error_type, message) = refused(&stack, &event).await;
        assert_eq!(error_type, "InvalidEvent", "{settings}: {message}");
        assert!(
            message.contains(field) && message.contains(rule) && message.contains(&got(settings, field)),
            "{settings} gave: {message}"
        );
        for other in rules.iter().filter(|r| *r != rule) {
            assert!(
                !message.contains(other),
                "{settings} gave: {message}, which also says {other}"
            );
        }
    }

    // A kind the cluster does not serve is named, not skipped.
    let mut event = stack.backup_event(&infra, &[&tenant], TIME);
    event["settings"]["K8sResourceKinds"] = json!(["Secret", "Secrets"]);
    let (error_type, message) = refused(&stack, &event).await;
    assert_eq!(error_type, "UnknownKind");
    assert!(message.contains("'Secrets'"), "{message}");

    assert!(
        stack
            .keys_under("2026/11/22/130000/infra/")
            .await
            .iter()
            .all(|k| !k.contains(&infra)),
        "a refused run wrote to S3"
    );
}

#[tokio::test]
async fn the_interval_may_be_an_integer_or_a_digit_string() {
    let stack = Stack::connect().await;
    let tenant = stack.new_tenant("interval").await;
    for interval in [json!(6), json!("6")] {
        let infra = unique("infra");
        let mut event = stack.backup_event(&infra, &[&tenant], TIME);
        event["settings"]["IntervalInHours"] = interval;
        assert_eq!(stack.report("backup", &event).await["status"], "Completed");
    }
}

#[tokio::test]
async fn a_disabled_setting_reports_disabled_and_touches_nothing() {
    let stack = Stack::connect().await;
    let tenant = stack.new_tenant("disabled").await;
    let infra = unique("infra");
    let mut event = stack.backup_event(&infra, &[&tenant], TIME);
    event["settings"]["IsEnabled"] = json!(false);
    let report = stack.report("backup", &event).await;
    assert_eq!(report["status"], "Disabled", "{report}");
    assert!(
        stack
            .keys_under("2026/11/22/130000/infra/")
            .await
            .iter()
            .all(|k| !k.contains(&infra))
    );
}

#[tokio::test]
async fn a_misspelt_event_field_is_refused_rather_than_ignored() {
    let stack = Stack::connect().await;
    let mut event = stack.restore_event("prod");
    event["tenant"] = json!(["billing"]);
    match stack.invoke("restore", &event).await {
        Invocation::Failed { error_type, message } => {
            assert_eq!(error_type, "InvalidEvent");
            assert!(message.contains("tenant"), "{message}");
        }
        Invocation::Report(report) => panic!("accepted: {report}"),
    }
}
