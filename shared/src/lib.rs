//! lifeboat: backup and restore of Kubernetes resources to S3.
//!
//! The Lambda binaries in `functions/` only parse an event, call into this crate and
//! return its report. Everything else lives here, one concept per module:
//!
//! - [`config`]: every `LIFEBOAT_*` variable, read once per instance into a typed value.
//! - [`allowed`]: the infrastructures, clusters, regions, buckets and roles a deployment serves.
//! - [`selector`]: label selectors, for the tenants a backup takes and the objects a restore writes.
//! - [`settings`]: the infrastructure backup setting (`ResourceBackupConfig`) and its rules.
//! - [`event`]: the backup and restore events, validated before anything touches a cluster or S3.
//! - [`cluster`]: the seam through which a function reaches a cluster.
//! - [`retry`]: which Kubernetes API requests are sent again, and how soon.
//! - [`eks`]: EKS authentication: DescribeCluster and the presigned STS token, refreshed as it ages.
//! - [`kinds`]: resolving kind names (or `Kind.group`) to API resources over every served version.
//! - [`names`]: Kubernetes name rules, and URL paths built only from checked, encoded names.
//! - [`object`]: what a stored object is: owned and excluded objects skipped, server-set fields stripped per kind.
//! - [`layout`]: where a run's objects and manifest live in the bucket.
//! - [`list_file`]: the stored file format, a `v1` `List` per tenant and kind.
//! - [`manifest`]: the commit marker of a backup, with a SHA-256 and S3 version per stored
//!   file, read only when its key holds one version.
//! - [`store`] and [`upload`]: the S3 bucket: create-only encrypted writes, reads of exact versions.
//! - [`lock`]: deleting a version only once Object Lock lets go of it.
//! - [`claim`]: one writer per scheduled run, however many invocations start it.
//! - [`backup`]: one backup run, streamed page by page.
//! - [`restore`]: replaying a backup into a cluster, trusting nothing the bucket says
//!   beyond what its checksums prove.
//! - [`runs`]: the runs of a time range, newest first, from the date folders.
//! - [`catalog`]: list, describe, history and diff: read-only answers about the backups.
//! - [`retention`]: expiring old runs, keeping each infrastructure's newest complete ones.
//! - [`report`]: the JSON reports both functions return.
//! - [`notification`]: each run's outcome as an event on EventBridge.
//! - [`audit`]: whether the CloudTrail trail records a run; the status each report carries.
//! - [`aws`] and [`telemetry`]: the AWS configuration and the JSON logs, set up once per instance.
//! - [`function`]: the runtime loop both Lambda functions share around their handler.

pub(crate) mod allowed;
pub mod audit;
pub mod aws;
pub mod backup;
pub mod catalog;
pub(crate) mod claim;
pub mod cluster;
pub mod config;
pub mod drill;
pub mod eks;
pub mod event;
pub mod function;
pub(crate) mod kinds;
pub(crate) mod layout;
pub(crate) mod list_file;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod names;
pub mod notification;
pub(crate) mod object;
pub mod report;
pub mod restore;
pub mod retention;
pub mod retry;
pub(crate) mod runs;
pub(crate) mod selector;
pub(crate) mod settings;
pub mod store;
pub mod telemetry;
pub(crate) mod upload;

