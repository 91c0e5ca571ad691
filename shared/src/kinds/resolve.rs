//! Kind names of a backup setting resolved through the cluster's discovery.
//!
//! Every served version of every group counts, not only the group's preferred one: a kind
//! may be served only in another version (CronJob was `batch/v1beta1` while `batch`
//! preferred `v1`). Within a group, the kind is read at the group's preferred version when
//! that version serves it, otherwise at the most stable and newest version that does, as
//! kubectl chooses. When several groups serve a kind of the same name, the core group
//! wins (`Event` is core `v1`, not `events.k8s.io`); otherwise the group whose version is
//! the most stable (`Ingress` is `networking.k8s.io/v1`, not `extensions/v1beta1`), and
//! between equals the one the API server lists first. `Kind.group` picks the group.

use futures::{StreamExt, stream};
use kube::Client;
use kube::core::{GroupVersion, Version};
use kube::discovery::{self, ApiCapabilities, Scope, verbs};

use super::{KindsError, ResolvedKind, split_kind_name};

/// Group versions read at once during discovery.
const DISCOVERY_CONCURRENCY: usize = 8;

/// One version of one group, as the cluster serves it.
#[derive(Debug, Clone)]
struct ServedVersion {
    version: String,
    kinds: Vec<(ResolvedKind, ApiCapabilities)>,
}

/// One group, its versions in the server's order.
#[derive(Debug, Clone)]
struct ServedGroup {
    name: String,
    preferred: Option<String>,
    versions: Vec<ServedVersion>,
}

impl ServedGroup {
    /// The kind in this group at the version it is read at, if the group serves it.
    fn find(&self, kind: &str) -> Option<&(ResolvedKind, ApiCapabilities)> {
        fn at<'v>(v: &'v ServedVersion, kind: &str) -> Option<&'v (ResolvedKind, ApiCapabilities)> {
            v.kinds.iter().find(|(k, _)| k.kind == kind)
        }
        let preferred = self
            .versions
            .iter()
            .filter(|v| Some(&v.version) == self.preferred.as_ref())
            .find_map(|v| at(v, kind));
        preferred.or_else(|| {
            self.versions
                .iter()
                .filter_map(|v| at(v, kind).map(|found| (Version::parse(&v.version).priority(), found)))
                .max_by(|(a, _), (b, _)| a.cmp(b))
                .map(|(_, found)| found)
        })
    }
}

/// Runs discovery once against a cluster, then resolves kind names from it.
pub struct KindResolver {
    /// The core group first, then the others in the order the API server lists them.
    groups: Vec<ServedGroup>,
    /// Group versions that did not answer.
    unanswered: Vec<String>,
    cluster: String,
}

impl KindResolver {
    /// Discovers enough of what the cluster serves to resolve `wanted`: the core group
    /// first, and the named groups only where a wanted kind is not core or names a group,
    /// each at every version it serves, several at once. A backup of Secrets and
    /// ConfigMaps so costs one round trip before it can list anything.
    pub async fn discover(client: Client, cluster: &str, wanted: &[String]) -> Result<Self, KindsError> {
        let failed = |source| KindsError::Discovery {
            cluster: cluster.into(),
            source,
        };
        let core = ServedGroup {
            name: String::new(),
            preferred: Some("v1".into()),
            versions: vec![served_version(&client, "", "v1").await.map_err(failed)?],
        };
        let names: Vec<(&str, Option<&str>)> = wanted.iter().filter_map(|w| split_kind_name(w)).collect();
        let in_core = |kind: &str| core.find(kind).is_some();
        let needs_all = names.iter().any(|(kind, group)| group.is_none() && !in_core(kind));
        let named: Vec<&str> = names.iter().filter_map(|(_, group)| *group).collect();
        let mut resolver = Self {
            groups: vec![core],
            unanswered: Vec::new(),
            cluster: cluster.into(),
        };
        if !needs_all && named.is_empty() {
            return Ok(resolver);
        }

        let list = client.list_api_groups().await.map_err(failed)?;
        let wanted_groups: Vec<_> = list
            .groups
            .into_iter()
            .filter(|g| needs_all || named.contains(&g.name.as_str()))
            .collect();
        let pairs: Vec<(usize, String)> = wanted_groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.versions.iter().map(move |v| (i, v.version.clone())))
            .collect();
        let answers: Vec<(usize, String, kube::Result<ServedVersion>)> = stream::iter(pairs)
            .map(|(i, version)| {
                let (client, group) = (&client, wanted_groups[i].name.clone());
                async move {
                    let answer = served_version(client, &group, &version).await;
                    (i, version, answer)
                }
            })
            .buffered(DISCOVERY_CONCURRENCY)
            .collect()
            .await;
        let mut groups: Vec<ServedGroup> = wanted_groups
            .iter()
            .map(|g| ServedGroup {
                name: g.name.clone(),
                preferred: g.preferred_version.as_ref().map(|p| p.version.clone()),
                versions: Vec::new(),
            })
            .collect();
        for (i, version, answer) in answers {
            match answer {
                Ok(served) => groups[i].versions.push(served),
                Err(_) => resolver.unanswered.push(format!("{}/{version}", groups[i].name)),
            }
        }
        resolver.groups.extend(groups);
        Ok(resolver)
    }

    /// Resolves one kind name, `Kind` or `Kind.group` (see the module's rules).
    pub fn resolve(&self, name: &str) -> Result<ResolvedKind, KindsError> {
        let unknown = || KindsError::Unknown {
            kind: name.into(),
            cluster: self.cluster.clone(),
        };
        let (kind, group) = split_kind_name(name).ok_or_else(unknown)?;
        let Some((resolved, caps)) = choose(&self.groups, kind, group) else {
            if self.unanswered.is_empty() {
                return Err(unknown());
            }
            return Err(KindsError::Unanswered {
                kind: name.into(),
                cluster: self.cluster.clone(),
                groups: self.unanswered.join(", "),
            });
        };
        if !caps.supports_operation(verbs::LIST) {
            return Err(KindsError::NotListable {
                kind: name.into(),
                cluster: self.cluster.clone(),
            });
        }
        Ok(resolved.clone())
    }

    /// Resolves every name, failing on the first the cluster does not serve.
    pub fn resolve_all(&self, kinds: &[String]) -> Result<Vec<ResolvedKind>, KindsError> {
        kinds.iter().map(|k| self.resolve(k)).collect()
    }
}

