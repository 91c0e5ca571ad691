//! Reaching an EKS cluster the way EKS expects, with nothing but the function role's
//! AWS credentials: DescribeCluster gives the endpoint and certificate authority, and
//! the bearer token is a presigned STS `GetCallerIdentity` URL, as `aws eks get-token`
//! makes it. The cluster's authenticator replays that URL to STS to learn who called.
//!
//! The token names the cluster in a signed `x-k8s-aws-id` header, so a token for one
//! cluster is refused by every other. Clusters accept a token for 15 minutes; a run can
//! last longer, so every request takes its token from a [`TokenSource`] that signs a new
//! one once the current one has aged past the refresh interval.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_eks::types::ClusterStatus;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_types::base64 as std_base64;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use http::header::{AUTHORIZATION, HeaderValue};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

mod diagnose;
pub use diagnose::RefusalCause;

/// What every EKS token starts with.
pub(crate) const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// The signed header that binds a token to one cluster.
pub(crate) const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// The presigned URL's own expiry, as `aws eks get-token` sets it. EKS ignores it in
/// favour of its 15-minute window, but STS would refuse a replay after it.
pub(crate) const PRESIGNED_URL_EXPIRY: Duration = Duration::from_secs(60);

/// How long EKS accepts a token.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// When a new token is signed by default: well inside the lifetime, so clock skew
/// between the function and the cluster cannot push a token past it.
pub(crate) const DEFAULT_REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);

/// The clock tokens are dated by; tests pass their own.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Why a cluster could not be reached through EKS.
#[derive(Debug, thiserror::Error)]
pub enum EksError {
    /// DescribeCluster found no such cluster.
    #[error("EKS has no cluster '{cluster}' in {region}; check the event's cluster and region")]
    ClusterNotFound {
        /// The cluster asked for.
        cluster: String,
        /// Its region.
        region: String,
    },
    /// The role may not describe the cluster.
    #[error(
        "the function's role may not describe EKS cluster '{cluster}' in {region}: {detail}; \
         grant eks:DescribeCluster on it (or on the role assumed for this infrastructure)"
    )]
    DescribeDenied {
        /// The cluster asked for.
        cluster: String,
        /// Its region.
        region: String,
        /// What EKS said.
        detail: String,
    },
    /// DescribeCluster failed otherwise.
    #[error("DescribeCluster of '{cluster}' in {region} failed: {detail}")]
    Describe {
        /// The cluster asked for.
        cluster: String,
        /// Its region.
        region: String,
        /// What the SDK said.
        detail: String,
    },
    /// The cluster exists but cannot serve requests.
    #[error("EKS cluster '{cluster}' in {region} is {status}, not ACTIVE; run again once it is ACTIVE")]
    NotActive {
        /// The cluster asked for.
        cluster: String,
        /// Its region.
        region: String,
        /// Its status.
        status: String,
    },
    /// DescribeCluster left out the endpoint or a usable certificate authority.
    #[error("EKS cluster '{cluster}' in {region} has {what}; the cluster may still be starting")]
    Incomplete {
        /// The cluster asked for.
        cluster: String,
        /// Its region.
        region: String,
        /// What is missing or unusable.
        what: String,
    },
    /// The infrastructure's role could not be assumed.
    #[error(
        "cannot assume role {role_arn} for cluster '{cluster}': {detail}; check the role's trust policy \
         (and external ID) and that the function's role may call sts:AssumeRole on it"
    )]
    AssumeRole {
        /// The role.
        role_arn: String,
        /// The cluster it was for.
        cluster: String,
        /// What STS said.
        detail: String,
    },
    /// The function has no AWS credentials.
    #[error("the function has no AWS credentials to sign an EKS token with: {0}")]
    Credentials(String),
    /// Signing the token failed.
    #[error("cannot sign an EKS token for cluster '{cluster}': {detail}")]
    Signing {
        /// The cluster.
        cluster: String,
        /// Why.
        detail: String,
    },
}

/// A role to assume before reaching a cluster, for clusters in other accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRole {
    /// The role's ARN.
    pub arn: String,
    /// The external ID its trust policy asks for.
    pub external_id: Option<String>,
}

