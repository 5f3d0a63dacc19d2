//! Cluster routing (docs/reference/vault.md "A cluster"): which node a request goes to, and retries across
//! the nodes within the shared time budget. Connection failures, timeouts, `5xx`,
//! redirects (never followed), `429` and sealed nodes move on to the next node; after each
//! full round of nodes a pause that grows to 1 s; a TLS failure is not retried. The
//! decisions are pure ([`Nodes`], [`verdict`], [`pause_after`], [`Leader::node`]); the
//! loop that follows them is [`VaultClient::send`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::error::VaultError;
use super::http::{tls_failure, transport_reason, Answer};

/// Which node a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The node last seen working (a standby forwards writes to the active node).
    Any,
    /// The active node (`sys/leader`): for reads that must see our own writes.
    Active,
}

/// The cluster's nodes and what is known of them: the one last seen answering, and the
/// active one once `sys/leader` named it.
#[derive(Debug)]
pub(crate) struct Nodes {
    addrs: Vec<String>,
    /// Index of the node last seen answering.
    current: AtomicUsize,
    /// Index + 1 of the active node when known, 0 when not.
    leader: AtomicUsize,
}

impl Nodes {
    /// The nodes at `addrs` (at least one), nothing known yet.
    pub(crate) fn new(addrs: Vec<String>) -> Nodes {
        Nodes {
            addrs,
            current: AtomicUsize::new(0),
            leader: AtomicUsize::new(0),
        }
    }

    /// The configured addresses.
    pub(crate) fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The address of node `index`.
    pub(crate) fn addr(&self, index: usize) -> &str {
        &self.addrs[index]
    }

    /// The node last seen answering.
    pub(crate) fn last_answering(&self) -> usize {
        self.current.load(Ordering::Relaxed) % self.addrs.len()
    }

    /// Where a request on `route` starts without asking anyone: the node last seen
    /// answering for [`Route::Any`]; for [`Route::Active`] the active node when it is known
    /// or there is only one node, `None` when `sys/leader` must be asked.
    pub(crate) fn start(&self, route: Route) -> Option<usize> {
        match route {
            Route::Any => Some(self.last_answering()),
            Route::Active if self.addrs.len() == 1 => Some(0),
            Route::Active => self.leader.load(Ordering::Relaxed).checked_sub(1),
        }
    }

    /// Node `index` answered: the next request starts there.
    pub(crate) fn answered(&self, index: usize) {
        self.current.store(index, Ordering::Relaxed);
    }

