//! The functions' configuration: every `LIFEBOAT_*` variable (and `AWS_REGION`), read
//! once when an instance starts and passed down as a typed value. Nothing else in the
//! library reads the environment.
//!
//! A value that cannot be meant stops the instance at start with an error naming the
//! variable and its rule: guessing would either refuse every run or drop a safeguard
//! the operator asked for.

use std::time::Duration;

use crate::allowed::{Allowed, Patterns};
use crate::audit::AuditConfig;
use crate::event::Defaults;

/// Objects a restore writes at once unless `LIFEBOAT_RESTORE_CONCURRENCY` says otherwise.
pub(crate) const DEFAULT_RESTORE_CONCURRENCY: usize = 16;

/// The most objects a restore writes at once. An API server serves 200 mutating requests
/// at once by default (`--max-mutating-requests-inflight`), shared by every client and
/// controller of the cluster; a restore keeps well inside that, and EKS's limits.
pub(crate) const MAX_RESTORE_CONCURRENCY: usize = 64;

/// A variable holds a value its rule does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {rule}; got {got:?}")]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// What it must hold, and what leaving it unset means.
    pub rule: &'static str,
    /// What it held.
    pub got: String,
}

/// How the functions reach clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Through EKS, with the function's role (`LIFEBOAT_CLUSTER_ACCESS=eks`, the default).
    Eks {
        /// How old a token may grow before a new one is signed; `None` for the default.
        refresh_after: Option<Duration>,
    },
    /// Through the kubeconfig in `KUBECONFIG` (development).
    Kubeconfig,
}

/// Everything the functions read from their environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What events may leave out: `AWS_REGION` and `LIFEBOAT_BUCKET`, and what the
    /// deployment serves (`LIFEBOAT_ALLOWED_*`).
    pub defaults: Defaults,
    /// `LIFEBOAT_KMS_KEY_ID`: the key backups are encrypted with; `None` for the
    /// bucket's default key.
    pub kms_key_id: Option<String>,
    /// `LIFEBOAT_TRAIL_ARN` and `LIFEBOAT_AUDIT_REQUIRED`.
    pub audit: AuditConfig,
    /// `LIFEBOAT_CLUSTER_ACCESS` and `LIFEBOAT_TOKEN_REFRESH_SECONDS`.
    pub access: AccessMode,
    /// `LIFEBOAT_RESTORE_CONCURRENCY`.
    pub restore_concurrency: usize,
    /// `LIFEBOAT_EVENT_BUS`: the EventBridge bus each run's outcome goes to, the
    /// account's `default` unless set; `None` when set to `none`.
    pub event_bus: Option<String>,
    /// `LIFEBOAT_FINGERPRINT_KEY_ID`: the KMS HMAC key the catalog derives its
    /// fingerprints of concealed values from; `None` for answers without fingerprints.
    pub fingerprint_key_id: Option<String>,
}

impl Config {
    /// The configuration of this process.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from `lookup`, which gives a variable's value by name.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let region = var("AWS_REGION");
        let bucket = var("LIFEBOAT_BUCKET");
        let invalid = |variable, rule, got: &str| ConfigError {
            variable,
            rule,
            got: got.into(),
        };

