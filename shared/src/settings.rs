//! The infrastructure backup setting, `ResourceBackupConfig`, exactly as operators
//! already write it, and the rules it must meet before anything runs.
//!
//! The setting is parsed by hand from JSON rather than derived, so that every broken
//! rule produces a message that names the field and the rule, not serde's position.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a backup setting was refused. Each message names the field and its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The setting is not a JSON object.
    #[error("the backup setting must be a JSON object with IsEnabled, IntervalInHours and K8sResourceKinds; got {0}")]
    NotAnObject(String),
    /// A required field is absent.
    #[error("the backup setting is missing {0}; it needs IsEnabled, IntervalInHours and K8sResourceKinds")]
    Missing(&'static str),
    /// `IsEnabled` is not a boolean.
    #[error("IsEnabled must be true or false; got {0}")]
    IsEnabled(String),
    /// `IntervalInHours` is not a whole number of hours of at least one.
    #[error(
        "IntervalInHours must be a whole number of hours, at least 1, written as a JSON integer (6) \
         or a string of digits (\"6\"); got {0}"
    )]
    IntervalInHours(String),
    /// `K8sResourceKinds` is not a non-empty list of kind names.
    #[error(
        "K8sResourceKinds must be a non-empty list of kind names as Kubernetes spells them (\"Secret\", \"ConfigMap\"), or Kind.group to pick a group (\"Ingress.networking.k8s.io\"); {0}"
    )]
    K8sResourceKinds(String),
}

/// The backup setting of one infrastructure.
///
/// Serialises in canonical form (`IntervalInHours` as an integer), which is what the
/// manifest records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct ResourceBackupConfig {
    /// Whether backups of this infrastructure run at all.
    #[serde(rename = "IsEnabled")]
    pub is_enabled: bool,
    /// Hours between scheduled backups.
    #[serde(rename = "IntervalInHours")]
    pub interval_in_hours: u32,
    /// Kind names to back up, in the order given, without repeats.
    #[serde(rename = "K8sResourceKinds")]
    pub kinds: Vec<String>,
}

impl TryFrom<Value> for ResourceBackupConfig {
    type Error = SettingsError;

    fn try_from(value: Value) -> Result<Self, SettingsError> {
        let Value::Object(map) = value else {
            return Err(SettingsError::NotAnObject(shown(&value)));
        };
        let is_enabled = match map.get("IsEnabled") {
            None => return Err(SettingsError::Missing("IsEnabled")),
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(SettingsError::IsEnabled(shown(other))),
        };
        let interval_in_hours = parse_interval(
            map.get("IntervalInHours")
                .ok_or(SettingsError::Missing("IntervalInHours"))?,
        )?;
        let kinds = parse_kinds(
            map.get("K8sResourceKinds")
                .ok_or(SettingsError::Missing("K8sResourceKinds"))?,
        )?;
        Ok(Self {
            is_enabled,
            interval_in_hours,
            kinds,
        })
    }
}

impl ResourceBackupConfig {
    /// Parses and validates a setting from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, SettingsError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| SettingsError::NotAnObject(format!("text that is not JSON ({e})")))?;
        Self::try_from(value)
    }
}

fn parse_interval(value: &Value) -> Result<u32, SettingsError> {
    let bad = || SettingsError::IntervalInHours(shown(value));
    let hours = match value {
        // `as_u64` is None for negatives and for any number written with a fraction or
        // exponent, which is exactly what "whole hours" rules out.
        Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    match u32::try_from(hours) {
        Ok(h) if h >= 1 => Ok(h),
        _ => Err(bad()),
    }
}

fn parse_kinds(value: &Value) -> Result<Vec<String>, SettingsError> {
    let Value::Array(items) = value else {
        return Err(SettingsError::K8sResourceKinds(format!("got {}", shown(value))));
    };
    if items.is_empty() {
        return Err(SettingsError::K8sResourceKinds("got an empty list".into()));
    }
    let mut kinds: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(kind) = item else {
            return Err(SettingsError::K8sResourceKinds(format!(
                "got the entry {}",
                shown(item)
            )));
        };
        if crate::kinds::split_kind_name(kind).is_none() {
            return Err(SettingsError::K8sResourceKinds(format!(
                "got the entry {}",
                shown(item)
            )));
        }
        if !kinds.contains(kind) {
            kinds.push(kind.clone());
        }
    }
    Ok(kinds)
}

