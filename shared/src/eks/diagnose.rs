//! Why a cluster refused an EKS token. The API server answers every refusal with the
//! same bare 401, so the function finds the cause itself, only once refused, from what
//! it can check: the clock that dated the token against the API server's, and the
//! credentials that signed it against STS, which judges them as the cluster's
//! authenticator does. What is left when both are good is the cluster's own mapping.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::error::ProvideErrorMetadata;
use kube::Client;

use super::{EksAccess, TokenSource};

/// How far the token's clock may be from the cluster's before the token is taken for
/// expired or not yet valid, as STS allows a request's time to be.
pub(crate) const CLOCK_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The cause of a refusal, each with what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusalCause {
    /// The token was dated by a clock far from the cluster's: it was expired, or not yet
    /// valid, when it arrived.
    #[error(
        "the token had expired: the clock that dated it is {seconds}s {direction} the cluster's, and a token is \
         good for 15 minutes from its date; correct the function's clock"
    )]
    Clock {
        /// How far off.
        seconds: u64,
        /// `behind` or `ahead of`.
        direction: &'static str,
    },
    /// STS refuses the credentials that signed the token, so its signature cannot verify.
    #[error(
        "the token's signature does not verify: STS refuses the credentials that signed it ({code}: {message}); \
         check the function's role credentials, or the role assumed for this infrastructure"
    )]
    Signature {
        /// STS's error code.
        code: String,
        /// STS's message.
        message: String,
    },
    /// Clock and credentials are good, so the cluster did not take a token that names it.
    #[error(
        "the token was dated correctly and signed by credentials STS accepts ({arn}), for cluster '{cluster}'; \
         the endpoint EKS gives for '{cluster}' serves another cluster, or no access entry on it maps that role: \
         check the cluster's access entries"
    )]
    NotForThisCluster {
        /// The cluster the token was made for.
        cluster: String,
        /// Who STS says signed it.
        arn: String,
    },
    /// The checks themselves could not be made.
    #[error(
        "the cause could not be told ({0}); check the function's clock, its role's credentials and the cluster's access entries"
    )]
    Unknown(String),
    /// A kubeconfig's credentials, which lifeboat does not make.
    #[error("check the credentials of the kubeconfig's context for this cluster")]
    Kubeconfig,
}

impl EksAccess {
    /// Finds why the cluster behind `client` refused the tokens of `tokens`.
    pub(crate) async fn diagnose(&self, client: &Client, tokens: &TokenSource) -> RefusalCause {
        match cluster_time(client).await {
            Ok(cluster_now) => {
                if let Some(cause) = clock_cause((tokens.clock)(), cluster_now) {
                    return cause;
                }
            }
            Err(unknown) => return unknown,
        }
        let sts = aws_sdk_sts::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(tokens.region.clone()))
            .credentials_provider(tokens.credentials.clone())
            .build();
        match aws_sdk_sts::Client::from_conf(sts).get_caller_identity().send().await {
            Ok(identity) => RefusalCause::NotForThisCluster {
                cluster: tokens.cluster.clone(),
                arn: identity.arn().unwrap_or("an unnamed principal").to_string(),
            },
            Err(e) => match e.code() {
                Some(code) => RefusalCause::Signature {
                    code: code.to_string(),
                    message: e.message().unwrap_or_default().to_string(),
                },
                None => RefusalCause::Unknown(format!(
                    "STS could not be asked about the credentials: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                )),
            },
        }
    }
}

/// The cluster's time, from the `Date` of its answer to a request it need not
/// authorise (its answer, a refusal or not, carries one).
async fn cluster_time(client: &Client) -> Result<SystemTime, RefusalCause> {
    let unknown = |detail: String| RefusalCause::Unknown(detail);
    let request = http::Request::get("/version")
        .body(kube::client::Body::empty())
        .map_err(|e| unknown(e.to_string()))?;
    let response = client
        .send(request)
        .await
        .map_err(|e| unknown(format!("the API server could not be asked its time: {e}")))?;
    let date = response
        .headers()
        .get(http::header::DATE)
        .and_then(|d| d.to_str().ok())
        .ok_or_else(|| unknown("the API server's answer has no Date".into()))?;
    chrono::DateTime::parse_from_rfc2822(date)
        .map(SystemTime::from)
        .map_err(|e| unknown(format!("the API server's Date {date:?} does not parse: {e}")))
}

/// The clock cause, when the token's clock is further from the cluster's than STS and
/// the authenticator allow.
fn clock_cause(token_clock: SystemTime, cluster_clock: SystemTime) -> Option<RefusalCause> {
    let (seconds, direction) = match cluster_clock.duration_since(token_clock) {
        Ok(behind) => (behind, "behind"),
        Err(ahead) => (ahead.duration(), "ahead of"),
    };
    (seconds > CLOCK_TOLERANCE).then_some(RefusalCause::Clock {
        seconds: seconds.as_secs(),
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_off_by_more_than_the_tolerance_is_the_cause_either_way() {
        let cluster = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let minutes = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(
            clock_cause(cluster - minutes(20), cluster),
            Some(RefusalCause::Clock {
                seconds: 1200,
                direction: "behind"
            })
        );
        assert_eq!(
            clock_cause(cluster + minutes(6), cluster),
            Some(RefusalCause::Clock {
                seconds: 360,
                direction: "ahead of"
            })
        );
        assert_eq!(clock_cause(cluster - minutes(4), cluster), None);
        assert_eq!(clock_cause(cluster + minutes(4), cluster), None);
    }

    #[test]
    fn each_cause_says_what_it_is_and_none_of_the_others() {
        let causes = [
            (
                RefusalCause::Clock {
                    seconds: 1200,
                    direction: "behind",
                },
                "expired",
            ),
            (
                RefusalCause::Signature {
                    code: "SignatureDoesNotMatch".into(),
                    message: "x".into(),
                },
                "signature does not verify",
            ),
            (
                RefusalCause::NotForThisCluster {
                    cluster: "prod".into(),
                    arn: "arn:aws:sts::1:assumed-role/r/s".into(),
                },
                "serves another cluster",
            ),
        ];
        for (cause, says) in &causes {
            let text = cause.to_string();
            assert!(text.contains(says), "{text}");
            for (_, other) in causes.iter().filter(|(_, o)| o != says) {
                assert!(!text.contains(other), "{text} also says {other}");
            }
        }
    }
}
