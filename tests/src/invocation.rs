//! Invoking the real functions under the Lambda emulator, the events they are given,
//! and reading the reports they return.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Stack;

impl Stack {
    /// Invokes a function through the emulator's Lambda Invoke API, as `aws lambda invoke` does.
    pub async fn invoke(&self, function: &str, event: &Value) -> Invocation {
        invoke_at(&self.lambda_url, function, event).await
    }

    /// Invokes and expects a report.
    pub async fn report(&self, function: &str, event: &Value) -> Value {
        expect_report(function, self.invoke(function, event).await)
    }

    /// A backup event for the local cluster, from the design's example event.
    pub fn backup_event(&self, infrastructure: &str, tenants: &[&str], scheduled_time: &str) -> Value {
        let mut event = fixture("backup-event.json");
        event["infrastructure"] = json!(infrastructure);
        event["cluster"] = json!(self.cluster);
        event["bucket"] = json!(self.bucket);
        event["tenants"] = json!(tenants);
        event["scheduled_time"] = json!(scheduled_time);
        event
    }

    /// A restore event for the local cluster, from the design's example event with its
    /// filters removed; tests add back what they need.
    pub fn restore_event(&self, infrastructure: &str) -> Value {
        let mut event = fixture("restore-event.json");
        event["infrastructure"] = json!(infrastructure);
        event["cluster"] = json!(self.cluster);
        event["bucket"] = json!(self.bucket);
        event["source"]["infrastructure"] = json!(infrastructure);
        let map = event.as_object_mut().expect("the fixture is an object");
        for filter in ["tenants", "kinds", "names", "namespace_mapping"] {
            map.remove(filter);
        }
        event
    }
}

/// Invokes a function on the emulator at `lambda_url`.
pub async fn invoke_at(lambda_url: &str, function: &str, event: &Value) -> Invocation {
    let url = format!("{lambda_url}/2015-03-31/functions/{function}/invocations");
    let response = reqwest::Client::new()
        .post(url)
        .json(event)
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .expect("the Lambda emulator answers");
    let function_error = response.headers().get("x-amz-function-error").is_some();
    let body: Value = response.json().await.expect("the function returns JSON");
    if function_error || body.get("errorType").is_some() {
        Invocation::Failed {
            error_type: body["errorType"].as_str().unwrap_or_default().to_string(),
            message: body["errorMessage"].as_str().unwrap_or_default().to_string(),
        }
    } else {
        Invocation::Report(body)
    }
}

/// The report of an invocation that must not fail.
pub fn expect_report(function: &str, invocation: Invocation) -> Value {
    match invocation {
        Invocation::Report(report) => report,
        Invocation::Failed { error_type, message } => panic!("{function} failed with {error_type}: {message}"),
    }
}

/// The outcome of an invocation.
#[derive(Debug)]
pub enum Invocation {
    /// The function returned its report.
    Report(Value),
    /// The function returned an error.
    Failed {
        /// The Lambda error type.
        error_type: String,
        /// The error message.
        message: String,
    },
}

/// A JSON fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture reads")).expect("fixture is JSON")
}

/// The count of `action` for `kind` in `tenant` in a report.
pub fn count(report: &Value, tenant: &str, kind: &str, action: &str) -> u64 {
    report["counts"][tenant][kind][action].as_u64().unwrap_or(0)
}

/// The count of `action` over every tenant and kind of a report.
pub fn count_all(report: &Value, action: &str) -> u64 {
    report["counts"]
        .as_object()
        .into_iter()
        .flat_map(|tenants| tenants.values())
        .filter_map(Value::as_object)
        .flat_map(|kinds| kinds.values())
        .filter_map(|actions| actions[action].as_u64())
        .sum()
}

/// One object's entry in a report; the test fails when the report has none.
fn object_of<'r>(report: &'r Value, kind: &str, name: &str) -> &'r Value {
    report["objects"]
        .as_array()
        .expect("report lists objects")
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("the report has no {kind} {name}: {report}"))
}

/// The action a report gives one object.
pub fn action_of(report: &Value, kind: &str, name: &str) -> String {
    object_of(report, kind, name)["action"]
        .as_str()
        .unwrap_or_else(|| panic!("the report has no action for {kind} {name}: {report}"))
        .to_string()
}

/// The reason a report gives for one object's action, or "" when it gives none.
pub fn reason_of(report: &Value, kind: &str, name: &str) -> String {
    object_of(report, kind, name)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
