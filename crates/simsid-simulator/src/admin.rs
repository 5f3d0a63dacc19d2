//! The `/_sim/` control routes, each a thin wrapper over a [`SimControl`] method. Every
//! route needs `Authorization: Bearer <control token>` (`401` otherwise).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /_sim/stats` | | `SimStats` JSON |
//! | `POST /_sim/stats/reset` | | `204` |
//! | `GET /_sim/sites` | | sites with client ids (no secrets) |
//! | `POST /_sim/sites` | | `201 {"organisation_id"}` |
//! | `DELETE /_sim/sites/{org}` | | `204` / `404` |
//! | `POST /_sim/sites/{org}/authorised` | `{"authorised": true\|false\|null}` | `204` / `404` |
//! | `POST /_sim/sites/{org}/clients` | | `201 {"client_id"}` / `404` |
//! | `DELETE /_sim/sites/{org}/clients/{client_id}` | | `204` / `404` |
//! | `POST /_sim/sites/{org}/clients/{client_id}/rotate` | | `204` / `404` |
//! | `POST /_sim/sites/{org}/clients/{client_id}/suspend` | | `204` / `404` |
//! | `POST`/`DELETE /_sim/sites/{org}/fault` | a fault (below) | `204` / `404` |
//! | `POST`/`DELETE /_sim/fault` | a fault, for every Clients call | `204` |
//! | `POST`/`DELETE /_sim/site-list/fault` | `{"times": n\|null}` | `204` |
//! | `POST /_sim/tokens/expire-after` | `{"calls": n\|null}` | `204` |
//! | `POST /_sim/demo-mutate` | | `DemoChanges` JSON |
//! | `GET /_sim/rate-limit` | | `{"per_second": n\|null}` |
//! | `POST /_sim/rate-limit` | `{"per_second": n\|null}` (null lifts it) | `204` |
//! | `DELETE /_sim/rate-limit` | | `204` (lifts it) |
//! | `POST /_sim/sites/{org}/text` | `{"name", "dfe_code", "deni_number"}` (each optional) | `204` / `404` |
//! | `POST /_sim/sites/{org}/raw-clients` | `{"client_id", "secret", "description"}` | `204` / `404` |
//! | `POST /_sim/sites/{org}/clients/{client_id}/duplicate` | `{"same_secret": bool}` | `204` / `404` |
//! | `POST /_sim/sts` | `StsMode` JSON (`granted_scope`, `require_basic`, `school_partner_scope_invalid`, `error_description`) | `204` |
//!
//! A fault body is `{"kind": K, "times": n|null}` with K one of `status500`, `html502`,
//! `rate_limited` (with `retry_after_secs`, default 1), `slow` (with `millis`), `hang`,
//! `forbidden`, `not_found`, `unavailable503`, `forbidden_insufficient_scope` (`403` with a
//! Bearer challenge), `endless_body`, or `none` to clear.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use secrecy::SecretString;

use super::model::{Fault, SimClient, SiteText, StsMode};
use super::respond::{bearer, failure, unauthorised, Ctx};
use super::state::{digest, Failure};
use crate::ids::OrgId;

/// The `/_sim/` routes, guarded by the control token.
pub(crate) fn router(ctx: Ctx) -> Router<Ctx> {
    Router::new()
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/sites", get(list_sites).post(add_site))
        .route("/sites/{org}", delete(remove_site))
        .route("/sites/{org}/authorised", post(set_authorised))
        .route("/sites/{org}/clients", post(add_client))
        .route("/sites/{org}/clients/{client_id}", delete(withdraw_client))
        .route(
            "/sites/{org}/clients/{client_id}/suspend",
            post(suspend_client),
        )
        .route(
            "/sites/{org}/clients/{client_id}/rotate",
            post(rotate_secret),
        )
        .route(
            "/sites/{org}/fault",
            post(set_site_fault).delete(clear_site_fault),
        )
        .route("/fault", post(set_global_fault).delete(clear_global_fault))
        .route(
            "/site-list/fault",
            post(fail_site_list).delete(clear_site_list_fault),
        )
        .route("/tokens/expire-after", post(expire_tokens_after))
        .route("/demo-mutate", post(demo_mutate))
        .route(
            "/rate-limit",
            get(rate_limit).post(set_rate_limit).delete(lift_rate_limit),
        )
        .route("/sites/{org}/text", post(set_site_text))
        .route("/sites/{org}/raw-clients", post(push_client))
        .route(
            "/sites/{org}/clients/{client_id}/duplicate",
            post(duplicate_client),
        )
        .route("/sts", post(set_sts_mode))
        .route_layer(middleware::from_fn_with_state(ctx, require_control_token))
}

async fn require_control_token(State(ctx): State<Ctx>, request: Request, next: Next) -> Response {
    let allowed = bearer(request.headers()).is_some_and(|t| digest(t) == ctx.control_digest);
    if allowed {
        next.run(request).await
    } else {
        unauthorised()
    }
}

