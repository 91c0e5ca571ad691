//! `describe`: one backup, tenant by tenant and kind by kind, with what was left out and
//! why, and (unless told not to) every file read back to check its SHA-256.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;

use super::FILES_AT_ONCE;
use crate::Result;
use crate::event::{BackupSelector, CatalogRequest};
use crate::manifest::{self, ManifestFile, RunError, SkippedObject};
use crate::store::Store;

/// One kind in one tenant (or cluster-wide).
#[derive(Debug, Serialize)]
pub(crate) struct KindPart {
    pub kind: String,
    pub api_version: String,
    pub objects: usize,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedObject>,
    /// Whether the file still has its recorded checksum; absent when not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// What is wrong with the file, when it fails its check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What the checks found.
#[derive(Debug, Serialize)]
pub(crate) struct Verification {
    pub files: usize,
    pub verified: usize,
    pub failed: usize,
}

/// The answer to `describe`.
#[derive(Debug, Serialize)]
pub(crate) struct DescribeAnswer {
    pub action: &'static str,
    pub infrastructure: String,
    pub bucket: String,
    pub backup: String,
    pub status: String,
    pub cluster: String,
    pub region: String,
    pub run_time: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Each kind and the `apiVersion` it was read as.
    pub kinds: BTreeMap<String, String>,
    /// Tenant by tenant, kind by kind.
    pub tenants: BTreeMap<String, Vec<KindPart>>,
    /// Cluster-scoped kinds, and the tenants' Namespace objects.
    pub cluster_scoped: Vec<KindPart>,
    pub objects: usize,
    pub bytes: u64,
    pub skipped: usize,
    pub errors: Vec<RunError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// Describes the backup `selector` names.
pub(crate) async fn describe(
    store: &Store,
    request: &CatalogRequest,
    selector: &BackupSelector,
    verify: bool,
    now: DateTime<Utc>,
) -> Result<DescribeAnswer> {
    let (layout, manifest) = manifest::find(store, &request.infrastructure, selector, now).await?;
    let checks: Vec<Option<Result<(), String>>> = if verify {
        stream::iter(&manifest.files)
            .map(|file| async {
                Some(
                    manifest::read_file(store, &layout, file)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                )
            })
            .buffered(FILES_AT_ONCE)
            .collect()
            .await
    } else {
        manifest.files.iter().map(|_| None).collect()
    };
    let verification = verify.then(|| Verification {
        files: checks.len(),
        verified: checks.iter().filter(|c| matches!(c, Some(Ok(())))).count(),
        failed: checks.iter().filter(|c| matches!(c, Some(Err(_)))).count(),
    });
    let mut tenants: BTreeMap<String, Vec<KindPart>> =
        manifest.tenants.iter().map(|t| (t.clone(), Vec::new())).collect();
    let mut cluster_scoped = Vec::new();
    for (file, check) in manifest.files.iter().zip(checks) {
        let part = part(file, check);
        match &file.namespace {
            Some(tenant) => tenants.entry(tenant.clone()).or_default().push(part),
            None => cluster_scoped.push(part),
        }
    }
    Ok(DescribeAnswer {
        action: "describe",
        infrastructure: request.infrastructure.clone(),
        bucket: request.bucket.clone(),
        backup: manifest.run_path.clone(),
        status: format!("{:?}", manifest.status),
        cluster: manifest.cluster.clone(),
        region: manifest.region.clone(),
        run_time: manifest.run_time,
        started_at: manifest.started_at,
        finished_at: manifest.finished_at,
        kinds: manifest
            .kinds
            .iter()
            .map(|k| (k.kind.clone(), k.api_version()))
            .collect(),
        tenants,
        cluster_scoped,
        objects: manifest.object_count(),
        bytes: manifest.files.iter().map(|f| f.size).sum(),
        skipped: manifest.files.iter().map(|f| f.skipped.len()).sum(),
        errors: manifest.errors,
        verification,
    })
}

fn part(file: &ManifestFile, check: Option<Result<(), String>>) -> KindPart {
    KindPart {
        kind: file.kind.clone(),
        api_version: file.api_version.clone(),
        objects: file.objects.len(),
        bytes: file.size,
        skipped: file.skipped.clone(),
        verified: check.as_ref().map(Result::is_ok),
        problem: check.and_then(Result::err),
    }
}
