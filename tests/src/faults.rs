//! Fault-injecting proxies, so a test can make the API server or S3 misbehave for one
//! run without touching the shared stack that other tests use at the same time.
//!
//! A proxy listens on a free loopback port and speaks plain HTTP/1 to the code under
//! test, which is pointed at it (a kubeconfig naming the proxy, or an S3 client with the
//! proxy as its endpoint). It forwards each request to the real service (the API server
//! through an admin client, so no certificate has to be made; S3 through moto's
//! address) unless the test's script says to answer otherwise: a status of its choice
//! (429, 5xx, 410, S3's `SlowDown`), a dropped connection before or after the real
//! service acted (the answer lost), or a delay. [`Proxy::go_down`]
//! stops it listening and breaks its open connections, as an API server that stops does.
//! Every request is recorded with the time it arrived, so a test can prove that a fault
//! was injected and retried, and how long the retry waited.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tempfile::TempPath;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the proxy received, and what it did with it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The HTTP method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, empty when there is none.
    pub query: String,
    /// What the proxy did: `pass`, `delay`, `drop`, `lose-answer`, or the status it
    /// answered with.
    pub fault: String,
    /// When the request arrived.
    pub at: Instant,
}

impl Seen {
    /// The value of a query parameter, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forwards it.
    Pass,
    /// Answers it without forwarding.
    Answer {
        /// The status.
        status: u16,
        /// Extra headers.
        headers: Vec<(&'static str, String)>,
        /// The body.
        body: String,
    },
    /// Closes the connection without an answer; the service never sees the request.
    Drop,
    /// Forwards it, lets the service act on it, then closes the connection without its
    /// answer: the write that happened although its caller cannot know.
    LoseAnswer,
    /// Waits, then forwards it.
    Delay(Duration),
    /// Stops the proxy, as [`Proxy::go_down`] does, and closes this connection.
    GoDown,
}

impl Fault {
    /// The API server's 429, with a `Retry-After` of `seconds`.
    pub fn kube_throttled(seconds: u64) -> Fault {
        Fault::kube_status(429, "TooManyRequests", "Too many requests, please try again later.")
            .with_header("retry-after", seconds.to_string())
    }

    /// The API server's answer when etcd compacted past a continue token.
    pub fn kube_continue_expired() -> Fault {
        Fault::kube_status(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter.",
        )
    }

    /// A `Status` failure of the API server.
    pub fn kube_status(code: u16, reason: &str, message: &str) -> Fault {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        });
        Fault::Answer {
            status: code,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    /// S3's throttling answer.
    pub fn s3_slow_down() -> Fault {
        Fault::s3_error(503, "SlowDown", "Please reduce your request rate.")
    }

    /// An S3 error answer, as S3 writes one.
    pub fn s3_error(status: u16, code: &str, message: &str) -> Fault {
        Fault::Answer {
            status,
            headers: vec![("content-type", "application/xml".into())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>fault</RequestId></Error>"
            ),
        }
    }

    fn with_header(mut self, name: &'static str, value: String) -> Fault {
        if let Fault::Answer { headers, .. } = &mut self {
            headers.push((name, value));
        }
        self
    }
}

type Script = Arc<dyn Fn(&Seen) -> Fault + Send + Sync>;
type Forward =
    Arc<dyn Fn(http::Request<Bytes>) -> BoxFuture<'static, Result<http::Response<Bytes>, String>> + Send + Sync>;

struct Shared {
    script: Mutex<Script>,
    seen: Mutex<Vec<Seen>>,
    down: AtomicBool,
    forward: Forward,
    accept: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Shared {
    fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.lock().expect("accept lock").take() {
            accept.abort();
        }
    }
}

/// A running proxy; it stops when dropped, and removes the kubeconfigs it wrote.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
    /// A run reads its kubeconfig when it starts, so each file lives as long as the
    /// proxy it names, and no test run leaves them behind in the temporary folder.
    kubeconfigs: Mutex<Vec<TempPath>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.down.store(true, Ordering::SeqCst);
        self.accept.abort();
    }
}

