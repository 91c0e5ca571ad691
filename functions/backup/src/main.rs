//! The backup Lambda function: parse the event, run the backup, return its report.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lifeboat::audit::{Audit, AuditConfig};
use lifeboat::backup::Backup;
use lifeboat::cluster::ClusterAccess;
use lifeboat::event::{BackupRequest, Defaults, Invocation};
use serde_json::Value;

async fn handle(event: LambdaEvent<Value>, backup: &Backup, defaults: &Defaults) -> Result<Value, Diagnostic> {
    let now = (backup.clock)();
    let invocation = Invocation::from_context(&event.context.invoked_function_arn, event.context.deadline, now);
    let run = async {
        let request = BackupRequest::from_event(event.payload, defaults, now)?;
        backup.run(&request, &invocation).await
    };
    lifeboat::report::outcome("backup", run.await).map_err(|failure| Diagnostic {
        error_type: failure.error_type.into(),
        error_message: failure.message,
    })
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let aws = lifeboat::aws::load().await;
    let kms_key_id = std::env::var("LIFEBOAT_KMS_KEY_ID").ok().filter(|k| !k.is_empty());
    let audit = Audit::new(lifeboat::audit::cloudtrail_client(&aws), AuditConfig::from_env()?);
    let backup = Backup::new(
        ClusterAccess::from_env(&aws)?,
        lifeboat::store::s3_client(&aws),
        kms_key_id,
        audit,
    );
    let defaults = Defaults::from_env();
    lambda_runtime::run(service_fn(|event| handle(event, &backup, &defaults))).await
}
