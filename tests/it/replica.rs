//! Copies in a second region: a backup bucket replicated, as Terraform's `replicate_to`
//! sets it up, to a bucket in another region under that region's key, and a restore
//! read from the copy while the home bucket does not answer.
//!
//! The emulator replicates as S3 does (`replicate_like_s3` in `infra/aws_emulator.py`):
//! same keys and version ids, the replica key, Object Lock kept.

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, DefaultRetention,
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule, ReplicationConfiguration,
    ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use lifeboat::event::{Defaults, RestoreRequest};
use lifeboat::report::Status;
use lifeboat::restore::Restore;
use lifeboat_tests::faults::{Fault, Proxy};
use lifeboat_tests::{Stack, unaudited, unique};
use serde_json::json;

use crate::faults::{backup_with, direct, no_deadline};

const COPY_REGION: &str = "eu-west-1";

/// A versioned bucket with Object Lock and a default KMS key, as the storage module
/// makes them.
async fn hardened_bucket(stack: &Stack, name: &str, region: Option<&str>, key: &str) {
    let mut create = stack
        .s3
        .create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true);
    if let Some(region) = region {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.unwrap();
    stack
        .s3
        .put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .build();
    stack
        .s3
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let retention = DefaultRetention::builder()
        .mode(ObjectLockRetentionMode::Governance)
        .days(1)
        .build();
    stack
        .s3
        .put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(ObjectLockRule::builder().default_retention(retention).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The key of the copy's region, as the other region's storage module makes it.
async fn key_in(region: &str) -> String {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms
        .create_key()
        .description("lifeboat backups, the copy's region")
        .send()
        .await
        .unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_string()
}

/// Replicates everything written to `home` into `copy`, re-encrypted with `copy_key`,
/// delete markers not replicated: the rule Terraform's `replicate_to` writes.
async fn replicate(stack: &Stack, home: &str, copy: &str, copy_key: &str) {
    let rule = ReplicationRule::builder()
        .id("copy-to-second-region")
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix("").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(DeleteMarkerReplicationStatus::Disabled)
                .build(),
        )
        .destination(
            Destination::builder()
                .bucket(format!("arn:aws:s3:::{copy}"))
                .encryption_configuration(EncryptionConfiguration::builder().replica_kms_key_id(copy_key).build())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    stack
        .s3
        .put_bucket_replication()
        .bucket(home)
        .replication_configuration(
            ReplicationConfiguration::builder()
                .role("arn:aws:iam::123456789012:role/lifeboat-replication-us-east-1")
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn restore_from(stack: &Stack, bucket: &str, infra: &str, source: &str, target: &str) -> RestoreRequest {
    let mut event = stack.restore_event(infra);
    event["bucket"] = json!(bucket);
    event["namespace_mapping"] = json!({ source: target });
    RestoreRequest::from_event(event, &Defaults::default()).unwrap()
}

#[tokio::test]
async fn a_backup_copied_to_another_region_restores_from_the_copy_while_the_home_bucket_is_down() {
    let stack = Stack::connect().await;
    let home = unique("home");
    let copy = unique("copy");
    let home_key = std::env::var("LIFEBOAT_KMS_KEY_ID").unwrap();
    let copy_key = key_in(COPY_REGION).await;
    hardened_bucket(&stack, &home, None, &home_key).await;
    hardened_bucket(&stack, &copy, Some(COPY_REGION), &copy_key).await;
    replicate(&stack, &home, &copy, &copy_key).await;

    let tenant = stack.seed_tenant("replica").await;
    let source = tenant.namespace.clone();
    let infra = unique("infra");
    let mut event = stack.backup_event(&infra, &[&source], "2026-11-22T13:00:00Z");
    event["bucket"] = json!(home);
    let request = lifeboat::event::BackupRequest::from_event(event, &Defaults::default(), chrono::Utc::now()).unwrap();
    let report = backup_with(direct(), stack.s3.clone())
        .await
        .run(&request, &no_deadline())
        .await
        .unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);

    // The copy holds the manifest at the version the home bucket holds it, under the
    // copy's own key, still locked.
    let manifest = format!("2026/11/22/130000/infra/{infra}/k8s/manifest.json");
    let at_home = stack
        .s3
        .head_object()
        .bucket(&home)
        .key(&manifest)
        .send()
        .await
        .unwrap();
    let copied = stack
        .s3
        .head_object()
        .bucket(&copy)
        .key(&manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(copied.version_id(), at_home.version_id());
    assert_eq!(copied.ssekms_key_id(), Some(copy_key.as_str()));
    assert_eq!(copied.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"));

    // The home region's bucket stops answering.
    let s3_endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let proxy = Proxy::s3(&s3_endpoint).await;
    let down = format!("/{home}");
    proxy.script(move |seen| {
        if seen.path.starts_with(&down) {
            Fault::s3_error(503, "ServiceUnavailable", "the home region does not answer")
        } else {
            Fault::Pass
        }
    });
    let s3 = proxy.s3_client(std::time::Duration::from_secs(5)).await;
    let restore = Restore::new(direct(), s3, unaudited().await);
    let from_home = restore
        .run(
            &restore_from(&stack, &home, &infra, &source, &unique("replica-home")),
            &no_deadline(),
        )
        .await;
    assert!(from_home.is_err(), "the home bucket answered: {from_home:?}");

    // The restore from the copy, naming its bucket, brings the tenant back exactly.
    let target = unique("replica-restored");
    let report = restore
        .run(&restore_from(&stack, &copy, &infra, &source, &target), &no_deadline())
        .await
        .unwrap();
    assert_eq!(report.status, Status::Completed, "{:?}", report.errors);
    assert_eq!(
        report.backup.as_deref(),
        Some(format!("s3://{copy}/2026/11/22/130000/infra/{infra}/k8s/").as_str())
    );
    assert_eq!(stack.configuration(&target).await, stack.configuration(&source).await);
    assert!(
        proxy
            .seen()
            .iter()
            .all(|s| !s.path.starts_with(&format!("/{copy}")) || s.fault == "pass")
    );
}
