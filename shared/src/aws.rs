//! The AWS configuration, loaded once per function instance from the environment the
//! Lambda service (or the local stack) provides: region, credentials, and an endpoint
//! override such as `AWS_ENDPOINT_URL` for emulators.
//!
//! Retries and timeouts are set here rather than left to the SDK's defaults, so what a
//! throttled or hanging S3 costs a run is written down: every call (S3 writes included,
//! which are idempotent puts of whole objects and parts) is tried up to
//! [`MAX_ATTEMPTS`] times with exponential backoff and full jitter, from
//! [`INITIAL_BACKOFF`] up to [`MAX_BACKOFF`]; throttling (`SlowDown`, 503), 5xx and
//! transport failures are retried, and an attempt that gets no answer within
//! [`ATTEMPT_TIMEOUT`] is abandoned and retried, so one stuck upload cannot hold a run
//! until its deadline.

use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Tries per AWS call, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The first backoff's upper bound (the SDK jitters over the whole range).
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The longest backoff between two tries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one try may take: an 8 MiB part on a slow link takes seconds, not this.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The retry policy of every AWS client of lifeboat.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The timeouts of every AWS client of lifeboat, with `attempt` as the limit of one try.
pub fn timeout_config(attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(attempt)
        .build()
}

/// Loads the configuration with the SDK's current behaviour defaults and lifeboat's
/// retries and timeouts.
pub async fn load() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config(ATTEMPT_TIMEOUT))
        .load()
        .await
}
