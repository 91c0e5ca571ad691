//! Custom resources come back with their definitions: restore writes the
//! CustomResourceDefinition first and waits until the API server serves it; a resource
//! whose definition is neither served nor restored is reported with what to do.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use lifeboat_tests::{Stack, action_of, eventually, reason_of, unique};
use serde_json::json;

async fn established(crds: &Api<CustomResourceDefinition>, name: &str) -> bool {
    crds.get_opt(name)
        .await
        .unwrap()
        .and_then(|c| c.status)
        .and_then(|s| s.conditions)
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

/// A namespaced kind of its own, so definitions left by earlier runs never match.
struct Widgets {
    kind: String,
    plural: String,
    group: String,
    crd_name: String,
}

impl Widgets {
    fn new() -> Self {
        let id = unique("w").replace('-', "");
        let (kind, plural, group) = (
            format!("Widget{id}"),
            format!("widget{id}s"),
            format!("{id}.lifeboat.test"),
        );
        let crd_name = format!("{plural}.{group}");
        Widgets {
            kind,
            plural,
            group,
            crd_name,
        }
    }

    /// Creates the definition and waits until the API server serves it.
    async fn define(&self, crds: &Api<CustomResourceDefinition>) {
        let definition: CustomResourceDefinition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": { "name": self.crd_name, "labels": { "app": "widgets" } },
            "spec": {
                "group": self.group, "scope": "Namespaced",
                "names": { "plural": self.plural, "singular": self.plural.trim_end_matches('s'), "kind": self.kind },
                "versions": [{ "name": "v1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }]
            }
        }))
        .unwrap();
        crds.create(&PostParams::default(), &definition).await.unwrap();
        eventually("the definition is established", Duration::from_secs(60), || {
            established(crds, &self.crd_name)
        })
        .await;
    }

    /// Deletes the definition, which takes its resources with it, and waits until it is gone.
    async fn remove(&self, crds: &Api<CustomResourceDefinition>) {
        crds.delete(&self.crd_name, &Default::default()).await.unwrap();
        eventually("the definition is gone", Duration::from_secs(60), || async {
            crds.get_opt(&self.crd_name).await.unwrap().is_none()
        })
        .await;
    }

    fn api(&self, stack: &Stack, ns: &str) -> Api<DynamicObject> {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(&self.group, "v1", &self.kind), &self.plural);
        Api::namespaced_with(stack.kube.clone(), ns, &resource)
    }

    fn widget(&self, name: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": format!("{}/v1", self.group), "kind": self.kind,
            "metadata": { "name": name, "labels": { "size": "large" } },
            "spec": { "color": "blue", "sizes": [1, 2, 3], "nested": { "enabled": true } }
        }))
        .unwrap()
    }
}

