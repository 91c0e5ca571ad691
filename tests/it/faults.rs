//! Faults a backup or restore meets in production, injected on the local stack: each
//! run goes through the library against the real API server and S3 emulator, with a
//! fault-injecting proxy (`lifeboat_tests::faults`) between it and the one that
//! misbehaves, so the shared stack itself is never stopped or reconfigured. Each test
//! proves the run keeps working, or fails loudly, and never marks an incomplete backup
//! as complete.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ObjectMeta, PostParams};
use lifeboat::backup::{Backup, COMMIT_RESERVE};
use lifeboat::cluster::ClusterAccess;
use lifeboat::event::{BackupRequest, Defaults, Invocation, RestoreRequest};
use lifeboat::report::{Report, Status};
use lifeboat::restore::Restore;
use lifeboat_tests::faults::{Fault, Proxy, Seen, write_kubeconfig};
use lifeboat_tests::{Stack, list_items, unaudited, unique};
use serde_json::{Value, json};
use tempfile::TempPath;

const TIME: &str = "2026-11-22T13:00:00Z";
const RUN: &str = "2026/11/22/130000";
/// What a throttled answer asks the client to wait.
const RETRY_AFTER: Duration = Duration::from_secs(2);

pub(crate) fn direct() -> ClusterAccess {
    ClusterAccess::Kubeconfig { path: None }
}

pub(crate) fn through(kubeconfig: PathBuf) -> ClusterAccess {
    ClusterAccess::Kubeconfig { path: Some(kubeconfig) }
}

pub(crate) async fn backup_with(cluster: ClusterAccess, s3: aws_sdk_s3::Client) -> Backup {
    Backup::new(cluster, s3, None, unaudited().await)
}

pub(crate) fn no_deadline() -> Invocation {
    Invocation::default()
}

fn backup_request(stack: &Stack, infra: &str, tenants: &[&str], kinds: &[&str], time: &str) -> BackupRequest {
    let mut event = stack.backup_event(infra, tenants, time);
    event["settings"]["K8sResourceKinds"] = json!(kinds);
    BackupRequest::from_event(event, &Defaults::default(), chrono::Utc::now()).expect("the event is valid")
}

/// Runs a backup at `TIME` with no deadline and fails the test unless it completes.
pub(crate) async fn completed_backup(
    backup: &Backup,
    stack: &Stack,
    infra: &str,
    tenants: &[&str],
    kinds: &[&str],
) -> Report {
    let report = backup
        .run(&backup_request(stack, infra, tenants, kinds, TIME), &no_deadline())
        .await
        .unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    report
}

async fn manifest(stack: &Stack, run: &str, infra: &str) -> Value {
    serde_json::from_slice(&stack.read(&format!("{run}/infra/{infra}/k8s/manifest.json")).await)
        .expect("the manifest is JSON")
}

async fn stored_file(stack: &Stack, run: &str, infra: &str, relative: &str) -> Vec<Value> {
    list_items(stack.read(&format!("{run}/infra/{infra}/k8s/{relative}")).await)
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|o| o["metadata"]["name"].as_str().expect("named").to_string())
        .collect()
}

/// Creates `count` ConfigMaps `cm-00`, `cm-01`, ... in a namespace.
async fn config_maps(stack: &Stack, namespace: &str, count: usize) -> Vec<String> {
    let mut made = Vec::new();
    for n in 0..count {
        let name = format!("cm-{n:02}");
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([("n".to_string(), n.to_string())])),
            ..Default::default()
        };
        stack
            .config_maps(namespace)
            .create(&PostParams::default(), &cm)
            .await
            .expect("config map is created");
        made.push(name);
    }
    made
}

/// Whether a request is a LIST of `resource` in `namespace`.
fn lists(seen: &Seen, namespace: &str, resource: &str) -> bool {
    seen.method == "GET" && seen.path.ends_with(&format!("/namespaces/{namespace}/{resource}"))
}

/// A script that answers the `n`th matching request (from 0) with `faults[n]` when it
/// has one, and forwards everything else.
pub(crate) fn nth_matching(
    matches: impl Fn(&Seen) -> bool + Send + Sync + 'static,
    faults: BTreeMap<usize, Fault>,
) -> impl Fn(&Seen) -> Fault + Send + Sync + 'static {
    let count = AtomicUsize::new(0);
    move |seen| {
        if !matches(seen) {
            return Fault::Pass;
        }
        let n = count.fetch_add(1, Ordering::SeqCst);
        faults.get(&n).cloned().unwrap_or(Fault::Pass)
    }
}

