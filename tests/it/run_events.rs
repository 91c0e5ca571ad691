//! Each run's outcome as an event on the default EventBridge bus, routed by a rule (as
//! an operator routes failures to a pager) to a queue of the test's own, through the
//! real functions under the Lambda emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use lifeboat_tests::{Invocation, Stack, count_all, unique};
use serde_json::{Value, json};

const TIME: &str = "2026-11-22T13:00:00Z";

/// A queue that receives every lifeboat event about `infrastructure`.
async fn queue_for(infrastructure: &str) -> (aws_sdk_sqs::Client, String) {
    let sdk = lifeboat::aws::load().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let name = unique("run-events");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let pattern = json!({ "source": ["lifeboat"], "detail": { "infrastructure": [infrastructure] } });
    events
        .put_rule()
        .name(&name)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(arn)
        .build()
        .unwrap();
    events.put_targets().rule(&name).targets(target).send().await.unwrap();
    (sqs, url)
}

/// The events the queue has received, by detail type.
async fn received(sqs: &aws_sdk_sqs::Client, url: &str, into: &mut BTreeMap<String, Value>) {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    for message in out.messages() {
        let event: Value = serde_json::from_str(message.body().unwrap()).unwrap();
        into.insert(event["detail-type"].as_str().unwrap().to_string(), event);
    }
}

#[tokio::test]
async fn each_run_publishes_its_outcome_on_the_default_bus_and_no_secret_value() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("runevents").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let (sqs, url) = queue_for(&infra).await;

    let backup = stack.report("backup", &stack.backup_event(&infra, &[ns], TIME)).await;
    let mut restore = stack.restore_event(&infra);
    restore["dry_run"] = json!(true);
    stack.report("restore", &restore).await;
    let mut broken = stack.backup_event(&infra, &[ns], "2026-11-22T14:00:00Z");
    broken["cluster"] = json!("no-such-cluster");
    let Invocation::Failed { error_type, .. } = stack.invoke("backup", &broken).await else {
        panic!("a backup of a cluster that does not exist did not fail");
    };

    // Each receive waits up to a second for a message (SQS's long poll).
    let mut events = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while events.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "only these events arrived in 30 s: {:?}",
            events.keys()
        );
        received(&sqs, &url, &mut events).await;
    }
    let kinds: Vec<&str> = events.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "lifeboat backup Completed",
            "lifeboat backup Failed",
            "lifeboat restore Completed"
        ]
    );
    for event in events.values() {
        assert_eq!(event["source"], "lifeboat");
        assert!(
            !event.to_string().contains(&tenant.marker),
            "an event holds a secret value: {event}"
        );
    }
    let done = &events["lifeboat backup Completed"]["detail"];
    assert_eq!(done["run_path"], "2026/11/22/130000");
    assert_eq!(done["objects"]["backed-up"], count_all(&backup, "backed-up"));
    assert_eq!(events["lifeboat restore Completed"]["detail"]["dry_run"], true);
    let failed = &events["lifeboat backup Failed"]["detail"];
    assert_eq!(failed["error_type"], error_type.as_str());
    assert_eq!(failed["cluster"], "no-such-cluster");
    assert!(failed["message"].as_str().unwrap().contains("no-such-cluster"));
}
