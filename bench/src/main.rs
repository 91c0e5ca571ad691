//! The benchmark: lifeboat's backup and restore beside the physical floor (a
//! bare paged LIST for the backup; bare POSTs of the same objects for the restore) and
//! beside what a team writes without lifeboat (kubectl piped into the aws CLI, and
//! `kubectl apply --server-side`), in one run against the local stack.
//!
//! Run it with `bash infra/bench.sh`, which builds the release binaries and sources the
//! stack's environment. Every figure is a median of several runs and wall times are
//! shown as ratios to the floor, because the machines are shared and noisy; the targets
//! are checked and printed, never asserted: timing belongs here, not in the tests.
//!
//! The functions run as Lambda runs them: a fresh process per measured invocation,
//! talking to a Runtime API (served here, on loopback) for one event. That gives the
//! cold start (exec to the runtime's first request for an event) and the peak resident
//! memory of exactly one run (the process's VmHWM once it has answered).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Marks what the generator made, so emptying a tenant never touches what the cluster
/// made itself (service-account tokens, kube-root-ca.crt).
const SEED_LABEL: &str = "lifeboat.bench/seed";

/// What one run measures.
#[derive(Debug, Clone)]
struct Profile {
    name: String,
    tenants: usize,
    secrets: usize,
    config_maps: usize,
    reps: usize,
    /// Tenants are named `<prefix>-0000`, ...
    tenant_prefix: String,
}

impl Profile {
    /// The profile of that name, if there is one.
    fn named(name: &str) -> Option<Profile> {
        let (tenants, per_kind, reps) = match name {
            "tiny" => (2, 3, 1),
            "default" => (100, 50, 3),
            "large" => (1000, 50, 3),
            _ => return None,
        };
        Some(Profile {
            name: name.into(),
            tenants,
            secrets: per_kind,
            config_maps: per_kind,
            reps,
            tenant_prefix: format!("lifeboat-bench-{name}"),
        })
    }

    fn objects(&self) -> usize {
        self.tenants * (self.secrets + self.config_maps)
    }

    fn tenant_names(&self) -> Vec<String> {
        (0..self.tenants)
            .map(|i| format!("{}-{i:04}", self.tenant_prefix))
            .collect()
    }
}

struct Options {
    profile: Profile,
    json: Option<PathBuf>,
    bin_dir: PathBuf,
    zip_dir: PathBuf,
    work_dir: PathBuf,
    script_reps: usize,
    apply_reps: usize,
    access: String,
    delete_tenants: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--profile tiny|default|large] [--reps N] [--json FILE] [--bin-dir DIR] [--zip-dir DIR] \
         [--work-dir DIR] [--script-reps N] [--apply-reps N] [--access eks|kubeconfig] [--tenant-prefix P] [--delete-tenants]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut profile = Profile::named("default").expect("the default profile exists");
    let mut reps = None;
    let mut json = None;
    let mut bin_dir = root.join("target/release");
    let mut zip_dir = root.join("target/lambda");
    let mut work_dir = root.join("target/bench");
    let mut script_reps = None;
    let mut apply_reps = None;
    let mut access = "eks".to_string();
    let mut tenant_prefix = None;
    let mut delete_tenants = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--profile" => {
                let name = value();
                profile = Profile::named(&name).unwrap_or_else(|| {
                    eprintln!("unknown profile '{name}': use tiny, default or large");
                    usage()
                })
            }
            "--reps" => reps = Some(value().parse().unwrap_or_else(|_| usage())),
            "--json" => json = Some(PathBuf::from(value())),
            "--bin-dir" => bin_dir = PathBuf::from(value()),
            "--zip-dir" => zip_dir = PathBuf::from(value()),
            "--work-dir" => work_dir = PathBuf::from(value()),
            "--tenant-prefix" => tenant_prefix = Some(value()),
            "--delete-tenants" => delete_tenants = true,
            "--script-reps" => script_reps = Some(value().parse().unwrap_or_else(|_| usage())),
            "--access" => {
                access = value();
                if access != "eks" && access != "kubeconfig" {
                    usage()
                }
            }
            "--apply-reps" => apply_reps = Some(value().parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    if let Some(prefix) = tenant_prefix {
        profile.tenant_prefix = prefix;
    }
    if let Some(reps) = reps {
        profile.reps = std::cmp::max(reps, 1);
    }
    Options {
        json,
        bin_dir,
        zip_dir,
        work_dir,
        script_reps: script_reps.unwrap_or(profile.reps).min(profile.reps),
        apply_reps: apply_reps.unwrap_or(profile.reps).min(profile.reps),
        access,
        profile,
        delete_tenants,
    }
}

fn required(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run `bash infra/bench.sh`, or source the stack's env file"))
}

// ---------------------------------------------------------------------------------------
// The generator

/// A value of `len` printable bytes that differs per object and key, so nothing about
/// the data is unusually compressible or repetitive.
fn filler(seed: &str, len: usize) -> String {
    let mut state: u64 = seed.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=";
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

fn seed_meta(name: &str, tenant: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(tenant.into()),
        labels: Some(BTreeMap::from([
            (SEED_LABEL.to_string(), "true".to_string()),
            (
                "app.kubernetes.io/name".to_string(),
                format!("svc-{}", &name[..name.len().min(12)]),
            ),
            ("team".to_string(), "platform".to_string()),
        ])),
        annotations: Some(BTreeMap::from([(
            "lifeboat.bench/description".to_string(),
            "generated by the lifeboat benchmark".to_string(),
        )])),
        ..Default::default()
    }
}

