//! The backup bucket: encrypted writes, reads, and finding the runs that are complete.
//!
//! Every object is written with SSE-KMS and with its SHA-256 sent along, so S3 itself
//! refuses an upload that was damaged on the way.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
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

/// The size at which a file being written goes to S3 as a part of a multipart upload,
/// so one huge tenant and kind never has to fit in memory. S3's smallest part is 5 MiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

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

    /// Starts writing `key` piece by piece; see [`Upload`].
    pub fn upload(&self, key: impl Into<String>) -> Upload<'_> {
        Upload {
            store: self,
            key: key.into(),
            buffer: Vec::new(),
            hasher: Sha256::new(),
            size: 0,
            multipart: None,
        }
    }

    /// Reads an object whole: one file of a tenant and kind, or a manifest.
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

    /// Whether the manifest at `key` says its run completed. A run that ended
    /// `PartiallyFailed` (a tenant refused, S3 down for some files, the deadline reached)
    /// is committed and restorable by its run path, but is never `latest`: an operator
    /// restoring `latest` after a failed run gets the last backup that holds everything.
    async fn says_completed(&self, key: &str) -> Result<bool, StoreError> {
        let bytes = self.get(key).await?;
        Ok(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|m| m["status"] == "Completed"))
    }

    /// The newest run of `infrastructure` whose manifest says it completed. Walks the date folders
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
                        if self.exists(&layout.manifest_key()).await?
                            && self.says_completed(&layout.manifest_key()).await?
                        {
                            return Ok(Some(layout));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// A file written as it is built: one PutObject when it stays under [`PART_SIZE`],
/// otherwise a multipart upload of parts of that size, so memory holds one part, never
/// the file. The SHA-256 covers the whole file either way.
pub struct Upload<'a> {
    store: &'a Store,
    key: String,
    buffer: Vec<u8>,
    hasher: Sha256,
    size: u64,
    multipart: Option<(String, Vec<CompletedPart>)>,
}

impl Upload<'_> {
    /// The buffer to append the file's bytes to.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Sends a part once a part's worth is buffered.
    pub async fn flush_full_parts(&mut self) -> Result<(), StoreError> {
        while self.buffer.len() >= PART_SIZE {
            let rest = self.buffer.split_off(PART_SIZE);
            let part = std::mem::replace(&mut self.buffer, rest);
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn send_part(&mut self, part: Vec<u8>) -> Result<(), StoreError> {
        let (store, key) = (self.store, self.key.as_str());
        if self.multipart.is_none() {
            let mut request = store
                .client
                .create_multipart_upload()
                .bucket(&store.bucket)
                .key(key)
                .content_type("application/json")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .checksum_algorithm(ChecksumAlgorithm::Sha256);
            if let Some(kms) = &store.kms_key_id {
                request = request.ssekms_key_id(kms);
            }
            let out = request
                .send()
                .await
                .map_err(|e| store.failed("CreateMultipartUpload", key, e))?;
            let id = out.upload_id().unwrap_or_default().to_string();
            self.multipart = Some((id, Vec::new()));
        }
        let (id, parts) = self.multipart.as_mut().expect("the upload was just started");
        let digest = Sha256::digest(&part);
        self.hasher.update(&part);
        self.size += part.len() as u64;
        let number = parts.len() as i32 + 1;
        let out = store
            .client
            .upload_part()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(id.as_str())
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(base64::encode(digest))
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|e| store.failed("UploadPart", key, e))?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    /// Sends what is left and completes the file; returns its SHA-256 and size.
    pub async fn finish(mut self) -> Result<(String, u64), StoreError> {
        if self.multipart.is_none() {
            let bytes = std::mem::take(&mut self.buffer);
            let size = bytes.len() as u64;
            let sha256 = self.store.put(&self.key, bytes).await?;
            return Ok((sha256, size));
        }
        let last = std::mem::take(&mut self.buffer);
        if !last.is_empty()
            && let Err(e) = self.send_part(last).await
        {
            self.abort().await;
            return Err(e);
        }
        let (store, key) = (self.store, self.key.as_str());
        let (id, parts) = self.multipart.take().expect("a multipart upload is under way");
        let done = store
            .client
            .complete_multipart_upload()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await;
        if let Err(e) = done {
            self.multipart = Some((id, Vec::new()));
            let error = store.failed("CompleteMultipartUpload", key, e);
            self.abort().await;
            return Err(error);
        }
        Ok((hex::encode(self.hasher.finalize()), self.size))
    }

    /// Gives up the file. Parts already sent are discarded where the role may abort
    /// uploads (`s3:AbortMultipartUpload`); elsewhere a lifecycle rule for incomplete
    /// multipart uploads removes them, so a failure here is only logged.
    pub async fn abort(mut self) {
        if let Some((id, _)) = self.multipart.take() {
            let store = self.store;
            if let Err(e) = store
                .client
                .abort_multipart_upload()
                .bucket(&store.bucket)
                .key(&self.key)
                .upload_id(id)
                .send()
                .await
            {
                tracing::warn!(key = self.key, error = %DisplayErrorContext(e), "cannot abort a multipart upload");
            }
        }
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
