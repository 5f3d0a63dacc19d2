//! Looking a school up by a code that several schools share (an ambiguous DfE code): `show`,
//! `show --reveal` and `verify` show, reveal and verify nothing and list the candidates.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::hostile::*;

use common::*;
use simsid_simulator::SiteText;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_dfe_code_shows_reveals_and_verifies_nothing() {
    let sim = simulator(10, 809).await;
    let real = authorised_site(&sim, 0);
    let shadow = authorised_site(&sim, 1);
    for (site, name) in [(&real, "Real School"), (&shadow, "Shadow\u{1b}]0;x\u{7}")] {
        assert!(sim.control().set_site_text(
            &site.org_id,
            SiteText {
                name: Some(name.into()),
                dfe_code: Some("1001".into()),
                deni_number: None,
            }
        ));
    }
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    for args in [
        vec!["show", "1001", "--reveal"],
        vec!["show", "1001", "--json"],
        vec!["verify", "1001"],
    ] {
        sim.control().reset_stats();
        let o = simsid(&env, &args).await;
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{args:?}: nothing shown: {}",
            stdout(&o)
        );
        let err = stderr(&o);
        assert_terminal_safe(&err);
        assert!(err.contains(real.org_id.as_str()), "{err}");
        assert!(err.contains(shadow.org_id.as_str()), "{err}");
        assert!(err.contains("Real School"), "{err}");
        assert_eq!(sim.control().stats().token_requests, 0, "nothing verified");
    }
    let o = simsid(&env, &["audit", "--json"]).await;
    let audit = json(&o);
    assert!(
        !audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "reveal"),
        "nothing revealed: {audit}"
    );
    // The organisation id still picks one.
    let o = simsid(&env, &["show", shadow.org_id.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    sim.shutdown().await;
}
