//! `list`: the backups of an infrastructure in a time range, newest first, each summed
//! up from its manifest alone (no data file is read).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::backups::{Backups, Committed};
use crate::Result;
use crate::event::{CatalogRequest, Range};
use crate::manifest::{Manifest, ManifestError};
use crate::store::Store;

/// One backup in a list.
#[derive(Debug, Serialize)]
pub(crate) struct BackupSummary {
    /// Its run path, which names it to `describe`, `diff` and a restore.
    pub backup: String,
    /// `Completed`, `PartiallyFailed`, or `Refused` for a manifest that was written over
    /// or is not one this release reads (see `refused`).
    pub status: String,
    /// Why the manifest is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub tenants: Vec<String>,
    /// The kinds it holds, as `Kind` (`Kind.group` outside the core group).
    pub kinds: Vec<String>,
    pub objects: usize,
    pub bytes: u64,
    pub skipped: usize,
    pub errors: usize,
}

impl BackupSummary {
    pub(crate) fn of(manifest: &Manifest) -> Self {
        let kinds: BTreeSet<String> = manifest
            .kinds
            .iter()
            .map(|k| {
                if k.group.is_empty() {
                    k.kind.clone()
                } else {
                    format!("{}.{}", k.kind, k.group)
                }
            })
            .collect();
        Self {
            backup: manifest.run_path.clone(),
            status: format!("{:?}", manifest.status),
            refused: None,
            cluster: Some(manifest.cluster.clone()),
            finished_at: Some(manifest.finished_at),
            tenants: manifest.tenants.clone(),
            kinds: kinds.into_iter().collect(),
            objects: manifest.object_count(),
            bytes: manifest.files.iter().map(|f| f.size).sum(),
            skipped: manifest.files.iter().map(|f| f.skipped.len()).sum(),
            errors: manifest.errors.len(),
        }
    }

    pub(crate) fn refused(run_path: &str, why: &ManifestError) -> Self {
        Self {
            backup: run_path.to_string(),
            status: "Refused".into(),
            refused: Some(why.to_string()),
            cluster: None,
            finished_at: None,
            tenants: Vec::new(),
            kinds: Vec::new(),
            objects: 0,
            bytes: 0,
            skipped: 0,
            errors: 0,
        }
    }
}

/// The answer to `list`.
#[derive(Debug, Serialize)]
pub(crate) struct ListAnswer {
    pub action: &'static str,
    pub infrastructure: String,
    pub bucket: String,
    /// The range searched, as run paths.
    pub from: Option<String>,
    pub to: String,
    /// Newest first.
    pub backups: Vec<BackupSummary>,
    /// Whether older runs are left in the range: ask again with `to` before the last.
    pub more: bool,
}

/// Lists the committed backups of the request's infrastructure in `range`.
pub(crate) async fn list(store: &Store, request: &CatalogRequest, range: &Range) -> Result<ListAnswer> {
    let mut runs = Backups::new(store, &request.infrastructure, range);
    let mut backups = Vec::new();
    while let Some(run) = runs.next().await? {
        backups.push(match run {
            Committed::Backup(_, manifest) => BackupSummary::of(&manifest),
            Committed::Refused(run_path, why) => BackupSummary::refused(&run_path, &why),
        });
    }
    Ok(ListAnswer {
        action: "list",
        infrastructure: request.infrastructure.clone(),
        bucket: request.bucket.clone(),
        from: runs.from,
        to: runs.to,
        backups,
        more: runs.more,
    })
}
