//! Drawing a DAG top-down in layers (the Sugiyama method), for the report's pictures.
//!
//! 1. **Layers**: each node's layer is its longest path from the top node, so every edge
//!    points down and a metric shared by two parents sits below both.
//! 2. **Order**: an edge that spans several layers passes through a dummy point in each layer
//!    between; the nodes and points of each layer start in depth-first order (formula order
//!    of inputs) and are reordered by the barycentre of their neighbours, sweeping down and up,
//!    keeping the order with the fewest crossings.
//! 3. **Coordinates**: each layer in turn is placed as near its neighbours' mean as the order
//!    and spacing allow: the least-squares placement, found exactly by pooling adjacent
//!    violators. The last pass centres parents over their inputs.
//! 4. **Edges** run from the middle of a parent's bottom through the dummy points to the
//!    middle of the input's top.

/// Sizes of the picture, in pixels.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// A node's width.
    pub node_w: f64,
    /// A node's height.
    pub node_h: f64,
    /// The least space between two nodes of a layer.
    pub gap_x: f64,
    /// The space between two layers.
    pub gap_y: f64,
    /// The width an edge passing through a layer takes.
    pub dummy_w: f64,
}

/// A node's box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Whether the two boxes share any area.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
}

/// An edge's path, from the parent's bottom to the input's top.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// The parent.
    pub from: usize,
    /// The input.
    pub to: usize,
    /// The points the edge passes through, first on the parent, last on the input.
    pub points: Vec<(f64, f64)>,
}

impl Route {
    /// The route as an SVG path: vertical-tangent curves between its points.
    pub fn path(&self) -> String {
        let mut d = String::new();
        for (i, w) in self.points.windows(2).enumerate() {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if i == 0 {
                d.push_str(&format!("M{} {}", px(x0), px(y0)));
            }
            if x0 == x1 {
                d.push_str(&format!("V{}", px(y1)));
            } else {
                let ym = (y0 + y1) / 2.0;
                d.push_str(&format!(
                    "C{} {} {} {} {} {}",
                    px(x0),
                    px(ym),
                    px(x1),
                    px(ym),
                    px(x1),
                    px(y1)
                ));
            }
        }
        d
    }
}

/// A coordinate for SVG: to a tenth of a pixel, no trailing zeros.
pub fn px(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Where every node and edge of a graph goes.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Each node's box, by node index.
    pub nodes: Vec<Rect>,
    /// Every edge, in the order of the nodes and of their inputs.
    pub edges: Vec<Route>,
    /// The picture's width.
    pub width: f64,
    /// The picture's height.
    pub height: f64,
    /// How many pairs of edges cross.
    pub crossings: usize,
}

/// A point of a layer: a node, or an edge passing through.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Item {
    Node(usize),
    Pass,
}

/// The layered graph: items by layer, with their neighbours in the layers above and below.
struct Layered {
    kind: Vec<Item>,
    layer: Vec<usize>,
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
    /// Each layer's items, left to right.
    order: Vec<Vec<usize>>,
    /// Each edge's items, parent first.
    chains: Vec<(usize, usize, Vec<usize>)>,
}

/// Lays out the graph whose node `i` has the inputs `inputs[i]`; node 0 is the top, and every
/// node is reachable from it. The graph must have no cycle.
pub fn layout(inputs: &[Vec<usize>], sizes: Sizes) -> Layout {
    let layers = layers(inputs);
    let mut g = Layered::new(inputs, &layers);
    let crossings = g.reduce_crossings();
    let x = g.coordinates(sizes);
    g.place(&x, sizes, crossings)
}

/// Each node's longest path from node 0.
fn layers(inputs: &[Vec<usize>]) -> Vec<usize> {
    let mut layer = vec![0; inputs.len()];
    for &v in &topological(inputs) {
        for &c in &inputs[v] {
            layer[c] = layer[c].max(layer[v] + 1);
        }
    }
    layer
}

/// The nodes reachable from 0, parents before inputs (reversed depth-first post-order).
fn topological(inputs: &[Vec<usize>]) -> Vec<usize> {
    let mut seen = vec![false; inputs.len()];
    let mut post = Vec::with_capacity(inputs.len());
    // An explicit stack: (node, next input to visit).
    let mut stack = vec![(0usize, 0usize)];
    seen[0] = !inputs.is_empty();
    while let Some((v, i)) = stack.pop() {
        if let Some(&c) = inputs[v].get(i) {
            stack.push((v, i + 1));
            if !seen[c] {
                seen[c] = true;
                stack.push((c, 0));
            }
        } else {
            post.push(v);
        }
    }
    post.reverse();
    post
}

