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

/// A restore of `source`'s latest backup into a new namespace named from `prefix`.
fn into_new_namespace(stack: &Stack, infra: &str, source: &str, prefix: &str) -> (String, RestoreRequest) {
    let target = unique(prefix);
    let mut event = stack.restore_event(infra);
    event["namespace_mapping"] = json!({ source: target.clone() });
    (target, RestoreRequest::from_event(event, &Defaults::default()).unwrap())
}

/// Restores through an S3 proxy, straight to the cluster.
async fn restore_through_s3(proxy: &Proxy, request: &RestoreRequest) -> Report {
    let s3 = proxy.s3_client(std::time::Duration::from_secs(10)).await;
    Restore::new(direct(), s3, unaudited().await)
        .run(request, &no_deadline())
        .await
        .unwrap()
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

#[tokio::test]
async fn an_api_server_error_on_one_object_fails_that_object_alone_and_a_rerun_creates_it() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("oneerror").await;
    let source = tenant.namespace.clone();
    let infra = unique("infra");
    let backup = backup_with(direct(), stack.s3.clone()).await;
    completed_backup(&backup, &stack, &infra, &[&source], &["Secret", "ConfigMap"]).await;

    let (target, request) = into_new_namespace(&stack, &infra, &source, "oneerror-restored");
    let proxy = Proxy::kube(stack.kube.clone()).await;
    // The API server fails the create of one Secret; the rest go through.
    let failed_once = std::sync::atomic::AtomicBool::new(false);
    let into = target.clone();
    proxy.script(move |seen| {
        if writes_into(seen, "POST", &into)
            && seen.path.ends_with("/secrets")
            && !failed_once.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            Fault::kube_status(
                500,
                "InternalError",
                "Internal error occurred: etcdserver: request timed out",
            )
        } else {
            Fault::Pass
        }
    });
    let restore = Restore::new(
        through(proxy.kubeconfig(&stack.cluster)),
        stack.s3.clone(),
        unaudited().await,
    );
    let report = restore.run(&request, &no_deadline()).await.unwrap();
    assert_eq!(report.status, Status::PartiallyFailed, "{:?}", report.errors);
    let failed: Vec<_> = report.objects.iter().filter(|o| o.action == Action::Failed).collect();
    assert_eq!(failed.len(), 1, "{:?}", report.objects);
    let reason = failed[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("create failed:") && reason.contains("etcdserver: request timed out"),
        "{reason}"
    );
    // A 500 is an answer: the create was not sent again, and the cluster lacks exactly
    // the object reported failed.
    let posts = proxy
        .seen()
        .iter()
        .filter(|s| writes_into(s, "POST", &target) && s.path.ends_with("/secrets"))
        .count();
    assert_eq!(posts, 5, "each Secret's create was sent once");
    let present = stack.configuration(&target).await;
    for object in report.objects.iter().filter(|o| o.kind != "Namespace") {
        let there = present.contains_key(&(object.kind.clone(), object.name.clone()));
        assert_eq!(
            there,
            object.action == Action::Created,
            "{} {}",
            object.kind,
            object.name
        );
    }

    let rerun = Restore::new(direct(), stack.s3.clone(), unaudited().await)
        .run(&request, &no_deadline())
        .await
        .unwrap();
    assert_eq!(rerun.status, Status::Completed, "{:?}", rerun.errors);
    let created: Vec<&str> = rerun
        .objects
        .iter()
        .filter(|o| o.action == Action::Created)
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(created, [failed[0].name.as_str()]);
    assert_eq!(stack.configuration(&target).await, stack.configuration(&source).await);
}

/// What S3 answers when KMS refuses to decrypt an object's data key for the caller.
fn kms_access_denied() -> Fault {
    Fault::s3_error(
        403,
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/lifeboat-restore/run is not authorized to perform: \
         kms:Decrypt on the resource associated with this ciphertext because no identity-based policy allows \
         the kms:Decrypt action",
    )
}

/// What S3 answers when KMS throttles the decrypt of an object's data key.
fn kms_throttled() -> Fault {
    Fault::s3_error(
        503,
        "SlowDown",
        "KMS throttled the decrypt of this object's data key; reduce your request rate.",
    )
}

#[tokio::test]
async fn kms_throttling_on_decrypt_is_retried_and_kms_access_denied_fails_only_that_files_objects() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("kmsfault").await;
    let source = tenant.namespace.clone();
    let infra = unique("infra");
    let backup = backup_with(direct(), stack.s3.clone()).await;
    completed_backup(&backup, &stack, &infra, &[&source], &["Secret", "ConfigMap"]).await;
    let s3 = std::env::var("AWS_ENDPOINT_URL").expect("the stack env is sourced");
    let secrets_file = format!("/namespaces/{source}/secrets.json");
    let configmaps_file = format!("/namespaces/{source}/configmaps.json");

    // Throttled twice on each file, then served: the restore completes in full.
    let proxy = Proxy::s3(&s3).await;
    let throttles = std::sync::Mutex::new(BTreeMap::<String, usize>::new());
    let files = [secrets_file.clone(), configmaps_file.clone()];
    proxy.script(move |seen| {
        if seen.method == "GET" && files.iter().any(|f| seen.path.ends_with(f.as_str())) {
            let mut throttles = throttles.lock().unwrap();
            let n = throttles.entry(seen.path.clone()).or_default();
            *n += 1;
            if *n <= 2 {
                return kms_throttled();
            }
        }
        Fault::Pass
    });
    let (target, request) = into_new_namespace(&stack, &infra, &source, "kmsfault-restored");
    let report = restore_through_s3(&proxy, &request).await;
    assert_all(&report, Action::Created);
    let gets = |path: &str| {
        proxy
            .seen()
            .iter()
            .filter(|s| s.method == "GET" && s.path.ends_with(path))
            .count()
    };
    assert_eq!(
        (gets(&secrets_file), gets(&configmaps_file)),
        (3, 3),
        "two throttled tries and one served, each"
    );
    assert_eq!(stack.configuration(&target).await, stack.configuration(&source).await);

    // KMS refuses to decrypt the Secrets file: its objects fail with the reason, once
    // each (a refusal is not retried), and the ConfigMaps still restore.
    let proxy = Proxy::s3(&s3).await;
    let denied = secrets_file.clone();
    proxy.script(move |seen| {
        if seen.method == "GET" && seen.path.ends_with(denied.as_str()) {
            kms_access_denied()
        } else {
            Fault::Pass
        }
    });
    let (target, request) = into_new_namespace(&stack, &infra, &source, "kmsfault-denied");
    let report = restore_through_s3(&proxy, &request).await;
    assert_eq!(report.status, Status::PartiallyFailed, "{:?}", report.errors);
    for object in report.objects.iter().filter(|o| o.kind != "Namespace") {
        if object.kind == "Secret" {
            assert_eq!(object.action, Action::Failed, "{}", object.name);
            let reason = object.reason.as_deref().unwrap_or_default();
            assert!(
                reason.contains("AccessDenied") && reason.contains("kms:Decrypt") && reason.contains("its KMS key"),
                "{reason}"
            );
        } else {
            assert_eq!(object.action, Action::Created, "{} {}", object.kind, object.name);
        }
    }
    assert_eq!(
        proxy
            .seen()
            .iter()
            .filter(|s| s.path.ends_with(secrets_file.as_str()))
            .count(),
        1,
        "a refusal was sent again"
    );
    let present = stack.configuration(&target).await;
    assert!(present.keys().all(|(kind, _)| kind == "ConfigMap"), "{present:?}");
    assert_eq!(present.len(), 3);
}
