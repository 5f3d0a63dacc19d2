//! The sites list: rows loaded once, and a vector of row indices that sorting, the status
//! filter and the text filter reorder and narrow. The drawing builds widgets only for the visible window.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::domain::{ChangeBadge, OrgId, SiteRow, SiteTotals};
use crate::filter::Filter;
use crate::tui::app::cursor::Cursor;
use crate::tui::strings;

/// The column the list is sorted by (`s` cycles, `S` reverses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortColumn {
    #[default]
    Name,
    Dfe,
    Deni,
    Organisation,
    Authorised,
    Credentials,
    LastChanged,
    Change,
}

impl SortColumn {
    /// Every column, in cycling order.
    pub const ALL: [SortColumn; 8] = [
        SortColumn::Name,
        SortColumn::Dfe,
        SortColumn::Deni,
        SortColumn::Organisation,
        SortColumn::Authorised,
        SortColumn::Credentials,
        SortColumn::LastChanged,
        SortColumn::Change,
    ];

    /// The next column in the cycle.
    pub fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }

    /// The column's header text.
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Name => strings::COL_NAME,
            SortColumn::Dfe => strings::COL_DFE,
            SortColumn::Deni => strings::COL_DENI,
            SortColumn::Organisation => strings::COL_ORG,
            SortColumn::Authorised => strings::COL_AUTH,
            SortColumn::Credentials => strings::COL_CREDS,
            SortColumn::LastChanged => strings::COL_CHANGED,
            SortColumn::Change => strings::COL_BADGE,
        }
    }
}

pub use crate::filter::StatusFilter;

/// The characters of the " (stale)" mark after a stale site's name.
const STALE_MARK: usize = 8;

/// The loaded sites and how they are currently listed.
#[derive(Debug, Clone, Default)]
pub struct SiteList {
    rows: Vec<SiteRow>,
    /// Lower-cased name, DfE, DENI, organisation id of each row.
    lower: Vec<[String; 4]>,
    /// The rows in name order (lower-cased name, then organisation id), and each row's
    /// place in it: sorting compares these numbers, never the names again.
    by_name: Vec<usize>,
    name_rank: Vec<u32>,
    by_org: HashMap<OrgId, usize>,
    sorted: Vec<usize>,
    visible: Vec<usize>,
    sort: SortColumn,
    reverse: bool,
    status_filter: StatusFilter,
    filter_text: String,
    filter: Filter,
    filter_error: Option<String>,
    counts: SiteTotals,
    /// The longest name (with its "(stale)" mark), in characters: the room a name asks.
    longest_name: usize,
    /// Whether any row has a DfE code, a DENI number (an empty column is left out).
    any_dfe: bool,
    any_deni: bool,
    /// While only the first screen of rows is loaded: the totals over every site.
    partial: Option<SiteTotals>,
    /// The selection in the visible rows.
    pub cursor: Cursor,
}

impl SiteList {
    /// A list over `rows`, sorted by name.
    pub fn new(rows: Vec<SiteRow>) -> Self {
        let mut list = SiteList::default();
        list.load(rows);
        list
    }

    /// Replaces the rows (after a harvest or a profile switch), keeping sort, status filter, filter
    /// and, when it still exists, the selected site.
    pub fn replace_rows(&mut self, rows: Vec<SiteRow>, page: usize) {
        let keep = self.selected_row().map(|r| r.site.org_id.clone());
        self.load(rows);
        self.restore_selection(keep.and_then(|org| self.by_org.get(&org).copied()), page);
    }

    /// Only the first screen of rows is loaded; `totals` are over every site (until the
    /// whole list replaces them).
    pub fn set_partial(&mut self, totals: SiteTotals) {
        self.partial = Some(totals);
    }

    /// Whether only the first screen of rows is loaded.
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// How many sites are listed and loaded (while partial: the totals).
    pub fn listed_of(&self) -> (usize, usize) {
        match self.partial {
            Some(t) => (t.sites, t.sites),
            None => (self.visible.len(), self.rows.len()),
        }
    }