#[tokio::test]
async fn a_list_that_meets_throttling_server_errors_and_dropped_connections_is_retried_and_the_backup_is_identical_to_an_undisturbed_one()
 {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("listfaults").await;
    let ns = tenant.namespace.clone();

    let undisturbed = unique("infra");
    let mut backup = backup_with(direct(), stack.s3.clone()).await;
    backup.page_size = 1;
    completed_backup(&backup, &stack, &undisturbed, &[&ns], &["Secret", "ConfigMap"]).await;

    // One Secret a page, so the LIST of Secrets is many requests; every other one fails
    // the first time, each in another way.
    let proxy = Proxy::kube(stack.kube.clone()).await;
    let target = ns.clone();
    proxy.script(nth_matching(
        move |seen| lists(seen, &target, "secrets"),
        BTreeMap::from([
            (1, Fault::kube_throttled(RETRY_AFTER.as_secs())),
            (
                3,
                Fault::kube_status(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                ),
            ),
            (5, Fault::Drop),
            (
                7,
                Fault::kube_status(500, "InternalError", "etcdserver: request timed out"),
            ),
        ]),
    ));
    let disturbed = unique("infra");
    let mut backup = backup_with(through(proxy.kubeconfig(&stack.cluster)), stack.s3.clone()).await;
    backup.page_size = 1;
    completed_backup(&backup, &stack, &disturbed, &[&ns], &["Secret", "ConfigMap"]).await;

    let seen = proxy.seen();
    // The retry of the throttled page comes no sooner than its Retry-After asked, and
    // no later than the longest delay the policy waits (with a second for the run).
    let throttled = seen.iter().position(|s| s.fault == "429").expect("a 429 was answered");
    let retried = seen[throttled + 1..]
        .iter()
        .find(|s| lists(s, &ns, "secrets") && s.query == seen[throttled].query)
        .expect("the throttled page was asked again");
    let waited = retried.at - seen[throttled].at;
    assert!(
        waited >= RETRY_AFTER && waited <= lifeboat::retry::MAX_DELAY + Duration::from_secs(1),
        "the throttled page was asked again after {waited:?}, where Retry-After said {RETRY_AFTER:?}"
    );
    let faults: BTreeSet<String> = seen.into_iter().map(|s| s.fault).collect();
    for injected in ["429", "503", "drop", "500"] {
        assert!(
            faults.contains(injected),
            "the fault {injected} was never injected: {faults:?}"
        );
    }
    for relative in [
        format!("namespaces/{ns}/secrets.json"),
        format!("namespaces/{ns}/configmaps.json"),
    ] {
        let calm = stored_file(&stack, RUN, &undisturbed, &relative).await;
        let stormy = stored_file(&stack, RUN, &disturbed, &relative).await;
        assert!(!calm.is_empty());
        assert_eq!(stormy, calm, "{relative} differs from the undisturbed backup");
    }
    let (calm, stormy) = (
        manifest(&stack, RUN, &undisturbed).await,
        manifest(&stack, RUN, &disturbed).await,
    );
    let checksums = |m: &Value| -> Vec<(String, String)> {
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["key"].as_str().unwrap().into(), f["sha256"].as_str().unwrap().into()))
            .collect()
    };
    assert_eq!(checksums(&stormy), checksums(&calm));
}