/// Everything that can stop a lifeboat run as a whole. Failures of single objects,
/// kinds or tenants are not errors of the run: they are recorded in its report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the event breaks its rule; nothing was read or written.
    #[error("invalid event: {0}")]
    InvalidEvent(#[from] event::InvalidField),

    /// The event names an infrastructure, cluster, region, bucket or role this
    /// deployment does not serve; nothing was read or written.
    #[error(transparent)]
    NotAllowed(#[from] allowed::NotAllowed),

    /// The backup setting breaks a rule; nothing was read or written.
    #[error(transparent)]
    InvalidSettings(#[from] settings::SettingsError),

    /// The cluster could not be reached or its credentials could not be loaded.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),

    /// A kind in the setting or the restore filter is not served by the cluster.
    #[error(transparent)]
    Kinds(#[from] kinds::KindsError),

    /// The bucket could not be read or written.
    #[error(transparent)]
    Store(#[from] store::StoreError),

    /// The backup's manifest was written over, or is not one this restore can use;
    /// restore refused before writing anything.
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),

    /// Auditing is required and the trail does not record this restore, or could not be
    /// checked; restore refused before reading the backup or writing to the cluster.
    #[error(transparent)]
    NotAudited(#[from] audit::Unaudited),

    /// No backup matches what the event asks for.
    #[error(
        "no complete backup of infrastructure '{infrastructure}' matches '{backup}' in bucket '{bucket}'; \
         see the backups there with `lifeboat list --infrastructure {infrastructure}` and name one by its run path"
    )]
    BackupNotFound {
        /// The infrastructure whose backups were searched.
        infrastructure: String,
        /// What the event asked for: `latest` or a run path.
        backup: String,
        /// The bucket searched.
        bucket: String,
    },

    /// A catalog `history` found the object in no backup of the range.
    #[error(
        "no backup of infrastructure '{infrastructure}' {range} holds {object}; check the kind, namespace and name \
         (`lifeboat describe` shows what a backup holds), or widen the range with --from"
    )]
    ObjectNotFound {
        /// The infrastructure whose backups were searched.
        infrastructure: String,
        /// The object asked for: `Secret 'db' in namespace 'billing'`.
        object: String,
        /// The runs searched: `between 2026/11/01/000000 and 2026/12/01/000000`.
        range: String,
    },

    /// A drill's record for this drill time is already kept, and cannot be read.
    #[error(
        "the drill record s3://{bucket}/{key} exists but cannot be read ({reason}); no drill writes such a record: \
         look up who wrote it in CloudTrail, and run the drill with another scheduled_time"
    )]
    DrillRecordUnreadable {
        /// The bucket.
        bucket: String,
        /// The record's key.
        key: String,
        /// What the parser said.
        reason: String,
    },

    /// The catalog could not derive its fingerprint key.
    #[error(transparent)]
    Fingerprint(#[from] catalog::FingerprintError),
}

/// The result of a whole lifeboat run.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether invoking again with the same event could succeed. Bad input never will,
    /// so a scheduler must not spend retries on it.
    pub fn is_retryable(&self) -> bool {
        use cluster::ClusterError;
        use eks::EksError;
        match self {
            Error::Store(_) | Error::Manifest(manifest::ManifestError::Store(_)) => true,
            Error::Cluster(ClusterError::Unreachable { .. } | ClusterError::Request { .. }) => true,
            // A cluster still being created becomes ACTIVE; other describe failures are
            // throttling and outages more often than not.
            Error::Cluster(ClusterError::Eks(EksError::NotActive { .. } | EksError::Describe { .. })) => true,
            // A refused restore waits for someone to fix the trail or the setting; even a
            // throttled check is better answered by a person invoking again than by a loop.
            Error::NotAudited(_) => false,
            // KMS throttling and outages pass; a missing grant does not, but telling the
            // two apart is KMS's to say, and a person asks again either way.
            Error::Fingerprint(_) => true,
            _ => false,
        }
    }

    /// The error's type as the Lambda error response names it, so callers and retry
    /// policies can tell bad input from a failure worth retrying.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::NotAllowed(_) => "NotAllowed",
            Error::Manifest(manifest::ManifestError::Store(_)) => "StoreUnavailable",
            Error::Manifest(_) => "ManifestRefused",
            Error::InvalidSettings(_) => "InvalidSettings",
            Error::Kinds(_) => "UnknownKind",
            Error::BackupNotFound { .. } => "BackupNotFound",
            Error::ObjectNotFound { .. } => "ObjectNotFound",
            Error::DrillRecordUnreadable { .. } => "DrillRecordRefused",
            Error::Fingerprint(_) => "FingerprintUnavailable",
            Error::NotAudited(_) => "NotAudited",
            Error::Cluster(cluster::ClusterError::Refused { .. }) => "ClusterUnauthorized",
            Error::Cluster(cluster::ClusterError::Eks(_)) => "ClusterNotAvailable",
            Error::Cluster(_) => "ClusterUnreachable",
            Error::Store(_) => "StoreUnavailable",
        }
    }
}
