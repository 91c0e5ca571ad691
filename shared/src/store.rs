//! The backup bucket: create-only encrypted writes, and reads of exact versions.
//!
//! Every object a backup writes is sent with `If-None-Match: *`, so S3 refuses to put it
//! over anything already at its key: a backup, once written, is not rewritten by a
//! later run, a retry or a bug (the bucket policy refuses the backup role any write
//! without that header, so this holds even for a modified function). Each write is
//! SSE-KMS with its SHA-256 sent along, which S3 checks, and returns the version S3
//! gave it, which the manifest records so a restore reads exactly that version.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ServerSideEncryption};
use aws_smithy_types::base64;
use sha2::{Digest, Sha256};

pub use crate::upload::{PART_SIZE, Upload};

/// Why the bucket could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A read, write or list failed.
    #[error(
        "S3 {operation} of s3://{bucket}/{key} failed: {detail}; check that the bucket exists in this region \
         and that the function's role may use it and its KMS key"
    )]
    Request {
        /// What was attempted.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key or prefix.
        key: String,
        /// The SDK's account of the failure.
        detail: String,
    },
    /// The object does not exist.
    #[error("s3://{bucket}/{key} does not exist")]
    NotFound {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Object Lock still holds a version a delete asked for.
    #[error("s3://{bucket}/{key} (version {version}) is held by Object Lock: {detail}")]
    Locked {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The version held.
        version: String,
        /// What S3 said.
        detail: String,
    },
    /// A create-only write found its key taken: backups are never written over.
    #[error(
        "s3://{bucket}/{key} already exists and backups are never written over; another writer used this run's \
         folder (see the run's claim under claims/)"
    )]
    Exists {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
}

/// One version (or delete marker) a listing found.
struct Listed {
    key: String,
    version: String,
    delete_marker: bool,
}

/// An object as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The version S3 gave it; `None` in a bucket without versioning.
    pub version_id: Option<String>,
}

/// Lowercase hex SHA-256, as the manifest records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Builds the S3 client. An endpoint override (`AWS_ENDPOINT_URL`, as the local stack
/// sets) gets path-style addressing, because emulators on loopback have no DNS for
/// `<bucket>.host` names.
pub fn s3_client(config: &aws_config::SdkConfig) -> Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    Client::from_conf(s3)
}

/// A version S3 reports, as the SDK gives it: `null` stands for none (a bucket that
/// never had versioning), which a read must not send.
pub(crate) fn real_version(id: Option<&str>) -> Option<String> {
    id.filter(|v| !v.is_empty() && *v != "null").map(str::to_string)
}

/// Whether a conditional write lost: S3 answers 412 (or 409 for a concurrent
/// conditional write to the same key in progress).
pub(crate) fn lost_condition<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response()
        .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412))
}

/// The versions one key holds, delete markers included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    /// Version ids of the object's versions, newest first (`None` where S3 keeps none).
    pub objects: Vec<Option<String>>,
    /// How many delete markers the key holds.
    pub delete_markers: usize,
}

/// One bucket, with the KMS key its objects are encrypted with.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) client: Client,
    bucket: String,
    pub(crate) kms_key_id: Option<String>,
}

impl Store {
    /// A store on `bucket`; `kms_key_id` `None` uses the bucket's default KMS key.
    pub fn new(client: Client, bucket: impl Into<String>, kms_key_id: Option<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            kms_key_id,
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub(crate) fn failed(&self, operation: &'static str, key: &str, err: impl std::error::Error) -> StoreError {
        StoreError::Request {
            operation,
            bucket: self.bucket.clone(),
            key: key.into(),
            detail: DisplayErrorContext(err).to_string(),
        }
    }

    pub(crate) fn exists_error(&self, key: &str) -> StoreError {
        StoreError::Exists {
            bucket: self.bucket.clone(),
            key: key.into(),
        }
    }

    /// Writes a new object, encrypted with SSE-KMS; refused with [`StoreError::Exists`]
    /// when anything is at its key already.
    pub async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<Stored, StoreError> {
        let digest = Sha256::digest(&bytes);
        let size = bytes.len() as u64;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(base64::encode(digest))
            .body(ByteStream::from(bytes));
        if let Some(kms) = &self.kms_key_id {
            request = request.ssekms_key_id(kms);
        }
        match request.send().await {
            Ok(out) => Ok(Stored {
                sha256: hex::encode(digest),
                size,
                version_id: real_version(out.version_id()),
            }),
            Err(e) if lost_condition(&e) => Err(self.exists_error(key)),
            Err(e) => Err(self.failed("PutObject", key, e)),
        }
    }

    /// Starts writing `key` piece by piece; see [`Upload`].
    pub fn upload(&self, key: impl Into<String>) -> Upload<'_> {
        Upload::new(self, key.into())
    }

