//! The SIMS client against a small scripted server on loopback: what goes on the wire
//! (form fields, headers, no secrets in URLs) and how each status is reported.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use simsid::domain::{AppId, OrgId};
use simsid::sims::{SimsClient, SimsError, SimsSettings};

const APP: &str = "11111111-2222-3333-4444-555555555555";
const OWN_ORG: &str = "AAAAAAAA-0000-0000-0000-000000000001";
const INTEGRATOR_SECRET: &str = "integrator-secret-Zq81";
const SCHOOL_SECRET: &str = "school-secret-Wm42";
const APIM_KEY: &str = "apim-key-Hx77";

fn org(n: u32) -> String {
    format!("BBBBBBBB-0000-0000-0000-{n:012}")
}

/// What the scripted server saw and how it behaves.
#[derive(Default)]
struct Mock {
    token_requests: AtomicU64,
    /// Tokens numbered below this are refused by the API with 401.
    valid_from: AtomicU64,
    token_forms: Mutex<Vec<HashMap<String, String>>>,
    token_queries: Mutex<Vec<String>>,
    api_headers: Mutex<Vec<HeaderMap>>,
}

fn token_number(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer tok-")?.parse().ok()
}

async fn handle(
    State(mock): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if method == Method::POST && path == "/connect/token" {
        let n = mock.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
        mock.token_queries
            .lock()
            .unwrap()
            .push(uri.query().unwrap_or("").to_owned());
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap();
        let ok = matches!(
            (
                form.get("client_id").map(String::as_str),
                form.get("client_secret").map(String::as_str)
            ),
            (Some("integrator"), Some(INTEGRATOR_SECRET))
                | (Some("school-client"), Some(SCHOOL_SECRET))
        );
        let unauthorised_client = form.get("client_id").map(String::as_str) == Some("no-grant");
        mock.token_forms.lock().unwrap().push(form);
        if unauthorised_client {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"error":"unauthorized_client"}"#,
            )
                .into_response();
        }
        if !ok {
            return (StatusCode::BAD_REQUEST, r#"{"error":"invalid_client"}"#).into_response();
        }
        let body =
            format!(r#"{{"access_token":"tok-{n}","expires_in":3600,"token_type":"Bearer"}}"#);
        return (StatusCode::OK, body).into_response();
    }
    if path == "/redirect/token" {
        return (
            StatusCode::FOUND,
            [("location", "http://127.0.0.1:9/connect/token")],
            "",
        )
            .into_response();
    }
    if path == "/busy/token" {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3")], "").into_response();
    }
    let Some(rest) = path.strip_prefix(&format!("/api/{APP}/")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    mock.api_headers.lock().unwrap().push(headers.clone());
    let valid = token_number(&headers).is_some_and(|n| n >= mock.valid_from.load(Ordering::SeqCst));
    if !valid {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if rest == "GetSiteByApplication" {
        let body = format!(
            r#"[{{"Id":0,"Name":"ESS (TI)","OrganisationId":"{}","DfeCode":"CAP0001","DeniNumber":null,"Authorised":1}}]"#,
            org(1).to_lowercase()
        );
        return (StatusCode::OK, body).into_response();
    }
    let Some(org_text) = rest.strip_suffix("/Clients") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let n: u32 = org_text.rsplit('-').next().unwrap().parse().unwrap();
    match n {
        1 => (
            StatusCode::OK,
            format!(r#"[{{"ClientId":"school-client","Secret":"{SCHOOL_SECRET}","OCPAIMKey":"{APIM_KEY}","Description":"d"}}]"#),
        )
            .into_response(),
        2 => StatusCode::FORBIDDEN.into_response(),
        3 => StatusCode::NOT_FOUND.into_response(),
        4 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "2")], "slow down").into_response(),
        5 => {
            let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", when)], "").into_response()
        }
        6 => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            format!("<html><body>502 Bad Gateway {SCHOOL_SECRET}</body></html>"),
        )
            .into_response(),
        7 => StatusCode::NO_CONTENT.into_response(),
        8 => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        9 => (StatusCode::OK, format!(r#"[{{"ClientId":"c","Secret":12345678,"Note":"{SCHOOL_SECRET}"}}]"#))
            .into_response(),
        10 => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            StatusCode::OK.into_response()
        }
        11 => StatusCode::UNAUTHORIZED.into_response(),
        12 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Server {
    addr: SocketAddr,
    mock: Arc<Mock>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The STS issued `n` tokens, and the client counts as many.
    fn assert_tokens(&self, client: &SimsClient, n: u64) {
        assert_eq!(self.mock.token_requests.load(Ordering::SeqCst), n);
        assert_eq!(client.token_requests(), n);
    }

    async fn start() -> Server {
        let mock = Arc::new(Mock::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&mock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { addr, mock, task }
    }

    fn settings(&self) -> SimsSettings {
        SimsSettings {
            sts_url: format!("http://{}/connect/token", self.addr),
            api_base: format!("http://{}/api/", self.addr),
            application_id: AppId::parse(APP).unwrap(),
            client_id: "integrator".into(),
            client_secret: SecretString::from(INTEGRATOR_SECRET),
            organisation_id: OrgId::parse(OWN_ORG).unwrap(),
            scopes: "rapapi partner partner-read partner-write".into(),
            acr_values: "orgselect:{organisation_id}".into(),
            apim_key: Some(SecretString::from(APIM_KEY)),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            client_auth: Default::default(),
            verify_scopes: String::new(),
        }
    }

    fn client(&self) -> SimsClient {
        SimsClient::new(self.settings()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn org_id(n: u32) -> OrgId {
    OrgId::parse(&org(n)).unwrap()
}

#[tokio::test]
async fn token_request_sends_the_documented_form_and_no_secret_in_the_url() {
    let server = Server::start().await;
    let client = server.client();
    let sites = client.sites().await.unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].org_id, org_id(1));

    let forms = server.mock.token_forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 1);
    let form = &forms[0];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "integrator");
    assert_eq!(form["client_secret"], INTEGRATOR_SECRET);
    assert_eq!(form["scope"], "rapapi partner partner-read partner-write");
    assert_eq!(form["acr_values"], format!("orgselect:{OWN_ORG}"));
    assert_eq!(server.mock.token_queries.lock().unwrap().as_slice(), [""]);

    let headers = server.mock.api_headers.lock().unwrap().clone();
    assert_eq!(headers[0]["authorization"], "Bearer tok-1");
    assert_eq!(headers[0]["ocp-apim-subscription-key"], APIM_KEY);
}

#[tokio::test]
async fn clients_are_parsed_and_statuses_mapped() {
    let server = Server::start().await;
    let client = server.client();

    let creds = client.clients(&org_id(1)).await.unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].client_id, "school-client");
    assert_eq!(creds[0].secret.expose_secret(), SCHOOL_SECRET);
    assert!(!format!("{creds:?}").contains(APIM_KEY));

    assert_eq!(
        client.clients(&org_id(2)).await.unwrap_err(),
        SimsError::Forbidden
    );
    assert_eq!(
        client.clients(&org_id(3)).await.unwrap_err(),
        SimsError::NotFound
    );

    let limited = client.clients(&org_id(4)).await.unwrap_err();
    assert_eq!(
        limited,
        SimsError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        }
    );
    assert!(limited.is_transient());
    assert_eq!(
        limited.to_string(),
        "rate limited by SIMS ID (retry after 2 s)"
    );

    let dated = client.clients(&org_id(5)).await.unwrap_err();
    let after = dated
        .retry_after()
        .expect("an HTTP-date Retry-After is read");
    assert!(
        after > Duration::from_secs(100) && after <= Duration::from_secs(120),
        "{after:?}"
    );

    let gateway = client.clients(&org_id(6)).await.unwrap_err();
    assert_eq!(gateway, SimsError::Server { status: 502 });
    assert!(gateway.is_transient());
    assert_eq!(gateway.to_string(), "SIMS ID server error 502");

    assert!(client.clients(&org_id(7)).await.unwrap().is_empty());
    assert_eq!(
        client.clients(&org_id(8)).await.unwrap_err(),
        SimsError::Status { status: 405 }
    );

    let malformed = client.clients(&org_id(9)).await.unwrap_err();
    let text = malformed.to_string();
    assert!(matches!(malformed, SimsError::Malformed(_)), "{text}");
    assert!(
        text.contains("Secret") && !text.contains("12345678") && !text.contains(SCHOOL_SECRET),
        "{text}"
    );

    assert_eq!(
        client.clients(&org_id(12)).await.unwrap_err(),
        SimsError::Server { status: 503 }
    );
    // One token served every call above.
    server.assert_tokens(&client, 1);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_then_unauthorized() {
    let server = Server::start().await;
    let client = server.client();
    client.sites().await.unwrap();
    // The server forgets token 1: the next call gets a 401, renews, and succeeds.
    server.mock.valid_from.store(2, Ordering::SeqCst);
    assert_eq!(client.clients(&org_id(1)).await.unwrap().len(), 1);
    assert_eq!(server.mock.token_requests.load(Ordering::SeqCst), 2);
    // An endpoint that refuses every token: one renewal, then Unauthorized.
    assert_eq!(
        client.clients(&org_id(11)).await.unwrap_err(),
        SimsError::Unauthorized
    );
    server.assert_tokens(&client, 3);
}

