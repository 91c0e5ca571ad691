//! Tenants for tests: namespaces labelled so the next run's clean-up finds them, seeded
//! with every shape of Secret and ConfigMap a byte-for-byte restore must get right.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::{Value, json};

use crate::{Stack, eventually, unique};

impl Stack {
    /// Creates a namespace with a unique name built from `prefix`, labelled as a tenant.
    pub async fn new_tenant(&self, prefix: &str) -> String {
        let name = unique(prefix);
        self.make_tenant(&name, prefix).await;
        name
    }

    /// Creates the namespace `name` as [`Stack::new_tenant`] does, labelled with `prefix`
    /// so that the next run's clean-up deletes it: for a test that makes a tenant it
    /// deleted again.
    pub async fn make_tenant(&self, name: &str, prefix: &str) {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(BTreeMap::from([(
                    "lifeboat.test/tenant".to_string(),
                    prefix.to_string(),
                )])),
                annotations: Some(BTreeMap::from([("owner".to_string(), "team-billing".to_string())])),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(self.kube.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace is created");
    }

    /// A new tenant with one Secret (`db-credentials`, password `hunter2`) and one
    /// ConfigMap (`app-config`).
    pub async fn small_tenant(&self, prefix: &str) -> String {
        let ns = self.new_tenant(prefix).await;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("db-credentials".into()),
                ..Default::default()
            },
            string_data: Some(BTreeMap::from([("password".to_string(), "hunter2".to_string())])),
            ..Default::default()
        };
        self.secrets(&ns)
            .create(&PostParams::default(), &secret)
            .await
            .expect("the Secret is created");
        let config = ConfigMap {
            metadata: ObjectMeta {
                name: Some("app-config".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([("mode".to_string(), "live".to_string())])),
            ..Default::default()
        };
        self.config_maps(&ns)
            .create(&PostParams::default(), &config)
            .await
            .expect("the ConfigMap is created");
        ns
    }

    /// Deletes a namespace and waits until the cluster has finalised it.
    pub async fn delete_namespace(&self, name: &str) {
        let api = Api::<Namespace>::all(self.kube.clone());
        api.delete(name, &DeleteParams::default())
            .await
            .expect("namespace deletion is accepted");
        eventually(&format!("namespace {name} is gone"), Duration::from_secs(120), || {
            let api = api.clone();
            async move { api.get_opt(name).await.expect("namespace reads").is_none() }
        })
        .await;
    }

    /// The Secrets API of a namespace.
    pub fn secrets(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.kube.clone(), namespace)
    }

    /// The ConfigMaps API of a namespace.
    pub fn config_maps(&self, namespace: &str) -> Api<ConfigMap> {
        Api::namespaced(self.kube.clone(), namespace)
    }
}

/// The configuration a seeded tenant holds: every shape of Secret and ConfigMap that a
/// byte-for-byte restore must get right. Every secret value contains `marker`, so a
/// test can search logs and reports for it.
pub struct SeededTenant {
    /// The namespace.
    pub namespace: String,
    /// A string inside every secret value.
    pub marker: String,
}

/// Bytes that are not UTF-8: every byte value, high ones first.
pub fn binary_bytes() -> Vec<u8> {
    (0..=255u8).rev().collect()
}

