//! The backup Lambda function: parse the event, run the backup, return its report.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lifeboat::backup::Backup;
use lifeboat::cluster::ClusterAccess;
use lifeboat::event::{BackupRequest, Defaults};
use serde_json::Value;

async fn handle(event: LambdaEvent<Value>, backup: &Backup, defaults: &Defaults) -> Result<Value, Diagnostic> {
    let run = async {
        let request = BackupRequest::from_event(event.payload, defaults, (backup.clock)())?;
        backup.run(&request).await
    };
    match run.await {
        Ok(report) => {
            let report = serde_json::to_value(&report).map_err(|e| Diagnostic {
                error_type: "Report".into(),
                error_message: e.to_string(),
            })?;
            tracing::info!(report = %report, "backup report");
            Ok(report)
        }
        Err(e) => {
            tracing::error!(error_type = e.error_type(), error = %e, "backup failed");
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
    let kms_key_id = std::env::var("LIFEBOAT_KMS_KEY_ID").ok().filter(|k| !k.is_empty());
    let backup = Backup::new(
        ClusterAccess::from_env(&aws)?,
        lifeboat::store::s3_client(&aws),
        kms_key_id,
    );
    let defaults = Defaults::from_env();
    lambda_runtime::run(service_fn(|event| handle(event, &backup, &defaults))).await
}
