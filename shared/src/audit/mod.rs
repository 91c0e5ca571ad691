//! Whether a run is recorded by the CloudTrail trail that audits lifeboat.
//!
//! Auditors answer "who restored what, and which objects were read" from CloudTrail, so
//! a trail that was stopped or narrowed would leave a restore unaccountable without
//! anyone noticing. Every run therefore asks CloudTrail whether the configured trail is
//! logging and whether its event selectors record this run's S3 object events and this
//! function's invocations, and its report says what it found. Restore refuses to run on
//! anything short of a clean pass when auditing is required; backup only reports,
//! because a missed backup costs more than an unaudited one.
//!
//! Only `GetTrailStatus` and `GetEventSelectors` are called: they are all the function's
//! role is granted on the trail. Coverage is decided by plain functions over the SDK's
//! selector types, so it is tested without a network. A selector that narrows events in
//! a way this module cannot evaluate (a field it does not know, a suffix match on object
//! keys) does not count as covering: a check that errs towards "not audited" makes an
//! operator look, while one that errs the other way would hide a gap.

use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde::Serialize;

mod selectors;
pub(crate) use selectors::problems;

/// The environment variable naming the trail; unset or empty means none is configured.
pub(crate) const TRAIL_ARN_VAR: &str = "LIFEBOAT_TRAIL_ARN";
/// The environment variable saying whether restore requires a clean audit check.
pub(crate) const REQUIRED_VAR: &str = "LIFEBOAT_AUDIT_REQUIRED";

/// Whether this run is known to be audited, as every report states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditStatus {
    /// The trail is logging and records this run's object events and invocation.
    Audited {
        /// The trail's ARN.
        trail: String,
    },
    /// The trail was checked and misses part of this run; each problem says what to change.
    NotAudited {
        /// The trail's ARN.
        trail: String,
        /// What the trail does not record, and how to make it.
        problems: Vec<String>,
    },
    /// No trail is configured for the function.
    NotConfigured {
        /// Why, and what to set.
        reason: String,
    },
    /// CloudTrail could not answer (access denied, no such trail, throttling).
    CheckFailed {
        /// The trail's ARN.
        trail: String,
        /// What failed, and what to do.
        reason: String,
    },
}

impl AuditStatus {
    /// Whether this is a clean pass.
    pub(crate) fn is_audited(&self) -> bool {
        matches!(self, AuditStatus::Audited { .. })
    }

    /// One sentence on what is wrong; empty for a clean pass.
    pub(crate) fn explain(&self) -> String {
        match self {
            AuditStatus::Audited { .. } => String::new(),
            AuditStatus::NotAudited { trail, problems } => {
                format!("the trail {trail} does not record all of it: {}", problems.join("; "))
            }
            AuditStatus::NotConfigured { reason } => reason.clone(),
            AuditStatus::CheckFailed { trail, reason } => format!("the trail {trail} could not be checked: {reason}"),
        }
    }
}

/// Restore was refused because auditing is required and the check did not pass cleanly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "restore refused before reading the backup or writing to the cluster: auditing is required ({REQUIRED_VAR}=true) \
     and this restore would not be fully recorded by CloudTrail: {}. Fix the trail and invoke again, or set \
     {REQUIRED_VAR}=false on the restore function to accept unaudited restores",
    .0.explain()
)]
pub struct Unaudited(pub AuditStatus);

/// The audit settings of a function (`LIFEBOAT_TRAIL_ARN`, `LIFEBOAT_AUDIT_REQUIRED`; see
/// [`crate::config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The trail that should record the function; `None` when none is configured.
    pub trail_arn: Option<String>,
    /// Whether restore refuses to run without a clean pass.
    pub required: bool,
}

/// Whether `arn` is a trail ARN, `arn:<partition>:cloudtrail:<region>:<account>:trail/<name>`.
pub(crate) fn is_trail_arn(arn: &str) -> bool {
    TrailArn::parse(arn).is_some()
}

/// The parts of a trail ARN the check needs.
struct TrailArn<'a> {
    partition: &'a str,
}

impl<'a> TrailArn<'a> {
    /// `arn:<partition>:cloudtrail:<region>:<account>:trail/<name>`.
    fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && !parts[1].is_empty()
            && parts[2] == "cloudtrail"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts[5].strip_prefix("trail/").is_some_and(|name| !name.is_empty());
        ok.then(|| TrailArn { partition: parts[1] })
    }
}

/// Which object-level S3 events a run causes that the trail must record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectAccess {
    /// Backup writes objects.
    Write,
    /// Restore reads them.
    Read,
}

/// What the trail must record for one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The bucket the run reads or writes.
    pub bucket: &'a str,
    /// Whether it writes or reads objects.
    pub access: ObjectAccess,
    /// The function's own ARN without a qualifier; `None` when not run by Lambda, in
    /// which case only a selector for every function proves its invocations recorded.
    pub function_arn: Option<&'a str>,
}