impl Stack {
    /// Seeds a new tenant with Secrets (Opaque, TLS, dockerconfigjson, binary, immutable)
    /// and ConfigMaps (data, binaryData, immutable).
    pub async fn seed_tenant(&self, prefix: &str) -> SeededTenant {
        use k8s_openapi::ByteString;
        let namespace = self.new_tenant(prefix).await;
        let marker = unique("SECRETVALUE");
        let bytes = |s: String| ByteString(s.into_bytes());
        let meta = |name: &str| ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".to_string(), "billing".to_string())])),
            annotations: Some(BTreeMap::from([(
                "lifeboat.test/note".to_string(),
                format!("{name} annotation"),
            )])),
            ..Default::default()
        };
        let secret = |name: &str, type_: &str, data: Vec<(&str, ByteString)>, immutable: Option<bool>| Secret {
            metadata: meta(name),
            type_: Some(type_.into()),
            data: Some(data.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            immutable,
            ..Default::default()
        };
        let mut binary_secret = binary_bytes();
        binary_secret.extend_from_slice(marker.as_bytes());
        let secrets = [
            secret(
                "db-credentials",
                "Opaque",
                vec![
                    ("username", bytes("billing".into())),
                    ("password", bytes(format!("pw-{marker}"))),
                ],
                None,
            ),
            secret(
                "tls-cert",
                "kubernetes.io/tls",
                vec![
                    (
                        "tls.crt",
                        bytes(format!(
                            "-----BEGIN CERTIFICATE-----\n{marker}\n-----END CERTIFICATE-----\n"
                        )),
                    ),
                    (
                        "tls.key",
                        bytes(format!(
                            "-----BEGIN PRIVATE KEY-----\n{marker}\n-----END PRIVATE KEY-----\n"
                        )),
                    ),
                ],
                None,
            ),
            secret(
                "registry",
                "kubernetes.io/dockerconfigjson",
                vec![(
                    ".dockerconfigjson",
                    bytes(json!({"auths": {"registry.example": {"auth": marker}}}).to_string()),
                )],
                None,
            ),
            secret("binary-blob", "Opaque", vec![("blob", ByteString(binary_secret))], None),
            secret(
                "frozen",
                "Opaque",
                vec![("token", bytes(format!("frozen-{marker}")))],
                Some(true),
            ),
        ];
        for s in secrets {
            self.secrets(&namespace)
                .create(&PostParams::default(), &s)
                .await
                .expect("secret is created");
        }
        let config_maps = [
            ConfigMap {
                metadata: meta("app-config"),
                data: Some(BTreeMap::from([
                    ("app.properties".to_string(), "mode=live\nregion=eu\n".to_string()),
                    ("greeting".to_string(), "grüße, 世界".to_string()),
                ])),
                ..Default::default()
            },
            ConfigMap {
                metadata: meta("app-binary"),
                data: Some(BTreeMap::from([(
                    "readme".to_string(),
                    "text beside bytes".to_string(),
                )])),
                binary_data: Some(BTreeMap::from([("blob.bin".to_string(), ByteString(binary_bytes()))])),
                ..Default::default()
            },
            ConfigMap {
                metadata: meta("frozen-config"),
                data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
                immutable: Some(true),
                ..Default::default()
            },
        ];
        for c in config_maps {
            self.config_maps(&namespace)
                .create(&PostParams::default(), &c)
                .await
                .expect("config map is created");
        }
        SeededTenant { namespace, marker }
    }

    /// A seeded tenant, backed up at `scheduled_time` under an infrastructure of its own,
    /// whose name comes second.
    pub async fn backed_up_tenant(&self, prefix: &str, scheduled_time: &str) -> (SeededTenant, String) {
        let tenant = self.seed_tenant(prefix).await;
        let infrastructure = unique("infra");
        let event = self.backup_event(&infrastructure, &[&tenant.namespace], scheduled_time);
        self.report("backup", &event).await;
        (tenant, infrastructure)
    }

    /// The user-made Secrets and ConfigMaps of a namespace, each reduced to the fields a
    /// restore must bring back exactly, keyed by kind and name. Objects the cluster makes
    /// itself (service-account tokens, kube-root-ca.crt) are left out.
    pub async fn configuration(&self, namespace: &str) -> BTreeMap<(String, String), Value> {
        let mut out = BTreeMap::new();
        let params = kube::api::ListParams::default();
        for s in self.secrets(namespace).list(&params).await.expect("secrets list") {
            if s.type_.as_deref() == Some("kubernetes.io/service-account-token") {
                continue;
            }
            let name = s.metadata.name.clone().expect("named");
            let fields = json!({
                "labels": s.metadata.labels, "annotations": s.metadata.annotations,
                "type": s.type_, "immutable": s.immutable, "data": s.data,
            });
            out.insert(("Secret".to_string(), name), fields);
        }
        for c in self
            .config_maps(namespace)
            .list(&params)
            .await
            .expect("config maps list")
        {
            let name = c.metadata.name.clone().expect("named");
            if name == "kube-root-ca.crt" {
                continue;
            }
            let fields = json!({
                "labels": c.metadata.labels, "annotations": c.metadata.annotations,
                "immutable": c.immutable, "data": c.data, "binaryData": c.binary_data,
            });
            out.insert(("ConfigMap".to_string(), name), fields);
        }
        out
    }

    /// A namespace's labels and annotations.
    pub async fn namespace_metadata(&self, namespace: &str) -> Value {
        let ns = Api::<Namespace>::all(self.kube.clone())
            .get(namespace)
            .await
            .expect("namespace reads");
        json!({ "labels": ns.metadata.labels, "annotations": ns.metadata.annotations })
    }
}
