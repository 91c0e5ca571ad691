//! Bounded waits of a restore on the cluster: a definition until it is served, an
//! object being deleted until it is gone.

use std::time::Duration;

use kube::Client;
use kube::api::Api;

use super::failure::ObjectFailure;
use super::write::Target;

/// How long restore waits for an object being deleted to be gone: a namespace still
/// terminating (a tenant deleted by mistake and restored at once), or an object that
/// `overwrite` deletes to recreate.
const DELETION_WAIT: Duration = Duration::from_secs(120);

/// How long restore waits for a restored CustomResourceDefinition to be served.
const ESTABLISH_WAIT: Duration = Duration::from_secs(60);

/// Polls `condition` until it holds or `timeout` passes; says which.
async fn poll_until<F, Fut>(timeout: Duration, mut condition: F) -> Result<bool, ObjectFailure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, ObjectFailure>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits, bounded, until a CustomResourceDefinition reports `Established`. Its name has
/// passed the DNS subdomain rule, so kube may put it in a path as it is.
pub(super) async fn wait_until_established(client: &Client, name: &str) -> Result<(), ObjectFailure> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let established = poll_until(ESTABLISH_WAIT, || async {
        let crd = api.get_opt(name).await.map_err(|source| ObjectFailure::Read {
            what: format!("the definition '{name}'"),
            source,
        })?;
        Ok(crd
            .and_then(|crd| crd.status)
            .and_then(|status| status.conditions)
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            }))
    })
    .await?;
    if established {
        Ok(())
    } else {
        Err(ObjectFailure::NotEstablished {
            name: name.to_string(),
            seconds: ESTABLISH_WAIT.as_secs(),
        })
    }
}

/// Waits, bounded, for an object being deleted to be gone.
pub(super) async fn wait_until_gone(api: &Target<'_>, name: &str) -> Result<(), ObjectFailure> {
    let gone = poll_until(DELETION_WAIT, || async {
        let current = api.get(name).await.map_err(|source| ObjectFailure::Read {
            what: format!("'{name}'"),
            source,
        })?;
        Ok(current.is_none())
    })
    .await?;
    if gone {
        Ok(())
    } else {
        Err(ObjectFailure::StillDeleting {
            name: name.to_string(),
            seconds: DELETION_WAIT.as_secs(),
        })
    }
}
