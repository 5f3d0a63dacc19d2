//! What a viewer's pull of the team's view brought (docs/reference/vault.md "Team mode"), and
//! the checks of a time a harvest host wrote ("Trust"), which the domain's types apply when
//! they are read from a pulled view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a pull brought into the local store (`pull --json`, the console's flash line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    /// The harvest run the view shows (the harvest host's), if it has run.
    pub run_id: Option<String>,
    /// When the harvest host published it.
    #[serde(with = "super::rfc3339::option")]
    pub published_at: Option<DateTime<Utc>>,
    /// Sites in the view.
    pub sites: usize,
    /// Credentials in the view (never a secret).
    pub credentials: usize,
    /// Whether the view differed from what the store held (false: one request was made).
    pub changed: bool,
}

/// How far in the future a time written by the harvest host may be (clocks drift).
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The earliest time a view may hold (before simsid, before SIMS ID).
fn earliest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Whether `t` is a time a harvest host could have written by `now`: from 2000 on, not
/// later than `now` plus [`CLOCK_SKEW`].
pub fn sane_time(t: &DateTime<Utc>, now: DateTime<Utc>) -> bool {
    *t >= earliest() && *t <= now + CLOCK_SKEW
}

/// `Deserialize` of a time a harvest host wrote (for `#[serde(deserialize_with)]`): RFC
/// 3339 and [`sane_time`] now, else refused.
pub mod checked_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer};

    /// Parses and checks one time.
    pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
        let t = DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| "a time is not RFC 3339".to_string())?;
        if super::sane_time(&t, Utc::now()) {
            Ok(t)
        } else {
            Err(format!(
                "the time {} is out of range (before 2000, or in the future)",
                super::super::rfc3339::format(&t)
            ))
        }
    }

    /// One time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// A time that must be there, as an `Option` (a type whose time is unknown elsewhere):
    /// `null` is refused like a bad time.
    pub fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        deserialize(d).map(Some)
    }

    /// An optional time (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer};

        /// One optional time.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| super::parse(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}
