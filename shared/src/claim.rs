//! One writer per scheduled run: the claim an invocation takes on a run's folder before
//! it writes anything there.
//!
//! A retry of a scheduled run lands in the same folder on purpose, and the scheduler or
//! an operator can start two invocations of the same run at once. Both would write the
//! same keys; if the cluster changed in between, the folder would end up with one
//! attempt's manifest and some of the other attempt's files: a mix, whose checksums no
//! longer match. So an invocation first creates the run's claim
//! (`claims/<YYYY>/<MM>/<DD>/<HHmmss>/<infrastructure>.json`) with S3's
//! conditional write (`If-None-Match: *`), which exactly one of several concurrent
//! writers wins. The others find a live claim and do nothing.
//!
//! The claim names when it lapses: the holder's Lambda deadline (the holder is gone by
//! then, whatever happened to it), or [`LONGEST_RUN`] after it was taken when there is
//! no deadline. When the holder finishes, it releases the claim by overwriting it; the
//! backup role may not delete. A later invocation takes a released or lapsed claim over
//! with `If-Match` on the ETag it read, so two of those racing still leave one holder.
//! The holder checks for a committed manifest only once it holds the claim, so an
//! invocation that waited out another never redoes a run that meanwhile completed.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::layout::RunLayout;
use crate::store::StoreError;

/// How long a claim without a deadline lives: Lambda's longest timeout.
pub const LONGEST_RUN: TimeDelta = TimeDelta::minutes(15);

/// What a claim holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClaimRecord {
    /// Who holds it: a random id per invocation, for logs.
    holder: String,
    /// When the claim was taken.
    taken_at: DateTime<Utc>,
    /// When it lapses if not released.
    expires_at: DateTime<Utc>,
    /// Whether the holder is done with the folder.
    released: bool,
    /// Which attempt at the run this is, from 1: a retry's files go beside the earlier
    /// attempts' (see [`crate::layout`]), as backups are never written over.
    #[serde(default = "first_attempt")]
    attempt: u32,
}

fn first_attempt() -> u32 {
    1
}

/// The outcome of trying to claim a run.
pub enum Claimed {
    /// This invocation holds the run; release it when done.
    Held(Claim),
    /// Another invocation holds it until the time given.
    Busy {
        /// When that claim lapses.
        until: DateTime<Utc>,
    },
}

/// A claim this invocation holds.
pub struct Claim {
    s3: Client,
    bucket: String,
    key: String,
    kms_key_id: Option<String>,
    etag: Option<String>,
    record: ClaimRecord,
}

/// Where the claim of a run of `infrastructure` lives: beside the backups, not in the
/// run's folder, so that folder holds the backup and its manifest and nothing else, and
/// `latest` (which walks only the date folders) never sees a claim.
pub fn claim_key(layout: &RunLayout, infrastructure: &str) -> String {
    format!("claims/{}/{infrastructure}.json", layout.run_path())
}

fn failed(operation: &'static str, bucket: &str, key: &str, err: impl std::error::Error) -> StoreError {
    StoreError::Request {
        operation,
        bucket: bucket.into(),
        key: key.into(),
        detail: DisplayErrorContext(err).to_string(),
    }
}

/// Tries to claim the run in `layout` until `deadline` (or [`LONGEST_RUN`] from `now`).
pub async fn claim(
    s3: &Client,
    bucket: &str,
    kms_key_id: Option<String>,
    layout: &RunLayout,
    infrastructure: &str,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Claimed, StoreError> {
    let key = claim_key(layout, infrastructure);
    let record = ClaimRecord {
        holder: format!("{:016x}", rand_id()),
        taken_at: now,
        expires_at: deadline.unwrap_or(now + LONGEST_RUN),
        released: false,
        attempt: 1,
    };
    let mut claim = Claim {
        s3: s3.clone(),
        bucket: bucket.into(),
        key,
        kms_key_id,
        etag: None,
        record,
    };
    // First writer of the folder.
    match claim.put(Condition::Absent).await {
        Ok(()) => return Ok(Claimed::Held(claim)),
        Err(Lost::Condition) => {}
        Err(Lost::Failed(e)) => return Err(e),
    }
    // A claim exists: take it over only if its holder is done or gone.
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(&claim.key)
        .send()
        .await
        .map_err(|e| failed("GetObject", bucket, &claim.key, e))?;
    let etag = out.e_tag().unwrap_or_default().to_string();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| failed("GetObject", bucket, &claim.key, e))?
        .into_bytes();
    match judge(&bytes, now) {
        Found::Live { until } => return Ok(Claimed::Busy { until }),
        Found::Over { next_attempt } => claim.record.attempt = next_attempt,
    }
    match claim.put(Condition::Matches(etag)).await {
        Ok(()) => Ok(Claimed::Held(claim)),
        Err(Lost::Condition) => Ok(Claimed::Busy {
            until: claim.record.expires_at,
        }),
        Err(Lost::Failed(e)) => Err(e),
    }
}

