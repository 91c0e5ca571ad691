//! Restore drills: the real function restores the latest backup into throwaway
//! namespaces, reads every object back, deletes the namespaces and keeps its record
//! beside the backup; a drill the cluster refuses objects to fails and names them; and
//! the drill group's RBAC (`infra/drill-rbac.yaml`, the module's rendering) is enough for
//! a drill and no more.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use lifeboat::cluster::ClusterAccess;
use lifeboat::drill::{Drill, DrillStatus};
use lifeboat::event::{Defaults, DrillRequest};
use lifeboat::restore::Restore;
use lifeboat_tests::faults::{Fault, Proxy, write_kubeconfig};
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

/// The stack's admin kubeconfig, acting as a member of the group `lifeboat:drill` only.
fn as_drill_group() -> (kube::config::Kubeconfig, tempfile::TempPath) {
    let mut config = kube::config::Kubeconfig::read().expect("the stack's kubeconfig reads");
    for named in &mut config.auth_infos {
        if let Some(user) = named.auth_info.as_mut() {
            user.impersonate = Some("lifeboat-drill-test".into());
            user.impersonate_groups = Some(vec!["lifeboat:drill".into()]);
        }
    }
    let path = write_kubeconfig("drill-group", &serde_json::to_value(&config).expect("JSON"));
    (config, path)
}

#[tokio::test]
async fn the_drill_group_may_drill_and_clean_up_and_nothing_more() {
    let stack = Stack::connect().await;
    let backed_up = minutes_ago(14, 11);
    let (tenant, infra) = stack.backed_up_tenant("drillrbac", &rfc3339(backed_up)).await;
    let (config, path) = as_drill_group();
    let drill = Drill {
        restore: Restore::new(
            ClusterAccess::Kubeconfig {
                path: Some(path.to_path_buf()),
            },
            stack.s3.clone(),
            unaudited().await,
        ),
    };
    let request = DrillRequest::from_event(
        drill_event(&stack, &infra, minutes_ago(5, 11)),
        &Defaults::default(),
        Utc::now(),
    )
    .unwrap();
    let record = drill.run(&request, &no_deadline()).await.unwrap();
    assert_eq!(record.status, DrillStatus::Passed, "{record:#?}");
    assert_eq!(record.cleanup_errors, Vec::<String>::new());
    gone(&stack, &record.namespaces[&tenant.namespace]).await;

    // Beyond the drill, the group is refused: reading a tenant's Secrets wholesale,
    // changing or deleting what exists, and cluster-scoped kinds.
    let options = kube::config::KubeConfigOptions::default();
    let client = kube::Client::try_from(kube::Config::from_custom_kubeconfig(config, &options).await.unwrap()).unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &tenant.namespace);
    let refused = |result: Result<(), kube::Error>, what: &str| match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => panic!("the drill group could {what}: {other:?}"),
    };
    refused(secrets.list(&Default::default()).await.map(drop), "list Secrets");
    let mut secret = secrets
        .get("db-credentials")
        .await
        .expect("the group reads an object it restores");
    secret
        .metadata
        .labels
        .get_or_insert_default()
        .insert("changed".into(), "yes".into());
    refused(
        secrets
            .replace("db-credentials", &Default::default(), &secret)
            .await
            .map(drop),
        "replace a Secret",
    );
    refused(
        secrets.delete("db-credentials", &Default::default()).await.map(drop),
        "delete a Secret",
    );
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client);
    let role = k8s_openapi::api::rbac::v1::ClusterRole {
        metadata: kube::api::ObjectMeta {
            name: Some(lifeboat_tests::unique("drill-escalation")),
            ..Default::default()
        },
        ..Default::default()
    };
    refused(
        roles.create(&Default::default(), &role).await.map(drop),
        "create a ClusterRole",
    );
}