/// A fault body: a [`Fault`] as the control API spells it, or `{"kind": "none"}` to clear,
/// and how many calls it hits (`times`, `null` for all).
#[derive(Debug)]
struct FaultBody {
    fault: Option<Fault>,
    times: Option<u32>,
}

impl<'de> Deserialize<'de> for FaultBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FaultBody, D::Error> {
        use serde::de::Error;
        use serde_json::Value;
        let mut body = serde_json::Map::<String, Value>::deserialize(d)?;
        let times = match body.remove("times") {
            None | Some(Value::Null) => None,
            Some(n) => Some(u32::deserialize(n).map_err(D::Error::custom)?),
        };
        let fault = match body.get("kind").and_then(Value::as_str) {
            Some("none") => None,
            _ => Some(Fault::deserialize(Value::Object(body)).map_err(D::Error::custom)?),
        };
        Ok(FaultBody { fault, times })
    }
}

#[derive(Deserialize)]
struct TimesBody {
    #[serde(default)]
    times: Option<u32>,
}

#[derive(Deserialize)]
struct CallsBody {
    #[serde(default)]
    calls: Option<u64>,
}

/// The gateway's rate limit as `/_sim/rate-limit` spells it.
#[derive(Deserialize, Serialize)]
struct RateLimitBody {
    #[serde(default)]
    per_second: Option<u32>,
}

#[derive(Deserialize)]
struct AuthorisedBody {
    authorised: Option<bool>,
}

/// A site as `GET /_sim/sites` lists it: no secrets.
#[derive(Serialize)]
struct SiteSummary {
    organisation_id: OrgId,
    name: String,
    dfe_code: Option<String>,
    deni_number: Option<String>,
    authorised: bool,
    client_ids: Vec<String>,
}

fn done(ok: bool) -> Response {
    if ok {
        StatusCode::NO_CONTENT.into_response()
    } else {
        failure(Failure::NotFound)
    }
}

/// The organisation id of a path (`None` when it is not a GUID: answer `400`).
fn org(text: &str) -> Option<OrgId> {
    OrgId::parse(text)
}

fn bad_request() -> Response {
    failure(Failure::BadRequest)
}

async fn stats(State(ctx): State<Ctx>) -> Response {
    Json(ctx.control.stats()).into_response()
}

async fn reset_stats(State(ctx): State<Ctx>) -> Response {
    ctx.control.reset_stats();
    done(true)
}

async fn list_sites(State(ctx): State<Ctx>) -> Response {
    let sites: Vec<SiteSummary> = ctx
        .control
        .sites()
        .into_iter()
        .map(|s| SiteSummary {
            client_ids: s.clients.iter().map(|c| c.client_id.clone()).collect(),
            organisation_id: s.org_id,
            name: s.name,
            dfe_code: s.dfe_code,
            deni_number: s.deni_number,
            authorised: s.authorised,
        })
        .collect();
    Json(sites).into_response()
}

async fn add_site(State(ctx): State<Ctx>) -> Response {
    let org = ctx.control.add_site();
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "organisation_id": org })),
    )
        .into_response()
}

async fn remove_site(State(ctx): State<Ctx>, Path(text): Path<String>) -> Response {
    match org(&text) {
        Some(org) => done(ctx.control.remove_site(&org)),
        None => bad_request(),
    }
}

async fn set_authorised(
    State(ctx): State<Ctx>,
    Path(text): Path<String>,
    Json(body): Json<AuthorisedBody>,
) -> Response {
    match org(&text) {
        Some(org) => done(ctx.control.set_authorised(&org, body.authorised)),
        None => bad_request(),
    }
}

async fn add_client(State(ctx): State<Ctx>, Path(text): Path<String>) -> Response {
    let Some(org) = org(&text) else {
        return bad_request();
    };
    match ctx.control.add_client(&org) {
        Some(client_id) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "client_id": client_id })),
        )
            .into_response(),
        None => failure(Failure::NotFound),
    }
}

async fn withdraw_client(
    State(ctx): State<Ctx>,
    Path((text, client_id)): Path<(String, String)>,
) -> Response {
    match org(&text) {
        Some(org) => done(ctx.control.withdraw_client(&org, &client_id)),
        None => bad_request(),
    }
}

async fn suspend_client(
    State(ctx): State<Ctx>,
    Path((text, client_id)): Path<(String, String)>,
) -> Response {
    match org(&text) {
        Some(org) => done(ctx.control.suspend_client(&org, &client_id)),
        None => bad_request(),
    }
}

async fn rotate_secret(
    State(ctx): State<Ctx>,
    Path((text, client_id)): Path<(String, String)>,
) -> Response {
    match org(&text) {
        Some(org) => done(ctx.control.rotate_secret(&org, &client_id)),
        None => bad_request(),
    }
}

