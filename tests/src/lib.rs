//! The end-to-end test harness: the local stack (`infra/up.sh`), the Lambda emulator
//! running the real function binaries (`infra/lambda.sh`), and builders for events and
//! tenants. The stack's addresses come from the environment `infra/test.sh` sets; a
//! test run without them fails and says what to run, it never skips.

pub mod faults;
pub mod storage;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::{Value, json};

/// Everything a test talks to.
pub struct Stack {
    /// An admin client of the local API server.
    pub kube: kube::Client,
    /// A client of the S3 emulator.
    pub s3: aws_sdk_s3::Client,
    /// The backup bucket.
    pub bucket: String,
    /// The cluster's name (its kubeconfig context).
    pub cluster: String,
    lambda_url: String,
    /// The emulator's log: everything the functions printed.
    pub lambda_log: PathBuf,
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with `bash infra/test.sh`, which starts the local stack and the Lambda emulator"))
}

impl Stack {
    /// Connects to the running stack.
    pub async fn connect() -> Stack {
        let kube = kube::Client::try_default()
            .await
            .expect("the local API server's kubeconfig loads (KUBECONFIG)");
        let aws = lifeboat::aws::load().await;
        Stack {
            kube,
            s3: lifeboat::store::s3_client(&aws),
            bucket: required("LIFEBOAT_BUCKET"),
            cluster: required("LIFEBOAT_CLUSTER"),
            lambda_url: required("LIFEBOAT_LAMBDA_URL"),
            lambda_log: PathBuf::from(required("LIFEBOAT_LAMBDA_LOG")),
        }
    }

    /// Invokes a function through the emulator's Lambda Invoke API, as `aws lambda invoke` does.
    pub async fn invoke(&self, function: &str, event: &Value) -> Invocation {
        invoke_at(&self.lambda_url, function, event).await
    }

    /// Invokes and expects a report.
    pub async fn report(&self, function: &str, event: &Value) -> Value {
        expect_report(function, self.invoke(function, event).await)
    }

    /// Every key under a prefix of the bucket.
    pub async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.expect("the bucket lists")
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys
    }

    /// Reads an object of the bucket.
    pub async fn read(&self, key: &str) -> Vec<u8> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("read {key}: {e:?}"));
        out.body.collect().await.expect("the body reads").into_bytes().to_vec()
    }

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

    /// A backup event for the local cluster, from the design's example event.
    pub fn backup_event(&self, infrastructure: &str, tenants: &[&str], scheduled_time: &str) -> Value {
        let mut event = fixture("backup-event.json");
        event["infrastructure"] = json!(infrastructure);
        event["cluster"] = json!(self.cluster);
        event["bucket"] = json!(self.bucket);
        event["tenants"] = json!(tenants);
        event["scheduled_time"] = json!(scheduled_time);
        event
    }

    /// A restore event for the local cluster, from the design's example event with its
    /// filters removed; tests add back what they need.
    pub fn restore_event(&self, infrastructure: &str) -> Value {
        let mut event = fixture("restore-event.json");
        event["infrastructure"] = json!(infrastructure);
        event["cluster"] = json!(self.cluster);
        event["bucket"] = json!(self.bucket);
        event["source"]["infrastructure"] = json!(infrastructure);
        let map = event.as_object_mut().expect("the fixture is an object");
        for filter in ["tenants", "kinds", "names", "namespace_mapping"] {
            map.remove(filter);
        }
        event
    }

    /// What the functions have printed so far.
    pub fn function_logs(&self) -> String {
        std::fs::read_to_string(&self.lambda_log).expect("the emulator log reads")
    }

    /// The audit check the functions run, with the stack's trail and setting.
    pub async fn audit(&self) -> lifeboat::audit::Audit {
        let config = lifeboat::config::Config::from_env()
            .expect("the stack's settings are valid")
            .audit;
        lifeboat::audit::Audit::new(lifeboat::audit::cloudtrail_client(&lifeboat::aws::load().await), config)
    }
}

