//! Bad input, one row per case, each with the exact error it gives and proof that
//! nothing was written: no key anywhere in the bucket for the refused events' scheduled
//! time, which no other test uses (every infrastructure a row names, or leaves out, and
//! the claims), no key added under a refused restore's backup, no object in the cluster. Rows that the event alone decides run through the library as
//! the functions do (`from_event`, then `run`), with the production EKS access and the
//! backup role's credentials where the cluster is what is wrong; the malformed JSON row
//! goes through the real binary, as the Lambda runtime refuses it before lifeboat runs.
//! The backup setting's own rules (every bad `IntervalInHours` form, `IsEnabled`) have
//! their table in `settings_validation.rs`.
//!
//! The last test is the good input that is easy to get wrong: names with dots, unicode
//! annotation values and 1 MiB ConfigMaps back up and restore exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ObjectMeta, PostParams};
use lifeboat::backup::Backup;
use lifeboat::cluster::ClusterAccess;
use lifeboat::eks::EksAccess;
use lifeboat::event::{BackupRequest, Defaults, Invocation, RestoreRequest};
use lifeboat::report::{Action, Report, Status};
use lifeboat::restore::Restore;
use lifeboat_tests::faults::{Fault, Proxy};
use lifeboat_tests::{Stack, unaudited, unique};
use serde_json::{Value, json};

const TIME: &str = "2026-11-22T13:00:00Z";
const RUN: &str = "2026/11/22/130000";
/// The scheduled time of the refused backup events: theirs alone, so that nothing at
/// all may exist under it, whichever infrastructure a row names or leaves out.
const REFUSED_TIME: &str = "2026-11-23T07:41:00Z";
const REFUSED_RUN: &str = "2026/11/23/074100";

/// The keys of the run at `TIME` of each infrastructure.
async fn infrastructure_keys(stack: &Stack, infrastructures: &[&str]) -> Vec<Vec<String>> {
    let mut keys = Vec::new();
    for infra in infrastructures {
        keys.push(stack.keys_under(&format!("{RUN}/infra/{infra}/")).await);
    }
    keys
}

/// Every key of a run, of any infrastructure, and of its claims.
async fn run_keys(stack: &Stack, run: &str) -> Vec<String> {
    let mut keys = stack.keys_under(&format!("{run}/")).await;
    keys.extend(stack.keys_under(&format!("claims/{run}/")).await);
    keys
}

/// The backup role's session credentials, from the AWS emulator's STS.
async fn backup_role() -> Credentials {
    let arn = std::env::var("LIFEBOAT_BACKUP_ROLE_ARN").expect("the stack env is sourced");
    lifeboat_tests::eks::session_credentials(&arn, "lifeboat-bad-input").await
}

/// How the functions reach clusters in production: EKS, with the backup role.
async fn eks_access() -> ClusterAccess {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(backup_role().await)
        .load()
        .await;
    ClusterAccess::Eks(Box::new(EksAccess::new(sdk)))
}

/// A backup as the function runs it, from the raw event.
async fn backup(cluster: ClusterAccess, s3: aws_sdk_s3::Client, event: Value) -> lifeboat::Result<Report> {
    let request = BackupRequest::from_event(event, &Defaults::default(), chrono::Utc::now())?;
    Backup::new(cluster, s3, None, unaudited().await)
        .run(&request, &Invocation::default())
        .await
}

/// A restore as the function runs it, from the raw event.
async fn restore(s3: aws_sdk_s3::Client, event: Value) -> lifeboat::Result<Report> {
    let request = RestoreRequest::from_event(event, &Defaults::default())?;
    Restore::new(ClusterAccess::Kubeconfig { path: None }, s3, unaudited().await)
        .run(&request, &Invocation::default())
        .await
}

fn refused(row: &str, outcome: lifeboat::Result<Report>) -> (String, String) {
    match outcome {
        Err(e) => (e.error_type().to_string(), e.to_string()),
        Ok(report) => panic!("{row}: accepted, {:?}: {:?}", report.status, report.errors),
    }
}

