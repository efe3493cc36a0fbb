//! Data-driven tests of the tree rules: each case is a small YAML file and the diagnostics it
//! must produce, as `line:col: message` (help lines are checked by the snapshot tests).

use std::path::Path;

use crate::{load, Error, Loaded, Mailboxes, MemoryFs};

mod connections;

/// A stand-in for the notifier's rules: an address is `local@domain` without spaces, and a
/// name longer than 40 characters would be cut.
pub(crate) struct TestMailboxes;

impl Mailboxes for TestMailboxes {
    fn address_problem(&self, address: &str) -> Option<String> {
        let valid = address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace)
        });
        (!valid).then(|| format!("`{address}` is not an email address"))
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        (name.chars().count() > 40)
            .then(|| format!("the name `{name}` will be cut to 40 characters"))
    }
}

pub(crate) fn load_str(yaml: &str) -> Result<Loaded, Error> {
    let fs = MemoryFs::new().with("t.yaml", yaml).with(
        "people.yaml",
        "maya: { name: Maya Chen, email: maya@example.com }\nbad: { email: nope }\n",
    ).with(
        "connections.yaml",
        "events: { url: \"clickhouse://ch.internal:8443/analytics\", user: reader, password: env:CH_PASSWORD }\njira: { url: \"jira://acme.atlassian.net\", user: lead@acme.com, token: \"abc123\" }\n",
    );
    load(Path::new("t.yaml"), &fs, &TestMailboxes)
}

/// A small valid preamble; `metrics` follows `metrics:` on line 6.
pub(crate) fn tree(metrics: &str) -> String {
    format!("tree: t\nroot: r\npeople:\n  maya: {{ name: Maya, email: maya@example.com }}\nraci: {{ accountable: maya }}\nmetrics:\n{metrics}")
}

/// Loads `yaml` and compares its diagnostics with `expected`.
pub(crate) fn check(yaml: &str, expected: &[&str]) {
    let got: Vec<String> = match load_str(yaml) {
        Ok(_) => Vec::new(),
        Err(Error::Invalid { diagnostics, .. }) => diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{}:{}: {}",
                    d.location.span.line, d.location.span.col, d.message
                )
            })
            .collect(),
        Err(e) => vec![e.to_string()],
    };
    assert_eq!(got, expected, "diagnostics of\n{yaml}");
}

#[test]
fn a_valid_tree_has_no_diagnostics() {
    check(&tree("  r: { formula: a / b }\n  a: {}\n  b: {}\n"), &[]);
}

#[test]
fn formula_names() {
    check(
        &tree("  r: { formula: items_created / activ_users }\n  items_created: {}\n  active_users: {}\n"),
        &["7:33: unknown metric `activ_users` in formula (did you mean `active_users`?)"],
    );
    check(
        &tree("  r:\n    formula: \"a + zzz\"\n  a: {}\n"),
        &["8:19: unknown metric `zzz` in formula"],
    );
    check(&tree("  r: { formula: a *  }\n  a: {}\n"), &["7:20: invalid formula of `r`: the formula ends where a number, a name or `(` was expected"]);
}

#[test]
fn params_are_names_in_formulas() {
    check(
        &format!(
            "params: {{ weight: 2 }}\n{}",
            tree("  r: { formula: weight * a }\n  a: {}\n")
        ),
        &[],
    );
    check(
        &format!(
            "params: {{ a: 2 }}\n{}",
            tree("  r: { formula: a }\n  a: {}\n")
        ),
        &["1:11: `a` is both a param and a metric"],
    );
}

#[test]
fn unknown_keys_and_wrong_types() {
    check(
        &tree("  r: { formla: a, target: high, good: upp }\n  a: {}\n"),
        &[
            "7:8: unknown key `formla` in metric `r` (did you mean `formula`?)",
            "7:27: `target` of metric `r`: expected a finite number, found a string",
            "7:39: `good` of metric `r`: `upp` is not one of up, down (did you mean `up`?)",
            "8:3: metric `a` is not reachable from the root `r`",
        ],
    );
    check(
        &format!("grain: weekly\nowner: x\n{}", tree("  r: {}\n")),
        &[
            "1:8: `grain`: `weekly` is not one of day, week, month, quarter (did you mean `week`?)",
            "2:1: unknown key `owner` in the tree file",
        ],
    );
    check(
        "- just\n- a list\n",
        &["1:1: the tree file: expected a mapping, found a list"],
    );
}