impl Layered {
    fn new(inputs: &[Vec<usize>], layers: &[usize]) -> Layered {
        let depth = layers.iter().max().map_or(0, |d| d + 1);
        let mut g = Layered {
            kind: (0..inputs.len()).map(Item::Node).collect(),
            layer: layers.to_vec(),
            up: vec![Vec::new(); inputs.len()],
            down: vec![Vec::new(); inputs.len()],
            order: vec![Vec::new(); depth],
            chains: Vec::new(),
        };
        for (p, cs) in inputs.iter().enumerate() {
            for &c in cs {
                let mut chain = vec![p];
                for l in layers[p] + 1..layers[c] {
                    chain.push(g.add(Item::Pass, l));
                }
                chain.push(c);
                for w in chain.windows(2) {
                    g.down[w[0]].push(w[1]);
                    g.up[w[1]].push(w[0]);
                }
                g.chains.push((p, c, chain));
            }
        }
        g.first_order();
        g
    }

    fn add(&mut self, kind: Item, layer: usize) -> usize {
        self.kind.push(kind);
        self.layer.push(layer);
        self.up.push(Vec::new());
        self.down.push(Vec::new());
        self.kind.len() - 1
    }

    /// Depth-first from the top, inputs in formula order: a tree comes out without crossings.
    fn first_order(&mut self) {
        let mut seen = vec![false; self.kind.len()];
        let mut stack = vec![0usize];
        while let Some(v) = stack.pop() {
            if std::mem::replace(&mut seen[v], true) {
                continue;
            }
            self.order[self.layer[v]].push(v);
            stack.extend(self.down[v].iter().rev().filter(|&&c| !seen[c]));
        }
    }

    /// Each item's place in its layer.
    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![0; self.kind.len()];
        for layer in &self.order {
            for (i, &v) in layer.iter().enumerate() {
                pos[v] = i;
            }
        }
        pos
    }

    /// Barycentre sweeps, down then up, keeping the best order seen; returns its crossings.
    fn reduce_crossings(&mut self) -> usize {
        const SWEEPS: usize = 12;
        let mut best = (self.crossings(), self.order.clone());
        for sweep in 0..SWEEPS {
            let down = sweep % 2 == 0;
            let layers: Vec<usize> = match down {
                true => (1..self.order.len()).collect(),
                false => (0..self.order.len().saturating_sub(1)).rev().collect(),
            };
            for l in layers {
                let pos = self.positions();
                let neighbours = if down { &self.up } else { &self.down };
                let key = |v: usize| match neighbours[v].as_slice() {
                    [] => pos[v] as f64,
                    ns => ns.iter().map(|&n| pos[n] as f64).sum::<f64>() / ns.len() as f64,
                };
                let mut keyed: Vec<(f64, usize, usize)> =
                    self.order[l].iter().map(|&v| (key(v), pos[v], v)).collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                self.order[l] = keyed.into_iter().map(|k| k.2).collect();
            }
            let c = self.crossings();
            if c < best.0 {
                best = (c, self.order.clone());
            }
            if best.0 == 0 {
                break;
            }
        }
        self.order = best.1;
        best.0
    }

    /// How many pairs of edge segments cross, over all pairs of adjacent layers.
    fn crossings(&self) -> usize {
        let pos = self.positions();
        let mut total = 0;
        for layer in &self.order {
            let mut segs: Vec<(usize, usize)> = layer
                .iter()
                .flat_map(|&a| self.down[a].iter().map(move |&b| (a, b)))
                .map(|(a, b)| (pos[a], pos[b]))
                .collect();
            segs.sort_unstable();
            total += inversions(segs.iter().map(|s| s.1));
        }
        total
    }

    /// Each item's centre, layer by layer as near its neighbours as spacing allows.
    fn coordinates(&self, sizes: Sizes) -> Vec<f64> {
        const ROUNDS: usize = 4;
        let mut x = vec![0.0; self.kind.len()];
        for layer in &self.order {
            let desired = vec![0.0; layer.len()];
            for (&v, xv) in layer
                .iter()
                .zip(place(&desired, &self.separations(layer, sizes)))
            {
                x[v] = xv;
            }
        }
        for round in 0..=ROUNDS {
            // Up: parents over their inputs; down: inputs under their parents. The last round
            // goes up only, so parents end centred over their inputs.
            self.pass(&mut x, sizes, false);
            if round < ROUNDS {
                self.pass(&mut x, sizes, true);
            }
        }
        x
    }

    /// One pass over the layers, placing each by its neighbours above (`down`) or below.
    fn pass(&self, x: &mut [f64], sizes: Sizes, down: bool) {
        let layers: Vec<usize> = match down {
            true => (1..self.order.len()).collect(),
            false => (0..self.order.len().saturating_sub(1)).rev().collect(),
        };
        for l in layers {
            let layer = &self.order[l];
            let neighbours = if down { &self.up } else { &self.down };
            let desired: Vec<f64> = layer
                .iter()
                .map(|&v| match neighbours[v].as_slice() {
                    [] => x[v],
                    ns => ns.iter().map(|&n| x[n]).sum::<f64>() / ns.len() as f64,
                })
                .collect();
            for (&v, xv) in layer
                .iter()
                .zip(place(&desired, &self.separations(layer, sizes)))
            {
                x[v] = xv;
            }
        }
    }

    /// The least distance between the centres of each two neighbours in `layer`.
    fn separations(&self, layer: &[usize], sizes: Sizes) -> Vec<f64> {
        let half = |v: usize| match self.kind[v] {
            Item::Node(_) => sizes.node_w / 2.0,
            Item::Pass => sizes.dummy_w / 2.0,
        };
        layer
            .windows(2)
            .map(|w| {
                let gap = match (self.kind[w[0]], self.kind[w[1]]) {
                    (Item::Pass, Item::Pass) => 0.0,
                    _ => sizes.gap_x,
                };
                half(w[0]) + half(w[1]) + gap
            })
            .collect()
    }

    /// The boxes and routes, shifted so the picture starts at 0.
    fn place(&self, x: &[f64], sizes: Sizes, crossings: usize) -> Layout {
        let left = self
            .order
            .iter()
            .filter_map(|l| l.first())
            .map(|&v| x[v] - self.half_width(v, sizes))
            .fold(f64::INFINITY, f64::min);
        let left = if left.is_finite() { left } else { 0.0 };
        let top = |l: usize| l as f64 * (sizes.node_h + sizes.gap_y);
        let n = self.kind.iter().filter(|k| **k != Item::Pass).count();
        let mut nodes = vec![
            Rect {
                x: 0.0,
                y: 0.0,
                w: sizes.node_w,
                h: sizes.node_h
            };
            n
        ];
        let mut width: f64 = 0.0;
        for (v, kind) in self.kind.iter().enumerate() {
            width = width.max(x[v] - left + self.half_width(v, sizes));
            if let Item::Node(i) = *kind {
                nodes[i].x = x[v] - left - sizes.node_w / 2.0;
                nodes[i].y = top(self.layer[v]);
            }
        }
        let edges = self
            .chains
            .iter()
            .map(|(from, to, chain)| {
                let mut points = vec![(x[*from] - left, top(self.layer[*from]) + sizes.node_h)];
                for &d in &chain[1..chain.len() - 1] {
                    let y = top(self.layer[d]);
                    points.push((x[d] - left, y));
                    points.push((x[d] - left, y + sizes.node_h));
                }
                points.push((x[*to] - left, top(self.layer[*to])));
                Route {
                    from: *from,
                    to: *to,
                    points,
                }
            })
            .collect();
        let height =
            self.order.len().saturating_sub(1) as f64 * (sizes.node_h + sizes.gap_y) + sizes.node_h;
        Layout {
            nodes,
            edges,
            width,
            height: if self.order.is_empty() { 0.0 } else { height },
            crossings,
        }
    }

    fn half_width(&self, v: usize, sizes: Sizes) -> f64 {
        match self.kind[v] {
            Item::Node(_) => sizes.node_w / 2.0,
            Item::Pass => sizes.dummy_w / 2.0,
        }
    }
}

