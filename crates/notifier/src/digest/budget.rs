//! How much of a digest one message shows. On a large tree a digest can hold thousands of
//! offsetting movements and followed metrics; a message that lists them all is megabytes
//! long, and mail servers refuse it. So every list inside an item is capped, and a message
//! that would still be too large drops its least important details (the details of the
//! items at the bottom first) and says where the rest can be seen.

use canopy_engine::MetricTree;
use canopy_evaluator::Offsetting;
use canopy_present::format::signed_at;

/// The most bytes one email may have, as sent (headers and both parts, encoded). Servers
/// commonly refuse messages of 10 to 25 MB, and some mail clients clip a message past about
/// 100 KB of HTML; 200 KB keeps the whole message well within what servers take.
pub const MAX_EMAIL_BYTES: usize = 200 * 1024;

/// How many offsetting movements an item lists, the largest first (by how much their
/// inputs moved); the rest are counted on one line.
pub const OFFSETTING_SHOWN: usize = 5;

/// How many inputs one offsetting movement names, the largest first.
pub const OFFSETTING_INPUTS: usize = 4;

/// How many moves shown beneath another's are listed; the rest are counted.
pub const BENEATH_SHOWN: usize = 20;

/// How many moved metrics an email shows in full; the rest are listed one line each, so a
/// bad week on a large tree still makes a readable email.
pub(crate) const DETAILED: usize = 25;

/// How many more moved metrics are listed one line each before the rest are only counted.
pub(crate) const LISTED: usize = 100;

/// How much of a digest a message shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shown {
    /// The first moved metrics, shown in full.
    pub(crate) detailed: usize,
    /// The moved metrics before this position that are not in full are listed one line each.
    pub(crate) listed_to: usize,
    /// The first metrics the person follows, one row each.
    pub(crate) followed: usize,
    /// The first changes of definition.
    pub(crate) redefined: usize,
}

impl Shown {
    /// As much as any message shows of a digest of `moved` items, `followed` metrics
    /// followed and `redefined` changes of definition.
    pub(crate) fn all(moved: usize, followed: usize, redefined: usize) -> Shown {
        Shown {
            detailed: moved.min(DETAILED),
            listed_to: moved.min(DETAILED + LISTED),
            followed,
            redefined,
        }
    }
}

/// The most of `full` for which `fits` holds. What goes first: the details of moved metrics
/// from the bottom (they stay listed one line each), then the metrics followed from the
/// bottom, then the one-line list, then the changes of definition. `fits` is asked about a
/// dozen times or so, by bisection of each limit in turn.
pub(crate) fn fit(full: Shown, mut fits: impl FnMut(Shown) -> bool) -> Shown {
    if fits(full) {
        return full;
    }
    let mut shown = full;
    // Each limit in turn, with the least it can be.
    type Field = fn(&mut Shown) -> &mut usize;
    type Floor = fn(&Shown) -> usize;
    let fields: [(Field, Floor); 4] = [
        (|s| &mut s.detailed, |_| 0),
        (|s| &mut s.followed, |_| 0),
        (|s| &mut s.listed_to, |s| s.detailed),
        (|s| &mut s.redefined, |_| 0),
    ];
    for (field, floor) in fields {
        let (mut lo, mut hi) = (floor(&shown), *field(&mut shown));
        let mut at = |n: usize| {
            let mut s = shown;
            *field(&mut s) = n;
            (s, fits(s))
        };
        if !at(lo).1 {
            *field(&mut shown) = lo;
            continue;
        }
        // `lo` fits and `hi` does not: the largest that fits lies between.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match at(mid).1 {
                true => lo = mid,
                false => hi = mid,
            }
        }
        *field(&mut shown) = lo;
        return shown;
    }
    shown
}

/// What a message cut from `full` to `shown` (to stay under `limit`, in words) left out, and
/// where to see it: the report at `report`, or the commands that show it for `tree` in
/// `period` (after `previous`). `None` when nothing was cut.
pub(crate) fn cut_note(
    (full, shown, limit): (Shown, Shown, &str),
    tree: &MetricTree,
    (previous, period): (&str, &str),
    report: Option<&str>,
) -> Option<String> {
    if full == shown {
        return None;
    }
    let mut parts = Vec::new();
    let mut count = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    count(
        full.detailed - shown.detailed,
        "moved metrics are listed without their details",
    );
    count(
        full.listed_to - shown.listed_to,
        "more moved metrics are only counted",
    );
    count(
        full.followed - shown.followed,
        "of the metrics you follow are left out",
    );
    count(
        full.redefined - shown.redefined,
        "changes of definition are left out",
    );
    let path = tree.path().display();
    let mut commands = Vec::new();
    if shown.listed_to < full.listed_to || shown.detailed < full.detailed {
        commands.push(format!("`canopy explain {path} --data SRC --from {previous} --to {period} --metric ID` shows any moved metric in full"));
    }
    if shown.followed < full.followed {
        commands.push(format!(
            "`canopy eval {path} --data SRC --period {period}` shows every value"
        ));
    }
    if shown.redefined < full.redefined {
        commands.push(format!("`canopy run {path} --data SRC --period {period} --dry-run` lists every change of definition"));
    }
    let see = match report {
        Some(url) => format!("The report has all of it: {url}"),
        None => format!("{}.", commands.join("; ")),
    };
    Some(format!(
        "This message was shortened to stay under {limit}: {}. {see}",
        parts.join("; ")
    ))
}