#[test]
fn required_keys() {
    check(
        "title: nothing\n",
        &[
            "1:1: the tree has no `tree:` id",
            "1:1: the tree has no `root:` metric",
            "1:1: the tree has no `metrics:`",
        ],
    );
    check(&tree("  a: {}\n"), &["2:7: unknown root metric `r`"]);
}

#[test]
fn duplicate_keys_name_both_lines() {
    check(
        &tree("  r: { formula: a }\n  a: {}\n  a: {}\n"),
        &["9:3: duplicate key `a` (first defined on line 8)"],
    );
}

#[test]
fn cycles_are_reported_with_their_whole_path() {
    check(
        &tree("  r: { formula: a }\n  a: { formula: b + 1 }\n  b: { formula: c * 2 }\n  c: { formula: a / 3 }\n"),
        &["8:17: cycle in formulas: a -> b -> c -> a"],
    );
    check(
        &tree("  r: { formula: r + 1 }\n"),
        &["7:17: cycle in formulas: r -> r"],
    );
}

#[test]
fn a_metric_may_feed_several_parents() {
    check(
        &tree("  r: { formula: x / u + y / u }\n  x: {}\n  y: {}\n  u: {}\n"),
        &[],
    );
    check(
        &tree(
            "  r: { formula: x + y }\n  x: { formula: u * 2 }\n  y: { formula: u * 3 }\n  u: {}\n",
        ),
        &[],
    );
}

#[test]
fn raci_rules() {
    let no_default = "tree: t\nroot: r\npeople:\n  maya: { name: Maya, email: maya@example.com }\n  sam: { email: sam@example.com }\nmetrics:\n";
    check(
        &format!("{no_default}  r: {{ formula: a }}\n  a: {{ raci: {{ accountable: maya }} }}\n"),
        &["7:3: metric `r` has no accountable owner"],
    );
    check(
        &format!("{no_default}  r: {{ raci: {{ accountable: [maya, sam] }} }}\n"),
        &["7:14: metric `r` has 2 accountable owners; RACI allows exactly one"],
    );
    check(
        &format!("{no_default}  r: {{ raci: {{ accountable: maya, informed: [mya, bob] }} }}\n"),
        &[
            "7:46: unknown person `mya` (did you mean `maya`?)",
            "7:51: unknown person `bob`",
        ],
    );
    // Keys a metric leaves out come from the tree default.
    let loaded = load_str(&tree("  r: { raci: { informed: [maya] } }\n")).unwrap();
    let raci = &loaded.tree.metric(loaded.tree.root()).raci;
    assert_eq!(
        (raci.accountable.as_str(), raci.informed.as_slice()),
        ("maya", ["maya".to_string()].as_slice())
    );
}

#[test]
fn people_rules() {
    check(
        "tree: t\nroot: r\npeople:\n  maya: { name: Maya, email: maya.example.com }\n  sam: { name: Sam }\nraci: { accountable: maya }\nmetrics:\n  r: {}\n",
        &[
            "4:30: `maya.example.com` is not an email address",
            "5:8: person `sam` has no `email`",
        ],
    );
}

#[test]
fn a_name_that_will_be_cut_is_a_warning_and_the_tree_loads() {
    let long = "N".repeat(41);
    let yaml = format!("tree: t\nroot: r\npeople:\n  maya: {{ name: {long}, email: maya@example.com }}\nraci: {{ accountable: maya }}\nmetrics:\n  r: {{}}\n");
    let loaded = load_str(&yaml).expect("a warning does not make a tree invalid");
    let [warning] = loaded.warnings.as_slice() else {
        panic!("{:?}", loaded.warnings)
    };
    assert_eq!(warning.severity, crate::Severity::Warning);
    assert_eq!(
        (warning.location.span.line, warning.location.span.col),
        (4, 17)
    );
    assert!(warning.message.contains("cut to 40"), "{}", warning.message);
    assert!(warning.help.is_some());
    assert_eq!(
        loaded.tree.person("maya").name,
        long,
        "the tree keeps the name as written"
    );
}

