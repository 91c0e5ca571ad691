//! Each kind's rule, on objects as a 1.20 API server returns them.

use super::*;
use crate::object::strip_server_set_fields;
use serde_json::json;

fn kind(group: &str, kind: &str, plural: &str) -> ResolvedKind {
    ResolvedKind::new(group, "v1", kind, plural, true)
}

fn cleaned(k: &ResolvedKind, mut object: Value) -> Value {
    strip_server_set_fields(&mut object, k);
    object
}

fn owner(api_version: &str, kind: &str, controller: bool) -> OwnerRef {
    serde_json::from_value(json!({ "apiVersion": api_version, "kind": kind, "name": "web", "controller": controller }))
        .unwrap()
}

#[test]
fn an_object_made_by_a_controller_whose_kind_is_backed_up_is_left_to_it() {
    let backed_up = [
        kind("apps", "Deployment", "deployments"),
        kind("apps", "ReplicaSet", "replicasets"),
    ];
    let by_deployment = [owner("apps/v1", "Deployment", true)];
    let why = left_out(&by_deployment, None, &backed_up).unwrap();
    assert_eq!(
        why,
        "made by its Deployment web, which this backup holds; its controller makes it again"
    );
    // An owner whose kind is not backed up leaves nothing to make it again.
    assert_eq!(
        left_out(&[owner("batch/v1beta1", "CronJob", true)], None, &backed_up),
        None
    );
    // Nor does an owner that is not the controller, or one of another group.
    assert_eq!(
        left_out(&[owner("apps/v1", "Deployment", false)], None, &backed_up),
        None
    );
    assert_eq!(
        left_out(&[owner("example.com/v1", "Deployment", true)], None, &backed_up),
        None
    );
}

#[test]
fn an_object_labelled_to_be_excluded_is_left_out() {
    let labels = BTreeMap::from([(EXCLUDE_LABEL.to_string(), "true".to_string())]);
    assert_eq!(
        left_out(&[], Some(&labels), &[]).as_deref(),
        Some("labelled lifeboat.io/exclude=true")
    );
    let other = BTreeMap::from([(EXCLUDE_LABEL.to_string(), "false".to_string())]);
    assert_eq!(left_out(&[], Some(&other), &[]), None);
}

#[test]
fn endpoints_the_controller_keeps_are_left_to_it_only_when_their_service_is_backed_up() {
    let endpoints = kind("", "Endpoints", "endpoints");
    let managed = json!({ "metadata": { "name": "web", "annotations": {
        "endpoints.kubernetes.io/last-change-trigger-time": "2026-11-22T13:00:00Z" } } });
    let by_hand = json!({ "metadata": { "name": "external-db" } });
    let with_services = [kind("", "Service", "services"), endpoints.clone()];
    assert!(left_out_decoded(&endpoints, &managed, &with_services).is_some());
    assert!(left_out_decoded(&endpoints, &by_hand, &with_services).is_none());
    assert!(left_out_decoded(&endpoints, &managed, std::slice::from_ref(&endpoints)).is_none());
}

#[test]
fn a_service_loses_what_the_cluster_allocated_unless_its_owners_chose_the_ports() {
    let svc = kind("", "Service", "services");
    let allocated = json!({ "metadata": { "name": "web" }, "spec": {
        "type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "healthCheckNodePort": 31999,
        "ports": [{ "port": 80, "nodePort": 30080 }] } });
    assert_eq!(
        cleaned(&svc, allocated)["spec"],
        json!({ "type": "LoadBalancer", "ports": [{ "port": 80 }] })
    );
    let chosen = json!({ "metadata": { "name": "gw", "annotations": { KEEP_NODE_PORTS: "true" } },
                         "spec": { "type": "NodePort", "clusterIP": "10.0.0.2", "ports": [{ "port": 80, "nodePort": 30080 }] } });
    assert_eq!(
        cleaned(&svc, chosen)["spec"],
        json!({ "type": "NodePort", "ports": [{ "port": 80, "nodePort": 30080 }] })
    );
    let headless = json!({ "metadata": { "name": "db" }, "spec": { "clusterIP": "None" } });
    assert_eq!(cleaned(&svc, headless)["spec"]["clusterIP"], "None");
}

