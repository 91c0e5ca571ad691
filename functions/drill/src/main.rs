//! The drill Lambda function: parse the event, drill the latest backup if a drill is
//! due, return what it found.

use lifeboat::audit::{Audit, cloudtrail_client};
use lifeboat::cluster::ClusterAccess;
use lifeboat::config::Config;
use lifeboat::drill::Drill;
use lifeboat::event::DrillRequest;
use lifeboat::restore::Restore;
use lifeboat::store::s3_client;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let config = Config::from_env()?;
    let aws = lifeboat::aws::load().await;
    let mut restore = Restore::new(
        ClusterAccess::from_config(config.access, &aws),
        s3_client(&aws),
        Audit::new(cloudtrail_client(&aws), config.audit.clone()),
    );
    restore.concurrency = config.restore_concurrency;
    let drill = &Drill { restore };
    let defaults = &config.defaults;
    lifeboat::function::serve_answers("drill", chrono::Utc::now, |event, invocation, now| async move {
        let request = DrillRequest::from_event(event, defaults, now)?;
        let record = drill.run(&request, &invocation).await?;
        Ok(serde_json::to_value(record).expect("a drill record always serialises"))
    })
    .await
}