    /// Reads an object whole: the current version, or `version` when given.
    pub async fn get(&self, key: &str, version: Option<&str>) -> Result<Vec<u8>, StoreError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_string));
        match request.send().await {
            Ok(out) => {
                let body = out.body.collect().await.map_err(|e| self.failed("GetObject", key, e))?;
                Ok(body.into_bytes().to_vec())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_key() || s.code() == Some("NoSuchVersion")) =>
            {
                Err(StoreError::NotFound {
                    bucket: self.bucket.clone(),
                    key: key.into(),
                })
            }
            Err(e) => Err(self.failed("GetObject", key, e)),
        }
    }

    /// Every version `key` holds, and its delete markers.
    pub async fn versions(&self, key: &str) -> Result<Versions, StoreError> {
        let mut found = Versions::default();
        // The prefix also matches longer keys (`manifest.json.bak`); only the key counts.
        for listed in self.list_versions(key).await?.into_iter().filter(|v| v.key == key) {
            if listed.delete_marker {
                found.delete_markers += 1;
            } else {
                found.objects.push(real_version(Some(&listed.version)));
            }
        }
        Ok(found)
    }

    /// Every version and delete marker of every key under `prefix`, as `(key, version)`.
    pub(crate) async fn versions_under(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .list_versions(prefix)
            .await?
            .into_iter()
            .map(|v| (v.key, v.version))
            .collect())
    }

    async fn list_versions(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let mut found = Vec::new();
        let mut marker: Option<(String, Option<String>)> = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(marker.as_ref().map(|(k, _)| k.clone()))
                .set_version_id_marker(marker.as_ref().and_then(|(_, v)| v.clone()))
                .send()
                .await
                .map_err(|e| self.failed("ListObjectVersions", prefix, e))?;
            let listed = |key: Option<&str>, version: Option<&str>, delete_marker| {
                key.map(|key| Listed {
                    key: key.to_string(),
                    version: version.unwrap_or("null").to_string(),
                    delete_marker,
                })
            };
            found.extend(
                page.versions()
                    .iter()
                    .filter_map(|v| listed(v.key(), v.version_id(), false)),
            );
            found.extend(
                page.delete_markers()
                    .iter()
                    .filter_map(|m| listed(m.key(), m.version_id(), true)),
            );
            if page.is_truncated() != Some(true) {
                return Ok(found);
            }
            marker = Some((
                page.next_key_marker().unwrap_or_default().to_string(),
                page.next_version_id_marker().map(str::to_string),
            ));
        }
    }

    /// Whether an object exists, found by listing its exact key. Unlike a GET or HEAD,
    /// this tells "missing" from "not allowed" to a role whose `s3:ListBucket` is limited
    /// by an `s3:prefix` condition to such keys (the backup role).
    pub(crate) async fn exists_listed(&self, key: &str) -> Result<bool, StoreError> {
        // The key itself sorts before every longer key it is a prefix of.
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(key)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| self.failed("ListObjectsV2", key, e))?;
        Ok(page.contents().iter().any(|o| o.key() == Some(key)))
    }

    /// Every current key under `prefix`.
    pub(crate) async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("ListObjectsV2", prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    }

    /// The folder names directly under `prefix` (which ends in `/` or is empty).
    pub(crate) async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut folders = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("ListObjectsV2", prefix, e))?;
            for p in page.common_prefixes() {
                if let Some(name) = p
                    .prefix()
                    .and_then(|p| p.strip_prefix(prefix))
                    .and_then(|p| p.strip_suffix('/'))
                {
                    folders.push(name.to_string());
                }
            }
        }
        Ok(folders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_version_an_unversioned_bucket_reports_is_none() {
        assert_eq!(real_version(Some("null")), None);
        assert_eq!(real_version(Some("")), None);
        assert_eq!(
            real_version(Some("3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")).as_deref(),
            Some("3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
        );
    }
}
