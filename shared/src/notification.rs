//! Each run's outcome as one event on EventBridge, so operators route what they care
//! about (failures to a pager, everything to a log) without reading reports or logs.
//!
//! The event is `source: lifeboat`, `detail-type: lifeboat <function> <status>` (for
//! example `lifeboat backup PartiallyFailed`), and a detail that summarises the report:
//! where, which run, how it ended, how many objects each action took and the run's
//! errors. It names no object and holds no value of one. Publishing is best effort: a
//! bus that refuses the event is logged, and the run's own result stands.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Map, Value, json};

use crate::report::{Failure, Report};

/// The `source` of every event lifeboat publishes.
pub(crate) const SOURCE: &str = "lifeboat";

/// The most run errors an event carries; the report has them all.
const ERRORS_CARRIED: usize = 10;

/// Where run events go: a bus of the account, or nowhere.
#[derive(Clone, Debug)]
pub struct Notifier {
    target: Option<(aws_sdk_eventbridge::Client, String)>,
}

impl Notifier {
    /// A notifier publishing to `bus`, or to nothing when `bus` is `None`.
    pub fn new(sdk: &aws_config::SdkConfig, bus: Option<String>) -> Self {
        Self {
            target: bus.map(|bus| (aws_sdk_eventbridge::Client::new(sdk), bus)),
        }
    }

    #[cfg(test)]
    fn with_client(client: aws_sdk_eventbridge::Client, bus: &str) -> Self {
        Self {
            target: Some((client, bus.into())),
        }
    }

    /// Publishes one run's outcome; a failure to publish is logged, never returned.
    pub async fn publish(&self, event: RunEvent) {
        let Some((client, bus)) = &self.target else { return };
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(SOURCE)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .build();
        match client.put_events().entries(entry).send().await {
            Ok(out) if out.failed_entry_count() == 0 => {}
            Ok(out) => {
                let code = out.entries().iter().find_map(|e| e.error_code()).unwrap_or("unknown");
                tracing::warn!(
                    bus,
                    code,
                    detail_type = event.detail_type,
                    "the bus refused the run event"
                );
            }
            Err(e) => tracing::warn!(
                bus,
                error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e),
                detail_type = event.detail_type,
                "the run event could not be published; check the role's events:PutEvents on the bus"
            ),
        }
    }
}

/// One run's outcome as an event.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// `lifeboat <function> <status>`.
    pub detail_type: String,
    /// The summary.
    pub detail: Value,
}

impl RunEvent {
    /// The event of a run that returned `outcome` for the invocation payload `event`.
    pub fn of(function: &str, event: &Value, outcome: &crate::Result<Report>) -> Self {
        match outcome {
            Ok(report) => Self::of_report(report),
            Err(e) => Self::of_failure(
                function,
                event,
                &Failure {
                    error_type: e.error_type(),
                    message: e.to_string(),
                },
                e.is_retryable(),
            ),
        }
    }

    fn of_report(report: &Report) -> Self {
        let status = serde_json::to_value(report.status).unwrap_or(Value::Null);
        let mut objects: Map<String, Value> = Map::new();
        for actions in report.counts.values().flat_map(|kinds| kinds.values()) {
            for (action, n) in actions {
                let key = action.name();
                let total = objects.get(&key).and_then(Value::as_u64).unwrap_or(0) + n;
                objects.insert(key, json!(total));
            }
        }
        let mut detail = json!({
            "function": report.function,
            "status": status,
            "infrastructure": report.infrastructure,
            "cluster": report.cluster,
            "bucket": report.bucket,
            "objects": objects,
            "errors": report.errors.iter().take(ERRORS_CARRIED).collect::<Vec<_>>(),
            "error_count": report.errors.len(),
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "duration_ms": report.duration_ms,
        });
        for (field, value) in [
            ("backup", report.backup.clone().map(Value::from)),
            ("run_path", report.run_path.clone().map(Value::from)),
            ("dry_run", report.dry_run.map(Value::from)),
        ] {
            if let Some(value) = value {
                detail[field] = value;
            }
        }
        Self {
            detail_type: format!("lifeboat {} {}", report.function, status.as_str().unwrap_or("Unknown")),
            detail,
        }
    }

    fn of_failure(function: &str, event: &Value, failure: &Failure, retryable: bool) -> Self {
        // The event may be what failed; only names it gives as strings are repeated.
        let named = |field: &str| event.get(field).and_then(Value::as_str).map(str::to_string);
        Self {
            detail_type: format!("lifeboat {function} Failed"),
            detail: json!({
                "function": function,
                "status": "Failed",
                "infrastructure": named("infrastructure"),
                "cluster": named("cluster"),
                "error_type": failure.error_type,
                "message": failure.message,
                "retryable": retryable,
            }),
        }
    }
}

#[cfg(test)]
#[path = "notification_tests.rs"]
mod tests;