/// An audit check with no trail, not required: for tests about something else
/// (`audit.rs` covers the trail).
pub async fn unaudited() -> lifeboat::audit::Audit {
    let config = lifeboat::audit::AuditConfig {
        trail_arn: None,
        required: false,
    };
    lifeboat::audit::Audit::new(lifeboat::audit::cloudtrail_client(&lifeboat::aws::load().await), config)
}

/// Invokes a function on the emulator at `lambda_url`.
pub async fn invoke_at(lambda_url: &str, function: &str, event: &Value) -> Invocation {
    let url = format!("{lambda_url}/2015-03-31/functions/{function}/invocations");
    let response = reqwest::Client::new()
        .post(url)
        .json(event)
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .expect("the Lambda emulator answers");
    let function_error = response.headers().get("x-amz-function-error").is_some();
    let body: Value = response.json().await.expect("the function returns JSON");
    if function_error || body.get("errorType").is_some() {
        Invocation::Failed {
            error_type: body["errorType"].as_str().unwrap_or_default().to_string(),
            message: body["errorMessage"].as_str().unwrap_or_default().to_string(),
        }
    } else {
        Invocation::Report(body)
    }
}

/// The report of an invocation that must not fail.
pub fn expect_report(function: &str, invocation: Invocation) -> Value {
    match invocation {
        Invocation::Report(report) => report,
        Invocation::Failed { error_type, message } => panic!("{function} failed with {error_type}: {message}"),
    }
}

/// The outcome of an invocation.
#[derive(Debug)]
pub enum Invocation {
    /// The function returned its report.
    Report(Value),
    /// The function returned an error.
    Failed {
        /// The Lambda error type.
        error_type: String,
        /// The error message.
        message: String,
    },
}

/// A JSON fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture reads")).expect("fixture is JSON")
}

/// A name no other test (or earlier run against the same stack) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!(
        "{prefix}-{}-{:x}{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits for a condition, polling, and fails the test when it does not hold in time.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The count of `action` for `kind` in `tenant` in a report.
pub fn count(report: &Value, tenant: &str, kind: &str, action: &str) -> u64 {
    report["counts"][tenant][kind][action].as_u64().unwrap_or(0)
}

/// The objects of a stored file (a `v1` `List`).
pub fn list_items(bytes: Vec<u8>) -> Vec<Value> {
    let list: Value = serde_json::from_slice(&bytes).expect("a stored file is JSON");
    assert_eq!(list["kind"], "List", "a stored file is a List");
    assert_eq!(list["apiVersion"], "v1");
    list["items"].as_array().expect("a List has items").clone()
}

/// The count of `action` over every tenant and kind of a report.
pub fn count_all(report: &Value, action: &str) -> u64 {
    report["counts"]
        .as_object()
        .into_iter()
        .flat_map(|tenants| tenants.values())
        .filter_map(Value::as_object)
        .flat_map(|kinds| kinds.values())
        .filter_map(|actions| actions[action].as_u64())
        .sum()
}

/// One object's entry in a report; the test fails when the report has none.
fn object_of<'r>(report: &'r Value, kind: &str, name: &str) -> &'r Value {
    report["objects"]
        .as_array()
        .expect("report lists objects")
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("the report has no {kind} {name}: {report}"))
}

/// The action a report gives one object.
pub fn action_of(report: &Value, kind: &str, name: &str) -> String {
    object_of(report, kind, name)["action"]
        .as_str()
        .unwrap_or_else(|| panic!("the report has no action for {kind} {name}: {report}"))
        .to_string()
}