#[tokio::test]
async fn each_bad_event_is_refused_with_its_exact_error_and_nothing_is_written_anywhere() {
    let stack = Stack::connect().await;
    let tenant = stack.small_tenant("badevent").await;
    let before = stack.configuration(&tenant).await;

    // (row, how the event differs from a good one, error type, what the message says)
    type Edit = Box<dyn Fn(&mut Value)>;
    let rows: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "missing infrastructure",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("infrastructure"))),
            "InvalidEvent",
            "missing field `infrastructure`",
        ),
        (
            "missing cluster",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("cluster"))),
            "InvalidEvent",
            "missing field `cluster`",
        ),
        (
            "missing settings",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("settings"))),
            "InvalidEvent",
            "missing field `settings`",
        ),
        (
            "missing K8sResourceKinds",
            Box::new(|e| drop(e["settings"].as_object_mut().unwrap().remove("K8sResourceKinds"))),
            "InvalidEvent",
            "K8sResourceKinds",
        ),
        (
            "an empty kinds list",
            Box::new(|e| e["settings"]["K8sResourceKinds"] = json!([])),
            "InvalidEvent",
            "K8sResourceKinds must name at least one kind",
        ),
        (
            "an unknown kind",
            Box::new(|e| e["settings"]["K8sResourceKinds"] = json!(["Secret", "Secrets"])),
            "UnknownKind",
            "'Secrets'",
        ),
        (
            "a tenant that is not a namespace name",
            Box::new(|e| e["tenants"] = json!(["Billing_Team"])),
            "InvalidEvent",
            "Billing_Team",
        ),
        (
            "a nonexistent cluster",
            Box::new(|e| e["cluster"] = json!("no-such-cluster")),
            "ClusterNotAvailable",
            "EKS has no cluster 'no-such-cluster' in us-east-1",
        ),
        (
            "a nonexistent region",
            Box::new(|e| e["region"] = json!("xx-nowhere-9")),
            "ClusterNotAvailable",
            "xx-nowhere-9",
        ),
        (
            "a nonexistent bucket",
            Box::new(|e| e["bucket"] = json!("lifeboat-no-such-bucket")),
            "StoreUnavailable",
            "NoSuchBucket",
        ),
    ];
    for (row, edit, error_type, says) in rows {
        let infra = unique("badevent");
        let mut event = stack.backup_event(&infra, &[&tenant], REFUSED_TIME);
        edit(&mut event);
        let (got_type, message) = refused(row, backup(eks_access().await, stack.s3.clone(), event).await);
        assert_eq!(got_type, error_type, "{row}: {message}");
        assert!(message.contains(says), "{row}: {message}");
        assert_eq!(run_keys(&stack, REFUSED_RUN).await, Vec::<String>::new(), "{row} wrote");
    }

    // A bucket the role may not use: S3 answers AccessDenied to everything.
    let proxy = Proxy::s3(&std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    proxy.script(|_| Fault::Answer {
        status: 403,
        headers: vec![("content-type", "application/xml".into())],
        body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
               <Message>Access Denied</Message></Error>"
            .into(),
    });
    let infra = unique("badevent");
    let event = stack.backup_event(&infra, &[&tenant], REFUSED_TIME);
    let (got_type, message) = refused(
        "a bucket without access",
        backup(
            eks_access().await,
            proxy.s3_client(Duration::from_secs(10)).await,
            event,
        )
        .await,
    );
    assert_eq!(got_type, "StoreUnavailable", "{message}");
    assert!(
        message.contains("AccessDenied") && message.contains("role may use it"),
        "{message}"
    );

    // Malformed JSON never reaches lifeboat: the Lambda runtime refuses it.
    let url = std::env::var("LIFEBOAT_LAMBDA_URL").expect("LIFEBOAT_LAMBDA_URL is set");
    let response = reqwest::Client::new()
        .post(format!("{url}/2015-03-31/functions/backup/invocations"))
        .body(format!(
            "{{\"infrastructure\": \"{}\", \"scheduled_time\": \"{REFUSED_TIME}\",",
            unique("badevent")
        ))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errorType"], "&lambda_runtime::deserializer::DeserializeError",
        "{body}"
    );
    assert!(
        body["errorMessage"].as_str().unwrap().contains("EOF while parsing"),
        "{body}"
    );

    assert_eq!(
        run_keys(&stack, REFUSED_RUN).await,
        Vec::<String>::new(),
        "a refused run wrote"
    );
    assert_eq!(
        stack.configuration(&tenant).await,
        before,
        "a refused run changed the cluster"
    );
}