#[tokio::test]
async fn a_continue_token_that_expires_halfway_restarts_the_list_and_the_backup_has_every_object_once() {
    let stack = Stack::connect().await;
    let ns = stack.new_tenant("gone").await;
    let made = config_maps(&stack, &ns, 12).await;

    // The second page's continue token has expired, as when etcd compacts mid-LIST.
    let proxy = Proxy::kube(stack.kube.clone()).await;
    let target = ns.clone();
    proxy.script(nth_matching(
        move |seen| lists(seen, &target, "configmaps") && seen.param("continue").is_some(),
        BTreeMap::from([(1, Fault::kube_continue_expired())]),
    ));
    let infra = unique("infra");
    let mut backup = backup_with(through(proxy.kubeconfig(&stack.cluster)), stack.s3.clone()).await;
    backup.page_size = 3;
    let report = completed_backup(&backup, &stack, &infra, &[&ns], &["ConfigMap"]).await;

    let seen: Vec<Seen> = proxy
        .seen()
        .into_iter()
        .filter(|s| lists(s, &ns, "configmaps"))
        .collect();
    let expired = seen
        .iter()
        .position(|s| s.fault == "410")
        .expect("the 410 was injected");
    assert!(
        seen[expired + 1..].iter().any(|s| s.param("continue").is_none()),
        "the LIST did not start over after the 410: {seen:?}"
    );
    let stored = names(&stored_file(&stack, RUN, &infra, &format!("namespaces/{ns}/configmaps.json")).await);
    let unique_names: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(unique_names.len(), stored.len(), "duplicates in {stored:?}");
    assert_eq!(
        stored, made,
        "kube-root-ca.crt is left out, every other one is stored once"
    );
    assert_eq!(
        report.count(lifeboat::report::Action::BackedUp),
        12 + 1,
        "12 ConfigMaps and the Namespace"
    );
    let manifest = manifest(&stack, RUN, &infra).await;
    let listed = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "ConfigMap")
        .unwrap()["objects"]
        .clone();
    assert_eq!(listed, json!(made));
}

#[tokio::test]
async fn s3_throttling_and_timeouts_on_some_uploads_are_retried_and_the_backup_completes() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("s3slow").await;
    let ns = tenant.namespace.clone();
    let infra = unique("infra");
    let proxy = Proxy::s3(&std::env::var("AWS_ENDPOINT_URL").expect("the stack env is sourced")).await;
    let attempt_timeout = Duration::from_secs(2);
    let tenant_prefix = format!("/infra/{infra}/k8s/namespaces/{ns}/");
    let (secrets, config_maps) = (
        format!("{tenant_prefix}secrets.json"),
        format!("{tenant_prefix}configmaps.json"),
    );
    let (tries_secrets, tries_config_maps) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, b) = (tries_secrets.clone(), tries_config_maps.clone());
    proxy.script(move |seen| {
        if seen.method != "PUT" {
            Fault::Pass
        } else if seen.path.ends_with(&secrets) {
            // Throttled twice, as S3 does a prefix that grows fast.
            if a.fetch_add(1, Ordering::SeqCst) < 2 {
                Fault::s3_slow_down()
            } else {
                Fault::Pass
            }
        } else if seen.path.ends_with(&config_maps) && b.fetch_add(1, Ordering::SeqCst) == 0 {
            // No answer within the attempt's time.
            Fault::Delay(attempt_timeout * 3)
        } else {
            Fault::Pass
        }
    });
    let backup = backup_with(direct(), proxy.s3_client(attempt_timeout).await).await;
    completed_backup(&backup, &stack, &infra, &[&ns], &["Secret", "ConfigMap"]).await;
    assert_eq!(
        tries_secrets.load(Ordering::SeqCst),
        3,
        "two throttled tries, then the one that passed"
    );
    assert_eq!(
        tries_config_maps.load(Ordering::SeqCst),
        2,
        "the timed-out try, then the one that passed"
    );

    // What the manifest commits is what S3 holds.
    let manifest = manifest(&stack, RUN, &infra).await;
    assert_eq!(manifest["status"], "Completed");
    for file in manifest["files"].as_array().unwrap() {
        let bytes = stack
            .read(&format!("{RUN}/infra/{infra}/k8s/{}", file["key"].as_str().unwrap()))
            .await;
        assert_eq!(lifeboat::store::sha256_hex(&bytes), file["sha256"].as_str().unwrap());
    }
}