/// The reason a report gives for one object's action, or "" when it gives none.
pub fn reason_of(report: &Value, kind: &str, name: &str) -> String {
    object_of(report, kind, name)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
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

/// The EKS side of the stack: the token-review webhook the API server consults, the
/// roles in the AWS emulator, and the emulators whose functions hold only a role's
/// session credentials.
pub mod eks {
    use aws_credential_types::Credentials;
    use serde_json::Value;

    use super::{Invocation, Stack, invoke_at, required};

    /// The AWS region of the local cluster.
    pub const REGION: &str = "us-east-1";

    /// The role a function runs as.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Role {
        /// Read-only on the cluster.
        Backup,
        /// Writes to the cluster.
        Restore,
    }

    /// The stack, seen through EKS.
    pub struct EksStack {
        /// The plain stack (admin access, the bucket).
        pub stack: Stack,
        backup_url: String,
        restore_url: String,
        webhook_log: std::path::PathBuf,
        backup_role_arn: String,
        restore_role_arn: String,
    }

    impl EksStack {
        /// Connects to the running stack and its EKS emulators.
        pub async fn connect() -> Self {
            Self {
                stack: Stack::connect().await,
                backup_url: required("LIFEBOAT_EKS_BACKUP_URL"),
                restore_url: required("LIFEBOAT_EKS_RESTORE_URL"),
                webhook_log: required("LIFEBOAT_WEBHOOK_LOG").into(),
                backup_role_arn: required("LIFEBOAT_BACKUP_ROLE_ARN"),
                restore_role_arn: required("LIFEBOAT_RESTORE_ROLE_ARN"),
            }
        }

        /// Invokes a function running as `role`, reaching the cluster through EKS.
        pub async fn invoke_as(&self, role: Role, function: &str, event: &Value) -> Invocation {
            let url = match role {
                Role::Backup => &self.backup_url,
                Role::Restore => &self.restore_url,
            };
            invoke_at(url, function, event).await
        }

        /// Session credentials of a role, from the AWS emulator's STS.
        pub async fn role_credentials(&self, role: Role) -> Credentials {
            let arn = match role {
                Role::Backup => &self.backup_role_arn,
                Role::Restore => &self.restore_role_arn,
            };
            session_credentials(arn, "lifeboat-test").await
        }

        /// The AWS configuration a function of `role` would have.
        pub async fn sdk_with(credentials: Credentials) -> aws_config::SdkConfig {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .credentials_provider(credentials)
                .load()
                .await
        }

        /// What an emulator instance's functions printed.
        pub fn instance_log(&self, instance: &str) -> String {
            let path = std::path::Path::new(&required("LIFEBOAT_STACK_DIR"))
                .join("logs")
                .join(format!("{instance}.log"));
            std::fs::read_to_string(path).expect("the instance log reads")
        }

        /// The secret key and session token an emulator instance's functions hold.
        pub fn instance_secrets(&self, instance: &str) -> Vec<String> {
            let path = std::path::Path::new(&required("LIFEBOAT_STACK_DIR"))
                .join("run")
                .join(format!("{instance}.env"));
            let env = std::fs::read_to_string(path).expect("the instance env file reads");
            let secrets: Vec<String> = env
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("AWS_SECRET_ACCESS_KEY=")
                        .or_else(|| l.strip_prefix("AWS_SESSION_TOKEN="))
                })
                .map(|v| v.trim_matches('\'').to_string())
                .collect();
            assert_eq!(secrets.len(), 2, "the instance holds a secret key and a session token");
            secrets
        }

        /// The webhook's decisions so far, as one text to search.
        pub fn webhook_log_text(&self) -> String {
            self.webhook_decisions()
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }

        /// The webhook's decisions so far, one JSON line each.
        pub fn webhook_decisions(&self) -> Vec<Value> {
            std::fs::read_to_string(&self.webhook_log)
                .expect("the webhook log reads")
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect()
        }
    }

    /// Session credentials of the role `arn`, from the AWS emulator's STS.
    pub async fn session_credentials(arn: &str, session: &str) -> Credentials {
        let sts = aws_sdk_sts::Client::new(&lifeboat::aws::load().await);
        let out = sts
            .assume_role()
            .role_arn(arn)
            .role_session_name(session)
            .send()
            .await
            .expect("the role is assumed");
        let c = out.credentials().expect("STS returns credentials");
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "test",
        )
    }

    /// A client of the local API server that sends `token` as it is, never refreshing it.
    pub fn client_with_fixed_token(config: kube::Config, token: &str) -> kube::Client {
        let value = http::HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is a header value");
        let layer = tower::util::MapRequestLayer::new(move |mut request: http::Request<kube::client::Body>| {
            request.headers_mut().insert(http::header::AUTHORIZATION, value.clone());
            request
        });
        kube::client::ClientBuilder::try_from(config)
            .expect("the config builds")
            .with_layer(&layer)
            .build()
    }

    /// Whether the API server accepts a client's credentials now.
    pub async fn accepted(client: &kube::Client) -> bool {
        match client.list_core_api_versions().await {
            Ok(_) => true,
            Err(kube::Error::Api(status)) if status.code == 401 => false,
            Err(e) => panic!("the API server did not answer: {e}"),
        }
    }
}

