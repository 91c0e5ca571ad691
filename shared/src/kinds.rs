//! Kind names, as the setting spells them, resolved through the cluster's API discovery
//! to the group, version, plural and scope that requests need.

use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::core::{ApiResource, GroupVersion, GroupVersionKind};
use kube::discovery::{self, ApiGroup, Scope, verbs};
use serde::{Deserialize, Serialize};

/// Why kinds could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum KindsError {
    /// The cluster serves no resource of this kind.
    #[error(
        "the cluster '{cluster}' serves no kind named '{kind}'; check the spelling (Kubernetes spells kinds like \"ConfigMap\") \
         and, for a custom resource, that its CustomResourceDefinition is installed"
    )]
    Unknown {
        /// The kind asked for.
        kind: String,
        /// The cluster asked.
        cluster: String,
    },
    /// The kind exists but cannot be listed, so it cannot be backed up.
    #[error(
        "the kind '{kind}' cannot be listed on cluster '{cluster}', so it cannot be backed up; remove it from K8sResourceKinds"
    )]
    NotListable {
        /// The kind asked for.
        kind: String,
        /// The cluster asked.
        cluster: String,
    },
    /// Discovery itself failed.
    #[error(
        "API discovery on cluster '{cluster}' failed: {source}; check that the function may reach the cluster and list its APIs"
    )]
    Discovery {
        /// The cluster asked.
        cluster: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// A kind with everything a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResolvedKind {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// The kind's name.
    pub kind: String,
    /// The resource's plural, as in its URL.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

impl ResolvedKind {
    /// A kind from its parts.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }

    /// The core Namespace kind, which every backup stores for each tenant.
    pub fn namespace() -> Self {
        Self::new("", "v1", "Namespace", "namespaces", false)
    }

    /// `v1` or `group/version`, as objects carry it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The folder name of this kind in a backup: the plural, qualified by a non-core group.
    pub fn resource_dir(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The dynamic API resource for kube requests.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&self.group, &self.version, &self.kind),
            &self.plural,
        )
    }
}

/// API groups read at once during discovery.
const DISCOVERY_CONCURRENCY: usize = 8;

/// Runs discovery once against a cluster, then resolves kind names from it.
pub struct KindResolver {
    /// The core group first, then the others by name: the order kinds are looked up in.
    groups: Vec<ApiGroup>,
    cluster: String,
}

impl KindResolver {
    /// Discovers enough of what the cluster serves to resolve `wanted`: the core group
    /// first, since it wins every lookup, and the named groups only if a wanted kind is
    /// not in it, each at its preferred version (the only one [`Self::resolve`] looks
    /// at) and several at once. A backup of Secrets and ConfigMaps so costs one round
    /// trip before it can list anything, not one per group of the cluster.
    pub async fn discover(client: Client, cluster: &str, wanted: &[String]) -> Result<Self, KindsError> {
        let failed = |source| KindsError::Discovery {
            cluster: cluster.into(),
            source,
        };
        let core_v1 = GroupVersion::gv(ApiGroup::CORE_GROUP, "v1");
        let core = discovery::pinned_group(&client, &core_v1).await.map_err(failed)?;
        if wanted.iter().all(|kind| core.recommended_kind(kind).is_some()) {
            return Ok(Self {
                groups: vec![core],
                cluster: cluster.into(),
            });
        }
        let named = client.list_api_groups().await.map_err(failed)?;
        let mut named: Vec<ApiGroup> = stream::iter(named.groups)
            .map(|group| {
                let client = &client;
                async move {
                    match group.preferred_version {
                        Some(preferred) => {
                            discovery::pinned_group(client, &GroupVersion::gv(&group.name, &preferred.version)).await
                        }
                        // Without a preferred version the group's latest is used, which
                        // takes reading all of them.
                        None => discovery::group(client, &group.name).await,
                    }
                }
            })
            .buffer_unordered(DISCOVERY_CONCURRENCY)
            .try_collect()
            .await
            .map_err(failed)?;
        named.sort_by(|a, b| a.name().cmp(b.name()));
        let mut groups = vec![core];
        groups.append(&mut named);
        Ok(Self {
            groups,
            cluster: cluster.into(),
        })
    }

