//! `diff`: a backup against the live cluster or another backup, object by object
//! (added, removed, changed) with the paths of the fields that changed.
//!
//! Live objects are read as a backup would store them now (`write_stored`, with the
//! backup's kinds for the owner rules), so that an object nobody touched compares equal
//! and what a backup leaves out is not reported as added. Kinds are looked up again in
//! the live cluster's discovery from the `apiVersion` and kind each file is listed as:
//! the manifest says what to compare, never which resource to read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::changes::{FieldChange, Showing, changes, is_concealed};
use super::{Catalog, FILES_AT_ONCE, Fingerprints};
use crate::Result;
use crate::event::{Against, BackupSelector, CatalogRequest, Query};
use crate::kinds::{ResolvedKind, ServedKinds};
use crate::layout::RunLayout;
use crate::list_file::{Page, list_page_text};
use crate::manifest::{self, Manifest, ManifestFile};
use crate::object::{Listed, write_stored};
use crate::store::Store;

/// Object differences an answer lists; the counts cover them all.
const LISTED: usize = 1000;

/// Objects asked for per LIST page of the live cluster.
const PAGE_SIZE: u32 = 500;

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ObjectChange {
    /// Only in what the backup is compared with (the live cluster, or the other backup).
    Added,
    /// Only in the backup: a restore would create it.
    Removed,
    /// In both, with different content.
    Changed,
}

/// One object that differs.
#[derive(Debug, Serialize)]
pub(crate) struct ObjectDiff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub kind: String,
    pub name: String,
    pub change: ObjectChange,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// How many objects of each outcome.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Counts {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
}

/// The answer to `diff`.
#[derive(Debug, Serialize)]
pub(crate) struct DiffAnswer {
    pub action: &'static str,
    pub infrastructure: String,
    pub bucket: String,
    /// The run path of the backup compared.
    pub backup: String,
    /// `live` or the other backup's run path.
    pub against: String,
    /// The live cluster read, for a diff against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub counts: Counts,
    pub objects: Vec<ObjectDiff>,
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_not_listed: u64,
    /// Whether concealed values carry keyed fingerprints.
    pub fingerprints: bool,
    /// Files or kinds that could not be compared, and why.
    pub errors: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where the other side's objects come from.
enum Other {
    Backup(RunLayout, Manifest),
    Live {
        served: ServedKinds,
        client: kube::Client,
        cluster: String,
    },
}

/// One file of the backup and what to compare it with.
struct Pair<'m> {
    ours: Option<&'m ManifestFile>,
    theirs: Option<&'m ManifestFile>,
}