/// The centres nearest `desired` (least squares) that keep each two neighbours at least
/// `sep` apart, in order: with `y_i = x_i - offset_i` the constraint is `y` non-decreasing,
/// an isotonic regression, solved exactly by pooling adjacent violators.
fn place(desired: &[f64], sep: &[f64]) -> Vec<f64> {
    let mut offset = Vec::with_capacity(desired.len());
    let mut acc = 0.0;
    for i in 0..desired.len() {
        if i > 0 {
            acc += sep[i - 1];
        }
        offset.push(acc);
    }
    // Blocks of pooled targets: (sum, count).
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (d, o) in desired.iter().zip(&offset) {
        blocks.push((d - o, 1));
        while blocks.len() > 1 {
            let (s1, n1) = blocks[blocks.len() - 1];
            let (s0, n0) = blocks[blocks.len() - 2];
            if s0 / n0 as f64 <= s1 / n1 as f64 {
                break;
            }
            blocks.pop();
            *blocks.last_mut().expect("two blocks") = (s0 + s1, n0 + n1);
        }
    }
    let ys = blocks
        .iter()
        .flat_map(|&(s, n)| std::iter::repeat_n(s / n as f64, n));
    ys.zip(&offset).map(|(y, o)| y + o).collect()
}

/// The pairs `i < j` with `values[i] > values[j]`, counted with a Fenwick tree.
fn inversions(values: impl Iterator<Item = usize>) -> usize {
    let values: Vec<usize> = values.collect();
    let size = values.iter().max().map_or(0, |m| m + 1);
    let mut tree = vec![0usize; size + 1];
    let mut count = 0;
    for (seen, &v) in values.iter().enumerate() {
        // How many seen so far are <= v.
        let (mut i, mut le) = (v + 1, 0);
        while i > 0 {
            le += tree[i];
            i &= i - 1;
        }
        count += seen - le;
        let mut i = v + 1;
        while i <= size {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    count
}

#[cfg(test)]
mod tests;
