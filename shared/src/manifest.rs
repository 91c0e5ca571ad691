//! The manifest: the record of one backup run and its commit marker.
//!
//! It is written last, after every file it lists is stored, so a run that died
//! halfway has no manifest and is never chosen for restore. It carries a SHA-256 of
//! every stored file, so restore can prove each file is the one that was backed up, and
//! the names of the objects in each file, so restore can filter and report by name
//! before reading a file.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kinds::ResolvedKind;
use crate::settings::ResourceBackupConfig;

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
    /// The names of its objects, in the order they are stored.
    pub objects: Vec<String>,
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

impl Manifest {
    /// How many objects the run stored.
    pub fn object_count(&self) -> usize {
        self.files.iter().map(|f| f.objects.len()).sum()
    }

    /// The resolved kind of a file's objects, from the kinds this run recorded.
    pub fn kind_of(&self, entry: &ManifestFile) -> Option<ResolvedKind> {
        let namespace = ResolvedKind::namespace();
        if entry.kind == namespace.kind && entry.api_version == namespace.api_version() {
            return Some(namespace);
        }
        self.kinds
            .iter()
            .find(|k| k.kind == entry.kind && k.api_version() == entry.api_version)
            .cloned()
    }
}
