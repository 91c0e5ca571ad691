//! The trust model, attacked. Each test does what someone with a foothold could try (a
//! writer of the bucket, an invoker of a function, a function's own role) and shows it
//! refused with nothing changed; each would fail if the attack succeeded.
//!
//! A forged backup is written as its own run, one version per key, as the backup role
//! could create it: a manifest written over an existing one is refused outright (first
//! test), so the object-by-object checks behind it are reached only this way.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};
use lifeboat::cluster::ClusterAccess;
use lifeboat::eks::EksAccess;
use lifeboat_tests::eks::{EksStack, REGION, Role};
use lifeboat_tests::storage::{forge_run, list_of, manifest_key, put, versions};
use lifeboat_tests::{Invocation, Stack, action_of, reason_of, unique};
use serde_json::{Value, json};

const TIME: &str = "2026-11-22T13:00:00Z";
const RUN: &str = "2026/11/22/130000";
/// Where forged runs go: a run path no backup of these tests uses.
const FORGED: &str = "2026/11/22/140000";

/// What an attacker would most like a restore to write: cluster-admin for everyone.
fn escalation(name: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": { "name": name },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated" }],
    })
}

async fn binding_exists(stack: &Stack, name: &str) -> bool {
    Api::<ClusterRoleBinding>::all(stack.kube.clone())
        .get_opt(name)
        .await
        .unwrap()
        .is_some()
}

fn refused(invocation: Invocation) -> (String, String) {
    match invocation {
        Invocation::Failed { error_type, message } => (error_type, message),
        Invocation::Report(report) => panic!("the event was accepted: {report}"),
    }
}

/// A small tenant (see `Stack::small_tenant`), backed up through the function at [`RUN`].
struct BackedUp {
    ns: String,
    infra: String,
    manifest: Value,
}

async fn backed_up(stack: &Stack, prefix: &str) -> BackedUp {
    let ns = stack.small_tenant(prefix).await;
    let infra = unique("trust");
    let report = stack.report("backup", &stack.backup_event(&infra, &[&ns], TIME)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    let manifest: Value = serde_json::from_slice(&stack.read(&manifest_key(&infra, RUN)).await).unwrap();
    BackedUp { ns, infra, manifest }
}

/// The manifest's entry for a tenant's Secrets, and the namespaces file's.
fn entries(backed: &BackedUp) -> (Value, Value) {
    let files = backed.manifest["files"].as_array().unwrap();
    let find = |kind: &str| files.iter().find(|f| f["kind"] == kind).unwrap().clone();
    (find("Secret"), find("Namespace"))
}

/// Forges a run of the tenant's infrastructure at `run` that holds the tenant's Namespace
/// and a Secrets file of `items` listing `names`, and any further `files`.
async fn forge_secrets(
    stack: &Stack,
    backed: &BackedUp,
    run: &str,
    names: &[&str],
    items: Vec<Value>,
    files: Vec<(Value, Vec<u8>)>,
) {
    let (mut secrets, namespaces) = entries(backed);
    secrets["objects"] = json!(names);
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": backed.ns } });
    let mut all = vec![(secrets, list_of(items)), (namespaces, list_of(vec![namespace]))];
    all.extend(files);
    forge_run(stack, &backed.infra, run, backed.manifest.clone(), all, true).await;
}

fn restore_of(stack: &Stack, backed: &BackedUp, run: &str) -> Value {
    let mut event = stack.restore_event(&backed.infra);
    event["source"]["backup"] = json!(run);
    event
}

#[tokio::test]
async fn a_manifest_written_over_after_its_run_committed_is_refused_and_nothing_is_restored() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "rewritten").await;
    stack
        .secrets(&backed.ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();
    // Even the same bytes: a second version means someone wrote the key after commit.
    let key = manifest_key(&backed.infra, RUN);
    put(&stack, &key, serde_json::to_vec(&backed.manifest).unwrap()).await;
    for backup in [RUN, "latest"] {
        let (error_type, message) = refused(stack.invoke("restore", &restore_of(&stack, &backed, backup)).await);
        assert_eq!(error_type, "ManifestRefused", "{backup}: {message}");
        assert!(
            message.contains("holds 2 versions") && message.contains("refuses it"),
            "{message}"
        );
    }
    assert!(
        stack
            .secrets(&backed.ns)
            .get_opt("db-credentials")
            .await
            .unwrap()
            .is_none(),
        "a refused restore wrote"
    );
}

