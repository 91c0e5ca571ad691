//! Invoking the catalog function with the caller's AWS credentials.

use std::process::ExitCode;

use aws_sdk_lambda::primitives::Blob;
use serde_json::Value;

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function could not be invoked at all.
    #[error(
        "cannot invoke the catalog function '{function}': {message}\n(check --function, --region and your AWS \
         credentials; the caller needs lambda:InvokeFunction on it)"
    )]
    Invoke { function: String, message: String },
    /// The function refused the question or failed answering it.
    #[error("{message} ({error_type})")]
    Refused { error_type: String, message: String },
    /// The function answered something that is not JSON.
    #[error("the catalog function answered something that is not JSON: {0}")]
    NotJson(serde_json::Error),
}

impl InvokeError {
    /// 2 for a question the function refused as bad input, 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            InvokeError::Refused { error_type, .. }
                if matches!(
                    error_type.as_str(),
                    "InvalidEvent" | "NotAllowed" | "BackupNotFound" | "ObjectNotFound"
                ) =>
            {
                ExitCode::from(2)
            }
            _ => ExitCode::from(1),
        }
    }
}

/// A Lambda client from the caller's AWS configuration.
pub async fn client(region: Option<String>, endpoint_url: Option<String>) -> aws_sdk_lambda::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    aws_sdk_lambda::Client::new(&loader.load().await)
}

/// Invokes the function synchronously with `event` and returns its answer.
pub async fn invoke(client: &aws_sdk_lambda::Client, function: &str, event: &Value) -> Result<Value, InvokeError> {
    let output = client
        .invoke()
        .function_name(function)
        .payload(Blob::new(serde_json::to_vec(event).expect("an event serialises")))
        .send()
        .await
        .map_err(|e| {
            // Lambda answers a function's error with 200 and a header; a runtime emulator
            // answers it with a 500 whose body is the same error document.
            if let Some(refused) = e
                .raw_response()
                .and_then(|raw| raw.body().bytes())
                .and_then(|body| serde_json::from_slice::<Value>(body).ok())
                .and_then(|body| refusal(&body))
            {
                return refused;
            }
            InvokeError::Invoke {
                function: function.into(),
                message: aws_sdk_lambda::error::DisplayErrorContext(e).to_string(),
            }
        })?;
    let body = output.payload().map(|b| b.as_ref()).unwrap_or(b"null");
    let answer: Value = serde_json::from_slice(body).map_err(InvokeError::NotJson)?;
    match refusal(&answer) {
        Some(refused) => Err(refused),
        None if output.function_error().is_some() => Err(InvokeError::Refused {
            error_type: "Unhandled".into(),
            message: answer.to_string(),
        }),
        None => Ok(answer),
    }
}

/// The function's error document, if `body` is one.
fn refusal(body: &Value) -> Option<InvokeError> {
    let said = |field: &str| body.get(field).and_then(Value::as_str).map(str::to_string);
    Some(InvokeError::Refused {
        error_type: said("errorType")?,
        message: said("errorMessage").unwrap_or_default(),
    })
}
