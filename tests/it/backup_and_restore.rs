//! Backup and restore through the real function binaries under the Lambda emulator,
//! against the local API server and S3 emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ResourceQuota;
use kube::api::{Patch, PatchParams, PostParams};
use lifeboat_tests::storage;
use lifeboat_tests::{Stack, action_of, count, reason_of, unique};
use serde_json::{Value, json};

const TIME: &str = "2026-11-22T13:00:00Z";
const RUN: &str = "2026/11/22/130000";

#[tokio::test]
async fn a_deleted_tenant_comes_back_with_every_object_identical() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("roundtrip").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let before = stack.configuration(ns).await;
    let namespace_before = stack.namespace_metadata(ns).await;
    assert_eq!(before.len(), 8, "seeded five secrets and three config maps");

    let report = stack.report("backup", &stack.backup_event(&infra, &[ns], TIME)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(report["run_path"], RUN);
    assert_eq!(count(&report, ns, "Secret", "backed-up"), 5);
    assert_eq!(count(&report, ns, "ConfigMap", "backed-up"), 3);
    assert_eq!(count(&report, ns, "Namespace", "backed-up"), 1);

    // The layout operators browse, one file per tenant and kind, encrypted with KMS,
    // manifest included.
    let prefix = format!("{RUN}/infra/{infra}/k8s/");
    let mut keys = stack.keys_under(&prefix).await;
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{prefix}cluster/namespaces.json"),
            format!("{prefix}manifest.json"),
            format!("{prefix}namespaces/{ns}/configmaps.json"),
            format!("{prefix}namespaces/{ns}/secrets.json"),
        ],
        "the tenants' namespaces, a file per kind of the tenant, and the manifest"
    );
    let head = stack
        .s3
        .head_object()
        .bucket(&stack.bucket)
        .key(format!("{prefix}namespaces/{ns}/secrets.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert!(
        head.ssekms_key_id().is_some_and(|k| k.contains(":key/")),
        "{:?}",
        head.ssekms_key_id()
    );

    // Stored files are `v1` Lists `kubectl apply` accepts: each item with its kind and
    // apiVersion, no server-set fields.
    let stored = lifeboat_tests::list_items(stack.read(&format!("{prefix}namespaces/{ns}/secrets.json")).await);
    assert_eq!(stored.len(), 5, "the five user-made secrets, no token secret");
    let frozen = stored.iter().find(|o| o["metadata"]["name"] == "frozen").unwrap();
    assert_eq!(
        (frozen["apiVersion"].as_str(), frozen["kind"].as_str()),
        (Some("v1"), Some("Secret"))
    );
    for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
        assert!(frozen["metadata"].get(field).is_none(), "{field} was stored");
    }
    assert_eq!(frozen["immutable"], true);

    // The manifest lists every stored file with its SHA-256, and the objects in it.
    let manifest: Value = serde_json::from_slice(&stack.read(&format!("{prefix}manifest.json")).await).unwrap();
    assert_eq!(manifest["status"], "Completed");
    assert_eq!(manifest["format_version"], 2);
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{manifest}");
    let objects: usize = files.iter().map(|f| f["objects"].as_array().unwrap().len()).sum();
    assert_eq!(objects, 9, "a namespace, five secrets, three config maps: {manifest}");
    for file in files {
        let bytes = stack.read(&format!("{prefix}{}", file["key"].as_str().unwrap())).await;
        assert_eq!(file["sha256"].as_str().unwrap(), lifeboat::store::sha256_hex(&bytes));
        assert_eq!(file["size"].as_u64().unwrap(), bytes.len() as u64);
    }

    stack.delete_namespace(ns).await;
    let restore = stack.restore_event(&infra);
    let report = stack.report("restore", &restore).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(count(&report, ns, "Namespace", "created"), 1);
    assert_eq!(count(&report, ns, "Secret", "created"), 5);
    assert_eq!(count(&report, ns, "ConfigMap", "created"), 3);

    assert_eq!(
        stack.configuration(ns).await,
        before,
        "restored objects differ from the originals"
    );
    assert_eq!(stack.namespace_metadata(ns).await, namespace_before);
    let blob = stack.secrets(ns).get("binary-blob").await.unwrap();
    assert_eq!(
        blob.data.unwrap()["blob"].0[..256],
        lifeboat_tests::binary_bytes()[..],
        "binary data is back byte for byte"
    );

    // Restoring again finds everything in place.
    let again = stack.report("restore", &restore).await;
    assert_eq!(count(&again, ns, "Secret", "unchanged"), 5, "{again}");
    assert_eq!(count(&again, ns, "ConfigMap", "unchanged"), 3, "{again}");
}