#[tokio::test]
async fn a_cluster_role_binding_in_a_tenants_secrets_file_is_refused_object_by_object() {
    let stack = Stack::connect().await;
    let mut backed = backed_up(&stack, "forgedkind").await;
    let name = unique("escalate");
    let genuine = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db-credentials" },
                          "data": { "password": "b3JpZ2luYWw=" } });
    // The manifest's kinds say Secrets are cluster-wide ClusterRoleBindings: a restore that
    // took plural and scope from there would write the binding cluster-wide.
    backed.manifest["kinds"] = json!([{ "group": "rbac.authorization.k8s.io", "version": "v1", "kind": "Secret",
                                        "plural": "clusterrolebindings", "namespaced": false }]);
    let items = vec![escalation(&name), genuine];
    forge_secrets(&stack, &backed, FORGED, &[&name, "db-credentials"], items, vec![]).await;
    stack
        .secrets(&backed.ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();

    // Restricted to the tenant and to Secrets, run with cluster-admin credentials.
    let mut event = restore_of(&stack, &backed, FORGED);
    event["tenants"] = json!([backed.ns]);
    event["kinds"] = json!(["Secret"]);
    let report = stack.report("restore", &event).await;
    assert_eq!(report["status"], "PartiallyFailed", "{report}");
    assert_eq!(action_of(&report, "Secret", &name), "failed");
    let reason = reason_of(&report, "Secret", &name);
    assert!(
        reason.contains("\"ClusterRoleBinding\"") && reason.contains("not the v1 Secret"),
        "{reason}"
    );
    assert!(
        !binding_exists(&stack, &name).await,
        "the restore created the ClusterRoleBinding"
    );
    // The rest of the file is restored.
    assert_eq!(action_of(&report, "Secret", "db-credentials"), "created");
}

#[tokio::test]
async fn a_cluster_scoped_kind_is_written_only_when_the_request_names_it_and_never_from_a_tenants_file() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "forgedscope").await;
    let (cluster_wide, in_tenant) = (unique("escalate"), unique("escalate"));
    let binding_entry = |key: String, namespace: Option<&str>, name: &str| {
        json!({ "key": key, "api_version": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "namespace": namespace, "sha256": "", "size": 0, "objects": [name] })
    };
    let tenant_file = format!(
        "namespaces/{}/clusterrolebindings.rbac.authorization.k8s.io.json",
        backed.ns
    );
    forge_secrets(
        &stack,
        &backed,
        FORGED,
        &[],
        vec![],
        vec![
            (
                binding_entry(
                    "cluster/clusterrolebindings.rbac.authorization.k8s.io.json".into(),
                    None,
                    &cluster_wide,
                ),
                list_of(vec![escalation(&cluster_wide)]),
            ),
            (
                binding_entry(tenant_file, Some(&backed.ns), &in_tenant),
                list_of(vec![escalation(&in_tenant)]),
            ),
        ],
    )
    .await;

    let report = stack.report("restore", &restore_of(&stack, &backed, FORGED)).await;
    assert_eq!(action_of(&report, "ClusterRoleBinding", &cluster_wide), "skipped");
    assert!(
        reason_of(&report, "ClusterRoleBinding", &cluster_wide).contains("restored only when the request names them"),
        "{report}"
    );
    assert_eq!(action_of(&report, "ClusterRoleBinding", &in_tenant), "failed");
    let reason = reason_of(&report, "ClusterRoleBinding", &in_tenant);
    assert!(reason.contains("serves") && reason.contains("cluster-wide"), "{reason}");
    for name in [&cluster_wide, &in_tenant] {
        assert!(!binding_exists(&stack, name).await, "the restore created {name}");
    }
}

#[tokio::test]
async fn a_namespaced_object_lands_in_its_tenant_whatever_its_body_says() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "forgedns").await;
    let name = unique("planted");
    let planted = json!({ "apiVersion": "v1", "kind": "Secret",
                          "metadata": { "name": name, "namespace": "kube-system" }, "data": {} });
    forge_secrets(&stack, &backed, FORGED, &[&name], vec![planted], vec![]).await;
    let report = stack.report("restore", &restore_of(&stack, &backed, FORGED)).await;
    assert_eq!(action_of(&report, "Secret", &name), "created", "{report}");
    assert!(stack.secrets(&backed.ns).get_opt(&name).await.unwrap().is_some());
    assert!(
        stack.secrets("kube-system").get_opt(&name).await.unwrap().is_none(),
        "the object went where its body said"
    );
}