/// Compares the backup the request names with what it names.
pub(crate) async fn diff(
    catalog: &Catalog,
    store: &Store,
    request: &CatalogRequest,
    fingerprints: &Fingerprints,
    now: DateTime<Utc>,
) -> Result<DiffAnswer> {
    let Query::Diff {
        backup,
        against,
        tenants,
        kinds,
        conceal_configmaps,
    } = &request.query
    else {
        unreachable!("diff answers diff requests only")
    };
    let infrastructure = &request.infrastructure;
    let (layout, manifest) = manifest::find(store, infrastructure, backup, now).await?;
    let wanted = |file: &ManifestFile| {
        let tenant_ok = match (&file.namespace, tenants) {
            (_, None) | (None, _) => true,
            (Some(ns), Some(list)) => list.contains(ns),
        };
        tenant_ok && file.is_taken_by(kinds.as_deref())
    };
    let (other, cluster) = match against {
        Against::Backup(path) => {
            let found = manifest::find(store, infrastructure, &BackupSelector::Run(path.clone()), now).await?;
            (Other::Backup(found.0, found.1), None)
        }
        Against::Live(live) => {
            let cluster = live.cluster.clone().unwrap_or_else(|| manifest.cluster.clone());
            let region = live.region.clone().unwrap_or_else(|| manifest.region.clone());
            catalog.allowed.check("cluster", &cluster)?;
            catalog.allowed.check("region", &region)?;
            let client = catalog.cluster.client(&cluster, &region, live.role.as_ref()).await?;
            let served = ServedKinds::new(client.clone(), &cluster);
            let named = Some(cluster.clone());
            (
                Other::Live {
                    served,
                    client,
                    cluster,
                },
                named,
            )
        }
    };
    let pairs = pairs(&manifest, &other, &wanted);
    let show = |file: &ManifestFile| is_concealed(&file.kind, *conceal_configmaps);
    let (other, layout, manifest) = (&other, &layout, &manifest);
    let compared: Vec<std::result::Result<Vec<(ObjectDiff, bool)>, String>> = stream::iter(pairs)
        .map(|pair| async move {
            let file = pair.ours.or(pair.theirs).expect("a pair holds a file");
            let ours: Vec<Value> = match pair.ours {
                Some(f) => read(store, layout, f).await?,
                None => Vec::new(),
            };
            let theirs = match (other, pair.theirs) {
                (Other::Backup(layout, _), Some(f)) => read(store, layout, f).await?,
                (Other::Backup(..), None) => Vec::new(),
                (
                    Other::Live {
                        served,
                        client,
                        cluster,
                    },
                    _,
                ) => live(served, client, cluster, file, &manifest.kinds, &ours).await?,
            };
            let (mut ours, mut theirs) = (ours, theirs);
            // The tenants' Namespaces share one file: a tenant filter takes theirs only.
            if let Some(tenants) = tenants
                && file.namespace.is_none()
                && file.kind == "Namespace"
            {
                let taken = |o: &Value| crate::object::name(o).is_some_and(|n| tenants.iter().any(|t| t == n));
                ours.retain(taken);
                theirs.retain(taken);
            }
            let showing = Showing {
                concealed: show(file),
                fingerprints,
            };
            Ok(compare(file, ours, theirs, &showing, *conceal_configmaps))
        })
        .buffered(FILES_AT_ONCE)
        .collect()
        .await;
    let mut answer = DiffAnswer {
        action: "diff",
        infrastructure: infrastructure.clone(),
        bucket: request.bucket.clone(),
        backup: manifest.run_path.clone(),
        against: match against {
            Against::Live(_) => "live".into(),
            Against::Backup(path) => path.clone(),
        },
        cluster,
        counts: Counts::default(),
        objects: Vec::new(),
        objects_not_listed: 0,
        fingerprints: fingerprints.enabled(),
        errors: Vec::new(),
    };
    for result in compared {
        match result {
            Ok(objects) => {
                for (object, differs) in objects {
                    if !differs {
                        answer.counts.unchanged += 1;
                        continue;
                    }
                    match object.change {
                        ObjectChange::Added => answer.counts.added += 1,
                        ObjectChange::Removed => answer.counts.removed += 1,
                        ObjectChange::Changed => answer.counts.changed += 1,
                    }
                    if answer.objects.len() < LISTED {
                        answer.objects.push(object);
                    } else {
                        answer.objects_not_listed += 1;
                    }
                }
            }
            Err(problem) => answer.errors.push(problem),
        }
    }
    Ok(answer)
}

/// The files to compare: each of the backup's wanted files with the other backup's file
/// of the same kind and tenant, and the other backup's files that the backup lacks.
fn pairs<'m>(ours: &'m Manifest, other: &'m Other, wanted: &dyn Fn(&ManifestFile) -> bool) -> Vec<Pair<'m>> {
    let key = |f: &ManifestFile| (f.api_version.clone(), f.kind.clone(), f.namespace.clone());
    let theirs: BTreeMap<_, &ManifestFile> = match other {
        Other::Backup(_, manifest) => manifest
            .files
            .iter()
            .filter(|f| wanted(f))
            .map(|f| (key(f), f))
            .collect(),
        Other::Live { .. } => BTreeMap::new(),
    };
    let mut pairs: Vec<Pair> = ours
        .files
        .iter()
        .filter(|f| wanted(f))
        .map(|f| Pair {
            ours: Some(f),
            theirs: theirs.get(&key(f)).copied(),
        })
        .collect();
    for (k, f) in &theirs {
        if !ours.files.iter().any(|o| wanted(o) && &key(o) == k) {
            pairs.push(Pair {
                ours: None,
                theirs: Some(f),
            });
        }
    }
    pairs
}

