//! A whole operation in process, as the binary runs it: the settings resolved from an
//! environment (as `simsid` resolves its own, with a private HOME) and the profile's keeper,
//! which takes the lock, opens the store, commits, publishes and records.

use std::collections::BTreeMap;
use std::path::Path;

use simsid::config::{self, Dirs, Flags, Settings};
use simsid::harvest::{Cancel, HarvestEnd, HarvestEvent};
use simsid::ops::{HarvestRequest, Harvested, Keeper, SiteEnd};
use tokio::sync::mpsc::UnboundedSender;

/// The settings `env` resolves to, with the platform's directories under `home`.
pub fn settings(env: &BTreeMap<String, String>, home: &Path) -> Settings {
    let dirs = Dirs {
        config_dir: home.join("config"),
        data_dir: home.join("data"),
        state_dir: home.join("state"),
    };
    config::resolve(&Flags::default(), env, &dirs).expect("the settings resolve")
}

/// The keeper of `settings`, acting for `user` (the audit records name it).
pub fn keeper(settings: Settings, user: &str) -> Keeper {
    Keeper::new(settings, user.to_string())
}

/// A full harvest through `keeper`; its end (the store's lock released on return).
pub async fn harvest(
    keeper: &Keeper,
    events: UnboundedSender<HarvestEvent>,
    cancel: impl Into<Cancel>,
) -> HarvestEnd {
    ran(harvested(keeper, events, cancel).await)
}

/// A full harvest through `keeper`, with what the vault side did and the store it wrote.
pub async fn harvested(
    keeper: &Keeper,
    events: UnboundedSender<HarvestEvent>,
    cancel: impl Into<Cancel>,
) -> Harvested {
    keeper
        .harvest(HarvestRequest::default(), events, cancel.into())
        .await
        .expect("the harvest starts")
}

/// How a full harvest ended (it ran: a full harvest neither misses nor doubts a school).
pub fn ran(harvested: Harvested) -> HarvestEnd {
    match harvested.end.expect("the harvest runs") {
        SiteEnd::Ran(end) => end,
        other => panic!("a full harvest ran, not {other:?}"),
    }
}
