//! The catalog: what operators ask of the backups without reading the bucket by hand.
//! `list` the backups of a range, `describe` one (and check every checksum), follow one
//! object's `history` across backups, and `diff` a backup against the live cluster or
//! another backup. Every answer is read-only, and no answer holds a Secret's value:
//! concealed values appear only as keyed fingerprints ([`fingerprint`]).

mod backups;
mod changes;
mod describe;
mod diff;
pub mod fingerprint;
mod history;
mod list;

pub use changes::{FieldChange, FieldChangeKind};
pub use fingerprint::{FingerprintError, Fingerprints};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::Result;
use crate::allowed::Allowed;
use crate::audit::Audit;
use crate::cluster::ClusterAccess;
use crate::config::Config;
use crate::event::{CatalogRequest, Invocation, Query};
use crate::store::Store;

/// Files read at once by an answer that reads files.
const FILES_AT_ONCE: usize = 4;

/// What the catalog needs from outside, built once per function instance.
#[derive(Clone)]
pub struct Catalog {
    /// How clusters are reached, for a diff against the live cluster.
    pub cluster: ClusterAccess,
    /// The S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The audit check: answers read backups, Secrets included.
    pub audit: Audit,
    /// The KMS client, for the fingerprint key.
    pub kms: aws_sdk_kms::Client,
    /// `LIFEBOAT_FINGERPRINT_KEY_ID`: the HMAC key fingerprints are derived from.
    pub fingerprint_key: Option<String>,
    /// What the deployment serves: the live cluster a diff reads must be one of them.
    pub(crate) allowed: Allowed,
    /// The clock; tests pass their own.
    pub clock: fn() -> DateTime<Utc>,
}

impl Catalog {
    /// The catalog of a function configured by `config`.
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            cluster: ClusterAccess::from_config(config.access, sdk),
            s3: crate::store::s3_client(sdk),
            audit: Audit::new(crate::audit::cloudtrail_client(sdk), config.audit.clone()),
            kms: aws_sdk_kms::Client::new(sdk),
            fingerprint_key: config.fingerprint_key_id.clone(),
            allowed: config.defaults.allowed.clone(),
            clock: Utc::now,
        }
    }

    /// Answers one catalog request. When auditing is required, a request the trail would
    /// not record is refused before the bucket is read.
    pub async fn answer(&self, request: &CatalogRequest, invocation: &Invocation) -> Result<Value> {
        self.audit
            .check_reader(&request.bucket, invocation, &request.infrastructure)
            .await?;
        let store = Store::new(self.s3.clone(), &request.bucket, None);
        let now = (self.clock)();
        let answer = match &request.query {
            Query::List(range) => serde_json::to_value(list::list(&store, request, range).await?),
            Query::Describe { backup, verify } => {
                serde_json::to_value(describe::describe(&store, request, backup, *verify, now).await?)
            }
            Query::History {
                kind,
                namespace,
                name,
                range,
            } => {
                let fingerprints = self.fingerprints().await?;
                let wanted = history::Wanted {
                    kind,
                    namespace: namespace.as_deref(),
                    name,
                };
                serde_json::to_value(history::history(&store, request, &wanted, range, &fingerprints).await?)
            }
            Query::Diff { .. } => {
                let fingerprints = self.fingerprints().await?;
                serde_json::to_value(diff::diff(self, &store, request, &fingerprints, now).await?)
            }
        };
        Ok(answer.expect("an answer always serialises"))
    }

    async fn fingerprints(&self) -> Result<Fingerprints> {
        match &self.fingerprint_key {
            Some(key) => Ok(Fingerprints::from_kms(&self.kms, key).await?),
            None => Ok(Fingerprints::off()),
        }
    }
}
