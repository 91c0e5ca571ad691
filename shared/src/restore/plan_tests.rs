//! Planning a restore without a cluster: which files and objects a request selects,
//! the order kinds are written in, and the apiVersions a manifest may name.

use super::*;
use crate::event::Defaults;
use serde_json::{Value, json};

fn file(key: &str, api_version: &str, kind: &str, namespace: Option<&str>, objects: &[&str]) -> ManifestFile {
    ManifestFile {
        key: key.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
        sha256: String::new(),
        size: 0,
        version_id: None,
        objects: objects.iter().map(|o| o.to_string()).collect(),
        skipped: Vec::new(),
    }
}

/// A backup of two tenants, a custom resource and its definition, RBAC and a cluster role.
fn manifest() -> Manifest {
    let files = vec![
        file("namespaces.json", "v1", "Namespace", None, &["billing", "shop"]),
        file(
            "namespaces/billing/rolebindings.rbac.authorization.k8s.io.json",
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            Some("billing"),
            &["app"],
        ),
        file(
            "namespaces/billing/widgets.example.com.json",
            "example.com/v1",
            "Widget",
            Some("billing"),
            &["blue"],
        ),
        file(
            "namespaces/billing/secrets.json",
            "v1",
            "Secret",
            Some("billing"),
            &["db", "tls"],
        ),
        file("namespaces/shop/secrets.json", "v1", "Secret", Some("shop"), &["db"]),
        file(
            "namespaces/billing/ingresses.networking.k8s.io.json",
            "networking.k8s.io/v1",
            "Ingress",
            Some("billing"),
            &["web"],
        ),
        file(
            "namespaces/billing/roles.rbac.authorization.k8s.io.json",
            "rbac.authorization.k8s.io/v1",
            "Role",
            Some("billing"),
            &["app"],
        ),
        file(
            "cluster/clusterroles.rbac.authorization.k8s.io.json",
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            None,
            &["reader"],
        ),
        file(
            "cluster/customresourcedefinitions.apiextensions.k8s.io.json",
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            &["widgets.example.com"],
        ),
    ];
    serde_json::from_value(json!({
        "format_version": 2, "infrastructure": "prod", "cluster": "prod-eks", "region": "us-east-1",
        "run_path": "2026/11/22/130000", "run_time": "2026-11-22T13:00:00Z",
        "started_at": "2026-11-22T13:00:00Z", "finished_at": "2026-11-22T13:00:05Z",
        "settings": { "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": ["Secret"] },
        "kinds": [], "tenants": ["billing", "shop"], "status": "Completed", "errors": [],
        "files": files,
    }))
    .unwrap()
}

fn request(filters: Value) -> RestoreRequest {
    let mut event = json!({
        "infrastructure": "prod", "cluster": "prod-eks", "region": "us-east-1", "bucket": "lifeboat-backups",
        "source": { "infrastructure": "prod", "backup": "latest" },
    });
    for (k, v) in filters.as_object().unwrap() {
        event[k] = v.clone();
    }
    RestoreRequest::from_event(event, &Defaults::default()).unwrap()
}

/// What `select` took, as (kind, tenant, names).
fn selected(filters: Value) -> Vec<(String, Option<String>, Vec<String>)> {
    let manifest = manifest();
    select(&request(filters), &manifest)
        .iter()
        .map(|s| {
            (
                s.file.kind.clone(),
                s.file.namespace.clone(),
                s.names.iter().map(|n| n.to_string()).collect(),
            )
        })
        .collect()
}

fn entry(kind: &str, tenant: Option<&str>, names: &[&str]) -> (String, Option<String>, Vec<String>) {
    (
        kind.into(),
        tenant.map(str::to_string),
        names.iter().map(|n| n.to_string()).collect(),
    )
}

#[test]
fn a_tenant_kind_and_name_filter_takes_those_objects_and_their_namespace_only() {
    assert_eq!(
        selected(json!({ "tenants": ["billing"], "kinds": ["Secret"], "names": ["db"] })),
        [
            entry("Namespace", None, &["billing"]),
            entry("Secret", Some("billing"), &["db"]),
        ]
    );
}

#[test]
fn cluster_scoped_files_are_selected_only_without_a_tenant_filter() {
    let kinds = |picked: &[(String, Option<String>, Vec<String>)]| -> Vec<String> {
        picked.iter().map(|(k, _, _)| k.clone()).collect()
    };
    let all = selected(json!({}));
    assert!(kinds(&all).contains(&"ClusterRole".to_string()), "{all:?}");
    let one_tenant = selected(json!({ "tenants": ["shop"] }));
    assert_eq!(
        one_tenant,
        [
            entry("Namespace", None, &["shop"]),
            entry("Secret", Some("shop"), &["db"])
        ]
    );
}

#[test]
fn a_kind_is_taken_by_its_name_or_by_its_name_and_group() {
    let ingress = |name: &str| selected(json!({ "tenants": ["billing"], "kinds": [name] }));
    assert_eq!(ingress("Ingress").len(), 2, "the namespace and the ingresses");
    assert_eq!(ingress("Ingress.networking.k8s.io").len(), 2);
    assert_eq!(
        ingress("Ingress.extensions"),
        [],
        "another group's Ingress is not in the backup"
    );
}

#[test]
fn kinds_are_restored_definitions_first_namespaces_next_and_roles_before_their_bindings() {
    let manifest = manifest();
    let order: Vec<Vec<String>> = in_restore_order(select(&request(json!({})), &manifest), &manifest)
        .iter()
        .map(|group| group.iter().map(|s| s.file.kind.clone()).collect())
        .collect();
    let flat: Vec<&str> = order.iter().map(|g| g[0].as_str()).collect();
    assert_eq!(
        flat,
        [
            "CustomResourceDefinition",
            "Namespace",
            "Secret",
            "ClusterRole",
            "Role",
            "RoleBinding",
            // Kinds without a place of their own, in the order the manifest lists them.
            "Widget",
            "Ingress",
        ]
    );
    // One group per kind: both tenants' Secrets go together.
    assert_eq!(order[2], ["Secret", "Secret"]);
}

#[test]
fn api_versions_split_into_group_and_version_or_are_refused() {
    assert_eq!(split_api_version("v1"), Some(("", "v1")));
    assert_eq!(
        split_api_version("rbac.authorization.k8s.io/v1"),
        Some(("rbac.authorization.k8s.io", "v1"))
    );
    for bad in ["", "/v1", "a/", "a/b/c", "v1?x=1", "../v1", "apps/V1", "apps/v1/.."] {
        assert_eq!(split_api_version(bad), None, "{bad}");
    }
}