/// A backup of a small tenant whose objects are then deleted from the cluster, so that
/// any restore that writes would show: the tenant and the infrastructure.
async fn backed_up_then_emptied(stack: &Stack, prefix: &str) -> (String, String) {
    let ns = stack.small_tenant(prefix).await;
    let infra = unique("badrestore");
    let event = stack.backup_event(&infra, &[&ns], TIME);
    let report = backup(ClusterAccess::Kubeconfig { path: None }, stack.s3.clone(), event)
        .await
        .unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    stack
        .secrets(&ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();
    stack
        .config_maps(&ns)
        .delete("app-config", &Default::default())
        .await
        .unwrap();
    (ns, infra)
}

/// Where the broken copies of a backup go.
const FORGED: &str = "2026/11/22/140000";

/// A copy of a committed run at [`FORGED`], one file's bytes replaced and (when
/// `reseal`) its checksum in the manifest too, so the restore gets past the checksum to
/// what is wrong inside. A copy, because a manifest written over is refused outright.
async fn forged_with(stack: &Stack, infra: &str, relative: &str, bytes: Vec<u8>, reseal: bool) {
    let (manifest, mut files) = lifeboat_tests::storage::committed(stack, infra, RUN).await;
    for (entry, stored) in files.iter_mut() {
        if entry["key"] == relative {
            *stored = bytes.clone();
        }
    }
    lifeboat_tests::storage::forge_run(stack, infra, FORGED, manifest, files, reseal).await;
}

fn list_of(items: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "apiVersion": "v1", "kind": "List", "items": items })).unwrap()
}

#[tokio::test]
async fn each_bad_restore_input_is_refused_or_fails_its_objects_with_its_exact_error_and_nothing_is_written() {
    let stack = Stack::connect().await;

    // Refused as a whole, before the cluster is touched.
    let (ns, infra) = backed_up_then_emptied(&stack, "badsource").await;
    let never_backed_up = unique("badrestore");
    let no_manifest = unique("badrestore");
    stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(format!("{RUN}/infra/{no_manifest}/k8s/namespaces/{ns}/secrets.json"))
        .body(list_of(json!([])).into())
        .send()
        .await
        .unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let source = |infra: String, backup: &'static str| -> Edit {
        Box::new(move |e| e["source"] = json!({ "infrastructure": infra, "backup": backup }))
    };
    let rows: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "source.backup names a run that does not exist",
            source(infra.clone(), "2001/01/01/000000"),
            "BackupNotFound",
            "matches '2001/01/01/000000'",
        ),
        (
            "source.backup is not a run path",
            source(infra.clone(), "yesterday"),
            "InvalidEvent",
            "yesterday",
        ),
        (
            "latest of an infrastructure never backed up",
            source(never_backed_up.clone(), "latest"),
            "BackupNotFound",
            "matches 'latest'",
        ),
        (
            "a run that has files but no manifest",
            source(no_manifest.clone(), RUN),
            "BackupNotFound",
            "'2026/11/22/130000'",
        ),
        (
            "namespace_mapping to an invalid namespace name",
            Box::new(|e| e["namespace_mapping"] = json!({ "a": "Not_A_Namespace" })),
            "InvalidEvent",
            "Not_A_Namespace",
        ),
        (
            "missing cluster",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("cluster"))),
            "InvalidEvent",
            "missing field `cluster`",
        ),
    ];
    let bucket_before = infrastructure_keys(&stack, &[&infra, &never_backed_up, &no_manifest]).await;
    for (row, edit, error_type, says) in rows {
        let mut event = stack.restore_event(&infra);
        edit(&mut event);
        let (got_type, message) = refused(row, restore(stack.s3.clone(), event).await);
        assert_eq!(got_type, error_type, "{row}: {message}");
        assert!(message.contains(says), "{row}: {message}");
    }
    assert!(stack.configuration(&ns).await.is_empty(), "a refused restore wrote");
    let bucket_after = infrastructure_keys(&stack, &[&infra, &never_backed_up, &no_manifest]).await;
    assert_eq!(bucket_after, bucket_before, "a refused restore wrote to the bucket");

    // Read, then refused object by object: the objects of the broken file fail with the
    // reason, and nothing of them is written.
    let too_big = "x".repeat(3 * 1024 * 1024);
    let objects: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        (
            "a file whose checksum does not match the manifest",
            list_of(
                json!([{ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db-credentials" },
                             "data": { "password": "Y2hhbmdlZA==" } }]),
            ),
            false,
            "checksum mismatch",
        ),
        (
            "a file that is not valid JSON",
            b"{\"apiVersion\": \"v1\", \"items\": [".to_vec(),
            true,
            "is not JSON",
        ),
        (
            "a file that is JSON but not a List",
            serde_json::to_vec(&json!({ "hello": "world" })).unwrap(),
            true,
            "is not a List of objects",
        ),
        (
            "an object that is not a Kubernetes object",
            list_of(json!([{ "metadata": { "name": "db-credentials" }, "data": "not a map" }])),
            true,
            "not the v1 Secret the file is listed as",
        ),
        (
            "a Secret that is not a Secret inside",
            list_of(
                json!([{ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db-credentials" },
                             "data": "not a map" }]),
            ),
            true,
            "cannot be handled as a Secret",
        ),
        (
            "an object over the API server's size limit",
            list_of(
                json!([{ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db-credentials" },
                             "stringData": { "big": too_big } }]),
            ),
            true,
            "Request entity too large: limit is 3145728",
        ),
    ];
    for (row, bytes, reseal, says) in objects {
        let (ns, infra) = backed_up_then_emptied(&stack, "badobject").await;
        forged_with(&stack, &infra, &format!("namespaces/{ns}/secrets.json"), bytes, reseal).await;
        let mut event = stack.restore_event(&infra);
        event["source"]["backup"] = json!(FORGED);
        let stored = stack.keys_under(&format!("{FORGED}/infra/{infra}/")).await;
        let report = restore(stack.s3.clone(), event).await.unwrap();
        assert_eq!(
            stack.keys_under(&format!("{FORGED}/infra/{infra}/")).await,
            stored,
            "{row}: the restore wrote to the bucket"
        );
        assert_eq!(report.status, Status::PartiallyFailed, "{row}");
        let secret = report
            .objects
            .iter()
            .find(|o| o.kind == "Secret" && o.name == "db-credentials")
            .unwrap_or_else(|| panic!("{row}: {:?}", report.objects));
        assert_eq!(secret.action, Action::Failed, "{row}");
        let reason = secret.reason.clone().unwrap_or_default();
        assert!(reason.contains(says), "{row}: {reason}");
        assert!(
            stack.secrets(&ns).get_opt("db-credentials").await.unwrap().is_none(),
            "{row}: the broken object was written"
        );
    }
}