async fn read(store: &Store, layout: &RunLayout, file: &ManifestFile) -> std::result::Result<Vec<Value>, String> {
    manifest::read_file(store, layout, file)
        .await
        .map_err(|e| e.to_string())
}

/// The live objects of the file's kind and tenant, as a backup would store them now. For
/// the tenants' Namespaces, only those the backup holds.
async fn live(
    served: &ServedKinds,
    client: &kube::Client,
    cluster: &str,
    file: &ManifestFile,
    backed_up: &[ResolvedKind],
    ours: &[Value],
) -> std::result::Result<Vec<Value>, String> {
    let version = file
        .api_version
        .rsplit_once('/')
        .map_or(file.api_version.as_str(), |(_, v)| v);
    let kind = served
        .lookup(file.group(), version, &file.kind)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "cluster '{cluster}' does not serve {} {}; the {} objects of {} were not compared",
                file.api_version,
                file.kind,
                file.objects.len(),
                file.key
            )
        })?;
    if file.namespace.is_some() != kind.namespaced {
        return Err(format!(
            "{} lists {} {} in a {} file, but cluster '{cluster}' serves it {}; not compared",
            file.key,
            file.api_version,
            file.kind,
            if file.namespace.is_some() {
                "tenant's"
            } else {
                "cluster-wide"
            },
            if kind.namespaced {
                "namespaced"
            } else {
                "cluster-scoped"
            },
        ));
    }
    let only: Option<Vec<&str>> =
        (kind == ResolvedKind::namespace()).then(|| ours.iter().filter_map(crate::object::name).collect());
    let mut objects = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let text = list_page_text(client, &kind, file.namespace.as_deref(), PAGE_SIZE, token.as_deref())
            .await
            .map_err(|e| format!("cannot list {} in cluster '{cluster}': {e}", kind.resource_dir()))?;
        let page: Page<&RawValue> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        for raw in page.items {
            let mut stored = Vec::new();
            if let Ok(Listed::Written(name)) = write_stored(&kind, raw, backed_up, &mut stored)
                && only.as_ref().is_none_or(|names| names.contains(&name.as_str()))
                && let Ok(object) = serde_json::from_slice(&stored)
            {
                objects.push(object);
            }
        }
        match page.metadata.next() {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok(objects)
}

/// Each object of either side, by name, and whether it differs.
fn compare(
    file: &ManifestFile,
    ours: Vec<Value>,
    theirs: Vec<Value>,
    showing: &Showing,
    conceal_configmaps: bool,
) -> Vec<(ObjectDiff, bool)> {
    let by_name = |objects: Vec<Value>| -> BTreeMap<String, Value> {
        objects
            .into_iter()
            .filter_map(|o| crate::object::name(&o).map(str::to_string).map(|n| (n, o)))
            .collect()
    };
    let (mut ours, mut theirs) = (by_name(ours), by_name(theirs));
    let mut names: Vec<String> = ours.keys().chain(theirs.keys()).cloned().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let (before, after) = (ours.remove(&name), theirs.remove(&name));
            // An object that says it is a Secret is concealed whatever its file says.
            let says_secret = [&before, &after].iter().any(|o| {
                o.as_ref()
                    .and_then(|o| o.get("kind"))
                    .and_then(Value::as_str)
                    .is_some_and(|k| is_concealed(k, conceal_configmaps))
            });
            let showing = Showing {
                concealed: showing.concealed || says_secret,
                fingerprints: showing.fingerprints,
            };
            let (change, fields) = match (&before, &after) {
                (Some(b), Some(a)) => (ObjectChange::Changed, changes(b, a, &showing)),
                (Some(_), None) => (ObjectChange::Removed, Vec::new()),
                _ => (ObjectChange::Added, Vec::new()),
            };
            let differs = change != ObjectChange::Changed || !fields.is_empty();
            let object = ObjectDiff {
                tenant: file.namespace.clone(),
                kind: file.kind.clone(),
                name,
                change,
                fields,
            };
            (object, differs)
        })
        .collect()
}