/// Trails of the AWS emulator's CloudTrail. The stack's own trail audits every function
/// and must never be stopped, as tests run in parallel against it; a test that needs a
/// trail in another state makes one of its own.
pub mod trails {
    use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};

    use super::{required, unique};

    /// The emulator's CloudTrail.
    pub struct Trails {
        /// Its client.
        pub client: aws_sdk_cloudtrail::Client,
        /// The stack's trail, which records the backup bucket and every function.
        pub stack_trail: String,
        log_bucket: String,
    }

    /// Whether a new trail logs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Logging {
        /// Started.
        On,
        /// Started, then stopped, as by someone covering their tracks.
        Stopped,
    }

    /// A basic selector recording `resources` (type, value) with `read_write`.
    pub fn selector(read_write: ReadWriteType, resources: &[(&str, &str)]) -> EventSelector {
        let mut selector = EventSelector::builder()
            .read_write_type(read_write)
            .include_management_events(true);
        for (kind, value) in resources {
            selector = selector.data_resources(DataResource::builder().r#type(*kind).values(*value).build());
        }
        selector.build()
    }

    /// What the stack's trail records: the bucket's objects and every function.
    pub fn covering(bucket: &str) -> Vec<EventSelector> {
        vec![selector(
            ReadWriteType::All,
            &[
                ("AWS::S3::Object", &format!("arn:aws:s3:::{bucket}/")),
                ("AWS::Lambda::Function", "arn:aws:lambda"),
            ],
        )]
    }

    impl Trails {
        /// Connects to the emulator's CloudTrail.
        pub async fn connect() -> Self {
            let client = aws_sdk_cloudtrail::Client::new(&lifeboat::aws::load().await);
            let stack_trail = required("LIFEBOAT_TRAIL_ARN");
            let trail = client
                .get_trail()
                .name(&stack_trail)
                .send()
                .await
                .expect("the stack's trail exists");
            let log_bucket = trail
                .trail()
                .and_then(|t| t.s3_bucket_name())
                .expect("the stack's trail delivers to a bucket")
                .to_string();
            Self {
                client,
                stack_trail,
                log_bucket,
            }
        }

        /// A new trail of this test's own with `selectors`; returns its ARN.
        pub async fn create(&self, selectors: Vec<EventSelector>, logging: Logging) -> String {
            let name = unique("lifeboat-test-trail");
            let trail = self
                .client
                .create_trail()
                .name(&name)
                .s3_bucket_name(&self.log_bucket)
                .is_multi_region_trail(true)
                .enable_log_file_validation(true)
                .send()
                .await
                .expect("the trail is created");
            self.client
                .put_event_selectors()
                .trail_name(&name)
                .set_event_selectors(Some(selectors))
                .send()
                .await
                .expect("the selectors are set");
            // The emulator starts and stops trails by name only.
            self.client
                .start_logging()
                .name(&name)
                .send()
                .await
                .expect("logging starts");
            if logging == Logging::Stopped {
                self.client
                    .stop_logging()
                    .name(&name)
                    .send()
                    .await
                    .expect("logging stops");
            }
            trail.trail_arn().expect("a new trail has an ARN").to_string()
        }
    }
}
