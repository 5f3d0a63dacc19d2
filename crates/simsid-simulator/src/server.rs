//! The production paths over HTTP: `POST /connect/token` and the partner API
//! (`GetSiteByApplication`, `Clients`). Handlers ask [`State`](super::state::State) what to
//! answer, wait the configured latency and any injected delay, then write the answer.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use rand::RngExt;
use secrecy::SecretString;
use tokio::time::Instant;

use super::respond::{bearer, failure, unauthorised, Ctx};
use super::state::{Access, Delay, Failure, Plan, Reply};
use super::wire::{OAuthError, TokenForm};

/// How long a hanging request waits when the simulator is not shut down first.
const HANG: Duration = Duration::from_secs(3600);

/// What the production handlers do with the context: wait, and refuse over the rate limit.
impl Ctx {
    /// Sleeps `wait` unless the simulator shuts down first; true if the full wait passed.
    async fn sleep(&self, wait: Duration) -> bool {
        if wait.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = self.cancel.cancelled() => false,
        }
    }

    /// The configured latency with ±50 % jitter.
    fn jittered_latency(&self) -> Duration {
        let micros = u64::try_from(self.latency.as_micros()).unwrap_or(u64::MAX);
        if micros < 2 {
            return self.latency;
        }
        let half = micros / 2;
        let jittered = rand::rng().random_range(half..=half.saturating_mul(3));
        Duration::from_micros(jittered)
    }

    /// The gateway's answer when its rate limit refuses the request: `429` at once (the
    /// gateway never forwards it), counted.
    fn over_limit(&self) -> Option<Response> {
        if self.control.admit() {
            return None;
        }
        self.control.counters().rate_limited();
        Some(failure(Failure::RateLimited {
            retry_after_secs: 1,
        }))
    }

    /// Waits the plan's delay, then writes its reply.
    async fn run(&self, plan: Plan) -> Response {
        if matches!(plan.reply, Reply::Fail(Failure::RateLimited { .. })) {
            self.control.counters().rate_limited();
        }
        let completed = match plan.delay {
            Some(Delay::Sleep(wait)) => self.sleep(wait).await,
            Some(Delay::Hang) => {
                self.sleep(HANG).await;
                false
            }
            None => true,
        };
        if completed {
            reply(plan.reply)
        } else {
            failure(Failure::Unavailable)
        }
    }
}

/// The production routes, with the `/_sim/` control routes `admin` nested.
pub(crate) fn router(ctx: Ctx, admin: Router<Ctx>) -> Router {
    Router::new()
        .route("/connect/token", post(token))
        .route(
            "/api/v1/partner/{application_id}/GetSiteByApplication",
            get(site_list),
        )
        .route(
            "/api/v1/partner/{application_id}/{organisation_id}/Clients",
            get(clients),
        )
        .nest("/_sim", admin)
        .fallback(|| async { failure(Failure::NotFound) })
        .with_state(ctx)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: each
/// form-urlencoded before base64). `Some(None)` for a Basic header that does not decode.
fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, SecretString)>> {
    use base64::Engine as _;
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decode = || -> Option<(String, SecretString)> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = zeroize::Zeroizing::new(String::from_utf8(bytes).ok()?);
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| -> Option<String> {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(&format!("v={s}")).ok()?;
            pairs.into_iter().next().map(|(_, v)| v)
        };
        Some((unescape(id)?, SecretString::from(unescape(secret)?)))
    };
    Some(decode())
}

async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    ctx.control.counters().token_request();
    if !ctx.sleep(ctx.jittered_latency()).await {
        return failure(Failure::Unavailable);
    }
    if ctx.control.lock().take_token_rate_limit() {
        ctx.control.counters().rate_limited();
        return failure(Failure::RateLimited {
            retry_after_secs: 1,
        });
    }
    let mode = ctx.control.lock().sts_mode().clone();
    let description = mode.error_description.as_deref();
    if !is_form(&headers) {
        return oauth_error("invalid_request", description);
    }
    // The form error is not kept: its text could quote the body.
    let Ok(mut form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error("invalid_request", description);
    };
    match basic_credentials(&headers) {
        // One client authentication method per request (RFC 6749 §2.3).
        Some(_) if form.client_secret.is_some() => {
            return oauth_error("invalid_request", description)
        }
        Some(None) => return oauth_error("invalid_client", description),
        Some(Some((id, secret))) => {
            if form.client_id.as_ref().is_some_and(|f| *f != id) {
                return oauth_error("invalid_request", description);
            }
            form.client_id = Some(id);
            form.client_secret = Some(secret);
        }
        None if mode.require_basic => return wants_basic(description),
        None => {}
    }
    let answer = ctx.control.lock().token(form, Instant::now());
    match answer {
        Ok(answer) => (
            StatusCode::OK,
            [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
            Json(answer),
        )
            .into_response(),
        Err(code) => oauth_error(code, description),
    }
}

