//! A harvest diff as a selectable list of changes, each naming the site it happened at.

use crate::domain::{Diff, OrgId};
use crate::tui::app::cursor::Cursor;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffKind {
    SiteAdded,
    SiteRemoved,
    Authorisation { from: Option<u8>, to: Option<u8> },
    CredentialAdded(String),
    CredentialRemoved(String),
    CredentialRotated(String),
}

/// One change at one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffItem {
    pub org: OrgId,
    pub kind: DiffKind,
}

/// The changes of a run, in the order of the diff's sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffList {
    pub items: Vec<DiffItem>,
    pub cursor: Cursor,
}

impl DiffList {
    /// The list of a diff.
    pub fn new(diff: &Diff) -> Self {
        DiffList {
            items: items(diff),
            cursor: Cursor::default(),
        }
    }

    /// The selected change.
    pub fn selected(&self) -> Option<&DiffItem> {
        self.items.get(self.cursor.selected())
    }
}

/// Flattens a diff into one item per change.
pub fn items(diff: &Diff) -> Vec<DiffItem> {
    let mut out = Vec::new();
    let item = |org: &OrgId, kind| DiffItem {
        org: org.clone(),
        kind,
    };
    out.extend(
        diff.sites_added
            .iter()
            .map(|o| item(o, DiffKind::SiteAdded)),
    );
    out.extend(
        diff.sites_removed
            .iter()
            .map(|o| item(o, DiffKind::SiteRemoved)),
    );
    out.extend(diff.authorisation_changed.iter().map(|a| {
        item(
            &a.organisation_id,
            DiffKind::Authorisation {
                from: a.from,
                to: a.to,
            },
        )
    }));
    out.extend(diff.credentials_added.iter().map(|c| {
        item(
            &c.organisation_id,
            DiffKind::CredentialAdded(c.client_id.clone()),
        )
    }));
    out.extend(diff.credentials_removed.iter().map(|c| {
        item(
            &c.organisation_id,
            DiffKind::CredentialRemoved(c.client_id.clone()),
        )
    }));
    out.extend(diff.credentials_rotated.iter().map(|c| {
        item(
            &c.organisation_id,
            DiffKind::CredentialRotated(c.client_id.clone()),
        )
    }));
    out
}
