//! One file written as it is built: a single create-only PutObject when it stays under
//! [`PART_SIZE`], otherwise a multipart upload of parts of that size whose completion is
//! create-only too, so memory holds one part, never the file.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_smithy_types::base64;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError, Stored, lost_condition, real_version};

/// The size at which a file being written goes to S3 as a part of a multipart upload,
/// so one huge tenant and kind never has to fit in memory. S3's smallest part is 5 MiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// A file being written; the SHA-256 covers the whole file either way.
pub struct Upload<'a> {
    store: &'a Store,
    key: String,
    buffer: Vec<u8>,
    hasher: Sha256,
    size: u64,
    multipart: Option<(String, Vec<CompletedPart>)>,
}

impl<'a> Upload<'a> {
    pub(crate) fn new(store: &'a Store, key: String) -> Self {
        Self {
            store,
            key,
            buffer: Vec::new(),
            hasher: Sha256::new(),
            size: 0,
            multipart: None,
        }
    }

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
                .bucket(store.bucket())
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
            .bucket(store.bucket())
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

    /// Sends what is left and completes the file.
    pub async fn finish(mut self) -> Result<Stored, StoreError> {
        if self.multipart.is_none() {
            let bytes = std::mem::take(&mut self.buffer);
            return self.store.put_new(&self.key, bytes).await;
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
            .bucket(store.bucket())
            .key(key)
            .upload_id(&id)
            .if_none_match("*")
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await;
        match done {
            Ok(out) => Ok(Stored {
                sha256: hex::encode(self.hasher.clone().finalize()),
                size: self.size,
                version_id: real_version(out.version_id()),
            }),
            Err(e) => {
                let error = if lost_condition(&e) {
                    store.exists_error(key)
                } else {
                    store.failed("CompleteMultipartUpload", key, e)
                };
                self.multipart = Some((id, Vec::new()));
                self.abort().await;
                Err(error)
            }
        }
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
                .bucket(store.bucket())
                .key(&self.key)
                .upload_id(id)
                .send()
                .await
            {
                tracing::warn!(key = self.key, error = %aws_sdk_s3::error::DisplayErrorContext(e), "cannot abort a multipart upload");
            }
        }
    }
}
