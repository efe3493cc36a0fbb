//! The rules that relate parts of a tree to each other, and the construction of the validated
//! [`MetricTree`] once they all hold.

use std::collections::{BTreeMap, HashMap, HashSet};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;

use crate::bands::{Band, Bands};
use crate::decode::{
    AlertsSpec, BandSpec, Decoder, MetricSpec, PersonSpec, RaciSpec, Spanned, TreeSpec,
};
use crate::diagnostic::Span;
use crate::formula::{self, Expr};
use crate::model::{Alerts, Formula, Metric, MetricId, MetricTree};
use crate::raci::{Mailboxes, Person, Raci, Webhook};
use crate::suggest::did_you_mean;

/// A grammar of names: an ASCII letter or `_`, then letters, digits, `_` and the characters
/// `also`. The check and the JSON Schema's pattern are both made from it.
pub(crate) struct NameRule {
    also: &'static str,
}

/// Metric, param and person ids and environment variable names: formulas read them.
pub(crate) const IDENTIFIER: NameRule = NameRule { also: "" };

/// Tree ids may also hold `-` (no formula reads them). Ids name files, so the rule keeps out
/// `.`, `/` and every other character a path, a Message-ID or a List-Id reads differently.
pub(crate) const TREE_ID: NameRule = NameRule { also: "-" };

impl NameRule {
    /// Whether `name` follows the rule.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || self.also.contains(c))
    }

    /// The rule as a JSON Schema `pattern`.
    pub(crate) fn pattern(&self) -> String {
        format!("^[A-Za-z_][A-Za-z0-9_{}]*$", self.also)
    }
}

/// Whether `name` can be used in a formula (and names an environment variable).
pub(crate) fn is_identifier(name: &str) -> bool {
    IDENTIFIER.matches(name)
}

/// Checks the people of a tree (inline or from their own file, whose decoder is passed)
/// against the rules of what can receive email.
pub(crate) fn people(
    dec: &mut Decoder<'_>,
    specs: Vec<PersonSpec>,
    mailboxes: &dyn Mailboxes,
) -> BTreeMap<String, Person> {
    let mut out = BTreeMap::new();
    for p in specs {
        // A person with a bad or missing address is reported (by the decoder or here) but
        // still known, so the RACI entries naming them do not cascade into more errors.
        let email = p.email.map(|email| {
            if let Some(problem) = mailboxes.address_problem(&email.value) {
                dec.error_help(
                    email.span,
                    problem,
                    "write an address such as `maya@example.com`",
                );
            }
            email.value
        });
        let name = p.name.map(|name| {
            if let Some(problem) = mailboxes.name_problem(&name.value) {
                dec.warning_help(
                    name.span,
                    problem,
                    "write the name as emails should show it: on one line, and short",
                );
            }
            name.value
        });
        let id = p.id.value;
        let name = name.unwrap_or_else(|| id.clone());
        let webhook = p.webhook.and_then(|hook| match Webhook::parse(&hook.value) {
            Ok(w) => Some(w),
            Err(problem) => {
                let help = "write `webhook: https://...` (an incoming webhook's URL), or `webhook: env:NAME` to read it from the environment";
                dec.error_help(hook.span, problem, help);
                None
            }
        });
        out.insert(
            id.clone(),
            Person {
                id,
                name,
                email,
                webhook,
            },
        );
    }
    out
}

/// The longest tree id: ids name trees in email subjects, Message-IDs and file names, which
/// must stay within the line limits of mail headers.
pub const MAX_TREE_ID: usize = 64;

fn tree_id(dec: &mut Decoder<'_>, id: &Spanned<String>) {
    let help = "tree ids appear in email subjects and file names; write e.g. `item-creation`";
    if !TREE_ID.matches(&id.value) {
        let message = format!(
            "tree id `{}` must be letters, digits, `-` and `_`, starting with a letter or `_`",
            id.value
        );
        dec.error_help(id.span, message, help);
    } else if id.value.len() > MAX_TREE_ID {
        let message = format!(
            "tree id `{}` is {} characters long, more than {MAX_TREE_ID}",
            id.value,
            id.value.len()
        );
        dec.error_help(id.span, message, help);
    }
}