#[tokio::test]
async fn a_name_that_would_climb_out_of_its_collection_never_reaches_a_url() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "forgedname").await;
    let role = unique("climbed");
    let name = format!("../../../../apis/rbac.authorization.k8s.io/v1/clusterroles/{role}");
    let object = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name }, "data": {} });
    forge_secrets(&stack, &backed, FORGED, &[&name], vec![object], vec![]).await;
    let mut event = restore_of(&stack, &backed, FORGED);
    event["existing"] = json!("overwrite");
    let report = stack.report("restore", &event).await;
    assert_eq!(action_of(&report, "Secret", &name), "failed", "{report}");
    assert!(
        reason_of(&report, "Secret", &name).contains("is not a valid name"),
        "{report}"
    );
    assert!(
        Api::<ClusterRole>::all(stack.kube.clone())
            .get_opt(&role)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_file_written_over_after_commit_is_never_restored_the_backed_up_version_is() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "pinned").await;
    let (secrets, _) = entries(&backed);
    let key = format!("{RUN}/infra/{}/k8s/{}", backed.infra, secrets["key"].as_str().unwrap());
    // A later write to the same key, as someone who bypassed the create-only rule could make.
    let replaced = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db-credentials" },
                           "data": { "password": "cmVwbGFjZWQ=" } });
    put(&stack, &key, list_of(vec![replaced])).await;
    assert_eq!(versions(&stack, &key).await, 2);
    stack
        .secrets(&backed.ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();

    let report = stack.report("restore", &stack.restore_event(&backed.infra)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    let secret = stack.secrets(&backed.ns).get("db-credentials").await.unwrap();
    assert_eq!(
        secret.data.unwrap()["password"].0,
        b"hunter2",
        "the restore read the later version"
    );
}

#[tokio::test]
async fn a_backup_dated_in_the_future_is_refused_and_a_forged_one_is_never_latest() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "future").await;
    let mut event = stack.backup_event(&backed.infra, &[&backed.ns], "2099-01-01T00:00:00Z");
    let (error_type, message) = refused(stack.invoke("backup", &event).await);
    assert_eq!(error_type, "InvalidEvent");
    assert!(
        message.contains("scheduled_time may be at most 5 minutes ahead"),
        "{message}"
    );
    event["scheduled_time"] = json!("not a time");
    let (_, message) = refused(stack.invoke("backup", &event).await);
    assert!(message.contains("scheduled_time must be an RFC 3339 time"), "{message}");
    assert!(
        stack
            .keys_under(&format!("2099/01/01/000000/infra/{}/", backed.infra))
            .await
            .is_empty()
    );
    assert!(
        stack
            .keys_under(&format!("claims/2099/01/01/000000/{}.json", backed.infra))
            .await
            .is_empty()
    );

    // Written straight into the bucket instead, it is passed over by latest.
    let forged = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db-credentials" },
                         "data": { "password": "Zm9yZ2Vk" } });
    forge_secrets(
        &stack,
        &backed,
        "2099/01/01/000000",
        &["db-credentials"],
        vec![forged],
        vec![],
    )
    .await;
    let mut dry_run = stack.restore_event(&backed.infra);
    dry_run["dry_run"] = json!(true);
    let report = stack.report("restore", &dry_run).await;
    assert_eq!(report["run_path"], RUN, "{report}");
}

