//! The EKS side of the stack: the token-review webhook the API server consults, the
//! roles in the AWS emulator, and the emulators whose functions hold only a role's
//! session credentials.

use aws_credential_types::Credentials;
use serde_json::Value;

use crate::{Invocation, Stack, invoke_at, required};

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

    /// Why the webhook refused the tokens signed with `access_key_id`: the decisions on
    /// this test's own credentials, whatever other tests and earlier runs logged.
    pub fn webhook_refusals_of(&self, access_key_id: &str) -> Vec<String> {
        self.webhook_decisions()
            .iter()
            .filter(|d| d["access_key_id"] == access_key_id && d["authenticated"] == false)
            .map(|d| d["reason"].as_str().unwrap_or_default().to_string())
            .collect()
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