#[tokio::test]
async fn a_tenant_restores_into_a_mapped_namespace_beside_the_original() {
    let stack = Stack::connect().await;
    let (tenant, infra) = stack.backed_up_tenant("mapped", TIME).await;
    let ns = tenant.namespace.as_str();

    let target = format!("{ns}-restored");
    let mut event = stack.restore_event(&infra);
    event["tenants"] = json!([ns]);
    event["namespace_mapping"] = json!({ ns: target });
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(count(&report, ns, "Secret", "created"), 5);
    let secret = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Secret")
        .unwrap();
    assert_eq!(secret["target_namespace"], json!(target));

    assert_eq!(stack.configuration(&target).await, stack.configuration(ns).await);
    assert_eq!(
        stack.namespace_metadata(&target).await,
        stack.namespace_metadata(ns).await
    );
}

#[tokio::test]
async fn existing_skip_leaves_changed_objects_and_overwrite_puts_the_backup_back() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("existing").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let before = stack.configuration(ns).await;
    stack.report("backup", &stack.backup_event(&infra, &[ns], TIME)).await;

    // Change a mutable secret, and replace an immutable one (only delete and create can).
    let patch = json!({ "data": { "password": ByteString(b"changed".to_vec()) } });
    stack
        .secrets(ns)
        .patch("db-credentials", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    stack.secrets(ns).delete("frozen", &Default::default()).await.unwrap();
    lifeboat_tests::eventually("frozen is gone", std::time::Duration::from_secs(30), || async {
        stack.secrets(ns).get_opt("frozen").await.unwrap().is_none()
    })
    .await;
    let mut frozen = k8s_openapi::api::core::v1::Secret::default();
    frozen.metadata.name = Some("frozen".into());
    frozen.immutable = Some(true);
    frozen.data = Some(BTreeMap::from([("token".to_string(), ByteString(b"other".to_vec()))]));
    stack.secrets(ns).create(&PostParams::default(), &frozen).await.unwrap();
    let changed = stack.configuration(ns).await;

    let mut event = stack.restore_event(&infra);
    event["existing"] = json!("skip");
    let report = stack.report("restore", &event).await;
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "skipped");
    assert_eq!(action_of(&report, "Secret", "frozen"), "skipped");
    assert_eq!(action_of(&report, "Secret", "tls-cert"), "unchanged");
    assert_eq!(stack.configuration(ns).await, changed, "skip changed nothing");

    // A dry run of the overwrite: the cluster checks each replace and keeps none, and
    // the one that cannot be made in place is named with what the restore would do.
    event["existing"] = json!("overwrite");
    event["dry_run"] = json!(true);
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "would-update");
    assert_eq!(reason_of(&report, "Secret", "db-credentials"), "");
    assert_eq!(action_of(&report, "Secret", "frozen"), "would-update");
    let frozen_reason = reason_of(&report, "Secret", "frozen");
    assert!(
        frozen_reason.starts_with("it cannot change in place (")
            && frozen_reason.contains("immutable")
            && frozen_reason.ends_with("; it would be deleted and created again"),
        "{frozen_reason}"
    );
    assert_eq!(stack.configuration(ns).await, changed, "a dry run changed nothing");

    event["dry_run"] = json!(false);
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "updated");
    assert_eq!(action_of(&report, "Secret", "frozen"), "updated");
    assert!(
        reason_of(&report, "Secret", "frozen").ends_with(", so it was deleted and created again"),
        "{report}"
    );
    assert_eq!(action_of(&report, "ConfigMap", "app-config"), "unchanged");
    assert_eq!(
        stack.configuration(ns).await,
        before,
        "overwrite put every object back as backed up"
    );
}