/// What an OAuth server that insists on HTTP Basic answers a secret sent in the form body
/// (Authlib's words).
fn wants_basic(description: Option<&str>) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (CACHE_CONTROL, "no-store"),
            (WWW_AUTHENTICATE, "Basic error=\"invalid_client\""),
        ],
        Json(OAuthError {
            error: "invalid_client",
            error_description: Some(
                description
                    .unwrap_or(
                        "The client cannot authenticate with methods: ['client_secret_basic']",
                    )
                    .to_string(),
            ),
        }),
    )
        .into_response()
}

/// Serves one partner API call: counted in flight, refused over the rate limit, delayed by
/// the latency, then `decide` (under the state's lock) names the answer once the bearer
/// token's access is known; the plan's delay and faults play out after the lock.
async fn api_call(
    ctx: Ctx,
    headers: &HeaderMap,
    decide: impl FnOnce(&mut super::state::State, Access) -> Result<Plan, Failure>,
) -> Response {
    let _in_flight = ctx.control.counters().api_request();
    if let Some(refused) = ctx.over_limit() {
        return refused;
    }
    if !ctx.sleep(ctx.jittered_latency()).await {
        return failure(Failure::Unavailable);
    }
    let plan = {
        let mut state = ctx.control.lock();
        let access = state.authenticate(bearer(headers), Instant::now());
        match access {
            Access::Unauthorised => return unauthorised(),
            Access::Forbidden => return failure(Failure::Forbidden),
            Access::Granted | Access::GrantedNarrowed => match decide(&mut state, access) {
                Ok(plan) => plan,
                Err(refused) => return failure(refused),
            },
        }
    };
    ctx.run(plan).await
}

async fn site_list(
    State(ctx): State<Ctx>,
    Path(application_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    api_call(ctx, &headers, |state, _| {
        Ok(state.site_list(&application_id))
    })
    .await
}

async fn clients(
    State(ctx): State<Ctx>,
    Path((application_id, organisation_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    api_call(ctx, &headers, |state, access| match access {
        Access::GrantedNarrowed => Err(Failure::InsufficientScope),
        _ => Ok(state.clients(&application_id, &organisation_id)),
    })
    .await
}

fn reply(reply: Reply) -> Response {
    match reply {
        Reply::Sites(sites) => Json(sites).into_response(),
        Reply::Clients(clients) => Json(clients).into_response(),
        Reply::Endless => endless(),
        Reply::Fail(f) => failure(f),
    }
}

/// How many chunks an endless body sends at most (64 KiB each: 4 GiB), so that even a
/// client that never hangs up ends.
const ENDLESS_CHUNKS: usize = 65_536;

/// `200` with a JSON array of clients that grows until the client hangs up.
fn endless() -> Response {
    let entry = r#"{"ClientId":"sas-endless","Secret":"x","Description":"endless"},"#;
    let chunk = Bytes::from(entry.repeat(64 * 1024 / entry.len()));
    let head = futures::stream::once(async {
        Ok::<Bytes, std::convert::Infallible>(Bytes::from_static(b"["))
    });
    let body = head.chain(futures::stream::iter(
        std::iter::repeat_n(chunk, ENDLESS_CHUNKS).map(Ok),
    ));
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

fn oauth_error(error: &'static str, description: Option<&str>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(CACHE_CONTROL, "no-store")],
        Json(OAuthError {
            error,
            error_description: description.map(str::to_string),
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn form_content_type_with_charset_is_accepted() {
        let mut h = HeaderMap::new();
        assert!(!is_form(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert!(is_form(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&h));
    }
}
