//! The manifest: the record of one backup run and its commit marker.
//!
//! It is written last, after every file it lists is stored, so a run that died
//! halfway has no manifest and is never chosen for restore. It carries a SHA-256 and
//! the S3 version of every stored file, so restore reads exactly the file that was
//! backed up and can prove it, and the names of the objects in each file, so restore
//! can filter and report by name before reading a file.
//!
//! A manifest is written once, create-only. A manifest key holding more than one
//! version (or a delete marker) was written over or deleted after its run committed,
//! and is refused: what it says can no longer be trusted.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kinds::ResolvedKind;
use crate::layout::RunLayout;
use crate::runs::NewestFirst;
use crate::settings::ResourceBackupConfig;
use crate::store::{Store, StoreError, sha256_hex};

/// The manifest format this code writes and reads. Format 1 stored one file per object;
/// format 2 stores one `List` per tenant and kind.
pub const FORMAT_VERSION: u32 = 2;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Every tenant and kind was stored.
    Completed,
    /// Some tenants, kinds or objects failed; the rest is stored and usable.
    PartiallyFailed,
}

/// Something that failed in a run, narrowed down as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// The tenant, when the failure belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The kind, when the failure belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The object's name, when the failure belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What went wrong; never an object's content.
    pub message: String,
}

/// One stored file: a Kubernetes `v1` `List` of the objects of one kind in one tenant,
/// of one cluster-scoped kind, or of the tenants' Namespace objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its key, relative to the run's `.../k8s/` folder.
    pub key: String,
    /// The `apiVersion` of its objects.
    pub api_version: String,
    /// The kind of its objects.
    pub kind: String,
    /// The tenant whose objects it holds; absent for cluster-scoped kinds and Namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Stored size in bytes.
    pub size: u64,
    /// The S3 version the backup wrote, which restore reads; absent in a bucket without
    /// versioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The names of its objects, in the order they are stored.
    pub objects: Vec<String>,
    /// The objects of its kind and tenant the backup left out, and why (absent from
    /// manifests of earlier releases, and when none was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedObject>,
}

/// An object a backup left out on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedObject {
    /// Its name.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// The manifest of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The format of this document.
    pub format_version: u32,
    /// The infrastructure backed up.
    pub infrastructure: String,
    /// Its cluster.
    pub cluster: String,
    /// The cluster's region.
    pub region: String,
    /// `YYYY/MM/DD/HHmmss`.
    pub run_path: String,
    /// The run's time, which names its folder.
    pub run_time: DateTime<Utc>,
    /// When the work started.
    pub started_at: DateTime<Utc>,
    /// When the last object was stored.
    pub finished_at: DateTime<Utc>,
    /// The setting the run used.
    pub settings: ResourceBackupConfig,
    /// The kinds the setting resolved to.
    pub kinds: Vec<ResolvedKind>,
    /// The tenants backed up.
    pub tenants: Vec<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// What failed.
    pub errors: Vec<RunError>,
    /// Every stored file. Absent from a manifest of another format.
    #[serde(default)]
    pub files: Vec<ManifestFile>,
}

impl ManifestFile {
    /// The API group of its objects ("" for the core group).
    pub(crate) fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// Whether a kind filter (`Kind` or `Kind.group` each; `None` for all) takes it.
    pub(crate) fn is_taken_by(&self, kinds: Option<&[String]>) -> bool {
        kinds.is_none_or(|kinds| {
            kinds
                .iter()
                .any(|k| crate::kinds::names_kind(k, &self.kind, self.group()))
        })
    }
}

impl Manifest {
    /// How many objects the run stored.
    pub fn object_count(&self) -> usize {
        self.files.iter().map(|f| f.objects.len()).sum()
    }
}

/// Why a committed manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest key holds more than one version or a delete marker.
    #[error(
        "the manifest s3://{bucket}/{key} holds {versions} versions and {delete_markers} delete markers, where a \
         backup writes exactly one: it was written over or deleted after the run committed, so restore refuses \
         it. Look up who wrote it in CloudTrail, and restore another run by its path"
    )]
    Rewritten {
        /// The bucket.
        bucket: String,
        /// The manifest's key.
        key: String,
        /// Its versions.
        versions: usize,
        /// Its delete markers.
        delete_markers: usize,
    },
    /// The manifest is not one this restore can read.
    #[error("the manifest s3://{bucket}/{key} cannot be used: {reason}")]
    Unusable {
        /// The bucket.
        bucket: String,
        /// The manifest's key.
        key: String,
        /// What is wrong, and what to do.
        reason: Unusable,
    },
    /// The bucket could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a manifest's bytes are not the manifest of the run at its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Not a lifeboat manifest at all.
    #[error("it is not a lifeboat manifest ({0})")]
    NotAManifest(String),
    /// A format this code does not read.
    #[error(
        "it has format {0}, and this restore reads format {FORMAT_VERSION} only; restore it with the lifeboat \
         release that wrote it"
    )]
    Format(u32),
    /// A manifest copied in from another run or infrastructure.
    #[error("it says it is the run {run_path} of infrastructure '{infrastructure}', not the one at its key")]
    OtherRun {
        /// The run it names.
        run_path: String,
        /// The infrastructure it names.
        infrastructure: String,
    },
}

/// How many versions a manifest key holds, as restore judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Held {
    /// None: the run never committed.
    Nothing,
    /// Exactly one version (its id, where the bucket is versioned), as a backup writes.
    One(Option<String>),
    /// More than one version, or a delete marker: written over or deleted.
    Rewritten,
}

fn held(objects: &[Option<String>], delete_markers: usize) -> Held {
    match (objects, delete_markers) {
        ([], 0) => Held::Nothing,
        ([only], 0) => Held::One(only.clone()),
        _ => Held::Rewritten,
    }
}

