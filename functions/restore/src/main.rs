//! The restore Lambda function: parse the event, run the restore, return its report.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lifeboat::audit::{Audit, AuditConfig};
use lifeboat::cluster::ClusterAccess;
use lifeboat::event::{Defaults, Invocation, RestoreRequest};
use lifeboat::restore::Restore;
use serde_json::Value;

async fn handle(event: LambdaEvent<Value>, restore: &Restore, defaults: &Defaults) -> Result<Value, Diagnostic> {
    let invocation = Invocation::from_context(
        &event.context.invoked_function_arn,
        event.context.deadline,
        (restore.clock)(),
    );
    let run = async {
        let request = RestoreRequest::from_event(event.payload, defaults)?;
        restore.run(&request, &invocation).await
    };
    lifeboat::report::outcome("restore", run.await).map_err(|failure| Diagnostic {
        error_type: failure.error_type.into(),
        error_message: failure.message,
    })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let aws = lifeboat::aws::load().await;
    let audit = Audit::new(lifeboat::audit::cloudtrail_client(&aws), AuditConfig::from_env()?);
    let mut restore = Restore::new(ClusterAccess::from_env(&aws)?, lifeboat::store::s3_client(&aws), audit);
    restore.concurrency = lifeboat::restore::concurrency_from_env()?;
    let defaults = Defaults::from_env();
    lambda_runtime::run(service_fn(|event| handle(event, &restore, &defaults))).await
}
