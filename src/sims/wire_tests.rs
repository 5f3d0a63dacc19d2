//! Tolerance and no-leak tests of the wire parsers.

use super::*;
use proptest::prelude::*;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const ORG: &str = "207A1392-E1F6-47BA-81DA-6C374971D788";

fn malformed(result: Result<impl std::fmt::Debug, SimsError>) -> String {
    match result {
        Err(SimsError::Malformed(text)) => text,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn sites_parse_in_pascal_camel_lower_and_snake_case() {
    let bodies = [
        json!([{"Id": 0, "Name": "ESS (TI)", "OrganisationId": ORG, "DfeCode": "CAP0001",
                "DeniNumber": null, "Authorised": 1}]),
        json!([{"id": 0, "name": "ESS (TI)", "organisationId": ORG, "dfeCode": "CAP0001",
                "deniNumber": null, "authorised": 1}]),
        json!([{"ID": null, "NAME": "ESS (TI)", "organisationid": ORG, "dfecode": "CAP0001",
                "authorised": true}]),
        json!([{"name": "ESS (TI)", "organisation_id": ORG, "dfe_code": "CAP0001",
                "deni_number": "", "authorized": "1"}]),
    ];
    for body in bodies {
        let sites = parse_sites(&bytes(&body)).unwrap();
        assert_eq!(
            sites,
            vec![Site {
                org_id: OrgId::parse(ORG).unwrap(),
                name: "ESS (TI)".into(),
                dfe_code: Some("CAP0001".into()),
                deni_number: None,
                authorised: Some(true),
            }],
            "{body}"
        );
    }
}

#[test]
fn sites_ignore_unknown_fields_and_accept_nulls() {
    let body = json!([
        {"Id": null, "Name": "Ysgol Gymraeg", "OrganisationId": "{207a1392-e1f6-47ba-81da-6c374971d788}",
         "DfeCode": null, "DeniNumber": "1234567", "Authorised": null,
         "Extra": {"nested": [1, 2, {"deep": "x"}]}, "Region": "Wales"},
        {"Name": "Numbered", "OrganisationId": "3f2504e04f8911d39a0c0305e82c3301",
         "DfeCode": 3734001, "Authorised": 0}
    ]);
    let sites = parse_sites(&bytes(&body)).unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0].org_id.as_str(), ORG);
    assert_eq!(sites[0].dfe_code, None);
    assert_eq!(sites[0].deni_number.as_deref(), Some("1234567"));
    assert_eq!(sites[0].authorised, None);
    assert_eq!(
        sites[1].org_id.as_str(),
        "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    );
    assert_eq!(sites[1].dfe_code.as_deref(), Some("3734001"));
    assert_eq!(sites[1].authorised, Some(false));
}

#[test]
fn an_empty_site_list_is_empty() {
    assert!(parse_sites(b" [ ] ").unwrap().is_empty());
}

#[test]
fn a_bad_organisation_id_names_the_field_not_the_value() {
    let body = json!([{"Name": "A", "OrganisationId": ORG},
                      {"Name": "B", "OrganisationId": "not-a-guid-zebra"}]);
    let text = malformed(parse_sites(&bytes(&body)));
    assert!(text.contains("OrganisationId"), "{text}");
    assert!(text.contains("site 1"), "{text}");
    assert!(!text.contains("zebra"), "{text}");

    let missing = malformed(parse_sites(&bytes(&json!([{"Name": "A"}]))));
    assert!(missing.contains("`OrganisationId` is missing"), "{missing}");

    let number = malformed(parse_sites(&bytes(
        &json!([{"Name": "A", "OrganisationId": 98765432}]),
    )));
    assert!(number.contains("OrganisationId") && !number.contains("98765432"));
}

#[test]
fn authorised_is_refused_when_not_a_flag() {
    for bad in [json!(2), json!("maybe-not"), json!([1]), json!({"v": 1})] {
        let body = json!([{"Name": "A", "OrganisationId": ORG, "Authorised": bad}]);
        let text = malformed(parse_sites(&bytes(&body)));
        assert!(text.contains("Authorised"), "{text}");
        assert!(!text.contains("maybe-not"), "{text}");
    }
}

#[test]
fn site_field_types_are_checked() {
    let body = json!([{"Name": ["Secretive Academy"], "OrganisationId": ORG}]);
    let text = malformed(parse_sites(&bytes(&body)));
    assert!(text.contains("`Name` is an array"), "{text}");
    assert!(!text.contains("Secretive"), "{text}");
    let body = json!([{"Name": "A", "OrganisationId": ORG, "DfeCode": {"code": "HIDDEN1"}}]);
    let text = malformed(parse_sites(&bytes(&body)));
    assert!(
        text.contains("DfeCode") && !text.contains("HIDDEN1"),
        "{text}"
    );
}

#[test]
fn clients_parse_in_both_cases_and_drop_the_apim_key() {
    let bodies = [
        json!([{"ClientId": "sas-simsprimary-1", "Secret": "s3cr3t-value-1",
                "OCPAIMKey": "apim-key-value-xyz", "Description": "Primary"}]),
        json!([{"clientId": "sas-simsprimary-1", "secret": "s3cr3t-value-1",
                "ocpaimKey": {"weird": "apim-key-value-xyz"}, "description": "Primary",
                "unknown": [1, 2, 3]}]),
    ];
    for body in bodies {
        let clients = parse_clients(&bytes(&body)).unwrap();
        assert_eq!(clients.len(), 1);
        let c = &clients[0];
        assert_eq!(c.client_id, "sas-simsprimary-1");
        assert_eq!(c.secret.expose_secret(), "s3cr3t-value-1");
        assert_eq!(c.description.as_deref(), Some("Primary"));
        let debug = format!("{c:?}");
        assert!(!debug.contains("apim-key-value-xyz"), "{debug}");
        assert!(!debug.contains("s3cr3t-value-1"), "{debug}");
    }
}

#[test]
fn clients_accept_null_description_and_apim_key() {
    let body = json!([{"ClientId": "a-client", "Secret": "a-secret", "OCPAIMKey": null,
                       "Description": null}]);
    let clients = parse_clients(&bytes(&body)).unwrap();
    assert_eq!(clients[0].description, None);
    assert!(parse_clients(b"[]").unwrap().is_empty());
}

#[test]
fn a_secret_of_the_wrong_type_is_refused_without_quoting_it() {
    for secret in [
        json!(918273645),
        json!(["hidden-secret-1"]),
        json!({"v": "hidden-secret-2"}),
        json!(true),
        json!(null),
    ] {
        let body = json!([{"ClientId": "visible-client", "Secret": secret,
                           "Description": "desc-value"}]);
        let text = malformed(parse_clients(&bytes(&body)));
        assert!(text.contains("Secret"), "{text}");
        for value in ["918273645", "hidden-secret", "visible-client", "desc-value"] {
            assert!(!text.contains(value), "{text}");
        }
    }
    let text = malformed(parse_clients(&bytes(&json!([{"ClientId": "c"}]))));
    assert!(text.contains("`Secret` is missing"), "{text}");
}

#[test]
fn other_client_field_types_are_checked() {
    let body = json!([{"ClientId": 123456789, "Secret": "hidden-secret-3"}]);
    let text = malformed(parse_clients(&bytes(&body)));
    assert!(
        text.contains("ClientId") && !text.contains("123456789"),
        "{text}"
    );
    assert!(!text.contains("hidden-secret-3"), "{text}");
    let body = json!([{"ClientId": "c", "Secret": "hidden-secret-4", "Description": 55555}]);
    let text = malformed(parse_clients(&bytes(&body)));
    assert!(
        text.contains("Description") && !text.contains("55555"),
        "{text}"
    );
}

#[test]
fn bodies_that_are_not_arrays_of_objects_are_malformed() {
    let text = malformed(parse_sites(&bytes(&json!({"sites": ["hidden-site-x"]}))));
    assert_eq!(text, "expected a JSON array of sites, got an object");
    let text = malformed(parse_clients(&bytes(&json!(["hidden-secret-5"]))));
    assert_eq!(text, "client 0: is a string, expected an object");
    let text = malformed(parse_clients(
        b"<html><body>Bad Gateway hidden-secret-6</body></html>",
    ));
    assert!(
        text.starts_with("not valid JSON (line 1, column 1)"),
        "{text}"
    );
    assert!(!text.contains("hidden"), "{text}");
    let text = malformed(parse_clients(
        br#"[{"ClientId": "c", "Secret": "hidden-secret-7"#,
    ));
    assert!(text.starts_with("not valid JSON"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
    let text = malformed(parse_sites(b"  "));
    assert_eq!(text, "empty answer, expected a JSON array of sites");
    let text = malformed(parse_clients(b"[] trailing-hidden"));
    assert!(!text.contains("trailing-hidden"), "{text}");
}

#[test]
fn token_answers_parse_tolerantly() {
    let t = parse_token(br#"{"access_token":"abc.def-123","expires_in":3600,"token_type":"Bearer","scope":"rapapi"}"#)
        .unwrap();
    assert_eq!(t.access_token.expose_secret(), "abc.def-123");
    assert_eq!(t.expires_in, Some(3600));
    let t = parse_token(br#"{"AccessToken":"abc","ExpiresIn":"120"}"#).unwrap();
    assert_eq!(t.expires_in, Some(120));
    let t = parse_token(br#"{"access_token":"abc"}"#).unwrap();
    assert_eq!(t.expires_in, None);
    assert!(!format!("{t:?}").contains("abc"));

    let text = malformed(parse_token(br#"{"token_type":"Bearer"}"#));
    assert!(text.contains("`access_token` is missing"), "{text}");
    let text = malformed(parse_token(br#"{"access_token":77777777}"#));
    assert!(
        text.contains("access_token") && !text.contains("77777777"),
        "{text}"
    );
    let text = malformed(parse_token(b"{\"access_token\":\"line\\nbreak-hidden\"}"));
    assert!(
        text.contains("printable") && !text.contains("hidden"),
        "{text}"
    );
    let text = malformed(parse_token(
        br#"{"access_token":"t","expires_in":"soon-hidden"}"#,
    ));
    assert!(
        text.contains("expires_in") && !text.contains("hidden"),
        "{text}"
    );
}

#[test]
fn oauth_errors_keep_code_and_description() {
    let e = parse_oauth_error(br#"{"error":"invalid_client"}"#);
    assert_eq!(e.code.as_deref(), Some("invalid_client"));
    assert!(e.refuses_client());
    let e = parse_oauth_error(br#"{"Error":"unauthorized_client","error_description":"x"}"#);
    assert_eq!(e.code.as_deref(), Some("unauthorized_client"));
    assert_eq!(e.description.as_deref(), Some("x"));
    assert!(e.refuses_client());
    let e = parse_oauth_error(br#"{"error":"invalid_scope"}"#);
    assert_eq!(e.code.as_deref(), Some("invalid_scope"));
    assert!(!e.refuses_client());
    assert_eq!(parse_oauth_error(br#"{"error":42}"#), OAuthError::default());
    assert_eq!(parse_oauth_error(b"<html>"), OAuthError::default());
    assert_eq!(parse_oauth_error(b""), OAuthError::default());
}

#[test]
fn field_names_match_ignoring_case_and_underscores() {
    assert!(key_is("OrganisationId", "organisationid"));
    assert!(key_is("organisation_id", "organisationid"));
    assert!(key_is("ORGANISATIONID", "organisationid"));
    assert!(!key_is("OrganisationIdX", "organisationid"));
    assert!(!key_is("Organisation", "organisationid"));
    assert!(!key_is("", "secret"));
}

/// Field names a parser knows, in assorted cases, so generated objects reach the field code.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ClientId".to_owned()),
        Just("clientId".to_owned()),
        Just("Secret".to_owned()),
        Just("secret".to_owned()),
        Just("Description".to_owned()),
        Just("OCPAIMKey".to_owned()),
        Just("OrganisationId".to_owned()),
        Just("organisationId".to_owned()),
        Just("Name".to_owned()),
        Just("DfeCode".to_owned()),
        Just("Authorised".to_owned()),
        Just("access_token".to_owned()),
        Just("expires_in".to_owned()),
        any::<String>(),
    ]
}

/// String values: arbitrary Unicode, secret-like tokens and GUID-like text.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/=]{8,40}",
        "[0-9a-fA-F{}-]{30,40}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..3).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        string_value().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly arrays of objects with known keys (the interesting shapes), sometimes anything.
fn body() -> impl Strategy<Value = Value> {
    let object = prop::collection::btree_map(key(), json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    prop_oneof![
        3 => prop::collection::vec(object, 0..5).prop_map(Value::Array),
        1 => json_value(),
    ]
}

fn string_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.chars().count() >= 4 => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| string_values(i, out)),
        Value::Object(map) => map.values().for_each(|i| string_values(i, out)),
        _ => {}
    }
}

fn assert_no_leak(result: Result<impl Sized, SimsError>, strings: &[String]) {
    if let Err(err) = result {
        let text = err.to_string();
        for s in strings {
            assert!(!text.contains(s.as_str()), "error {text:?} quotes {s:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_or_leaks(value in body(), cut in any::<prop::sample::Index>()) {
        let mut strings = Vec::new();
        string_values(&value, &mut strings);
        let whole = bytes(&value);
        assert_no_leak(parse_clients(&whole), &strings);
        assert_no_leak(parse_sites(&whole), &strings);
        assert_no_leak(parse_token(&whole), &strings);
        let _ = parse_oauth_error(&whole);
        // A truncated answer (a dropped connection) is a syntax error that quotes nothing.
        let truncated = &whole[..cut.index(whole.len() + 1)];
        assert_no_leak(parse_clients(truncated), &strings);
        assert_no_leak(parse_sites(truncated), &strings);
    }
}
