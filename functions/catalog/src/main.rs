//! The catalog Lambda function: parse the question, answer it from the bucket (and, for
//! a diff against the live cluster, the cluster), return the answer.

use lifeboat::catalog::Catalog;
use lifeboat::config::Config;
use lifeboat::event::CatalogRequest;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lifeboat::telemetry::init();
    let config = Config::from_env()?;
    let aws = lifeboat::aws::load().await;
    let catalog = &Catalog::new(&config, &aws);
    let defaults = &config.defaults;
    lifeboat::function::serve_answers("catalog", catalog.clock, |event, invocation, now| async move {
        let request = CatalogRequest::from_event(event, defaults, now)?;
        catalog.answer(&request, &invocation).await
    })
    .await
}
