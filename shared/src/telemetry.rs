//! Logging for the functions: one JSON object per line, as CloudWatch Logs Insights
//! queries expect, filtered by `RUST_LOG` (default `info`).
//!
//! Whatever `RUST_LOG` asks for, the libraries under the functions' HTTP traffic are
//! held to the levels below. At `trace` they print what they send and receive: the
//! SigV4 signer the request it signs (an S3 upload's payload among it), the AWS
//! runtime response bodies (when `LOG_SENSITIVE_BODIES` is set), the HTTP stacks
//! their frames. Those are Secrets and credentials; lifeboat's own logs never carry
//! an object's content, and its reports say what an operator needs.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// The most each library that carries request or response bodies may log.
const CAPPED: &[&str] = &[
    "aws_sigv4=info",
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http=debug",
    "aws_smithy_http_client=info",
    "aws_smithy_types=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "rustls=info",
    "tower=info",
    "kube_client=debug",
    "kube_core=debug",
];

/// The filter of `RUST_LOG` (or `info`), with the caps above on top.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    let mut filter = rust_log
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    for cap in CAPPED {
        filter = filter.add_directive(cap.parse::<Directive>().expect("the caps are valid directives"));
    }
    filter
}

/// Installs the JSON log subscriber; a second call does nothing.
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(rust_log.as_deref()))
        .with_current_span(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carrying_libraries_stay_capped_whatever_rust_log_asks() {
        for asked in [
            None,
            Some("trace"),
            Some("aws_sigv4=trace,h2=trace,trace"),
            Some("not a filter["),
        ] {
            let shown = filter(asked).to_string();
            for cap in CAPPED {
                assert!(shown.contains(cap), "{asked:?} lost {cap}: {shown}");
            }
            assert!(
                !shown.contains("aws_sigv4=trace") && !shown.contains("h2=trace"),
                "{shown}"
            );
        }
    }
}