#[test]
fn tree_ids_fit_in_headers() {
    let id = "t".repeat(crate::MAX_TREE_ID + 1);
    check(
        &format!("tree: {id}\nroot: r\npeople:\n  maya: {{ email: maya@example.com }}\nraci: {{ accountable: maya }}\nmetrics:\n  r: {{}}\n"),
        &[&format!("1:7: tree id `{id}` is 65 characters long, more than 64")],
    );
    let id = "t".repeat(crate::MAX_TREE_ID);
    check(
        &format!("tree: {id}\nroot: r\npeople:\n  maya: {{ email: maya@example.com }}\nraci: {{ accountable: maya }}\nmetrics:\n  r: {{}}\n"),
        &[],
    );
}

#[test]
fn tree_ids_name_no_path_and_no_header_part() {
    for (id, col) in [
        ("..", 7),
        ("index.html", 7),
        ("a/b", 7),
        ("-x", 7),
        ("'a b'", 7),
        ("9lives", 7),
        ("x<y>", 7),
    ] {
        let bare = id.trim_matches('\'');
        check(
            &format!("tree: {id}\nroot: r\npeople:\n  maya: {{ email: maya@example.com }}\nraci: {{ accountable: maya }}\nmetrics:\n  r: {{}}\n"),
            &[&format!("1:{col}: tree id `{bare}` must be letters, digits, `-` and `_`, starting with a letter or `_`")],
        );
    }
    for id in ["item-creation", "_x", "A1_b-2"] {
        check(
            &format!("tree: {id}\nroot: r\npeople:\n  maya: {{ email: maya@example.com }}\nraci: {{ accountable: maya }}\nmetrics:\n  r: {{}}\n"),
            &[],
        );
    }
}

/// The schema's patterns say what the checks accept.
#[test]
fn name_patterns_are_the_rules() {
    use crate::validate::{IDENTIFIER, TREE_ID};
    assert_eq!(IDENTIFIER.pattern(), "^[A-Za-z_][A-Za-z0-9_]*$");
    assert_eq!(TREE_ID.pattern(), "^[A-Za-z_][A-Za-z0-9_-]*$");
    let accepted = |rule: &crate::validate::NameRule| -> String {
        (0u8..128)
            .map(char::from)
            .filter(|c| rule.matches(&format!("a{c}")))
            .collect()
    };
    assert_eq!(
        accepted(&TREE_ID),
        "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    );
    assert_eq!(
        accepted(&IDENTIFIER),
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    );
}

#[test]
fn people_from_a_shared_file() {
    let yaml =
        "tree: t\nroot: r\npeople: people.yaml\nraci: { accountable: maya }\nmetrics:\n  r: {}\n";
    let err = load_str(yaml).err().unwrap();
    let Error::Invalid { diagnostics, .. } = err else {
        panic!("{err}")
    };
    // The shared file's own problem is reported in that file.
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].location.path.to_str(), Some("people.yaml"));
    assert_eq!(diagnostics[0].location.span.line, 2);
    check(
        "tree: t\nroot: r\npeople: missing.yaml\nmetrics:\n  r: {}\n",
        &["3:9: cannot read people file `missing.yaml`: No such file or directory"],
    );
}

#[test]
fn band_rules() {
    check(
        &tree("  r:\n    bands:\n      - { name: Low, below: 2 }\n      - { name: Mid, below: 2 }\n      - { name: Low }\n"),
        &["10:9: band bounds must increase strictly: 2 follows 2", "11:9: two bands are named `Low` (first on line 9)"],
    );
    check(
        &tree("  r:\n    bands:\n      - { name: Low }\n      - { name: High, below: 9 }\n"),
        &[
            "9:9: only the last band may leave out `below`",
            "10:9: the last band has a `below` bound",
        ],
    );
}