/// A Secret as teams keep them: a few keys of a few hundred bytes.
fn secret(tenant: &str, i: usize) -> Secret {
    let name = format!("app-secret-{i:04}");
    let data = ["username", "password", "api-token"]
        .iter()
        .map(|k| {
            let v = filler(&format!("{tenant}/{name}/{k}"), 220);
            (k.to_string(), ByteString(v.into_bytes()))
        })
        .collect();
    Secret {
        metadata: seed_meta(&name, tenant),
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

/// A ConfigMap as teams keep them: a few keys of a few hundred bytes.
fn config_map(tenant: &str, i: usize) -> ConfigMap {
    let name = format!("app-config-{i:04}");
    let data = ["application.properties", "logging.yaml", "features.json"]
        .iter()
        .map(|k| (k.to_string(), filler(&format!("{tenant}/{name}/{k}"), 300)))
        .collect();
    ConfigMap {
        metadata: seed_meta(&name, tenant),
        data: Some(data),
        ..Default::default()
    }
}

/// Creates what is missing of the profile's tenants and objects; a second run against
/// the same stack finds them all and creates nothing.
async fn seed(kube: &kube::Client, profile: &Profile) {
    let tenants = profile.tenant_names();
    let started = Instant::now();
    let created: usize = stream::iter(tenants.iter())
        .map(|tenant| seed_tenant(kube, profile, tenant))
        .buffer_unordered(8)
        .fold(0, |sum, n| async move { sum + n })
        .await;
    eprintln!(
        "[bench] seeded {} tenants ({} objects, {created} created now) in {:.1}s",
        tenants.len(),
        profile.objects(),
        started.elapsed().as_secs_f64()
    );
}

async fn seed_tenant(kube: &kube::Client, profile: &Profile, tenant: &str) -> usize {
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(tenant.into()),
            labels: Some(BTreeMap::from([(
                "lifeboat.bench/profile".to_string(),
                profile.name.clone(),
            )])),
            ..Default::default()
        },
        ..Default::default()
    };
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("cannot create namespace {tenant}: {e}"),
    }
    let labelled = ListParams::default().labels(&format!("{SEED_LABEL}=true"));
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), tenant);
    let config_maps: Api<ConfigMap> = Api::namespaced(kube.clone(), tenant);
    let have_secrets: std::collections::BTreeSet<String> = secrets
        .list_metadata(&labelled)
        .await
        .expect("secrets list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    let have_config_maps: std::collections::BTreeSet<String> = config_maps
        .list_metadata(&labelled)
        .await
        .expect("config maps list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    let mut created = 0;
    for i in 0..profile.secrets {
        let s = secret(tenant, i);
        if !have_secrets.contains(s.metadata.name.as_deref().unwrap_or_default()) {
            create_ignoring_conflict(&secrets, &s).await;
            created += 1;
        }
    }
    for i in 0..profile.config_maps {
        let c = config_map(tenant, i);
        if !have_config_maps.contains(c.metadata.name.as_deref().unwrap_or_default()) {
            create_ignoring_conflict(&config_maps, &c).await;
            created += 1;
        }
    }
    created
}

async fn create_ignoring_conflict<K>(api: &Api<K>, object: &K)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("cannot create a seed object: {e}"),
    }
}

