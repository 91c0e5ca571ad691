//! Keyed fingerprints of the values a catalog answer conceals (Secret data, and
//! ConfigMap data when asked): equal values have equal fingerprints, so two answers tell
//! equal from different, and without the key nobody can test a guess against one.
//!
//! The key never leaves KMS: each instance asks KMS for the HMAC of a fixed label under
//! the deployment's HMAC key (`LIFEBOAT_FINGERPRINT_KEY_ID`) and keys its fingerprints
//! with that, so every instance of one deployment fingerprints alike, and one call to
//! KMS serves every value of an answer.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// What the deployment's KMS key is asked to sign; changing it changes every fingerprint.
const LABEL: &[u8] = b"lifeboat catalog fingerprints v1";

/// How many bytes of the HMAC a fingerprint shows: enough that two different values
/// never share one in practice, short enough to read.
const SHOWN_BYTES: usize = 16;

/// The fingerprint key could not be had from KMS.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot derive the fingerprint key from the KMS key {key_id}: {message}; the catalog's role needs \
     kms:GenerateMac on that HMAC_256 key (see LIFEBOAT_FINGERPRINT_KEY_ID)"
)]
pub struct FingerprintError {
    /// The key asked.
    pub key_id: String,
    /// What KMS answered.
    pub message: String,
}

/// Fingerprints under one deployment's key, or none when it has no key configured.
#[derive(Clone)]
pub struct Fingerprints {
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.key.is_some() {
            "Fingerprints(keyed)"
        } else {
            "Fingerprints(off)"
        })
    }
}

impl Fingerprints {
    /// No fingerprints: concealed values are only marked changed.
    pub fn off() -> Self {
        Self { key: None }
    }

    /// Fingerprints keyed by the deployment's KMS HMAC key `key_id`.
    pub async fn from_kms(kms: &aws_sdk_kms::Client, key_id: &str) -> Result<Self, FingerprintError> {
        let answer = kms
            .generate_mac()
            .key_id(key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(LABEL))
            .send()
            .await
            .map_err(|e| FingerprintError {
                key_id: key_id.into(),
                message: aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
            })?;
        let key = answer
            .mac()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| FingerprintError {
                key_id: key_id.into(),
                message: "KMS returned no MAC".into(),
            })?;
        Ok(Self::with_key(key))
    }

    pub(crate) fn with_key(key: Vec<u8>) -> Self {
        Self { key: Some(key) }
    }

    /// Whether fingerprints are made at all.
    pub fn enabled(&self) -> bool {
        self.key.is_some()
    }

    /// The fingerprint of `value`, the same whatever order its object keys come in.
    pub fn of(&self, value: &Value) -> Option<String> {
        let key = self.key.as_ref()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
        write_canonical(value, &mut |bytes| mac.update(bytes));
        let digest = mac.finalize().into_bytes();
        Some(format!("hmac-sha256:{}", hex::encode(&digest[..SHOWN_BYTES])))
    }
}

/// An unkeyed digest of `value`, for telling versions of an object apart inside one
/// answer. Never shown: without a key, a digest of a short Secret could be guessed.
pub(crate) fn digest(value: &Value) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = Sha256::new();
    write_canonical(value, &mut |bytes| hasher.update(bytes));
    hasher.finalize().into()
}

/// Feeds `value` as JSON with every object's keys sorted, so that equal values give
/// equal bytes however they were parsed.
fn write_canonical(value: &Value, out: &mut impl FnMut(&[u8])) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out(b"{");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out(b",");
                }
                out(Value::String(key.clone()).to_string().as_bytes());
                out(b":");
                write_canonical(&map[key], out);
            }
            out(b"}");
        }
        Value::Array(items) => {
            out(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out(b",");
                }
                write_canonical(item, out);
            }
            out(b"]");
        }
        scalar => out(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::operation::generate_mac::GenerateMacOutput;
    use aws_smithy_mocks::{mock, mock_client};
    use serde_json::json;

    #[test]
    fn equal_values_match_different_ones_do_not_and_keys_matter() {
        let a = Fingerprints::with_key(b"one".to_vec());
        let b = Fingerprints::with_key(b"two".to_vec());
        let x = json!({"user": "admin", "password": "hunter2"});
        let same = json!({"password": "hunter2", "user": "admin"});
        let other = json!({"user": "admin", "password": "hunter3"});
        assert_eq!(a.of(&x), a.of(&same));
        assert_ne!(a.of(&x), a.of(&other));
        assert_ne!(a.of(&x), b.of(&x));
        let shown = a.of(&x).unwrap();
        assert!(
            shown.starts_with("hmac-sha256:") && shown.len() == 12 + 2 * SHOWN_BYTES,
            "{shown}"
        );
        assert!(!shown.contains("hunter2"));
        assert_eq!(Fingerprints::off().of(&x), None);
    }

    #[tokio::test]
    async fn the_key_is_the_kms_mac_of_the_label_under_the_deployments_key() {
        let generate = mock!(aws_sdk_kms::Client::generate_mac)
            .match_requests(|r| {
                r.key_id() == Some("alias/fp")
                    && r.mac_algorithm() == Some(&MacAlgorithmSpec::HmacSha256)
                    && r.message().map(|m| m.as_ref()) == Some(LABEL)
            })
            .then_output(|| GenerateMacOutput::builder().mac(Blob::new(b"derived".to_vec())).build());
        let kms = mock_client!(aws_sdk_kms, [&generate]);
        let from_kms = Fingerprints::from_kms(&kms, "alias/fp").await.unwrap();
        let value = json!("s3cr3t");
        assert_eq!(
            from_kms.of(&value),
            Fingerprints::with_key(b"derived".to_vec()).of(&value)
        );
        assert_eq!(generate.num_calls(), 1);
    }
}