    fn load(&mut self, rows: Vec<SiteRow>) {
        self.partial = None;
        self.lower = rows
            .iter()
            .map(|r| {
                let [a, b, c, d] = fields(r);
                [
                    a.to_lowercase(),
                    b.to_lowercase(),
                    c.to_lowercase(),
                    d.to_lowercase(),
                ]
            })
            .collect();
        self.by_org = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.site.org_id.clone(), i))
            .collect();
        self.counts = SiteTotals::of(&rows);
        self.longest_name = rows
            .iter()
            .map(|r| r.site.name.chars().count() + if r.stale { STALE_MARK } else { 0 })
            .max()
            .unwrap_or(0);
        self.any_dfe = rows.iter().any(|r| r.site.dfe_code.is_some());
        self.any_deni = rows.iter().any(|r| r.site.deni_number.is_some());
        self.rows = rows;
        let mut by_name: Vec<usize> = (0..self.rows.len()).collect();
        by_name.sort_unstable_by(|&a, &b| {
            self.lower[a][0]
                .cmp(&self.lower[b][0])
                .then_with(|| self.rows[a].site.org_id.cmp(&self.rows[b].site.org_id))
        });
        let mut name_rank = vec![0u32; self.rows.len()];
        for (rank, &i) in by_name.iter().enumerate() {
            name_rank[i] = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        self.by_name = by_name;
        self.name_rank = name_rank;
        self.sort_rows();
        self.refilter();
    }

    /// Every loaded row.
    pub fn rows(&self) -> &[SiteRow] {
        &self.rows
    }

    /// The listed rows, as indices into [`Self::rows`], in display order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    /// The longest name's room, in characters (with a stale site's mark).
    pub fn longest_name(&self) -> usize {
        self.longest_name
    }

    /// Whether any row has a DfE code and a DENI number.
    pub fn codes_present(&self) -> (bool, bool) {
        (self.any_dfe, self.any_deni)
    }

    /// The header's counts (over all rows).
    pub fn counts(&self) -> SiteTotals {
        self.partial.unwrap_or(self.counts)
    }

    pub fn sort(&self) -> (SortColumn, bool) {
        (self.sort, self.reverse)
    }

    pub fn status_filter(&self) -> StatusFilter {
        self.status_filter
    }

    pub fn filter_text(&self) -> &str {
        &self.filter_text
    }

    /// The error of an invalid regular expression (the list is then unfiltered).
    pub fn filter_error(&self) -> Option<&str> {
        self.filter_error.as_deref()
    }

    /// The selected row, if any is listed.
    pub fn selected_row(&self) -> Option<&SiteRow> {
        self.visible
            .get(self.cursor.selected())
            .and_then(|&i| self.rows.get(i))
    }

    /// A row by organisation id.
    pub fn by_org(&self, org: &OrgId) -> Option<&SiteRow> {
        self.by_org.get(org).and_then(|&i| self.rows.get(i))
    }

    /// Sets the filter text and narrows the list (an invalid regex leaves it unfiltered).
    pub fn set_filter(&mut self, text: &str, page: usize) {
        self.filter_text = text.to_string();
        let previous = std::mem::replace(&mut self.filter, Filter::All);
        match Filter::parse(text) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
            }
            Err(e) => {
                self.filter = Filter::All;
                self.filter_error = Some(e.0);
            }
        }
        let keep = self.selected_index();
        // Typing on: a row the longer text matches also matched the shorter one, so only
        // the rows listed now are looked at again.
        let narrowing = matches!(
            (&previous, &self.filter),
            (Filter::Plain { needle: old, invert: false }, Filter::Plain { needle: new, invert: false })
                if new.contains(old.as_str())
        );
        if narrowing {
            let candidates = std::mem::take(&mut self.visible);
            self.visible = self.matching(candidates);
        } else {
            self.refilter();
        }
        self.restore_selection(keep, page);
    }

    /// Sorts by the next column.
    pub fn cycle_sort(&mut self, page: usize) {
        self.sort = self.sort.next();
        self.resort(page);
    }

    /// Reverses the sort order.
    pub fn reverse_sort(&mut self, page: usize) {
        self.reverse = !self.reverse;
        self.resort(page);
    }

    /// Shows the next status filter.
    pub fn cycle_status_filter(&mut self, page: usize) {
        self.status_filter = self.status_filter.next();
        let keep = self.selected_index();
        self.refilter();
        self.restore_selection(keep, page);
    }

    /// Finds a site by organisation id (any case, braces), DfE code or DENI number, by the
    /// same rule as the commands ([`crate::lookup::find`]): a shared code finds several.
    pub fn find(&self, query: &str) -> crate::lookup::Found<&SiteRow> {
        crate::lookup::find(&self.rows, |r| &r.site, query)
    }

    /// Moves the cursor onto a site if it is listed; returns whether it is.
    pub fn select_org(&mut self, org: &OrgId, page: usize) -> bool {
        let Some(&i) = self.by_org.get(org) else {
            return false;
        };
        match self.visible.iter().position(|&v| v == i) {
            Some(pos) => {
                self.cursor.select(pos, self.visible.len(), page);
                true
            }
            None => false,
        }
    }

    fn selected_index(&self) -> Option<usize> {
        self.visible.get(self.cursor.selected()).copied()
    }

    fn restore_selection(&mut self, keep: Option<usize>, page: usize) {
        let pos = keep
            .and_then(|i| self.visible.iter().position(|&v| v == i))
            .unwrap_or(0);
        self.cursor.select(pos, self.visible.len(), page);
    }

    fn resort(&mut self, page: usize) {
        let keep = self.selected_index();
        self.sort_rows();
        self.refilter();
        self.restore_selection(keep, page);
    }

    fn sort_rows(&mut self) {
        if self.sort == SortColumn::Name {
            self.sorted = self.by_name.clone();
            if self.reverse {
                self.sorted.reverse();
            }
            return;
        }
        let mut order = self.by_name.clone();
        // Stable over the name order: ties keep it without comparing names again.
        order.sort_by(|&a, &b| self.primary(a, b));
        self.sorted = order;
    }

    /// The rows of `candidates` (in their order) the status filter and the filter keep.
    fn matching(&self, candidates: Vec<usize>) -> Vec<usize> {
        let (rows, lower, filter, status) =
            (&self.rows, &self.lower, &self.filter, self.status_filter);
        match filter {
            // One searcher for the whole list, not one per field.
            Filter::Plain { needle, invert } => {
                let finder = memchr::memmem::Finder::new(needle.as_bytes());
                candidates
                    .into_iter()
                    .filter(|&i| {
                        let hit = lower[i].iter().any(|f| finder.find(f.as_bytes()).is_some());
                        status.includes(&rows[i]) && hit != *invert
                    })
                    .collect()
            }
            _ => candidates
                .into_iter()
                .filter(|&i| {
                    let row = &rows[i];
                    status.includes(row) && filter.matches_fields(&fields(row), &lower[i])
                })
                .collect(),
        }
    }

    fn refilter(&mut self) {
        let status = self.status_filter;
        let rows = &self.rows;
        self.visible = self.matching(self.sorted.clone());
        // The onboarding queue: the site waiting longest first (the column sort breaks ties).
        if status == StatusFilter::Unauthorised {
            self.visible.sort_by_key(|&i| {
                let since = rows[i].waiting_since;
                (since.is_none(), since)
            });
        }
    }

    /// The sort column's order of two rows (names break ties: see [`Self::sort_rows`]).
    fn primary(&self, a: usize, b: usize) -> Ordering {
        let (ra, rb) = (&self.rows[a], &self.rows[b]);
        let rev = self.reverse;
        // Columns that may be empty keep empty cells last in both directions.
        match self.sort {
            SortColumn::Name => directed(self.name_rank[a].cmp(&self.name_rank[b]), rev),
            SortColumn::Dfe => none_last(ra.site.dfe_code.as_ref(), rb.site.dfe_code.as_ref(), rev),
            SortColumn::Deni => none_last(
                ra.site.deni_number.as_ref(),
                rb.site.deni_number.as_ref(),
                rev,
            ),
            SortColumn::Organisation => directed(ra.site.org_id.cmp(&rb.site.org_id), rev),
            SortColumn::Authorised => directed(
                auth_rank(ra.site.authorised).cmp(&auth_rank(rb.site.authorised)),
                rev,
            ),
            SortColumn::Credentials => directed(ra.credential_count.cmp(&rb.credential_count), rev),
            SortColumn::LastChanged => {
                none_last(ra.last_changed.as_ref(), rb.last_changed.as_ref(), rev)
            }
            SortColumn::Change => directed(badge_rank(ra.badge).cmp(&badge_rank(rb.badge)), rev),
        }
    }
}

fn directed(o: Ordering, reverse: bool) -> Ordering {
    if reverse {
        o.reverse()
    } else {
        o
    }
}

/// A row's searchable fields: name, DfE, DENI, organisation id.
pub fn fields(row: &SiteRow) -> [&str; 4] {
    crate::filter::site_fields(&row.site)
}

fn none_last<T: Ord>(a: Option<T>, b: Option<T>, reverse: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => directed(a.cmp(&b), reverse),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn auth_rank(a: Option<bool>) -> u8 {
    match a {
        Some(true) => 0,
        Some(false) => 1,
        None => 2,
    }
}

fn badge_rank(b: Option<ChangeBadge>) -> u8 {
    match b {
        Some(ChangeBadge::Added) => 0,
        Some(ChangeBadge::AuthorisationChanged) => 1,
        Some(ChangeBadge::CredentialsChanged) => 2,
        None => 3,
    }
}
