//! The harvest's metrics for node_exporter's textfile collector (docs/reference/cli.md "Signals, services
//! and monitoring"): after every run, failed and cancelled ones included, the Prometheus
//! text exposition format, encoded by `prometheus-client`. Counts and times only: never a
//! secret, never a credential's id. Pure: the caller writes the text (beside the target,
//! renamed over it, mode 0644).

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::domain::{RunStatus, RunSummary};
use crate::ops::vault_sync::VaultCounts;
use crate::store::HealthFacts;

/// What one metrics file reports.
#[derive(Debug, Clone, Copy)]
pub struct MetricsInput<'a> {
    /// The profile's name (label `profile`).
    pub profile: &'a str,
    /// The application id (label `application`).
    pub application: &'a str,
    /// The run just finished (any status).
    pub run: &'a RunSummary,
    /// The store after the run (sites by state, credentials, held removals, the last
    /// complete harvest); `None` when it could not be read.
    pub store: Option<&'a HealthFacts>,
    /// What the vault sync did (vault mode).
    pub vault: Option<VaultCounts>,
}

type Labelled = Family<[(&'static str, &'static str); 1], Gauge>;
type Seconds = Gauge<f64, AtomicU64>;

fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn int64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn seconds(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g: Seconds = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn epoch(t: &chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The metrics of one run, as Prometheus text.
pub fn render(input: &MetricsInput<'_>) -> Result<String, std::fmt::Error> {
    let labels = [
        (
            Cow::Borrowed("profile"),
            Cow::Owned(input.profile.to_string()),
        ),
        (
            Cow::Borrowed("application"),
            Cow::Owned(input.application.to_string()),
        ),
    ];
    let mut r = Registry::with_prefix_and_labels("simsid_harvest", labels.into_iter());
    let run = input.run;

    seconds(
        &mut r,
        "last_run_timestamp_seconds",
        "When the last run finished (Unix time)",
        epoch(&run.finished_at),
    );
    seconds(
        &mut r,
        "last_run_duration_seconds",
        "How long the last run took",
        (run.finished_at - run.started_at).num_milliseconds().max(0) as f64 / 1000.0,
    );
    let status: Labelled = Family::default();
    for s in RunStatus::ALL {
        status
            .get_or_create(&[("status", s.as_str())])
            .set(i64::from(s == run.status));
    }
    r.register(
        "last_run_status",
        "1 for how the last run ended (complete, partial, failed, cancelled), 0 for the others",
        status,
    );
    let scope: Labelled = Family::default();
    for s in [crate::domain::RunScope::Full, crate::domain::RunScope::Site] {
        scope
            .get_or_create(&[("scope", s.as_str())])
            .set(i64::from(s == run.scope));
    }
    r.register(
        "last_run_scope",
        "1 for what the last run harvested (full: every site, site: one school)",
        scope,
    );

    let sites: Labelled = Family::default();
    for (state, n) in [
        ("listed", run.sites_total),
        ("harvested", run.sites_harvested),
        ("failed", run.sites_failed),
    ] {
        sites.get_or_create(&[("state", state)]).set(int(n));
    }
    if let Some(f) = input.store {
        for (state, n) in [
            ("cached", f.sites),
            ("stale", f.stale_sites),
            ("waiting", f.waiting),
        ] {
            sites.get_or_create(&[("state", state)]).set(int(n));
        }
    }
    r.register(
        "sites",
        "Sites by state: listed, harvested and failed in the last run; cached, stale and waiting for approval in the store",
        sites,
    );
    gauge(
        &mut r,
        "failed_sites",
        "Sites whose clients could not be fetched in the last run",
        int(run.sites_failed),
    );
    gauge(
        &mut r,
        "credentials",
        "Credentials the store holds after the last run",
        int(input.store.map_or(run.credentials_total, |f| f.credentials)),
    );
    if let Some(f) = input.store {
        gauge(
            &mut r,
            "removals_held",
            "Credential removals the removal guard holds",
            int(f.removals_held),
        );
        seconds(
            &mut r,
            "last_complete_timestamp_seconds",
            "When the last complete full harvest finished (Unix time; 0: never)",
            f.last_complete_at.as_ref().map_or(0.0, epoch),
        );
    }
    gauge(
        &mut r,
        "requests",
        "API requests the last run sent (retries included)",
        int64(run.stats.requests),
    );
    gauge(
        &mut r,
        "retries",
        "Requests the last run sent again",
        int64(run.stats.retries),
    );
    gauge(
        &mut r,
        "rate_limited",
        "429 answers in the last run",
        int64(run.stats.rate_limited),
    );
    if let Some(v) = input.vault {
        let vault: Labelled = Family::default();
        for (result, n) in [
            ("written", v.written),
            ("removed", v.removed),
            ("unchanged", v.unchanged),
            ("errors", v.errors),
        ] {
            vault.get_or_create(&[("result", result)]).set(int(n));
        }
        r.register(
            "vault_credentials",
            "Vault mode: credentials the last run wrote, removed, left unchanged, or failed to write",
            vault,
        );
    }
    let mut out = String::new();
    encode_registry(&mut out, &r)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HarvestStats, RunScope};

    fn run() -> RunSummary {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T03:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        RunSummary {
            run_id: uuid::Uuid::from_u128(1),
            status: RunStatus::Partial,
            started_at: t,
            finished_at: t + chrono::Duration::milliseconds(2500),
            sites_total: 10,
            sites_harvested: 9,
            sites_failed: 1,
            credentials_total: 17,
            diff: Default::default(),
            failures: vec![],
            stats: HarvestStats {
                requests: 12,
                retries: 2,
                rate_limited: 1,
                ..Default::default()
            },
            error: None,
            scope: RunScope::Full,
            signal: None,
        }
    }

    #[test]
    fn every_line_carries_the_profile_and_application_and_the_values() {
        let run = run();
        let text = render(&MetricsInput {
            profile: "default",
            application: "4C1E9B2A-1F4D-4B8E-9A3C-2D5E6F708192",
            run: &run,
            store: None,
            vault: Some(VaultCounts {
                written: 3,
                removed: 1,
                unchanged: 13,
                errors: 0,
            }),
        })
        .unwrap();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("profile=\"default\""), "{line}");
            assert!(
                line.contains("application=\"4C1E9B2A-1F4D-4B8E-9A3C-2D5E6F708192\""),
                "{line}"
            );
        }
        assert!(text.contains("# TYPE simsid_harvest_last_run_status gauge"));
        assert!(text.contains("status=\"partial\"} 1\n"), "{text}");
        assert!(text.contains("status=\"complete\"} 0\n"), "{text}");
        assert!(text.contains("simsid_harvest_last_run_duration_seconds{"));
        assert!(text.contains("} 2.5\n"), "{text}");
        assert!(text.contains("result=\"written\"} 3\n"), "{text}");
        assert!(
            !text.contains("# EOF"),
            "the textfile collector reads 0.0.4 text"
        );
    }
}