/// A bearer token for `cluster`, signed with `credentials` at `at`.
pub fn presigned_token(
    credentials: &Credentials,
    cluster: &str,
    region: &str,
    at: SystemTime,
) -> Result<String, EksError> {
    let signing = |detail: String| EksError::Signing {
        cluster: cluster.into(),
        detail,
    };
    let url = format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGNED_URL_EXPIRY);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| signing(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        &url,
        [(CLUSTER_ID_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| signing(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing(e.to_string()))?
        .into_parts();
    let mut request = http::Request::get(&url).body(()).map_err(|e| signing(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(request.uri().to_string())
    ))
}

/// Hands out the current token for a cluster and signs a new one once it is due.
pub struct TokenSource {
    credentials: Credentials,
    cluster: String,
    region: String,
    refresh_after: Duration,
    clock: Clock,
    current: Mutex<Option<(String, SystemTime)>>,
}

impl TokenSource {
    /// A source of tokens for one cluster. Lambda and assumed-role credentials outlive
    /// the longest Lambda run, so the credentials themselves are not refreshed.
    pub fn new(credentials: Credentials, cluster: &str, region: &str, refresh_after: Duration, clock: Clock) -> Self {
        Self {
            credentials,
            cluster: cluster.into(),
            region: region.into(),
            refresh_after,
            clock,
            current: Mutex::new(None),
        }
    }

    /// The token to send now.
    pub(crate) fn bearer(&self) -> Result<String, EksError> {
        let now = (self.clock)();
        // A poisoned lock only means another request panicked mid-refresh; the cached
        // token is still a whole token or none.
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, signed_at)) = current.as_ref()
            // A clock that went backwards gives an error here, and a new token.
            && now.duration_since(*signed_at).is_ok_and(|age| age < self.refresh_after)
        {
            return Ok(token.clone());
        }
        let token = presigned_token(&self.credentials, &self.cluster, &self.region, now)?;
        *current = Some((token.clone(), now));
        Ok(token)
    }
}

/// A tower layer that puts the source's current token on every request.
#[derive(Clone)]
pub struct BearerLayer {
    source: Arc<TokenSource>,
}

impl BearerLayer {
    /// A layer over `source`.
    pub fn new(source: Arc<TokenSource>) -> Self {
        Self { source }
    }
}

impl<S> tower::Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            source: self.source.clone(),
        }
    }
}

/// The service [`BearerLayer`] makes.
pub struct Bearer<S> {
    inner: S,
    source: Arc<TokenSource>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<http::Request<B>> for Bearer<S>
where
    S: tower::Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let header = self.source.bearer().map_err(BoxError::from).and_then(|token| {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
            // Keeps the token out of any debug output of the request.
            value.set_sensitive(true);
            Ok(value)
        });
        match header {
            Ok(value) => {
                request.headers_mut().insert(AUTHORIZATION, value);
                let response = self.inner.call(request);
                Box::pin(async move { response.await.map_err(Into::into) })
            }
            Err(e) => Box::pin(futures::future::ready(Err(e))),
        }
    }
}

/// Where a cluster is and whom to trust there.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The API server's URL.
    pub url: http::Uri,
    /// The cluster's certificate authority, DER-encoded.
    pub root_certificates: Vec<Vec<u8>>,
}

/// The endpoint and certificate authority of an ACTIVE cluster.
pub(crate) async fn describe_cluster(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    region: &str,
) -> Result<Endpoint, EksError> {
    let out = eks.describe_cluster().name(cluster).send().await.map_err(|e| {
        let (cluster, region) = (cluster.to_string(), region.to_string());
        match e.as_service_error() {
            Some(s) if s.is_resource_not_found_exception() => EksError::ClusterNotFound { cluster, region },
            Some(s) if s.code().is_some_and(|c| c.contains("AccessDenied")) => EksError::DescribeDenied {
                cluster,
                region,
                detail: DisplayErrorContext(&e).to_string(),
            },
            _ => EksError::Describe {
                cluster,
                region,
                detail: DisplayErrorContext(&e).to_string(),
            },
        }
    })?;
    let incomplete = |what: &str| EksError::Incomplete {
        cluster: cluster.into(),
        region: region.into(),
        what: what.into(),
    };
    let found = out.cluster().ok_or_else(|| incomplete("no description"))?;
    match found.status() {
        Some(ClusterStatus::Active) => {}
        other => {
            return Err(EksError::NotActive {
                cluster: cluster.into(),
                region: region.into(),
                status: other
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "of unknown status".into()),
            });
        }
    }
    let url = found
        .endpoint()
        .ok_or_else(|| incomplete("no endpoint"))?
        .parse::<http::Uri>()
        .map_err(|_| incomplete("an endpoint that is not a URL"))?;
    let pem = found
        .certificate_authority()
        .and_then(|ca| ca.data())
        .ok_or_else(|| incomplete("no certificate authority"))?;
    let pem = std_base64::decode(pem).map_err(|_| incomplete("a certificate authority that is not base64"))?;
    let root_certificates = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| incomplete("a certificate authority that is not PEM"))?;
    if root_certificates.is_empty() {
        return Err(incomplete("an empty certificate authority"));
    }
    Ok(Endpoint { url, root_certificates })
}

