//! Real applications, exactly: the corpus in `tests/corpus/` (50 objects of 26 kinds, as
//! public example applications ship them) is applied to a tenant, backed up with every
//! kind a controller makes from them in the setting too, deleted with its cluster-scoped
//! objects, restored, and compared with what it was field by field, after removing only
//! what the API server and its controllers set. Then the tenant is restored again into a
//! mapped namespace beside the original, its references to its namespace rewritten.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use lifeboat_tests::{Stack, action_of, eventually, reason_of, unique};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// Every kind of the corpus, and every kind a controller makes from them.
const SETTING: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ControllerRevision",
    "Pod",
    "Job",
    "CronJob",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "Ingress",
    "NetworkPolicy",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "LimitRange",
    "ResourceQuota",
    "CustomResourceDefinition",
];

const TIME: &str = "2026-11-22T13:00:00Z";

/// The corpus's documents for one run: its files with the tenant, the run's id and a node
/// port filled in.
fn corpus(tenant: &str, id: &str, node_port: u16) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("__TENANT__", tenant)
            .replace("__ID__", id)
            .replace("__NODEPORT__", &node_port.to_string());
        documents.extend(text.split("\n---\n").map(str::to_string));
    }
    // A tenant gets its limits before its workloads, as a restore writes them: a pod
    // created before its namespace's LimitRange would lack the defaults a restored one gets.
    documents.sort_by_key(|d| !(d.contains("kind: LimitRange") || d.contains("kind: ResourceQuota")));
    documents
}

