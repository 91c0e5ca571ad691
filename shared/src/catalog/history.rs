//! `history`: one object across the backups of a range, and when its content changed,
//! so that an operator can pick the backup to restore it from. A file whose checksum is
//! one already read holds the object unchanged and is not read again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::backups::{Backups, Committed};
use super::fingerprint::{Fingerprints, digest};
use crate::event::{CatalogRequest, Range};
use crate::layout::RunLayout;
use crate::manifest::{self, Manifest, ManifestFile};
use crate::store::Store;
use crate::{Error, Result};

/// The object asked about.
pub(crate) struct Wanted<'a> {
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

/// How the object stood in one backup against the next older backup in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Change {
    /// The oldest backup of the answer that holds it: nothing older to compare with.
    Oldest,
    /// Present here, absent from the older backup.
    Added,
    /// Different content from the older backup's.
    Changed,
    /// The same content as the older backup's.
    Unchanged,
    /// Absent here, present in the older backup.
    Removed,
    /// Absent here and in the older backup.
    Absent,
}

/// One backup in a history.
#[derive(Debug, Serialize)]
pub(crate) struct Entry {
    pub backup: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub present: bool,
    pub change: Change,
    /// The object's keyed fingerprint, when fingerprints are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Why this backup could not be read for the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip)]
    digest: Option<[u8; 32]>,
}

/// The answer to `history`.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryAnswer {
    pub action: &'static str,
    pub infrastructure: String,
    pub bucket: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Newest first.
    pub backups: Vec<Entry>,
    /// How many different contents the object had in these backups.
    pub versions: usize,
    pub more: bool,
}

/// Follows the object `wanted` through the backups of `range`.
pub(crate) async fn history(
    store: &Store,
    request: &CatalogRequest,
    wanted: &Wanted<'_>,
    range: &Range,
    fingerprints: &Fingerprints,
) -> Result<HistoryAnswer> {
    let mut runs = Backups::new(store, &request.infrastructure, range);
    let mut entries = Vec::new();
    let mut by_checksum: HashMap<String, ([u8; 32], Option<String>)> = HashMap::new();
    while let Some(run) = runs.next().await? {
        let (layout, manifest) = match run {
            Committed::Backup(layout, manifest) => (layout, manifest),
            Committed::Refused(run_path, refused) => {
                entries.push(Entry {
                    backup: run_path,
                    status: "Refused".into(),
                    finished_at: None,
                    present: false,
                    change: Change::Absent,
                    fingerprint: None,
                    problem: Some(refused.to_string()),
                    digest: None,
                });
                continue;
            }
        };
        let mut entry = Entry {
            backup: manifest.run_path.clone(),
            status: format!("{:?}", manifest.status),
            finished_at: Some(manifest.finished_at),
            present: false,
            change: Change::Absent,
            fingerprint: None,
            problem: None,
            digest: None,
        };
        if let Some(file) = file_of(&manifest, wanted) {
            entry.present = true;
            let found = match by_checksum.get(&file.sha256) {
                Some(known) => Ok(Some(known.clone())),
                None => object_digest(store, &layout, file, wanted.name, fingerprints).await,
            };
            match found {
                Ok(Some((digest, shown))) => {
                    by_checksum.insert(file.sha256.clone(), (digest, shown.clone()));
                    entry.digest = Some(digest);
                    entry.fingerprint = shown;
                }
                Ok(None) => {
                    entry.problem = Some(format!("the manifest lists it in {}, which does not hold it", file.key))
                }
                Err(problem) => entry.problem = Some(problem),
            }
        }
        entries.push(entry);
    }
    if !entries.iter().any(|e| e.present) {
        let in_namespace = wanted
            .namespace
            .map(|n| format!(" in namespace '{n}'"))
            .unwrap_or_default();
        return Err(Error::ObjectNotFound {
            infrastructure: request.infrastructure.clone(),
            object: format!("{} '{}'{in_namespace}", wanted.kind, wanted.name),
            range: format!(
                "between {} and {}",
                runs.from.as_deref().unwrap_or("the first backup"),
                runs.to
            ),
        });
    }
    let versions = mark_changes(&mut entries);
    Ok(HistoryAnswer {
        action: "history",
        infrastructure: request.infrastructure.clone(),
        bucket: request.bucket.clone(),
        kind: wanted.kind.to_string(),
        namespace: wanted.namespace.map(str::to_string),
        name: wanted.name.to_string(),
        backups: entries,
        versions,
        more: runs.more,
    })
}

/// The file of the manifest that lists the object.
fn file_of<'m>(manifest: &'m Manifest, wanted: &Wanted<'_>) -> Option<&'m ManifestFile> {
    manifest.files.iter().find(|f| {
        crate::kinds::names_kind(wanted.kind, &f.kind, f.group())
            && f.namespace.as_deref() == wanted.namespace
            && f.objects.iter().any(|o| o == wanted.name)
    })
}

/// The digest and fingerprint of the object in a verified file; `None` when the file
/// does not hold it.
async fn object_digest(
    store: &Store,
    layout: &RunLayout,
    file: &ManifestFile,
    name: &str,
    fingerprints: &Fingerprints,
) -> std::result::Result<Option<([u8; 32], Option<String>)>, String> {
    let items = manifest::read_file(store, layout, file)
        .await
        .map_err(|e| e.to_string())?;
    Ok(items
        .iter()
        .find(|o| crate::object::name(o) == Some(name))
        .map(|o| (digest(o), fingerprints.of(o))))
}

/// Marks each entry against the next older one; returns how many contents there were.
fn mark_changes(entries: &mut [Entry]) -> usize {
    let mut seen: Vec<[u8; 32]> = Vec::new();
    let mut older: Option<(bool, Option<[u8; 32]>)> = None;
    for entry in entries.iter_mut().rev() {
        if entry.status == "Refused" {
            continue;
        }
        if let Some(d) = entry.digest
            && !seen.contains(&d)
        {
            seen.push(d);
        }
        entry.change = match (older, entry.present) {
            (None, true) => Change::Oldest,
            (None, false) | (Some((false, _)), false) => Change::Absent,
            (Some((false, _)), true) => Change::Added,
            (Some((true, _)), false) => Change::Removed,
            (Some((true, before)), true) if before == entry.digest => Change::Unchanged,
            (Some((true, _)), true) => Change::Changed,
        };
        older = Some((entry.present, entry.digest));
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(present: bool, digest: Option<u8>) -> Entry {
        Entry {
            backup: String::new(),
            status: "Completed".into(),
            finished_at: None,
            present,
            change: Change::Absent,
            fingerprint: None,
            problem: None,
            digest: digest.map(|d| [d; 32]),
        }
    }

    #[test]
    fn each_backup_is_marked_against_the_next_older_one() {
        // Newest first, as answered.
        let mut entries = vec![
            entry(true, Some(2)),
            entry(true, Some(1)),
            entry(false, None),
            entry(true, Some(1)),
            entry(true, Some(1)),
            entry(false, None),
        ];
        let versions = mark_changes(&mut entries);
        let changes: Vec<Change> = entries.iter().map(|e| e.change).collect();
        assert_eq!(
            changes,
            [
                Change::Changed,
                Change::Added,
                Change::Removed,
                Change::Unchanged,
                Change::Added,
                Change::Absent
            ]
        );
        assert_eq!(versions, 2);
    }
}
