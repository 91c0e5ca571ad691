//! The runs in a bucket, newest first, found by walking the date folders
//! (`YYYY/MM/DD/HHmmss`) rather than listing every key: finding the newest runs of a
//! range costs a few listings however many runs the bucket holds.

use crate::store::{Store, StoreError};

/// The widths of the four folder levels of a run path.
const WIDTHS: [usize; 4] = [4, 2, 2, 6];

/// Run paths between two bounds (both included, each a run path), newest first, read
/// one folder at a time as they are asked for.
pub(crate) struct NewestFirst<'s> {
    store: &'s Store,
    newest: String,
    oldest: String,
    /// Folders still to visit, the newest last: `(path, depth)`.
    pending: Vec<(String, usize)>,
}

impl<'s> NewestFirst<'s> {
    /// The runs from `oldest` to `newest`, both `YYYY/MM/DD/HHmmss` (an empty `oldest`
    /// for no lower bound).
    pub(crate) fn new(store: &'s Store, oldest: &str, newest: &str) -> Self {
        Self {
            store,
            newest: newest.to_string(),
            oldest: oldest.to_string(),
            pending: vec![(String::new(), 0)],
        }
    }

    /// The next older run path, or `None` when the range holds no more.
    pub(crate) async fn next(&mut self) -> Result<Option<String>, StoreError> {
        while let Some((path, depth)) = self.pending.pop() {
            if depth == WIDTHS.len() {
                return Ok(Some(path));
            }
            let prefix = if path.is_empty() {
                String::new()
            } else {
                format!("{path}/")
            };
            let mut children: Vec<String> = self
                .store
                .list_folders(&prefix)
                .await?
                .into_iter()
                .filter(|name| name.len() == WIDTHS[depth] && name.bytes().all(|b| b.is_ascii_digit()))
                .map(|name| format!("{prefix}{name}"))
                .filter(|child| within(child, &self.oldest, &self.newest))
                .collect();
            // Ascending, so that popping takes the newest first.
            children.sort_unstable();
            self.pending.extend(children.into_iter().map(|c| (c, depth + 1)));
        }
        Ok(None)
    }
}

/// Whether some run under the folder `path` (a run path's first levels) can lie between
/// `oldest` and `newest`: fixed-width digits compare as text.
fn within(path: &str, oldest: &str, newest: &str) -> bool {
    let cut = |bound: &str| bound.get(..path.len()).unwrap_or(bound).to_string();
    path >= cut(oldest).as_str() && path <= cut(newest).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_visited_only_when_a_run_under_it_can_be_in_range() {
        let (oldest, newest) = ("2026/11/30/120000", "2026/12/02/080000");
        for inside in [
            "2026",
            "2026/11",
            "2026/12",
            "2026/11/30",
            "2026/12/02",
            "2026/12/01/000000",
        ] {
            assert!(within(inside, oldest, newest), "{inside}");
        }
        for outside in [
            "2025",
            "2026/10",
            "2026/11/29",
            "2026/12/03",
            "2026/11/30/115959",
            "2026/12/02/080001",
        ] {
            assert!(!within(outside, oldest, newest), "{outside}");
        }
        assert!(within("1999/01/01/000000", "", newest));
    }
}