/// Deletes the generated objects of every tenant, keeping the namespaces, and waits
/// until none is left.
async fn empty_tenants(kube: &kube::Client, profile: &Profile) {
    let labelled = ListParams::default().labels(&format!("{SEED_LABEL}=true"));
    stream::iter(profile.tenant_names())
        .map(|tenant| {
            let labelled = labelled.clone();
            async move {
                let secrets: Api<Secret> = Api::namespaced(kube.clone(), &tenant);
                let config_maps: Api<ConfigMap> = Api::namespaced(kube.clone(), &tenant);
                secrets
                    .delete_collection(&DeleteParams::default(), &labelled)
                    .await
                    .expect("secrets are deleted");
                config_maps
                    .delete_collection(&DeleteParams::default(), &labelled)
                    .await
                    .expect("config maps are deleted");
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let left = seeded_count(kube, profile).await;
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} seeded objects still there after 300s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many generated objects the tenants hold now.
async fn seeded_count(kube: &kube::Client, profile: &Profile) -> usize {
    let labelled = ListParams::default().labels(&format!("{SEED_LABEL}=true"));
    stream::iter(profile.tenant_names())
        .map(|tenant| {
            let labelled = labelled.clone();
            async move {
                let secrets: Api<Secret> = Api::namespaced(kube.clone(), &tenant);
                let config_maps: Api<ConfigMap> = Api::namespaced(kube.clone(), &tenant);
                secrets
                    .list_metadata(&labelled)
                    .await
                    .expect("secrets list")
                    .items
                    .len()
                    + config_maps
                        .list_metadata(&labelled)
                        .await
                        .expect("config maps list")
                        .items
                        .len()
            }
        })
        .buffer_unordered(8)
        .fold(0, |sum, n| async move { sum + n })
        .await
}

// ---------------------------------------------------------------------------------------
// The floor

/// A bare paged LIST of Secrets and ConfigMaps, 500 a page, the bytes read and thrown
/// away: over all namespaces (`tenants` None), or namespace by namespace over the
/// tenants, which is the same scope as the backup. Returns the bytes read.
async fn floor(kube: &kube::Client, tenants: Option<&[String]>) -> u64 {
    let scopes: Vec<String> = match tenants {
        None => vec!["/api/v1".into()],
        Some(tenants) => tenants.iter().map(|t| format!("/api/v1/namespaces/{t}")).collect(),
    };
    let mut bytes = 0u64;
    for (scope, resource) in scopes.iter().flat_map(|s| ["secrets", "configmaps"].map(|r| (s, r))) {
        let mut token: Option<String> = None;
        loop {
            let mut uri = format!("{scope}/{resource}?limit=500");
            if let Some(t) = &token {
                uri.push_str(&format!("&continue={}", form_escape(t)));
            }
            let request = http::Request::get(uri).body(Vec::new()).expect("a request builds");
            let text = kube.request_text(request).await.expect("the floor's LIST succeeds");
            bytes += text.len() as u64;
            // Only the continue token is read, as any lister must.
            token = continue_token(&text);
            if token.is_none() {
                break;
            }
        }
    }
    bytes
}

/// The `metadata.continue` of a list response, found without parsing the items.
fn continue_token(text: &str) -> Option<String> {
    let at = text.find("\"continue\":\"")? + "\"continue\":\"".len();
    let end = text[at..].find('"')?;
    Some(text[at..at + end].to_string()).filter(|t| !t.is_empty())
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The restore's floor

/// One object of a backup as the bare request that creates it: where it is POSTed, and
/// its stored JSON.
struct Create {
    path: String,
    body: Vec<u8>,
}

/// The generated objects in the files downloaded into `dir`
/// (`k8s/namespaces/<tenant>/<resource>.json`, core kinds), each as the POST that
/// creates it. The tenants' Namespaces are left out: the floor creates into the emptied
/// tenants, where the restore finds its Namespaces already there.
fn creates(dir: &Path) -> Vec<Create> {
    let tenants = dir.join("k8s/namespaces");
    let mut creates = Vec::new();
    for tenant in std::fs::read_dir(&tenants).expect("the backup was downloaded") {
        let tenant = tenant.expect("the folder lists").path();
        let namespace = tenant
            .file_name()
            .expect("a tenant's folder")
            .to_string_lossy()
            .into_owned();
        for file in std::fs::read_dir(&tenant).expect("the tenant's folder lists") {
            let file = file.expect("the folder lists").path();
            let resource = file.file_stem().expect("a file").to_string_lossy().into_owned();
            let list: Value = serde_json::from_slice(&std::fs::read(&file).expect("the file reads")).expect("a List");
            // The generated objects only: the restore skips those the cluster made.
            let generated = |item: &&Value| item["metadata"]["labels"][SEED_LABEL] == "true";
            for item in list["items"]
                .as_array()
                .expect("a List has items")
                .iter()
                .filter(generated)
            {
                creates.push(Create {
                    path: format!("/api/v1/namespaces/{namespace}/{resource}"),
                    body: serde_json::to_vec(item).expect("an object serialises"),
                });
            }
        }
    }
    creates
}

/// POSTs every object, `concurrency` at a time, and reads nothing of the answers: the
/// least a restore can ask of the API server. Only the requests are timed; reading,
/// verifying and decoding the backup are left out.
async fn create_floor(kube: &kube::Client, creates: &[Create], concurrency: usize) {
    stream::iter(creates)
        .map(|c| async move {
            let request = http::Request::post(c.path.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(c.body.clone())
                .expect("a request builds");
            kube.request_text(request).await.expect("the floor's create succeeds");
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
}

// ---------------------------------------------------------------------------------------
// One function invocation, as Lambda makes it

/// How the functions, and kubectl beside them, reach the cluster. Both sides always
/// authenticate the same way, as the API server's cost per request depends on it.
enum Access {
    /// As deployed: each function's own IAM role (assumed here through the emulator's
    /// STS) and an EKS token signed with it, which the API server checks by webhook and
    /// then caches. kubectl gets a token of the same role, as `aws eks get-token` makes.
    Eks {
        backup: aws_credential_types::Credentials,
        restore: aws_credential_types::Credentials,
    },
    /// The stack's admin kubeconfig: a client certificate, verified on every request.
    Kubeconfig,
}

impl Access {
    async fn new(kind: &str) -> Access {
        match kind {
            "kubeconfig" => Access::Kubeconfig,
            _ => {
                let role = |name| async move {
                    lifeboat_tests::eks::session_credentials(&required(name), "lifeboat-bench").await
                };
                Access::Eks {
                    backup: role("LIFEBOAT_BACKUP_ROLE_ARN").await,
                    restore: role("LIFEBOAT_RESTORE_ROLE_ARN").await,
                }
            }
        }
    }

    fn credentials(&self, function: &str) -> Option<&aws_credential_types::Credentials> {
        match self {
            Access::Eks { backup, .. } if function == "backup" => Some(backup),
            Access::Eks { restore, .. } => Some(restore),
            Access::Kubeconfig => None,
        }
    }

    /// The environment of a function binary.
    fn env(&self, function: &str) -> Vec<(String, String)> {
        match self.credentials(function) {
            Some(c) => vec![
                ("LIFEBOAT_CLUSTER_ACCESS".to_string(), "eks".to_string()),
                ("AWS_ACCESS_KEY_ID".into(), c.access_key_id().into()),
                ("AWS_SECRET_ACCESS_KEY".into(), c.secret_access_key().into()),
                ("AWS_SESSION_TOKEN".into(), c.session_token().unwrap_or_default().into()),
            ],
            None => vec![("LIFEBOAT_CLUSTER_ACCESS".into(), "kubeconfig".into())],
        }
    }

    /// A client authenticated as `function` is (as kubectl is, by [`Access::kubectl_env`]),
    /// or `admin` when the functions use the admin kubeconfig.
    async fn client(&self, function: &str, dir: &Path, admin: &kube::Client) -> kube::Client {
        let Some((_, path)) = self
            .kubectl_env(function, dir)
            .into_iter()
            .find(|(k, _)| k == "KUBECONFIG")
        else {
            return admin.clone();
        };
        let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("the kubeconfig just written reads");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("the kubeconfig is complete");
        kube::Client::try_from(config).expect("a client builds")
    }

    /// The environment of kubectl doing what `function` does: a kubeconfig (written into
    /// `dir`) holding a fresh token of the function's role, or none for the admin one.
    fn kubectl_env(&self, function: &str, dir: &Path) -> Vec<(String, String)> {
        let Some(credentials) = self.credentials(function) else {
            return Vec::new();
        };
        let cluster = required("LIFEBOAT_CLUSTER");
        let region = required("AWS_REGION");
        let token = lifeboat::eks::presigned_token(credentials, &cluster, &region, std::time::SystemTime::now())
            .expect("a token is signed");
        let kubeconfig = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {
                "server": required("LIFEBOAT_KUBE_SERVER"),
                "certificate-authority": required("LIFEBOAT_KUBE_CA"),
            }}],
            "users": [{"name": function, "user": {"token": token}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": function}}],
            "current-context": cluster,
        });
        let path = dir.join(format!("kubeconfig-{function}.json"));
        std::fs::write(&path, kubeconfig.to_string()).expect("the kubeconfig is writable");
        vec![("KUBECONFIG".into(), path.display().to_string())]
    }
}

/// What one invocation of a function binary measured.
struct Invoked {
    /// From exec to the runtime's first request for an event.
    cold_start: Duration,
    /// From handing over the event to receiving the answer.
    wall: Duration,
    /// Peak resident memory of the process (VmHWM), in bytes.
    peak_rss: u64,
    /// The function's answer: its report, or its error.
    response: Value,
    /// Whether the answer came to the error endpoint.
    failed: bool,
}

/// Runs `binary` as a fresh function instance and hands it one event.
async fn invoke(binary: &Path, function: &str, access: &Access, event: &Value, log: &Path) -> Invoked {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("the listener has an address");
    let log_file = std::fs::File::create(log).expect("the function log is writable");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(access.env(function))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("the log file clones"))
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let pid = child.id().expect("the child has a pid");
    let (events, mut received) = mpsc::unbounded_channel();
    let body = serde_json::to_vec(event).expect("the event serialises");
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:lifeboat-{function}");
    let handed_over_once = Arc::new(AtomicBool::new(false));
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let runtime = Runtime {
                event: body.clone(),
                arn: arn.clone(),
                events: events.clone(),
                handed_over: handed_over_once.clone(),
            };
            tokio::spawn(serve_runtime(stream, runtime));
        }
    });
    let deadline = Duration::from_secs(1800);
    let mut cold_start = None;
    let mut handed_over = None;
    let outcome = loop {
        let next = tokio::select! {
            e = received.recv() => e,
            status = child.wait() => panic!("{function} exited early ({status:?}); see {}", log.display()),
        };
        match tokio::time::timeout(deadline, async { next }).await {
            Ok(Some(RuntimeEvent::Next(at))) if cold_start.is_none() => {
                cold_start = Some(at - started);
                handed_over = Some(at);
            }
            Ok(Some(RuntimeEvent::Next(_))) => {}
            Ok(Some(RuntimeEvent::Answer { at, body, failed })) => break (at, body, failed),
            Ok(None) | Err(_) => panic!("{function} did not answer; see {}", log.display()),
        }
    };
    let peak_rss = vm_hwm(pid).unwrap_or(0);
    let _ = child.start_kill();
    let _ = child.wait().await;
    server.abort();
    let (at, body, failed) = outcome;
    Invoked {
        cold_start: cold_start.expect("an answer follows a request for the event"),
        wall: at - handed_over.expect("the event was handed over"),
        peak_rss,
        response: serde_json::from_slice(&body).unwrap_or(Value::Null),
        failed,
    }
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user and system, in seconds) that a process spent; with `children`, what
/// its children it has waited for spent instead. /proc counts in USER_HZ ticks, which
/// Linux fixes at 100 per second for user space.
fn cpu_of(pid: &str, children: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not. Counting from the
    // state (field 3), utime, stime, cutime and cstime are fields 14 to 17.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let at = if children { 13 } else { 11 };
    let ticks: f64 = fields
        .get(at..at + 2)?
        .iter()
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    Some(ticks / 100.0)
}

/// Where a step's CPU time went: the measured client (the function, or kubectl and the
/// aws CLI), and each process of the stack it talks to. On a machine of few cores these
/// share the cores, so a step's wall time is at least its total over the cores.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Cpu {
    client: f64,
    kube_apiserver: f64,
    etcd: f64,
    aws_emulator: f64,
}