/// The audit check a function runs, built once per instance.
#[derive(Clone, Debug)]
pub struct Audit {
    /// The CloudTrail client, in the function's own region: a multi-Region trail is
    /// answered for there by its ARN, and a single-Region trail homed elsewhere is not
    /// found there, which is true, as it records nothing in this region.
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// The settings.
    pub config: AuditConfig,
}

impl Audit {
    /// The check with `config`, asking CloudTrail through `cloudtrail`.
    pub fn new(cloudtrail: aws_sdk_cloudtrail::Client, config: AuditConfig) -> Self {
        Self { cloudtrail, config }
    }

    /// Asks CloudTrail whether the trail records this run. Never fails: what went wrong
    /// is part of the status.
    pub(crate) async fn check(&self, scope: &Scope<'_>) -> AuditStatus {
        let Some(trail) = self.config.trail_arn.as_deref() else {
            return AuditStatus::NotConfigured {
                reason: format!(
                    "{TRAIL_ARN_VAR} is not set, so no trail is known to record this function; set it to the ARN of the \
                     trail that records the backup bucket's S3 data events and the functions' invocations"
                ),
            };
        };
        let failed = |reason: String| AuditStatus::CheckFailed {
            trail: trail.to_string(),
            reason,
        };
        let (status, selectors) = tokio::join!(
            self.cloudtrail.get_trail_status().name(trail).send(),
            self.cloudtrail.get_event_selectors().trail_name(trail).send(),
        );
        let status = match status {
            Ok(status) => status,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_trail_not_found_exception());
                return failed(explain_failure(trail, "GetTrailStatus", missing, &e));
            }
        };
        let selectors = match selectors {
            Ok(selectors) => selectors,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_trail_not_found_exception());
                return failed(explain_failure(trail, "GetEventSelectors", missing, &e));
            }
        };
        let problems = problems(
            trail,
            status.is_logging().unwrap_or(false),
            selectors.event_selectors(),
            selectors.advanced_event_selectors(),
            scope,
        );
        if problems.is_empty() {
            AuditStatus::Audited { trail: trail.into() }
        } else {
            AuditStatus::NotAudited {
                trail: trail.into(),
                problems,
            }
        }
    }

    /// The check of a restore: the status, or the refusal when auditing is required
    /// and the status is not a clean pass.
    pub(crate) async fn check_required(&self, scope: &Scope<'_>) -> Result<AuditStatus, Unaudited> {
        let status = self.check(scope).await;
        if self.config.required && !status.is_audited() {
            Err(Unaudited(status))
        } else {
            Ok(status)
        }
    }
    /// The check for a run that reads the backups of `bucket` (a restore, a catalog
    /// question): refused when auditing is required and the trail would not record it,
    /// else its status, with a warning logged when it goes on unaudited.
    pub(crate) async fn check_reader(
        &self,
        bucket: &str,
        invocation: &crate::event::Invocation,
        infrastructure: &str,
    ) -> Result<AuditStatus, Unaudited> {
        let status = self
            .check_required(&Scope {
                bucket,
                access: ObjectAccess::Read,
                function_arn: invocation.function_arn.as_deref(),
            })
            .await?;
        if !status.is_audited() {
            tracing::warn!(infrastructure, audit = %status.explain(), "this read of backups is not audited; auditing is not required");
        }
        Ok(status)
    }
}

/// Builds the CloudTrail client from the function's AWS configuration.
pub fn cloudtrail_client(config: &aws_config::SdkConfig) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(config)
}

