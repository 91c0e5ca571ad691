//! Restore drills: the real function restores the latest backup into throwaway
//! namespaces, reads every object back, deletes the namespaces and keeps its record
//! beside the backup; a drill the cluster refuses objects to fails and names them.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use lifeboat::drill::{Drill, DrillStatus};
use lifeboat::event::{Defaults, DrillRequest};
use lifeboat::restore::Restore;
use lifeboat_tests::faults::{Fault, Proxy};
use lifeboat_tests::{Invocation, Stack, eventually, unaudited};
use serde_json::{Value, json};

use crate::faults::{no_deadline, through};

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time a few minutes ago, to the second; `offset` keeps concurrent tests' drills apart.
fn minutes_ago(minutes: i64, offset: i64) -> DateTime<Utc> {
    let t = Utc::now() - TimeDelta::minutes(minutes) + TimeDelta::seconds(offset);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn drill_event(stack: &Stack, infra: &str, time: DateTime<Utc>) -> Value {
    json!({
        "infrastructure": infra,
        "cluster": stack.cluster,
        "bucket": stack.bucket,
        "region": "us-east-1",
        "scheduled_time": rfc3339(time),
    })
}

async fn gone(stack: &Stack, namespace: &str) {
    let api: Api<Namespace> = Api::all(stack.kube.clone());
    eventually(
        &format!("the drill namespace {namespace} is gone"),
        Duration::from_secs(90),
        || async { api.get_opt(namespace).await.unwrap().is_none() },
    )
    .await;
}

#[tokio::test]
async fn a_drill_restores_the_latest_backup_reads_every_object_back_cleans_up_and_keeps_its_record() {
    let stack = Stack::connect().await;
    let backed_up = minutes_ago(10, 0);
    let (tenant, infra) = stack.backed_up_tenant("drill", &rfc3339(backed_up)).await;
    let drilled_at = minutes_ago(3, 0);

    let answer = stack.report("drill", &drill_event(&stack, &infra, drilled_at)).await;
    assert_eq!(answer["status"], "Passed", "{answer:#}");
    // Five Secrets, three ConfigMaps and the tenant's Namespace, each read back.
    assert_eq!(answer["objects"]["verified"], 9, "{answer:#}");
    assert_eq!(answer["objects"]["restored"], 9, "{answer:#}");
    assert_eq!(answer["objects"]["mismatched"], 0, "{answer:#}");
    assert_eq!(answer["mismatches"], json!([]));
    assert_eq!(answer["hours_since_passed"], 0);
    let drill_ns = answer["namespaces"][&tenant.namespace].as_str().unwrap().to_string();
    assert!(
        drill_ns.starts_with(&format!("lifeboat-drill-{}-", drilled_at.format("%Y%m%d%H%M%S"))),
        "{drill_ns}"
    );
    gone(&stack, &drill_ns).await;

    // The record is beside the backup, as returned, and holds no secret value.
    let run = backed_up.format("%Y/%m/%d/%H%M%S").to_string();
    let key = format!(
        "{run}/infra/{infra}/k8s/drill-{}.json",
        drilled_at.format("%Y%m%dT%H%M%SZ")
    );
    assert_eq!(answer["record"], key.as_str());
    let kept: Value = serde_json::from_slice(&stack.read(&key).await).unwrap();
    assert_eq!(kept["status"], "Passed");
    assert_eq!(kept["objects"], answer["objects"]);
    assert!(
        !kept.to_string().contains(&tenant.marker),
        "a secret value reached the drill record"
    );
    assert!(
        !answer.to_string().contains(&tenant.marker),
        "a secret value reached the answer"
    );

    // The same drill invoked again answers with its record and restores nothing more.
    let mut again = drill_event(&stack, &infra, drilled_at);
    again["force"] = json!(true);
    let retried = stack.report("drill", &again).await;
    assert_eq!(retried["started_at"], answer["started_at"], "{retried:#}");

    // The next day's schedule finds the drill passed within the week: nothing is due.
    let next = stack
        .report("drill", &drill_event(&stack, &infra, minutes_ago(1, 0)))
        .await;
    assert_eq!(next["status"], "NotDue", "{next:#}");
    assert_eq!(next["last_passed_at"], rfc3339(drilled_at));
    assert_eq!(next["objects"]["restored"], 0);
    assert_eq!(next["namespaces"], json!({}));

    // The function's log carries the lines the alarms count, and no secret value.
    let logs = stack.function_logs();
    assert!(logs.contains("drill finished"), "no drill line in the log");
    assert!(!logs.contains(&tenant.marker), "a secret value reached the log");
}

#[tokio::test]
async fn a_drill_whose_objects_the_cluster_refuses_fails_names_them_and_still_cleans_up() {
    let stack = Stack::connect().await;
    let backed_up = rfc3339(minutes_ago(12, 7));
    let (tenant, infra) = stack.backed_up_tenant("drillfail", &backed_up).await;
    let drilled_at = minutes_ago(4, 7);

    // The drill cluster refuses every Secret, as one whose RBAC lacks the kind would.
    let proxy = Proxy::kube(stack.kube.clone()).await;
    proxy.script(|seen| {
        if seen.method == "POST" && seen.path.contains("/namespaces/lifeboat-drill-") && seen.path.ends_with("/secrets")
        {
            Fault::kube_status(403, "Forbidden", "secrets is forbidden: the drill cluster refuses it")
        } else {
            Fault::Pass
        }
    });
    let drill = Drill {
        restore: Restore::new(
            through(proxy.kubeconfig(&stack.cluster)),
            stack.s3.clone(),
            unaudited().await,
        ),
    };
    let request = DrillRequest::from_event(
        drill_event(&stack, &infra, drilled_at),
        &Defaults::default(),
        Utc::now(),
    )
    .unwrap();
    let record = drill.run(&request, &no_deadline()).await.unwrap();

    assert_eq!(record.status, DrillStatus::Failed, "{record:#?}");
    assert_eq!(record.objects.mismatched, 5, "{record:#?}");
    let mut refused: Vec<&str> = record.mismatches.iter().map(|m| m.name.as_str()).collect();
    refused.sort_unstable();
    assert_eq!(
        refused,
        ["binary-blob", "db-credentials", "frozen", "registry", "tls-cert"]
    );
    for m in &record.mismatches {
        assert_eq!(m.kind, "Secret");
        assert!(
            m.reason.starts_with("not restored:") && m.reason.contains("refuses it"),
            "{}",
            m.reason
        );
    }
    // The ConfigMaps and the Namespace came back.
    assert_eq!(record.objects.verified, 4, "{record:#?}");
    let drill_ns = record.namespaces[&tenant.namespace].clone();
    gone(&stack, &drill_ns).await;
    let kept: Value = serde_json::from_slice(&stack.read(record.record.as_deref().unwrap()).await).unwrap();
    assert_eq!(kept["status"], "Failed");

    // A failed drill leaves the next day's drill due, and it says none passed.
    let next = drill_event(&stack, &infra, minutes_ago(2, 7));
    let answer = match stack.invoke("drill", &next).await {
        Invocation::Report(answer) => answer,
        failed => panic!("{failed:?}"),
    };
    assert_eq!(answer["status"], "Passed", "{answer:#}");
    assert!(answer.get("last_passed_at").is_some());
}
