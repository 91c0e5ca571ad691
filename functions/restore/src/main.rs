//! The restore Lambda function: parse the event, run the restore, return its report.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lifeboat::cluster::ClusterAccess;
use lifeboat::event::{Defaults, RestoreRequest};
use lifeboat::restore::Restore;
use serde_json::Value;

async fn handle(event: LambdaEvent<Value>, restore: &Restore, defaults: &Defaults) -> Result<Value, Diagnostic> {
    let run = async {
        let request = RestoreRequest::from_event(event.payload, defaults)?;
        restore.run(&request).await
    };
    match run.await {
        Ok(report) => {
            let report = serde_json::to_value(&report).map_err(|e| Diagnostic {
                error_type: "Report".into(),
                error_message: e.to_string(),
            })?;
            tracing::info!(report = %report, "restore report");
            Ok(report)
        }
        Err(e) => {
            tracing::error!(error_type = e.error_type(), error = %e, "restore failed");
            Err(Diagnostic {
                error_type: e.error_type().into(),
                error_message: e.to_string(),
            })
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let aws = lifeboat::aws::load().await;
    let restore = Restore::new(ClusterAccess::from_env(&aws)?, lifeboat::store::s3_client(&aws));
    let defaults = Defaults::from_env();
    lambda_runtime::run(service_fn(|event| handle(event, &restore, &defaults))).await
}
