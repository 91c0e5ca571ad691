//! The stack a test talks to: the admin clients, the bucket, the emulator's address,
//! read from the environment `infra/test.sh` sets; and the waiting and naming every
//! test needs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

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
    pub(crate) lambda_url: String,
    /// The emulator's log: everything the functions printed.
    pub lambda_log: PathBuf,
}

pub(crate) fn required(name: &str) -> String {
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

    /// The Lambda emulator's address, for tools that invoke through the Lambda API.
    pub fn lambda_url(&self) -> &str {
        &self.lambda_url
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