/// Builds the tree from its decoded spec, reporting every broken rule. Returns the tree only
/// if no rule was broken here (the caller also checks earlier diagnostics).
pub(crate) fn tree(
    dec: &mut Decoder<'_>,
    spec: TreeSpec,
    people: BTreeMap<String, Person>,
    connections: BTreeMap<String, crate::Connection>,
) -> Option<MetricTree> {
    let index: HashMap<String, MetricId> = spec
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.value.clone(), MetricTree::metric_id(i)))
        .collect();
    // Suggestions name only ids that can be used: never one that is itself an error.
    let names: Vec<&str> = spec
        .metrics
        .iter()
        .map(|m| m.id.value.as_str())
        .filter(|id| is_identifier(id))
        .collect();
    let errors_before = dec.errors();

    if let Some(id) = &spec.id {
        tree_id(dec, id);
    }
    let params = params(dec, &spec.params, &index);
    let root = spec
        .root
        .as_ref()
        .and_then(|r| root_of(dec, r, &index, &names));
    let known = Names::of(&index, &params, &names);
    let default_alerts = merge_alerts(dec, &Alerts::default(), &spec.alerts, ("", known));
    let scope = Scope {
        index: &index,
        params: &params,
        names: &names,
        raci: spec.raci.as_ref(),
        people: &people,
        connections: &connections,
        alerts: &default_alerts,
        unowned: Default::default(),
    };
    let metrics: Vec<Metric> = spec
        .metrics
        .iter()
        .map(|m| metric(dec, m, &scope))
        .collect();
    unowned(dec, scope.unowned.into_inner(), spec.raci.as_ref());

    let (graph, topo) = structure(dec, &metrics, &spec.metrics, root);
    if dec.errors() > errors_before {
        return None;
    }
    let id = spec.id?;
    Some(MetricTree {
        id_location: dec.location(id.span),
        written_id: id.value.clone(),
        id: id.value,
        title: spec.title.unwrap_or_default(),
        description: spec.description,
        grain: spec.grain.unwrap_or(crate::model::Grain::Week),
        root: root?,
        path: dec.path.clone(),
        people,
        connections,
        metrics,
        index,
        graph,
        topo: topo?,
        changes: Vec::new(),
    })
    .map(|mut t| {
        if t.title.is_empty() {
            t.title = t.id.clone();
        }
        t
    })
}

/// The graph of `metrics` with its order, reporting a cycle, and a metric the root does not
/// reach.
fn structure(
    dec: &mut Decoder<'_>,
    metrics: &[Metric],
    specs: &[MetricSpec],
    root: Option<MetricId>,
) -> (DiGraph<MetricId, ()>, Option<Vec<MetricId>>) {
    let graph = graph(metrics);
    let topo = acyclic_order(dec, &graph, specs);
    // A formula that failed to compile has no edges yet, so its inputs would all look
    // unreachable: report reachability only when every formula compiled.
    let all_compiled = specs
        .iter()
        .zip(metrics)
        .all(|(s, m)| s.formula.is_none() || m.formula.is_some());
    if let (Some(root), true) = (root, all_compiled) {
        reachable(dec, &graph, root, specs);
    }
    (graph, topo)
}

/// The root metric `name` names, reported if it names none.
fn root_of(
    dec: &mut Decoder<'_>,
    name: &Spanned<String>,
    index: &HashMap<String, MetricId>,
    names: &[&str],
) -> Option<MetricId> {
    let found = index.get(&name.value).copied();
    if found.is_none() {
        let help = "`root` names one of the tree's metrics";
        unknown(dec, name, "root metric", names, help);
    }
    found
}

/// What checking one metric needs of the rest of the tree.
struct Scope<'a> {
    index: &'a HashMap<String, MetricId>,
    params: &'a HashMap<String, f64>,
    names: &'a [&'a str],
    /// The tree's `raci:` default.
    raci: Option<&'a RaciSpec>,
    people: &'a BTreeMap<String, Person>,
    connections: &'a BTreeMap<String, crate::Connection>,
    /// The tree's alerts, over the built-in defaults.
    alerts: &'a Alerts,
    /// Metrics found without an accountable owner, reported together after all are checked.
    unowned: std::cell::RefCell<Vec<Spanned<String>>>,
}