impl Cpu {
    fn total(&self) -> f64 {
        self.client + self.kube_apiserver + self.etcd + self.aws_emulator
    }

    fn median(runs: &[Cpu]) -> Cpu {
        let of = |f: fn(&Cpu) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        Cpu {
            client: of(|c| c.client),
            kube_apiserver: of(|c| c.kube_apiserver),
            etcd: of(|c| c.etcd),
            aws_emulator: of(|c| c.aws_emulator),
        }
    }
}

/// The stack's processes, found by the pid files `infra/up.sh` writes.
struct Stack {
    pids: [String; 3],
}

impl Stack {
    fn find(stack_dir: &Path) -> Stack {
        let pid = |name: &str| {
            let path = stack_dir.join("run").join(format!("{name}.pid"));
            std::fs::read_to_string(&path)
                .map(|p| p.trim().to_string())
                .unwrap_or_else(|e| panic!("cannot read {}: {e}; is the stack up?", path.display()))
        };
        Stack {
            pids: [pid("kube-apiserver"), pid("etcd"), pid("moto")],
        }
    }

    /// Runs `step` and tells where the CPU went meanwhile. The client is this process
    /// for [`Client::Bench`] (the floor lists in-process); for [`Client::Children`] it is
    /// what the processes it started and reaped meanwhile spent: a function (reaped
    /// once it has answered), kubectl, the script and its aws CLI.
    async fn measure<T>(&self, client: Client, step: impl std::future::Future<Output = T>) -> (T, Cpu) {
        let from = self.cpu(client);
        let out = step.await;
        let now = self.cpu(client);
        (
            out,
            Cpu {
                client: now.client - from.client,
                kube_apiserver: now.kube_apiserver - from.kube_apiserver,
                etcd: now.etcd - from.etcd,
                aws_emulator: now.aws_emulator - from.aws_emulator,
            },
        )
    }

    /// The CPU spent so far.
    fn cpu(&self, client: Client) -> Cpu {
        let of = |pid: &str| cpu_of(pid, false).unwrap_or(0.0);
        Cpu {
            client: cpu_of("self", client == Client::Children).unwrap_or(0.0),
            kube_apiserver: of(&self.pids[0]),
            etcd: of(&self.pids[1]),
            aws_emulator: of(&self.pids[2]),
        }
    }
}

/// Whose CPU a step's client time is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    /// The benchmark's own process.
    Bench,
    /// The processes it starts.
    Children,
}

/// The Runtime API of one function instance.
struct Runtime {
    event: Vec<u8>,
    arn: String,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    /// Whether the instance's one event was handed over already.
    handed_over: Arc<AtomicBool>,
}

enum RuntimeEvent {
    Next(Instant),
    Answer { at: Instant, body: Vec<u8>, failed: bool },
}

/// One connection of the function's runtime client to the Runtime API: the first
/// request for an event gets `event`; later ones are left waiting, as Lambda leaves a
/// frozen instance.
async fn serve_runtime(stream: TcpStream, runtime: Runtime) {
    let Runtime {
        event,
        arn,
        events,
        handed_over,
    } = runtime;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let Some((method, path, body)) = read_request(&mut reader).await else {
            return;
        };
        let at = Instant::now();
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let _ = events.send(RuntimeEvent::Next(at));
            if handed_over.swap(true, Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let deadline_ms = (std::time::SystemTime::now() + Duration::from_secs(900))
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_millis();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 lambda-runtime-aws-request-id: bench-request\r\nlambda-runtime-deadline-ms: {deadline_ms}\r\n\
                 lambda-runtime-invoked-function-arn: {arn}\r\nlambda-runtime-trace-id: Root=1-bench\r\n\r\n",
                event.len()
            );
            if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&event).await.is_err() {
                return;
            }
        } else {
            let failed = path.ends_with("/error");
            if path.contains("/invocation/") {
                let _ = events.send(RuntimeEvent::Answer { at, body, failed });
            } else if path.ends_with("/init/error") {
                let _ = events.send(RuntimeEvent::Answer { at, body, failed: true });
            }
            let reply = "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n";
            if write.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// Reads one HTTP/1.1 request: method, path and body (by length or chunked).
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).await.ok()?;
    }
    Some((method, path, body))
}

// ---------------------------------------------------------------------------------------
// S3 requests, as the AWS emulator saw them

/// The S3 requests a run made, from the lines the AWS emulator logged between two byte
/// offsets of its log. The emulator logs each request before its response is sent, so
/// once a run has its answers, its lines are all there.
struct S3Log {
    path: PathBuf,
}

/// What one run asked of the bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct S3Requests {
    /// Every request to the bucket, reads and writes: what S3 bills a run for.
    all: u64,
    /// The writes (PUT and POST) under the run's own keys.
    writes: u64,
}

impl S3Requests {
    /// Each count's median over the runs.
    fn median(runs: &[S3Requests]) -> S3Requests {
        let of = |count: fn(&S3Requests) -> u64| median_u64(&runs.iter().map(count).collect::<Vec<_>>());
        S3Requests {
            all: of(|r| r.all),
            writes: of(|r| r.writes),
        }
    }
}

impl S3Log {
    fn offset(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// The requests logged in `from..to` (byte offsets taken around the run); writes are
    /// counted as `writes` says.
    fn between(&self, from: u64, to: u64, bucket: &str, writes: Writes<'_>) -> S3Requests {
        // Only the run's window is read: the log holds every request since the stack
        // started, tens of megabytes after a few benchmark runs.
        let mut window = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&self.path)
            && file.seek(SeekFrom::Start(from)).is_ok()
        {
            let _ = file.take(to.saturating_sub(from)).read_to_end(&mut window);
        }
        s3_requests(&String::from_utf8_lossy(&window), bucket, writes)
    }
}

/// Which writes logged during a run are counted as the run's.
#[derive(Clone, Copy)]
enum Writes<'a> {
    /// Those under any of these key prefixes.
    Under(&'a [&'a str]),
    /// Every write but another infrastructure's files, drill records and claims: the
    /// tests run beside the benchmark and write their own runs meanwhile.
    NotOfOtherThan(&'a str),
}

impl Writes<'_> {
    fn counts(&self, key: &str) -> bool {
        let key = key.split_once('?').map_or(key, |(key, _)| key);
        match self {
            Writes::Under(prefixes) => prefixes.iter().any(|p| key.starts_with(p)),
            Writes::NotOfOtherThan(infrastructure) => {
                let of = key
                    .split_once("/infra/")
                    .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
                    .or_else(|| {
                        key.strip_prefix("claims/")
                            .and_then(|c| c.rsplit('/').next()?.strip_suffix(".json"))
                    });
                of.is_none_or(|of| of == *infrastructure)
            }
        }
    }
}