#[tokio::test]
async fn a_dry_run_reports_what_would_happen_and_writes_nothing() {
    let stack = Stack::connect().await;
    let (tenant, infra) = stack.backed_up_tenant("dryrun", TIME).await;
    let ns = tenant.namespace.as_str();
    stack
        .secrets(ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();
    let patch = json!({ "data": { "app.properties": "mode=test\n" } });
    stack
        .config_maps(ns)
        .patch("app-config", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let target = format!("{ns}-preview");
    let before = stack.configuration(ns).await;

    let mut event = stack.restore_event(&infra);
    event["existing"] = json!("overwrite");
    event["dry_run"] = json!(true);
    let report = stack.report("restore", &event).await;
    assert_eq!(report["dry_run"], true);
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "would-create");
    assert_eq!(action_of(&report, "ConfigMap", "app-config"), "would-update");
    assert_eq!(action_of(&report, "Secret", "tls-cert"), "unchanged");
    assert_eq!(stack.configuration(ns).await, before, "a dry run changed the cluster");

    // Into a namespace that does not exist: it is not created either. The cluster checks
    // the namespace; what would go into it cannot be checked before it exists.
    event["namespace_mapping"] = json!({ ns: target });
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(action_of(&report, "Namespace", ns), "would-create");
    assert_eq!(reason_of(&report, "Namespace", ns), "");
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "would-create");
    assert_eq!(
        reason_of(&report, "Secret", "db-credentials"),
        format!("not checked by the cluster: the restore would create the namespace {target} first")
    );
    let namespaces = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(stack.kube.clone());
    assert!(
        namespaces.get_opt(&target).await.unwrap().is_none(),
        "a dry run created a namespace"
    );
}

#[tokio::test]
async fn a_dry_run_is_checked_by_the_cluster_and_fails_what_the_restore_would_fail() {
    let stack = Stack::connect().await;
    let (tenant, infra) = stack.backed_up_tenant("dryquota", TIME).await;
    let ns = tenant.namespace.as_str();

    // The namespace restored into allows no more ConfigMaps: the quota's admission
    // refuses each create, a real one or a dry run's.
    let target = stack.new_tenant("dryquota-dr").await;
    let quotas = kube::Api::<ResourceQuota>::namespaced(stack.kube.clone(), &target);
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": { "name": "no-more-config" },
        "spec": { "hard": { "count/configmaps": "0" } },
    }))
    .unwrap();
    quotas.create(&PostParams::default(), &quota).await.unwrap();
    // Until the controller has counted the namespace, admission refuses every create
    // for another reason.
    lifeboat_tests::eventually("the quota is counted", Duration::from_secs(60), || async {
        let quota = quotas.get("no-more-config").await.unwrap();
        quota.status.and_then(|s| s.hard).is_some()
    })
    .await;

    let mut event = stack.restore_event(&infra);
    event["namespace_mapping"] = json!({ ns: target });
    event["dry_run"] = json!(true);
    let dry = stack.report("restore", &event).await;
    assert_eq!(dry["status"], "PartiallyFailed", "{dry}");
    assert_eq!(count(&dry, ns, "Secret", "would-create"), 5, "{dry}");
    assert_eq!(count(&dry, ns, "ConfigMap", "failed"), 3, "{dry}");
    let reason = reason_of(&dry, "ConfigMap", "app-config");
    assert!(
        reason.starts_with("create failed:") && reason.contains("exceeded quota: no-more-config"),
        "{reason}"
    );
    // The cluster's own objects (the service-account token, kube-root-ca.crt) appear in
    // the new namespace whenever its controllers get to it, so only user-made ones count.
    let kept = stack.configuration(&target).await;
    assert!(kept.is_empty(), "a dry run kept {:?}", kept.keys());

    // The restore itself does what the dry run said, object by object.
    event["dry_run"] = json!(false);
    let real = stack.report("restore", &event).await;
    assert_eq!(real["status"], "PartiallyFailed", "{real}");
    let actions = |report: &Value| -> BTreeMap<(String, String), String> {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] != "Namespace")
            .map(|o| {
                let object = (o["kind"].as_str().unwrap().into(), o["name"].as_str().unwrap().into());
                (object, o["action"].as_str().unwrap().replace("would-create", "created"))
            })
            .collect()
    };
    assert_eq!(actions(&real), actions(&dry));
    assert_eq!(actions(&real).len(), 8);
    let reason = reason_of(&real, "ConfigMap", "app-config");
    assert!(reason.contains("exceeded quota: no-more-config"), "{reason}");
}