#[tokio::test]
async fn s3_that_stays_down_leaves_no_completed_manifest_and_latest_still_restores_the_previous_backup() {
    let stack = Stack::connect().await;
    let healthy = stack.seed_tenant("s3down-a").await.namespace;
    let throttled = stack.seed_tenant("s3down-b").await.namespace;
    let infra = unique("infra");
    let tenants = [healthy.as_str(), throttled.as_str()];
    let kinds = ["Secret", "ConfigMap"];

    let backup = backup_with(direct(), stack.s3.clone()).await;
    completed_backup(&backup, &stack, &infra, &tenants, &kinds).await;

    // An hour later, S3 throttles one tenant's prefix and never recovers.
    let proxy = Proxy::s3(&std::env::var("AWS_ENDPOINT_URL").expect("the stack env is sourced")).await;
    let down = format!("/2026/11/22/140000/infra/{infra}/k8s/namespaces/{throttled}/");
    proxy.script(move |seen| {
        if seen.method != "GET" && seen.path.contains(&down) {
            Fault::s3_slow_down()
        } else {
            Fault::Pass
        }
    });
    let backup = backup_with(direct(), proxy.s3_client(Duration::from_secs(10)).await).await;
    let second = backup
        .run(
            &backup_request(&stack, &infra, &tenants, &kinds, "2026-11-22T14:00:00Z"),
            &no_deadline(),
        )
        .await
        .unwrap();
    assert_eq!(second.status, Status::PartiallyFailed, "{:?}", second.errors);
    // Each object of the throttled tenant is reported failed with S3's reason; the
    // other tenant is backed up.
    let failed: Vec<_> = second
        .objects
        .iter()
        .filter(|o| o.action == lifeboat::report::Action::Failed)
        .collect();
    assert!(!failed.is_empty());
    for object in &failed {
        assert_eq!(object.tenant.as_deref(), Some(throttled.as_str()), "{object:?}");
        assert!(
            object.reason.as_deref().is_some_and(|r| r.contains("SlowDown")),
            "{object:?}"
        );
    }
    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(
        lifeboat_tests::count(&json, &throttled, "Secret", "failed"),
        5,
        "{json}"
    );
    assert_eq!(
        lifeboat_tests::count(&json, &healthy, "Secret", "backed-up"),
        5,
        "{json}"
    );
    // Each of the throttled tenant's two files was tried exactly as often as the AWS
    // retry policy says, and no more.
    let mut tries: BTreeMap<String, usize> = BTreeMap::new();
    for seen in proxy.seen().into_iter().filter(|s| s.fault == "503") {
        *tries.entry(seen.path).or_default() += 1;
    }
    assert_eq!(tries.len(), 2, "{tries:?}");
    for (path, count) in &tries {
        assert_eq!(
            *count,
            lifeboat::aws::MAX_ATTEMPTS as usize,
            "{path} was tried {count} times"
        );
    }
    assert_eq!(
        manifest(&stack, "2026/11/22/140000", &infra).await["status"],
        "PartiallyFailed"
    );

    // Another hour later, S3 is down for the whole run: nothing is committed at all.
    let whole = format!("/2026/11/22/150000/infra/{infra}/");
    proxy.script(move |seen| {
        if seen.path.contains(&whole) {
            Fault::s3_slow_down()
        } else {
            Fault::Pass
        }
    });
    let third = backup
        .run(
            &backup_request(&stack, &infra, &tenants, &kinds, "2026-11-22T15:00:00Z"),
            &no_deadline(),
        )
        .await;
    match third {
        Err(e) => {
            assert_eq!(e.error_type(), "StoreUnavailable", "{e}");
            assert!(e.is_retryable());
        }
        Ok(report) => panic!("a run with S3 down reported {:?}", report.status),
    }
    assert!(
        stack
            .keys_under(&format!("2026/11/22/150000/infra/{infra}/"))
            .await
            .is_empty()
    );

    // `latest` is still the complete backup of 13:00, and restores in full: each tenant
    // into a new namespace, whose objects then equal the original's.
    let copies: Vec<String> = tenants.iter().map(|_| unique("s3down-copy")).collect();
    let mut event = stack.restore_event(&infra);
    event["namespace_mapping"] = json!({ tenants[0]: copies[0], tenants[1]: copies[1] });
    let request = RestoreRequest::from_event(event, &Defaults::default()).unwrap();
    let restore = Restore::new(direct(), stack.s3.clone(), unaudited().await)
        .run(&request, &no_deadline())
        .await
        .unwrap();
    assert_eq!(restore.run_path.as_deref(), Some(RUN));
    assert_eq!(restore.status, Status::Completed, "{:?}", restore.errors);
    for (tenant, copy) in tenants.iter().zip(&copies) {
        assert_eq!(
            stack.configuration(copy).await,
            stack.configuration(tenant).await,
            "{tenant} restored into {copy}"
        );
    }
}

