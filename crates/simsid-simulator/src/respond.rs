//! What the production and the control routes share: the context every handler gets, the
//! bearer token of a request, and the failure answers as SIMS ID's gateway writes them.

use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio_util::sync::CancellationToken;

use super::control::SimControl;
use super::state::Failure;
use super::wire::ApiMessage;

/// What every handler needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub control: SimControl,
    /// Mean latency added to every token and API call (jittered ±50 %).
    pub latency: Duration,
    /// Cancelled at shutdown: wakes every sleeping or hanging request.
    pub cancel: CancellationToken,
    /// SHA-256 of the `/_sim/` bearer token.
    pub control_digest: [u8; 32],
}

/// The bearer token of an `Authorization` header, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// A JSON `{"message"}` answer.
fn message(status: StatusCode, message: &'static str) -> Response {
    (status, Json(ApiMessage { message })).into_response()
}

/// `401` for a missing or wrong bearer token.
pub(crate) fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        Json(ApiMessage {
            message: "Authorization has been denied for this request.",
        }),
    )
        .into_response()
}

/// The body of a gateway's 502 page.
const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>simulated gateway</center>\r\n\
</body>\r\n</html>\r\n";

/// The answer for an injected or planned failure.
pub(crate) fn failure(f: Failure) -> Response {
    match f {
        Failure::BadRequest => message(StatusCode::BAD_REQUEST, "The request is invalid."),
        Failure::Forbidden => message(
            StatusCode::FORBIDDEN,
            "Authorization has been denied for this request.",
        ),
        Failure::NotFound => message(StatusCode::NOT_FOUND, "No matching resource was found."),
        Failure::Status500 => message(StatusCode::INTERNAL_SERVER_ERROR, "An error has occurred."),
        Failure::Html502 => (
            StatusCode::BAD_GATEWAY,
            [(CONTENT_TYPE, "text/html")],
            BAD_GATEWAY_HTML,
        )
            .into_response(),
        Failure::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(RETRY_AFTER, retry_after_secs.to_string())],
            Json(serde_json::json!({
                "statusCode": 429,
                "message": format!("Rate limit is exceeded. Try again in {retry_after_secs} seconds."),
            })),
        )
            .into_response(),
        Failure::Unavailable => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is unavailable. Please try again later.",
        ),
        Failure::InsufficientScope => (
            StatusCode::FORBIDDEN,
            [(
                WWW_AUTHENTICATE,
                "Bearer error=\"insufficient_scope\", error_description=\"The request requires higher privileges than provided by the access token.\"",
            )],
            Json(ApiMessage {
                message: "Authorization has been denied for this request.",
            }),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_is_case_insensitive_and_rejects_other_schemes() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
