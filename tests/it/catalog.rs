//! The catalog function and the `lifeboat` command-line tool: list, describe, history
//! and diff of real backups, and no Secret value in any answer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use lifeboat_tests::storage::{committed, forge_run};
use lifeboat_tests::{Invocation, Stack, eventually, unique};
use serde_json::{Value, json};

const FIRST: &str = "2026-10-03T01:00:00Z";
const FIRST_RUN: &str = "2026/10/03/010000";
const SECOND: &str = "2026-10-04T01:00:00Z";
const SECOND_RUN: &str = "2026/10/04/010000";

/// What no answer may hold: the Secret's values, plain and base64.
const SECRET_VALUES: &[&str] = &["hunter2", "hunter3", "aHVudGVyMg==", "aHVudGVyMw=="];

fn no_secret_in(answer: &Value) {
    let text = answer.to_string();
    for value in SECRET_VALUES {
        assert!(
            !text.contains(value),
            "an answer holds the secret value {value}: {text}"
        );
    }
}

async fn ask(stack: &Stack, event: Value) -> Value {
    let answer = stack.report("catalog", &event).await;
    no_secret_in(&answer);
    answer
}

async fn refused(stack: &Stack, event: Value) -> (String, String) {
    match stack.invoke("catalog", &event).await {
        Invocation::Failed { error_type, message } => (error_type, message),
        Invocation::Report(answer) => panic!("answered {answer}"),
    }
}

