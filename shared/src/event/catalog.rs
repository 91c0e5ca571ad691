//! The catalog event: which question about an infrastructure's backups an operator asks
//! (`list`, `describe`, `history`, `diff`), validated before the bucket is read.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Defaults, InvalidField, check_kinds, check_name, check_namespace, cluster_role, invalid, or_default, parse, rule_of,
};
use crate::eks::ClusterRole;
use crate::event::BackupSelector;
use crate::{Error, Result};

/// Backups a `list` or `history` answers with unless the event says otherwise.
pub(crate) const DEFAULT_LIMIT: usize = 50;

/// The most backups one answer holds; an older page is asked for with `to`.
pub(crate) const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum CatalogEvent {
    List(ListEvent),
    Describe(DescribeEvent),
    History(HistoryEvent),
    Diff(DiffEvent),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListEvent {
    infrastructure: String,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DescribeEvent {
    infrastructure: String,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    backup: Option<String>,
    #[serde(default = "yes")]
    verify: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryEvent {
    infrastructure: String,
    #[serde(default)]
    bucket: Option<String>,
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    name: String,
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffEvent {
    infrastructure: String,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    backup: Option<String>,
    against: String,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    tenants: Option<Vec<String>>,
    #[serde(default)]
    kinds: Option<Vec<String>>,
    #[serde(default)]
    conceal_configmaps: bool,
}

fn yes() -> bool {
    true
}

/// A time range of runs, by their scheduled times, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The oldest run taken; `None` for no bound.
    pub from: Option<DateTime<Utc>>,
    /// The newest run taken.
    pub to: DateTime<Utc>,
    /// How many runs at most, newest first.
    pub limit: usize,
}

/// The live cluster a diff compares a backup with; what is not given comes from the
/// backup's manifest (the cluster it was taken from) or the function's defaults.
#[derive(Debug, Clone)]
pub struct LiveCluster {
    /// The cluster; `None` for the one the backup was taken from.
    pub cluster: Option<String>,
    /// Its region; `None` for the backup's.
    pub region: Option<String>,
    /// A role to assume to reach it.
    pub role: Option<ClusterRole>,
}

/// What a diff compares the backup with.
#[derive(Debug, Clone)]
pub enum Against {
    /// The cluster as it is now.
    Live(LiveCluster),
    /// Another backup of the same infrastructure, by its run path.
    Backup(String),
}

/// The question a catalog event asks.
#[derive(Debug, Clone)]
pub enum Query {
    /// The backups in a time range, newest first.
    List(Range),
    /// One backup, per tenant and kind; `verify` reads every file to check its checksum.
    Describe {
        /// Which backup.
        backup: BackupSelector,
        /// Whether to read every file back and check its SHA-256.
        verify: bool,
    },
    /// One object across the backups of a range.
    History {
        /// `Kind` or `Kind.group`.
        kind: String,
        /// Its tenant; `None` for a cluster-scoped kind.
        namespace: Option<String>,
        /// Its name.
        name: String,
        /// Which backups to look in.
        range: Range,
    },
    /// A backup against the live cluster or another backup.
    Diff {
        /// The backup compared.
        backup: BackupSelector,
        /// What it is compared with.
        against: Against,
        /// Only these tenants.
        tenants: Option<Vec<String>>,
        /// Only these kinds (`Kind` or `Kind.group`).
        kinds: Option<Vec<String>>,
        /// Whether ConfigMap values are concealed as Secret values always are.
        conceal_configmaps: bool,
    },
}

/// A catalog event with its defaults filled in and its rules checked.
#[derive(Debug, Clone)]
pub struct CatalogRequest {
    /// Whose backups.
    pub infrastructure: String,
    /// The bucket they are in.
    pub bucket: String,
    /// The question.
    pub query: Query,
}

impl CatalogRequest {
    /// Parses and validates a catalog event; `now` bounds a range left open.
    pub fn from_event(event: Value, defaults: &Defaults, now: DateTime<Utc>) -> Result<Self> {
        // The action is checked first: serde's words for an unknown tag name no rule.
        let action = event.get("action").and_then(Value::as_str);
        if !matches!(action, Some("list" | "describe" | "history" | "diff")) {
            return Err(Error::InvalidEvent(InvalidField::new(
                "action",
                rule_of("action").unwrap_or_default(),
                event.get("action").cloned().unwrap_or(Value::Null),
            )));
        }
        let (infrastructure, bucket, query) = match parse(event)? {
            CatalogEvent::List(e) => (
                e.infrastructure,
                e.bucket,
                Query::List(range(e.from, e.to, e.limit, now)?),
            ),
            CatalogEvent::Describe(e) => (
                e.infrastructure,
                e.bucket,
                Query::Describe {
                    backup: backup("backup", e.backup)?,
                    verify: e.verify,
                },
            ),
            CatalogEvent::History(e) => {
                if crate::kinds::split_kind_name(&e.kind).is_none() {
                    return Err(invalid("kind", &e.kind));
                }
                if let Some(ns) = &e.namespace {
                    check_namespace("namespace", ns)?;
                }
                if e.name.is_empty() || !crate::names::is_path_segment_name(&e.name) {
                    return Err(invalid("name", &e.name));
                }
                (
                    e.infrastructure,
                    e.bucket,
                    Query::History {
                        kind: e.kind,
                        namespace: e.namespace,
                        name: e.name,
                        range: range(e.from, e.to, e.limit, now)?,
                    },
                )
            }
            CatalogEvent::Diff(e) => {
                let against = match e.against.as_str() {
                    "live" => {
                        if let Some(cluster) = &e.cluster {
                            check_name("cluster", cluster)?;
                            defaults.allowed.check("cluster", cluster)?;
                        }
                        if let Some(region) = &e.region {
                            or_default("region", Some(region.clone()), &None, "AWS_REGION")?;
                            defaults.allowed.check("region", region)?;
                        }
                        Against::Live(LiveCluster {
                            cluster: e.cluster,
                            region: e.region,
                            role: cluster_role(e.role_arn, e.external_id, &defaults.allowed)?,
                        })
                    }
                    path if crate::layout::is_run_path(path) => {
                        if e.cluster.is_some() || e.region.is_some() || e.role_arn.is_some() {
                            return Err(Error::InvalidEvent(InvalidField {
                                field: "cluster".into(),
                                rule: "is for a diff against the live cluster only; a diff of two backups reads \
                                       no cluster"
                                    .into(),
                                got: None,
                            }));
                        }
                        Against::Backup(path.to_string())
                    }
                    other => return Err(invalid("against", other)),
                };
                if let Some(tenants) = &e.tenants {
                    tenants.iter().try_for_each(|t| check_namespace("tenants", t))?;
                }
                check_kinds(&e.kinds)?;
                (
                    e.infrastructure,
                    e.bucket,
                    Query::Diff {
                        backup: backup("backup", e.backup)?,
                        against,
                        tenants: e.tenants,
                        kinds: e.kinds,
                        conceal_configmaps: e.conceal_configmaps,
                    },
                )
            }
        };
        check_name("infrastructure", &infrastructure)?;
        let bucket = or_default("bucket", bucket, &defaults.bucket, "LIFEBOAT_BUCKET")?;
        defaults.allowed.check("infrastructure", &infrastructure)?;
        defaults.allowed.check("bucket", &bucket)?;
        Ok(Self {
            infrastructure,
            bucket,
            query,
        })
    }
}

/// `latest` (or nothing) or a run path.
fn backup(field: &str, given: Option<String>) -> Result<BackupSelector> {
    match given.as_deref() {
        None | Some("latest") => Ok(BackupSelector::Latest),
        Some(path) if crate::layout::is_run_path(path) => Ok(BackupSelector::Run(path.to_string())),
        Some(other) => Err(invalid(field, other)),
    }
}

fn range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<usize>,
    now: DateTime<Utc>,
) -> Result<Range> {
    let to = to.unwrap_or(now);
    if let Some(from) = from
        && from > to
    {
        return Err(Error::InvalidEvent(InvalidField {
            field: "from".into(),
            rule: rule_of("from").unwrap_or_default().into(),
            got: Some(format!("{} after to {}", from.to_rfc3339(), to.to_rfc3339())),
        }));
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::InvalidEvent(InvalidField::new(
            "limit",
            rule_of("limit").unwrap_or_default(),
            limit,
        )));
    }
    Ok(Range { from, to, limit })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testing::{defaults, plain};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-12-05T10:00:00Z".parse().unwrap()
    }

    fn refusal(event: Value) -> String {
        plain(CatalogRequest::from_event(event, &defaults(), now()).unwrap_err())
    }

    #[test]
    fn a_list_defaults_to_the_newest_fifty_up_to_now() {
        let r = CatalogRequest::from_event(json!({"action": "list", "infrastructure": "prod"}), &defaults(), now())
            .unwrap();
        match r.query {
            Query::List(range) => assert_eq!(
                range,
                Range {
                    from: None,
                    to: now(),
                    limit: DEFAULT_LIMIT
                }
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reversed_range_is_refused_saying_which_end_is_which() {
        let refused = refusal(json!({
            "action": "list", "infrastructure": "prod",
            "from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"
        }));
        assert!(refused.starts_with("from must not be after to"), "{refused}");
        assert!(
            refused.contains("2026-12-02T00:00:00+00:00 after to 2026-12-01"),
            "{refused}"
        );
    }

    #[test]
    fn each_bad_field_names_its_own_rule() {
        let rows = [
            (
                json!({"action": "list", "infrastructure": "prod", "limit": 0}),
                "limit must be",
            ),
            (
                json!({"action": "list", "infrastructure": "prod", "limit": 1001}),
                "limit must be",
            ),
            (
                json!({"action": "describe", "infrastructure": "prod", "backup": "yesterday"}),
                "backup must be",
            ),
            (
                json!({"action": "diff", "infrastructure": "prod", "against": "prod"}),
                "against must be",
            ),
            (
                json!({"action": "history", "infrastructure": "prod", "kind": "Secret", "namespace": "Billing", "name": "db"}),
                "namespace must be",
            ),
            (
                json!({"action": "history", "infrastructure": "prod", "kind": "Secret", "name": "../x"}),
                "name must be",
            ),
            (json!({"action": "rewrite", "infrastructure": "prod"}), "action must be"),
            (json!({"infrastructure": "prod"}), "action must be"),
        ];
        for (event, rule) in rows {
            let refused = refusal(event.clone());
            assert!(refused.starts_with(rule), "{event}: {refused}");
        }
    }

    #[test]
    fn a_diff_of_two_backups_takes_no_cluster() {
        let refused = refusal(json!({
            "action": "diff", "infrastructure": "prod", "against": "2026/12/01/000000", "cluster": "c"
        }));
        assert!(
            refused.starts_with("cluster is for a diff against the live cluster only"),
            "{refused}"
        );
    }

    #[test]
    fn a_misspelt_field_is_refused() {
        let refused = refusal(json!({"action": "describe", "infrastructure": "prod", "bakup": "latest"}));
        assert!(refused.contains("unknown field `bakup`"), "{refused}");
    }
}
