//! The kinds a restore's target cluster serves, looked up by the exact group, version and
//! kind a backup lists a file under.

use kube::Client;
use kube::core::GroupVersion;
use kube::discovery::{self, Scope};

use super::{KindsError, ResolvedKind};

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