#[test]
fn alerts_merge_tree_defaults_with_metric_overrides() {
    let yaml = format!(
        "alerts: {{ change_pct: 5, anomaly_z: false }}\n{}",
        tree("  r: { formula: a, alerts: { change_pct: 20, history: 12 } }\n  a: {}\n")
    );
    let loaded = load_str(&yaml).unwrap();
    let t = &loaded.tree;
    let r = &t.metric(t.root()).alerts;
    assert_eq!(
        (r.change_pct, r.anomaly_z, r.history, r.bands),
        (Some(20.0), None, 12, true)
    );
    let a = &t.metric(t.find("a").unwrap()).alerts;
    assert_eq!((a.change_pct, a.anomaly_z, a.history), (Some(5.0), None, 8));
    check(&tree("  r: { alerts: { history: 2, change_pct: -1 } }\n"), &[
        "7:27: `history` in `alerts` of metric `r`: expected a whole number of periods from 3 to 520",
        "7:42: `change_pct` in `alerts` of metric `r`: expected a positive number, or `false` to turn the rule off, found a number",
    ]);
}

#[test]
fn ids_must_be_usable_in_formulas() {
    check(
        &tree("  r: { formula: a }\n  a: {}\n  items-created: {}\n"),
        &[
            "9:3: metric id `items-created` cannot be used in formulas",
            "9:3: metric `items-created` is not reachable from the root `r`",
        ],
    );
}

#[test]
fn formula_and_source_are_exclusive() {
    check(
        &tree("  r: { formula: a, source: { sql: select 1 } }\n  a: {}\n"),
        &["7:35: metric `r` has both a `formula` and a `source`"],
    );
}

#[test]
fn guards_in_front_of_the_parser() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    check(
        bomb,
        &["5:36: YAML aliases expand to more than 100000 nodes"],
    );
    let nested = format!("tree: {}{}", "{\"\": [".repeat(20_000), "]}".repeat(20_000));
    check(&nested, &["1:774: YAML nested more than 64 levels deep"]);
    let huge = format!("tree: t\n# {}\n", "x".repeat(crate::yaml::MAX_BYTES));
    check(
        &huge,
        &["1:1: file is 16777227 bytes, more than the limit of 16777216 bytes"],
    );
}

#[test]
fn the_validated_tree_offers_order_and_relations() {
    let loaded = load_str(&tree(
        "  r: { formula: x / u + y / u }\n  x: { formula: u * 2 }\n  y: {}\n  u: {}\n",
    ))
    .unwrap();
    let t = &loaded.tree;
    let id = |n: &str| t.find(n).unwrap();
    let pos = |n: &str| {
        t.topological_order()
            .iter()
            .position(|&m| m == id(n))
            .unwrap()
    };
    assert!(pos("u") < pos("x") && pos("x") < pos("r") && pos("y") < pos("r"));
    let mut parents: Vec<&str> = t
        .parents(id("u"))
        .map(|p| t.metric(p).id.as_str())
        .collect();
    parents.sort();
    assert_eq!(parents, ["r", "x"]);
    let inputs: Vec<&str> = t
        .inputs(id("r"))
        .iter()
        .map(|&m| t.metric(m).id.as_str())
        .collect();
    assert_eq!(inputs, ["x", "u", "y"]);
    let f = t.metric(id("r")).formula.as_ref().unwrap();
    assert_eq!(f.eval(&[6.0, 3.0, 9.0]), Ok(5.0));
}

/// Snapshots of rendered output: the diagnostics of every invalid fixture, and the Mermaid and
/// Graphviz drawings of every example tree.
mod snapshots {
    use std::io;
    use std::path::{Path, PathBuf};

    use crate::{load, Error, FileSystem, RenderOptions};

    /// Reads paths relative to the repository root, so snapshots show `fixtures/...` whatever
    /// directory the tests run in.
    struct Repo(PathBuf);

    impl FileSystem for Repo {
        fn read(&self, path: &Path) -> io::Result<String> {
            std::fs::read_to_string(self.0.join(path))
        }
    }

