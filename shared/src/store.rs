//! The backup bucket: encrypted writes, reads, and finding the runs that are complete.
//!
//! Every object is written with SSE-KMS and with its SHA-256 sent along, so S3 itself
//! refuses an upload that was damaged on the way.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ServerSideEncryption};
use aws_smithy_types::base64;
use sha2::{Digest, Sha256};

use crate::layout::{RunLayout, is_run_path};

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

/// One bucket, with the KMS key its objects are encrypted with.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    bucket: String,
    kms_key_id: Option<String>,
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

    fn failed(&self, operation: &'static str, key: &str, err: impl std::error::Error) -> StoreError {
        StoreError::Request {
            operation,
            bucket: self.bucket.clone(),
            key: key.into(),
            detail: DisplayErrorContext(err).to_string(),
        }
    }

    /// Writes an object encrypted with SSE-KMS; returns its SHA-256.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
        let digest = Sha256::digest(&bytes);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(base64::encode(digest))
            .body(ByteStream::from(bytes));
        if let Some(kms) = &self.kms_key_id {
            request = request.ssekms_key_id(kms);
        }
        request.send().await.map_err(|e| self.failed("PutObject", key, e))?;
        Ok(hex::encode(digest))
    }

    /// Reads an object whole. Stored objects are single Kubernetes objects, bounded by
    /// the API server's own object size limit, so this never holds more than one.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.map_err(|e| self.failed("GetObject", key, e))?;
                Ok(body.into_bytes().to_vec())
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Err(StoreError::NotFound {
                bucket: self.bucket.clone(),
                key: key.into(),
            }),
            Err(e) => Err(self.failed("GetObject", key, e)),
        }
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found() || s.code() == Some("NoSuchKey")) =>
            {
                Ok(false)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(e) => Err(self.failed("HeadObject", key, e)),
        }
    }

    /// Whether an object exists, found by listing its exact key. Unlike a GET or HEAD,
    /// this tells "missing" from "not allowed" to a role whose `s3:ListBucket` is limited
    /// by an `s3:prefix` condition to such keys (the backup role).
    pub async fn exists_listed(&self, key: &str) -> Result<bool, StoreError> {
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

    /// The folder names directly under `prefix` (which ends in `/` or is empty).
    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
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

    /// The newest run of `infrastructure` that has a manifest. Walks the date folders
    /// newest first, so finding it costs a few listings, not a listing of the bucket.
    pub async fn latest_complete_run(&self, infrastructure: &str) -> Result<Option<RunLayout>, StoreError> {
        let descending = |mut v: Vec<String>, width: usize| {
            v.retain(|s| s.len() == width && s.bytes().all(|b| b.is_ascii_digit()));
            v.sort_unstable_by(|a, b| b.cmp(a));
            v
        };
        for year in descending(self.list_folders("").await?, 4) {
            for month in descending(self.list_folders(&format!("{year}/")).await?, 2) {
                for day in descending(self.list_folders(&format!("{year}/{month}/")).await?, 2) {
                    for time in descending(self.list_folders(&format!("{year}/{month}/{day}/")).await?, 6) {
                        let run_path = format!("{year}/{month}/{day}/{time}");
                        debug_assert!(is_run_path(&run_path));
                        let layout = RunLayout::for_run_path(&run_path, infrastructure);
                        if self.exists(&layout.manifest_key()).await? {
                            return Ok(Some(layout));
                        }
                    }
                }
            }
        }
        Ok(None)
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
}