#[tokio::test]
async fn names_with_dots_unicode_annotations_and_1_mib_config_maps_back_up_and_restore_exactly() {
    let stack = Stack::connect().await;
    let ns = stack.new_tenant("exact").await;
    let meta = |name: &str| ObjectMeta {
        name: Some(name.into()),
        annotations: Some(BTreeMap::from([
            (
                "lifeboat.test/note".to_string(),
                "grüße, 世界 — ✓ 🚀 \u{200b}zero-width".to_string(),
            ),
            (
                "lifeboat.test/quotes".to_string(),
                "\"quoted\" \\ back\\slash\nnew line".to_string(),
            ),
        ])),
        ..Default::default()
    };
    // The API server's limit for a ConfigMap's data is 1 MiB; this one is just under it.
    let big = "0123456789abcdef".repeat(1024 * 1024 / 16 - 64);
    let config_maps = [
        ConfigMap {
            metadata: meta("app.config.v1"),
            data: Some(BTreeMap::from([("app.properties".to_string(), "a=b".to_string())])),
            ..Default::default()
        },
        ConfigMap {
            metadata: meta("one-mebibyte"),
            data: Some(BTreeMap::from([("blob".to_string(), big)])),
            ..Default::default()
        },
    ];
    for cm in &config_maps {
        stack.config_maps(&ns).create(&PostParams::default(), cm).await.unwrap();
    }
    let secret = Secret {
        metadata: meta("db.credentials.prod"),
        string_data: Some(BTreeMap::from([(
            "password".to_string(),
            "pässwörd 秘密 🔑".to_string(),
        )])),
        ..Default::default()
    };
    stack
        .secrets(&ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let before = stack.configuration(&ns).await;

    let infra = unique("exact");
    let report = backup(
        ClusterAccess::Kubeconfig { path: None },
        stack.s3.clone(),
        stack.backup_event(&infra, &[&ns], TIME),
    )
    .await
    .unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    stack.delete_namespace(&ns).await;

    let restored = restore(stack.s3.clone(), stack.restore_event(&infra)).await.unwrap();
    assert_eq!(restored.status, Status::Completed, "{:?}", restored.errors);
    assert_eq!(stack.configuration(&ns).await, before);
}