/// `kubectl apply` of YAML documents into `namespace`.
async fn apply(namespace: &str, documents: &[String]) {
    let text: Vec<&str> = documents.iter().map(String::as_str).collect();
    let mut child = tokio::process::Command::new("kubectl")
        .args(["apply", "-n", namespace, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.join("\n---\n").as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every corpus object of the run, as the cluster holds it, normalized: namespaced ones
/// of `namespace`, and the cluster-scoped ones.
async fn snapshot(stack: &Stack, namespace: &str, id: &str) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    for (api_version, kind, plural, namespaced) in corpus_kinds(id) {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(stack.kube.clone(), namespace, &resource)
        } else {
            Api::all_with(stack.kube.clone(), &resource)
        };
        let params = ListParams::default().labels(&format!("lifeboat.test/corpus={id}"));
        let listed = match api.list(&params).await {
            Ok(listed) => listed,
            // The custom resources' definition is gone between backup and restore.
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(e) => panic!("list {kind}: {e}"),
        };
        for object in listed {
            // Endpoints the endpoints controller keeps carry their Service's labels; they
            // are the controller's, made again after a restore, not the corpus's.
            let annotations = object.metadata.annotations.clone().unwrap_or_default();
            if annotations.contains_key("endpoints.kubernetes.io/last-change-trigger-time") {
                continue;
            }
            let mut value = serde_json::to_value(&object).unwrap();
            value["apiVersion"] = json!(api_version);
            value["kind"] = json!(kind);
            let name = object.metadata.name.clone().unwrap();
            found.insert(format!("{kind}/{name}"), normalized(&kind, value));
        }
    }
    found
}

/// The kinds of the corpus, with their plurals and scope, as a 1.20 API server serves them.
fn corpus_kinds(id: &str) -> Vec<(String, String, String, bool)> {
    let rows: &[(&str, &str, &str, bool)] = &[
        ("apps/v1", "Deployment", "deployments", true),
        ("apps/v1", "StatefulSet", "statefulsets", true),
        ("apps/v1", "DaemonSet", "daemonsets", true),
        ("v1", "Pod", "pods", true),
        ("batch/v1", "Job", "jobs", true),
        ("batch/v1beta1", "CronJob", "cronjobs", true),
        ("v1", "Service", "services", true),
        ("v1", "Endpoints", "endpoints", true),
        ("networking.k8s.io/v1", "Ingress", "ingresses", true),
        ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true),
        ("v1", "ConfigMap", "configmaps", true),
        ("v1", "Secret", "secrets", true),
        ("v1", "ServiceAccount", "serviceaccounts", true),
        ("rbac.authorization.k8s.io/v1", "Role", "roles", true),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
        ("v1", "PersistentVolume", "persistentvolumes", false),
        ("storage.k8s.io/v1", "StorageClass", "storageclasses", false),
        (
            "autoscaling/v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        ),
        ("policy/v1beta1", "PodDisruptionBudget", "poddisruptionbudgets", true),
        ("v1", "LimitRange", "limitranges", true),
        ("v1", "ResourceQuota", "resourcequotas", true),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ];
    let mut kinds: Vec<_> = rows
        .iter()
        .map(|(a, k, p, n)| (a.to_string(), k.to_string(), p.to_string(), *n))
        .collect();
    kinds.push((
        format!("{id}.lifeboat.test/v1"),
        "CronTab".into(),
        "crontabs".into(),
        true,
    ));
    kinds
}

/// An object without what the API server and its controllers set: the test's own list,
/// kept apart from lifeboat's rules so that it checks them.
fn normalized(kind: &str, mut object: Value) -> Value {
    let map = object.as_object_mut().unwrap();
    map.remove("status");
    let meta = map.get_mut("metadata").unwrap().as_object_mut().unwrap();
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
        "selfLink",
        "namespace",
    ] {
        meta.remove(field);
    }
    if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
        // kubectl's record of how the test applied the corpus, and the controllers' notes.
        annotations.retain(|k, _| {
            !(k == "kubectl.kubernetes.io/last-applied-configuration"
                || k.starts_with("deployment.kubernetes.io/")
                || k.starts_with("pv.kubernetes.io/")
                || k.starts_with("volume.beta.kubernetes.io/")
                || k.starts_with("volume.kubernetes.io/")
                || k.starts_with("autoscaling.alpha.kubernetes.io/")
                || k.starts_with("endpoints.kubernetes.io/"))
        });
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
    let keep_node_ports = object["metadata"]["annotations"]["lifeboat.io/keep-node-ports"] == "true";
    let spec = object.get_mut("spec");
    match (kind, spec) {
        ("Service", Some(spec)) => {
            let spec = spec.as_object_mut().unwrap();
            if spec.get("clusterIP") != Some(&json!("None")) {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
            if !keep_node_ports {
                spec.remove("healthCheckNodePort");
                for port in spec
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    port.as_object_mut().unwrap().remove("nodePort");
                }
            }
        }
        ("Job", Some(spec)) => {
            spec.as_object_mut().unwrap().remove("selector");
            if let Some(labels) = spec["template"]["metadata"]["labels"].as_object_mut() {
                labels.retain(|k, _| !k.ends_with("controller-uid") && !k.ends_with("job-name"));
            }
        }
        ("PersistentVolume", Some(spec)) => {
            if let Some(claim) = spec["claimRef"].as_object_mut() {
                claim.remove("uid");
                claim.remove("resourceVersion");
            }
        }
        ("Pod", Some(spec)) => {
            // The service-account token the cluster mounts into every pod.
            let spec = spec.as_object_mut().unwrap();
            if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
                volumes.retain(|v| !v["name"].as_str().unwrap_or_default().contains("-token-"));
            }
            for container in spec
                .get_mut("containers")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                    mounts.retain(|m| !m["name"].as_str().unwrap_or_default().contains("-token-"));
                }
            }
        }
        _ => {}
    }
    if kind == "ServiceAccount" {
        object.as_object_mut().unwrap().remove("secrets");
    }
    if kind == "Job"
        && let Some(labels) = object["metadata"]["labels"].as_object_mut()
    {
        labels.retain(|k, _| !k.ends_with("controller-uid") && !k.ends_with("job-name"));
    }
    object
}

/// The differences between two snapshots, one line each: what is missing, what is new,
/// and each field path whose value differs.
fn differences(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<String> {
    let mut found = Vec::new();
    for (key, was) in before {
        match after.get(key) {
            None => found.push(format!("{key}: missing")),
            Some(is) => diff(key, was, is, &mut found),
        }
    }
    found.extend(
        after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .map(|k| format!("{k}: left over")),
    );
    found
}

fn diff(path: &str, was: &Value, is: &Value, found: &mut Vec<String>) {
    match (was, is) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let missing = Value::Null;
                let (x, y) = (a.get(key).unwrap_or(&missing), b.get(key).unwrap_or(&missing));
                diff(&format!("{path}.{key}"), x, y, found);
            }
        }
        _ if was != is => found.push(format!("{path}: {was} became {is}")),
        _ => {}
    }
}

