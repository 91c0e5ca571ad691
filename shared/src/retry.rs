//! Retries of Kubernetes API requests that a busy or briefly unavailable API server
//! refused, so one throttled page of a LIST does not cost a tenant its backup.
//!
//! kube's own default retry is turned off where clients are built ([`crate::cluster`]):
//! it retries every method on 429, 503 and 504 only, up to 15 times with delays that
//! grow to minutes, which neither fits a Lambda deadline nor covers a dropped
//! connection. This policy is bounded and tells reads from writes:
//!
//! - reads (GET, HEAD: every LIST page, every GET of restore) are idempotent and are
//!   retried on 429, on 5xx and on any transport failure (refused, reset, dropped
//!   connection);
//! - writes are retried only where the API server cannot have acted on them: 429 (its
//!   flow control refused the request before handling it) and a connection that was
//!   refused (the request never left). A write whose connection broke afterwards is not
//!   retried here: restore creates first and compares what exists, so running it again
//!   finishes the job without duplicates.
//!
//! Delays grow exponentially from [`MIN_DELAY`] to [`MAX_DELAY`] with random jitter, so
//! the concurrent LISTs of a run do not retry in lockstep; a `Retry-After` the server
//! sends is honoured up to [`MAX_DELAY`]. At most [`MAX_ATTEMPTS`] tries are made, so a
//! request waits at most 20 s in all (about 6 s without `Retry-After`) before its
//! failure is reported: the kind or tenant fails, not the run.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;
use tower::retry::Policy;
use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

/// Tries per request, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// The first delay before jitter.
pub(crate) const MIN_DELAY: Duration = Duration::from_millis(200);
/// The longest delay, also the most of a server's `Retry-After` that is waited.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// The policy; one copy per request, as tower clones it for each call.
#[derive(Clone)]
pub(crate) struct RetryPolicy {
    backoff: ExponentialBackoff,
    attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Jitter of 1.0 spreads each delay over [base, 2 x base], capped at MAX_DELAY.
        let backoff = ExponentialBackoffMaker::new(MIN_DELAY, MAX_DELAY, 1.0, HasherRng::new())
            .expect("the constant backoff bounds are valid")
            .make_backoff();
        Self { backoff, attempts: 1 }
    }
}

/// The layer to put around a client's service; it needs a cloneable service (a
/// `tower::buffer::Buffer` makes one).
pub(crate) fn layer() -> tower::retry::RetryLayer<RetryPolicy> {
    tower::retry::RetryLayer::new(RetryPolicy::default())
}

/// Whether a request may be sent again after this outcome, as the module docs explain.
pub(crate) fn may_retry<B>(method: &Method, outcome: &Result<Response<B>, BoxError>) -> bool {
    let read = matches!(*method, Method::GET | Method::HEAD);
    match outcome {
        Ok(response) => {
            let status = response.status();
            status == StatusCode::TOO_MANY_REQUESTS || (read && status.is_server_error())
        }
        Err(error) => read || never_sent(error.as_ref()),
    }
}

/// Whether the transport failed before the request reached the server.
fn never_sent(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The server's `Retry-After` in seconds, when it sends one.
fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_DELAY))
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        outcome: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        if self.attempts >= MAX_ATTEMPTS || !may_retry(request.method(), outcome) {
            return None;
        }
        self.attempts += 1;
        let backoff = self.backoff.next_backoff();
        let server = outcome.as_ref().ok().and_then(retry_after);
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            attempt = self.attempts,
            outcome = %match outcome {
                Ok(response) => response.status().to_string(),
                Err(e) => e.to_string(),
            },
            "retrying a Kubernetes API request"
        );
        match server {
            // The server knows when it will have room; waiting less only earns another 429.
            Some(delay) if delay > Duration::ZERO => Some(tokio::time::sleep(delay)),
            _ => Some(backoff),
        }
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        // Bodies kube builds from bytes can be cloned; a streamed one is sent once only.
        let body = request.body().try_clone()?;
        let mut copy = Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .version(request.version())
            .body(body)
            .ok()?;
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        Some(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Result<Response<()>, BoxError> {
        Ok(Response::builder().status(status).body(()).unwrap())
    }

    fn refused() -> Result<Response<()>, BoxError> {
        Err(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)))
    }

    fn reset() -> Result<Response<()>, BoxError> {
        Err(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)))
    }

    #[test]
    fn reads_are_retried_on_throttling_server_errors_and_any_transport_failure() {
        for outcome in [answer(429), answer(500), answer(503), answer(504), refused(), reset()] {
            assert!(may_retry(&Method::GET, &outcome), "{:?}", outcome.map(|r| r.status()));
        }
        for outcome in [answer(200), answer(403), answer(404), answer(409), answer(410)] {
            assert!(!may_retry(&Method::GET, &outcome), "{:?}", outcome.map(|r| r.status()));
        }
    }

    #[test]
    fn writes_are_retried_only_when_the_server_cannot_have_acted_on_them() {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(may_retry(&method, &answer(429)));
            assert!(may_retry(&method, &refused()));
            for outcome in [answer(500), answer(503), reset(), answer(409)] {
                assert!(
                    !may_retry(&method, &outcome),
                    "{method} {:?}",
                    outcome.map(|r| r.status())
                );
            }
        }
    }

    #[test]
    fn a_servers_retry_after_is_honoured_up_to_the_longest_delay() {
        let response = |value: &str| Response::builder().header("Retry-After", value).body(()).unwrap();
        assert_eq!(retry_after(&response("1")), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&response("3600")), Some(MAX_DELAY));
        assert_eq!(retry_after(&response("soon")), None);
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let mut policy = RetryPolicy::default();
        let mut request = Request::builder().uri("/api/v1/secrets").body(Body::empty()).unwrap();
        let mut retries = 0;
        // The waits are only counted, never awaited.
        while policy.retry(&mut request, &mut answer(503)).is_some() {
            retries += 1;
        }
        assert_eq!(retries, MAX_ATTEMPTS - 1);
    }
}
