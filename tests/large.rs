//! The emails of a run on a wide tree stay small enough for mail servers: offsetting
//! movements are capped per item, and a message that would pass its budget drops its least
//! important details and says how many, and where to see them.

use crate::util::{parts, Dir};

/// Groups under the root, each an input that rose and one that fell as much: every group is
/// an offsetting movement of the root's change.
const GROUPS: usize = 300;

/// A tree whose root is the sum of [`GROUPS`] flat groups and `m`, which moves the root;
/// `o` is accountable for every metric and `w` follows them all.
fn wide(dir: &Dir) {
    let groups: Vec<String> = (0..GROUPS).map(|i| format!("g{i}")).collect();
    let mut tree = format!(
        "tree: wide\nroot: total\npeople:\n  o: {{ email: o@example.com }}\n  w: {{ email: w@example.com }}\nraci: {{ accountable: o, informed: [w] }}\nmetrics:\n  total: {{ formula: \"{} + m\" }}\n  m: {{}}\n",
        groups.join(" + ")
    );
    let mut data = "period,metric,value\n2026-W01,m,1000\n2026-W02,m,100000\n".to_string();
    for i in 0..GROUPS {
        tree += &format!("  g{i}: {{ formula: u{i} + d{i} }}\n  u{i}: {{}}\n  d{i}: {{}}\n");
        data += &format!("2026-W01,u{i},1000\n2026-W02,u{i},{}\n", 1010 + i);
        data += &format!("2026-W01,d{i},1000\n2026-W02,d{i},{}\n", 990 - i);
    }
    dir.create("wide.yaml", &tree);
    dir.create("wide.csv", &data);
}

/// A dry run's preview of the wide tree, with `env`.
fn preview(dir: &Dir, env: &[(&str, String)]) {
    let args = [
        "run",
        "wide.yaml",
        "--data",
        "wide.csv",
        "--period",
        "2026-W02",
        "--dry-run",
        "--preview",
        "preview",
    ];
    dir.run_env(&args, env, 0);
}

/// The size of the previewed email to `who`, as it would be sent.
fn size(dir: &Dir, who: &str) -> usize {
    let name = format!("preview/wide-2026-W02-{who}@example.com.eml");
    std::fs::metadata(dir.path().join(name)).unwrap().len() as usize
}

#[test]
fn a_wide_tree_makes_bounded_emails_that_say_what_they_left_out() {
    let dir = Dir::new();
    wide(&dir);
    preview(&dir, &[]);
    // The root's item lists its largest offsetting movements (the last groups moved most),
    // then counts the rest, in text and HTML alike.
    let (text, html) = parts(&dir, "wide-2026-W02-o@example.com");
    let offsetting: Vec<&str> = (text.lines())
        .filter_map(|l| l.strip_prefix("  Offsetting: "))
        .collect();
    assert_eq!(offsetting.len(), 6, "{text}");
    assert!(
        offsetting[0].starts_with("g299 changed only 0, while u299 +309 and d299 -309"),
        "{text}"
    );
    let rest = "and 295 more, smaller; `canopy explain` lists them all";
    assert_eq!(offsetting[5], rest);
    assert_eq!(html.matches(">Offsetting</th>").count(), 6, "{html}");
    assert!(html.contains(rest), "{html}");
    // Everyone's email fits the budget; the follower's is cut, and says by how much.
    for who in ["o", "w"] {
        assert!(
            size(&dir, who) <= 200 * 1024,
            "{who}: {} bytes",
            size(&dir, who)
        );
    }
    let (text, html) = parts(&dir, "wide-2026-W02-w@example.com");
    let rows = text.lines().filter(|l| l.contains(" (was ")).count();
    let metrics = 2 + 3 * GROUPS;
    let note = format!(
        "This message was shortened to stay under 200 KB: {} of the metrics you follow are left out. `canopy eval wide.yaml --data SRC --period 2026-W02` shows every value.",
        metrics - rows
    );
    assert!(rows > 100 && text.contains(&note), "{rows} rows:\n{text}");
    assert!(html.contains("This message was shortened"), "{html}");
    // With a report served, the note links it instead.
    let url = (
        "CANOPY_REPORT_URL",
        "https://reports.example/canopy".to_string(),
    );
    preview(&dir, &[url]);
    let (text, _) = parts(&dir, "wide-2026-W02-w@example.com");
    assert!(
        text.contains("are left out. The report has all of it: https://reports.example/canopy/"),
        "{text}"
    );
}
