//! The backup Lambda function: parse the event, run the backup, return its report.

use lifeboat::audit::{Audit, cloudtrail_client};
use lifeboat::backup::Backup;
use lifeboat::cluster::ClusterAccess;
use lifeboat::config::Config;
use lifeboat::event::BackupRequest;
use lifeboat::store::s3_client;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let config = Config::from_env()?;
    let aws = lifeboat::aws::load().await;
    let notifier = lifeboat::notification::Notifier::new(&aws, config.event_bus.clone());
    let backup = Backup::new(
        ClusterAccess::from_config(config.access, &aws),
        s3_client(&aws),
        config.kms_key_id.clone(),
        Audit::new(cloudtrail_client(&aws), config.audit.clone()),
    );
    let backup = &backup;
    let defaults = &config.defaults;
    lifeboat::function::serve("backup", backup.clock, &notifier, |event, invocation, now| async move {
        let request = BackupRequest::from_event(event, defaults, now)?;
        backup.run(&request, &invocation).await
    })
    .await
}