/// Credentials of `role`, assumed with the caller's credentials.
pub async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role: &ClusterRole,
    cluster: &str,
) -> Result<Credentials, EksError> {
    let failed = |detail: String| EksError::AssumeRole {
        role_arn: role.arn.clone(),
        cluster: cluster.into(),
        detail,
    };
    let out = sts
        .assume_role()
        .role_arn(&role.arn)
        // The session name shows in the cluster's audit log and CloudTrail as who acted.
        .role_session_name(format!("lifeboat-{}", cluster.chars().take(50).collect::<String>()))
        .set_external_id(role.external_id.clone())
        .send()
        .await
        .map_err(|e| failed(DisplayErrorContext(&e).to_string()))?;
    let c = out
        .credentials()
        .ok_or_else(|| failed("STS returned no credentials".into()))?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        SystemTime::try_from(*c.expiration()).ok(),
        "lifeboat-assume-role",
    ))
}

/// Reaching clusters through EKS with the function's AWS configuration.
#[derive(Clone)]
pub struct EksAccess {
    /// The function's AWS configuration.
    pub sdk: aws_config::SdkConfig,
    /// When a new token is signed.
    pub refresh_after: Duration,
    /// The clock tokens are dated by.
    pub clock: Clock,
}

impl std::fmt::Debug for EksAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksAccess")
            .field("refresh_after", &self.refresh_after)
            .finish_non_exhaustive()
    }
}

impl EksAccess {
    /// EKS access with the default refresh interval and the system clock.
    pub fn new(sdk: aws_config::SdkConfig) -> Self {
        Self {
            sdk,
            refresh_after: DEFAULT_REFRESH_AFTER,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// The credentials that sign tokens and describe the cluster: the function's own,
    /// or those of the infrastructure's role.
    pub async fn credentials(
        &self,
        cluster: &str,
        region: &str,
        role: Option<&ClusterRole>,
    ) -> Result<Credentials, EksError> {
        match role {
            Some(role) => {
                let sts = aws_sdk_sts::config::Builder::from(&self.sdk)
                    .region(aws_config::Region::new(region.to_string()))
                    .build();
                assume_role(&aws_sdk_sts::Client::from_conf(sts), role, cluster).await
            }
            None => {
                let provider = self
                    .sdk
                    .credentials_provider()
                    .ok_or_else(|| EksError::Credentials("none are configured".into()))?;
                provider
                    .provide_credentials()
                    .await
                    .map_err(|e| EksError::Credentials(DisplayErrorContext(&e).to_string()))
            }
        }
    }

    /// Describes the cluster and builds its configuration, and the source of the
    /// tokens every request of the client will carry.
    pub async fn connect(
        &self,
        cluster: &str,
        region: &str,
        role: Option<&ClusterRole>,
    ) -> Result<(kube::Config, Arc<TokenSource>), EksError> {
        let credentials = self.credentials(cluster, region, role).await?;
        let eks = aws_sdk_eks::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(credentials.clone())
            .build();
        let endpoint = describe_cluster(&aws_sdk_eks::Client::from_conf(eks), cluster, region).await?;
        let mut config = kube::Config::new(endpoint.url);
        config.root_cert = Some(endpoint.root_certificates);
        let source = TokenSource::new(credentials, cluster, region, self.refresh_after, self.clock.clone());
        // Fails here, not on the first request, if the credentials cannot sign.
        source.bearer()?;
        Ok((config, Arc::new(source)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eks::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
    use aws_sdk_eks::types::{Certificate, Cluster};
    use aws_smithy_mocks::{mock, mock_client};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "test",
        )
    }

    fn decoded(token: &str) -> url_parts::Parts {
        let url = String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(token.strip_prefix(TOKEN_PREFIX).expect("prefix"))
                .unwrap(),
        )
        .unwrap();
        url_parts::Parts::parse(&url)
    }

    /// Just enough URL parsing for the assertions, kept apart from the code under test.
    mod url_parts {
        pub struct Parts {
            pub base: String,
            pub query: Vec<(String, String)>,
        }
        impl Parts {
            pub fn parse(url: &str) -> Self {
                let (base, query) = url.split_once('?').expect("a query");
                let query = query
                    .split('&')
                    .map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .expect("k=v")
                    })
                    .collect();
                Self {
                    base: base.into(),
                    query,
                }
            }
            pub fn get(&self, key: &str) -> Option<&str> {
                self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
            }
        }
    }

