//! The audit status each report carries: whether the actions of this run are recorded
//! by an audit trail. Checking the trail through the CloudTrail API is not built yet,
//! so every report says so plainly instead of claiming coverage it has not verified.

use serde::Serialize;

/// Whether this run is known to be audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditStatus {
    /// Nobody checked; `reason` says why.
    NotChecked {
        /// Why no check ran.
        reason: String,
    },
}

impl AuditStatus {
    /// The status of a run whose trail is not checked by this build.
    pub fn not_checked() -> Self {
        AuditStatus::NotChecked {
            reason: "this build does not check the CloudTrail trail yet".into(),
        }
    }
}
