//! Replaying a backup into a cluster: choose the backup and read its manifest at its
//! only version, decide what may be written ([`plan`], the trust boundary), read and
//! verify each file at the version the manifest records ([`load`]), then write in
//! dependency order ([`write`]), waiting where the cluster must catch up ([`wait`]).

mod failure;
mod load;
mod plan;
mod prepare;
mod wait;
mod write;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use tracing::info;

use crate::Result;
use crate::audit::Audit;
use crate::cluster::ClusterAccess;
use crate::config::DEFAULT_RESTORE_CONCURRENCY;
use crate::event::{Invocation, RestoreRequest};
use crate::kinds::ServedKinds;
use crate::manifest::{self, RunError};
use crate::report::{Action, ObjectResult, Report};
use crate::store::Store;
use plan::Admission;
use write::{CreatedFirst, Writer};

/// Files read and verified ahead of the writes.
const FILES_AHEAD: usize = 4;

/// What a restore needs from outside, built once per function instance.
#[derive(Clone)]
pub struct Restore {
    /// How clusters are reached.
    pub cluster: ClusterAccess,
    /// The S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The audit check that must pass, when required, before anything is read or written.
    pub audit: Audit,
    /// Objects written at once within one kind.
    pub concurrency: usize,
    /// The clock; tests pass their own.
    pub clock: fn() -> DateTime<Utc>,
}

impl Restore {
    /// A restore with the default concurrency ([`DEFAULT_RESTORE_CONCURRENCY`]).
    pub fn new(cluster: ClusterAccess, s3: aws_sdk_s3::Client, audit: Audit) -> Self {
        Self {
            cluster,
            s3,
            audit,
            concurrency: DEFAULT_RESTORE_CONCURRENCY,
            clock: Utc::now,
        }
    }

    /// Runs one restore. When auditing is required, a restore the trail would not record
    /// is refused first, before a backup object is read (a dry run reads Secrets too) or
    /// anything is written.
    pub async fn run(&self, request: &RestoreRequest, invocation: &Invocation) -> Result<Report> {
        self.run_observed(request, invocation, &mut |_| {}).await
    }

    /// [`Self::run`], handing `observe` every object's result, including those the report
    /// counts but does not list: a drill compares each object of its two passes.
    pub(crate) async fn run_observed(
        &self,
        request: &RestoreRequest,
        invocation: &Invocation,
        observe: &mut (dyn FnMut(&ObjectResult) + Send),
    ) -> Result<Report> {
        let started_at = (self.clock)();
        let audit = self
            .audit
            .check_reader(&request.bucket, invocation, &request.infrastructure)
            .await?;
        let mut report = Report::new(
            "restore",
            &request.infrastructure,
            &request.cluster,
            &request.bucket,
            started_at,
            audit,
        );
        report.dry_run = Some(request.dry_run);
        let store = Store::new(self.s3.clone(), &request.bucket, None);
        let (layout, manifest) =
            manifest::find(&store, &request.source_infrastructure, &request.backup, started_at).await?;
        report.backup = Some(format!("s3://{}/{}", request.bucket, layout.prefix()));
        report.run_path = Some(layout.run_path().to_string());
        plan::check_filters(request, &manifest)?;

        let client = self
            .cluster
            .client(&request.cluster, &request.region, request.role.as_ref())
            .await?;
        let served = ServedKinds::new(client.clone(), &request.cluster);
        let selected = plan::select(request, &manifest);
        info!(
            backup = layout.run_path(),
            files = selected.len(),
            objects = selected.iter().map(|s| s.names.len()).sum::<usize>(),
            dry_run = request.dry_run,
            "restore started"
        );

        let writer = Writer {
            client: &client,
            request,
            created_first: CreatedFirst::default(),
            rewritten: Default::default(),
        };
        let concurrency = self.concurrency.max(1);
        for group in plan::in_restore_order(selected, &manifest) {
            // Each file is admitted against the cluster as it is now, after the groups
            // before it: a custom resource's kind is served once its definition is.
            let mut admitted = Vec::new();
            for selected in group {
                let file_kind = selected.file.kind.clone();
                let results = match plan::admit(selected, request, &served, |group, kind| {
                    writer.created_first.definition_of(group, kind)
                })
                .await
                {
                    Ok(Admission::Write(file, refused)) => {
                        report.kinds.insert(file.kind.kind.clone(), file.kind.api_version());
                        admitted.push(file);
                        refused
                    }
                    Ok(Admission::Refuse(refused)) => refused,
                    Err(e) => {
                        report.error(RunError {
                            tenant: None,
                            kind: Some(file_kind),
                            name: None,
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                for r in results {
                    observe(&r);
                    report.record(r);
                }
            }
            // A few files are read and verified ahead of the writes, so the writes never
            // wait on S3; each file is verified whole before any object of it is written.
            let results: Vec<ObjectResult> = stream::iter(admitted)
                .map(|file| load::load(&store, &layout, file, request.label_selector.as_ref()))
                .buffered(FILES_AHEAD)
                .flat_map(stream::iter)
                .map(|job| writer.restore(job))
                .buffer_unordered(concurrency)
                .collect()
                .await;
            // A new definition is served only once the API server has established it;
            // its custom resources, which come later, would be refused before that.
            let created_definitions: Vec<&str> = results
                .iter()
                .filter(|r| r.kind == "CustomResourceDefinition" && r.action == Action::Created)
                .map(|r| r.name.as_str())
                .collect();
            for name in created_definitions {
                if let Err(failure) = wait::wait_until_established(&client, name).await {
                    report.error(RunError {
                        tenant: None,
                        kind: Some("CustomResourceDefinition".into()),
                        name: Some(name.into()),
                        message: failure.to_string(),
                    });
                }
            }
            if request.dry_run {
                writer.created_first.note(&results);
            }
            for r in results {
                observe(&r);
                report.record(r);
            }
        }
        report.namespace_references_rewritten = writer.rewritten.into_inner();
        Ok(report.finish((self.clock)()))
    }
}