    /// Node `index` failed: it is no longer taken for the active node.
    pub(crate) fn failed(&self, index: usize) {
        let _ = self
            .leader
            .compare_exchange(index + 1, 0, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// `sys/leader` named node `index` as the active one.
    pub(crate) fn leader_is(&self, index: usize) {
        self.leader.store(index + 1, Ordering::Relaxed);
    }

    /// The node after `index`, round the ring.
    pub(crate) fn next(&self, index: usize) -> usize {
        (index + 1) % self.addrs.len()
    }
}

/// Whether a status means "try another node": redirects (a standby pointing at the active
/// node; never followed), `429`, and the `5xx` of an election or a sealed node.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 307 | 308 | 429 | 500 | 502 | 503 | 504)
}

/// What one attempt came to.
pub(crate) enum Verdict {
    /// An answer for the caller (a `2xx`, or a `4xx` that another node would repeat).
    Done(Answer),
    /// Try the next node; the reason is kept for the message if every attempt fails.
    Next(String),
    /// Stop at once (TLS: another node would fail the same way).
    Stop(VaultError),
}

/// The verdict on an attempt at the node at `addr`: `None` when it timed out.
pub(crate) fn verdict(addr: &str, sent: Option<Result<Answer, reqwest::Error>>) -> Verdict {
    match sent {
        Some(Ok(answer)) if !is_retryable(answer.status) && !answer.is_kv_upgrading() => {
            Verdict::Done(answer)
        }
        Some(Ok(answer)) => Verdict::Next(format!(
            "{addr} answered {} ({})",
            answer.status.as_u16(),
            answer.errors()
        )),
        Some(Err(e)) => match tls_failure(&e) {
            Some(tls) => Verdict::Stop(VaultError::Tls(format!("{addr}: {tls}"))),
            None => Verdict::Next(format!("{addr}: {}", transport_reason(&e))),
        },
        None => Verdict::Next(format!("{addr}: timed out (no answer)")),
    }
}

/// The pause after `attempt` attempts over `n` nodes: none inside a round of the nodes;
/// after each full round 100 ms, 200 ms, 400 ms, 800 ms, then 1 s.
pub(crate) fn pause_after(attempt: u32, n: usize) -> Option<Duration> {
    let attempt = attempt as usize;
    if n == 0 || !attempt.is_multiple_of(n) {
        return None;
    }
    let round = (attempt / n).min(5) as u32;
    Some(Duration::from_millis(50u64 << round).min(Duration::from_secs(1)))
}

/// What `sys/leader` says.
#[derive(Debug, Deserialize)]
pub(crate) struct Leader {
    #[serde(default)]
    pub(crate) ha_enabled: bool,
    #[serde(default)]
    pub(crate) is_self: bool,
    #[serde(default)]
    pub(crate) leader_address: String,
}

impl Leader {
    /// The active node as node `asked` answered: itself when HA is off or it is the
    /// leader, else the configured address it names; `None` when it names none of them.
    pub(crate) fn node(&self, asked: usize, addrs: &[String]) -> Option<usize> {
        if !self.ha_enabled || self.is_self {
            return Some(asked);
        }
        let want = self.leader_address.trim_end_matches('/');
        addrs.iter().position(|a| a == want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::stub::answer;

    fn nodes(n: usize) -> Nodes {
        Nodes::new(
            (0..n)
                .map(|i| format!("http://127.0.0.1:{}", 1000 + i))
                .collect(),
        )
    }

    #[test]
    fn any_starts_at_the_node_last_seen_answering_active_at_the_known_leader() {
        let n = nodes(3);
        assert_eq!(n.start(Route::Any), Some(0));
        assert_eq!(n.start(Route::Active), None, "unknown: ask sys/leader");
        n.answered(2);
        assert_eq!(n.start(Route::Any), Some(2));
        n.leader_is(1);
        assert_eq!(n.start(Route::Active), Some(1));
        assert_eq!(n.start(Route::Any), Some(2), "Any stays where answers came");
        assert_eq!(
            nodes(1).start(Route::Active),
            Some(0),
            "one node: no question"
        );
    }

    #[test]
    fn a_failed_leader_is_forgotten_a_failed_standby_is_not_the_leader_anyway() {
        let n = nodes(3);
        n.leader_is(1);
        n.failed(2);
        assert_eq!(n.start(Route::Active), Some(1));
        n.failed(1);
        assert_eq!(n.start(Route::Active), None);
        assert_eq!(n.next(2), 0, "round the ring");
    }

    #[test]
    fn redirects_429_and_5xx_move_on_other_answers_are_the_callers() {
        for s in [307, 308, 429, 500, 502, 503, 504] {
            assert!(
                matches!(verdict("a", Some(Ok(answer(s, "")))), Verdict::Next(r) if r.starts_with(&format!("a answered {s}"))),
                "{s}"
            );
        }
        for s in [200, 204, 400, 403, 404, 412] {
            assert!(
                matches!(verdict("a", Some(Ok(answer(s, "")))), Verdict::Done(_)),
                "{s}"
            );
        }
        let upgrading = r#"{"errors":["Waiting for the primary to upgrade"]}"#;
        assert!(matches!(
            verdict("a", Some(Ok(answer(400, upgrading)))),
            Verdict::Next(_)
        ));
        assert!(matches!(verdict("a", None), Verdict::Next(r) if r == "a: timed out (no answer)"));
    }

    #[test]
    fn the_pause_comes_after_each_round_and_grows_to_one_second() {
        let pauses: Vec<_> = (1..=14).filter_map(|a| pause_after(a, 2)).collect();
        let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(pause_after(1, 3), None);
    }

    #[test]
    fn sys_leader_names_itself_or_a_configured_address() {
        let addrs = vec!["https://a:8200".to_string(), "https://b:8200".to_string()];
        let leader = |ha, me, addr: &str| Leader {
            ha_enabled: ha,
            is_self: me,
            leader_address: addr.to_string(),
        };
        assert_eq!(leader(false, false, "").node(1, &addrs), Some(1));
        assert_eq!(leader(true, true, "").node(0, &addrs), Some(0));
        assert_eq!(
            leader(true, false, "https://b:8200/").node(0, &addrs),
            Some(1)
        );
        assert_eq!(leader(true, false, "https://c:8200").node(0, &addrs), None);
    }
}
