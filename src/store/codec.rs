//! How domain values are written to and read from columns (pure).

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::StoreError;
use crate::domain::{AuditAction, ChangeBadge, OrgId, RunScope, RunStatus};

/// Times are stored as RFC 3339 UTC with nanoseconds (fixed width), so that text order is
/// time order and `max()` works in SQL.
pub(crate) fn time_to_sql(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn time_from_sql(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("bad time value `{s}`")))
}

pub(crate) fn org_from_sql(s: &str) -> Result<OrgId, StoreError> {
    OrgId::parse(s).map_err(|_| StoreError::Corrupt(format!("bad organisation id `{s}`")))
}

pub(crate) fn count_to_sql(n: usize) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::InvalidData(format!("count {n} is too large")))
}

pub(crate) fn count_from_sql(n: i64) -> Result<usize, StoreError> {
    usize::try_from(n).map_err(|_| StoreError::Corrupt(format!("bad count {n}")))
}

pub(crate) fn badge_to_sql(b: ChangeBadge) -> &'static str {
    crate::words::badge_name(b)
}

pub(crate) fn badge_from_sql(s: &str) -> Result<ChangeBadge, StoreError> {
    crate::words::badge_named(s).ok_or_else(|| StoreError::Corrupt(format!("bad badge `{s}`")))
}

pub(crate) fn status_from_sql(s: &str) -> Result<RunStatus, StoreError> {
    RunStatus::ALL
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("bad run status `{s}`")))
}

pub(crate) fn scope_from_sql(s: &str) -> Result<RunScope, StoreError> {
    [RunScope::Full, RunScope::Site]
        .into_iter()
        .find(|sc| sc.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("bad run scope `{s}`")))
}

pub(crate) fn action_from_sql(s: &str) -> Result<AuditAction, StoreError> {
    [
        AuditAction::Reveal,
        AuditAction::Copy,
        AuditAction::Verify,
        AuditAction::Export,
        AuditAction::Harvest,
        AuditAction::Migrate,
        AuditAction::Pull,
    ]
    .into_iter()
    .find(|a| a.as_str() == s)
    .ok_or_else(|| StoreError::Corrupt(format!("bad audit action `{s}`")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_round_trip_exactly_and_sort_as_text() {
        let a = Utc.timestamp_opt(1_700_000_000, 5).unwrap();
        let b = Utc.timestamp_opt(1_700_000_000, 400_000_000).unwrap();
        let c = Utc.timestamp_opt(1_700_000_001, 0).unwrap();
        for t in [a, b, c] {
            assert_eq!(time_from_sql(&time_to_sql(&t)).unwrap(), t);
        }
        assert!(time_to_sql(&a) < time_to_sql(&b));
        assert!(time_to_sql(&b) < time_to_sql(&c));
        assert!(time_from_sql("yesterday").is_err());
    }

    #[test]
    fn enums_round_trip() {
        for b in [
            ChangeBadge::Added,
            ChangeBadge::AuthorisationChanged,
            ChangeBadge::CredentialsChanged,
        ] {
            assert_eq!(badge_from_sql(badge_to_sql(b)).unwrap(), b);
        }
        for s in RunStatus::ALL {
            assert_eq!(status_from_sql(s.as_str()).unwrap(), s);
        }
        for s in [RunScope::Full, RunScope::Site] {
            assert_eq!(scope_from_sql(s.as_str()).unwrap(), s);
        }
        assert!(scope_from_sql("some").is_err());
        assert_eq!(action_from_sql("copy").unwrap(), AuditAction::Copy);
        assert!(action_from_sql("delete").is_err());
        assert!(badge_from_sql("new").is_err());
    }
}
