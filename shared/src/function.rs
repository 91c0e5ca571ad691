//! What both Lambda functions share around their handler: the JSON logs, the runtime
//! loop, the invocation's context, the one report or error reply per event, and the
//! event on EventBridge that tells the run's outcome.

use std::future::Future;

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::event::Invocation;
use crate::notification::{Notifier, RunEvent};
use crate::report::Report;

/// Serves events until the runtime stops the instance. `handler` gets each event's
/// payload, what Lambda says of the invocation, and the time it arrived by `clock`; its
/// report is returned and logged as one line, its error becomes a Lambda error reply
/// whose type tells bad input from a failure worth retrying. Either is published by
/// `notifier` before the reply goes back.
pub async fn serve<H, F>(
    function: &'static str,
    clock: fn() -> DateTime<Utc>,
    notifier: &Notifier,
    handler: H,
) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Value, Invocation, DateTime<Utc>) -> F,
    F: Future<Output = crate::Result<Report>>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = clock();
        let invocation = Invocation::from_context(&event.context.invoked_function_arn, event.context.deadline, now);
        let payload = event.payload;
        let outcome = handler(payload.clone(), invocation, now).await;
        notifier.publish(RunEvent::of(function, &payload, &outcome)).await;
        crate::report::outcome(function, outcome).map_err(|failure| Diagnostic {
            error_type: failure.error_type.into(),
            error_message: failure.message,
        })
    }))
    .await
}
