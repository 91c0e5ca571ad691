//! What the Lambda functions share around their handler: the JSON logs, the runtime
//! loop, the invocation's context, the one reply per event (a report or answer, or an
//! error whose type tells bad input from a failure worth retrying), and for backup and
//! restore the event on EventBridge that tells the run's outcome.

use std::future::Future;

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::event::Invocation;
use crate::notification::{Notifier, RunEvent};
use crate::report::{Failure, Report};

/// Serves backup or restore events until the runtime stops the instance. `handler` gets
/// each event's payload, what Lambda says of the invocation, and the time it arrived by
/// `clock`; its report is returned and logged as one line, its error becomes a Lambda
/// error reply. Either is published by `notifier` before the reply goes back.
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
    run(clock, handler, |payload, outcome| async move {
        notifier.publish(RunEvent::of(function, &payload, &outcome)).await;
        crate::report::outcome(function, outcome)
    })
    .await
}

/// Serves catalog events: as [`serve`], but each answer is returned as it is and only
/// its outcome logged (answers are read-only and can be long), and nothing is published.
pub async fn serve_answers<H, F>(
    function: &'static str,
    clock: fn() -> DateTime<Utc>,
    handler: H,
) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Value, Invocation, DateTime<Utc>) -> F,
    F: Future<Output = crate::Result<Value>>,
{
    run(clock, handler, |payload, outcome| async move {
        crate::report::answered(function, &payload, outcome)
    })
    .await
}

async fn run<T, H, F, R, RF>(clock: fn() -> DateTime<Utc>, handler: H, reply: R) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Value, Invocation, DateTime<Utc>) -> F,
    F: Future<Output = crate::Result<T>>,
    R: Fn(Value, crate::Result<T>) -> RF,
    RF: Future<Output = Result<Value, Failure>>,
{
    let (handler, reply) = (&handler, &reply);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = clock();
        let invocation = Invocation::from_context(&event.context.invoked_function_arn, event.context.deadline, now);
        let payload = event.payload;
        // Boxed: the restore's future nests deep enough to pass the compiler's type
        // depth limit once wrapped in this loop's own.
        let outcome = Box::pin(handler(payload.clone(), invocation, now)).await;
        reply(payload, outcome).await.map_err(|failure| Diagnostic {
            error_type: failure.error_type.into(),
            error_message: failure.message,
        })
    }))
    .await
}
