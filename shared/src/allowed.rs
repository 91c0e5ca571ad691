//! What a deployment serves: the infrastructures, clusters, regions, buckets and
//! cross-account roles its functions may act on.
//!
//! The functions take these names from their events, and anyone allowed to invoke a
//! function could otherwise point it at any cluster its role reaches or any bucket it
//! may write. Terraform names them (`LIFEBOAT_ALLOWED_*`, see [`crate::config`]); an
//! event that names anything else is refused before a cluster or bucket is touched.

use std::fmt;

/// A list of names, each either exact or with `*` standing for any run of characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns(Vec<String>);

impl Patterns {
    /// Patterns that admit anything.
    pub fn any() -> Self {
        Self(vec!["*".into()])
    }

    /// Exactly these patterns; an empty list admits nothing.
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        Self(patterns.into_iter().map(Into::into).collect())
    }

    /// Patterns from a comma-separated list, blanks ignored.
    pub fn parse(list: &str) -> Self {
        Self::of(list.split(',').map(str::trim).filter(|p| !p.is_empty()))
    }

    /// Whether any pattern admits `value`.
    pub fn admits(&self, value: &str) -> bool {
        self.0.iter().any(|p| glob(p, value))
    }

    /// Whether the list is empty, admitting nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.0.join(", "))
        }
    }
}

/// Whether `pattern` (with `*` for any run of characters) matches all of `value`.
fn glob(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: the whole value must have been the prefix.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The names one deployment serves, each with the variable that sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// `LIFEBOAT_ALLOWED_INFRASTRUCTURES`.
    pub infrastructures: Patterns,
    /// `LIFEBOAT_ALLOWED_CLUSTERS`.
    pub clusters: Patterns,
    /// `LIFEBOAT_ALLOWED_REGIONS`.
    pub regions: Patterns,
    /// `LIFEBOAT_ALLOWED_BUCKETS`.
    pub buckets: Patterns,
    /// `LIFEBOAT_ALLOWED_ROLE_ARNS`: the roles in other accounts this function may
    /// assume. The backup function's list never holds a restore-level role.
    pub role_arns: Patterns,
}

impl Allowed {
    /// Admits everything: for tools and tests that build requests themselves.
    pub fn any() -> Self {
        Self {
            infrastructures: Patterns::any(),
            clusters: Patterns::any(),
            regions: Patterns::any(),
            buckets: Patterns::any(),
            role_arns: Patterns::any(),
        }
    }

    /// Checks one field of an event; the error names the field, the value and the variable.
    pub fn check(&self, field: &'static str, value: &str) -> Result<(), NotAllowed> {
        let (patterns, variable) = match field {
            "infrastructure" => (&self.infrastructures, "LIFEBOAT_ALLOWED_INFRASTRUCTURES"),
            "cluster" => (&self.clusters, "LIFEBOAT_ALLOWED_CLUSTERS"),
            "region" => (&self.regions, "LIFEBOAT_ALLOWED_REGIONS"),
            "bucket" => (&self.buckets, "LIFEBOAT_ALLOWED_BUCKETS"),
            _ => (&self.role_arns, "LIFEBOAT_ALLOWED_ROLE_ARNS"),
        };
        if patterns.admits(value) {
            Ok(())
        } else {
            Err(NotAllowed {
                field,
                value: value.into(),
                variable,
                allowed: patterns.to_string(),
            })
        }
    }
}

/// An event names something its deployment does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} {value:?} is not one this deployment serves ({variable} allows: {allowed}); nothing was read or \
     written. Invoke the deployment that serves it, or add it to the deployment's Terraform configuration"
)]
pub struct NotAllowed {
    /// The event's field.
    pub field: &'static str,
    /// What the event named.
    pub value: String,
    /// The variable that lists what is allowed.
    pub variable: &'static str,
    /// What it allows.
    pub allowed: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_with_stars_for_any_run() {
        let p = Patterns::parse("prod, staging-*, *-eks, a*b*c");
        for yes in ["prod", "staging-1", "staging-", "eu-eks", "abc", "a-b-c", "axxbyyc"] {
            assert!(p.admits(yes), "{yes}");
        }
        for no in ["prod2", "xprod", "stage-1", "eks", "ab", "acb", "a-b-cd"] {
            assert!(!p.admits(no), "{no}");
        }
        assert!(Patterns::any().admits(""));
        assert!(!Patterns::parse(" , ").admits("prod"));
    }

    #[test]
    fn a_refusal_names_the_field_the_value_and_the_variable() {
        let allowed = Allowed {
            clusters: Patterns::of(["prod-eks"]),
            ..Allowed::any()
        };
        assert!(allowed.check("cluster", "prod-eks").is_ok());
        let refused = allowed.check("cluster", "other").unwrap_err().to_string();
        assert!(
            refused.contains("cluster \"other\"") && refused.contains("LIFEBOAT_ALLOWED_CLUSTERS allows: prod-eks"),
            "{refused}"
        );
        let none = Allowed {
            role_arns: Patterns::default(),
            ..Allowed::any()
        };
        assert!(
            none.check("role_arn", "arn:aws:iam::1:role/x")
                .unwrap_err()
                .to_string()
                .contains("allows: none")
        );
    }
}