#[tokio::test]
async fn a_file_that_does_not_match_its_manifest_checksum_is_refused_and_nothing_of_it_is_written_but_the_other_files_restore()
 {
    let stack = Stack::connect().await;
    let (tenant, infra) = stack.backed_up_tenant("tamper", TIME).await;
    let ns = tenant.namespace.as_str();

    // A password swapped in a file that its manifest still vouches for. In a versioned
    // bucket restore reads the version the manifest records, so the run is copied to a
    // path of its own without version ids, as a bucket without versioning holds it.
    let (manifest, mut files) = storage::committed(&stack, &infra, RUN).await;
    let (_, secrets) = files.iter_mut().find(|(entry, _)| entry["kind"] == "Secret").unwrap();
    let mut object: Value = serde_json::from_slice(secrets).unwrap();
    let db = object["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|o| o["metadata"]["name"] == "db-credentials")
        .unwrap();
    db["data"]["password"] = json!("YXR0YWNrZXI=");
    *secrets = serde_json::to_vec(&object).unwrap();
    storage::forge_run(&stack, &infra, "2026/11/22/140000", manifest, files, false).await;
    stack.delete_namespace(ns).await;

    let mut event = stack.restore_event(&infra);
    event["source"]["backup"] = json!("2026/11/22/140000");
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "PartiallyFailed", "{report}");
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "failed");
    let objects = report["objects"].as_array().unwrap();
    let reason = objects.iter().find(|o| o["name"] == "db-credentials").unwrap()["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("checksum mismatch"), "{reason}");
    assert!(
        stack.secrets(ns).get_opt("db-credentials").await.unwrap().is_none(),
        "the tampered secret was written"
    );
    assert_eq!(
        count(&report, ns, "Secret", "failed"),
        5,
        "every secret of the tampered file fails"
    );
    assert_eq!(count(&report, ns, "Secret", "created"), 0);
    assert_eq!(count(&report, ns, "ConfigMap", "created"), 3, "{report}");
}

