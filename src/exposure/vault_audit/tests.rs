use super::*;
use chrono::TimeZone;

const ORG: &str = "207A1392-E1F6-47BA-81DA-6C374971D788";
const TIME: &str = "2026-12-02T17:08:14.478828149Z";

/// A client id's key segment decoded as the host writes it (percent-encoding), for the
/// tests only: the real one is the vault layer's, passed in by the caller.
fn decode(segment: &str) -> Option<String> {
    if segment.is_empty() || segment == "." || segment == ".." {
        return None;
    }
    let mut out = Vec::new();
    let b = segment.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(segment.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn scope() -> AuditScope {
    AuditScope::new(&CredentialLayout {
        mount: "secret",
        prefix: "simsid/APP",
        manifest: "_simsid/manifest",
        decode_client: decode,
    })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap()
}

fn fresh() -> VaultReads {
    VaultReads::new(None, now())
}

const ALICE: &str = r#"{"display_name":"userpass-alice","metadata":{"username":"alice"},"entity_id":"e-alice","policies":["default","op"]}"#;

fn line(kind: &str, op: &str, path: &str, version: Option<u64>, error: Option<&str>) -> String {
    record(ALICE, TIME, kind, op, path, version, error)
}

fn record(
    auth: &str,
    time: &str,
    kind: &str,
    op: &str,
    path: &str,
    version: Option<u64>,
    error: Option<&str>,
) -> String {
    let data = match version {
        Some(v) => format!(
            r#","data":{{"data":{{"secret":"hmac-sha256:ab"}},"metadata":{{"version":{v},"destroyed":false}}}}"#
        ),
        None => String::new(),
    };
    let error = error.map_or(String::new(), |e| format!(r#","error":"{e}""#));
    format!(
        r#"{{"time":"{time}","type":"{kind}","auth":{auth},"request":{{"operation":"{op}","path":"{path}"}},"response":{{"mount_type":"kv"{data}}}{error}}}"#
    )
}

fn cred_path(client: &str) -> String {
    format!("secret/data/simsid/APP/{ORG}/{client}")
}

/// Every identity's name per credential, with its reads.
fn names(reads: &VaultReads) -> Vec<(String, String, PairReads)> {
    reads
        .credentials()
        .flat_map(|(c, by)| {
            by.into_iter()
                .map(move |(who, r)| (c.1.clone(), who.name.clone(), r.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_successful_read_of_a_credential_is_taken() {
    let mut reads = fresh();
    reads.take_line(
        line("response", "read", &cred_path("sas-1"), Some(3), None).as_bytes(),
        &scope(),
    );
    assert_eq!(
        (reads.tally.lines, reads.tally.reads, reads.tally.skipped),
        (1, 1, 0)
    );
    let got = names(&reads);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("sas-1", "userpass-alice")
    );
    assert_eq!(got[0].2.versions, [3]);
    assert!(got[0].2.plain && got[0].2.wrapped_last.is_none());
}

#[test]
fn everything_else_is_skipped_and_counted() {
    let mut reads = fresh();
    let good = cred_path("sas-1");
    let lower = format!("secret/data/simsid/APP/{}/sas-1", ORG.to_ascii_lowercase());
    let braced = format!("secret/data/simsid/APP/{{{ORG}}}/sas-1");
    let lines = [
        "not json at all".to_string(),
        r#"{"type":"response"}"#.to_string(),
        line("request", "read", &good, Some(1), None),
        line("response", "update", &good, Some(1), None),
        line(
            "response",
            "read",
            &good,
            Some(1),
            Some("permission denied"),
        ),
        line("response", "read", &good, None, None),
        line(
            "response",
            "read",
            &format!("other/data/simsid/APP/{ORG}/sas-1"),
            Some(1),
            None,
        ),
        line(
            "response",
            "read",
            &format!("secret/data/simsid/OTHER/{ORG}/sas-1"),
            Some(1),
            None,
        ),
        line(
            "response",
            "read",
            "secret/data/simsid/APP/_simsid/manifest",
            Some(1),
            None,
        ),
        // metadata/ and subkeys/ never return the value.
        line(
            "response",
            "read",
            &format!("secret/metadata/simsid/APP/{ORG}/sas-1"),
            Some(1),
            None,
        ),
        line(
            "response",
            "read",
            &format!("secret/subkeys/simsid/APP/{ORG}/sas-1"),
            Some(1),
            None,
        ),
        line("response", "read", &format!("{good}/b"), Some(1), None),
        // The host writes organisation ids upper case, without braces.
        line("response", "read", &lower, Some(1), None),
        line("response", "read", &braced, Some(1), None),
    ];
    for l in &lines {
        reads.take_line(l.as_bytes(), &scope());
    }
    reads.take_line(b"\n", &scope());
    let n = lines.len() as u64;
    assert_eq!(
        (reads.tally.lines, reads.tally.reads, reads.tally.skipped),
        (n, 0, n)
    );
    assert_eq!(reads.credential_count(), 0);
}

#[test]
fn an_encoded_client_id_is_decoded() {
    let mut reads = fresh();
    reads.take_line(
        line("response", "read", &cred_path("a%2Fb"), Some(1), None).as_bytes(),
        &scope(),
    );
    assert_eq!(names(&reads)[0].0, "a/b");
}

#[test]
fn lines_are_streamed_and_an_endless_line_is_junk() {
    let good = line("response", "read", &cred_path("sas-1"), Some(2), None);
    let mut input = Vec::new();
    input.extend_from_slice(good.as_bytes());
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
    input.push(b'\n');
    input.extend_from_slice(good.as_bytes());
    input.push(b'\n');
    // A last line over the bound with no newline at all is junk too.
    input.extend(std::iter::repeat_n(b'y', MAX_LINE + 10));
    let mut reads = fresh();
    reads
        .read_from(io::BufReader::with_capacity(4096, &input[..]), &scope())
        .unwrap();
    assert_eq!(
        (reads.tally.lines, reads.tally.reads, reads.tally.skipped),
        (4, 2, 2)
    );
}

#[test]
fn shared_display_names_are_qualified_and_never_merged() {
    let mut reads = fresh();
    let path = cred_path("sas-1");
    let approle = |role: &str| {
        format!(
            r#"{{"display_name":"approle","metadata":{{"role_name":"{role}"}},"entity_id":"e-{role}","policies":["default","svc"]}}"#
        )
    };
    let auths = [
        approle("product"),
        approle("harvester"),
        r#"{"display_name":"token","policies":["root"]}"#.to_string(),
        r#"{"display_name":"token","entity_id":"e-42","policies":["default"]}"#.to_string(),
        r#"{"display_name":"token","policies":["default"]}"#.to_string(),
        // No display name at all: still a read, by an unnamed token.
        r#"{"entity_id":"e-7","policies":["default"]}"#.to_string(),
        ALICE.to_string(),
    ];
    for a in &auths {
        reads.take_line(
            record(a, TIME, "response", "read", &path, Some(1), None).as_bytes(),
            &scope(),
        );
    }
    let mut got: Vec<String> = names(&reads).into_iter().map(|x| x.1).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "approle:harvester",
            "approle:product",
            "root",
            "token:e-42",
            "token:e-7",
            "token:unknown",
            "userpass-alice"
        ]
    );
    assert_eq!(reads.identity_count(), 7);
}

#[test]
fn a_long_identity_is_cut_with_a_marker() {
    let mut reads = fresh();
    let long = "x".repeat(100_000);
    let auth =
        format!(r#"{{"display_name":"userpass-{long}","metadata":{{"username":"{long}"}}}}"#);
    reads.take_line(
        record(
            &auth,
            TIME,
            "response",
            "read",
            &cred_path("sas-1"),
            Some(1),
            None,
        )
        .as_bytes(),
        &scope(),
    );
    let got = names(&reads);
    assert!(got[0].1.len() < 400, "{}", got[0].1.len());
    assert!(got[0].1.contains("[truncated: "), "{}", got[0].1);
}

#[test]
fn a_record_from_the_future_is_junk() {
    let mut reads = fresh();
    let path = cred_path("sas-1");
    let soon = "2026-12-03T00:04:00Z"; // within the skew
    let later = "2026-12-03T00:06:00Z";
    for t in [soon, later, "2999-01-01T00:00:00Z"] {
        reads.take_line(
            record(ALICE, t, "response", "read", &path, Some(1), None).as_bytes(),
            &scope(),
        );
    }
    assert_eq!(
        (reads.tally.reads, reads.tally.future, reads.tally.skipped),
        (1, 2, 2)
    );
}

fn wrapped(auth: &str, time: &str, token: &str, creation_path: &str) -> String {
    format!(
        r#"{{"time":"{time}","type":"response","auth":{auth},"request":{{"operation":"read","path":"{creation_path}"}},"response":{{"mount_type":"kv","wrap_info":{{"ttl":300,"token":"{token}","accessor":"hmac-sha256:acc","creation_time":"{time}","creation_path":"{creation_path}"}}}}}}"#
    )
}

fn unwrap(
    auth: &str,
    time: &str,
    body_token: Option<&str>,
    client_token: &str,
    version: u64,
) -> String {
    let data = body_token.map_or(String::new(), |t| format!(r#","data":{{"token":"{t}"}}"#));
    format!(
        r#"{{"time":"{time}","type":"response","auth":{auth},"request":{{"operation":"update","path":"sys/wrapping/unwrap","client_token":"{client_token}"{data}}},"response":{{"data":{{"data":{{"secret":"hmac-sha256:x"}},"metadata":{{"version":{version}}}}}}}}}"#
    )
}

#[test]
fn a_wrapped_read_is_a_read_and_its_unwrap_is_tied_back() {
    let mut reads = fresh();
    let path = cred_path("sas-1");
    let other = cred_path("sas-2");
    let svc = r#"{"display_name":"token","entity_id":"e-svc","policies":["default"]}"#;
    let wrapper_token = r#"{"display_name":"userpass-alice","policies":["response-wrapping"]}"#;
    let lines = [
        wrapped(ALICE, "2026-12-02T10:00:00Z", "hmac-sha256:t1", &path),
        // Someone else unwraps t1 with their own token: they read it too, version 4.
        unwrap(
            svc,
            "2026-12-02T10:01:00Z",
            Some("hmac-sha256:t1"),
            "hmac-sha256:svc",
            4,
        ),
        // t2 is unwrapped with itself: the log names the wrapper, nobody new.
        wrapped(ALICE, "2026-12-02T11:00:00Z", "hmac-sha256:t2", &other),
        unwrap(
            wrapper_token,
            "2026-12-02T11:01:00Z",
            None,
            "hmac-sha256:t2",
            7,
        ),
        // An unwrap whose wrap is not in the files.
        unwrap(
            svc,
            "2026-12-02T12:00:00Z",
            Some("hmac-sha256:zz"),
            "hmac-sha256:svc",
            1,
        ),
        // A wrap of something else (sys/wrapping/wrap) is not a credential.
        wrapped(
            ALICE,
            "2026-12-02T12:00:00Z",
            "hmac-sha256:t3",
            "sys/wrapping/wrap",
        ),
    ];
    for l in &lines {
        reads.take_line(l.as_bytes(), &scope());
    }
    let t = &reads.tally;
    assert_eq!(
        (t.wrapped, t.unwraps_tied, t.unwraps_untied),
        (2, 2, 1),
        "{t:?}"
    );
    let got = names(&reads);
    let find = |client: &str, who: &str| {
        got.iter()
            .find(|x| x.0 == client && x.1 == who)
            .unwrap_or_else(|| panic!("{client} {who}: {got:?}"))
            .2
            .clone()
    };
    let a1 = find("sas-1", "userpass-alice");
    assert!(!a1.plain);
    assert_eq!(
        a1.versions,
        [4],
        "the unwrap says which version was wrapped"
    );
    assert_eq!(
        a1.wrapped_last,
        Some(Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap())
    );
    let s1 = find("sas-1", "token:e-svc");
    assert_eq!(s1.versions, [4]);
    assert!(s1.wrapped_last.is_some());
    assert_eq!(find("sas-2", "userpass-alice").versions, [7]);
    assert_eq!(got.len(), 3, "{got:?}");
}

#[test]
fn a_wrapped_answer_that_also_carries_data_is_not_taken_as_wrapped() {
    let mut reads = fresh();
    let l = wrapped(ALICE, TIME, "hmac-sha256:t1", &cred_path("sas-1")).replace(
        r#""wrap_info""#,
        r#""data":{"metadata":{"version":1}},"wrap_info""#,
    );
    reads.take_line(l.as_bytes(), &scope());
    assert_eq!((reads.tally.wrapped, reads.tally.skipped), (0, 1));
}

#[test]
fn manifest_writes_name_their_writer() {
    let mut reads = fresh();
    let manifest = "secret/data/simsid/APP/_simsid/manifest";
    let host =
        r#"{"display_name":"approle","metadata":{"role_name":"harvester"},"entity_id":"e-h"}"#;
    for (auth, op) in [
        (host, "create"),
        (host, "update"),
        (ALICE, "update"),
        (ALICE, "read"),
    ] {
        reads.take_line(
            record(auth, TIME, "response", op, manifest, None, None).as_bytes(),
            &scope(),
        );
    }
    let writers: Vec<(String, u64)> = reads
        .manifest_writers()
        .map(|(w, n)| (w.name.clone(), n.count))
        .collect();
    assert_eq!(
        writers,
        [
            ("approle:harvester".to_string(), 2),
            ("userpass-alice".to_string(), 1)
        ]
    );
    assert_eq!(reads.credential_count(), 0);
}

#[test]
fn versions_per_pair_are_bounded_keeping_the_highest() {
    let mut reads = fresh();
    for v in (1..=100).rev() {
        reads.take_line(
            line("response", "read", &cred_path("sas-1"), Some(v), None).as_bytes(),
            &scope(),
        );
    }
    let got = names(&reads);
    assert_eq!(got[0].2.versions.len(), MAX_VERSIONS);
    assert_eq!(got[0].2.versions.last(), Some(&100));
    assert_eq!(reads.tally.reads, 100);
}

#[test]
fn what_is_kept_is_capped_and_what_is_dropped_is_counted() {
    let mut reads = fresh();
    let path = cred_path("sas-1");
    for i in 0..=MAX_IDENTITIES {
        let auth = format!(r#"{{"display_name":"userpass-u{i}"}}"#);
        reads.take_line(
            record(&auth, TIME, "response", "read", &path, Some(1), None).as_bytes(),
            &scope(),
        );
    }
    assert_eq!(reads.identity_count(), MAX_IDENTITIES);
    assert_eq!(reads.tally.dropped, 1);
    assert_eq!(reads.tally.reads, MAX_IDENTITIES as u64);
}

#[test]
fn a_client_id_longer_than_any_the_host_writes_is_junk() {
    let mut reads = fresh();
    let long = "c".repeat(MAX_CLIENT_ID + 1);
    let fits = "c".repeat(MAX_CLIENT_ID);
    for client in [&long, &fits] {
        reads.take_line(
            line("response", "read", &cred_path(client), Some(1), None).as_bytes(),
            &scope(),
        );
    }
    assert_eq!((reads.tally.reads, reads.tally.skipped), (1, 1));
}

#[test]
fn open_wrapping_tokens_are_bounded_oldest_forgotten_first() {
    let mut reads = fresh();
    let path = cred_path("sas-1");
    let svc = r#"{"display_name":"token","entity_id":"e-svc"}"#;
    let n = MAX_OPEN_WRAPS + 5;
    for i in 0..n {
        reads.take_line(
            wrapped(ALICE, TIME, &format!("hmac-sha256:w{i}"), &path).as_bytes(),
            &scope(),
        );
    }
    assert!(reads.open_wraps.len() <= MAX_OPEN_WRAPS);
    // The first token was forgotten; the last is still tied.
    for i in [0, n - 1] {
        let t = format!("hmac-sha256:w{i}");
        reads.take_line(
            unwrap(svc, TIME, Some(&t), "hmac-sha256:svc", 1).as_bytes(),
            &scope(),
        );
    }
    assert_eq!(
        (reads.tally.unwraps_tied, reads.tally.unwraps_untied),
        (1, 1)
    );
    assert!(reads.wrap_order.len() <= 2 * MAX_OPEN_WRAPS);
}