impl Scope<'_> {
    fn known(&self) -> Names<'_> {
        Names::of(self.index, self.params, self.names)
    }
}

impl<'a> Names<'a> {
    fn of(
        index: &'a HashMap<String, MetricId>,
        params: &'a HashMap<String, f64>,
        names: &'a [&'a str],
    ) -> Names<'a> {
        Names {
            index,
            params,
            names,
        }
    }
}

/// Checks one metric's own rules (its id, formula or source, RACI, bands) and builds it.
fn metric(dec: &mut Decoder<'_>, m: &MetricSpec, scope: &Scope<'_>) -> Metric {
    if !is_identifier(&m.id.value) {
        let fixed: String =
            m.id.value
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
        dec.error_help(
            m.id.span,
            format!("metric id `{}` cannot be used in formulas", m.id.value),
            format!("ids are letters, digits and `_`, not starting with a digit: try `{fixed}`"),
        );
    }
    let formula = m
        .formula
        .as_ref()
        .and_then(|f| compile(dec, &Language::formula(&m.id.value), f, scope.known()));
    if let (Some((_, node)), Some(source)) = (&m.formula, &m.source) {
        // At the query, where there is one: the part that conflicts with the formula.
        let span = source.query.as_ref().map_or(source.span, |(_, q)| q.span);
        dec.error_help(
            span,
            format!(
                "metric `{}` has both a `formula` and a `source`",
                m.id.value
            ),
            format!(
                "a metric is either derived (formula, line {}) or measured (source)",
                node.span.line
            ),
        );
    }
    let raci = raci(dec, m, scope);
    let bands = m.bands.as_ref().map(|b| bands(dec, b)).unwrap_or_default();
    Metric {
        id: m.id.value.clone(),
        title: m.title.clone().unwrap_or_else(|| m.id.value.clone()),
        description: m.description.clone(),
        unit: m.unit.clone(),
        change: m
            .change
            .unwrap_or_else(|| crate::model::ChangeIn::of_unit(m.unit.as_deref())),
        formula,
        source: (m.source.as_ref())
            .and_then(|s| crate::connection::check_source(dec, s, scope.connections)),
        good: m.good,
        target: m.target,
        bands,
        raci: raci.unwrap_or_else(|| Raci {
            responsible: vec![],
            accountable: String::new(),
            consulted: vec![],
            informed: vec![],
        }),
        alerts: merge_alerts(dec, scope.alerts, &m.alerts, (&m.id.value, scope.known())),
        location: dec.location(m.id.span),
    }
}

pub(crate) fn unknown(
    dec: &mut Decoder<'_>,
    name: &Spanned<String>,
    what: &str,
    known: &[&str],
    help: &str,
) {
    let message = match did_you_mean(&name.value, known.iter().copied()) {
        Some(s) => format!("unknown {what} `{}` (did you mean `{s}`?)", name.value),
        None => format!("unknown {what} `{}`", name.value),
    };
    dec.error_help(name.span, message, help);
}

fn params(
    dec: &mut Decoder<'_>,
    specs: &[(Spanned<String>, f64)],
    index: &HashMap<String, MetricId>,
) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for (name, value) in specs {
        if !is_identifier(&name.value) {
            dec.error_help(
                name.span,
                format!("param `{}` cannot be used in formulas", name.value),
                "names are letters, digits and `_`, not starting with a digit",
            );
        } else if index.contains_key(&name.value) {
            dec.error_help(
                name.span,
                format!("`{}` is both a param and a metric", name.value),
                "rename one of them so formulas are unambiguous",
            );
        }
        out.insert(name.value.clone(), *value);
    }
    out
}

/// What is compiled, for its errors: a metric's formula, or a volume guard.
struct Language {
    /// What it is, in messages: "formula of `rate`".
    what: String,
    /// Where a name occurs, in messages: "in formula".
    place: &'static str,
    parse: fn(&str) -> Result<formula::Parsed, formula::SyntaxError>,
    /// The help of a syntax error that has none of its own.
    help: &'static str,
}