impl Proxy {
    /// A proxy in front of the API server that `client` reaches.
    pub async fn kube(client: kube::Client) -> Proxy {
        let forward: Forward = Arc::new(move |request: http::Request<Bytes>| {
            let client = client.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let mut builder = http::Request::builder().method(parts.method).uri(
                    parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_else(|| "/".into()),
                );
                for name in [http::header::ACCEPT, http::header::CONTENT_TYPE] {
                    if let Some(value) = parts.headers.get(&name) {
                        builder = builder.header(name, value);
                    }
                }
                let request = builder
                    .body(kube::client::Body::from(body.to_vec()))
                    .map_err(|e| e.to_string())?;
                let response = client.send(request).await.map_err(|e| e.to_string())?;
                let (parts, body) = response.into_parts();
                let bytes = body.collect_bytes().await.map_err(|e| e.to_string())?;
                Ok(http::Response::from_parts(parts, bytes))
            })
        });
        Proxy::start(forward).await
    }

    /// A proxy in front of the S3 emulator at `target` (`http://host:port`).
    pub async fn s3(target: &str) -> Proxy {
        let target = target.trim_end_matches('/').to_string();
        let http = reqwest::Client::new();
        let forward: Forward = Arc::new(move |request: http::Request<Bytes>| {
            let (http, target) = (http.clone(), target.clone());
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let mut headers = parts.headers.clone();
                for hop in ["host", "content-length", "transfer-encoding", "connection"] {
                    headers.remove(hop);
                }
                let response = http
                    .request(parts.method, format!("{target}{path}"))
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let mut out = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                        out = out.header(name, value);
                    }
                }
                let bytes = response.bytes().await.map_err(|e| e.to_string())?;
                out.body(bytes).map_err(|e| e.to_string())
            })
        });
        Proxy::start(forward).await
    }

    async fn start(forward: Forward) -> Proxy {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a loopback port is free");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let shared = Arc::new(Shared {
            script: Mutex::new(Arc::new(|_: &Seen| Fault::Pass)),
            seen: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
            forward,
            accept: Mutex::new(None),
        });
        let state = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    // A dropped connection ends here with an error, as intended.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        *shared.accept.lock().expect("accept lock") = Some(accept.abort_handle());
        Proxy {
            url,
            shared,
            accept,
            kubeconfigs: Mutex::new(Vec::new()),
        }
    }

    /// Sets what the proxy does with each request from now on.
    pub fn script(&self, script: impl Fn(&Seen) -> Fault + Send + Sync + 'static) {
        *self.shared.script.lock().expect("script lock") = Arc::new(script);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("seen lock").clone()
    }

    /// Stops listening and breaks every open connection: the server is gone.
    pub fn go_down(&self) {
        self.shared.go_down();
    }

    /// A kubeconfig whose context `cluster` reaches the cluster through this proxy; the
    /// file is removed with the proxy.
    pub fn kubeconfig(&self, cluster: &str) -> PathBuf {
        let config = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{ "name": cluster, "cluster": { "server": self.url } }],
            "users": [{ "name": "through-proxy", "user": {} }],
            "contexts": [{ "name": cluster, "context": { "cluster": cluster, "user": "through-proxy" } }],
            "current-context": cluster,
        });
        let file = write_kubeconfig("proxy", &config);
        let path = file.to_path_buf();
        self.kubeconfigs.lock().expect("kubeconfigs lock").push(file);
        path
    }

    /// An S3 client that reaches S3 through this proxy, with lifeboat's retries and
    /// `attempt_timeout` as the limit of one try.
    pub async fn s3_client(&self, attempt_timeout: Duration) -> aws_sdk_s3::Client {
        let sdk = lifeboat::aws::load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(&self.url)
            .force_path_style(true)
            .timeout_config(lifeboat::aws::timeout_config(attempt_timeout))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// Writes a kubeconfig to a file of its own in the temporary folder; the file is removed
/// when the returned path is dropped, as a test ends, whether it passed or not.
pub fn write_kubeconfig(prefix: &str, config: &serde_json::Value) -> TempPath {
    let mut file = tempfile::Builder::new()
        .prefix(&format!("{prefix}-"))
        .suffix(".kubeconfig")
        .tempfile()
        .expect("the temporary folder is writable");
    file.write_all(&serde_json::to_vec_pretty(config).expect("JSON"))
        .expect("the kubeconfig is written");
    file.into_temp_path()
}

type Answer = http::Response<Full<Bytes>>;

async fn handle(
    state: Arc<Shared>,
    request: http::Request<Incoming>,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    if state.down.load(Ordering::SeqCst) {
        return Err("the proxy is down".into());
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        fault: String::new(),
        at: Instant::now(),
    };
    let script = state.script.lock().expect("script lock").clone();
    let fault = script(&seen);
    seen.fault = match &fault {
        Fault::Pass => "pass".into(),
        Fault::Answer { status, .. } => status.to_string(),
        Fault::Drop => "drop".into(),
        Fault::LoseAnswer => "lose-answer".into(),
        Fault::Delay(_) => "delay".into(),
        Fault::GoDown => "down".into(),
    };
    state.seen.lock().expect("seen lock").push(seen);
    match fault {
        Fault::Drop => Err("fault: connection dropped".into()),
        Fault::LoseAnswer => {
            let answer = forward(&state, parts, body).await?;
            Err(format!("fault: the answer ({}) was lost", answer.status()).into())
        }
        Fault::GoDown => {
            state.go_down();
            Err("fault: the server went away".into())
        }
        Fault::Answer { status, headers, body } => {
            let mut answer = http::Response::builder().status(status);
            for (name, value) in headers {
                answer = answer.header(name, value);
            }
            Ok(answer.body(Full::new(Bytes::from(body)))?)
        }
        Fault::Delay(delay) => {
            // The fault itself, not a synchronisation: the request is held this long.
            tokio::time::sleep(delay).await;
            forward(&state, parts, body).await
        }
        Fault::Pass => forward(&state, parts, body).await,
    }
}

async fn forward(
    state: &Shared,
    parts: http::request::Parts,
    body: Bytes,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    if state.down.load(Ordering::SeqCst) {
        return Err("the proxy is down".into());
    }
    match (state.forward)(http::Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            Ok(http::Response::from_parts(parts, Full::new(body)))
        }
        Err(reason) => Ok(http::Response::builder()
            .status(502)
            .body(Full::new(Bytes::from(format!("the proxy could not forward: {reason}"))))?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_kubeconfigs_a_proxy_wrote_are_removed_with_it() {
        // Nothing is asked of the proxy, so nothing needs to listen where it forwards.
        let proxy = Proxy::s3("http://127.0.0.1:9").await;
        let paths = [proxy.kubeconfig("one"), proxy.kubeconfig("two")];
        for (path, cluster) in paths.iter().zip(["one", "two"]) {
            let config = kube::config::Kubeconfig::read_from(path).expect("the kubeconfig reads");
            assert_eq!(config.current_context.as_deref(), Some(cluster));
            let server = config.clusters[0].cluster.as_ref().and_then(|c| c.server.clone());
            assert_eq!(server.as_deref(), Some(proxy.url.as_str()));
        }
        drop(proxy);
        for path in &paths {
            assert!(!path.exists(), "{} is left behind", path.display());
        }
    }
}