/// Why a CloudTrail call failed, and what to do about it; `missing` when CloudTrail
/// said it has no such trail.
fn explain_failure<E, R>(
    trail: &str,
    operation: &str,
    missing: bool,
    e: &aws_sdk_cloudtrail::error::SdkError<E, R>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = DisplayErrorContext(e).to_string();
    match e.code().unwrap_or_default() {
        _ if missing => format!(
            "CloudTrail has no such trail in this function's region (a single-Region trail homed in another region \
             records nothing here); check {TRAIL_ARN_VAR}, or make the trail multi-Region"
        ),
        code if code.contains("AccessDenied") || code == "UnauthorizedOperation" => format!(
            "the function's role may not call cloudtrail:{operation} on the trail; grant cloudtrail:GetTrailStatus and \
             cloudtrail:GetEventSelectors on {trail}"
        ),
        "CloudTrailARNInvalidException" | "InvalidTrailNameException" => {
            format!("CloudTrail does not take {trail} as a trail ARN; check {TRAIL_ARN_VAR}")
        }
        _ => format!(
            "CloudTrail {operation} failed: {detail}; this usually passes (throttling, an outage): invoke again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::selectors::tests::{ALL_LAMBDA, TRAIL, basic, scope};
    use super::*;
    use aws_sdk_cloudtrail::types::ReadWriteType;

    #[test]
    fn trail_arns_are_recognised_by_shape() {
        assert!(is_trail_arn(TRAIL));
        for bad in [
            "lifeboat-audit",
            "arn:aws:s3:::bucket",
            "arn:aws:cloudtrail:us-east-1:123:trail/x",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/",
        ] {
            assert!(!is_trail_arn(bad), "{bad}");
        }
    }

    use aws_sdk_cloudtrail::operation::get_event_selectors::{GetEventSelectorsError, GetEventSelectorsOutput};
    use aws_sdk_cloudtrail::operation::get_trail_status::{GetTrailStatusError, GetTrailStatusOutput};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    fn audit(rules: &[&Rule]) -> Audit {
        let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, rules);
        Audit::new(
            client,
            AuditConfig {
                trail_arn: Some(TRAIL.into()),
                required: true,
            },
        )
    }

    fn logging(is_logging: bool) -> Rule {
        mock!(aws_sdk_cloudtrail::Client::get_trail_status)
            .match_requests(|r| r.name() == Some(TRAIL))
            .then_output(move || GetTrailStatusOutput::builder().is_logging(is_logging).build())
    }

    fn covering() -> Rule {
        mock!(aws_sdk_cloudtrail::Client::get_event_selectors)
            .match_requests(|r| r.trail_name() == Some(TRAIL))
            .then_output(|| {
                GetEventSelectorsOutput::builder()
                    .trail_arn(TRAIL)
                    .event_selectors(basic(
                        ReadWriteType::All,
                        &[("AWS::S3::Object", "arn:aws:s3:::"), ALL_LAMBDA],
                    ))
                    .build()
            })
    }

    fn denied() -> Rule {
        mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_http_response(|| {
            http::Response::builder()
                .status(400)
                .header("x-amzn-errortype", "AccessDeniedException")
                .body(aws_smithy_types::body::SdkBody::from(
                    r#"{"message":"not authorized to perform cloudtrail:GetEventSelectors"}"#,
                ))
                .unwrap()
                .try_into()
                .unwrap()
        })
    }

    #[tokio::test]
    async fn a_logging_covering_trail_is_a_clean_pass_asked_by_its_arn() {
        let (status, selectors) = (logging(true), covering());
        let audit = audit(&[&status, &selectors]);
        let found = audit.check_required(&scope(ObjectAccess::Read)).await.unwrap();
        assert_eq!(found, AuditStatus::Audited { trail: TRAIL.into() });
        assert_eq!((status.num_calls(), selectors.num_calls()), (1, 1));
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json, serde_json::json!({ "status": "audited", "trail": TRAIL }));
    }

    #[tokio::test]
    async fn a_stopped_trail_refuses_a_required_restore_and_names_the_fix() {
        let (status, selectors) = (logging(false), covering());
        let err = audit(&[&status, &selectors])
            .check_required(&scope(ObjectAccess::Read))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(TRAIL)
                && message.contains("start-logging")
                && message.contains("LIFEBOAT_AUDIT_REQUIRED=false"),
            "{message}"
        );
        let json = serde_json::to_value(&err.0).unwrap();
        assert_eq!(json["status"], "not_audited");
        assert_eq!(json["problems"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_trail_fails_the_check_and_says_to_check_the_arn() {
        let missing = mock!(aws_sdk_cloudtrail::Client::get_trail_status).then_error(|| {
            GetTrailStatusError::TrailNotFoundException(
                aws_sdk_cloudtrail::types::error::TrailNotFoundException::builder()
                    .message("Unknown trail")
                    .build(),
            )
        });
        let selectors = mock!(aws_sdk_cloudtrail::Client::get_event_selectors).then_error(|| {
            GetEventSelectorsError::TrailNotFoundException(
                aws_sdk_cloudtrail::types::error::TrailNotFoundException::builder().build(),
            )
        });
        let found = audit(&[&missing, &selectors]).check(&scope(ObjectAccess::Write)).await;
        let AuditStatus::CheckFailed { trail, reason } = &found else {
            panic!("{found:?}")
        };
        assert_eq!(trail, TRAIL);
        assert!(
            reason.contains("no such trail") && reason.contains(TRAIL_ARN_VAR),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn access_denied_names_the_two_permissions_to_grant() {
        let (status, denied) = (logging(true), denied());
        let found = audit(&[&status, &denied]).check(&scope(ObjectAccess::Write)).await;
        let AuditStatus::CheckFailed { reason, .. } = &found else {
            panic!("{found:?}")
        };
        assert!(
            reason.contains("cloudtrail:GetTrailStatus")
                && reason.contains("cloudtrail:GetEventSelectors")
                && reason.contains(TRAIL),
            "{reason}"
        );
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json["status"], "check_failed");
    }

    #[tokio::test]
    async fn without_a_trail_nothing_is_called_and_only_a_required_restore_is_refused() {
        let (status, selectors) = (logging(true), covering());
        let mut audit = audit(&[&status, &selectors]);
        audit.config.trail_arn = None;
        let err = audit.check_required(&scope(ObjectAccess::Read)).await.unwrap_err();
        assert!(err.to_string().contains(TRAIL_ARN_VAR), "{err}");
        assert_eq!((status.num_calls(), selectors.num_calls()), (0, 0));
        audit.config.required = false;
        let found = audit.check_required(&scope(ObjectAccess::Read)).await.unwrap();
        assert_eq!(serde_json::to_value(&found).unwrap()["status"], "not_configured");
    }
}