impl Language {
    fn formula(metric: &str) -> Language {
        Language {
            what: format!("formula of `{metric}`"),
            place: "in formula",
            parse: formula::parse,
            help: "a formula combines metric ids, params and numbers with + - * / ^, parentheses and min max abs sum avg clamp if",
        }
    }

    fn guard(owner: &str) -> Language {
        Language {
            what: format!("`only_if` of {owner}"),
            place: "in `only_if`",
            parse: formula::parse_condition,
            help: "`only_if` compares two formulas over the tree's metrics, e.g. `attempts >= 10`",
        }
    }
}

/// The names a formula may use: metric ids and params.
#[derive(Clone, Copy)]
struct Names<'a> {
    index: &'a HashMap<String, MetricId>,
    params: &'a HashMap<String, f64>,
    names: &'a [&'a str],
}

/// Parses a formula (or a condition) and resolves its names: metrics become input slots,
/// params numbers.
fn compile(
    dec: &mut Decoder<'_>,
    language: &Language,
    (text, node): &(String, crate::yaml::Node),
    known: Names<'_>,
) -> Option<Formula> {
    let parsed = match (language.parse)(text) {
        Ok(p) => p,
        Err(e) => {
            let span = node.inner_span(e.offset, e.len);
            let message = format!("invalid {}: {}", language.what, e.message);
            let help = e.help.unwrap_or_else(|| language.help.to_string());
            dec.error_help(span, message, help);
            return None;
        }
    };
    let Names {
        index,
        params,
        names,
    } = known;
    let mut ok = true;
    for r in &parsed.names {
        if index.contains_key(&r.name) || params.contains_key(&r.name) {
            continue;
        }
        ok = false;
        let known = names
            .iter()
            .copied()
            .chain(params.keys().map(String::as_str));
        let place = language.place;
        let message = match did_you_mean(&r.name, known) {
            Some(s) => format!("unknown metric `{}` {place} (did you mean `{s}`?)", r.name),
            None => format!("unknown metric `{}` {place}", r.name),
        };
        let span = node.inner_span(r.offset, r.name.chars().count());
        dec.error_help(
            span,
            message,
            "formulas use the ids of metrics under `metrics:` and names under `params:`",
        );
    }
    if !ok {
        return None;
    }
    let mut inputs: Vec<MetricId> = Vec::new();
    let expr = parsed
        .expr
        .map_vars(&mut |name: &String| match index.get(name) {
            Some(&id) => {
                let slot = inputs.iter().position(|&i| i == id).unwrap_or_else(|| {
                    inputs.push(id);
                    inputs.len() - 1
                });
                Expr::Var(slot)
            }
            None => Expr::Num(params[name]),
        });
    Some(Formula::new(text.clone(), expr, inputs))
}

