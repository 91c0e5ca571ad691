//! The retention Lambda function: parse the event, expire the bucket's old runs (but
//! each infrastructure's newest complete backups), return what it did.

use lifeboat::config::Config;
use lifeboat::event::RetentionRequest;
use lifeboat::store::s3_client;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let config = Config::from_env()?;
    let aws = lifeboat::aws::load().await;
    let s3 = &s3_client(&aws);
    let defaults = &config.defaults;
    lifeboat::function::serve_answers("retention", chrono::Utc::now, |event, invocation, now| async move {
        let request = RetentionRequest::from_event(event, defaults)?;
        let report = lifeboat::retention::run(s3, &request, &invocation, now).await?;
        Ok(serde_json::to_value(report).expect("a report always serialises"))
    })
    .await
}
