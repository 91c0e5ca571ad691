//! The work of one backup run once it holds its claim: each tenant's kind listed page
//! by page into its file, several files in flight, and what each stored or failed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use kube::Client;
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::warn;

use super::{Backup, COMMIT_RESERVE};
use crate::kinds::ResolvedKind;
use crate::layout::RunLayout;
use crate::list_file::{ListFile, Page, list_page_text};
use crate::manifest::{ManifestFile, RunError, SkippedObject};
use crate::object::{Listed, strip_server_set_fields};
use crate::report::{Action, ObjectResult, Report};
use crate::store::{Store, StoreError};

/// The report line of an object whose file was sent (or failed to be) with `outcome`.
fn stored(
    tenant: Option<String>,
    kind: &ResolvedKind,
    name: String,
    outcome: &std::result::Result<ManifestFile, StoreError>,
) -> ObjectResult {
    ObjectResult {
        tenant,
        target_namespace: None,
        kind: kind.kind.clone(),
        name,
        action: if outcome.is_ok() {
            Action::BackedUp
        } else {
            Action::Failed
        },
        reason: outcome.as_ref().err().map(ToString::to_string),
    }
}

pub(super) struct Run<'a> {
    pub(super) backup: &'a Backup,
    pub(super) store: &'a Store,
    pub(super) layout: &'a RunLayout,
    pub(super) client: &'a Client,
    pub(super) cluster: &'a str,
    /// Every kind of the run, whose controllers' objects it leaves out.
    pub(super) kinds: &'a [ResolvedKind],
    /// What the files in flight record. Held only between awaits, never across one.
    pub(super) state: Mutex<State>,
    pub(super) deadline: Option<DateTime<Utc>>,
    pub(super) stopped: AtomicBool,
}

pub(super) struct State {
    pub(super) files: Vec<ManifestFile>,
    pub(super) report: Report,
    /// Files stored.
    pub(super) stored: usize,
    /// The last failed write, which ends the run if no write succeeded.
    pub(super) store_error: Option<StoreError>,
}