/// Resolves a metric's RACI: each key it leaves out comes from the tree's default.
/// Reports the metrics without an accountable owner: at the metric when one is, else once
/// for all of them, at the tree-level `raci:` if there is one, naming them.
fn unowned(dec: &mut Decoder<'_>, ids: Vec<Spanned<String>>, default: Option<&RaciSpec>) {
    let help = "add `raci: { accountable: <person> }` to it, or a tree-level `raci:` default";
    match ids.as_slice() {
        [] => {}
        [one] => {
            let message = format!("metric `{}` has no accountable owner", one.value);
            dec.error_help(one.span, message, help);
        }
        [first, ..] => {
            let names: Vec<&str> = ids.iter().map(|i| i.value.as_str()).take(10).collect();
            let more = ids.len().saturating_sub(names.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let message = format!(
                "{} metrics have no accountable owner: {}{more}",
                ids.len(),
                names.join(", ")
            );
            let span = default.map_or(first.span, |d| d.span);
            let help = "add `accountable: <person>` to the tree-level `raci:` for all of them, or `raci: { accountable: <person> }` to each";
            dec.error_help(span, message, help);
        }
    }
}

fn raci(dec: &mut Decoder<'_>, m: &MetricSpec, scope: &Scope<'_>) -> Option<Raci> {
    let (default, people) = (scope.raci, scope.people);
    let own = m.raci.clone().unwrap_or_default();
    let default = default.cloned().unwrap_or_default();
    let pick = |a: &Option<Vec<Spanned<String>>>, b: &Option<Vec<Spanned<String>>>| {
        a.clone().or_else(|| b.clone()).unwrap_or_default()
    };
    let mut ok = true;
    let known: Vec<&str> = people.keys().map(String::as_str).collect();
    let mut resolve = |dec: &mut Decoder<'_>, ids: Vec<Spanned<String>>| -> Vec<String> {
        for id in &ids {
            if !people.contains_key(&id.value) {
                ok = false;
                unknown(
                    dec,
                    id,
                    "person",
                    &known,
                    "people are defined under `people:` (inline or in a people file)",
                );
            }
        }
        ids.into_iter().map(|s| s.value).collect()
    };
    let accountable = resolve(dec, pick(&own.accountable, &default.accountable));
    let responsible = resolve(dec, pick(&own.responsible, &default.responsible));
    let consulted = resolve(dec, pick(&own.consulted, &default.consulted));
    let informed = resolve(dec, pick(&own.informed, &default.informed));
    let span = if m.raci.is_some() {
        own.span
    } else {
        m.id.span
    };
    match accountable.len() {
        1 => {}
        0 => {
            ok = false;
            scope.unowned.borrow_mut().push(Spanned {
                value: m.id.value.clone(),
                span,
            });
        }
        n => {
            ok = false;
            dec.error_help(
                span,
                format!(
                    "metric `{}` has {n} accountable owners; RACI allows exactly one",
                    m.id.value
                ),
                "keep one accountable; list the others as `responsible`",
            );
        }
    }
    let accountable = accountable.into_iter().next()?;
    ok.then_some(Raci {
        responsible,
        accountable,
        consulted,
        informed,
    })
}

fn bands(dec: &mut Decoder<'_>, spec: &Spanned<Vec<BandSpec>>) -> Bands {
    let list = &spec.value;
    if list.is_empty() {
        dec.error_help(
            spec.span,
            "`bands` is empty",
            "list bands lowest first, e.g. `- { name: Low, below: 1 }` then `- { name: High }`",
        );
    }
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut previous: Option<f64> = None;
    for (i, band) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        if let Some(name) = &band.name {
            if let Some(first) = seen.insert(name, band.span) {
                dec.error_help(
                    band.span,
                    format!(
                        "two bands are named `{name}` (first on line {})",
                        first.line
                    ),
                    "give each band its own name",
                );
            }
        }
        match (band.below, last) {
            (Some(_), true) => dec.error_help(
                band.span,
                "the last band has a `below` bound",
                "the last band has no upper bound: remove its `below`, or add a band above it",
            ),
            (None, false) => dec.error_help(
                band.span,
                "only the last band may leave out `below`",
                "bands are ordered lowest first; give this band an upper bound",
            ),
            (Some(b), false) => {
                if let Some(p) = previous.filter(|&p| b <= p) {
                    dec.error_help(
                        band.span,
                        format!("band bounds must increase strictly: {b} follows {p}"),
                        "list bands lowest first",
                    );
                }
                previous = Some(b);
            }
            (None, true) => {}
        }
    }
    Bands::new(
        list.iter()
            .map(|b| Band {
                name: b.name.clone().unwrap_or_default(),
                below: b.below,
            })
            .collect(),
    )
}