/// A tenant with a Secret, two ConfigMaps (one labelled to be left out) and a
/// Deployment whose ReplicaSet exists, backed up twice with the Secret changed between.
async fn two_backups(stack: &Stack, infra: &str) -> String {
    let ns = stack.small_tenant("catalog").await;
    let excluded = ConfigMap {
        metadata: ObjectMeta {
            name: Some("scratch".into()),
            labels: Some(BTreeMap::from([(
                "lifeboat.io/exclude".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        ..Default::default()
    };
    stack
        .config_maps(&ns)
        .create(&PostParams::default(), &excluded)
        .await
        .unwrap();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
            }
        }
    }))
    .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(stack.kube.clone(), &ns);
    deployments.create(&PostParams::default(), &deployment).await.unwrap();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(stack.kube.clone(), &ns);
    eventually("the Deployment's ReplicaSet exists", Duration::from_secs(60), || {
        let replica_sets = replica_sets.clone();
        async move {
            !replica_sets
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
        }
    })
    .await;

    let backup = |time: &str| {
        let mut event = stack.backup_event(infra, &[&ns], time);
        event["settings"]["K8sResourceKinds"] = json!(["Secret", "ConfigMap", "Deployment", "ReplicaSet"]);
        event
    };
    let report = stack.report("backup", &backup(FIRST)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    let patch = json!({"stringData": {"password": "hunter3"}});
    stack
        .secrets(&ns)
        .patch("db-credentials", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let report = stack.report("backup", &backup(SECOND)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    ns
}

#[tokio::test]
async fn list_describe_and_history_answer_from_the_manifests_and_files() {
    let stack = Stack::connect().await;
    let infra = unique("catalog");
    let ns = two_backups(&stack, &infra).await;
    let range = json!({"action": "list", "infrastructure": infra, "from": FIRST, "to": SECOND});

    // list: newest first, each with its status, tenants, kinds and counts.
    let list = ask(&stack, range.clone()).await;
    let backups = list["backups"].as_array().unwrap();
    let runs: Vec<&str> = backups.iter().map(|b| b["backup"].as_str().unwrap()).collect();
    assert_eq!(runs, [SECOND_RUN, FIRST_RUN], "{list}");
    let newest = &backups[0];
    assert_eq!(newest["status"], "Completed");
    assert_eq!(newest["tenants"], json!([ns]));
    assert_eq!(
        newest["kinds"],
        json!(["ConfigMap", "Deployment.apps", "ReplicaSet.apps", "Secret"])
    );
    // A Secret, a ConfigMap, the Deployment and the Namespace; left out are the labelled
    // ConfigMap, the Deployment's ReplicaSet, and what the cluster makes itself (the
    // service account's token Secret, kube-root-ca.crt).
    assert_eq!(newest["objects"], 4, "{newest}");
    assert_eq!(newest["skipped"], 4, "{newest}");
    assert!(newest["bytes"].as_u64().unwrap() > 0);
    assert_eq!(list["more"], false);

    let mut one = range.clone();
    one["limit"] = json!(1);
    let first_page = ask(&stack, one).await;
    assert_eq!(first_page["backups"].as_array().unwrap().len(), 1);
    assert_eq!(first_page["backups"][0]["backup"], SECOND_RUN);
    assert_eq!(first_page["more"], true, "{first_page}");
    let mut older = range.clone();
    older["to"] = json!("2026-10-03T23:00:00Z");
    let older = ask(&stack, older).await;
    assert_eq!(older["backups"][0]["backup"], FIRST_RUN, "{older}");

    let mut reversed = range.clone();
    reversed["from"] = json!(SECOND);
    reversed["to"] = json!(FIRST);
    let (error_type, message) = refused(&stack, reversed).await;
    assert_eq!(error_type, "InvalidEvent");
    assert!(message.contains("from must not be after to"), "{message}");

    // describe: per tenant and kind, what was left out and why, every checksum checked.
    let described = ask(&stack, json!({"action": "describe", "infrastructure": infra})).await;
    assert_eq!(described["backup"], SECOND_RUN, "latest is the second run");
    let parts = described["tenants"][&ns].as_array().unwrap();
    let part = |kind: &str| {
        parts
            .iter()
            .find(|p| p["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind}: {described}"))
    };
    assert_eq!(part("Secret")["objects"], 1);
    let scratch = part("ConfigMap")["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "scratch")
        .unwrap_or_else(|| panic!("{described}"));
    assert!(
        scratch["reason"].as_str().unwrap().contains("lifeboat.io/exclude=true"),
        "{described}"
    );
    let rs_skipped = &part("ReplicaSet")["skipped"][0];
    assert!(
        rs_skipped["reason"]
            .as_str()
            .unwrap()
            .contains("made by its Deployment web"),
        "{described}"
    );
    let files = described["cluster_scoped"].as_array().unwrap().len() + parts.len();
    assert_eq!(
        described["verification"],
        json!({"files": files, "verified": files, "failed": 0}),
        "{described}"
    );
    assert!(parts.iter().all(|p| p["verified"] == true));

    // history: the Secret changed between the runs, the ConfigMap did not; fingerprints
    // tell which without showing either value.
    let history = |kind: &str, name: &str| {
        json!({"action": "history", "infrastructure": infra, "kind": kind, "namespace": ns, "name": name,
               "from": FIRST, "to": SECOND})
    };
    let secret = ask(&stack, history("Secret", "db-credentials")).await;
    let changes: Vec<&Value> = secret["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["change"])
        .collect();
    assert_eq!(changes, [&json!("changed"), &json!("oldest")], "{secret}");
    assert_eq!(secret["versions"], 2);
    let fingerprints: Vec<&str> = secret["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fingerprint"].as_str().expect("fingerprints are on in the stack"))
        .collect();
    assert_ne!(fingerprints[0], fingerprints[1]);
    assert!(fingerprints.iter().all(|f| f.starts_with("hmac-sha256:")));
    let config = ask(&stack, history("ConfigMap", "app-config")).await;
    assert_eq!(config["backups"][0]["change"], "unchanged", "{config}");
    assert_eq!(config["backups"][0]["fingerprint"], config["backups"][1]["fingerprint"]);
    assert_eq!(config["versions"], 1);

    let (error_type, message) = refused(&stack, history("Secret", "no-such-secret")).await;
    assert_eq!(error_type, "ObjectNotFound");
    assert!(
        message.contains("Secret 'no-such-secret'") && message.contains(&ns),
        "{message}"
    );
    let (error_type, message) = refused(
        &stack,
        json!({"action": "describe", "infrastructure": infra, "backup": "2026/10/05/010000"}),
    )
    .await;
    assert_eq!(error_type, "BackupNotFound");
    assert!(message.contains("lifeboat list"), "{message}");
}

#[tokio::test]
async fn diff_names_the_changed_fields_and_conceals_secret_values() {
    let stack = Stack::connect().await;
    let infra = unique("catalog");
    let ns = two_backups(&stack, &infra).await;

    // Two backups: the Secret's password changed, shown only as fingerprints.
    let diff = ask(
        &stack,
        json!({"action": "diff", "infrastructure": infra, "backup": FIRST_RUN, "against": SECOND_RUN}),
    )
    .await;
    assert_eq!(
        diff["counts"],
        json!({"added": 0, "removed": 0, "changed": 1, "unchanged": 3}),
        "{diff}"
    );
    let secret = &diff["objects"][0];
    assert_eq!(
        (secret["kind"].as_str(), secret["name"].as_str()),
        (Some("Secret"), Some("db-credentials"))
    );
    let field = &secret["fields"][0];
    assert_eq!(field["path"], "data.password");
    assert_eq!(field["concealed"], true);
    assert!(field.get("before").is_none() && field.get("after").is_none(), "{field}");
    assert_ne!(field["before_fingerprint"], field["after_fingerprint"]);
    assert_eq!(diff["fingerprints"], true);
    // A tenant filter takes that tenant's Namespace only, out of the file all share.
    let other_tenant = ask(
        &stack,
        json!({"action": "diff", "infrastructure": infra, "backup": FIRST_RUN, "against": SECOND_RUN,
               "tenants": ["another-tenant"]}),
    )
    .await;
    assert_eq!(
        other_tenant["counts"],
        json!({"added": 0, "removed": 0, "changed": 0, "unchanged": 0}),
        "{other_tenant}"
    );

    // The live cluster: the Deployment scaled, a ConfigMap deleted, a Secret added.
    let deployments: Api<Deployment> = Api::namespaced(stack.kube.clone(), &ns);
    let scale = json!({"spec": {"replicas": 3}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    stack
        .config_maps(&ns)
        .delete("app-config", &DeleteParams::default())
        .await
        .unwrap();
    let added = Secret {
        metadata: ObjectMeta {
            name: Some("new-token".into()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([("token".to_string(), "hunter2".to_string())])),
        ..Default::default()
    };
    stack.secrets(&ns).create(&PostParams::default(), &added).await.unwrap();

    let live = ask(
        &stack,
        json!({"action": "diff", "infrastructure": infra, "against": "live"}),
    )
    .await;
    assert_eq!(live["backup"], SECOND_RUN);
    assert_eq!(live["cluster"], stack.cluster.as_str());
    let changes: Vec<(String, String, String)> = live["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().into(),
                o["name"].as_str().unwrap().into(),
                o["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("ConfigMap", "app-config", "removed"),
        ("Deployment", "web", "changed"),
        ("Secret", "new-token", "added"),
    ];
    for (kind, name, change) in expected {
        assert!(
            changes.contains(&(kind.into(), name.into(), change.into())),
            "{kind} {name} {change}: {live}"
        );
    }
    // Everything else reads as a backup would store it now, so nothing else differs: the
    // Secret, the Namespace; the ReplicaSet and the labelled ConfigMap are left out.
    assert_eq!(
        live["counts"],
        json!({"added": 1, "removed": 1, "changed": 1, "unchanged": 2}),
        "{live}"
    );
    let web = live["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "web")
        .unwrap();
    assert_eq!(
        web["fields"],
        json!([{"path": "spec.replicas", "change": "changed", "before": 1, "after": 3}]),
        "{live}"
    );

    // ConfigMap values are shown unless asked to be concealed.
    let between = |conceal: bool| {
        json!({"action": "diff", "infrastructure": infra, "backup": SECOND_RUN, "against": "live",
               "kinds": ["ConfigMap"], "conceal_configmaps": conceal})
    };
    let patch = json!({"data": {"mode": "changed"}});
    let config = ConfigMap {
        metadata: ObjectMeta {
            name: Some("app-config".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("mode".to_string(), "live".to_string())])),
        ..Default::default()
    };
    stack
        .config_maps(&ns)
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    stack
        .config_maps(&ns)
        .patch("app-config", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let shown = ask(&stack, between(false)).await;
    assert_eq!(
        shown["objects"][0]["fields"],
        json!([{"path": "data.mode", "change": "changed", "before": "live", "after": "changed"}]),
        "{shown}"
    );
    let concealed = ask(&stack, between(true)).await;
    let field = &concealed["objects"][0]["fields"][0];
    assert_eq!(
        (field["path"].as_str(), field["concealed"].as_bool()),
        (Some("data.mode"), Some(true))
    );
    assert!(
        field.get("after").is_none() && field["after_fingerprint"].is_string(),
        "{concealed}"
    );
}

#[tokio::test]
async fn describe_reports_a_file_that_no_longer_matches_its_checksum() {
    let stack = Stack::connect().await;
    let infra = unique("catalog");
    let ns = stack.small_tenant("catalog").await;
    let report = stack.report("backup", &stack.backup_event(&infra, &[&ns], FIRST)).await;
    assert_eq!(report["status"], "Completed", "{report}");
    let (manifest, mut files) = committed(&stack, &infra, FIRST_RUN).await;
    for (entry, bytes) in &mut files {
        if entry["kind"] == "Secret" {
            bytes.extend_from_slice(b" ");
        }
    }
    let forged = "2026/10/02/010000";
    forge_run(&stack, &infra, forged, manifest, files, false).await;
    let described = ask(
        &stack,
        json!({"action": "describe", "infrastructure": infra, "backup": forged}),
    )
    .await;
    assert_eq!(described["verification"]["failed"], 1, "{described}");
    let secret = described["tenants"][&ns]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "Secret")
        .unwrap();
    assert_eq!(secret["verified"], false);
    assert!(
        secret["problem"].as_str().unwrap().contains("checksum mismatch"),
        "{described}"
    );
    let config = described["tenants"][&ns]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "ConfigMap")
        .unwrap();
    assert_eq!(config["verified"], true);
}

/// The `lifeboat` binary, built beside this test binary by `cargo build --workspace`.
fn lifeboat_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = dir.join("lifeboat");
    assert!(
        binary.exists(),
        "{} is missing: build it with cargo build --bin lifeboat",
        binary.display()
    );
    binary
}

fn run_cli(stack: &Stack, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(lifeboat_binary())
        .args(["--endpoint-url", stack.lambda_url(), "--function", "catalog"])
        .args(args)
        .output()
        .expect("the tool runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_command_line_tool_prints_tables_or_json_and_says_what_is_wrong() {
    let stack = Stack::connect().await;
    let infra = unique("catalog");
    let ns = stack.small_tenant("catalog").await;
    let report = stack.report("backup", &stack.backup_event(&infra, &[&ns], FIRST)).await;
    assert_eq!(report["status"], "Completed", "{report}");

    let (code, table, stderr) = run_cli(&stack, &["list", "-i", &infra, "--from", FIRST, "--to", SECOND]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("BACKUP") && lines[1].contains("STATUS"), "{table}");
    assert!(
        lines[2].starts_with(&format!("{FIRST_RUN}  Completed  {ns}")),
        "{table}"
    );

    let (code, json_out, stderr) = run_cli(&stack, &["--json", "describe", "-i", &infra, "--backup", FIRST_RUN]);
    assert_eq!(code, 0, "{stderr}");
    let described: Value = serde_json::from_str(&json_out).expect("--json prints the answer");
    assert_eq!(described["verification"]["failed"], 0);

    let (code, text, stderr) = run_cli(
        &stack,
        &[
            "history",
            "-i",
            &infra,
            "--kind",
            "Secret",
            "-n",
            &ns,
            "--name",
            "db-credentials",
            "--from",
            FIRST,
            "--to",
            SECOND,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains(FIRST_RUN) && text.contains("hmac-sha256:") && !text.contains("hunter2"),
        "{text}"
    );

    let (code, text, stderr) = run_cli(&stack, &["diff", "-i", &infra, "--backup", FIRST_RUN, "--live"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("0 added, 0 removed, 0 changed, 3 unchanged"), "{text}");

    let (code, _, stderr) = run_cli(&stack, &["list", "-i", &infra, "--from", SECOND, "--to", FIRST]);
    assert_eq!(code, 2, "bad input exits 2: {stderr}");
    assert!(
        stderr.contains("from must not be after to") && stderr.contains("(InvalidEvent)"),
        "{stderr}"
    );
    let (code, _, stderr) = run_cli(&stack, &["describe", "-i", &infra, "--backup", "2026/10/09/000000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("BackupNotFound") && stderr.contains("lifeboat list"),
        "{stderr}"
    );
    let (code, _, stderr) = run_cli(&stack, &["diff", "-i", &infra]);
    assert_eq!(code, 2, "clap refuses a diff without --live or --against: {stderr}");
    assert!(stderr.contains("--live") || stderr.contains("--against"), "{stderr}");
}