/// A short rendering of a bad value for an error message.
fn shown(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 80 {
        text.truncate(77);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setting(interval: Value) -> Value {
        json!({ "IsEnabled": true, "IntervalInHours": interval, "K8sResourceKinds": ["Secret", "ConfigMap"] })
    }

    #[test]
    fn the_operators_setting_parses_verbatim() {
        let s = ResourceBackupConfig::from_json(
            r#"{ "IsEnabled": true, "IntervalInHours": "1", "K8sResourceKinds": ["Secret", "ConfigMap"] }"#,
        )
        .unwrap();
        assert_eq!(
            s,
            ResourceBackupConfig {
                is_enabled: true,
                interval_in_hours: 1,
                kinds: vec!["Secret".into(), "ConfigMap".into()]
            }
        );
    }

    #[test]
    fn interval_accepts_an_integer_or_a_digit_string() {
        for (v, hours) in [(json!(6), 6), (json!("6"), 6), (json!("24"), 24), (json!(1), 1)] {
            assert_eq!(
                ResourceBackupConfig::try_from(setting(v)).unwrap().interval_in_hours,
                hours
            );
        }
    }

    #[test]
    fn interval_rejects_what_is_not_whole_hours_of_at_least_one() {
        for v in [
            json!("1.5"),
            json!(1.5),
            json!(0),
            json!("0"),
            json!(-1),
            json!("-1"),
            json!(""),
            json!("abc"),
            json!(null),
            json!(true),
            json!(1e3),
            json!(" 1"),
            json!("99999999999"),
        ] {
            let err = ResourceBackupConfig::try_from(setting(v.clone())).unwrap_err();
            assert!(matches!(err, SettingsError::IntervalInHours(_)), "{v} gave {err:?}");
            let message = err.to_string();
            assert!(
                message.contains("IntervalInHours") && message.contains("at least 1"),
                "{message}"
            );
        }
    }

    #[test]
    fn each_missing_field_is_named() {
        for field in ["IsEnabled", "IntervalInHours", "K8sResourceKinds"] {
            let mut v = setting(json!(1));
            v.as_object_mut().unwrap().remove(field);
            let message = ResourceBackupConfig::try_from(v).unwrap_err().to_string();
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn kinds_must_be_a_non_empty_list_of_names() {
        for kinds in [
            json!([]),
            json!("Secret"),
            json!([""]),
            json!([1]),
            json!(["secrets/x"]),
        ] {
            let v = json!({ "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": kinds });
            assert!(matches!(
                ResourceBackupConfig::try_from(v),
                Err(SettingsError::K8sResourceKinds(_))
            ));
        }
    }

    #[test]
    fn repeated_kinds_are_kept_once_in_order() {
        let v =
            json!({ "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": ["Secret", "ConfigMap", "Secret"] });
        assert_eq!(
            ResourceBackupConfig::try_from(v).unwrap().kinds,
            ["Secret", "ConfigMap"]
        );
    }

    #[test]
    fn is_enabled_must_be_a_boolean() {
        let v = json!({ "IsEnabled": "yes", "IntervalInHours": 1, "K8sResourceKinds": ["Secret"] });
        assert!(matches!(
            ResourceBackupConfig::try_from(v),
            Err(SettingsError::IsEnabled(_))
        ));
    }

    #[test]
    fn serialises_in_canonical_form() {
        let s = ResourceBackupConfig::try_from(setting(json!("3"))).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), setting(json!(3)));
    }
}