#[tokio::test]
async fn a_custom_resource_and_its_definition_are_restored_in_order() {
    let stack = Stack::connect().await;
    let w = Widgets::new();
    let (kind, crd_name) = (w.kind.clone(), w.crd_name.clone());
    let crds: Api<CustomResourceDefinition> = Api::all(stack.kube.clone());
    w.define(&crds).await;

    let ns = stack.new_tenant("crd").await;
    let widgets = w.api(&stack, &ns);
    let widget = w.widget("blue-widget");
    widgets.create(&PostParams::default(), &widget).await.unwrap();

    let infra = unique("infra");
    let mut event = stack.backup_event(&infra, &[&ns], "2026-11-22T13:00:00Z");
    event["settings"]["K8sResourceKinds"] = json!(["CustomResourceDefinition", kind, "ConfigMap"]);
    let report = stack.report("backup", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(action_of(&report, &kind, "blue-widget"), "backed-up");
    assert_eq!(action_of(&report, "CustomResourceDefinition", &crd_name), "backed-up");
    let key =
        format!("2026/11/22/130000/infra/{infra}/k8s/cluster/customresourcedefinitions.apiextensions.k8s.io.json");
    let definitions = lifeboat_tests::list_items(stack.read(&key).await);
    assert!(
        definitions.iter().any(|d| d["metadata"]["name"] == crd_name.as_str()),
        "the definition is stored with the cluster-scoped kinds"
    );

    // Lose both: the tenant, and the definition (which takes its resources with it).
    stack.delete_namespace(&ns).await;
    w.remove(&crds).await;

    // A dry run: the cluster checks the definition, but the resource cannot be checked
    // before its definition is served, so it is said to be created, unchecked. (The
    // namespace is made again first, or it would be the reason instead.)
    stack.make_tenant(&ns, "crd").await;
    // A definition is cluster-scoped, so it is restored only when the request names it.
    let mut restore = stack.restore_event(&infra);
    restore["kinds"] = json!(["CustomResourceDefinition", kind]);
    let mut dry_run = restore.clone();
    dry_run["dry_run"] = json!(true);
    let report = stack.report("restore", &dry_run).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(
        action_of(&report, "CustomResourceDefinition", &crd_name),
        "would-create"
    );
    assert_eq!(action_of(&report, &kind, "blue-widget"), "would-create");
    assert_eq!(
        reason_of(&report, &kind, "blue-widget"),
        format!("not checked by the cluster: the restore would create the definition {crd_name} first")
    );
    assert!(
        crds.get_opt(&crd_name).await.unwrap().is_none(),
        "a dry run created the definition"
    );

    let report = stack.report("restore", &restore).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(action_of(&report, "CustomResourceDefinition", &crd_name), "created");
    assert_eq!(action_of(&report, &kind, "blue-widget"), "created");
    let restored = widgets.get("blue-widget").await.unwrap();
    assert_eq!(restored.data["spec"], widget.data["spec"]);
    assert_eq!(restored.metadata.labels, widget.metadata.labels);

    crds.delete(&crd_name, &Default::default()).await.unwrap();
}

#[tokio::test]
async fn a_custom_resource_whose_definition_is_gone_and_not_backed_up_is_reported_and_the_rest_restored() {
    let stack = Stack::connect().await;
    let w = Widgets::new();
    let crds: Api<CustomResourceDefinition> = Api::all(stack.kube.clone());
    w.define(&crds).await;
    let ns = stack.new_tenant("nocrd").await;
    w.api(&stack, &ns)
        .create(&PostParams::default(), &w.widget("orphan"))
        .await
        .unwrap();
    let configs: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(stack.kube.clone(), &ns);
    configs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "settings" }, "data": { "a": "1" } })).unwrap(),
        )
        .await
        .unwrap();

    // The backup takes the resources but not their definition.
    let infra = unique("infra");
    let mut event = stack.backup_event(&infra, &[&ns], "2026-11-22T14:00:00Z");
    event["settings"]["K8sResourceKinds"] = json!([w.kind, "ConfigMap"]);
    let report = stack.report("backup", &event).await;
    assert_eq!(report["status"], "Completed", "{report}");
    assert_eq!(action_of(&report, &w.kind, "orphan"), "backed-up");

    // The definition is removed between backup and restore, and the tenant lost.
    w.remove(&crds).await;
    stack.delete_namespace(&ns).await;

    let mut restore = stack.restore_event(&infra);
    restore["kinds"] = json!([w.kind, "ConfigMap"]);
    let report = stack.report("restore", &restore).await;
    assert_eq!(report["status"], "PartiallyFailed", "{report}");
    assert_eq!(action_of(&report, &w.kind, "orphan"), "failed");
    let reason = reason_of(&report, &w.kind, "orphan");
    assert!(
        reason.contains(&format!("the cluster does not serve {}/v1 {}", w.group, w.kind))
            && reason.contains("restore its CustomResourceDefinition with it"),
        "the reason names the missing kind and what to do: {reason}"
    );
    assert_eq!(action_of(&report, "ConfigMap", "settings"), "created", "{report}");
    assert_eq!(configs.get("settings").await.unwrap().data.unwrap()["a"], "1");
    assert!(
        crds.get_opt(&w.crd_name).await.unwrap().is_none(),
        "the restore made up a definition"
    );
}