/// The manifest in `bytes`, if it is one this code reads and it says it is the run at
/// `run_path` of `infrastructure`: a manifest copied in from another run or
/// infrastructure would pass for this one.
fn verified(bytes: &[u8], run_path: &str, infrastructure: &str) -> Result<Manifest, Unusable> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| Unusable::NotAManifest(e.to_string()))?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(Unusable::Format(manifest.format_version));
    }
    if manifest.run_path != run_path || manifest.infrastructure != infrastructure {
        return Err(Unusable::OtherRun {
            run_path: manifest.run_path,
            infrastructure: manifest.infrastructure,
        });
    }
    Ok(manifest)
}

/// How far past the reader's clock a run may be dated and still be a backup rather
/// than a forgery meant to stand as `latest`; the backup event allows as much.
pub(crate) const FUTURE_SLACK: TimeDelta = TimeDelta::minutes(5);

/// The committed manifest of a run, read at its only version; `None` when the run has
/// none. `infrastructure` is whose backup it must say it is.
pub async fn read_committed(
    store: &Store,
    layout: &RunLayout,
    infrastructure: &str,
) -> Result<Option<Manifest>, ManifestError> {
    let key = layout.manifest_key();
    let versions = store.versions(&key).await?;
    let version = match held(&versions.objects, versions.delete_markers) {
        Held::Nothing => return Ok(None),
        Held::One(version) => version,
        Held::Rewritten => {
            return Err(ManifestError::Rewritten {
                bucket: store.bucket().into(),
                key,
                versions: versions.objects.len(),
                delete_markers: versions.delete_markers,
            });
        }
    };
    let bytes = store.get(&key, version.as_deref()).await?;
    verified(&bytes, layout.run_path(), infrastructure)
        .map(Some)
        .map_err(|reason| ManifestError::Unusable {
            bucket: store.bucket().into(),
            key,
            reason,
        })
}

/// The newest run of `infrastructure` whose manifest says it completed, and that
/// manifest. Walks the date folders newest first, so finding it costs a few listings,
/// not a listing of the bucket. A run that ended `PartiallyFailed` (a tenant refused, S3
/// down for some files, the deadline reached) is committed and restorable by its run
/// path, but is never `latest`: an operator restoring `latest` after a failed run gets
/// the last backup that holds everything. A run dated ahead of `now` is passed over, as
/// no scheduled run can be, and a manifest that was written over stops the search
/// rather than be skipped for an older one.
pub async fn latest_completed(
    store: &Store,
    infrastructure: &str,
    now: DateTime<Utc>,
) -> Result<Option<(RunLayout, Manifest)>, ManifestError> {
    let newest_allowed = crate::layout::run_path_of(now + FUTURE_SLACK);
    let mut runs = NewestFirst::new(store, "", &newest_allowed);
    while let Some(run_path) = runs.next().await? {
        let layout = RunLayout::for_run_path(&run_path, infrastructure);
        if let Some(manifest) = read_committed(store, &layout, infrastructure).await?
            && manifest.status == RunStatus::Completed
        {
            return Ok(Some((layout, manifest)));
        }
    }
    Ok(None)
}

/// The backup `selector` names among `infrastructure`'s in `store`: the newest
/// completed one, or the run at a path, which must have committed.
pub(crate) async fn find(
    store: &Store,
    infrastructure: &str,
    selector: &crate::event::BackupSelector,
    now: DateTime<Utc>,
) -> crate::Result<(RunLayout, Manifest)> {
    let not_found = || crate::Error::BackupNotFound {
        infrastructure: infrastructure.to_string(),
        backup: selector.to_string(),
        bucket: store.bucket().to_string(),
    };
    match selector {
        crate::event::BackupSelector::Latest => latest_completed(store, infrastructure, now)
            .await?
            .ok_or_else(not_found),
        crate::event::BackupSelector::Run(path) => {
            let layout = RunLayout::for_run_path(path, infrastructure);
            let manifest = read_committed(store, &layout, infrastructure)
                .await?
                .ok_or_else(not_found)?;
            Ok((layout, manifest))
        }
    }
}

/// Why a stored file cannot be used: a restore writes nothing of it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileFailure {
    /// The file could not be read at its recorded version.
    #[error("{0}")]
    Unreadable(#[from] StoreError),
    /// The file is not what the manifest's checksum proves.
    #[error(
        "checksum mismatch: s3://{bucket}/{key} has SHA-256 {actual} but the manifest recorded {recorded}; the file \
         was changed after the backup, and nothing of it is used"
    )]
    Checksum {
        bucket: String,
        key: String,
        actual: String,
        recorded: String,
    },
    #[error("the stored file {key} is not JSON: {source}")]
    NotJson { key: String, source: serde_json::Error },
    #[error("the stored file {key} is not a List of objects")]
    NotAList { key: String },
}

/// The objects of a file, read at the version the manifest records and verified.
pub(crate) async fn read_file(
    store: &Store,
    layout: &RunLayout,
    file: &ManifestFile,
) -> Result<Vec<Value>, FileFailure> {
    let key = format!("{}{}", layout.prefix(), file.key);
    let bytes = store.get(&key, file.version_id.as_deref()).await?;
    let actual = sha256_hex(&bytes);
    if actual != file.sha256 {
        return Err(FileFailure::Checksum {
            bucket: store.bucket().to_string(),
            key,
            actual,
            recorded: file.sha256.clone(),
        });
    }
    let mut list: Value = match serde_json::from_slice(&bytes) {
        Ok(list) => list,
        Err(source) => return Err(FileFailure::NotJson { key, source }),
    };
    match list.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(FileFailure::NotAList { key }),
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