/// Counts a log's requests to `bucket` (path-style, as the functions, the SDK and the aws
/// CLI address the emulator) in lines like `127.0.0.1 - - [22/Nov/2026 09:52:58] "PUT
/// /bucket/key?x-id=PutObject HTTP/1.1" 200 -`. The emulator's other services (STS, EKS,
/// CloudTrail) are not S3's requests and are left out.
fn s3_requests(log: &str, bucket: &str, writes: Writes<'_>) -> S3Requests {
    let mut counted = S3Requests::default();
    for line in log.lines() {
        let mut request = line.split_once('"').map_or("", |(_, r)| r).split(' ');
        let (Some(method), Some(target)) = (request.next(), request.next()) else {
            continue;
        };
        let Some(rest) = target.strip_prefix('/').and_then(|t| t.strip_prefix(bucket)) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
            continue;
        }
        counted.all += 1;
        let key = rest.strip_prefix('/').unwrap_or("");
        if matches!(method, "PUT" | "POST") && writes.counts(key) {
            counted.writes += 1;
        }
    }
    counted
}

async fn stored_bytes(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.expect("the bucket lists").contents() {
            total += o.size().unwrap_or(0) as u64;
            keys.extend(o.key().map(str::to_string));
        }
    }
    (total, keys)
}

// ---------------------------------------------------------------------------------------
// Results

#[derive(Debug, Clone, Serialize)]
struct Row {
    step: &'static str,
    what: String,
    /// Median wall time.
    wall_s: f64,
    /// Every run's wall time.
    runs_s: Vec<f64>,
    /// Median wall time over the floor's.
    x_floor: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    peak_rss_mib: Option<f64>,
    /// Every request to the bucket (reads and writes), median per run.
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_writes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3_mb_written: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_read_mb: Option<f64>,
    /// Median CPU seconds, by process.
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_s: Option<Cpu>,
}

#[derive(Debug, Clone, Serialize)]
struct Target {
    target: String,
    measured: String,
    met: bool,
    /// For a target that is a ratio of two steps, the ratio in each repetition that ran
    /// both. The verdict is taken on the medians; the spread of these says how far the
    /// machine's noise moves the ratio from one repetition to the next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    per_repetition: Vec<f64>,
}

impl Target {
    /// A target that is not a ratio of steps.
    fn single(target: String, measured: String, met: bool) -> Target {
        Target {
            target,
            measured,
            met,
            per_repetition: Vec::new(),
        }
    }

    /// A target that `ratio` (the medians' ratio) meets when `met` says so, with the
    /// ratio of each repetition beside it.
    fn ratio(target: &str, ratio: f64, digits: usize, per_repetition: Vec<f64>, met: impl Fn(f64) -> bool) -> Target {
        let mut measured = format!("{ratio:.digits$}x");
        if per_repetition.len() > 1 {
            let low = per_repetition.iter().copied().fold(f64::INFINITY, f64::min);
            let high = per_repetition.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            measured.push_str(&format!(" (by repetition {low:.digits$}x to {high:.digits$}x)"));
        }
        Target {
            target: target.into(),
            measured,
            met: met(ratio),
            per_repetition,
        }
    }
}

/// `over[i] / under[i]` for each repetition that ran both steps.
fn ratios(over: &[f64], under: &[f64]) -> Vec<f64> {
    over.iter().zip(under).map(|(o, u)| o / u).collect()
}

#[derive(Debug, Clone, Serialize)]
struct Results {
    profile: String,
    tenants: usize,
    secrets_per_tenant: usize,
    config_maps_per_tenant: usize,
    objects: usize,
    listed_mb: f64,
    repetitions: usize,
    machine: String,
    cores: usize,
    rows: Vec<Row>,
    cold_start_ms: BTreeMap<String, f64>,
    zip_mb: BTreeMap<String, f64>,
    targets: Vec<Target>,
    /// The concurrency of the restore and of its floor.
    restore_concurrency: usize,
    /// The restore's median wall time over its floor's.
    restore_x_create_floor: f64,
    /// kubectl apply's median wall time over the restore's floor: the most a restore that
    /// POSTs these objects as JSON, at this concurrency, can be faster than kubectl on
    /// this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    apply_x_create_floor: Option<f64>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("times are numbers"));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn median_u64(values: &[u64]) -> u64 {
    median(&values.iter().map(|v| *v as f64).collect::<Vec<_>>()).round() as u64
}

const MIB: f64 = 1024.0 * 1024.0;
const MB: f64 = 1_000_000.0;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, load {load} at the start")
}

fn print_table(r: &Results) {
    println!(
        "lifeboat benchmark, profile {}: {} tenants x ({} Secrets + {} ConfigMaps) = {} objects, {:.1} MB as listed; median of {}",
        r.profile, r.tenants, r.secrets_per_tenant, r.config_maps_per_tenant, r.objects, r.listed_mb, r.repetitions
    );
    println!("machine: {}", r.machine);
    println!();
    println!(
        "| {:<44} | {:>8} | {:>8} | {:>12} | {:>11} | {:>9} | {:>13} |",
        "step", "wall s", "x floor", "peak RSS MiB", "S3 requests", "S3 writes", "S3 MB written"
    );
    println!(
        "|{:-<46}|{:->10}|{:->10}|{:->14}|{:->13}|{:->11}|{:->15}|",
        "", "", "", "", "", "", ""
    );
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for row in &r.rows {
        println!(
            "| {:<44} | {:>8.2} | {:>8.2} | {:>12} | {:>11} | {:>9} | {:>13} |",
            row.what,
            row.wall_s,
            row.x_floor,
            dash(row.peak_rss_mib.map(|v| format!("{v:.1}"))),
            dash(row.s3_requests.map(|v| v.to_string())),
            dash(row.s3_writes.map(|v| v.to_string())),
            dash(row.s3_mb_written.map(|v| format!("{v:.2}"))),
        );
    }
    println!();
    println!("CPU seconds by process (medians; {} cores share them):", r.cores);
    println!(
        "| {:<44} | {:>8} | {:>14} | {:>8} | {:>12} | {:>8} |",
        "step", "client", "kube-apiserver", "etcd", "AWS emulator", "total"
    );
    println!(
        "|{:-<46}|{:->10}|{:->16}|{:->10}|{:->14}|{:->10}|",
        "", "", "", "", "", ""
    );
    for row in &r.rows {
        if let Some(c) = row.cpu_s {
            println!(
                "| {:<44} | {:>8.2} | {:>14.2} | {:>8.2} | {:>12.2} | {:>8.2} |",
                row.what,
                c.client,
                c.kube_apiserver,
                c.etcd,
                c.aws_emulator,
                c.total()
            );
        }
    }
    println!();
    let cold: Vec<String> = r
        .cold_start_ms
        .iter()
        .map(|(f, ms)| format!("{f} {ms:.0} ms"))
        .collect();
    println!("cold start (exec to first event requested): {}", cold.join(", "));
    let zips: Vec<String> = r.zip_mb.iter().map(|(f, mb)| format!("{f} {mb:.2} MB")).collect();
    println!(
        "zips (cargo lambda build --release --output-format zip, x86_64): {}",
        if zips.is_empty() {
            "not built".into()
        } else {
            zips.join(", ")
        }
    );
    println!();
    println!(
        "restore against its floor (bare JSON POSTs, {} at a time): {:.2}x its time",
        r.restore_concurrency, r.restore_x_create_floor
    );
    if let Some(x) = r.apply_x_create_floor {
        println!(
            "kubectl apply takes {x:.1}x the floor's time: no restore that POSTs these objects as JSON, {} at a time, can be faster than it by more here",
            r.restore_concurrency
        );
    }
    println!();
    for t in &r.targets {
        println!(
            "[{}] {}: {}",
            if t.met { "met" } else { "MISSED" },
            t.target,
            t.measured
        );
    }
}