/// How listing the sites with `settings` fails.
async fn sites_error(settings: SimsSettings) -> SimsError {
    SimsClient::new(settings)
        .unwrap()
        .sites()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn sts_refusals_redirects_and_rate_limits() {
    let server = Server::start().await;
    let mut settings = server.settings();
    settings.client_secret = SecretString::from("wrong-secret-Kd93");
    let err = sites_error(settings).await;
    assert!(matches!(err, SimsError::CredentialsRefused(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret-Kd93"));

    let mut settings = server.settings();
    settings.client_id = "no-grant".into();
    let err = sites_error(settings).await;
    assert!(matches!(err, SimsError::CredentialsRefused(_)), "{err:?}");

    let mut settings = server.settings();
    settings.sts_url = format!("http://{}/redirect/token", server.addr);
    let err = sites_error(settings).await;
    assert_eq!(err, SimsError::Redirect { status: 302 });
    assert!(err.to_string().contains("redirect"), "{err}");

    let mut settings = server.settings();
    settings.sts_url = format!("http://{}/busy/token", server.addr);
    let err = sites_error(settings).await;
    assert_eq!(
        err,
        SimsError::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
}

#[tokio::test]
async fn verify_requests_a_token_with_the_school_credential() {
    let server = Server::start().await;
    let client = server.client();
    let school = org_id(1);
    client
        .verify(&school, "school-client", &SecretString::from(SCHOOL_SECRET))
        .await
        .unwrap();
    let wrong = client
        .verify(&school, "school-client", &SecretString::from("not-it-Pq55"))
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, SimsError::CredentialsRefused(_)),
        "{wrong:?}"
    );
    let forms = server.mock.token_forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 2);
    assert_eq!(forms[0]["client_id"], "school-client");
    assert_eq!(
        forms[0]["acr_values"],
        format!("orgselect:{}", school.as_str())
    );
    // item16: verify asks no scope by default (`verify_scopes` is empty): school
    // credentials are not partner credentials.
    assert!(!forms[0].contains_key("scope"), "{:?}", forms[0].keys());
    // Verify tokens are not cached: the integrator's own token is still fetched.
    client.sites().await.unwrap();
    server.assert_tokens(&client, 3);
}

#[tokio::test]
async fn a_slow_api_times_out() {
    let server = Server::start().await;
    let mut settings = server.settings();
    settings.timeout = Duration::from_millis(300);
    let client = SimsClient::new(settings).unwrap();
    let err = client.clients(&org_id(10)).await.unwrap_err();
    assert_eq!(err, SimsError::Timeout);
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_network_error_without_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let server = Server::start().await;
    let mut settings = server.settings();
    settings.sts_url = format!("http://{addr}/connect/token");
    let err = sites_error(settings).await;
    assert!(matches!(err, SimsError::Network(_)), "{err:?}");
    assert!(err.is_transient());
    assert!(!err.to_string().contains("/connect/token"), "{err}");
}

#[tokio::test]
async fn settings_that_would_expose_secrets_are_refused() {
    let server = Server::start().await;
    let mut settings = server.settings();
    settings.sts_url = "http://sts.example.com/connect/token".into();
    assert!(matches!(
        SimsClient::new(settings),
        Err(SimsError::Request(_))
    ));
    let mut settings = server.settings();
    settings.api_base = "https://user:pw@rap.example.com/api".into();
    assert!(matches!(
        SimsClient::new(settings),
        Err(SimsError::Request(_))
    ));
}