#[tokio::test]
async fn a_second_backup_shows_a_change_and_a_deletion() {
    let stack = Stack::connect().await;
    let (tenant, infra) = stack.backed_up_tenant("second", TIME).await;
    let ns = tenant.namespace.as_str();

    let patch = json!({ "data": { "greeting": "changed" } });
    stack
        .config_maps(ns)
        .patch("app-config", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    stack.secrets(ns).delete("registry", &Default::default()).await.unwrap();
    let report = stack
        .report("backup", &stack.backup_event(&infra, &[ns], "2026-11-22T14:00:00Z"))
        .await;
    assert_eq!(report["run_path"], "2026/11/22/140000");
    assert_eq!(count(&report, ns, "Secret", "backed-up"), 4);

    let first = format!("{RUN}/infra/{infra}/k8s/namespaces/{ns}/");
    let second = format!("2026/11/22/140000/infra/{infra}/k8s/namespaces/{ns}/");
    let names = |items: Vec<Value>| -> Vec<String> {
        items
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first_secrets = names(lifeboat_tests::list_items(
        stack.read(&format!("{first}secrets.json")).await,
    ));
    let second_secrets = names(lifeboat_tests::list_items(
        stack.read(&format!("{second}secrets.json")).await,
    ));
    assert!(first_secrets.contains(&"registry".to_string()));
    assert!(
        !second_secrets.contains(&"registry".to_string()),
        "the deleted secret is still in the new backup"
    );
    let greeting = |items: Vec<Value>| {
        items
            .into_iter()
            .find(|o| o["metadata"]["name"] == "app-config")
            .unwrap()["data"]["greeting"]
            .clone()
    };
    assert_eq!(
        greeting(lifeboat_tests::list_items(
            stack.read(&format!("{first}configmaps.json")).await
        )),
        "grüße, 世界"
    );
    assert_eq!(
        greeting(lifeboat_tests::list_items(
            stack.read(&format!("{second}configmaps.json")).await
        )),
        "changed"
    );

    // `latest` is the second backup; the first is still there by its path.
    let mut latest = stack.restore_event(&infra);
    latest["dry_run"] = json!(true);
    let report = stack.report("restore", &latest).await;
    assert_eq!(report["run_path"], "2026/11/22/140000");
    let mut named = stack.restore_event(&infra);
    named["source"]["backup"] = json!(RUN);
    named["names"] = json!(["registry"]);
    let report = stack.report("restore", &named).await;
    assert_eq!(action_of(&report, "Secret", "registry"), "created");
}

#[tokio::test]
async fn a_retried_scheduled_run_lands_in_the_same_folder_and_does_not_redo_a_committed_backup() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("retry").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let event = stack.backup_event(&infra, &[ns], TIME);
    let first = stack.report("backup", &event).await;
    let keys = stack.keys_under(&format!("{RUN}/infra/{infra}/")).await;
    assert_eq!(keys.len(), 4, "namespaces, secrets, config maps, manifest: {keys:?}");

    let retry = stack.report("backup", &event).await;
    assert_eq!(retry["status"], "AlreadyCompleted", "{retry}");
    assert_eq!(retry["backup"], first["backup"]);
    assert_eq!(stack.keys_under(&format!("{RUN}/infra/{infra}/")).await, keys);
}

#[tokio::test]
async fn a_retry_of_a_run_that_died_before_its_manifest_completes_it_beside_the_first_attempt_and_what_was_deleted_meanwhile_is_neither_listed_nor_restored()
 {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("died").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    // The earlier attempt took the run's claim, which lapsed when it died, and stored the
    // tenant's secrets with one that was deleted from the cluster before the retry, and a
    // file of a kind the retry does not back up. Backups are never written over, and the
    // backup role may not delete, so both stay as they are beside the retry's files.
    let secrets = format!("{RUN}/infra/{infra}/k8s/namespaces/{ns}/secrets.json");
    let relative = format!("namespaces/{ns}/serviceaccounts.json");
    let stray = format!("{RUN}/infra/{infra}/k8s/{relative}");
    let stray_secret = json!({ "apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": { "name": "deleted-meanwhile", "namespace": ns },
        "data": { "token": "c3RyYXk=" },
    }]});
    let lapsed = json!({ "holder": "died", "taken_at": "2026-11-22T13:00:00Z",
                         "expires_at": "2026-11-22T13:15:00Z", "released": false, "attempt": 1 });
    storage::put(
        &stack,
        &format!("claims/{RUN}/{infra}.json"),
        serde_json::to_vec(&lapsed).unwrap(),
    )
    .await;
    for key in [&secrets, &stray] {
        storage::put(&stack, key, serde_json::to_vec(&stray_secret).unwrap()).await;
    }

    let report = stack.report("backup", &stack.backup_event(&infra, &[ns], TIME)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    let keys = stack.keys_under(&format!("{RUN}/infra/{infra}/")).await;
    assert!(
        keys.contains(&stray) && keys.contains(&secrets),
        "the backup deleted an object, which its role may not"
    );
    assert_eq!(
        storage::versions(&stack, &secrets).await,
        1,
        "the retry wrote over the first attempt's file"
    );
    assert_eq!(
        keys.len(),
        6,
        "the first attempt's two files beside the retry's four: {keys:?}"
    );
    let manifest: Value =
        serde_json::from_slice(&stack.read(&format!("{RUN}/infra/{infra}/k8s/manifest.json")).await).unwrap();
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed.iter().all(|key| key.starts_with("attempt-2/")),
        "the retry's files are its own: {listed:?}"
    );
    assert!(
        !manifest.to_string().contains("deleted-meanwhile"),
        "the manifest names the deleted secret"
    );

    // Restore reads what the manifest lists, so the stray does not come back.
    let target = format!("{ns}-retried");
    let mut event = stack.restore_event(&infra);
    event["tenants"] = json!([ns]);
    event["namespace_mapping"] = json!({ ns: target });
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(count(&report, ns, "Secret", "created"), 5);
    assert!(
        !report.to_string().contains("deleted-meanwhile"),
        "the report names the stray: {report}"
    );
    assert!(
        stack
            .secrets(&target)
            .get_opt("deleted-meanwhile")
            .await
            .unwrap()
            .is_none(),
        "the stray was restored"
    );
    assert_eq!(stack.configuration(&target).await, stack.configuration(ns).await);
}