#[tokio::test]
async fn a_backup_near_its_deadline_stops_starting_work_names_what_it_did_not_back_up_and_returns_in_time() {
    let stack = Stack::connect().await;
    let mut tenants = Vec::new();
    for _ in 0..6 {
        let ns = stack.new_tenant("slow").await;
        config_maps(&stack, &ns, 3).await;
        tenants.push(ns);
    }
    // A slow API server: each page of ConfigMaps takes most of a second.
    let proxy = Proxy::kube(stack.kube.clone()).await;
    proxy.script(|seen| {
        if seen.method == "GET" && seen.path.ends_with("/configmaps") {
            Fault::Delay(Duration::from_millis(700))
        } else {
            Fault::Pass
        }
    });
    let mut backup = backup_with(through(proxy.kubeconfig(&stack.cluster)), stack.s3.clone()).await;
    backup.page_size = 1;
    backup.upload_concurrency = 2;
    let infra = unique("infra");
    let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
    let started = (std::time::Instant::now(), chrono::Utc::now());
    let deadline = started.1 + COMMIT_RESERVE + chrono::TimeDelta::seconds(3);
    // When the run must stop starting LISTs, on the proxy's clock.
    let stop_listing = started.0 + (deadline - COMMIT_RESERVE - started.1).to_std().unwrap();
    let invocation = Invocation {
        function_arn: None,
        deadline: Some(deadline),
    };
    let report = backup
        .run(
            &backup_request(&stack, &infra, &names, &["ConfigMap"], TIME),
            &invocation,
        )
        .await
        .unwrap();
    assert!(chrono::Utc::now() < deadline, "the run returned after its deadline");
    assert_eq!(report.status, Status::PartiallyFailed);
    // No LIST request was started once the reserve began (a quarter second allowed for
    // one already on its way), and some were started before.
    let lists: Vec<Seen> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.method == "GET" && s.path.ends_with("/configmaps"))
        .collect();
    assert!(lists.iter().any(|s| s.at < stop_listing), "nothing was listed");
    if let Some(late) = lists.iter().find(|s| s.at > stop_listing + Duration::from_millis(250)) {
        panic!(
            "a LIST of {} started {:?} into the {}s reserve",
            late.path,
            late.at - stop_listing,
            COMMIT_RESERVE.num_seconds()
        );
    }

    // Every tenant is stored whole, or named with what is missing: none of it (no file),
    // or all but what was not listed by then (a file with as many objects as it says).
    let manifest = manifest(&stack, RUN, &infra).await;
    assert_eq!(manifest["status"], "PartiallyFailed");
    let mut cut_short = 0;
    for ns in &tenants {
        let error = report
            .errors
            .iter()
            .find(|e| e.tenant.as_deref() == Some(ns.as_str()) && e.kind.as_deref() == Some("ConfigMap"));
        let stored = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "ConfigMap" && f["namespace"] == json!(ns))
            .map(|f| f["objects"].as_array().unwrap().len());
        match error {
            None => assert_eq!(stored, Some(3), "{ns} is not named, so it is stored whole"),
            Some(e) if e.message.contains("were not backed up") => {
                assert_eq!(stored, None, "{ns}: {}", e.message);
                cut_short += 1;
            }
            Some(e) => {
                let count = stored.expect("a tenant cut short mid-LIST has a file");
                assert!(
                    e.message.contains(&format!("only the first {count} ")),
                    "{ns}: {}",
                    e.message
                );
                cut_short += 1;
            }
        }
    }
    assert!(cut_short > 0, "the deadline stopped nothing");
    assert_eq!(manifest["errors"].as_array().unwrap().len(), report.errors.len());
    // The manifest lists exactly the files the run stored.
    let prefix = format!("{RUN}/infra/{infra}/k8s/");
    let stored: BTreeSet<String> = stack
        .keys_under(&prefix)
        .await
        .into_iter()
        .map(|k| k[prefix.len()..].to_string())
        .filter(|k| k != "manifest.json")
        .collect();
    let listed: BTreeSet<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, stored);
}

