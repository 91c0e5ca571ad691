//! The one seam through which a function reaches a cluster.
//!
//! Everything else takes a ready [`kube::Client`]; only this module knows how the
//! client's address and credentials are found: through EKS with the function's IAM role
//! (production), or through a kubeconfig (development against any cluster).

use std::path::PathBuf;
use std::sync::Arc;

use kube::Client;
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};

use tower::buffer::BufferLayer;

use crate::config::AccessMode;
use crate::eks::{BearerLayer, ClusterRole, EksAccess, EksError, RefusalCause, TokenSource};

/// Requests queued for the client's connection pool; more than a run ever has in flight
/// (files listed at once, objects written at once).
const BUFFERED_REQUESTS: usize = 1024;

/// Why a cluster could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig could not be read.
    #[error("cannot read the kubeconfig {path}: {source}; set KUBECONFIG to a readable kubeconfig file")]
    Kubeconfig {
        /// Where it was looked for.
        path: String,
        /// The cause.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The kubeconfig has no context named after the cluster, or it is unusable.
    #[error(
        "the kubeconfig {path} has no usable context named '{cluster}': {source}; name the cluster's context after the cluster"
    )]
    Context {
        /// The kubeconfig.
        path: String,
        /// The cluster asked for.
        cluster: String,
        /// The cause.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// EKS could not describe the cluster or sign a token for it.
    #[error(transparent)]
    Eks(#[from] EksError),
    /// The API server refused the credentials.
    #[error("cluster '{cluster}' refused lifeboat's credentials (401 Unauthorized): {cause}")]
    Refused {
        /// The cluster.
        cluster: String,
        /// Why, as far as the function could find out.
        cause: RefusalCause,
    },
    /// The API server could not be reached.
    #[error(
        "cannot reach the API server of cluster '{cluster}': {source}; check the network path from the function to the cluster endpoint"
    )]
    Unreachable {
        /// The cluster.
        cluster: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// A request the whole run depends on failed.
    #[error("{what} on cluster '{cluster}' failed: {source}; check the role's permissions on the cluster")]
    Request {
        /// The cluster.
        cluster: String,
        /// What was asked.
        what: &'static str,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// The client could not be built from the configuration.
    #[error("cannot build a client for cluster '{cluster}': {source}")]
    Client {
        /// The cluster asked for.
        cluster: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// How the functions reach clusters.
#[derive(Debug, Clone)]
pub enum ClusterAccess {
    /// EKS: DescribeCluster and a token signed with the function's (or an assumed) role.
    Eks(Box<EksAccess>),
    /// A kubeconfig file whose context for each cluster is named after the cluster.
    Kubeconfig {
        /// The file; `None` reads `KUBECONFIG` or `~/.kube/config`.
        path: Option<PathBuf>,
    },
}

impl ClusterAccess {
    /// The access the configuration names: EKS with the function's role (and its token
    /// refresh interval), or the kubeconfig in `KUBECONFIG`.
    pub fn from_config(mode: AccessMode, sdk: &aws_config::SdkConfig) -> Self {
        match mode {
            AccessMode::Eks { refresh_after } => {
                let mut eks = EksAccess::new(sdk.clone());
                if let Some(after) = refresh_after {
                    eks.refresh_after = after;
                }
                ClusterAccess::Eks(Box::new(eks))
            }
            AccessMode::Kubeconfig => ClusterAccess::Kubeconfig { path: None },
        }
    }

    /// A client for `cluster` in `region`, checked to be accepted by the cluster, so a
    /// refused or unreachable cluster fails the run at once with an error that says so.
    pub async fn client(
        &self,
        cluster: &str,
        region: &str,
        role: Option<&ClusterRole>,
    ) -> Result<Client, ClusterError> {
        let (client, tokens) = self.unchecked_client(cluster, region, role).await?;
        match client.list_core_api_versions().await {
            Ok(_) => Ok(client),
            Err(kube::Error::Api(status)) if status.code == 401 => {
                let cause = match (self, tokens) {
                    (ClusterAccess::Eks(eks), Some(tokens)) => eks.diagnose(&client, &tokens).await,
                    _ => RefusalCause::Kubeconfig,
                };
                Err(ClusterError::Refused {
                    cluster: cluster.into(),
                    cause,
                })
            }
            Err(source) => Err(ClusterError::Unreachable {
                cluster: cluster.into(),
                source,
            }),
        }
    }

    async fn unchecked_client(
        &self,
        cluster: &str,
        region: &str,
        role: Option<&ClusterRole>,
    ) -> Result<(Client, Option<Arc<TokenSource>>), ClusterError> {
        match self {
            ClusterAccess::Eks(eks) => {
                let (config, tokens) = eks.connect(cluster, region, role).await?;
                let builder = ClientBuilder::try_from(without_default_retry(config))
                    .map_err(|source| ClusterError::Client {
                        cluster: cluster.into(),
                        source,
                    })?
                    .with_layer(&BearerLayer::new(tokens.clone()));
                // A retry resends a request, so it needs a service it can clone, which the
                // buffer makes; it sits outside the token layer so each try carries the
                // token current then.
                let client = builder
                    .with_layer(&BufferLayer::new(BUFFERED_REQUESTS))
                    .with_layer(&crate::retry::layer())
                    .build();
                Ok((client, Some(tokens)))
            }
            ClusterAccess::Kubeconfig { path } => {
                let shown = path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "from KUBECONFIG".into());
                let kubeconfig = match path {
                    Some(p) => Kubeconfig::read_from(p),
                    None => Kubeconfig::read(),
                }
                .map_err(|source| ClusterError::Kubeconfig {
                    path: shown.clone(),
                    source,
                })?;
                let options = KubeConfigOptions {
                    context: Some(cluster.into()),
                    ..Default::default()
                };
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|source| ClusterError::Context {
                        path: shown,
                        cluster: cluster.into(),
                        source,
                    })?;
                let builder =
                    ClientBuilder::try_from(without_default_retry(config)).map_err(|source| ClusterError::Client {
                        cluster: cluster.into(),
                        source,
                    })?;
                let client = builder
                    .with_layer(&BufferLayer::new(BUFFERED_REQUESTS))
                    .with_layer(&crate::retry::layer())
                    .build();
                Ok((client, None))
            }
        }
    }
}

/// Turns kube's own retry off: [`crate::retry`] replaces it.
fn without_default_retry(mut config: kube::Config) -> kube::Config {
    config.default_retry = false;
    config
}