// ---------------------------------------------------------------------------------------
// The run

#[tokio::main]
async fn main() {
    let options = options();
    let profile = options.profile.clone();
    eprintln!("[bench] {}", machine());
    std::fs::create_dir_all(&options.work_dir).expect("the work dir is writable");
    let kube = kube::Client::try_default()
        .await
        .expect("the local API server's kubeconfig loads (KUBECONFIG)");
    let s3 = lifeboat::store::s3_client(&lifeboat::aws::load().await);
    let bucket = required("LIFEBOAT_BUCKET");
    let cluster = required("LIFEBOAT_CLUSTER");
    let endpoint = required("AWS_ENDPOINT_URL");
    let s3_log = S3Log {
        path: Path::new(&required("LIFEBOAT_STACK_DIR")).join("logs/moto.log"),
    };
    let backup_bin = options.bin_dir.join("backup");
    let restore_bin = options.bin_dir.join("restore");
    for bin in [&backup_bin, &restore_bin] {
        assert!(bin.exists(), "{} is missing: build the functions first", bin.display());
    }
    let machine = machine();
    let access = Access::new(&options.access).await;
    let stack = Stack::find(Path::new(&required("LIFEBOAT_STACK_DIR")));
    // The restore reads the same setting, so its floor runs at the same concurrency.
    let concurrency = lifeboat::config::Config::from_env()
        .unwrap_or_else(|e| panic!("{e}"))
        .restore_concurrency;
    let mut cpu = BTreeMap::<&'static str, Vec<Cpu>>::new();

    seed(&kube, &profile).await;
    let tenants = profile.tenant_names();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();

    let mut floor_runs = Vec::new();
    let mut floor_all_runs = Vec::new();
    let mut listed = 0;
    let mut listed_all = 0;
    let mut backup_runs = Vec::new();
    let mut backup_rss = Vec::new();
    let mut backup_s3 = Vec::new();
    let mut backup_bytes = Vec::new();
    let mut script_runs = Vec::new();
    let mut script_s3 = Vec::new();
    let mut script_bytes = Vec::new();
    let mut restore_runs = Vec::new();
    let mut restore_rss = Vec::new();
    let mut restore_s3 = Vec::new();
    let mut create_floor_runs = Vec::new();
    let mut apply_runs = Vec::new();
    let mut cold = BTreeMap::<String, Vec<f64>>::new();

    for rep in 0..profile.reps {
        eprintln!("[bench] repetition {} of {}", rep + 1, profile.reps);

        // (1) the floor, over all namespaces and over the tenants alone: on a shared
        // stack other namespaces hold objects too, so the faster of the two is the floor.
        let t = Instant::now();
        let (bytes, used) = stack.measure(Client::Bench, floor(&kube, None)).await;
        floor_all_runs.push(t.elapsed().as_secs_f64());
        listed_all = bytes;
        cpu.entry("floor-all-namespaces").or_default().push(used);
        let t = Instant::now();
        let (bytes, used) = stack.measure(Client::Bench, floor(&kube, Some(&tenants))).await;
        floor_runs.push(t.elapsed().as_secs_f64());
        listed = bytes;
        cpu.entry("floor-tenants").or_default().push(used);

        // (2) lifeboat's backup
        eprintln!("[bench]   (2) backup");
        let infrastructure = format!("bench-{}-{stamp}-{rep}", profile.name);
        let event = json!({
            "infrastructure": infrastructure,
            "cluster": cluster,
            "bucket": bucket,
            "settings": { "IsEnabled": true, "IntervalInHours": "1", "K8sResourceKinds": ["Secret", "ConfigMap"] },
            "tenants": tenants,
            "scheduled_time": "2026-01-01T00:00:00Z",
        });
        let from = s3_log.offset();
        let log = options.work_dir.join(format!("backup-{rep}.log"));
        let (run, used) = stack
            .measure(Client::Children, invoke(&backup_bin, "backup", &access, &event, &log))
            .await;
        let to = s3_log.offset();
        cpu.entry("backup").or_default().push(used);
        assert!(
            !run.failed && run.response["status"] == "Completed",
            "the backup did not complete: {}",
            run.response
        );
        let backed_up = lifeboat_tests::count_all(&run.response, "backed-up");
        assert!(
            backed_up >= profile.objects() as u64,
            "the backup stored {backed_up} objects, fewer than the {} generated",
            profile.objects()
        );
        let prefix = format!("2026/01/01/000000/infra/{infrastructure}/");
        backup_runs.push(run.wall.as_secs_f64());
        backup_rss.push(run.peak_rss as f64 / MIB);
        // The run's claim (taken and released) is a write of the run too.
        let claim = format!("claims/2026/01/01/000000/{infrastructure}.json");
        backup_s3.push(s3_log.between(from, to, &bucket, Writes::Under(&[&prefix, &claim])));
        let (bytes, keys) = stored_bytes(&s3, &bucket, &prefix).await;
        backup_bytes.push(bytes as f64 / MB);
        cold.entry("backup".into())
            .or_default()
            .push(run.cold_start.as_secs_f64() * 1000.0);

        // (3) the script a team writes today
        if rep < options.script_reps {
            eprintln!("[bench]   (3) kubectl get | aws s3 cp");
            let script_prefix = format!("bench-script/{}-{stamp}-{rep}/", profile.name);
            let from = s3_log.offset();
            let script = r#"set -euo pipefail
for ns in $TENANTS; do
  kubectl get secrets,configmaps -n "$ns" -o yaml |
    aws s3 cp - "s3://$BUCKET/$PREFIX$ns.yaml" --endpoint-url "$AWS_ENDPOINT_URL" --sse aws:kms --only-show-errors
done
"#;
            let kubectl_env = access.kubectl_env("backup", &options.work_dir);
            let mut command = tokio::process::Command::new("bash");
            command
                .arg("-c")
                .arg(script)
                .env("TENANTS", tenants.join(" "))
                .env("BUCKET", &bucket)
                .env("PREFIX", &script_prefix)
                .env("AWS_ENDPOINT_URL", &endpoint)
                .envs(kubectl_env);
            let t = Instant::now();
            let (status, used) = stack.measure(Client::Children, command.status()).await;
            let to = s3_log.offset();
            let status = status.expect("bash runs");
            assert!(status.success(), "the kubectl + aws CLI script failed");
            script_runs.push(t.elapsed().as_secs_f64());
            cpu.entry("script").or_default().push(used);
            script_s3.push(s3_log.between(from, to, &bucket, Writes::Under(&[&script_prefix])));
            script_bytes.push(stored_bytes(&s3, &bucket, &script_prefix).await.0 as f64 / MB);
        }

        // The backup's files, for the restore's floor and for kubectl.
        let files = options.work_dir.join(format!("files-{}", profile.name));
        let _ = std::fs::remove_dir_all(&files);
        download(&s3, &bucket, &prefix, &keys, &files).await;

        // (4) lifeboat's restore of every tenant into emptied namespaces
        empty_tenants(&kube, &profile).await;
        let event = json!({
            "infrastructure": infrastructure,
            "cluster": cluster,
            "bucket": bucket,
            "source": { "infrastructure": infrastructure, "backup": "2026/01/01/000000" },
            "tenants": tenants,
            "existing": "skip",
            "dry_run": false,
        });
        let log = options.work_dir.join(format!("restore-{rep}.log"));
        eprintln!("[bench]   (4) restore");
        let from = s3_log.offset();
        let (run, used) = stack
            .measure(Client::Children, invoke(&restore_bin, "restore", &access, &event, &log))
            .await;
        // A restore only reads: any write to the bucket is counted against it.
        restore_s3.push(s3_log.between(from, s3_log.offset(), &bucket, Writes::NotOfOtherThan(&infrastructure)));
        cpu.entry("restore").or_default().push(used);
        assert!(
            !run.failed && run.response["status"] == "Completed",
            "the restore did not complete: {}",
            run.response
        );
        let restored = seeded_count(&kube, &profile).await;
        assert_eq!(restored, profile.objects(), "the restore brought back every object");
        restore_runs.push(run.wall.as_secs_f64());
        restore_rss.push(run.peak_rss as f64 / MIB);
        cold.entry("restore".into())
            .or_default()
            .push(run.cold_start.as_secs_f64() * 1000.0);

        // (4) the restore's floor: the same objects as bare POSTs, as the restore's role
        // (a fresh token each time) and at the restore's concurrency.
        let bodies = creates(&files);
        assert_eq!(
            bodies.len(),
            profile.objects(),
            "the floor creates every generated object"
        );
        let restorer = access.client("restore", &options.work_dir, &kube).await;
        empty_tenants(&kube, &profile).await;
        eprintln!("[bench]   (4) floor: POST each object");
        let t = Instant::now();
        let ((), used) = stack
            .measure(Client::Bench, create_floor(&restorer, &bodies, concurrency))
            .await;
        create_floor_runs.push(t.elapsed().as_secs_f64());
        cpu.entry("create-floor").or_default().push(used);
        assert_eq!(
            seeded_count(&kube, &profile).await,
            profile.objects(),
            "the floor created every object"
        );

        // (5) kubectl apply --server-side of the same objects
        if rep < options.apply_reps {
            eprintln!("[bench]   (5) kubectl apply --server-side");
            empty_tenants(&kube, &profile).await;
            let kubectl_env = access.kubectl_env("restore", &options.work_dir);
            let mut command = tokio::process::Command::new("kubectl");
            command
                .args(["apply", "--server-side", "-R", "-o", "name", "-f"])
                .arg(&files)
                .envs(kubectl_env)
                .stdout(Stdio::null());
            let t = Instant::now();
            let (output, used) = stack.measure(Client::Children, command.output()).await;
            let output = output.expect("kubectl runs");
            assert!(
                output.status.success(),
                "kubectl apply failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            apply_runs.push(t.elapsed().as_secs_f64());
            cpu.entry("apply").or_default().push(used);
            let applied = seeded_count(&kube, &profile).await;
            assert_eq!(applied, profile.objects(), "kubectl applied every object");
        }
    }

    let floor_s = median(&floor_runs).min(median(&floor_all_runs));
    let row = |step, what: String, runs: &[f64]| Row {
        step,
        what,
        wall_s: median(runs),
        runs_s: runs.to_vec(),
        x_floor: median(runs) / floor_s,
        peak_rss_mib: None,
        s3_requests: None,
        s3_writes: None,
        s3_mb_written: None,
        bytes_read_mb: None,
        cpu_s: cpu.get(step).map(|runs| Cpu::median(runs)),
    };
    let mut rows = vec![
        Row {
            bytes_read_mb: Some(listed_all as f64 / MB),
            ..row(
                "floor-all-namespaces",
                format!("(1) floor: LIST all namespaces ({:.1} MB)", listed_all as f64 / MB),
                &floor_all_runs,
            )
        },
        Row {
            bytes_read_mb: Some(listed as f64 / MB),
            ..row(
                "floor-tenants",
                format!("(1) floor: LIST each tenant ({:.1} MB)", listed as f64 / MB),
                &floor_runs,
            )
        },
    ];
    let backup_s3 = S3Requests::median(&backup_s3);
    rows.push(Row {
        peak_rss_mib: Some(median(&backup_rss)),
        s3_requests: Some(backup_s3.all),
        s3_writes: Some(backup_s3.writes),
        s3_mb_written: Some(median(&backup_bytes)),
        ..row("backup", "(2) lifeboat backup".into(), &backup_runs)
    });
    if options.script_reps > 0 {
        let script_s3 = S3Requests::median(&script_s3);
        rows.push(Row {
            s3_requests: Some(script_s3.all),
            s3_writes: Some(script_s3.writes),
            s3_mb_written: Some(median(&script_bytes)),
            ..row(
                "script",
                "(3) kubectl get | aws s3 cp, per namespace".into(),
                &script_runs,
            )
        });
    }
    let restore_s3 = S3Requests::median(&restore_s3);
    rows.push(Row {
        peak_rss_mib: Some(median(&restore_rss)),
        s3_requests: Some(restore_s3.all),
        s3_writes: Some(restore_s3.writes),
        ..row("restore", "(4) lifeboat restore".into(), &restore_runs)
    });
    rows.push(row(
        "create-floor",
        format!("(4) floor: POST each object, {concurrency} at a time"),
        &create_floor_runs,
    ));
    if options.apply_reps > 0 {
        rows.push(row("apply", "(5) kubectl apply --server-side".into(), &apply_runs));
    }

    let cold_start_ms: BTreeMap<String, f64> = cold.iter().map(|(f, v)| (f.clone(), median(v))).collect();
    let mut zip_mb = BTreeMap::new();
    for function in ["backup", "restore"] {
        if let Ok(m) = std::fs::metadata(options.zip_dir.join(function).join("bootstrap.zip")) {
            zip_mb.insert(function.to_string(), m.len() as f64 / MB);
        }
    }

    let kinds = 2;
    let backup_s = median(&backup_runs);
    let rss_limit = if profile.name == "large" { 96.0 } else { 64.0 };
    // Each repetition's floor is the faster of its two LISTs, as the medians' is.
    let floor_by_repetition: Vec<f64> = floor_runs.iter().zip(&floor_all_runs).map(|(a, b)| a.min(*b)).collect();
    let mut targets = vec![
        Target::ratio(
            "backup wall time at most 2x the floor",
            backup_s / floor_s,
            2,
            ratios(&backup_runs, &floor_by_repetition),
            |x| x <= 2.0,
        ),
        Target::single(
            format!("backup peak RSS at most {rss_limit:.0} MiB"),
            format!("{:.1} MiB", median(&backup_rss)),
            median(&backup_rss) <= rss_limit,
        ),
        Target::single(
            format!(
                "S3 writes per backup at most tenants x kinds + 5 = {}",
                profile.tenants * kinds + 5
            ),
            backup_s3.writes.to_string(),
            backup_s3.writes <= (profile.tenants * kinds + 5) as u64,
        ),
    ];
    if options.apply_reps > 0 {
        targets.push(Target::ratio(
            "restore at least 5x faster than kubectl apply --server-side",
            median(&apply_runs) / median(&restore_runs),
            1,
            ratios(&apply_runs, &restore_runs),
            |x| x >= 5.0,
        ));
    }
    if options.script_reps > 0 {
        targets.insert(
            1,
            Target::ratio(
                "backup at least 20x faster than the kubectl + aws CLI script",
                median(&script_runs) / backup_s,
                1,
                ratios(&script_runs, &backup_runs),
                |x| x >= 20.0,
            ),
        );
    }
    for (function, ms) in &cold_start_ms {
        targets.push(Target::single(
            format!("{function} cold start under 100 ms"),
            format!("{ms:.0} ms"),
            *ms < 100.0,
        ));
    }
    for (function, mb) in &zip_mb {
        targets.push(Target::single(
            format!("{function} zip under 20 MB"),
            format!("{mb:.2} MB"),
            *mb < 20.0,
        ));
    }

    let results = Results {
        profile: profile.name.clone(),
        tenants: profile.tenants,
        secrets_per_tenant: profile.secrets,
        config_maps_per_tenant: profile.config_maps,
        objects: profile.objects(),
        listed_mb: listed as f64 / MB,
        repetitions: profile.reps,
        machine,
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        rows,
        cold_start_ms,
        zip_mb,
        targets,
        restore_concurrency: concurrency,
        restore_x_create_floor: median(&restore_runs) / median(&create_floor_runs),
        apply_x_create_floor: (options.apply_reps > 0).then(|| median(&apply_runs) / median(&create_floor_runs)),
    };
    if options.delete_tenants {
        let namespaces: Api<Namespace> = Api::all(kube.clone());
        for tenant in &tenants {
            // The cluster finalises them in the background; nothing here waits on it.
            let _ = namespaces.delete(tenant, &DeleteParams::default()).await;
        }
    }
    print_table(&results);
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&results).expect("results serialise");
        std::fs::write(path, text + "\n").unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// Downloads a backup's stored files (not its manifest) into `dir`, for kubectl.
async fn download(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str, keys: &[String], dir: &Path) {
    // The objects only: the run's folder also holds its manifest and its claim, which
    // are no Kubernetes objects.
    let files: Vec<&String> = keys
        .iter()
        .filter(|k| {
            ["k8s/namespaces/", "k8s/cluster/"]
                .iter()
                .any(|d| k[prefix.len()..].starts_with(d))
        })
        .collect();
    stream::iter(files)
        .map(|key| async move {
            let out = s3.get_object().bucket(bucket).key(key).send().await?;
            let bytes = out.body.collect().await.expect("the body reads").into_bytes();
            let path = dir.join(&key[prefix.len()..]);
            std::fs::create_dir_all(path.parent().expect("a key has a folder")).expect("the folder is writable");
            std::fs::write(&path, &bytes).expect("the file is writable");
            Ok::<(), aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>>(())
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .expect("the backup downloads");
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "lifeboat-backups-123456789012-us-east-1";

    fn line(method: &str, target: &str) -> String {
        format!("127.0.0.1 - - [23/Nov/2026 05:30:01] \"{method} {target} HTTP/1.1\" 200 -\n")
    }

    #[test]
    fn every_request_to_the_bucket_counts_and_writes_only_under_the_runs_keys() {
        let log = [
            line("PUT", &format!("/{BUCKET}/claims/2030/run.json?x-id=PutObject")),
            line("GET", &format!("/{BUCKET}?list-type=2&prefix=2030%2F01%2F")),
            line("HEAD", &format!("/{BUCKET}")),
            line(
                "PUT",
                &format!("/{BUCKET}/2030/infra/a/k8s/namespaces/t1/secrets.json?x-id=PutObject"),
            ),
            line(
                "GET",
                &format!("/{BUCKET}/2030/infra/a/k8s/manifest.json?x-id=GetObject"),
            ),
            // Not the bucket's: another bucket that shares its name's start, and the
            // emulator's other services.
            line("PUT", &format!("/{BUCKET}-copy/2030/infra/a/x.json")),
            line("POST", "/"),
            line("GET", "/clusters/lifeboat-local"),
            "not a request line\n".to_string(),
        ]
        .concat();
        assert_eq!(
            s3_requests(&log, BUCKET, Writes::Under(&["2030/infra/a/", "claims/2030/run.json"])),
            S3Requests { all: 5, writes: 2 }
        );
        assert_eq!(
            s3_requests(&log, BUCKET, Writes::Under(&["2030/infra/b/"])),
            S3Requests { all: 5, writes: 0 },
            "a write under another run's keys is not this run's"
        );
        assert_eq!(s3_requests(&log, BUCKET, Writes::Under(&[""])).writes, 2);
        // Measuring a restore of infrastructure a, the other tests' runs beside it
        // (infrastructure b's files and claim) are not counted; a's, and any other
        // write, are.
        let beside = [
            line(
                "PUT",
                &format!("/{BUCKET}/2030/infra/b/k8s/drill-2030.json?x-id=PutObject"),
            ),
            line("PUT", &format!("/{BUCKET}/claims/2030/b.json?x-id=PutObject")),
            line("PUT", &format!("/{BUCKET}/claims/2030/a.json?x-id=PutObject")),
            line("PUT", &format!("/{BUCKET}/2030/infra/a/k8s/x.json?x-id=PutObject")),
            line("PUT", &format!("/{BUCKET}/stray?x-id=PutObject")),
        ]
        .concat();
        assert_eq!(s3_requests(&beside, BUCKET, Writes::NotOfOtherThan("a")).writes, 3);
    }

    #[test]
    fn a_run_counts_only_the_lines_logged_while_it_ran() {
        let path = std::env::temp_dir().join(format!("lifeboat-s3log-{}", std::process::id()));
        let before = line("PUT", &format!("/{BUCKET}/a?x-id=PutObject"));
        let during = line("GET", &format!("/{BUCKET}/b?x-id=GetObject"));
        let after = line("PUT", &format!("/{BUCKET}/c?x-id=PutObject"));
        std::fs::write(&path, [before.as_str(), during.as_str(), after.as_str()].concat()).unwrap();
        let log = S3Log { path: path.clone() };
        let from = before.len() as u64;
        let counted = log.between(from, from + during.len() as u64, BUCKET, Writes::Under(&[""]));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(counted, S3Requests { all: 1, writes: 0 });
    }

    #[test]
    fn the_median_is_taken_count_by_count() {
        let runs = [
            S3Requests { all: 9, writes: 1 },
            S3Requests { all: 5, writes: 7 },
            S3Requests { all: 7, writes: 3 },
        ];
        assert_eq!(S3Requests::median(&runs), S3Requests { all: 7, writes: 3 });
    }
}