#[tokio::test]
async fn a_restore_cut_off_by_the_api_server_going_away_reports_each_object_and_a_rerun_finishes_it_without_duplicates()
{
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("cutoff").await;
    let source = tenant.namespace.clone();
    let infra = unique("infra");
    let backup = backup_with(direct(), stack.s3.clone()).await;
    completed_backup(&backup, &stack, &infra, &[&source], &["Secret", "ConfigMap"]).await;

    let target = unique("cutoff-restored");
    let mut event = stack.restore_event(&infra);
    event["namespace_mapping"] = json!({ source.clone(): target.clone() });
    let request = RestoreRequest::from_event(event, &Defaults::default()).unwrap();

    // The API server goes away after the namespace and three objects are written.
    let proxy = Proxy::kube(stack.kube.clone()).await;
    proxy.script(nth_matching(
        |seen| seen.method == "POST",
        BTreeMap::from([(4, Fault::GoDown)]),
    ));
    let mut restore = Restore::new(
        through(proxy.kubeconfig(&stack.cluster)),
        stack.s3.clone(),
        unaudited().await,
    );
    restore.concurrency = 1;
    let cut: Report = restore.run(&request, &no_deadline()).await.unwrap();
    assert_eq!(cut.status, Status::PartiallyFailed);

    // The report says exactly what is in the cluster.
    let present = stack.configuration(&target).await;
    let mut applied = 0;
    let mut not_applied = 0;
    for object in cut.objects.iter().filter(|o| o.kind != "Namespace") {
        let there = present.contains_key(&(object.kind.clone(), object.name.clone()));
        match object.action {
            lifeboat::report::Action::Created => {
                assert!(there, "{} {} reported created but absent", object.kind, object.name);
                applied += 1;
            }
            lifeboat::report::Action::Failed => {
                assert!(!there, "{} {} reported failed but present", object.kind, object.name);
                assert!(object.reason.is_some());
                not_applied += 1;
            }
            other => panic!("{} {}: {other:?}", object.kind, object.name),
        }
    }
    assert_eq!((applied, not_applied), (3, 5), "{:?}", cut.objects);

    // Run again, with the API server back: the rest is created, nothing twice.
    let rerun = Restore::new(direct(), stack.s3.clone(), unaudited().await)
        .run(&request, &no_deadline())
        .await
        .unwrap();
    assert_eq!(rerun.status, Status::Completed, "{:?}", rerun.errors);
    for object in rerun.objects.iter().filter(|o| o.kind != "Namespace") {
        let before = cut
            .objects
            .iter()
            .find(|o| o.kind == object.kind && o.name == object.name)
            .unwrap();
        let expected = match before.action {
            lifeboat::report::Action::Created => lifeboat::report::Action::Unchanged,
            _ => lifeboat::report::Action::Created,
        };
        assert_eq!(object.action, expected, "{} {}", object.kind, object.name);
    }
    assert_eq!(stack.configuration(&target).await, stack.configuration(&source).await);
}

/// A kubeconfig of the admin that acts as `user` (impersonation), whom RBAC then limits;
/// the file, which holds the admin's key, is removed when the returned path is dropped.
fn kubeconfig_acting_as(user: &str) -> TempPath {
    let mut config = kube::config::Kubeconfig::read().expect("the admin kubeconfig reads");
    for named in &mut config.auth_infos {
        if let Some(auth) = named.auth_info.as_mut() {
            auth.impersonate = Some(user.to_string());
        }
    }
    write_kubeconfig(
        "acting-as",
        &serde_json::to_value(&config).expect("the kubeconfig serialises"),
    )
}

