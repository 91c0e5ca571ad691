//! The AWS configuration, loaded once per function instance from the environment the
//! Lambda service (or the local stack) provides: region, credentials, and an endpoint
//! override such as `AWS_ENDPOINT_URL` for emulators.

pub use aws_config::SdkConfig;

/// Loads the configuration with the SDK's current behaviour defaults.
pub async fn load() -> SdkConfig {
    aws_config::load_from_env().await
}
