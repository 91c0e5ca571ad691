//! Deciding, object by object, whether a drill's restore came back as backed up.
//!
//! The first pass restores; the second is a dry run of the same restore, which compares
//! every object in the cluster with the backup by the restore's own rules (what the
//! cluster fills in or owns is left out) and says `unchanged` for one that matches. So
//! an object passes when the second pass finds it unchanged, or when both passes left it
//! alone for the same reason of the restore's (a token the cluster makes). Anything else
//! is a mismatch, with what the pass said.

use std::collections::HashSet;

use super::record::{DrillCounts, LISTED_MISMATCHES, Mismatch};
use crate::report::{Action, ObjectResult};

type Key = (Option<String>, String, String);

fn key_of(r: &ObjectResult) -> Key {
    (r.tenant.clone(), r.kind.clone(), r.name.clone())
}

/// Both passes' results, as they arrive.
#[derive(Debug, Default)]
pub(super) struct Passes {
    left_alone: HashSet<Key>,
    failed: HashSet<Key>,
    counts: DrillCounts,
    mismatches: Vec<Mismatch>,
}

impl Passes {
    /// One object's result of the first pass, the restore.
    pub(super) fn restored(&mut self, r: &ObjectResult) {
        match r.action {
            Action::Created | Action::Updated | Action::Unchanged => self.counts.restored += 1,
            Action::Skipped => {
                self.left_alone.insert(key_of(r));
            }
            _ => {
                self.failed.insert(key_of(r));
                self.mismatch(
                    r,
                    format!("not restored: {}", r.reason.as_deref().unwrap_or("no reason given")),
                );
            }
        }
    }

    /// One object's result of the second pass, the dry-run comparison.
    pub(super) fn verified(&mut self, r: &ObjectResult) {
        let key = key_of(r);
        match r.action {
            Action::Unchanged => self.counts.verified += 1,
            // Counted once, by the first pass.
            _ if self.failed.contains(&key) => {}
            Action::Skipped if self.left_alone.contains(&key) => self.counts.skipped += 1,
            action => {
                let said = action.name();
                let reason = match (&r.reason, action) {
                    (_, Action::WouldCreate) => "restored, but not found in the cluster afterwards".to_string(),
                    (Some(reason), _) => format!("not as backed up after the restore ({said}: {reason})"),
                    (None, _) => format!("not as backed up after the restore ({said})"),
                };
                self.mismatch(r, reason);
            }
        }
    }

    fn mismatch(&mut self, r: &ObjectResult, reason: String) {
        self.counts.mismatched += 1;
        if self.mismatches.len() < LISTED_MISMATCHES {
            self.mismatches.push(Mismatch {
                tenant: r.tenant.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                reason,
            });
        }
    }

    /// The counts and the listed mismatches.
    pub(super) fn finish(self) -> (DrillCounts, Vec<Mismatch>) {
        (self.counts, self.mismatches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, action: Action, reason: Option<&str>) -> ObjectResult {
        ObjectResult {
            tenant: Some("shop".into()),
            target_namespace: Some("lifeboat-drill-20261205060000-1".into()),
            kind: "Secret".into(),
            name: name.into(),
            action,
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn an_object_passes_when_read_back_unchanged_or_left_alone_by_both_passes() {
        let mut p = Passes::default();
        p.restored(&result("a", Action::Created, None));
        p.restored(&result("token", Action::Skipped, Some("made by the cluster")));
        p.verified(&result("a", Action::Unchanged, None));
        p.verified(&result("token", Action::Skipped, Some("made by the cluster")));
        let (counts, mismatches) = p.finish();
        assert_eq!(mismatches, vec![]);
        assert_eq!(
            counts,
            DrillCounts {
                restored: 1,
                verified: 1,
                skipped: 1,
                mismatched: 0
            }
        );
    }

    #[test]
    fn anything_else_is_a_mismatch_counted_once_with_what_the_pass_said() {
        let mut p = Passes::default();
        p.restored(&result("a", Action::Created, None));
        p.restored(&result("b", Action::Failed, Some("the cluster refused it (403)")));
        p.restored(&result("c", Action::Created, None));
        p.restored(&result("d", Action::Created, None));
        p.verified(&result(
            "a",
            Action::Skipped,
            Some("it exists and differs from the backup"),
        ));
        p.verified(&result("b", Action::WouldCreate, None));
        p.verified(&result("c", Action::WouldCreate, None));
        p.verified(&result("d", Action::Unchanged, None));
        let (counts, mismatches) = p.finish();
        assert_eq!((counts.restored, counts.verified, counts.mismatched), (3, 1, 3));
        let reasons: Vec<(&str, &str)> = mismatches
            .iter()
            .map(|m| (m.name.as_str(), m.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("b", "not restored: the cluster refused it (403)"),
                (
                    "a",
                    "not as backed up after the restore (skipped: it exists and differs from the backup)"
                ),
                ("c", "restored, but not found in the cluster afterwards"),
            ]
        );
    }

    #[test]
    fn only_the_first_mismatches_are_listed_and_all_are_counted() {
        let mut p = Passes::default();
        for n in 0..LISTED_MISMATCHES + 5 {
            p.restored(&result(&format!("s{n}"), Action::Failed, None));
        }
        let (counts, mismatches) = p.finish();
        assert_eq!(counts.mismatched as usize, LISTED_MISMATCHES + 5);
        assert_eq!(mismatches.len(), LISTED_MISMATCHES);
    }
}
