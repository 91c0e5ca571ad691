//! Faults a restore meets at its writes: each run goes through the library with a
//! fault-injecting proxy in front of the real API server, and the report must say
//! exactly what the cluster holds afterwards.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use lifeboat::event::{Defaults, RestoreRequest};
use lifeboat::report::{Action, Report, Status};
use lifeboat::restore::Restore;
use lifeboat_tests::faults::{Fault, Proxy, Seen};
use lifeboat_tests::{Stack, unaudited, unique};
use serde_json::json;

use crate::faults::{backup_with, completed_backup, direct, no_deadline, nth_matching, through};

/// Whether a request writes an object into `namespace` with `method`.
fn writes_into(seen: &Seen, method: &str, namespace: &str) -> bool {
    seen.method == method && seen.path.contains(&format!("/namespaces/{namespace}/"))
}

fn with_reason<'r>(report: &'r Report, words: &str) -> Vec<&'r str> {
    report
        .objects
        .iter()
        .filter(|o| o.reason.as_deref().is_some_and(|r| r.contains(words)))
        .map(|o| o.name.as_str())
        .collect()
}

fn assert_all(report: &Report, action: Action) {
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    for object in report.objects.iter().filter(|o| o.kind != "Namespace") {
        assert_eq!(
            object.action, action,
            "{} {}: {:?}",
            object.kind, object.name, object.reason
        );
    }
}

#[tokio::test]
async fn writes_the_api_server_applied_but_whose_answers_were_lost_are_reported_as_the_cluster_holds_them() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("lostanswer").await;
    let source = tenant.namespace.clone();
    let infra = unique("infra");
    let backup = backup_with(direct(), stack.s3.clone()).await;
    completed_backup(&backup, &stack, &infra, &[&source], &["Secret", "ConfigMap"]).await;
    let backed_up = stack.configuration(&source).await;

    // Creates: two of the objects' creates are applied and their answers lost.
    let target = unique("lostanswer-restored");
    let mut event = stack.restore_event(&infra);
    event["namespace_mapping"] = json!({ source.clone(): target.clone() });
    let create = RestoreRequest::from_event(event.clone(), &Defaults::default()).unwrap();
    let proxy = Proxy::kube(stack.kube.clone()).await;
    let into = target.clone();
    proxy.script(nth_matching(
        move |seen| writes_into(seen, "POST", &into),
        BTreeMap::from([(0, Fault::LoseAnswer), (2, Fault::LoseAnswer)]),
    ));
    let restore = Restore::new(
        through(proxy.kubeconfig(&stack.cluster)),
        stack.s3.clone(),
        unaudited().await,
    );
    let report = restore.run(&create, &no_deadline()).await.unwrap();
    let lost: Vec<Seen> = proxy.seen().into_iter().filter(|s| s.fault == "lose-answer").collect();
    assert_eq!(lost.len(), 2, "the fault was not injected twice");
    assert_all(&report, Action::Created);
    assert_eq!(
        with_reason(&report, "answer to the create was lost").len(),
        2,
        "{:?}",
        report.objects
    );
    assert_eq!(stack.configuration(&target).await, backed_up);
    let rerun = Restore::new(direct(), stack.s3.clone(), unaudited().await)
        .run(&create, &no_deadline())
        .await
        .unwrap();
    assert_all(&rerun, Action::Unchanged);

    // Overwrites: two objects changed since the backup; each replace is applied and its
    // answer lost.
    let changed = json!({ "data": { "extra": "Y2hhbmdlZA==" } });
    Api::<Secret>::namespaced(stack.kube.clone(), &target)
        .patch("db-credentials", &PatchParams::default(), &Patch::Merge(&changed))
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(stack.kube.clone(), &target)
        .patch(
            "app-config",
            &PatchParams::default(),
            &Patch::Merge(&json!({ "data": { "extra": "changed" } })),
        )
        .await
        .unwrap();
    event["existing"] = json!("overwrite");
    let overwrite = RestoreRequest::from_event(event, &Defaults::default()).unwrap();
    let into = target.clone();
    proxy.script(move |seen| {
        if writes_into(seen, "PUT", &into) {
            Fault::LoseAnswer
        } else {
            Fault::Pass
        }
    });
    let restore = Restore::new(
        through(proxy.kubeconfig(&stack.cluster)),
        stack.s3.clone(),
        unaudited().await,
    );
    let report = restore.run(&overwrite, &no_deadline()).await.unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    let mut updated = with_reason(&report, "answer to the replace was lost");
    updated.sort();
    assert_eq!(updated, ["app-config", "db-credentials"], "{:?}", report.objects);
    assert_eq!(stack.configuration(&target).await, backed_up);
    let rerun = Restore::new(direct(), stack.s3.clone(), unaudited().await)
        .run(&overwrite, &no_deadline())
        .await
        .unwrap();
    assert_all(&rerun, Action::Unchanged);
}