/// What an invocation may do with a claim it found on its run.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// Its holder may still be at work: leave the run alone until then.
    Live { until: DateTime<Utc> },
    /// Released, or lapsed with its holder gone: take it over, as the next attempt.
    Over { next_attempt: u32 },
}

/// Judges the claim in `bytes` at `now`. An unreadable claim protects nothing; it is
/// taken over like a lapsed one, with an attempt number no earlier attempt can have had.
fn judge(bytes: &[u8], now: DateTime<Utc>) -> Found {
    match serde_json::from_slice::<ClaimRecord>(bytes) {
        Ok(current) if !current.released && current.expires_at > now => Found::Live {
            until: current.expires_at,
        },
        Ok(current) => Found::Over {
            next_attempt: current.attempt.saturating_add(1),
        },
        Err(_) => Found::Over {
            next_attempt: u32::try_from(now.timestamp()).unwrap_or(u32::MAX),
        },
    }
}

enum Condition {
    Absent,
    Matches(String),
}

enum Lost {
    Condition,
    Failed(StoreError),
}

impl Claim {
    /// Which attempt at the run this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.record.attempt
    }

    async fn put(&mut self, condition: Condition) -> Result<(), Lost> {
        let mut request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .body(ByteStream::from(
                serde_json::to_vec(&self.record).expect("a claim always serialises"),
            ));
        if let Some(kms) = &self.kms_key_id {
            request = request.ssekms_key_id(kms);
        }
        request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(out) => {
                self.etag = out.e_tag().map(str::to_string);
                Ok(())
            }
            Err(e) if crate::store::lost_condition(&e) => Err(Lost::Condition),
            Err(e) => Err(Lost::Failed(failed("PutObject", &self.bucket, &self.key, e))),
        }
    }

    /// Lets the next invocation of this run in. A failure is only logged: the claim
    /// lapses at its deadline anyway.
    pub async fn release(mut self) {
        self.record.released = true;
        let condition = match self.etag.clone() {
            Some(etag) => Condition::Matches(etag),
            None => Condition::Absent,
        };
        let reason = match self.put(condition).await {
            Ok(()) => return,
            Err(Lost::Condition) => "another invocation took the claim over".to_string(),
            Err(Lost::Failed(e)) => e.to_string(),
        };
        tracing::warn!(
            key = self.key,
            reason,
            "cannot release the run's claim; it lapses at its deadline"
        );
    }
}

/// A random id, from the standard library's per-process random hasher keys.
fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    fn record(released: bool, expires_at: &str, attempt: Option<u32>) -> Vec<u8> {
        let mut record = json!({
            "holder": "00000000000000ab", "taken_at": "2026-11-22T13:00:00Z",
            "expires_at": expires_at, "released": released,
        });
        if let Some(attempt) = attempt {
            record["attempt"] = json!(attempt);
        }
        serde_json::to_vec(&record).unwrap()
    }

    #[test]
    fn a_claim_whose_holder_may_be_at_work_is_left_alone_until_it_lapses() {
        let now = at("2026-11-22T13:05:00Z");
        assert_eq!(
            judge(&record(false, "2026-11-22T13:15:00Z", Some(1)), now),
            Found::Live {
                until: at("2026-11-22T13:15:00Z")
            }
        );
    }

    #[test]
    fn a_released_or_lapsed_claim_is_taken_over_as_the_next_attempt() {
        let now = at("2026-11-22T13:20:00Z");
        let over = |next_attempt| Found::Over { next_attempt };
        assert_eq!(judge(&record(true, "2026-11-22T13:15:00Z", Some(1)), now), over(2));
        assert_eq!(
            judge(&record(true, "2026-11-22T13:30:00Z", Some(2)), now),
            over(3),
            "released early"
        );
        assert_eq!(
            judge(&record(false, "2026-11-22T13:15:00Z", Some(4)), now),
            over(5),
            "lapsed"
        );
        assert_eq!(
            judge(&record(false, "2026-11-22T13:20:00Z", Some(1)), now),
            over(2),
            "lapsed at this very moment"
        );
        // A claim written before attempts were counted was the first.
        assert_eq!(judge(&record(true, "2026-11-22T13:15:00Z", None), now), over(2));
        assert_eq!(
            judge(&record(true, "2026-11-22T13:15:00Z", Some(u32::MAX)), now),
            over(u32::MAX)
        );
    }

    #[test]
    fn an_unreadable_claim_is_taken_over_with_an_attempt_no_earlier_one_had() {
        let now = at("2026-11-22T13:20:00Z");
        let attempt = u32::try_from(now.timestamp()).unwrap();
        for junk in [&b"not json"[..], b"{}", b"{\"released\": \"yes\"}"] {
            assert_eq!(judge(junk, now), Found::Over { next_attempt: attempt });
        }
    }
}