/// The kind `kind` (of `group`, when given) among `groups`, by the module's rules.
fn choose<'g>(
    groups: &'g [ServedGroup],
    kind: &str,
    group: Option<&str>,
) -> Option<&'g (ResolvedKind, ApiCapabilities)> {
    let mut found = groups
        .iter()
        .filter(|g| group.is_none_or(|wanted| g.name == wanted))
        .filter_map(|g| g.find(kind));
    let first = found.next()?;
    if first.0.group.is_empty() {
        return Some(first);
    }
    // The most stable version wins; `max_by` would keep the last of equals, so the
    // comparison keeps the earlier one, as the server lists it.
    Some(found.fold(first, |best, next| {
        if Version::parse(&next.0.version).priority() > Version::parse(&best.0.version).priority() {
            next
        } else {
            best
        }
    }))
}

/// What one group version serves.
async fn served_version(client: &Client, group: &str, version: &str) -> kube::Result<ServedVersion> {
    let served = discovery::pinned_group(client, &GroupVersion::gv(group, version)).await?;
    Ok(ServedVersion {
        version: version.into(),
        kinds: served
            .versioned_resources(version)
            .into_iter()
            .map(|(ar, caps)| {
                let namespaced = matches!(caps.scope, Scope::Namespaced);
                (
                    ResolvedKind::new(&ar.group, &ar.version, &ar.kind, &ar.plural, namespaced),
                    caps,
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> ApiCapabilities {
        ApiCapabilities {
            scope: Scope::Namespaced,
            subresources: Vec::new(),
            operations: vec![verbs::LIST.to_string(), verbs::GET.to_string()],
        }
    }

    fn group(name: &str, preferred: &str, versions: &[(&str, &[&str])]) -> ServedGroup {
        ServedGroup {
            name: name.into(),
            preferred: Some(preferred.into()),
            versions: versions
                .iter()
                .map(|(version, kinds)| ServedVersion {
                    version: version.to_string(),
                    kinds: kinds
                        .iter()
                        .map(|k| (ResolvedKind::new(name, version, k, &k.to_lowercase(), true), caps()))
                        .collect(),
                })
                .collect(),
        }
    }

    /// What a 1.20 API server serves of the groups that matter here.
    fn cluster() -> Vec<ServedGroup> {
        vec![
            group("", "v1", &[("v1", &["Secret", "Event", "Service"])]),
            group("extensions", "v1beta1", &[("v1beta1", &["Ingress"])]),
            group("batch", "v1", &[("v1", &["Job"]), ("v1beta1", &["Job", "CronJob"])]),
            group(
                "networking.k8s.io",
                "v1",
                &[("v1", &["Ingress", "NetworkPolicy"]), ("v1beta1", &["Ingress"])],
            ),
            group("events.k8s.io", "v1", &[("v1", &["Event"]), ("v1beta1", &["Event"])]),
        ]
    }

    fn read_as(name: &str) -> Option<String> {
        let (kind, group) = split_kind_name(name)?;
        choose(&cluster(), kind, group).map(|(k, _)| k.api_version())
    }

    #[test]
    fn a_kind_served_only_outside_its_groups_preferred_version_is_found() {
        assert_eq!(read_as("CronJob").as_deref(), Some("batch/v1beta1"));
        assert_eq!(
            read_as("Job").as_deref(),
            Some("batch/v1"),
            "the preferred version wins"
        );
    }

    #[test]
    fn a_kind_in_two_groups_resolves_to_the_core_group_then_the_most_stable_one() {
        assert_eq!(read_as("Event").as_deref(), Some("v1"));
        assert_eq!(read_as("Ingress").as_deref(), Some("networking.k8s.io/v1"));
        assert_eq!(read_as("Ingress.extensions").as_deref(), Some("extensions/v1beta1"));
        assert_eq!(read_as("Event.events.k8s.io").as_deref(), Some("events.k8s.io/v1"));
        assert_eq!(read_as("Widget"), None);
        assert_eq!(read_as("Ingress.apps"), None);
    }

    #[test]
    fn between_equally_stable_groups_the_one_listed_first_wins() {
        let groups = vec![
            group("b.example.com", "v1", &[("v1", &["Widget"])]),
            group("a.example.com", "v1", &[("v1", &["Widget"])]),
        ];
        let (found, _) = choose(&groups, "Widget", None).unwrap();
        assert_eq!(found.group, "b.example.com");
    }
}
