//! The one seam through which a function reaches a cluster.
//!
//! Everything else takes a ready [`kube::Client`]; only this module knows how the
//! client's address and credentials are found, so another way in (EKS authentication)
//! is a new variant here and nothing else changes.

use std::path::PathBuf;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

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
    /// A kubeconfig file whose context for each cluster is named after the cluster.
    Kubeconfig {
        /// The file; `None` reads `KUBECONFIG` or `~/.kube/config`.
        path: Option<PathBuf>,
    },
}

impl ClusterAccess {
    /// The access the function's environment configures: the kubeconfig named by
    /// `KUBECONFIG` (or the default location).
    pub fn from_env() -> Self {
        ClusterAccess::Kubeconfig { path: None }
    }

    /// A client for `cluster` in `region`.
    pub async fn client(&self, cluster: &str, _region: &str) -> Result<Client, ClusterError> {
        match self {
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
                Client::try_from(config).map_err(|source| ClusterError::Client {
                    cluster: cluster.into(),
                    source,
                })
            }
        }
    }
}