impl Run<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("no task panicked holding the state")
    }

    /// Whether the run must stop listing to commit before the deadline. A run cut off
    /// by Lambda leaves no manifest, so nothing of it could be restored; stopping early
    /// keeps everything stored so far.
    fn out_of_time(&self) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return true;
        }
        let Some(deadline) = self.deadline else { return false };
        if (self.backup.clock)() + COMMIT_RESERVE < deadline {
            return false;
        }
        if self.stopped.swap(true, Ordering::Relaxed) {
            return true;
        }
        warn!(deadline = %deadline, "stopping to commit before the deadline");
        self.state().report.error(RunError {
            tenant: None,
            kind: None,
            name: None,
            message: format!(
                "the run stopped {}s before the Lambda deadline to commit what it had stored; objects not listed by then \
                 are not in this backup; raise the function's timeout or back up fewer tenants per run",
                COMMIT_RESERVE.num_seconds()
            ),
        });
        true
    }

    /// Stores the Namespace objects in one file; returns the tenants that exist.
    pub(super) async fn store_namespaces<'t>(&self, tenants: &'t [String], namespaces: Vec<Value>) -> Vec<&'t str> {
        let kind = ResolvedKind::namespace();
        let present: Vec<&str> = tenants
            .iter()
            .map(String::as_str)
            .filter(|t| namespaces.iter().any(|o| crate::object::name(o) == Some(*t)))
            .collect();
        for tenant in tenants.iter().filter(|t| !present.contains(&t.as_str())) {
            self.state().report.error(RunError {
                tenant: Some(tenant.clone()),
                kind: None,
                name: None,
                message: format!(
                    "the tenant namespace '{tenant}' does not exist in the cluster; nothing of it was backed up"
                ),
            });
        }
        let mut file = ListFile::new(self.store.upload(self.layout.namespaces_key()));
        for mut object in namespaces {
            strip_server_set_fields(&mut object, &kind);
            file.push(&object);
        }
        let names = file.names.clone();
        let outcome = file.finish(self.layout, &kind, None).await;
        let mut state = self.state();
        for name in names {
            // A namespace is reported under its own tenant, as it is restored with it.
            state.report.record(stored(Some(name.clone()), &kind, name, &outcome));
        }
        state.settle(outcome);
        present
    }

    /// Stores every object of one kind in one tenant (or cluster-wide) as one file,
    /// listed page by page and sent as it grows.
    pub(super) async fn store_kind(&self, kind: &ResolvedKind, tenant: Option<&str>) {
        let mut file = ListFile::new(self.store.upload(self.layout.kind_key(kind, tenant)));
        let mut skipped = Vec::new();
        let mut token: Option<String> = None;
        loop {
            if self.out_of_time() {
                // The run's errors name each tenant and kind the stop cut short, so an
                // operator knows what this backup lacks.
                let not_started = token.is_none();
                self.state().report.error(RunError {
                    tenant: tenant.map(str::to_string),
                    kind: Some(kind.kind.clone()),
                    name: None,
                    message: if not_started {
                        format!(
                            "{} were not backed up: the run stopped before its Lambda deadline",
                            kind.resource_dir()
                        )
                    } else {
                        format!(
                            "only the first {} {} were backed up: the run stopped before its Lambda deadline",
                            file.names.len(),
                            kind.resource_dir()
                        )
                    },
                });
                if not_started {
                    // Nothing listed: no file, rather than an empty one that reads as
                    // "this tenant has none".
                    file.abandon().await;
                    return;
                }
                // What was listed is stored: a consistent part of the kind.
                break;
            }
            let text = match list_page_text(self.client, kind, tenant, self.backup.page_size, token.as_deref()).await {
                Ok(text) => text,
                // A continue token expires once etcd compacts past it (a few minutes);
                // start the kind over, in a file of its own.
                Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                    warn!(kind = %kind.kind, tenant, "list continuation expired; listing the kind again");
                    file.abandon().await;
                    file = ListFile::new(self.store.upload(self.layout.kind_key(kind, tenant)));
                    skipped.clear();
                    token = None;
                    continue;
                }
                Err(e) => {
                    file.abandon().await;
                    self.list_failed(kind, tenant, e);
                    return;
                }
            };
            // The page's objects are copied into the file from the response text, never
            // decoded whole (see `write_stored`).
            let page = match serde_json::from_str::<Page<&RawValue>>(&text) {
                Ok(page) => page,
                Err(e) => {
                    file.abandon().await;
                    self.list_failed(kind, tenant, kube::Error::SerdeError(e));
                    return;
                }
            };
            for object in page.items {
                match file.push_listed(kind, object, self.kinds) {
                    Ok(Listed::Written(_)) => {}
                    Ok(Listed::Skipped(name, why)) => skipped.push((name, why)),
                    Err(e) => {
                        file.abandon().await;
                        self.list_failed(kind, tenant, kube::Error::SerdeError(e));
                        return;
                    }
                }
            }
            let next = page.metadata.next();
            if let Err(e) = file.upload.flush_full_parts().await {
                let names = std::mem::take(&mut file.names);
                file.abandon().await;
                self.file_failed(kind, tenant, &names, e);
                return;
            }
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let names = file.names.clone();
        let outcome = file.finish(self.layout, kind, tenant).await.map(|mut stored| {
            stored.skipped = skipped
                .iter()
                .map(|(name, reason)| SkippedObject {
                    name: name.clone(),
                    reason: reason.clone(),
                })
                .collect();
            stored
        });
        let mut state = self.state();
        for (name, why) in skipped {
            state.report.record(ObjectResult {
                tenant: tenant.map(str::to_string),
                target_namespace: None,
                kind: kind.kind.clone(),
                name,
                action: Action::Skipped,
                reason: Some(why),
            });
        }
        for name in names {
            state
                .report
                .record(stored(tenant.map(str::to_string), kind, name, &outcome));
        }
        state.settle(outcome);
    }

    fn list_failed(&self, kind: &ResolvedKind, tenant: Option<&str>, error: kube::Error) {
        self.state().report.error(RunError {
            tenant: tenant.map(str::to_string),
            kind: Some(kind.kind.clone()),
            name: None,
            message: format!(
                "cannot list {} in cluster '{}': {error}",
                kind.resource_dir(),
                self.cluster
            ),
        });
    }

    fn file_failed(&self, kind: &ResolvedKind, tenant: Option<&str>, names: &[String], error: StoreError) {
        let mut state = self.state();
        for name in names {
            state.report.record(ObjectResult {
                tenant: tenant.map(str::to_string),
                target_namespace: None,
                kind: kind.kind.clone(),
                name: name.clone(),
                action: Action::Failed,
                reason: Some(error.to_string()),
            });
        }
        state.report.error(RunError {
            tenant: tenant.map(str::to_string),
            kind: Some(kind.kind.clone()),
            name: None,
            message: error.to_string(),
        });
        state.store_error = Some(error);
    }
}

impl State {
    /// Records a file's outcome.
    fn settle(&mut self, outcome: std::result::Result<ManifestFile, StoreError>) {
        match outcome {
            Ok(file) => {
                self.stored += 1;
                self.files.push(file);
            }
            Err(e) => self.store_error = Some(e),
        }
    }
}
