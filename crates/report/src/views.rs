//! The report's views of a tree: a small tree is one view; a large one opens at its root's
//! view, as many levels as fit [`VIEW_MAX`] metrics, and each metric with inputs below that
//! depth (a collapsed branch) opens its own view, down to the leaves.

use std::collections::{HashMap, VecDeque};

use canopy_engine::{MetricId, MetricTree};

use crate::layout::{layout, Layout, Sizes};

/// The most metrics a view shows, past its focus and the focus's own inputs.
pub const VIEW_MAX: usize = 150;

/// The size of a card and the spaces between.
pub const SIZES: Sizes = Sizes {
    node_w: 212.0,
    node_h: 96.0,
    gap_x: 22.0,
    gap_y: 56.0,
    dummy_w: 14.0,
};

/// One view: a metric and the levels beneath it that fit.
#[derive(Debug)]
pub struct View {
    /// The metric at the top.
    pub focus: MetricId,
    /// The metrics shown, the focus first; the layout's node `i` is `members[i]`.
    pub members: Vec<MetricId>,
    /// Where each is drawn.
    pub layout: Layout,
    /// For each member: how many of its inputs are not shown, and the view that shows them.
    pub collapsed: Vec<Option<(usize, usize)>>,
    /// The view this one was opened from.
    pub parent: Option<usize>,
}

/// The views of `tree`: the root's first, then each collapsed branch's, breadth first; with
/// `max` as [`VIEW_MAX`] unless the whole tree is wanted in one (`None`).
pub fn views(tree: &MetricTree, max: Option<usize>) -> Vec<View> {
    let max = max.unwrap_or(usize::MAX);
    let mut foci: Vec<(MetricId, Option<usize>)> = vec![(tree.root(), None)];
    let mut index: HashMap<MetricId, usize> = HashMap::from([(tree.root(), 0)]);
    let mut members: Vec<Vec<MetricId>> = Vec::new();
    let mut queue = VecDeque::from([0usize]);
    while let Some(v) = queue.pop_front() {
        let shown = reach(tree, foci[v].0, max);
        let set: std::collections::HashSet<MetricId> = shown.iter().copied().collect();
        for &m in &shown {
            let hidden = tree.inputs(m).iter().any(|i| !set.contains(i));
            if hidden && !index.contains_key(&m) {
                index.insert(m, foci.len());
                queue.push_back(foci.len());
                foci.push((m, Some(v)));
            }
        }
        members.push(shown);
    }
    foci.iter()
        .zip(members)
        .map(|(&(focus, parent), members)| view(tree, focus, parent, members, &index))
        .collect()
}

/// The focus and its inputs, level by level, as long as the view stays within `max` (the
/// first level always shown).
fn reach(tree: &MetricTree, focus: MetricId, max: usize) -> Vec<MetricId> {
    let mut seen = std::collections::HashSet::from([focus]);
    let mut shown = vec![focus];
    let mut level = vec![focus];
    loop {
        let mut next = Vec::new();
        for &m in &level {
            for &i in tree.inputs(m) {
                if seen.insert(i) {
                    next.push(i);
                }
            }
        }
        if next.is_empty() || (shown.len() > 1 && shown.len() + next.len() > max) {
            return shown;
        }
        shown.extend(&next);
        level = next;
    }
}

fn view(
    tree: &MetricTree,
    focus: MetricId,
    parent: Option<usize>,
    members: Vec<MetricId>,
    index: &HashMap<MetricId, usize>,
) -> View {
    let local: HashMap<MetricId, usize> =
        members.iter().enumerate().map(|(i, &m)| (m, i)).collect();
    let inputs: Vec<Vec<usize>> = members
        .iter()
        .map(|&m| {
            tree.inputs(m)
                .iter()
                .filter_map(|i| local.get(i).copied())
                .collect()
        })
        .collect();
    let collapsed = members
        .iter()
        .zip(&inputs)
        .map(|(&m, shown)| {
            let hidden = tree.inputs(m).len() - shown.len();
            (hidden > 0).then(|| (hidden, index[&m]))
        })
        .collect();
    View {
        focus,
        layout: layout(&inputs, SIZES),
        members,
        collapsed,
        parent,
    }
}