/// `over` over `base`, key by key; the guard compiled for `owner` (a metric's id, or `""`
/// for the tree's `alerts:`).
fn merge_alerts(
    dec: &mut Decoder<'_>,
    base: &Alerts,
    over: &AlertsSpec,
    (owner, known): (&str, Names<'_>),
) -> Alerts {
    let owner = match owner {
        "" => "the tree's `alerts:`".to_string(),
        id => format!("`{id}`"),
    };
    let only_if = match &over.only_if {
        Some(Some(written)) => {
            compile(dec, &Language::guard(&owner), written, known).map(|formula| {
                crate::model::Guard {
                    text: written.0.clone(),
                    formula,
                }
            })
        }
        Some(None) => None,
        None => base.only_if.clone(),
    };
    Alerts {
        only_if,
        change_pct: over.change_pct.unwrap_or(base.change_pct),
        change_abs: over.change_abs.unwrap_or(base.change_abs),
        bands: over.bands.unwrap_or(base.bands),
        anomaly_z: over.anomaly_z.unwrap_or(base.anomaly_z),
        history: over.history.unwrap_or(base.history),
        target: over.target.unwrap_or(base.target),
        remind_after: over.remind_after.unwrap_or(base.remind_after),
        segments: over.segments.unwrap_or(base.segments),
        compare: over.compare.unwrap_or(base.compare),
    }
}

fn graph(metrics: &[Metric]) -> DiGraph<MetricId, ()> {
    let mut g = DiGraph::with_capacity(metrics.len(), metrics.len() * 2);
    for i in 0..metrics.len() {
        g.add_node(MetricTree::metric_id(i));
    }
    for (i, m) in metrics.iter().enumerate() {
        for input in m.formula.iter().flat_map(Formula::inputs) {
            g.add_edge(NodeIndex::new(i), NodeIndex::new(input.index()), ());
        }
    }
    g
}

/// Every metric after its inputs, or `None` after reporting each cycle with its whole path.
fn acyclic_order(
    dec: &mut Decoder<'_>,
    g: &DiGraph<MetricId, ()>,
    specs: &[MetricSpec],
) -> Option<Vec<MetricId>> {
    if let Ok(order) = toposort(g, None) {
        return Some(order.into_iter().rev().map(|n| g[n]).collect());
    }
    let mut sccs = tarjan_scc(g);
    sccs.iter_mut().for_each(|c| c.sort());
    sccs.sort();
    for scc in sccs {
        let start = scc[0];
        if scc.len() == 1 && g.find_edge(start, start).is_none() {
            continue;
        }
        let path = cycle_path(g, start, &scc.iter().copied().collect());
        let names: Vec<&str> = path
            .iter()
            .map(|n| specs[n.index()].id.value.as_str())
            .collect();
        let spec = &specs[start.index()];
        let span = spec
            .formula
            .as_ref()
            .map_or(spec.id.span, |(_, node)| node.span);
        dec.error_help(
            span,
            format!("cycle in formulas: {}", names.join(" -> ")),
            "a metric cannot depend on itself; break the cycle by removing one of these inputs",
        );
    }
    None
}

/// A cycle through `start` within one strongly connected component, closed back on `start`.
fn cycle_path(
    g: &DiGraph<MetricId, ()>,
    start: NodeIndex,
    scc: &HashSet<NodeIndex>,
) -> Vec<NodeIndex> {
    // Breadth-first from start's successors back to start gives the shortest cycle, which is
    // the clearest one to show; every node of the component lies on some cycle through start.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = g.neighbors(n).filter(|m| scc.contains(m)).collect();
        next.sort();
        for m in next {
            if m == start {
                let mut middle = Vec::new();
                let mut at = n;
                while at != start {
                    middle.push(at);
                    at = prev[&at];
                }
                middle.reverse();
                return [vec![start], middle, vec![start]].concat();
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start, start]
}

fn reachable(
    dec: &mut Decoder<'_>,
    g: &DiGraph<MetricId, ()>,
    root: MetricId,
    specs: &[MetricSpec],
) {
    let mut seen = vec![false; g.node_count()];
    let mut dfs = Dfs::new(g, NodeIndex::new(root.index()));
    while let Some(n) = dfs.next(g) {
        seen[n.index()] = true;
    }
    let root_name = &specs[root.index()].id.value;
    for (spec, _) in specs.iter().zip(&seen).filter(|(_, s)| !**s) {
        dec.error_help(
            spec.id.span,
            format!(
                "metric `{}` is not reachable from the root `{root_name}`",
                spec.id.value
            ),
            "use it in a formula of a metric under the root, or remove it",
        );
    }
}
