//! Object Lock from the deleting side: a version is deleted only once its retention has
//! passed (nothing in lifeboat may bypass governance retention), and S3's refusal of a
//! locked version, an `AccessDenied` like any other, is told from a missing permission
//! by asking the version's lock.

use aws_sdk_s3::error::ProvideErrorMetadata;

use crate::store::{Store, StoreError};

impl Store {
    /// Deletes one version of a key for good; [`StoreError::Locked`] while Object Lock
    /// holds it (no one here may bypass governance retention).
    pub(crate) async fn delete_version(&self, key: &str, version: &str) -> Result<(), StoreError> {
        let sent = self
            .client
            .delete_object()
            .bucket(self.bucket())
            .key(key)
            .version_id(version)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // S3 refuses a locked version as AccessDenied; the version's lock tells
            // that refusal from a missing permission.
            Err(e) if e.as_service_error().is_some_and(|s| s.code() == Some("AccessDenied")) => {
                match self.lock_of(key, version).await {
                    Some(detail) => Err(StoreError::Locked {
                        bucket: self.bucket().to_string(),
                        key: key.into(),
                        version: version.into(),
                        detail,
                    }),
                    None => Err(self.failed("DeleteObject", key, e)),
                }
            }
            Err(e) => Err(self.failed("DeleteObject", key, e)),
        }
    }

    /// What holds a version, if Object Lock does: its retention not yet past, or a legal
    /// hold. Asked of the lock's own APIs, which read no content; a HEAD where those are
    /// not served (the local emulator).
    async fn lock_of(&self, key: &str, version: &str) -> Option<String> {
        let now = chrono::Utc::now();
        let to_time = |d: &aws_smithy_types::DateTime| chrono::DateTime::from_timestamp(d.secs(), 0);
        let (until, mode, legal_hold) = match self
            .client
            .get_object_retention()
            .bucket(self.bucket())
            .key(key)
            .version_id(version)
            .send()
            .await
        {
            Ok(found) => {
                let retention = found.retention();
                let hold = self
                    .client
                    .get_object_legal_hold()
                    .bucket(self.bucket())
                    .key(key)
                    .version_id(version)
                    .send()
                    .await
                    .ok()
                    .and_then(|h| h.legal_hold().and_then(|h| h.status()).map(|s| s.as_str() == "ON"));
                (
                    retention.and_then(|r| r.retain_until_date()).and_then(to_time),
                    retention.and_then(|r| r.mode()).map(|m| m.as_str().to_string()),
                    hold.unwrap_or(false),
                )
            }
            Err(_) => {
                let head = self
                    .client
                    .head_object()
                    .bucket(self.bucket())
                    .key(key)
                    .version_id(version)
                    .send()
                    .await
                    .ok()?;
                (
                    head.object_lock_retain_until_date().and_then(to_time),
                    head.object_lock_mode().map(|m| m.as_str().to_string()),
                    head.object_lock_legal_hold_status().is_some_and(|s| s.as_str() == "ON"),
                )
            }
        };
        match (until.filter(|u| *u > now), legal_hold) {
            (_, true) => Some("a legal hold is on it".into()),
            (Some(until), false) => Some(format!(
                "retained until {} ({})",
                until.to_rfc3339(),
                mode.as_deref().unwrap_or("GOVERNANCE")
            )),
            (None, false) => None,
        }
    }
}
