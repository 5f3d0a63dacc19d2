//! The SIMS simulator over real HTTP: production paths and JSON shapes, the STS, faults,
//! the `/_sim/` control surface, counters and the `simulate` output.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use simsid::domain::OrgId;
use simsid_simulator::{Fault, SimConfig, SimEnv, SimSite, Simulator};
use simsid_testkit::sims::{authorised_site, start};

fn config(sites: usize, seed: u64) -> SimConfig {
    SimConfig {
        sites,
        seed,
        ..SimConfig::default()
    }
}

/// A simulator with `sites` schools from `seed`, and a client of its API: its settings,
/// an HTTP client, a token.
async fn api(sites: usize, seed: u64) -> (Simulator, SimEnv, reqwest::Client, String) {
    let sim = start(config(sites, seed)).await;
    let env = sim.env();
    let http = http();
    let token = token(&http, &env).await;
    (sim, env, http, token)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn token_response(
    http: &reqwest::Client,
    env: &SimEnv,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    http.post(&env.sts_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "rapapi partner partner-read partner-write"),
            ("acr_values", &format!("orgselect:{}", env.organisation_id)),
        ])
        .send()
        .await
        .unwrap()
}

async fn token(http: &reqwest::Client, env: &SimEnv) -> String {
    let answer = token_response(http, env, &env.client_id, env.client_secret.expose_secret()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn site_list_url(env: &SimEnv) -> String {
    format!(
        "{}/{}/GetSiteByApplication",
        env.api_base, env.application_id
    )
}

fn clients_url(env: &SimEnv, org: &str) -> String {
    format!("{}/{}/{org}/Clients", env.api_base, env.application_id)
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    http.get(url).bearer_auth(token).send().await.unwrap()
}

/// The status of a GET of `url` with `token`.
async fn status(http: &reqwest::Client, url: &str, token: &str) -> StatusCode {
    get(http, url, token).await.status()
}

fn authorised_with_clients(sites: &[SimSite]) -> SimSite {
    sites
        .iter()
        .find(|s| s.authorised && !s.clients.is_empty())
        .unwrap()
        .clone()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn same_seed_same_dataset_and_credentials_other_seed_different() {
    let a = start(config(60, 7)).await;
    let b = start(config(60, 7)).await;
    let c = start(config(60, 8)).await;
    let describe = |sim: &Simulator| {
        let env = sim.env();
        let mut lines = vec![format!(
            "{} {} {} {}",
            env.application_id,
            env.client_id,
            env.organisation_id,
            env.client_secret.expose_secret()
        )];
        for s in sim.control().sites() {
            let clients: Vec<String> = s
                .clients
                .iter()
                .map(|c| {
                    format!(
                        "{}:{}:{}",
                        c.client_id,
                        c.secret.expose_secret(),
                        c.description
                    )
                })
                .collect();
            lines.push(format!(
                "{} {} {:?} {:?} {} {}",
                s.org_id,
                s.name,
                s.dfe_code,
                s.deni_number,
                s.authorised,
                clients.join(",")
            ));
        }
        lines
    };
    assert_eq!(describe(&a), describe(&b));
    assert_ne!(describe(&a), describe(&c));
    assert_eq!(a.control().sites().len(), 60);
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn round_trip_token_site_list_clients_in_production_shape() {
    let sim = start(config(50, 3)).await;
    let env = sim.env();
    let http = http();

    let answer = token_response(
        &http,
        &env,
        &env.client_id,
        env.client_secret.expose_secret(),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "rapapi partner partner-read partner-write");
    let token = body["access_token"].as_str().unwrap().to_string();

    let list = get(&http, &site_list_url(&env), &token).await;
    assert_eq!(list.status(), StatusCode::OK);
    let list: Value = list.json().await.unwrap();
    let list = list.as_array().unwrap();
    let sites = sim.control().sites();
    assert_eq!(list.len(), sites.len());
    let expected_keys: BTreeSet<String> = [
        "Id",
        "Name",
        "OrganisationId",
        "DfeCode",
        "DeniNumber",
        "Authorised",
    ]
    .map(String::from)
    .into();
    for (wire, site) in list.iter().zip(&sites) {
        assert_eq!(keys(wire), expected_keys);
        let org = wire["OrganisationId"].as_str().unwrap();
        assert_eq!(org, site.org_id.as_str());
        assert_eq!(org, org.to_uppercase());
        assert_eq!(wire["Name"], site.name.as_str());
        assert_eq!(wire["DfeCode"].as_str(), site.dfe_code.as_deref());
        assert_eq!(wire["DeniNumber"].as_str(), site.deni_number.as_deref());
        assert_eq!(wire["Authorised"], u8::from(site.authorised));
        assert!(wire["Id"].is_null() || wire["Id"].is_i64());
    }

    let site = authorised_with_clients(&sites);
    // Lower case and braces are tolerated.
    let org = format!("{{{}}}", site.org_id.as_str().to_lowercase());
    let answer = get(&http, &clients_url(&env, &org), &token).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let clients: Value = answer.json().await.unwrap();
    let clients = clients.as_array().unwrap();
    assert_eq!(clients.len(), site.clients.len());
    let expected_keys: BTreeSet<String> = ["ClientId", "Secret", "OCPAIMKey", "Description"]
        .map(String::from)
        .into();
    for (wire, client) in clients.iter().zip(&site.clients) {
        assert_eq!(keys(wire), expected_keys);
        assert_eq!(wire["ClientId"], client.client_id.as_str());
        assert_eq!(wire["Secret"], client.secret.expose_secret());
        assert_eq!(wire["Description"], client.description.as_str());
        assert_eq!(wire["OCPAIMKey"].as_str(), client.ocpaimkey.as_deref());
    }

    let stats = sim.control().stats();
    assert_eq!(
        (stats.token_requests, stats.api_requests, stats.in_flight),
        (1, 2, 0)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn api_refuses_missing_unknown_and_expired_tokens() {
    let sim = start(SimConfig {
        token_ttl_secs: 0,
        ..config(10, 1)
    })
    .await;
    let env = sim.env();
    let http = http();
    let url = site_list_url(&env);
    let missing = http.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(missing.headers().contains_key("www-authenticate"));
    assert_eq!(
        status(&http, &url, "not-a-token").await,
        StatusCode::UNAUTHORIZED
    );
    // A token that lives zero seconds is expired when it is first used.
    let expired = token(&http, &env).await;
    assert_eq!(
        status(&http, &url, &expired).await,
        StatusCode::UNAUTHORIZED
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_stop_working_after_n_calls() {
    let sim = start(config(10, 1)).await;
    let env = sim.env();
    let http = http();
    sim.control().expire_tokens_after(Some(2));
    let token = token(&http, &env).await;
    let url = site_list_url(&env);
    assert_eq!(status(&http, &url, &token).await, StatusCode::OK);
    assert_eq!(status(&http, &url, &token).await, StatusCode::OK);
    assert_eq!(status(&http, &url, &token).await, StatusCode::UNAUTHORIZED);
    let fresh = self::token(&http, &env).await;
    assert_eq!(status(&http, &url, &fresh).await, StatusCode::OK);
    sim.control().expire_tokens_after(None);
    assert_eq!(status(&http, &url, &token).await, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn sts_accepts_school_credentials_until_rotated_or_withdrawn() {
    let sim = start(config(40, 5)).await;
    let env = sim.env();
    let http = http();
    let site = authorised_with_clients(&sim.control().sites());
    let client = site.clients[0].clone();
    let old = client.secret.expose_secret().to_string();

    let ok = token_response(&http, &env, &client.client_id, &old).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let school_token = ok.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // A school's token is not a partner token.
    assert_eq!(
        get(&http, &site_list_url(&env), &school_token)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    assert!(sim.control().rotate_secret(&site.org_id, &client.client_id));
    let refused = token_response(&http, &env, &client.client_id, &old).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let rotated = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.org_id == site.org_id)
        .unwrap()
        .clients[0]
        .secret
        .expose_secret()
        .to_string();
    assert_ne!(rotated, old);
    let ok = token_response(&http, &env, &client.client_id, &rotated).await;
    assert_eq!(ok.status(), StatusCode::OK);

    assert!(sim
        .control()
        .withdraw_client(&site.org_id, &client.client_id));
    let refused = token_response(&http, &env, &client.client_id, &rotated).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    let wrong = token_response(&http, &env, &env.client_id, "wrong-secret").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let password = http
        .post(&env.sts_url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", env.client_id.as_str()),
            ("client_secret", env.client_secret.expose_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(password.status(), StatusCode::BAD_REQUEST);
    let json_body = http
        .post(&env.sts_url)
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);

    let secrets = sim.control().all_secrets();
    for s in [
        &old,
        &rotated,
        &school_token,
        &env.client_secret.expose_secret().to_string(),
    ] {
        assert!(secrets.contains(s));
    }
    assert_eq!(sim.control().stats().token_requests, 7);
    sim.shutdown().await;
}

#[tokio::test]
async fn unauthorised_sites_answer_empty_403_or_404() {
    let (sim, env, http, token) = api(120, 2).await;
    let mut seen = BTreeSet::new();
    for site in sim.control().sites().iter().filter(|s| !s.authorised) {
        let answer = get(&http, &clients_url(&env, site.org_id.as_str()), &token).await;
        let status = answer.status();
        match status {
            StatusCode::OK => {
                assert_eq!(answer.json::<Value>().await.unwrap(), serde_json::json!([]));
                seen.insert("empty");
            }
            StatusCode::FORBIDDEN => {
                seen.insert("403");
            }
            StatusCode::NOT_FOUND => {
                seen.insert("404");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn each_fault_kind_is_observable() {
    let (sim, env, http, token) = api(20, 4).await;
    let site = authorised_with_clients(&sim.control().sites());
    let url = clients_url(&env, site.org_id.as_str());
    let control = sim.control();

    control.set_site_fault(&site.org_id, Fault::Status500, Some(1));
    assert_eq!(
        status(&http, &url, &token).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status(&http, &url, &token).await,
        StatusCode::OK,
        "times=1 clears"
    );

    control.set_site_fault(&site.org_id, Fault::Html502, None);
    for _ in 0..2 {
        let answer = get(&http, &url, &token).await;
        assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
        let content_type = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.starts_with("text/html"));
        assert!(answer.text().await.unwrap().contains("<html>"));
    }
    control.clear_site_fault(&site.org_id);
    assert_eq!(status(&http, &url, &token).await, StatusCode::OK);

    control.set_site_fault(
        &site.org_id,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        Some(1),
    );
    let limited = get(&http, &url, &token).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");

    control.set_site_fault(&site.org_id, Fault::Forbidden, Some(1));
    assert_eq!(status(&http, &url, &token).await, StatusCode::FORBIDDEN);
    control.set_site_fault(&site.org_id, Fault::NotFound, Some(1));
    assert_eq!(status(&http, &url, &token).await, StatusCode::NOT_FOUND);
    control.set_site_fault(&site.org_id, Fault::Unavailable503, Some(1));
    assert_eq!(
        status(&http, &url, &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    control.set_site_fault(
        &site.org_id,
        Fault::Slow(Duration::from_millis(50)),
        Some(1),
    );
    let slow = get(&http, &url, &token).await;
    assert_eq!(slow.status(), StatusCode::OK);
    assert_eq!(
        slow.json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        site.clients.len()
    );

    // A global fault hits every site.
    control.set_global_fault(Some(Fault::Status500), Some(2));
    let other = sim.control().sites()[0].org_id.clone();
    assert_eq!(
        get(&http, &clients_url(&env, other.as_str()), &token)
            .await
            .status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status(&http, &url, &token).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(status(&http, &url, &token).await, StatusCode::OK);

    control.fail_site_list(Some(1));
    assert_eq!(
        status(&http, &site_list_url(&env), &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&http, &site_list_url(&env), &token).await,
        StatusCode::OK
    );
    control.fail_site_list(None);
    assert_eq!(
        status(&http, &site_list_url(&env), &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&http, &site_list_url(&env), &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    control.clear_site_list_fault();
    assert_eq!(
        status(&http, &site_list_url(&env), &token).await,
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hanging_request_never_answers_and_shutdown_still_ends() {
    let (sim, env, http, token) = api(5, 1).await;
    let site = sim.control().sites()[0].org_id.clone();
    sim.control().set_site_fault(&site, Fault::Hang, None);
    let hung = http
        .get(clients_url(&env, site.as_str()))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());

    // A second hanging request is still open when the simulator shuts down.
    let pending = tokio::spawn({
        let http = http.clone();
        let url = clients_url(&env, site.as_str());
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status())
        }
    });
    for _ in 0..200 {
        if sim.control().stats().in_flight > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sim.control().stats().in_flight >= 1);
    let addr = sim.addr();
    tokio::time::timeout(Duration::from_secs(30), sim.shutdown())
        .await
        .expect("shutdown ends although a request hangs");
    let status = tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .unwrap()
        .unwrap();
    // The woken request is answered 503 (or its connection closes).
    if let Ok(status) = status {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn max_in_flight_counts_concurrent_requests() {
    let (sim, env, http, token) = api(8, 6).await;
    sim.control()
        .set_global_fault(Some(Fault::Slow(Duration::from_millis(300))), None);
    sim.control().reset_stats();
    let requests = sim.control().sites().into_iter().map(|site| {
        let http = http.clone();
        let url = clients_url(&env, site.org_id.as_str());
        let token = token.clone();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(requests).await;
    assert_eq!(statuses.len(), 8);
    let stats = sim.control().stats();
    assert_eq!(stats.api_requests, 8);
    assert_eq!(stats.in_flight, 0);
    assert!((2..=8).contains(&stats.max_in_flight), "{stats:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_is_counted_as_in_flight() {
    // Long enough that the poll below cannot miss the request even on a loaded machine.
    let sim = start(SimConfig {
        latency: Duration::from_millis(2000),
        ..config(3, 1)
    })
    .await;
    let env = sim.env();
    let http = http();
    let token = token(&http, &env).await;
    let request = tokio::spawn({
        let http = http.clone();
        let url = site_list_url(&env);
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let mut seen = 0;
    for _ in 0..200 {
        seen = sim.control().stats().in_flight;
        if seen > 0 || request.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen, 1);
    assert_eq!(request.await.unwrap(), StatusCode::OK);
    sim.shutdown().await;
}

async fn control_call(
    http: &reqwest::Client,
    sim: &Simulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = http.request(method, format!("http://{}/_sim{path}", sim.addr()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// The simulator's control API (`/_sim/…`) as a test calls it: one client, one token.
struct Control<'a> {
    http: &'a reqwest::Client,
    sim: &'a Simulator,
    token: Option<&'a str>,
}

impl Control<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        control_call(self.http, self.sim, method, path, body, self.token).await
    }
}

#[tokio::test]
async fn control_endpoints_need_the_control_token() {
    let (sim, _, http, api_token) = api(10, 1).await;
    for wrong in [None, Some("wrong"), Some(api_token.as_str())] {
        for (method, path) in [
            (reqwest::Method::GET, "/stats"),
            (reqwest::Method::POST, "/sites"),
            (reqwest::Method::POST, "/demo-mutate"),
        ] {
            let answer = control_call(&http, &sim, method, path, None, wrong).await;
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {wrong:?}"
            );
        }
    }
    assert_eq!(sim.control().sites().len(), 10, "nothing changed");
    sim.shutdown().await;
}

#[tokio::test]
async fn control_endpoints_change_the_simulation() {
    use reqwest::Method;
    let sim = start(config(10, 9)).await;
    let http = http();
    let env = sim.env();
    let control_token = sim.control_token();
    let ctl = Control {
        http: &http,
        sim: &sim,
        token: Some(control_token.expose_secret()),
    };
    let api = token(&http, &env).await;

    let stats = ctl.call(Method::GET, "/stats", None).await;
    assert_eq!(stats.status(), StatusCode::OK);
    let stats: Value = stats.json().await.unwrap();
    assert_eq!(stats["token_requests"], 1);
    assert!(stats.get("max_in_flight").is_some());

    let added = ctl.call(Method::POST, "/sites", None).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let org = added.json::<Value>().await.unwrap()["organisation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let org_id = simsid_simulator::OrgId::parse(&org).unwrap();
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.org_id == org_id)
        .unwrap();
    assert!((1..=2).contains(&site.clients.len()));

    let listed: Value = ctl
        .call(Method::GET, "/sites", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 11);
    let listed_text = listed.to_string();
    assert!(!listed_text.contains(site.clients[0].secret.expose_secret()));

    let client: Value = ctl
        .call(Method::POST, &format!("/sites/{org}/clients"), None)
        .await
        .json()
        .await
        .unwrap();
    let new_client = client["client_id"].as_str().unwrap().to_string();
    let clients_now = |sim: &Simulator| {
        sim.control()
            .sites()
            .into_iter()
            .find(|s| s.org_id == org_id)
            .map(|s| s.clients)
            .unwrap_or_default()
    };
    assert!(clients_now(&sim).iter().any(|c| c.client_id == new_client));

    let before = clients_now(&sim)[0].secret.expose_secret().to_string();
    let first = clients_now(&sim)[0].client_id.clone();
    let rotate = ctl
        .call(
            Method::POST,
            &format!("/sites/{org}/clients/{first}/rotate"),
            None,
        )
        .await;
    assert_eq!(rotate.status(), StatusCode::NO_CONTENT);
    assert_ne!(clients_now(&sim)[0].secret.expose_secret(), before);

    let withdraw = ctl
        .call(
            Method::DELETE,
            &format!("/sites/{org}/clients/{new_client}"),
            None,
        )
        .await;
    assert_eq!(withdraw.status(), StatusCode::NO_CONTENT);
    assert!(clients_now(&sim).iter().all(|c| c.client_id != new_client));
    let again = ctl
        .call(
            Method::DELETE,
            &format!("/sites/{org}/clients/{new_client}"),
            None,
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let lower = org.to_lowercase();
    let auth = ctl
        .call(
            Method::POST,
            &format!("/sites/{lower}/authorised"),
            Some(serde_json::json!({"authorised": null})),
        )
        .await;
    assert_eq!(auth.status(), StatusCode::NO_CONTENT);
    let list: Value = get(&http, &site_list_url(&env), &api)
        .await
        .json()
        .await
        .unwrap();
    let wire = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["OrganisationId"] == org.as_str())
        .unwrap()
        .clone();
    assert!(wire["Authorised"].is_null());
    ctl.call(
        Method::POST,
        &format!("/sites/{org}/authorised"),
        Some(serde_json::json!({"authorised": true})),
    )
    .await;

    // Each fault set through the control API, then what the API answers to the next calls.
    let org_clients = clients_url(&env, &org);
    let site_list = site_list_url(&env);
    let api_status = |url: String| {
        let (http, api) = (&http, &api);
        async move { status(http, &url, api).await.as_u16() }
    };
    let steps = [
        (
            Method::POST,
            format!("/sites/{org}/fault"),
            Some(json!({"kind": "rate_limited", "retry_after_secs": 3, "times": 1})),
            &org_clients,
            vec![429, 200],
        ),
        (
            Method::POST,
            "/fault".into(),
            Some(json!({"kind": "html502"})),
            &org_clients,
            vec![502],
        ),
        (
            Method::DELETE,
            "/fault".into(),
            None,
            &org_clients,
            vec![200],
        ),
        (
            Method::POST,
            "/site-list/fault".into(),
            Some(json!({"times": 1})),
            &site_list,
            vec![503, 200],
        ),
        (
            Method::POST,
            "/tokens/expire-after".into(),
            Some(json!({"calls": 0})),
            &site_list,
            vec![401],
        ),
        (
            Method::POST,
            "/tokens/expire-after".into(),
            Some(json!({"calls": null})),
            &site_list,
            vec![],
        ),
    ];
    for (method, path, body, url, answers) in steps {
        let set = ctl.call(method, &path, body).await;
        assert_eq!(set.status(), StatusCode::NO_CONTENT, "{path}");
        for want in answers {
            assert_eq!(api_status(url.clone()).await, want, "after {path}");
        }
    }
    // The rate-limited answer says when to retry.
    ctl.call(
        Method::POST,
        &format!("/sites/{org}/fault"),
        Some(json!({"kind": "rate_limited", "retry_after_secs": 3, "times": 1})),
    )
    .await;
    let limited = get(&http, &org_clients, &api).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "3");

    let mutated = ctl.call(Method::POST, "/demo-mutate", None).await;
    assert_eq!(mutated.status(), StatusCode::OK);
    let changes: Value = mutated.json().await.unwrap();
    assert_eq!(changes["notes"].as_array().unwrap().len(), 4);

    let removed = ctl
        .call(Method::DELETE, &format!("/sites/{{{lower}}}"), None)
        .await;
    let expected = if changes["removed"] == org.as_str() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::NO_CONTENT
    };
    assert_eq!(removed.status(), expected);
    assert!(sim.control().sites().iter().all(|s| s.org_id != org_id));
    assert_eq!(
        status(&http, &clients_url(&env, &org), &api).await,
        StatusCode::NOT_FOUND
    );

    let bad = ctl.call(Method::DELETE, "/sites/12345", None).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let reset = ctl.call(Method::POST, "/stats/reset", None).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.control().stats().api_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn shell_lines_are_six_safe_exports() {
    let sim = start(config(3, 1)).await;
    let env = sim.env();
    let text = env.shell_lines();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    let names = [
        "APPLICATION_ID",
        "CLIENT_ID",
        "ORGANISATION_ID",
        "CLIENT_SECRET",
        "STS_URL",
        "API_BASE",
    ];
    let values = [
        env.application_id.clone(),
        env.client_id.clone(),
        env.organisation_id.clone(),
        env.client_secret.expose_secret().to_string(),
        env.sts_url.clone(),
        env.api_base.clone(),
    ];
    let safe = regex::Regex::new(r"^[A-Za-z0-9_./:@%+=,-]+$").unwrap();
    for ((line, name), value) in lines.iter().zip(names).zip(&values) {
        let rest = line
            .strip_prefix(&format!("export SIMSID_{name}="))
            .unwrap();
        assert_eq!(rest, value);
        assert!(safe.is_match(rest), "{line}");
    }
    assert!(env.sts_url.starts_with(&format!("http://{}", sim.addr())));
    assert!(env.api_base.ends_with("/api/v1/partner"));
    OrgId::parse(&env.application_id).unwrap();
    OrgId::parse(&env.organisation_id).unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let sim = start(config(20, 1)).await;
    let site = authorised_with_clients(&sim.control().sites());
    let secret = site.clients[0].secret.expose_secret().to_string();
    assert!(!format!("{site:?}").contains(&secret));
    let env = sim.env();
    assert!(!format!("{env:?}").contains(env.client_secret.expose_secret()));
    sim.shutdown().await;
}

#[tokio::test]
async fn demo_mutate_shows_up_over_http() {
    let sim = start(SimConfig::demo(30, 2)).await;
    let env = sim.env();
    let http = http();
    let token = token(&http, &env).await;
    let orgs = |list: &Value| -> BTreeSet<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| s["OrganisationId"].as_str().unwrap().to_string())
            .collect()
    };
    let before: Value = get(&http, &site_list_url(&env), &token)
        .await
        .json()
        .await
        .unwrap();
    let changes = sim.control().demo_mutate();
    let after: Value = get(&http, &site_list_url(&env), &token)
        .await
        .json()
        .await
        .unwrap();
    let (before, after) = (orgs(&before), orgs(&after));
    let removed = changes.removed.unwrap();
    assert!(before.contains(removed.as_str()) && !after.contains(removed.as_str()));
    assert!(!before.contains(changes.added.as_str()) && after.contains(changes.added.as_str()));
    let rotated = changes.rotated.unwrap();
    let clients: Value = get(
        &http,
        &clients_url(&env, rotated.organisation_id.as_str()),
        &token,
    )
    .await
    .json()
    .await
    .unwrap();
    let served = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ClientId"] == rotated.client_id.as_str())
        .unwrap()["Secret"]
        .as_str()
        .unwrap()
        .to_string();
    let secrets = sim.control().all_secrets();
    assert!(secrets.contains(&served));
    sim.shutdown().await;
}

#[cfg(unix)]
// Not on Windows: stops `simsid simulate` with SIGINT, which cannot be sent to one process
// there (a console's Ctrl-C goes to every process attached to it).
#[cfg(not(windows))]
#[tokio::test]
async fn simulate_prints_settings_and_stops_on_ctrl_c() {
    // The real binary, so that the SIGINT goes to it and not to this test process, which
    // the other tests of this binary share.
    let home = tempfile::tempdir().unwrap();
    let mut simulate = crate::support::common::sandboxed_command(home.path());
    simulate
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--sites",
            "5",
            "--seed",
            "1",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = tokio::process::Command::from(simulate)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    let mut text = String::new();
    for _ in 0..6 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("six lines of settings");
        text.push_str(&line);
        text.push('\n');
    }
    assert!(
        text.lines().all(|l| l.starts_with("export SIMSID_")),
        "{text}"
    );
    let api_base = text
        .lines()
        .find_map(|l| l.strip_prefix("export SIMSID_API_BASE="))
        .unwrap()
        .to_string();
    // The server is up: an API call without a token is refused, not unreachable.
    let answer = http()
        .get(format!("{api_base}/x/GetSiteByApplication"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    // The six lines were all it printed.
    assert_eq!(lines.next_line().await.unwrap(), None);
}

/// The hostile-data and STS controls over `/_sim/`, and HTTP Basic accepted by
/// default (as IdentityServer does).
#[tokio::test]
async fn hostile_controls_over_http_and_basic_client_auth() {
    use reqwest::Method;
    let sim = start(config(6, 21)).await;
    let http = http();
    let env = sim.env();
    let control_token = sim.control_token();
    let ct = Some(control_token.expose_secret());
    let site = authorised_site(&sim, 0);
    let org = site.org_id.as_str().to_string();

    // HTTP Basic is accepted by default.
    let basic = http
        .post(&env.sts_url)
        .basic_auth(&env.client_id, Some(env.client_secret.expose_secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);

    let name = "x\u{1b}]52;c;SGVsbG8=\u{7}";
    let r = control_call(
        &http,
        &sim,
        Method::POST,
        &format!("/sites/{org}/text"),
        Some(serde_json::json!({ "name": name, "dfe_code": "1001" })),
        ct,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = control_call(
        &http,
        &sim,
        Method::POST,
        &format!("/sites/{org}/raw-clients"),
        Some(serde_json::json!({ "client_id": "dup", "secret": "s-1" })),
        ct,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = control_call(
        &http,
        &sim,
        Method::POST,
        &format!("/sites/{org}/clients/dup/duplicate"),
        Some(serde_json::json!({ "same_secret": false })),
        ct,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let now = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.org_id == site.org_id)
        .unwrap();
    assert_eq!(now.name, name);
    assert_eq!(now.dfe_code.as_deref(), Some("1001"));
    let dups: Vec<_> = now
        .clients
        .iter()
        .filter(|c| c.client_id == "dup")
        .collect();
    assert_eq!(dups.len(), 2);
    assert_ne!(
        dups[0].secret.expose_secret(),
        dups[1].secret.expose_secret()
    );

    // An STS that insists on Basic refuses the form body with a Basic challenge.
    let r = control_call(
        &http,
        &sim,
        Method::POST,
        "/sts",
        Some(serde_json::json!({ "require_basic": true })),
        ct,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let post = token_response(
        &http,
        &env,
        &env.client_id,
        env.client_secret.expose_secret(),
    )
    .await;
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    assert!(post.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // A narrowed grant: the token says so, and Clients answers 403 with a Bearer challenge.
    control_call(
        &http,
        &sim,
        Method::POST,
        "/sts",
        Some(serde_json::json!({ "granted_scope": "rapapi partner" })),
        ct,
    )
    .await;
    let answer = token_response(
        &http,
        &env,
        &env.client_id,
        env.client_secret.expose_secret(),
    )
    .await;
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["scope"], "rapapi partner");
    let token = body["access_token"].as_str().unwrap();
    let clients = http
        .get(format!(
            "{}/{}/{org}/Clients",
            env.api_base, env.application_id
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(clients.status(), StatusCode::FORBIDDEN);
    assert!(clients.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    sim.shutdown().await;
}