    /// Resolves one kind name to the resource that serves it, at the group's preferred
    /// version. When several groups serve a kind of the same name (`Event` is served by
    /// the core group and by `events.k8s.io`), the core group wins, then the first group
    /// in alphabetical order, so the choice is stable from run to run.
    pub fn resolve(&self, kind: &str) -> Result<ResolvedKind, KindsError> {
        for group in &self.groups {
            if let Some((ar, caps)) = group.recommended_kind(kind) {
                if !caps.supports_operation(verbs::LIST) {
                    return Err(KindsError::NotListable {
                        kind: kind.into(),
                        cluster: self.cluster.clone(),
                    });
                }
                return Ok(ResolvedKind {
                    group: ar.group,
                    version: ar.version,
                    kind: ar.kind,
                    plural: ar.plural,
                    namespaced: matches!(caps.scope, Scope::Namespaced),
                });
            }
        }
        Err(KindsError::Unknown {
            kind: kind.into(),
            cluster: self.cluster.clone(),
        })
    }

    /// Resolves every name, failing on the first the cluster does not serve.
    pub fn resolve_all(&self, kinds: &[String]) -> Result<Vec<ResolvedKind>, KindsError> {
        kinds.iter().map(|k| self.resolve(k)).collect()
    }
}

/// The kinds a target cluster serves, looked up by the group, version and kind a
/// backup lists a file under. A restore takes nothing else from the backup about a
/// kind: its plural, scope and URL come from here.
pub struct ServedKinds {
    client: Client,
    cluster: String,
    /// What each group version serves, as last read. A kind not found is looked up
    /// again next time, as a definition the restore just created may serve it now.
    known: std::sync::Mutex<std::collections::HashMap<(String, String), Vec<ResolvedKind>>>,
}

impl ServedKinds {
    /// Lookups against `client`'s cluster.
    pub fn new(client: Client, cluster: &str) -> Self {
        Self {
            client,
            cluster: cluster.into(),
            known: Default::default(),
        }
    }

    /// The kind `kind` of `group` at `version`, if the cluster serves it there.
    pub async fn lookup(&self, group: &str, version: &str, kind: &str) -> Result<Option<ResolvedKind>, KindsError> {
        let key = (group.to_string(), version.to_string());
        let find = |kinds: &[ResolvedKind]| kinds.iter().find(|k| k.kind == kind).cloned();
        if let Some(found) = self
            .known
            .lock()
            .expect("never poisoned")
            .get(&key)
            .and_then(|k| find(k))
        {
            return Ok(Some(found));
        }
        let served = match discovery::pinned_group(&self.client, &GroupVersion::gv(group, version)).await {
            Ok(served) => served,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(source) => {
                return Err(KindsError::Discovery {
                    cluster: self.cluster.clone(),
                    source,
                });
            }
        };
        let kinds: Vec<ResolvedKind> = served
            .versioned_resources(version)
            .into_iter()
            .map(|(ar, caps)| ResolvedKind {
                group: ar.group,
                version: ar.version,
                kind: ar.kind,
                plural: ar.plural,
                namespaced: matches!(caps.scope, Scope::Namespaced),
            })
            .collect();
        let found = find(&kinds);
        self.known.lock().expect("never poisoned").insert(key, kinds);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_grouped_kinds_name_their_version_and_folder() {
        let secret = ResolvedKind::new("", "v1", "Secret", "secrets", true);
        let deploy = ResolvedKind::new("apps", "v1", "Deployment", "deployments", true);
        assert_eq!(
            (secret.api_version(), secret.resource_dir()),
            ("v1".to_string(), "secrets".to_string())
        );
        assert_eq!(
            (deploy.api_version(), deploy.resource_dir()),
            ("apps/v1".to_string(), "deployments.apps".to_string())
        );
        assert_eq!(deploy.api_resource().plural, "deployments");
    }
}