#[tokio::test]
async fn a_tenant_the_backup_role_may_not_read_is_named_in_the_report_and_the_others_are_backed_up() {
    let stack = Stack::connect().await;
    let mut tenants = Vec::new();
    for prefix in ["allowed-a", "allowed-b", "forbidden"] {
        let ns = stack.new_tenant(prefix).await;
        config_maps(&stack, &ns, 2).await;
        tenants.push(ns);
    }
    let forbidden = tenants[2].clone();

    // A backup role that may list namespaces, and read only the first two tenants.
    let user = unique("lifeboat-narrow");
    let subject = Subject {
        kind: "User".into(),
        name: user.clone(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Default::default()
    };
    let rule = |resources: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: vec!["get".into(), "list".into()],
        ..Default::default()
    };
    let role = |name: &str, resources: &[&str]| ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        rules: Some(vec![rule(resources)]),
        ..Default::default()
    };
    let role_ref = |name: &str| RoleRef {
        api_group: "rbac.authorization.k8s.io".into(),
        kind: "ClusterRole".into(),
        name: name.into(),
    };
    let (namespaces_role, read_role) = (format!("{user}-namespaces"), format!("{user}-read"));
    let roles: Api<ClusterRole> = Api::all(stack.kube.clone());
    roles
        .create(&PostParams::default(), &role(&namespaces_role, &["namespaces"]))
        .await
        .unwrap();
    roles
        .create(&PostParams::default(), &role(&read_role, &["secrets", "configmaps"]))
        .await
        .unwrap();
    let bindings: Api<ClusterRoleBinding> = Api::all(stack.kube.clone());
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(namespaces_role.clone()),
            ..Default::default()
        },
        role_ref: role_ref(&namespaces_role),
        subjects: Some(vec![subject.clone()]),
    };
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    for ns in &tenants[..2] {
        let binding = RoleBinding {
            metadata: ObjectMeta {
                name: Some(read_role.clone()),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            role_ref: role_ref(&read_role),
            subjects: Some(vec![subject.clone()]),
        };
        Api::<RoleBinding>::namespaced(stack.kube.clone(), ns)
            .create(&PostParams::default(), &binding)
            .await
            .unwrap();
    }

    let infra = unique("infra");
    let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
    let kubeconfig = kubeconfig_acting_as(&user);
    let backup = backup_with(through(kubeconfig.to_path_buf()), stack.s3.clone()).await;
    let report = backup
        .run(
            &backup_request(&stack, &infra, &names, &["Secret", "ConfigMap"], TIME),
            &no_deadline(),
        )
        .await;
    // It holds the admin's client key: removed before anything can fail.
    kubeconfig.close().expect("the kubeconfig is removed");
    let report = report.unwrap();

    for name in [&namespaces_role, &read_role] {
        roles.delete(name, &Default::default()).await.unwrap();
    }
    bindings.delete(&namespaces_role, &Default::default()).await.unwrap();

    assert_eq!(report.status, Status::PartiallyFailed);
    let failed: BTreeSet<(Option<String>, Option<String>)> = report
        .errors
        .iter()
        .map(|e| (e.tenant.clone(), e.kind.clone()))
        .collect();
    assert_eq!(
        failed,
        BTreeSet::from([
            (Some(forbidden.clone()), Some("Secret".into())),
            (Some(forbidden.clone()), Some("ConfigMap".into())),
        ]),
        "{:?}",
        report.errors
    );
    assert!(
        report.errors.iter().all(|e| e.message.contains("forbidden")),
        "{:?}",
        report.errors
    );
    let json = serde_json::to_value(&report).unwrap();
    for ns in &tenants[..2] {
        assert_eq!(lifeboat_tests::count(&json, ns, "ConfigMap", "backed-up"), 2, "{json}");
    }
    let manifest = manifest(&stack, RUN, &infra).await;
    assert_eq!(manifest["status"], "PartiallyFailed");
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["namespace"] != json!(forbidden)),
        "a file of the forbidden tenant was committed"
    );
}

