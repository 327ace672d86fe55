//! Errors across the boundary. napi's async machinery only carries its own `Status`, so
//! the documented code travels in the message as `[CODE] message`; the JS wrapper
//! (`lib/errors.js`) turns that into a `WebhookProcessingError` with `code` and
//! `retryable`. A panic becomes `INTERNAL` here, before napi sees it.

use std::future::Future;
use webhook_core::error::catch_panics;
use webhook_core::text::redact_credentials;
use webhook_core::{ErrorCode, ProcessingError};

/// A core error as a napi error carrying its code. Credentials in URLs are redacted here
/// too, whatever produced the message: JavaScript logs what it gets.
pub fn to_napi(err: ProcessingError) -> napi::Error {
    coded(err.code(), &redact_credentials(&err.to_string()))
}

fn coded(code: ErrorCode, message: &str) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("[{code}] {message}"))
}

/// Runs a future, mapping core errors to coded napi errors and panics to `INTERNAL`.
pub async fn guarded<T, F>(fut: F) -> napi::Result<T>
where
    F: Future<Output = Result<T, ProcessingError>>,
{
    catch_panics(fut).await.map_err(to_napi)
}

/// A rejected argument, for checks the JS wrapper should already have made.
pub fn invalid_job(message: &str) -> napi::Error {
    coded(ErrorCode::InvalidJob, message)
}
