//! The manifest: the record of one backup run and its commit marker.
//!
//! It is written last, after every object it lists is stored, so a run that died
//! halfway has no manifest and is never chosen for restore. It carries a SHA-256 of
//! every stored object, so restore can prove each object is the one that was backed up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kinds::ResolvedKind;
use crate::settings::ResourceBackupConfig;

/// The manifest format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Its key, relative to the run's `.../k8s/` folder.
    pub key: String,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its kind.
    pub kind: String,
    /// Its namespace; absent for cluster-scoped objects and for Namespace objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Stored size in bytes.
    pub size: u64,
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
    /// Every stored object.
    pub objects: Vec<ManifestEntry>,
}

impl Manifest {
    /// The resolved kind of an entry, from the kinds this run recorded.
    pub fn kind_of(&self, entry: &ManifestEntry) -> Option<ResolvedKind> {
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
