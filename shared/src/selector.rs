//! Label selectors as kubectl takes them (`env=prod,tier!=cache,team,!legacy,
//! zone in (a,b)`), parsed into kube's [`Selector`], which does the matching: a backup's
//! `tenant_selector` picks namespaces by their labels, a restore's `label_selector`
//! objects by theirs.

use std::collections::BTreeMap;

use kube::core::{Expression, Selector, SelectorExt};

/// A selector that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a label selector: give comma-separated requirements such as env=prod, tier!=cache, team, \
     !legacy, zone in (a,b) or zone notin (c)"
)]
pub struct InvalidSelector(pub String);

/// A parsed label selector.
#[derive(Debug, Clone)]
pub struct LabelSelector {
    text: String,
    selector: Selector,
}

impl LabelSelector {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, InvalidSelector> {
        let invalid = || InvalidSelector(text.to_string());
        let mut expressions = Vec::new();
        for part in split_requirements(text).ok_or_else(invalid)? {
            let part = part.trim();
            let expression = if let Some(key) = part.strip_prefix('!') {
                Expression::DoesNotExist(label_key(key).ok_or_else(invalid)?)
            } else if let Some((key, values)) = split_set(part, " notin ") {
                Expression::NotIn(label_key(key).ok_or_else(invalid)?, set(values).ok_or_else(invalid)?)
            } else if let Some((key, values)) = split_set(part, " in ") {
                Expression::In(label_key(key).ok_or_else(invalid)?, set(values).ok_or_else(invalid)?)
            } else if let Some((key, value)) = part.split_once("!=") {
                Expression::NotEqual(
                    label_key(key).ok_or_else(invalid)?,
                    label_value(value).ok_or_else(invalid)?.to_string(),
                )
            } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Expression::Equal(
                    label_key(key).ok_or_else(invalid)?,
                    label_value(value).ok_or_else(invalid)?.to_string(),
                )
            } else {
                Expression::Exists(label_key(part).ok_or_else(invalid)?)
            };
            expressions.push(expression);
        }
        if expressions.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            text: text.to_string(),
            selector: Selector::from_iter(expressions),
        })
    }

    /// Whether an object with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector.matches(labels)
    }

    /// The selector as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The requirements of a selector, split at the commas outside parentheses.
fn split_requirements(text: &str) -> Option<Vec<&str>> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    parts.push(&text[start..]);
    (depth == 0).then_some(parts)
}

fn split_set<'a>(part: &'a str, operator: &str) -> Option<(&'a str, &'a str)> {
    let (key, values) = part.split_once(operator)?;
    Some((key, values.trim()))
}

fn set(values: &str) -> Option<std::collections::BTreeSet<String>> {
    let inner = values.strip_prefix('(')?.strip_suffix(')')?;
    inner.split(',').map(|v| label_value(v).map(str::to_string)).collect()
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
fn label_key(key: &str) -> Option<String> {
    let key = key.trim();
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty() && label_value(name).is_some();
    (name_ok && prefix.is_none_or(crate::names::is_dns_subdomain)).then(|| key.to_string())
}

/// A label value: empty, or up to 63 letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit.
fn label_value(value: &str) -> Option<&str> {
    let value = value.trim();
    let bytes = value.as_bytes();
    let ok = bytes.is_empty()
        || (bytes.len() <= 63
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric());
    ok.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_kind_of_requirement_selects_as_kubectl_does() {
        let prod = labels(&[("env", "prod"), ("team", "billing"), ("zone", "a")]);
        let dev = labels(&[("env", "dev"), ("legacy", "yes")]);
        let rows = [
            ("env=prod", true, false),
            ("env==prod", true, false),
            ("env!=prod", false, true),
            ("team", true, false),
            ("!legacy", true, false),
            ("zone in (a,b)", true, false),
            ("zone notin (a)", false, true),
            ("env=prod,team=billing,zone in (a, b)", true, false),
            ("app.kubernetes.io/part-of", false, false),
        ];
        for (text, on_prod, on_dev) in rows {
            let s = LabelSelector::parse(text).unwrap();
            assert_eq!((s.matches(&prod), s.matches(&dev)), (on_prod, on_dev), "{text}");
        }
    }

    #[test]
    fn a_selector_that_does_not_parse_is_refused_with_what_to_give() {
        for bad in [
            "",
            "env=",
            "=prod",
            "env=pr od",
            "zone in a,b",
            "zone in (a",
            "-bad=x",
            "a/b/c=x",
            ",",
        ] {
            if bad == "env=" {
                // An empty value is a value: env is present and empty.
                assert!(LabelSelector::parse(bad).is_ok());
                continue;
            }
            let refused = LabelSelector::parse(bad).unwrap_err().to_string();
            assert!(refused.contains("is not a label selector"), "{bad}: {refused}");
        }
    }
}
