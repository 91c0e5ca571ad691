//! `lifeboat`: asks the catalog function about backups (list, describe, history, diff)
//! and prints its answer as tables, or as JSON with `--json`. It invokes the function
//! through the AWS SDK with the caller's own credentials, so IAM decides who may ask and
//! CloudTrail records who did.

mod invoke;
mod render;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Ask lifeboat about the backups of an infrastructure.
#[derive(Parser)]
#[command(name = "lifeboat", version, about, long_about = None)]
struct Cli {
    /// The catalog function's name or ARN.
    #[arg(
        long,
        env = "LIFEBOAT_CATALOG_FUNCTION",
        default_value = "lifeboat-catalog",
        global = true
    )]
    function: String,
    /// The AWS region of the function (default: the AWS configuration's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Send requests to this endpoint instead of Lambda's (a local emulator).
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Print the function's answer as JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Where {
    /// The infrastructure whose backups to read.
    #[arg(long, short = 'i')]
    infrastructure: String,
    /// The backup bucket (default: the function's).
    #[arg(long)]
    bucket: Option<String>,
}

#[derive(Args)]
struct Range {
    /// The oldest run to include, RFC 3339 (e.g. 2026-11-22T00:00:00Z); default: no bound.
    #[arg(long)]
    from: Option<String>,
    /// The newest run to include, RFC 3339; default: now.
    #[arg(long)]
    to: Option<String>,
    /// At most this many backups, newest first (1 to 1000; default 50).
    #[arg(long)]
    limit: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// The backups of an infrastructure, newest first, with status, tenants, kinds,
    /// object and byte counts.
    List {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        range: Range,
    },
    /// One backup, per tenant and kind: counts, sizes, what was skipped and why, and
    /// whether every file still matches its checksum.
    Describe {
        #[command(flatten)]
        at: Where,
        /// `latest` or a run path YYYY/MM/DD/HHmmss.
        #[arg(long, default_value = "latest")]
        backup: String,
        /// Skip reading every file back to check its checksum.
        #[arg(long)]
        no_verify: bool,
    },
    /// One object across backups: when its content changed, to pick the backup to
    /// restore it from.
    History {
        #[command(flatten)]
        at: Where,
        /// Its kind, as Kubernetes spells it, or Kind.group.
        #[arg(long)]
        kind: String,
        /// Its namespace (the tenant); leave out for a cluster-scoped kind.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        /// Its name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        range: Range,
    },
    /// A backup against the live cluster (--live) or another backup (--against):
    /// objects added, removed and changed, with the changed fields. Secret values are
    /// never shown, only keyed fingerprints.
    Diff {
        #[command(flatten)]
        at: Where,
        /// `latest` or a run path YYYY/MM/DD/HHmmss.
        #[arg(long, default_value = "latest")]
        backup: String,
        /// Compare with the live cluster.
        #[arg(long, conflicts_with = "against", required_unless_present = "against")]
        live: bool,
        /// Compare with another backup, by its run path.
        #[arg(long)]
        against: Option<String>,
        /// The live cluster (default: the one the backup was taken from).
        #[arg(long, requires = "live")]
        cluster: Option<String>,
        /// The live cluster's region (default: the backup's).
        #[arg(long, requires = "live")]
        cluster_region: Option<String>,
        /// A role to assume to reach the live cluster.
        #[arg(long, requires = "live")]
        role_arn: Option<String>,
        /// The external ID that role's trust policy asks for.
        #[arg(long, requires = "role_arn")]
        external_id: Option<String>,
        /// Only this tenant (repeat for more).
        #[arg(long = "tenant")]
        tenants: Vec<String>,
        /// Only this kind (repeat for more).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Conceal ConfigMap values as Secret values always are.
        #[arg(long)]
        conceal_configmaps: bool,
    },
}

impl Command {
    /// The catalog event this command sends.
    fn event(&self) -> Value {
        let mut event = match self {
            Command::List { at, range } => {
                with_range(json!({"action": "list", "infrastructure": at.infrastructure}), range)
            }
            Command::Describe {
                at, backup, no_verify, ..
            } => {
                json!({"action": "describe", "infrastructure": at.infrastructure, "backup": backup, "verify": !no_verify})
            }
            Command::History {
                at,
                kind,
                namespace,
                name,
                range,
            } => {
                let mut e =
                    json!({"action": "history", "infrastructure": at.infrastructure, "kind": kind, "name": name});
                if let Some(ns) = namespace {
                    e["namespace"] = json!(ns);
                }
                with_range(e, range)
            }
            Command::Diff {
                at,
                backup,
                live,
                against,
                cluster,
                cluster_region,
                role_arn,
                external_id,
                tenants,
                kinds,
                conceal_configmaps,
            } => {
                let against = if *live {
                    "live".to_string()
                } else {
                    against.clone().unwrap_or_default()
                };
                let mut e = json!({"action": "diff", "infrastructure": at.infrastructure, "backup": backup, "against": against});
                for (field, value) in [
                    ("cluster", cluster),
                    ("region", cluster_region),
                    ("role_arn", role_arn),
                    ("external_id", external_id),
                ] {
                    if let Some(v) = value {
                        e[field] = json!(v);
                    }
                }
                if !tenants.is_empty() {
                    e["tenants"] = json!(tenants);
                }
                if !kinds.is_empty() {
                    e["kinds"] = json!(kinds);
                }
                if *conceal_configmaps {
                    e["conceal_configmaps"] = json!(true);
                }
                e
            }
        };
        let at = match self {
            Command::List { at, .. }
            | Command::Describe { at, .. }
            | Command::History { at, .. }
            | Command::Diff { at, .. } => at,
        };
        if let Some(bucket) = &at.bucket {
            event["bucket"] = json!(bucket);
        }
        event
    }
}

fn with_range(mut event: Value, range: &Range) -> Value {
    if let Some(from) = &range.from {
        event["from"] = json!(from);
    }
    if let Some(to) = &range.to {
        event["to"] = json!(to);
    }
    if let Some(limit) = range.limit {
        event["limit"] = json!(limit);
    }
    event
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let event = cli.command.event();
    let client = invoke::client(cli.region.clone(), cli.endpoint_url.clone()).await;
    match invoke::invoke(&client, &cli.function, &event).await {
        Ok(answer) => {
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&answer).expect("JSON prints"));
            } else {
                print!("{}", render::render(&answer));
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lifeboat: {error}");
            error.exit_code()
        }
    }
}