#[test]
fn a_job_loses_the_selector_and_labels_its_controller_generated() {
    let job = kind("batch", "Job", "jobs");
    let listed = json!({
        "metadata": { "name": "pi", "labels": { "controller-uid": "u", "job-name": "pi", "team": "a" } },
        "spec": {
            "backoffLimit": 4,
            "selector": { "matchLabels": { "controller-uid": "u" } },
            "template": { "metadata": { "labels": { "controller-uid": "u", "job-name": "pi", "app": "pi" } }, "spec": {} }
        }
    });
    let stored = cleaned(&job, listed);
    assert_eq!(stored["metadata"]["labels"], json!({ "team": "a" }));
    assert_eq!(stored["spec"].get("selector"), None);
    assert_eq!(stored["spec"]["template"]["metadata"]["labels"], json!({ "app": "pi" }));
    let manual = json!({ "metadata": { "name": "m" }, "spec": { "manualSelector": true,
        "selector": { "matchLabels": { "app": "m" } }, "template": {} } });
    assert_eq!(
        cleaned(&job, manual)["spec"]["selector"],
        json!({ "matchLabels": { "app": "m" } })
    );
}

#[test]
fn accounts_pods_claims_and_volumes_lose_what_binds_them_to_the_source_cluster() {
    let account = cleaned(
        &kind("", "ServiceAccount", "serviceaccounts"),
        json!({ "metadata": { "name": "builder" }, "secrets": [{ "name": "builder-token-x" }],
                "imagePullSecrets": [{ "name": "registry" }] }),
    );
    assert_eq!(account.get("secrets"), None);
    assert_eq!(account["imagePullSecrets"], json!([{ "name": "registry" }]));

    let pod = cleaned(
        &kind("", "Pod", "pods"),
        json!({ "metadata": { "name": "p" }, "spec": {
            "nodeName": "node-1", "serviceAccountName": "builder",
            "volumes": [{ "name": "builder-token-x", "secret": { "secretName": "builder-token-x" } },
                        { "name": "data", "emptyDir": {} }],
            "containers": [{ "name": "c", "volumeMounts": [
                { "name": "builder-token-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount" },
                { "name": "data", "mountPath": "/data" }] }] } }),
    );
    assert_eq!(
        pod["spec"],
        json!({ "serviceAccountName": "builder", "volumes": [{ "name": "data", "emptyDir": {} }],
                "containers": [{ "name": "c", "volumeMounts": [{ "name": "data", "mountPath": "/data" }] }] })
    );

    let claim = cleaned(
        &kind("", "PersistentVolumeClaim", "persistentvolumeclaims"),
        json!({ "metadata": { "name": "data", "annotations": {
            "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes" } },
            "spec": { "volumeName": "pv-1" } }),
    );
    assert_eq!(claim["metadata"].get("annotations"), None);
    assert_eq!(
        claim["spec"]["volumeName"], "pv-1",
        "the restore decides about the volume"
    );

    let volume = cleaned(
        &ResolvedKind::new("", "v1", "PersistentVolume", "persistentvolumes", false),
        json!({ "metadata": { "name": "pv-1" }, "spec": { "claimRef": {
            "kind": "PersistentVolumeClaim", "namespace": "t", "name": "data", "uid": "u", "resourceVersion": "7" } } }),
    );
    assert_eq!(
        volume["spec"]["claimRef"],
        json!({ "kind": "PersistentVolumeClaim", "namespace": "t", "name": "data" })
    );
}

#[test]
fn controller_annotations_go_and_the_owners_stay() {
    let deployment = cleaned(
        &kind("apps", "Deployment", "deployments"),
        json!({ "metadata": { "name": "web", "annotations": {
            "deployment.kubernetes.io/revision": "3", "team": "payments" } } }),
    );
    assert_eq!(deployment["metadata"]["annotations"], json!({ "team": "payments" }));
}
