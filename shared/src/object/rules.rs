//! What each kind needs beyond the common rules (server-set metadata and status
//! stripped), learned the way every backup tool for Kubernetes has learned it: objects a
//! controller makes from another are left to that controller, and fields the cluster
//! fills in on create (an allocated port, a generated selector, a binding's uid) are
//! left for the target cluster to fill in again. `docs/kinds.md` has the table.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::kinds::ResolvedKind;

/// Objects labelled so are left out of backups.
pub const EXCLUDE_LABEL: &str = "lifeboat.io/exclude";

/// A Service annotated so keeps the node ports it has.
pub const KEEP_NODE_PORTS: &str = "lifeboat.io/keep-node-ports";

/// Annotations a controller sets, which the target cluster's controllers set again.
const CONTROLLER_ANNOTATIONS: &[&str] = &[
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "autoscaling.alpha.kubernetes.io/conditions",
    "autoscaling.alpha.kubernetes.io/current-metrics",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "endpoints.kubernetes.io/last-change-trigger-time",
];

/// The labels the Job controller generates for a Job's pods and selector.
const JOB_LABELS: &[&str] = &[
    "controller-uid",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
];

/// An owner reference, as much of it as the rules read.
#[derive(Debug, Clone, Deserialize)]
pub struct OwnerRef {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    controller: Option<bool>,
}

/// Whether the kind has rules of its own, so a backup decodes its objects to apply them.
pub(crate) fn has_rules(kind: &ResolvedKind) -> bool {
    matches!(
        (kind.group.as_str(), kind.kind.as_str()),
        (
            "",
            "Service" | "ServiceAccount" | "Pod" | "Endpoints" | "PersistentVolumeClaim" | "PersistentVolume"
        ) | ("apps", "Deployment" | "ReplicaSet")
            | ("batch", "Job")
            | ("autoscaling", "HorizontalPodAutoscaler")
    )
}

/// Why a backup leaves an object out, if it does: it is labelled
/// `lifeboat.io/exclude=true`, or a controller made it from an object whose kind this
/// backup holds too (a ReplicaSet of a Deployment, the Pods of a ReplicaSet, the Jobs of
/// a CronJob), which would make it again beside a restored copy.
pub(crate) fn left_out(
    owners: &[OwnerRef],
    labels: Option<&BTreeMap<String, String>>,
    backed_up: &[ResolvedKind],
) -> Option<String> {
    if labels.and_then(|l| l.get(EXCLUDE_LABEL)).is_some_and(|v| v == "true") {
        return Some(format!("labelled {EXCLUDE_LABEL}=true"));
    }
    let group_of = |api_version: &str| api_version.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    owners
        .iter()
        .filter(|o| o.controller == Some(true))
        .find(|o| {
            backed_up
                .iter()
                .any(|k| k.kind == o.kind && k.group == group_of(&o.api_version))
        })
        .map(|o| {
            format!(
                "made by its {} {}, which this backup holds; its controller makes it again",
                o.kind, o.name
            )
        })
}

/// Why a backup leaves out a decoded object of a kind with rules of its own, beyond
/// [`left_out`]: Endpoints the endpoints controller keeps for a Service this backup holds.
pub(crate) fn left_out_decoded(kind: &ResolvedKind, object: &Value, backed_up: &[ResolvedKind]) -> Option<String> {
    let managed = object["metadata"]["annotations"]
        .get("endpoints.kubernetes.io/last-change-trigger-time")
        .is_some();
    let services = backed_up.iter().any(|k| k.group.is_empty() && k.kind == "Service");
    (kind.group.is_empty() && kind.kind == "Endpoints" && managed && services)
        .then(|| "kept by the endpoints controller for its Service, which this backup holds".to_string())
}

/// Applies the kind's own rules to an object whose server-set metadata and status are
/// already gone.
pub(crate) fn clean_kind(kind: &ResolvedKind, object: &mut Map<String, Value>) {
    if let Some(Value::Object(meta)) = object.get_mut("metadata")
        && let Some(Value::Object(annotations)) = meta.get_mut("annotations")
    {
        for key in CONTROLLER_ANNOTATIONS {
            annotations.remove(*key);
        }
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
    let keep_node_ports = object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(KEEP_NODE_PORTS))
        .and_then(Value::as_str)
        == Some("true");
    let spec = object.get_mut("spec").and_then(Value::as_object_mut);
    match (kind.group.as_str(), kind.kind.as_str()) {
        // A Service's cluster IPs and node ports are allocated from the target cluster's
        // ranges; copies would clash there (in a mapped namespace beside the original,
        // "provided port is already allocated"). A port its owners chose and annotated
        // the Service for stays.
        ("", "Service") => {
            if let Some(spec) = spec {
                if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
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
                        if let Some(port) = port.as_object_mut() {
                            port.remove("nodePort");
                        }
                    }
                }
            }
        }
        // The token Secrets a ServiceAccount lists are the cluster's, made again for it.
        ("", "ServiceAccount") => {
            object.remove("secrets");
        }
        // The scheduler's node, and the service-account token the cluster mounts into
        // every pod, are the source cluster's.
        ("", "Pod") => {
            if let Some(spec) = spec {
                spec.remove("nodeName");
                drop_token_volumes(spec);
            }
        }
        // The Job controller generates the selector and its labels from the Job's uid; the
        // API server refuses a new Job that carries another's.
        ("batch", "Job") => {
            if let Some(spec) = spec {
                if spec.get("manualSelector").and_then(Value::as_bool) != Some(true) {
                    spec.remove("selector");
                }
                let template_labels = spec
                    .get_mut("template")
                    .and_then(|t| t.get_mut("metadata"))
                    .and_then(|m| m.get_mut("labels"));
                if let Some(Value::Object(labels)) = template_labels {
                    JOB_LABELS.iter().for_each(|l| drop(labels.remove(*l)));
                }
            }
            if let Some(Value::Object(labels)) = object.get_mut("metadata").and_then(|m| m.get_mut("labels")) {
                JOB_LABELS.iter().for_each(|l| drop(labels.remove(*l)));
            }
        }
        // A volume's claim is named by namespace and name; its uid and version are of
        // the claim that was bound, which the target cluster does not have.
        ("", "PersistentVolume") => {
            if let Some(Value::Object(claim)) = spec.and_then(|s| s.get_mut("claimRef")) {
                for field in ["uid", "resourceVersion"] {
                    claim.remove(field);
                }
            }
        }
        _ => {}
    }
}

/// Removes the volumes (and their mounts) that hold a service-account token: the
/// `<account>-token-*` Secret the cluster mounted, or its `kube-api-access-*` projection.
fn drop_token_volumes(spec: &mut Map<String, Value>) {
    let account = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let token_prefix = format!("{account}-token-");
    let mut dropped = Vec::new();
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.retain(|v| {
            let name = v["name"].as_str().unwrap_or_default();
            let secret = v["secret"]["secretName"].as_str().unwrap_or_default();
            let token = secret.starts_with(&token_prefix) || name.starts_with("kube-api-access-");
            if token {
                dropped.push(name.to_string());
            }
            !token
        });
        if volumes.is_empty() {
            spec.remove("volumes");
        }
    }
    for list in ["containers", "initContainers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                mounts.retain(|m| !dropped.iter().any(|d| m["name"] == d.as_str()));
                if mounts.is_empty() {
                    container.as_object_mut().map(|c| c.remove("volumeMounts"));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