/// Waits until the controllers have made from the corpus what they make.
async fn settled(stack: &Stack, namespace: &str) {
    let count = |kind: &'static str, plural: &'static str, group: &'static str, version: &'static str| {
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(stack.kube.clone(), namespace, &resource);
        async move { api.list(&Default::default()).await.unwrap().items.len() }
    };
    eventually(
        "the controllers made the corpus's replica sets, pods and claims",
        Duration::from_secs(120),
        || async {
            count("ReplicaSet", "replicasets", "apps", "v1").await == 6
                && count("Pod", "pods", "", "v1").await >= 2
                && count("PersistentVolumeClaim", "persistentvolumeclaims", "", "v1").await == 3
                && count("ControllerRevision", "controllerrevisions", "apps", "v1").await >= 2
        },
    )
    .await;
}

async fn claims_bound(stack: &Stack, namespace: &str) -> bool {
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = Api::namespaced(stack.kube.clone(), namespace);
    let mut bound = 0;
    for name in ["mysql-pv-claim", "wp-pv-claim"] {
        let claim = claims.get_opt(name).await.unwrap();
        if claim.and_then(|c| c.status).and_then(|s| s.phase).as_deref() == Some("Bound") {
            bound += 1;
        }
    }
    bound == 2
}

/// Deletes the cluster-scoped corpus objects `selector` picks and waits until they are gone.
async fn delete_cluster_scoped(stack: &Stack, id: &str, selector: &str) {
    for (api_version, kind, plural, namespaced) in corpus_kinds(id) {
        if namespaced {
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
        let api: Api<DynamicObject> = Api::all_with(stack.kube.clone(), &resource);
        let params = ListParams::default().labels(selector);
        for object in api.list(&params).await.unwrap() {
            let name = object.metadata.name.unwrap();
            let _ = api.delete(&name, &DeleteParams::default()).await;
            // A volume still bound to a claim of a namespace left by a run stopped halfway
            // is held by its protection finalizer; once it is being deleted the controller
            // no longer puts the finalizer back, so it is taken off.
            if kind == "PersistentVolume" {
                let patch = json!({ "metadata": { "finalizers": null } });
                match api
                    .patch(
                        &name,
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(patch),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(e) => panic!("releasing the volume {name}: {e}"),
                }
            }
        }
        eventually(
            &format!("the corpus's {kind} objects are gone"),
            Duration::from_secs(120),
            || {
                let (api, params) = (api.clone(), params.clone());
                async move { api.list(&params).await.unwrap().items.is_empty() }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn fifty_objects_of_real_applications_come_back_exactly_and_once_and_into_a_mapped_namespace_with_their_references()
 {
    let stack = Stack::connect().await;
    let id = unique("c").replace('-', "");
    // What a run stopped halfway left outside its namespace (the namespaces themselves
    // go at the start of the next `infra/test.sh`).
    delete_cluster_scoped(&stack, &id, "lifeboat.test/corpus").await;
    let tenant = stack.new_tenant("corpus").await;
    let node_port = 30000 + (std::process::id() % 2700) as u16;
    let documents = corpus(&tenant, &id, node_port);
    assert!(documents.len() >= 50, "the corpus has {} objects", documents.len());
    let (definitions, rest): (Vec<String>, Vec<String>) = documents
        .into_iter()
        .partition(|d| d.contains("kind: CustomResourceDefinition"));
    let (resources, rest): (Vec<String>, Vec<String>) = rest.into_iter().partition(|d| d.contains("kind: CronTab"));
    apply(&tenant, &definitions).await;
    apply(&tenant, &rest).await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(stack.kube.clone());
    let crd = format!("crontabs.{id}.lifeboat.test");
    eventually(
        "the CronTab definition is established",
        Duration::from_secs(60),
        || async {
            crds.get_opt(&crd)
                .await
                .unwrap()
                .and_then(|c| c.status)
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
        },
    )
    .await;
    apply(&tenant, &resources).await;
    settled(&stack, &tenant).await;
    eventually(
        "the claims are bound to their volumes",
        Duration::from_secs(120),
        || claims_bound(&stack, &tenant),
    )
    .await;
    let before = snapshot(&stack, &tenant, &id).await;
    assert_eq!(before.len(), 50, "{:?}", before.keys().collect::<Vec<_>>());

    // The backup: every kind, a custom one by Kind.group, with the controllers' own too.
    let infra = unique("apps");
    let mut event = stack.backup_event(&infra, &[&tenant], TIME);
    let mut setting: Vec<String> = SETTING.iter().map(|k| k.to_string()).collect();
    setting.push(format!("CronTab.{id}.lifeboat.test"));
    event["settings"]["K8sResourceKinds"] = json!(setting);
    let report = stack.report("backup", &event).await;
    assert_eq!(report["status"], "Completed", "{}", report["errors"]);
    assert_eq!(report["kinds"]["CronJob"], "batch/v1beta1", "{}", report["kinds"]);
    assert_eq!(
        report["kinds"][format!("CronTab.{id}.lifeboat.test")],
        format!("{id}.lifeboat.test/v1")
    );
    for (kind, made_by) in [
        ("ReplicaSet", "Deployment"),
        ("Pod", "ReplicaSet"),
        ("Pod", "StatefulSet"),
        ("Pod", "Job"),
        ("ControllerRevision", "StatefulSet"),
        ("EndpointSlice", "Service"),
    ] {
        let skipped = report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == kind && o["action"] == "skipped")
            .any(|o| {
                o["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&format!("made by its {made_by}"))
            });
        assert!(skipped, "no {kind} was left to its {made_by}: {}", report["objects"]);
    }
    assert!(
        reason_of(&report, "Endpoints", "frontend").contains("kept by the endpoints controller"),
        "{}",
        report["objects"]
    );
    assert_eq!(action_of(&report, "Endpoints", "external-db"), "backed-up");
    assert_eq!(action_of(&report, "Pod", "debug-shell"), "backed-up");

    // Lose it all: the tenant, and its cluster-scoped objects.
    stack.delete_namespace(&tenant).await;
    delete_cluster_scoped(&stack, &id, &format!("lifeboat.test/corpus={id}")).await;

    // Restore: the corpus's objects (cluster-scoped kinds named), nothing else of the cluster.
    let mut restore = stack.restore_event(&infra);
    restore["kinds"] = json!(setting);
    restore["label_selector"] = json!(format!("lifeboat.test/corpus={id}"));
    let report = stack.report("restore", &restore).await;
    assert_eq!(report["status"], "Completed", "{}", report["objects"]);
    settled(&stack, &tenant).await;
    eventually(
        "the claims are bound to their volumes again",
        Duration::from_secs(120),
        || claims_bound(&stack, &tenant),
    )
    .await;
    let after = snapshot(&stack, &tenant, &id).await;
    assert_eq!(differences(&before, &after), Vec::<String>::new());

    // Into a mapped namespace beside the original: references to the tenant follow it; the
    // Service whose node port its owners chose would collide with the original's and is
    // left out by label.
    let mapped = format!("{tenant}-dr");
    let mut into = stack.restore_event(&infra);
    into["tenants"] = json!([tenant]);
    into["namespace_mapping"] = json!({ tenant.clone(): mapped.clone() });
    into["label_selector"] = json!(format!("lifeboat.test/corpus={id},!lifeboat.test/fixed-node-port"));
    let report = stack.report("restore", &into).await;
    assert_eq!(report["status"], "Completed", "{}", report["objects"]);
    assert_eq!(report["namespace_references_rewritten"], 3, "{report}");
    assert!(reason_of(&report, "PersistentVolumeClaim", "mysql-pv-claim").contains("binds or provisions another"));
    let mut expected = after.clone();
    expected.remove("Service/legacy-gateway");
    expected.retain(|k, _| !is_cluster_scoped(k));
    for (key, object) in expected.iter_mut() {
        match key.split('/').next().unwrap() {
            "RoleBinding" => object["subjects"][0]["namespace"] = json!(mapped),
            "NetworkPolicy" if key.ends_with("allow-frontend") => {
                object["spec"]["ingress"][0]["from"][1]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] =
                    json!(mapped)
            }
            "Service" if key.ends_with("db-alias") => {
                object["spec"]["externalName"] = json!(format!("wordpress-mysql.{mapped}.svc.cluster.local"))
            }
            "PersistentVolumeClaim" => {
                object["spec"].as_object_mut().unwrap().remove("volumeName");
            }
            _ => {}
        }
    }
    settled(&stack, &mapped).await;
    let mut restored = snapshot(&stack, &mapped, &id).await;
    restored.retain(|k, _| !is_cluster_scoped(k));
    assert_eq!(differences(&expected, &restored), Vec::<String>::new());

    delete_cluster_scoped(&stack, &id, &format!("lifeboat.test/corpus={id}")).await;
}

fn is_cluster_scoped(key: &str) -> bool {
    [
        "ClusterRole/",
        "ClusterRoleBinding/",
        "PersistentVolume/",
        "StorageClass/",
        "CustomResourceDefinition/",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}