#[tokio::test]
async fn a_backup_without_a_manifest_is_never_chosen_as_latest() {
    let stack = Stack::connect().await;
    let (tenant, infra) = stack.backed_up_tenant("uncommitted", TIME).await;
    let ns = tenant.namespace.as_str();

    // A later run that died before its manifest: objects, no commit marker.
    let dead = format!("2026/11/22/150000/infra/{infra}/k8s/namespaces/{ns}/secrets.json");
    stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(&dead)
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();

    let mut event = stack.restore_event(&infra);
    event["dry_run"] = json!(true);
    let report = stack.report("restore", &event).await;
    assert_eq!(report["run_path"], RUN);

    let mut named = stack.restore_event(&infra);
    named["source"]["backup"] = json!("2026/11/22/150000");
    match stack.invoke("restore", &named).await {
        lifeboat_tests::Invocation::Failed { error_type, message } => {
            assert_eq!(error_type, "BackupNotFound");
            assert!(message.contains("2026/11/22/150000"), "{message}");
        }
        other => panic!("restoring an uncommitted run gave {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_tenant_is_reported_and_the_others_are_still_backed_up() {
    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("partial").await;
    let ns = tenant.namespace.as_str();
    let infra = unique("infra");
    let report = stack
        .report("backup", &stack.backup_event(&infra, &["no-such-tenant", ns], TIME))
        .await;
    assert_eq!(report["status"], "PartiallyFailed", "{report}");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-tenant")
    );
    assert_eq!(count(&report, ns, "Secret", "backed-up"), 5);
    let manifest: Value =
        serde_json::from_slice(&stack.read(&format!("{RUN}/infra/{infra}/k8s/manifest.json")).await).unwrap();
    assert_eq!(manifest["status"], "PartiallyFailed");
    assert_eq!(manifest["errors"][0]["tenant"], "no-such-tenant");
}

#[tokio::test]
async fn a_backup_that_reaches_its_deadline_commits_what_it_stored() {
    use lifeboat::backup::{Backup, COMMIT_RESERVE};
    use lifeboat::cluster::ClusterAccess;
    use lifeboat::event::{BackupRequest, Defaults, Invocation};

    let stack = Stack::connect().await;
    let tenant = stack.seed_tenant("deadline").await;
    let ns = tenant.namespace.as_str();
    let backup = Backup::new(
        ClusterAccess::Kubeconfig { path: None },
        stack.s3.clone(),
        None,
        stack.audit().await,
    );
    let until = |deadline| Invocation {
        function_arn: None,
        deadline: Some(deadline),
    };
    let request = |infra: &str| {
        BackupRequest::from_event(
            stack.backup_event(infra, &[ns], TIME),
            &Defaults::default(),
            chrono::Utc::now(),
        )
        .unwrap()
    };

    // Plenty of time: the whole tenant.
    let roomy = unique("infra");
    let far = chrono::Utc::now() + chrono::TimeDelta::minutes(15);
    let report = backup.run(&request(&roomy), &until(far)).await.unwrap();
    assert_eq!(report.status, lifeboat::report::Status::Completed);

    // Less time left than committing needs: the run stops listing, yet commits.
    let tight = unique("infra");
    let near = chrono::Utc::now() + COMMIT_RESERVE - chrono::TimeDelta::seconds(1);
    let report = backup.run(&request(&tight), &until(near)).await.unwrap();
    assert_eq!(report.status, lifeboat::report::Status::PartiallyFailed);
    assert!(report.errors[0].message.contains("deadline"), "{:?}", report.errors);
    let manifest: Value =
        serde_json::from_slice(&stack.read(&format!("{RUN}/infra/{tight}/k8s/manifest.json")).await).unwrap();
    assert_eq!(manifest["status"], "PartiallyFailed");
    assert!(manifest["errors"][0]["message"].as_str().unwrap().contains("deadline"));
}

#[tokio::test]
async fn the_scope_takes_tenants_by_label_and_leaves_out_excluded_tenants_kinds_and_labelled_objects() {
    let stack = Stack::connect().await;
    let label = unique("team").replace('-', "");
    let (wanted, other, excluded) = (
        stack.small_tenant("scoped").await,
        stack.small_tenant("scoped").await,
        stack.small_tenant("scoped").await,
    );
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(stack.kube.clone());
    for ns in [&wanted, &excluded] {
        let patch = json!({ "metadata": { "labels": { "lifeboat.test/team": label } } });
        namespaces
            .patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }
    let scratch = json!({ "metadata": { "labels": { "lifeboat.io/exclude": "true" } } });
    stack
        .config_maps(&wanted)
        .patch("app-config", &PatchParams::default(), &Patch::Merge(&scratch))
        .await
        .unwrap();

    let infra = unique("infra");
    let mut event = stack.backup_event(&infra, &[], TIME);
    event.as_object_mut().unwrap().remove("tenants");
    event["tenant_selector"] = json!(format!("lifeboat.test/team={label}"));
    event["exclude_tenants"] = json!([excluded]);
    event["settings"]["K8sResourceKinds"] = json!(["Secret", "ConfigMap", "ServiceAccount"]);
    event["exclude_kinds"] = json!(["ServiceAccount"]);
    let report = stack.report("backup", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    let tenants: Vec<&String> = report["counts"].as_object().unwrap().keys().collect();
    assert_eq!(
        tenants,
        [&wanted],
        "only the labelled tenant that is not excluded: {report}"
    );
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "backed-up");
    assert_eq!(action_of(&report, "ConfigMap", "app-config"), "skipped");
    assert_eq!(
        reason_of(&report, "ConfigMap", "app-config"),
        "labelled lifeboat.io/exclude=true"
    );
    assert!(
        !report["kinds"].as_object().unwrap().contains_key("ServiceAccount"),
        "{report}"
    );
    let manifest: Value =
        serde_json::from_slice(&stack.read(&format!("{RUN}/infra/{infra}/k8s/manifest.json")).await).unwrap();
    assert_eq!(manifest["tenants"], json!([wanted]));
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] != "ServiceAccount")
    );
    assert_ne!(other, wanted);
}