/// The offsetting movements of an item as lines: the [`OFFSETTING_SHOWN`] largest (by how
/// much their inputs moved, the first in the tree on a tie), each naming its largest inputs,
/// then how many more there are.
pub(crate) fn offsetting_lines(tree: &MetricTree, offsetting: &[Offsetting]) -> Vec<String> {
    let moved = |o: &Offsetting| o.inputs.iter().map(|(_, s)| s.abs()).sum::<f64>();
    let mut ranked: Vec<&Offsetting> = offsetting.iter().collect();
    ranked.sort_by(|a, b| moved(b).total_cmp(&moved(a)));
    let mut lines: Vec<String> = (ranked.iter().take(OFFSETTING_SHOWN))
        .map(|o| {
            let mut inputs = o.inputs.clone();
            inputs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            // The change and the shares are computed from each other: the largest sets the
            // scale under which a number is rounding and reads as 0.
            let scale = inputs
                .first()
                .map_or(0.0, |i| i.1.abs())
                .max(o.change.abs());
            // Every number is in the flat metric's unit, not the input's it names.
            let flat = tree.metric(o.metric);
            let unit = match (flat.change, flat.unit.as_deref()) {
                (canopy_engine::ChangeIn::Points, _) => " pts".to_string(),
                (_, Some(u)) => format!(" {u}"),
                (_, None) => String::new(),
            };
            let signed = |v: f64| format!("{}{unit}", signed_at(v, scale));
            let mut named: Vec<String> = (inputs.iter().take(OFFSETTING_INPUTS))
                .map(|(i, s)| format!("{} {}", tree.metric(*i).title, signed(*s)))
                .collect();
            if inputs.len() > OFFSETTING_INPUTS {
                named.push(format!("{} more", inputs.len() - OFFSETTING_INPUTS));
            }
            format!(
                "{} changed only {}, while {}",
                tree.metric(o.metric).title,
                signed(o.change),
                named.join(" and ")
            )
        })
        .collect();
    if ranked.len() > OFFSETTING_SHOWN {
        lines.push(format!(
            "and {} more, smaller; `canopy explain` lists them all",
            ranked.len() - OFFSETTING_SHOWN
        ));
    }
    lines
}

/// `lines` cut to their first [`BENEATH_SHOWN`], then how many more there are.
pub(crate) fn beneath_lines(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > BENEATH_SHOWN {
        let more = lines.len() - BENEATH_SHOWN;
        lines.truncate(BENEATH_SHOWN);
        lines.push(format!("and {more} more"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits `fit` settles on when a message costs `cost` of each item shown and holds
    /// at most `budget`.
    fn check(full: Shown, cost: [usize; 4], budget: usize, expected: Shown) {
        let size = |s: Shown| {
            let [d, l, f, r] = cost;
            s.detailed * d + (s.listed_to - s.detailed) * l + s.followed * f + s.redefined * r
        };
        let mut asked = 0;
        let shown = fit(full, |s| {
            asked += 1;
            size(s) <= budget
        });
        assert_eq!(shown, expected);
        assert!(asked <= 40, "asked {asked} times");
    }

    #[test]
    fn details_go_first_then_followed_metrics_then_the_list() {
        let full = Shown::all(1000, 5000, 3);
        let shown = |detailed, listed_to, followed, redefined| Shown {
            detailed,
            listed_to,
            followed,
            redefined,
        };
        // It fits: nothing is cut.
        check(full, [1, 1, 0, 0], 125, full);
        // Details from the bottom; the metrics stay listed.
        check(full, [10, 1, 0, 1], 200, shown(8, 125, 5000, 3));
        // No detail at all, then part of the followed metrics.
        check(full, [10, 1, 1, 1], 1128, shown(0, 125, 1000, 3));
        // Then the one-line list, then the changes of definition.
        check(full, [10, 1, 1, 10], 70, shown(0, 40, 0, 3));
        check(full, [10, 1, 1, 10], 20, shown(0, 0, 0, 2));
        // Everything optional can go.
        check(full, [10, 1, 1, 10], 0, shown(0, 0, 0, 0));
    }
}
