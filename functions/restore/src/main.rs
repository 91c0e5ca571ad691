//! The restore Lambda function: parse the event, run the restore, return its report.

use lifeboat::audit::{Audit, cloudtrail_client};
use lifeboat::cluster::ClusterAccess;
use lifeboat::config::Config;
use lifeboat::event::RestoreRequest;
use lifeboat::restore::Restore;
use lifeboat::store::s3_client;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let config = Config::from_env()?;
    let aws = lifeboat::aws::load().await;
    let notifier = lifeboat::notification::Notifier::new(&aws, config.event_bus.clone());
    let mut restore = Restore::new(
        ClusterAccess::from_config(config.access, &aws),
        s3_client(&aws),
        Audit::new(cloudtrail_client(&aws), config.audit.clone()),
    );
    restore.concurrency = config.restore_concurrency;
    let restore = &restore;
    let defaults = &config.defaults;
    lifeboat::function::serve(
        "restore",
        restore.clock,
        &notifier,
        |event, invocation, _now| async move {
            let request = RestoreRequest::from_event(event, defaults)?;
            restore.run(&request, &invocation).await
        },
    )
    .await
}