    fn repo() -> Repo {
        Repo(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .canonicalize()
                .unwrap(),
        )
    }

    fn relative(repo: &Repo, path: &Path) -> PathBuf {
        path.strip_prefix(&repo.0).unwrap().to_path_buf()
    }

    #[test]
    fn diagnostics_of_invalid_trees() {
        let repo = repo();
        insta::glob!("../../../fixtures/invalid", "*.yaml", |path| {
            let rendered = match load(&relative(&repo, path), &repo, &super::TestMailboxes) {
                Ok(_) => panic!("{} should be invalid", path.display()),
                Err(Error::Invalid {
                    diagnostics,
                    sources,
                    ..
                }) => {
                    // Every diagnostic says what to do.
                    for d in &diagnostics {
                        assert!(d.help.is_some(), "no help: {}", d.message);
                    }
                    crate::render_diagnostics(
                        &diagnostics,
                        &sources,
                        RenderOptions { snippets: true },
                    )
                }
                Err(e) => panic!("{e}"),
            };
            insta::assert_snapshot!(rendered);
        });
    }

    #[test]
    fn drawings_of_example_trees() {
        let repo = repo();
        insta::glob!("../../../trees", "*.yaml", |path| {
            let tree = load(&relative(&repo, path), &repo, &super::TestMailboxes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .tree;
            insta::assert_snapshot!("mermaid", crate::mermaid(&tree));
            insta::assert_snapshot!("dot", crate::dot(&tree));
        });
    }
}

#[test]
fn changes_inline_and_from_a_file() {
    let yaml = tree("  r: { formula: a / b }\n  a: {}\n  b: {}\n")
        + "changes:\n  - id: lift\n    metric: a\n    shipped: 2026-W30\n    expect: { direction: up, size: 5% }\n    scope: { platform: web }\n";
    let tree_of = |yaml: &str, file: &str| {
        let fs = MemoryFs::new()
            .with("t.yaml", yaml)
            .with("changes.yaml", file);
        load(Path::new("t.yaml"), &fs, &TestMailboxes)
    };
    let loaded = tree_of(&yaml, "").unwrap();
    let [change] = loaded.tree.changes() else {
        panic!("one change")
    };
    let a = loaded.tree.find("a").unwrap();
    assert_eq!(
        (change.id.as_str(), change.metric, change.size),
        ("lift", a, Some(0.05))
    );
    assert_eq!(change.shipped.to_string(), "2026-W30");
    assert_eq!(change.owner, "maya", "the metric's accountable by default");
    assert_eq!(change.window, crate::Window::default());
    assert_eq!(
        change.scope,
        vec![("platform".to_string(), "web".to_string())]
    );

    let yaml = tree("  r: { formula: a / b }\n  a: {}\n  b: {}\n") + "changes: changes.yaml\n";
    let file = "- id: lift\n  metric: a\n  shipped: 2026-W30\n  expect: { direction: down, size: 0.1 }\n- id: other\n  metric: c\n  shipped: 2026-W31\n  expect: { direction: up }\n";
    let Err(Error::Invalid { diagnostics, .. }) = tree_of(&yaml, file) else {
        panic!("`c` is not a metric")
    };
    // The file's own problem is reported in that file.
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].location.path.to_str(), Some("changes.yaml"));
    assert_eq!(diagnostics[0].location.span.line, 6);
    let good = &file[..file.find("- id: other").unwrap()];
    let loaded = tree_of(&yaml, good).unwrap();
    assert_eq!(loaded.tree.changes()[0].size, Some(0.1));
}