#[tokio::test]
async fn two_invocations_of_one_scheduled_run_at_once_leave_one_complete_backup_not_a_mix() {
    let stack = Stack::connect().await;
    let ns = stack.seed_tenant("twice").await.namespace;
    let infra = unique("infra");
    // Slow LISTs, so the two invocations overlap for seconds, not microseconds; each
    // through a proxy of its own, so that what each read can be told apart.
    let slow = |seen: &Seen| {
        if seen.method == "GET" && (seen.path.ends_with("/secrets") || seen.path.ends_with("/configmaps")) {
            Fault::Delay(Duration::from_millis(500))
        } else {
            Fault::Pass
        }
    };
    let proxies = [
        Proxy::kube(stack.kube.clone()).await,
        Proxy::kube(stack.kube.clone()).await,
    ];
    let mut backups = Vec::new();
    for proxy in &proxies {
        proxy.script(slow);
        let mut backup = backup_with(through(proxy.kubeconfig(&stack.cluster)), stack.s3.clone()).await;
        backup.page_size = 2;
        backups.push(backup);
    }
    let request = backup_request(&stack, &infra, &[&ns], &["Secret", "ConfigMap"], TIME);
    let invocation = no_deadline();
    let (one, other) = tokio::join!(
        backups[0].run(&request, &invocation),
        backups[1].run(&request, &invocation)
    );
    let statuses = [one.unwrap().status, other.unwrap().status];
    let winner = statuses
        .iter()
        .position(|s| *s == Status::Completed)
        .unwrap_or_else(|| panic!("neither completed: {statuses:?}"));
    let loser = 1 - winner;
    assert!(
        matches!(statuses[loser], Status::AlreadyRunning | Status::AlreadyCompleted),
        "{statuses:?}"
    );
    // The loser read what it needs to take the claim (API discovery, to resolve the
    // kinds, and the tenant's Namespace) and nothing else: no object of the tenant.
    let read_by_loser = proxies[loser].seen();
    assert!(!read_by_loser.is_empty());
    for seen in &read_by_loser {
        let discovery = seen.path == "/api"
            || seen.path == "/apis"
            || seen.path.starts_with("/api/v1") && seen.path.matches('/').count() == 2
            || seen.path.starts_with("/apis/") && seen.path.matches('/').count() <= 3;
        let namespaces = seen.path == "/api/v1/namespaces" || seen.path == format!("/api/v1/namespaces/{ns}");
        assert!(
            seen.method == "GET" && (discovery || namespaces),
            "the invocation that lost the claim read {} {}",
            seen.method,
            seen.path
        );
    }
    let winner_lists = proxies[winner]
        .seen()
        .iter()
        .filter(|s| lists(s, &ns, "secrets") && s.param("continue").is_none())
        .count();
    assert_eq!(
        winner_lists, 1,
        "the invocation that won listed the tenant's Secrets once"
    );
    let backup = &backups[winner];

    // The committed files are the ones the manifest names, and the claim is released.
    let manifest = manifest(&stack, RUN, &infra).await;
    assert_eq!(manifest["status"], "Completed");
    for file in manifest["files"].as_array().unwrap() {
        let bytes = stack
            .read(&format!("{RUN}/infra/{infra}/k8s/{}", file["key"].as_str().unwrap()))
            .await;
        assert_eq!(lifeboat::store::sha256_hex(&bytes), file["sha256"].as_str().unwrap());
    }
    let claim: Value = serde_json::from_slice(&stack.read(&format!("claims/{RUN}/{infra}.json")).await).unwrap();
    assert_eq!(claim["released"], true, "{claim}");

    // A later retry of the same run leaves the committed backup alone.
    let again = backup.run(&request, &no_deadline()).await.unwrap();
    assert_eq!(again.status, Status::AlreadyCompleted);
}

#[tokio::test]
async fn a_claim_left_by_an_invocation_that_died_is_taken_over_once_it_lapses() {
    let stack = Stack::connect().await;
    let ns = stack.seed_tenant("lapsed").await.namespace;
    let infra = unique("infra");
    let claim = format!("claims/{RUN}/{infra}.json");
    let put_claim = |expires_at: chrono::DateTime<chrono::Utc>| {
        let record = json!({
            "holder": "dead", "taken_at": expires_at - chrono::TimeDelta::minutes(15),
            "expires_at": expires_at, "released": false,
        });
        stack
            .s3
            .put_object()
            .bucket(&stack.bucket)
            .key(&claim)
            .body(serde_json::to_vec(&record).unwrap().into())
            .send()
    };
    let backup = backup_with(direct(), stack.s3.clone()).await;
    let request = backup_request(&stack, &infra, &[&ns], &["Secret"], TIME);

    // Its holder could still be running: hands off.
    put_claim(chrono::Utc::now() + chrono::TimeDelta::minutes(10))
        .await
        .unwrap();
    let busy = backup.run(&request, &no_deadline()).await.unwrap();
    assert_eq!(busy.status, Status::AlreadyRunning);
    assert!(
        stack.keys_under(&format!("{RUN}/infra/{infra}/")).await.is_empty(),
        "an invocation that found a live claim wrote"
    );

    // Its holder's deadline has passed: the run is redone and committed.
    put_claim(chrono::Utc::now() - chrono::TimeDelta::minutes(1))
        .await
        .unwrap();
    let report = backup.run(&request, &no_deadline()).await.unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    assert_eq!(manifest(&stack, RUN, &infra).await["status"], "Completed");
}