async fn set_site_fault(
    State(ctx): State<Ctx>,
    Path(text): Path<String>,
    Json(body): Json<FaultBody>,
) -> Response {
    let Some(org) = org(&text) else {
        return bad_request();
    };
    let mut state = ctx.control.lock();
    if !state.site_exists(&org) {
        return failure(Failure::NotFound);
    }
    state.set_site_fault(&org, body.fault, body.times);
    done(true)
}

async fn clear_site_fault(State(ctx): State<Ctx>, Path(text): Path<String>) -> Response {
    let Some(org) = org(&text) else {
        return bad_request();
    };
    let mut state = ctx.control.lock();
    if !state.site_exists(&org) {
        return failure(Failure::NotFound);
    }
    state.set_site_fault(&org, None, None);
    done(true)
}

async fn set_global_fault(State(ctx): State<Ctx>, Json(body): Json<FaultBody>) -> Response {
    ctx.control.set_global_fault(body.fault, body.times);
    done(true)
}

async fn clear_global_fault(State(ctx): State<Ctx>) -> Response {
    ctx.control.set_global_fault(None, None);
    done(true)
}

async fn fail_site_list(State(ctx): State<Ctx>, Json(body): Json<TimesBody>) -> Response {
    ctx.control.fail_site_list(body.times);
    done(true)
}

async fn clear_site_list_fault(State(ctx): State<Ctx>) -> Response {
    ctx.control.clear_site_list_fault();
    done(true)
}

async fn expire_tokens_after(State(ctx): State<Ctx>, Json(body): Json<CallsBody>) -> Response {
    ctx.control.expire_tokens_after(body.calls);
    done(true)
}

async fn rate_limit(State(ctx): State<Ctx>) -> Response {
    Json(RateLimitBody {
        per_second: ctx.control.rate_limit(),
    })
    .into_response()
}

async fn set_rate_limit(State(ctx): State<Ctx>, Json(body): Json<RateLimitBody>) -> Response {
    ctx.control.set_rate_limit(body.per_second);
    done(true)
}

async fn lift_rate_limit(State(ctx): State<Ctx>) -> Response {
    ctx.control.set_rate_limit(None);
    done(true)
}

async fn demo_mutate(State(ctx): State<Ctx>) -> Response {
    Json(ctx.control.demo_mutate()).into_response()
}

#[derive(Deserialize)]
struct RawClientBody {
    client_id: String,
    secret: SecretString,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct DuplicateBody {
    #[serde(default)]
    same_secret: bool,
}

async fn set_site_text(
    State(ctx): State<Ctx>,
    Path(text): Path<String>,
    Json(body): Json<SiteText>,
) -> Response {
    match org(&text) {
        Some(org) => done(ctx.control.set_site_text(&org, body)),
        None => bad_request(),
    }
}

async fn push_client(
    State(ctx): State<Ctx>,
    Path(text): Path<String>,
    Json(body): Json<RawClientBody>,
) -> Response {
    let Some(org) = org(&text) else {
        return bad_request();
    };
    let client = SimClient {
        client_id: body.client_id,
        secret: body.secret,
        description: body.description,
        ocpaimkey: None,
    };
    done(ctx.control.push_client(&org, client))
}

async fn duplicate_client(
    State(ctx): State<Ctx>,
    Path((text, client_id)): Path<(String, String)>,
    Json(body): Json<DuplicateBody>,
) -> Response {
    match org(&text) {
        Some(org) => done(
            ctx.control
                .duplicate_client(&org, &client_id, body.same_secret),
        ),
        None => bad_request(),
    }
}

async fn set_sts_mode(State(ctx): State<Ctx>, Json(mode): Json<StsMode>) -> Response {
    ctx.control.set_sts_mode(mode);
    done(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fault_bodies_parse() {
        let parse = |s: &str| serde_json::from_str::<FaultBody>(s).unwrap();
        let b = parse(r#"{"kind":"rate_limited","retry_after_secs":7,"times":2}"#);
        assert_eq!(
            b.fault,
            Some(Fault::RateLimited {
                retry_after_secs: 7
            })
        );
        assert_eq!(b.times, Some(2));
        let b = parse(r#"{"kind":"slow","millis":250}"#);
        assert_eq!(b.fault, Some(Fault::Slow(Duration::from_millis(250))));
        assert_eq!(b.times, None);
        assert_eq!(parse(r#"{"kind":"none"}"#).fault, None);
        assert_eq!(
            parse(r#"{"kind":"unavailable503","times":null}"#).fault,
            Some(Fault::Unavailable503)
        );
        assert!(serde_json::from_str::<FaultBody>(r#"{"kind":"explode"}"#).is_err());
        assert!(serde_json::from_str::<FaultBody>(r#"{"kind":"slow"}"#).is_err());
        let b = parse(r#"{"kind":"rate_limited"}"#);
        assert_eq!(
            b.fault,
            Some(Fault::RateLimited {
                retry_after_secs: 1
            })
        );
    }
}
