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
    /// `IntervalInHours` breaks one of its rules.
    #[error("IntervalInHours {0}")]
    IntervalInHours(IntervalRule),
    /// `K8sResourceKinds` breaks one of its rules.
    #[error("K8sResourceKinds {0}")]
    K8sResourceKinds(KindsRule),
}

/// The rule a bad `IntervalInHours` breaks, with the value it had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalRule {
    /// A number with a fraction or an exponent.
    #[error("must be a whole number of hours, written without a fraction or exponent (6); got {0}")]
    NotWhole(String),
    /// Zero or negative.
    #[error("must be at least 1 hour; got {0}")]
    BelowOne(String),
    /// A string with anything but digits in it, or none.
    #[error("written as a string must be digits only (\"6\"); got {0}")]
    NotDigits(String),
    /// More hours than fit.
    #[error("must be at most {max} hours; got {0}", max = u32::MAX)]
    TooLarge(String),
    /// Neither a number nor a string.
    #[error("must be a JSON integer (6) or a string of digits (\"6\"); got {0}")]
    NotANumber(String),
}

/// The rule a bad `K8sResourceKinds` breaks, with the value it had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindsRule {
    /// Not a JSON list.
    #[error("must be a list of kind names ([\"Secret\", \"ConfigMap\"]); got {0}")]
    NotAList(String),
    /// A list with nothing in it.
    #[error("must name at least one kind; got []")]
    Empty,
    /// An entry that is not a kind name.
    #[error(
        "entries must be kind names as Kubernetes spells them (\"Secret\", \"ConfigMap\"), or Kind.group to \
         pick a group (\"Ingress.networking.k8s.io\"); got the entry {0}"
    )]
    NotAKindName(String),
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
    let got = shown(value);
    let hours = match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(hours), _) => hours,
            (None, Some(_)) => return Err(IntervalRule::BelowOne(got).into()),
            // A number with a fraction or exponent: negative ones are below one first.
            (None, None) if n.as_f64().is_some_and(|f| f < 1.0) => return Err(IntervalRule::BelowOne(got).into()),
            (None, None) => return Err(IntervalRule::NotWhole(got).into()),
        },
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map_err(|_| IntervalRule::TooLarge(got.clone()))?
        }
        Value::String(_) => return Err(IntervalRule::NotDigits(got).into()),
        _ => return Err(IntervalRule::NotANumber(got).into()),
    };
    match u32::try_from(hours) {
        Ok(0) => Err(IntervalRule::BelowOne(got).into()),
        Ok(hours) => Ok(hours),
        Err(_) => Err(IntervalRule::TooLarge(got).into()),
    }
}

impl From<IntervalRule> for SettingsError {
    fn from(rule: IntervalRule) -> Self {
        SettingsError::IntervalInHours(rule)
    }
}

impl From<KindsRule> for SettingsError {
    fn from(rule: KindsRule) -> Self {
        SettingsError::K8sResourceKinds(rule)
    }
}

fn parse_kinds(value: &Value) -> Result<Vec<String>, SettingsError> {
    let Value::Array(items) = value else {
        return Err(KindsRule::NotAList(shown(value)).into());
    };
    if items.is_empty() {
        return Err(KindsRule::Empty.into());
    }
    let mut kinds: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let kind = match item {
            Value::String(kind) if crate::kinds::split_kind_name(kind).is_some() => kind,
            _ => return Err(KindsRule::NotAKindName(shown(item)).into()),
        };
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
    fn each_bad_interval_is_refused_with_the_rule_it_breaks() {
        use IntervalRule::*;
        type Rule = fn(String) -> IntervalRule;
        let rows: [(Value, Rule, &str); 14] = [
            (json!("1.5"), NotDigits, "digits only"),
            (json!(1.5), NotWhole, "whole number"),
            (json!(1e3), NotWhole, "whole number"),
            (json!(0), BelowOne, "at least 1 hour"),
            (json!("0"), BelowOne, "at least 1 hour"),
            (json!(-1), BelowOne, "at least 1 hour"),
            (json!(-0.5), BelowOne, "at least 1 hour"),
            (json!("-1"), NotDigits, "digits only"),
            (json!(""), NotDigits, "digits only"),
            (json!("abc"), NotDigits, "digits only"),
            (json!(" 1"), NotDigits, "digits only"),
            (json!("99999999999"), TooLarge, "at most 4294967295"),
            (json!(null), NotANumber, "JSON integer"),
            (json!(true), NotANumber, "JSON integer"),
        ];
        let fragments: Vec<&str> = rows.iter().map(|(_, _, f)| *f).collect();
        for (v, rule, fragment) in rows {
            let err = ResourceBackupConfig::try_from(setting(v.clone())).unwrap_err();
            assert_eq!(err, SettingsError::IntervalInHours(rule(v.to_string())), "{v}");
            let message = err.to_string();
            assert!(
                message.starts_with("IntervalInHours ") && message.contains(fragment),
                "{message}"
            );
            // The message names its own rule, not every rule at once.
            for other in fragments.iter().filter(|f| **f != fragment) {
                assert!(!message.contains(other), "{v}: {message} also says {other}");
            }
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
    fn kinds_must_be_a_non_empty_list_of_names_each_refused_with_its_rule() {
        for (kinds, rule) in [
            (json!([]), KindsRule::Empty),
            (json!("Secret"), KindsRule::NotAList("\"Secret\"".into())),
            (json!([""]), KindsRule::NotAKindName("\"\"".into())),
            (json!([1]), KindsRule::NotAKindName("1".into())),
            (json!(["secrets/x"]), KindsRule::NotAKindName("\"secrets/x\"".into())),
        ] {
            let v = json!({ "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": kinds });
            assert_eq!(
                ResourceBackupConfig::try_from(v),
                Err(SettingsError::K8sResourceKinds(rule)),
                "{kinds}"
            );
        }
        let empty = SettingsError::K8sResourceKinds(KindsRule::Empty).to_string();
        assert_eq!(empty, "K8sResourceKinds must name at least one kind; got []");
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
        assert_eq!(
            ResourceBackupConfig::try_from(v),
            Err(SettingsError::IsEnabled("\"yes\"".into()))
        );
    }

    #[test]
    fn serialises_in_canonical_form() {
        let s = ResourceBackupConfig::try_from(setting(json!("3"))).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), setting(json!(3)));
    }
}
