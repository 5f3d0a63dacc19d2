//! Layout arithmetic done by hand so that it is exact and deterministic at every size
//! (ratatui's constraint solver may pick different answers when constraints cannot all
//! hold, which would make small terminals flicker and snapshots unstable).

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;

/// Cuts up to `height` rows off the top of `area`.
pub fn take_top(area: &mut Rect, height: u16) -> Rect {
    let h = height.min(area.height);
    let top = Rect { height: h, ..*area };
    area.y += h;
    area.height -= h;
    top
}

/// Cuts up to `height` rows off the bottom of `area`.
pub fn take_bottom(area: &mut Rect, height: u16) -> Rect {
    let h = height.min(area.height);
    area.height -= h;
    Rect {
        y: area.y + area.height,
        height: h,
        ..*area
    }
}

/// A table column: its preferred and smallest width; flexible columns share what is left,
/// fixed ones shrink in `rank` order (lowest first) when the table is too narrow.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub pref: u16,
    pub min: u16,
    pub flex: bool,
    pub rank: u8,
}

impl Col {
    /// A fixed column of `pref` that may shrink to `min`, `rank`-th.
    pub const fn fixed(pref: u16, min: u16, rank: u8) -> Col {
        Col {
            pref,
            min,
            flex: false,
            rank,
        }
    }
    /// A flexible column of at least `min`.
    pub const fn flex(min: u16) -> Col {
        Col {
            pref: min,
            min,
            flex: true,
            rank: u8::MAX,
        }
    }
}

/// Exact column widths for a table `total` wide with `spacing` between columns and a
/// `highlight` column in front. The widths never add up to more than there is room for.
pub fn columns(total: u16, spacing: u16, highlight: u16, cols: &[Col]) -> Vec<Constraint> {
    let gaps = spacing.saturating_mul(u16::try_from(cols.len().saturating_sub(1)).unwrap_or(0));
    let avail = total.saturating_sub(gaps).saturating_sub(highlight);
    let mut w: Vec<u16> = cols
        .iter()
        .map(|c| if c.flex { c.min } else { c.pref })
        .collect();
    let sum: u16 = w.iter().fold(0u16, |a, b| a.saturating_add(*b));
    if sum <= avail {
        let flex: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].flex).collect();
        if !flex.is_empty() {
            let extra = avail - sum;
            let n = u16::try_from(flex.len()).unwrap_or(1);
            for (k, &i) in flex.iter().enumerate() {
                let k = u16::try_from(k).unwrap_or(0);
                w[i] += extra / n + u16::from(k < extra % n);
            }
        }
    } else {
        let mut deficit = sum - avail;
        let mut order: Vec<usize> = (0..cols.len()).filter(|&i| !cols[i].flex).collect();
        order.sort_by_key(|&i| (cols[i].rank, i));
        for i in order {
            let take = deficit.min(w[i] - cols[i].min.min(w[i]));
            w[i] -= take;
            deficit -= take;
        }
        for i in (0..cols.len()).rev() {
            let take = deficit.min(w[i]);
            w[i] -= take;
            deficit -= take;
        }
    }
    w.into_iter().map(Constraint::Length).collect()
}

/// Widths for a table with a header line whose labels are never cut: each column is at
/// least as wide as its label; when even the smallest widths do not fit (a protected
/// column, of rank `u8::MAX - 1` or more, counted whole), fixed columns are dropped,
/// lowest `rank` first (`None`), and the rest laid out by [`columns`].
pub fn labelled(
    total: u16,
    spacing: u16,
    highlight: u16,
    cols: &[(&str, Col)],
) -> Vec<Option<u16>> {
    let label_w = |l: &str| u16::try_from(unicode_width(l)).unwrap_or(u16::MAX);
    let adjusted: Vec<Col> = cols
        .iter()
        .map(|(label, c)| {
            let min = c.min.max(label_w(label));
            Col {
                min,
                pref: c.pref.max(min),
                ..*c
            }
        })
        .collect();
    let mut kept: Vec<usize> = (0..cols.len()).collect();
    loop {
        let gaps = spacing.saturating_mul(u16::try_from(kept.len().saturating_sub(1)).unwrap_or(0));
        let least: u16 = kept.iter().fold(0u16, |a, &i| {
            let c = adjusted[i];
            a.saturating_add(if c.rank >= u8::MAX - 1 && !c.flex {
                c.pref
            } else {
                c.min
            })
        });
        let fits = least.saturating_add(gaps).saturating_add(highlight) <= total;
        let droppable = kept
            .iter()
            .copied()
            .filter(|&i| !adjusted[i].flex)
            .min_by_key(|&i| (adjusted[i].rank, i));
        match droppable {
            Some(i) if !fits && adjusted[i].rank < u8::MAX - 1 => kept.retain(|&k| k != i),
            _ => break,
        }
    }
    let laid: Vec<Col> = kept.iter().map(|&i| adjusted[i]).collect();
    let widths = columns(total, spacing, highlight, &laid);
    let mut out = vec![None; cols.len()];
    for (&i, w) in kept.iter().zip(widths) {
        if let Constraint::Length(n) = w {
            out[i] = Some(n);
        }
    }
    out
}

/// The display width of `s` (one column a character, two for wide ones).
fn unicode_width(s: &str) -> usize {
    Line::from(s).width()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(c: &[Constraint]) -> Vec<u16> {
        c.iter()
            .map(|c| match c {
                Constraint::Length(n) => *n,
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn flex_takes_the_rest_and_fixed_shrink_in_rank_order() {
        let cols = [Col::flex(10), Col::fixed(8, 4, 1), Col::fixed(9, 4, 0)];
        assert_eq!(widths(&columns(40, 1, 1, &cols)), [20, 8, 9]);
        // 27 room: 10 + 8 + 9 = 27.
        assert_eq!(widths(&columns(30, 1, 1, &cols)), [10, 8, 9]);
        // 22 room: the rank-0 column shrinks first, to 4, then the next.
        assert_eq!(widths(&columns(25, 1, 1, &cols)), [10, 8, 4]);
        assert_eq!(widths(&columns(21, 1, 1, &cols)), [10, 4, 4]);
        // Below every minimum, columns give way from the right, never exceeding the room.
        for total in 0..30 {
            let sum: u16 = widths(&columns(total, 1, 1, &cols)).iter().sum();
            assert!(sum <= total.saturating_sub(3), "{total}");
        }
    }

    #[test]
    fn labels_are_whole_and_low_ranks_give_way() {
        let cols = [
            ("Name", Col::flex(10)),
            ("Organisation", Col::fixed(9, 4, 0)),
            ("Changed", Col::fixed(10, 3, 1)),
        ];
        // Room for all: nothing dropped, no column narrower than its label.
        assert_eq!(labelled(40, 1, 1, &cols), [Some(15), Some(12), Some(10)]);
        // Not room for every label: the rank-0 column goes, the name takes its room.
        assert_eq!(labelled(28, 1, 1, &cols), [Some(16), None, Some(10)]);
        // Flexible columns are never dropped.
        assert!(labelled(5, 1, 1, &cols)[0].is_some());
    }

    #[test]
    fn rows_are_cut_exactly() {
        let mut area = Rect::new(0, 0, 10, 5);
        let top = take_top(&mut area, 2);
        let bottom = take_bottom(&mut area, 2);
        assert_eq!((top.y, top.height, bottom.y, bottom.height), (0, 2, 3, 2));
        assert_eq!((area.y, area.height), (2, 1));
        assert_eq!(take_top(&mut area, 9).height, 1);
        assert_eq!(area.height, 0);
    }
}
