//! The committed runs of one infrastructure in a time range, newest first, as `list`
//! and `history` walk them: runs without a manifest of the infrastructure (another
//! infrastructure's, or one that never committed) are passed over, and a manifest that
//! cannot be believed is handed on as refused, for the answer to say so.

use crate::Result;
use crate::event::Range;
use crate::layout::{RunLayout, run_path_of};
use crate::manifest::{self, Manifest, ManifestError};
use crate::runs::NewestFirst;
use crate::store::Store;

/// One committed run.
pub(super) enum Committed {
    /// A backup and its manifest.
    Backup(RunLayout, Manifest),
    /// A run whose manifest was written over or cannot be read, and why.
    Refused(String, ManifestError),
}

/// The walk; [`Backups::more`] says whether runs were left when the limit was reached.
pub(super) struct Backups<'s> {
    store: &'s Store,
    infrastructure: &'s str,
    runs: NewestFirst<'s>,
    left: usize,
    /// The range's bounds, as run paths (`None`: no lower bound).
    pub from: Option<String>,
    pub to: String,
    /// Whether older runs are left in the range.
    pub more: bool,
}

impl<'s> Backups<'s> {
    pub(super) fn new(store: &'s Store, infrastructure: &'s str, range: &Range) -> Self {
        let from = range.from.map(run_path_of);
        let to = run_path_of(range.to);
        Self {
            store,
            infrastructure,
            runs: NewestFirst::new(store, from.as_deref().unwrap_or(""), &to),
            left: range.limit,
            from,
            to,
            more: false,
        }
    }

    /// The next older committed run, or `None` at the end of the range or the limit.
    pub(super) async fn next(&mut self) -> Result<Option<Committed>> {
        while let Some(run_path) = self.runs.next().await? {
            if self.left == 0 {
                self.more = true;
                return Ok(None);
            }
            let layout = RunLayout::for_run_path(&run_path, self.infrastructure);
            let found = match manifest::read_committed(self.store, &layout, self.infrastructure).await {
                Ok(Some(manifest)) => Committed::Backup(layout, manifest),
                Ok(None) => continue,
                Err(ManifestError::Store(e)) => return Err(e.into()),
                Err(refused) => Committed::Refused(run_path, refused),
            };
            self.left -= 1;
            return Ok(Some(found));
        }
        Ok(None)
    }
}