        let required = match var("LIFEBOAT_AUDIT_REQUIRED").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(invalid(
                    "LIFEBOAT_AUDIT_REQUIRED",
                    "must be \"true\" or \"false\" (unset means true)",
                    other,
                ));
            }
        };
        let trail_arn = match var("LIFEBOAT_TRAIL_ARN") {
            Some(arn) if !crate::audit::is_trail_arn(&arn) => {
                return Err(invalid(
                    "LIFEBOAT_TRAIL_ARN",
                    "must be a trail ARN such as arn:aws:cloudtrail:us-east-1:123456789012:trail/lifeboat-audit, \
                     or unset for none",
                    &arn,
                ));
            }
            arn => arn,
        };

        let access = match var("LIFEBOAT_CLUSTER_ACCESS").as_deref() {
            None | Some("eks") => AccessMode::Eks {
                refresh_after: match var("LIFEBOAT_TOKEN_REFRESH_SECONDS") {
                    None => None,
                    Some(s) => match s.parse::<u64>() {
                        Ok(n) if (1..=840).contains(&n) => Some(Duration::from_secs(n)),
                        _ => {
                            return Err(invalid(
                                "LIFEBOAT_TOKEN_REFRESH_SECONDS",
                                "must be whole seconds from 1 to 840 (tokens live 900)",
                                &s,
                            ));
                        }
                    },
                },
            },
            Some("kubeconfig") => AccessMode::Kubeconfig,
            Some(other) => {
                return Err(invalid(
                    "LIFEBOAT_CLUSTER_ACCESS",
                    "must be \"eks\" or \"kubeconfig\"",
                    other,
                ));
            }
        };

        let restore_concurrency = match var("LIFEBOAT_RESTORE_CONCURRENCY") {
            None => DEFAULT_RESTORE_CONCURRENCY,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_RESTORE_CONCURRENCY).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "LIFEBOAT_RESTORE_CONCURRENCY",
                        "must be a whole number from 1 to 64 (objects written at once); unset it for the default of 16",
                        &s,
                    ));
                }
            },
        };

        // Unset, the buckets and regions a deployment serves are its own; the
        // infrastructures, clusters and roles are whatever Terraform lists, and a
        // function without a list serves none of them rather than any.
        let allowed = Allowed {
            infrastructures: var("LIFEBOAT_ALLOWED_INFRASTRUCTURES")
                .map(|v| Patterns::parse(&v))
                .unwrap_or_default(),
            clusters: var("LIFEBOAT_ALLOWED_CLUSTERS")
                .map(|v| Patterns::parse(&v))
                .unwrap_or_default(),
            regions: var("LIFEBOAT_ALLOWED_REGIONS")
                .map(|v| Patterns::parse(&v))
                .unwrap_or_else(|| Patterns::of(region.clone())),
            buckets: var("LIFEBOAT_ALLOWED_BUCKETS")
                .map(|v| Patterns::parse(&v))
                .unwrap_or_else(|| Patterns::of(bucket.clone())),
            role_arns: var("LIFEBOAT_ALLOWED_ROLE_ARNS")
                .map(|v| Patterns::parse(&v))
                .unwrap_or_default(),
        };

        Ok(Self {
            defaults: Defaults {
                region,
                bucket,
                allowed,
            },
            kms_key_id: var("LIFEBOAT_KMS_KEY_ID"),
            audit: AuditConfig { trail_arn, required },
            access,
            restore_concurrency,
            fingerprint_key_id: var("LIFEBOAT_FINGERPRINT_KEY_ID"),
            event_bus: match var("LIFEBOAT_EVENT_BUS") {
                None => Some("default".into()),
                Some(none) if none == "none" => None,
                Some(bus) => Some(bus),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn unset_variables_take_their_defaults_and_serve_only_the_functions_own_bucket_and_region() {
        let c = config(&[("AWS_REGION", "us-east-1"), ("LIFEBOAT_BUCKET", "b")]).unwrap();
        assert_eq!(c.restore_concurrency, DEFAULT_RESTORE_CONCURRENCY);
        assert_eq!(c.event_bus.as_deref(), Some("default"));
        assert_eq!(c.access, AccessMode::Eks { refresh_after: None });
        assert_eq!(
            c.audit,
            AuditConfig {
                trail_arn: None,
                required: true
            }
        );
        let allowed = &c.defaults.allowed;
        assert!(allowed.buckets.admits("b") && !allowed.buckets.admits("other"));
        assert!(allowed.regions.admits("us-east-1") && !allowed.regions.admits("eu-west-1"));
        assert!(allowed.clusters.is_empty() && allowed.infrastructures.is_empty() && allowed.role_arns.is_empty());
    }

    #[test]
    fn lists_of_what_the_deployment_serves_are_read_as_patterns() {
        let c = config(&[
            ("LIFEBOAT_ALLOWED_CLUSTERS", "prod-eks, staging-*"),
            ("LIFEBOAT_ALLOWED_BUCKETS", "*"),
            ("LIFEBOAT_RESTORE_CONCURRENCY", " 64 "),
            ("LIFEBOAT_CLUSTER_ACCESS", "kubeconfig"),
        ])
        .unwrap();
        assert!(c.defaults.allowed.clusters.admits("staging-2"));
        assert!(c.defaults.allowed.buckets.admits("anything"));
        assert_eq!(c.restore_concurrency, 64);
        assert_eq!(c.access, AccessMode::Kubeconfig);
        assert_eq!(config(&[("LIFEBOAT_EVENT_BUS", "none")]).unwrap().event_bus, None);
        let named = config(&[("LIFEBOAT_EVENT_BUS", "ops")]).unwrap().event_bus;
        assert_eq!(named.as_deref(), Some("ops"));
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_variable_and_rule() {
        let rows = [
            ("LIFEBOAT_RESTORE_CONCURRENCY", "0", "from 1 to 64"),
            ("LIFEBOAT_RESTORE_CONCURRENCY", "65", "from 1 to 64"),
            ("LIFEBOAT_RESTORE_CONCURRENCY", "8.5", "from 1 to 64"),
            ("LIFEBOAT_AUDIT_REQUIRED", "yes", "\"true\" or \"false\""),
            ("LIFEBOAT_TRAIL_ARN", "lifeboat-audit", "a trail ARN"),
            ("LIFEBOAT_CLUSTER_ACCESS", "ssh", "\"eks\" or \"kubeconfig\""),
            ("LIFEBOAT_TOKEN_REFRESH_SECONDS", "900", "from 1 to 840"),
        ];
        for (variable, value, rule) in rows {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            let message = error.to_string();
            assert!(
                message.contains(rule) && message.contains(&format!("{value:?}")),
                "{message}"
            );
        }
    }
}