#[test]
fn a_definition_changes_with_what_is_computed_not_how_it_is_written() {
    // How the root is computed: each metric under it with its definition, parents first.
    let def = |metrics: &str| {
        let t = load_str(&tree(metrics)).unwrap().tree;
        (t.under(t.root()).into_iter())
            .map(|m| (t.metric(m).id.clone(), crate::Definition::of(&t, m)))
            .collect::<Vec<_>>()
    };
    let same = |a: &[(String, crate::Definition)], b: &[(String, crate::Definition)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((x, d), (y, e))| x == y && d.computes_as(e))
    };
    let base = def("  r: { formula: a / b }\n  a: {}\n  b: {}\n");
    assert!(same(
        &base,
        &def("  r: { formula: \"a/b\" }\n  a: {}\n  b: {}\n")
    ));
    assert!(!same(
        &base,
        &def("  r: { formula: b / a }\n  a: {}\n  b: {}\n")
    ));
    assert!(!same(
        &base,
        &def("  r: { formula: a / b }\n  a: {}\n  b: { source: { sql: select 1 } }\n")
    ));
    // How values are told and alerted on is not how they are computed.
    assert!(same(
        &base,
        &def("  r: { formula: a / b, unit: '%', alerts: { change_pct: 5 } }\n  a: {}\n  b: {}\n")
    ));
    assert_eq!(base[0].0, "r");
}

#[test]
fn suggestions_ignore_case_and_never_name_an_invalid_id() {
    // `root: R` finds `r`.
    let yaml = "tree: t\nroot: R\npeople:\n  maya: { name: Maya, email: maya@example.com }\nraci: { accountable: maya }\nmetrics:\n  r: {}\n";
    let Err(Error::Invalid { diagnostics, .. }) = load_str(yaml) else {
        panic!("`R` is not a metric")
    };
    assert!(
        diagnostics[0].message.contains("(did you mean `r`?)"),
        "{:?}",
        diagnostics[0]
    );
    // `item-count` cannot be used in a formula, so `item_cont` is not pointed at it.
    let diagnostics = match load_str(&tree("  r: { formula: item_cont }\n  item-count: {}\n")) {
        Err(Error::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("{:?}", other.map(|_| ())),
    };
    let unknown = diagnostics
        .iter()
        .find(|d| d.message.contains("item_cont"))
        .unwrap();
    assert!(
        !unknown.message.contains("did you mean"),
        "{}",
        unknown.message
    );
}

#[test]
fn metrics_without_an_accountable_are_one_diagnostic() {
    let yaml = "tree: t\nroot: r\npeople:\n  maya: { name: Maya, email: maya@example.com }\nmetrics:\n  r: { formula: a / b }\n  a: {}\n  b: {}\n";
    check(yaml, &["6:3: 3 metrics have no accountable owner: r, a, b"]);
    let one = "tree: t\nroot: r\npeople:\n  maya: { name: Maya, email: maya@example.com }\nmetrics:\n  r: { formula: a, raci: { accountable: maya } }\n  a: {}\n";
    check(one, &["7:3: metric `a` has no accountable owner"]);
}

/// `alerts: { compare: year }` sets what a metric is compared with; a metric inherits the
/// tree's and may override it; anything else is an error at the value. Only a compare other
/// than the default enters a definition, so definitions from before the key keep their hash.
#[test]
fn alerts_compare_with_a_year_before() {
    let yaml = "tree: t\nroot: r\npeople:\n  maya: { name: Maya, email: maya@example.com }\nraci: { accountable: maya }\nalerts: { compare: year }\nmetrics:\n  r: { formula: a + b }\n  a: { alerts: { compare: previous } }\n  b: {}\n";
    let t = load_str(yaml).map_err(|e| e.to_string()).unwrap().tree;
    let compare = |id: &str| t.metric(t.find(id).unwrap()).alerts.compare;
    assert_eq!(compare("r"), crate::Compare::Year);
    assert_eq!(compare("b"), crate::Compare::Year);
    assert_eq!(compare("a"), crate::Compare::Previous);
    let r = crate::Definition::of(&t, t.find("r").unwrap());
    let a = crate::Definition::of(&t, t.find("a").unwrap());
    let alerts = |d: &crate::Definition| d.get("alerts").unwrap_or_default().to_string();
    assert!(alerts(&r).ends_with(", compare year"), "{}", alerts(&r));
    assert!(!alerts(&a).contains("compare"), "{}", alerts(&a));
    check(
        &tree("  r: { alerts: { compare: yaer } }\n"),
        &["7:27: `compare` in `alerts` of metric `r`: `yaer` is not one of previous, year (did you mean `year`?)"],
    );
}