#[tokio::test]
async fn a_second_run_for_the_same_time_does_not_replace_the_first_and_backups_are_written_create_only() {
    let stack = Stack::connect().await;
    let backed = backed_up(&stack, "createonly").await;
    // The cluster changes; a second invocation of the same scheduled run must not record it.
    stack
        .secrets(&backed.ns)
        .delete("db-credentials", &Default::default())
        .await
        .unwrap();
    let again = stack
        .report("backup", &stack.backup_event(&backed.infra, &[&backed.ns], TIME))
        .await;
    assert_eq!(again["status"], "AlreadyCompleted", "{again}");
    let (secrets, _) = entries(&backed);
    let file = format!("{RUN}/infra/{}/k8s/{}", backed.infra, secrets["key"].as_str().unwrap());
    for key in [manifest_key(&backed.infra, RUN), file.clone()] {
        assert_eq!(versions(&stack, &key).await, 1, "{key} was written again");
    }
    // What the backup writes with is refused over an existing key by S3 itself.
    let store = lifeboat::store::Store::new(stack.s3.clone(), &stack.bucket, None);
    let error = store.put_new(&file, b"{}".to_vec()).await.unwrap_err();
    assert!(matches!(error, lifeboat::store::StoreError::Exists { .. }), "{error}");
    assert_eq!(versions(&stack, &file).await, 1);
}

#[tokio::test]
async fn an_event_naming_a_bucket_or_role_the_deployment_does_not_serve_is_refused() {
    let stack = Stack::connect().await;
    let ns = stack.new_tenant("notallowed").await;
    let infra = unique("trust");
    let mut event = stack.backup_event(&infra, &[&ns], TIME);
    event["bucket"] = json!("lifeboat-attacker-bucket");
    let (error_type, message) = refused(stack.invoke("backup", &event).await);
    assert_eq!(error_type, "NotAllowed", "{message}");
    assert!(message.contains("LIFEBOAT_ALLOWED_BUCKETS"), "{message}");

    let mut event = stack.backup_event(&infra, &[&ns], TIME);
    event["role_arn"] = json!("arn:aws:iam::210987654321:role/lifeboat-restore");
    let (error_type, message) = refused(stack.invoke("backup", &event).await);
    assert_eq!(error_type, "NotAllowed", "{message}");
    assert!(message.contains("LIFEBOAT_ALLOWED_ROLE_ARNS allows: none"), "{message}");

    let mut event = stack.restore_event(&infra);
    event["region"] = json!("eu-west-1");
    let (error_type, message) = refused(stack.invoke("restore", &event).await);
    assert_eq!(error_type, "NotAllowed", "{message}");
    assert!(message.contains("LIFEBOAT_ALLOWED_REGIONS"), "{message}");

    assert!(stack.keys_under(&format!("{RUN}/infra/{infra}/")).await.is_empty());
    assert!(stack.keys_under(&format!("claims/{RUN}/{infra}.json")).await.is_empty());
}

/// A client of the local cluster holding nothing but `role`'s EKS token.
async fn as_role(eks: &EksStack, role: Role) -> kube::Client {
    let sdk = EksStack::sdk_with(eks.role_credentials(role).await).await;
    ClusterAccess::Eks(Box::new(EksAccess::new(sdk)))
        .client(&eks.stack.cluster, REGION, None)
        .await
        .expect("the role gets in")
}

fn forbidden<T: std::fmt::Debug>(outcome: kube::Result<T>) -> bool {
    matches!(outcome, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test]
async fn each_role_may_do_its_job_in_the_cluster_and_nothing_else() {
    let eks = EksStack::connect().await;
    let ns = eks.stack.new_tenant("rbac").await;
    let (backup, restore) = (as_role(&eks, Role::Backup).await, as_role(&eks, Role::Restore).await);
    let secret: Secret = serde_json::from_value(json!({ "metadata": { "name": "probe" }, "data": {} })).unwrap();

    // Backup reads its setting's kinds and writes nothing.
    let secrets: Api<Secret> = Api::namespaced(backup.clone(), &ns);
    secrets.list(&Default::default()).await.expect("backup lists Secrets");
    assert!(forbidden(secrets.create(&PostParams::default(), &secret).await));
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(backup, &ns);
    assert!(forbidden(deployments.list(&Default::default()).await));

    // Restore writes its setting's kinds, and no kind outside them: no ClusterRoleBinding,
    // whatever a backup holds.
    let secrets: Api<Secret> = Api::namespaced(restore.clone(), &ns);
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("restore creates a Secret");
    let name = unique("escalate");
    let binding: ClusterRoleBinding = serde_json::from_value(escalation(&name)).unwrap();
    let bindings: Api<ClusterRoleBinding> = Api::all(restore.clone());
    assert!(forbidden(bindings.create(&PostParams::default(), &binding).await));
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(restore, &ns);
    assert!(forbidden(deployments.list(&Default::default()).await));
    assert!(!binding_exists(&eks.stack, &name).await);
}