    #[test]
    fn a_token_is_a_presigned_regional_get_caller_identity_bound_to_the_cluster() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let token = presigned_token(&credentials(Some("session-token/+=")), "prod-eks", "eu-west-1", at).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(
            !token.contains('=') && !token.contains('+') && !token.contains('/'),
            "unpadded base64url: {token}"
        );
        let url = decoded(&token);
        assert_eq!(url.base, "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(url.get("Action"), Some("GetCallerIdentity"));
        assert_eq!(url.get("Version"), Some("2011-06-15"));
        assert_eq!(url.get("X-Amz-Algorithm"), Some("AWS4-HMAC-SHA256"));
        assert_eq!(url.get("X-Amz-Expires"), Some("60"));
        assert_eq!(url.get("X-Amz-SignedHeaders"), Some("host%3Bx-k8s-aws-id"));
        assert_eq!(url.get("X-Amz-Security-Token"), Some("session-token%2F%2B%3D"));
        assert!(
            url.get("X-Amz-Credential")
                .unwrap()
                .contains("%2Feu-west-1%2Fsts%2Faws4_request")
        );
        assert_eq!(url.get("X-Amz-Signature").map(str::len), Some(64));
    }

    #[test]
    fn the_signature_depends_on_the_cluster_and_the_time() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let sig = |cluster: &str, at| {
            decoded(&presigned_token(&credentials(None), cluster, "us-east-1", at).unwrap())
                .get("X-Amz-Signature")
                .unwrap()
                .to_string()
        };
        assert_eq!(sig("a", at), sig("a", at));
        assert_ne!(sig("a", at), sig("b", at));
        assert_ne!(sig("a", at), sig("a", at + Duration::from_secs(1)));
    }

    #[test]
    fn the_source_signs_a_new_token_once_the_current_one_is_due() {
        let now = Arc::new(AtomicU64::new(1_795_000_000));
        let clock_now = now.clone();
        let clock: Clock =
            Arc::new(move || SystemTime::UNIX_EPOCH + Duration::from_secs(clock_now.load(Ordering::SeqCst)));
        let source = TokenSource::new(credentials(None), "c", "us-east-1", Duration::from_secs(600), clock);
        let first = source.bearer().unwrap();
        now.fetch_add(599, Ordering::SeqCst);
        assert_eq!(source.bearer().unwrap(), first, "reused while fresh");
        now.fetch_add(1, Ordering::SeqCst);
        let second = source.bearer().unwrap();
        assert_ne!(second, first, "re-signed once due");
        now.fetch_sub(100, Ordering::SeqCst);
        assert_ne!(
            source.bearer().unwrap(),
            second,
            "a clock that went back re-signs rather than trusting the cache"
        );
    }

    fn active(endpoint: &str, ca_pem: &str) -> DescribeClusterOutput {
        DescribeClusterOutput::builder()
            .cluster(
                Cluster::builder()
                    .name("prod-eks")
                    .status(ClusterStatus::Active)
                    .endpoint(endpoint)
                    .certificate_authority(Certificate::builder().data(std_base64::encode(ca_pem)).build())
                    .build(),
            )
            .build()
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBfTCCASOgAwIBAgIUTESTTESTTESTTESTTESTTESTTESTTEswCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n";

    #[tokio::test]
    async fn describe_gives_the_endpoint_and_the_certificate_authority() {
        let rule = mock!(aws_sdk_eks::Client::describe_cluster)
            .match_requests(|r| r.name() == Some("prod-eks"))
            .then_output(|| active("https://abc.gr7.us-east-1.eks.amazonaws.com", CA));
        let eks = mock_client!(aws_sdk_eks, [&rule]);
        let endpoint = describe_cluster(&eks, "prod-eks", "us-east-1").await.unwrap();
        assert_eq!(endpoint.url.host(), Some("abc.gr7.us-east-1.eks.amazonaws.com"));
        assert_eq!(endpoint.root_certificates.len(), 1);
    }

    #[tokio::test]
    async fn describe_names_the_cluster_and_region_in_each_failure() {
        let missing = mock!(aws_sdk_eks::Client::describe_cluster).then_error(|| {
            DescribeClusterError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder()
                    .message("no")
                    .build(),
            )
        });
        let denied = mock!(aws_sdk_eks::Client::describe_cluster).then_http_response(|| {
            http::Response::builder()
                .status(403)
                .header("x-amzn-errortype", "AccessDeniedException")
                .body(aws_smithy_types::body::SdkBody::from(
                    r#"{"message":"not authorized to perform eks:DescribeCluster"}"#,
                ))
                .unwrap()
                .try_into()
                .unwrap()
        });
        let creating = mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| {
            DescribeClusterOutput::builder()
                .cluster(
                    Cluster::builder()
                        .name("prod-eks")
                        .status(ClusterStatus::Creating)
                        .build(),
                )
                .build()
        });
        let no_ca = mock!(aws_sdk_eks::Client::describe_cluster)
            .then_output(|| active("https://x.example", "not a certificate"));

        let err = describe_cluster(&mock_client!(aws_sdk_eks, [&missing]), "prod-eks", "us-east-1")
            .await
            .unwrap_err();
        assert!(matches!(err, EksError::ClusterNotFound { .. }), "{err}");
        let err = describe_cluster(&mock_client!(aws_sdk_eks, [&denied]), "prod-eks", "us-east-1")
            .await
            .unwrap_err();
        assert!(matches!(err, EksError::DescribeDenied { .. }), "{err:?}");
        let err = describe_cluster(&mock_client!(aws_sdk_eks, [&creating]), "prod-eks", "us-east-1")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EksError::NotActive { status, .. } if status == "CREATING"),
            "{err}"
        );
        let err = describe_cluster(&mock_client!(aws_sdk_eks, [&no_ca]), "prod-eks", "us-east-1")
            .await
            .unwrap_err();
        assert!(matches!(err, EksError::Incomplete { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("prod-eks") && message.contains("us-east-1"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_cross_account_role_is_assumed_with_its_external_id() {
        use aws_sdk_sts::operation::assume_role::AssumeRoleOutput;
        let rule = mock!(aws_sdk_sts::Client::assume_role)
            .match_requests(|r| {
                r.role_arn() == Some("arn:aws:iam::210987654321:role/lifeboat") && r.external_id() == Some("fleet-7")
            })
            .then_output(|| {
                AssumeRoleOutput::builder()
                    .credentials(
                        aws_sdk_sts::types::Credentials::builder()
                            .access_key_id("ASIAOTHER")
                            .secret_access_key("secret")
                            .session_token("token")
                            .expiration(aws_smithy_types::DateTime::from_secs(1_900_000_000))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        // What STS says when the trust policy's external ID condition is not met.
        let refused = mock!(aws_sdk_sts::Client::assume_role).match_requests(|r| r.external_id().is_none()).then_http_response(|| {
            http::Response::builder()
                .status(403)
                .body(aws_smithy_types::body::SdkBody::from(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>",
                ))
                .unwrap()
                .try_into()
                .unwrap()
        });
        let sts = mock_client!(aws_sdk_sts, aws_smithy_mocks::RuleMode::MatchAny, [&rule, &refused]);
        let role = ClusterRole {
            arn: "arn:aws:iam::210987654321:role/lifeboat".into(),
            external_id: Some("fleet-7".into()),
        };
        let creds = assume_role(&sts, &role, "prod-eks").await.unwrap();
        assert_eq!(
            (creds.access_key_id(), creds.session_token()),
            ("ASIAOTHER", Some("token"))
        );
        assert_eq!(rule.num_calls(), 1);

        let wrong = ClusterRole {
            external_id: None,
            ..role
        };
        let err = assume_role(&sts, &wrong, "prod-eks").await.unwrap_err().to_string();
        assert!(
            err.contains("210987654321:role/lifeboat") && err.contains("AccessDenied"),
            "{err}"
        );
        assert_eq!(refused.num_calls(), 1);
    }
}
