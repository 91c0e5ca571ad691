//! Trails of the AWS emulator's CloudTrail. The stack's own trail audits every function
//! and must never be stopped, as tests run in parallel against it; a test that needs a
//! trail in another state makes one of its own.

use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};

use crate::{required, unique};

/// The emulator's CloudTrail.
pub struct Trails {
    /// Its client.
    pub client: aws_sdk_cloudtrail::Client,
    /// The stack's trail, which records the backup bucket and every function.
    pub stack_trail: String,
    log_bucket: String,
}

/// Whether a new trail logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    /// Started.
    On,
    /// Started, then stopped, as by someone covering their tracks.
    Stopped,
}

/// A basic selector recording `resources` (type, value) with `read_write`.
pub fn selector(read_write: ReadWriteType, resources: &[(&str, &str)]) -> EventSelector {
    let mut selector = EventSelector::builder()
        .read_write_type(read_write)
        .include_management_events(true);
    for (kind, value) in resources {
        selector = selector.data_resources(DataResource::builder().r#type(*kind).values(*value).build());
    }
    selector.build()
}

/// What the stack's trail records: the bucket's objects and every function.
pub fn covering(bucket: &str) -> Vec<EventSelector> {
    vec![selector(
        ReadWriteType::All,
        &[
            ("AWS::S3::Object", &format!("arn:aws:s3:::{bucket}/")),
            ("AWS::Lambda::Function", "arn:aws:lambda"),
        ],
    )]
}

impl Trails {
    /// Connects to the emulator's CloudTrail.
    pub async fn connect() -> Self {
        let client = aws_sdk_cloudtrail::Client::new(&lifeboat::aws::load().await);
        let stack_trail = required("LIFEBOAT_TRAIL_ARN");
        let trail = client
            .get_trail()
            .name(&stack_trail)
            .send()
            .await
            .expect("the stack's trail exists");
        let log_bucket = trail
            .trail()
            .and_then(|t| t.s3_bucket_name())
            .expect("the stack's trail delivers to a bucket")
            .to_string();
        Self {
            client,
            stack_trail,
            log_bucket,
        }
    }

    /// A new trail of this test's own with `selectors`; returns its ARN.
    pub async fn create(&self, selectors: Vec<EventSelector>, logging: Logging) -> String {
        let name = unique("lifeboat-test-trail");
        let trail = self
            .client
            .create_trail()
            .name(&name)
            .s3_bucket_name(&self.log_bucket)
            .is_multi_region_trail(true)
            .enable_log_file_validation(true)
            .send()
            .await
            .expect("the trail is created");
        self.client
            .put_event_selectors()
            .trail_name(&name)
            .set_event_selectors(Some(selectors))
            .send()
            .await
            .expect("the selectors are set");
        // The emulator starts and stops trails by name only.
        self.client
            .start_logging()
            .name(&name)
            .send()
            .await
            .expect("logging starts");
        if logging == Logging::Stopped {
            self.client
                .stop_logging()
                .name(&name)
                .send()
                .await
                .expect("logging stops");
        }
        trail.trail_arn().expect("a new trail has an ARN").to_string()
    }
}
