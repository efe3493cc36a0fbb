//! The HTML report and SVG picture of `canopy render`, checked as a reader would see them:
//! headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`),
//! clicking nodes and reading the page back. Screenshots are kept under
//! `target/report-screenshots/` for review.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use canopy_present::format::{number, signed};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::util::{repo, Dir};

/// A chromedriver process on a loopback port of its own, ended when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver, started; or `None` (said, and refused under CI) when it is not installed.
fn driver() -> Option<Driver> {
    let installed = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is not installed; .ci/run installs it"
        );
        eprintln!("skipped: chromedriver is not installed (apt-get install chromium-driver)");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// A headless browser session: a desktop window `width` wide, or a phone's screen.
async fn session(driver: &Driver, width: u32, phone: bool) -> Client {
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 format!("--window-size={width},1000")],
    });
    if phone {
        options["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": width, "height": 800, "pixelRatio": 1.0 } });
    }
    let caps = json!({ "goog:chromeOptions": options });
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// Opens `page` and waits until its script has run.
async fn open(c: &Client, page: &Path) {
    c.goto(&format!("file://{}", page.display())).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("html[data-ready]"))
        .await
        .expect("the page's script finished");
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

fn screenshots() -> PathBuf {
    let dir = repo().join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The JSON a command prints.
fn json_of(dir: &Dir, args: &[&str]) -> Value {
    serde_json::from_str(&dir.run(args, 0).stdout).unwrap()
}

const TREE: &str = "trees/item-creation.yaml";
const DATA: &str = "fixtures/data/item-creation.csv";

/// What the page shows of every card: id, value text, band text, band class.
const CARDS: &str = "return [...document.querySelectorAll('#canvas g.n')].map(n => [n.dataset.id, n.querySelector('.v').firstChild.textContent, (n.querySelector('.bn') || {}).textContent || null, n.querySelector('.band').getAttribute('class')]);";

/// The drawing's geometry as laid out: each card's box and each edge's two ends, in page
/// pixels.
const GEOMETRY: &str = r#"
const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const cards = {};
for (const n of document.querySelectorAll('#canvas g.n')) cards[n.dataset.id] = box(n.querySelector('.card'));
const edges = [...document.querySelectorAll('#canvas path.e')].map(p => {
  const m = p.getScreenCTM();
  const at = (len) => { const q = p.getPointAtLength(len); return new DOMPoint(q.x, q.y).matrixTransform(m); };
  const a = at(0), b = at(p.getTotalLength());
  return [p.dataset.from, p.dataset.to, a.x, a.y, b.x, b.y];
});
return { cards, edges };
"#;

/// No two cards overlap; every edge leaves the middle of its parent's bottom and reaches the
/// middle of its input's top; parents are above their inputs.
fn assert_geometry(g: &Value) {
    let cards = g["cards"].as_object().unwrap();
    let rect = |id: &str| -> Vec<f64> {
        cards[id]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let ids: Vec<&String> = cards.keys().collect();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let (p, q) = (rect(a), rect(b));
            let apart = p[2] <= q[0] || q[2] <= p[0] || p[3] <= q[1] || q[3] <= p[1];
            assert!(apart, "cards {a} and {b} overlap: {p:?} {q:?}");
        }
    }
    let edges = g["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let (from, to) = (rect(e[0].as_str().unwrap()), rect(e[1].as_str().unwrap()));
        let n = |i: usize| e[i].as_f64().unwrap();
        let near = |a: f64, b: f64| (a - b).abs() < 2.0;
        assert!(
            near(n(2), (from[0] + from[2]) / 2.0) && near(n(3), from[3]),
            "{e}: {from:?}"
        );
        assert!(
            near(n(4), (to[0] + to[2]) / 2.0) && near(n(5), to[1]),
            "{e}: {to:?}"
        );
        assert!(from[3] < to[1], "{e}: parent not above its input");
    }
}

#[test]
fn the_report_shows_every_value_and_explains_a_clicked_metric() {
    let Some(driver) = driver() else { return };
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    let page = dir.create(
        "week.html",
        &dir.run(&["render", TREE, "--data", DATA, "--format", "html"], 0)
            .stdout,
    );
    let eval = json_of(&dir, &["eval", TREE, "--data", DATA, "--format", "json"]);
    let period = eval["period"].as_str().unwrap();
    let root = "item_creation_rate";
    let previous = "2026-W46";
    let explain = json_of(
        &dir,
        &[
            "explain", TREE, "--data", DATA, "--from", previous, "--to", period, "--metric", root,
            "--slices", "--format", "json",
        ],
    );
    runtime().block_on(async {
        let c = session(&driver, 1400, false).await;
        open(&c, &page).await;
        // Every metric's value and band, as `canopy eval` gives them.
        let cards = js(&c, CARDS).await;
        let cards = cards.as_array().unwrap();
        let metrics = eval["metrics"].as_array().unwrap();
        assert_eq!(cards.len(), metrics.len());
        for m in metrics {
            let id = m["id"].as_str().unwrap();
            let card = cards
                .iter()
                .find(|c| c[0] == id)
                .unwrap_or_else(|| panic!("no card for {id}"));
            let value = m["value"].as_f64().map_or("no value".to_string(), number);
            assert_eq!(card[1], value.as_str(), "{id}");
            assert_eq!(card[2].as_str(), m["band"].as_str(), "{id}");
            assert_eq!(
                card[3].as_str().is_some_and(|c| c.contains("b-none")),
                m["band"].is_null(),
                "{id}"
            );
        }
        assert_geometry(&js(&c, GEOMETRY).await);

        panel_is_explain(&c, root, &explain).await;
        std::fs::write(
            screenshots().join("item-creation-1400.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.close().await.unwrap();

        on_a_phone(&driver, &page, root).await;
    });
}

/// A click on `root` opens its panel, whose waterfall is `explain`'s contributions, leaves
/// and segments.
async fn panel_is_explain(c: &Client, root: &str, explain: &Value) {
    // A click opens the panel: its waterfall is `canopy explain`'s contributions.
    c.find(Locator::Css(&format!("g.n[data-id='{root}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#panel:not([hidden]) tr[data-input]"))
        .await
        .unwrap();
    let rows = js(c, "return [...document.querySelectorAll('#panel tr[data-input]')].map(r => [r.dataset.input, r.querySelector('.num').textContent]);").await;
    let expected: Vec<Value> = explain["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!([c["metric"], signed(c["contribution"].as_f64().unwrap())]))
        .collect();
    assert_eq!(rows.as_array().unwrap(), &expected);
    let leaves = js(
        c,
        "return [...document.querySelectorAll('#panel tr[data-leaf]')].map(r => r.dataset.leaf);",
    )
    .await;
    let expected: Vec<&Value> = explain["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["metric"])
        .collect();
    assert_eq!(
        leaves.as_array().unwrap().iter().collect::<Vec<_>>(),
        expected
    );
    let segments = js(
        c,
        "return document.querySelectorAll('#panel tr[data-segment]').length;",
    )
    .await;
    assert_eq!(
        segments,
        json!(explain["segments"].as_array().unwrap().len())
    );
    // Where it moved: the slices `explain --slices` names, in its order.
    let slices = js(
        c,
        "return [...document.querySelectorAll('#panel tr[data-slice]')].map(r => r.dataset.slice);",
    )
    .await;
    let expected: Vec<String> = (explain["slices"].as_array().unwrap().iter())
        .map(|s| {
            let conditions = s["where"].as_object().unwrap().iter();
            let named: Vec<String> = conditions
                .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap()))
                .collect();
            named.join(", ")
        })
        .collect();
    assert_eq!(slices, json!(expected));
}

/// On a phone the page itself never scrolls sideways (the drawing scrolls in its box), the
/// root's card is whole on the first screen, and a click opens a panel.
async fn on_a_phone(driver: &Driver, page: &Path, root: &str) {
    // On a phone the page itself never scrolls sideways: the drawing scrolls in its box.
    let c = session(driver, 375, true).await;
    open(&c, page).await;
    let widths = js(
        &c,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
    )
    .await;
    assert_eq!(widths[0], widths[1], "the page overflows a phone: {widths}");
    assert_eq!(widths[1], 375);
    // The drawing (571 px) is wider than the phone, yet the root's card is whole on the
    // first screen, with nothing scrolled but the drawing's own box.
    let root_box = js(&c, &format!("const r = document.querySelector(\"g.n[data-id='{root}'] .card\").getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, window.innerWidth, window.innerHeight, window.scrollX, window.scrollY];")).await;
    let n: Vec<f64> = root_box
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        n[0] >= 0.0 && n[1] >= 0.0 && n[2] <= n[4] && n[3] <= n[5],
        "the root is cut off: {root_box}"
    );
    assert_eq!((n[6], n[7]), (0.0, 0.0), "the page scrolled: {root_box}");
    c.find(Locator::Css("g.n[data-id='items_created']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#panel:not([hidden])"))
        .await
        .unwrap();
    let shown = js(
        &c,
        "return document.getElementById('panel').dataset.metric;",
    )
    .await;
    assert_eq!(shown, "items_created");
    std::fs::write(
        screenshots().join("item-creation-375.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    c.close().await.unwrap();
}

/// A tree of `branches` sums of `leaves` leaves each, with two weeks of data.
fn wide_tree(dir: &Dir, branches: usize, leaves: usize) -> (PathBuf, PathBuf) {
    let mut yaml = String::from("version: 1\ntree: wide\ntitle: Wide\ngrain: week\nroot: total\npeople:\n  o: { name: Owner, email: o@example.com }\nraci: { accountable: o }\nmetrics:\n");
    let names: Vec<String> = (0..branches).map(|b| format!("b{b}")).collect();
    yaml += &format!("  total:\n    formula: {}\n", names.join(" + "));
    let mut csv = String::from("period,metric,value\n");
    for b in 0..branches {
        let ls: Vec<String> = (0..leaves).map(|l| format!("b{b}_l{l}")).collect();
        yaml += &format!(
            "  b{b}:\n    title: Branch {b}\n    formula: {}\n",
            ls.join(" + ")
        );
        for (i, l) in ls.iter().enumerate() {
            yaml += &format!("  {l}: {{}}\n");
            csv += &format!("2026-W01,{l},{}\n2026-W02,{l},{}\n", 10 + i, 10 + i + b);
        }
    }
    (dir.create("wide.yaml", &yaml), dir.create("wide.csv", &csv))
}

#[test]
fn a_large_tree_opens_collapsed_and_each_branch_opens_its_view() {
    let Some(driver) = driver() else { return };
    let dir = Dir::new();
    let (tree, data) = wide_tree(&dir, 20, 20);
    let (tree, data) = (tree.to_str().unwrap(), data.to_str().unwrap());
    let html = dir
        .run(&["render", tree, "--data", data, "--format", "html"], 0)
        .stdout;
    let page = dir.create("wide.html", &html);
    runtime().block_on(async {
        let c = session(&driver, 1400, false).await;
        open(&c, &page).await;
        // 421 metrics do not fit one view: the root and its 20 branches are shown, each
        // branch collapsed with its 20 leaves behind a button.
        let shown = js(
            &c,
            "return document.querySelectorAll('#canvas g.n').length;",
        )
        .await;
        assert_eq!(shown, 21);
        let more = js(
            &c,
            "return [...document.querySelectorAll('#canvas .more text')].map(t => t.textContent);",
        )
        .await;
        assert_eq!(more.as_array().unwrap().len(), 20);
        assert!(
            more.as_array().unwrap().iter().all(|t| t == "+20 ▾"),
            "{more}"
        );
        c.find(Locator::Css("g.n[data-id='b3'] .more"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let ids = js(
            &c,
            "return [...document.querySelectorAll('#canvas g.n')].map(n => n.dataset.id);",
        )
        .await;
        let expected: Vec<String> = std::iter::once("b3".to_string())
            .chain((0..20).map(|l| format!("b3_l{l}")))
            .collect();
        assert_eq!(ids, json!(expected));
        assert_geometry(&js(&c, GEOMETRY).await);
        // The path back names the root's view; it returns there.
        let crumbs = js(&c, "return document.getElementById('crumbs').textContent;").await;
        assert_eq!(crumbs, "total›Branch 3");
        c.find(Locator::Css("#crumbs button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let shown = js(
            &c,
            "return document.querySelectorAll('#canvas g.n').length;",
        )
        .await;
        assert_eq!(shown, 21);
        c.close().await.unwrap();
    });
}

/// Text that, raw inside a script element, switches HTML's parser into a state where
/// `</script>` no longer ends the element.
const COMMENT_SCRIPT: &str = "<!--<script>";

#[test]
fn a_comment_and_script_tag_in_titles_and_segments_leave_the_page_working() {
    let Some(driver) = driver() else { return };
    let dir = Dir::new();
    let tree = dir.create(
        "odd.yaml",
        &format!("version: 1\ntree: odd\ntitle: Odd\ngrain: week\nroot: total\npeople:\n  o: {{ name: Owner, email: o@example.com }}\nraci: {{ accountable: o }}\nmetrics:\n  total:\n    title: \"Total {COMMENT_SCRIPT} & more\"\n    formula: a + b\n  a: {{}}\n  b: {{}}\n"),
    );
    let mut csv = String::from("period,metric,value,region\n");
    for (segment, w01, w02) in [(COMMENT_SCRIPT, 3, 9), ("north", 5, 6)] {
        for metric in ["a", "b"] {
            csv +=
                &format!("2026-W01,{metric},{w01},{segment}\n2026-W02,{metric},{w02},{segment}\n");
        }
    }
    let data = dir.create("odd.csv", &csv);
    let (tree, data) = (tree.to_str().unwrap(), data.to_str().unwrap());
    let html = dir
        .run(&["render", tree, "--data", data, "--format", "html"], 0)
        .stdout;
    let page = dir.create("odd.html", &html);
    runtime().block_on(async {
        let c = session(&driver, 1400, false).await;
        // The page's script runs to its end only if the data's element ended where it should.
        open(&c, &page).await;
        let shown = js(&c, "return document.querySelectorAll('#canvas g.n').length;").await;
        assert_eq!(shown, 3);
        c.find(Locator::Css("g.n[data-id='total']")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("#panel:not([hidden]) tr[data-segment]")).await.unwrap();
        let title = js(&c, "return document.querySelector('#panel h2').textContent;").await;
        assert_eq!(title, format!("Total {COMMENT_SCRIPT} & more (total)").as_str());
        let segments = js(&c, "return [...document.querySelectorAll('#panel tr[data-segment] th')].map(t => t.textContent);").await;
        assert_eq!(segments, json!([format!("region={COMMENT_SCRIPT}"), "region=north"]));
        c.close().await.unwrap();
    });
}

#[test]
fn the_page_needs_nothing_outside_itself() {
    let dir = Dir::new();
    dir.copy("fixtures/data/all.csv");
    for entry in std::fs::read_dir(repo().join("trees")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let relative = format!("trees/{}", path.file_name().unwrap().to_str().unwrap());
        dir.copy(&relative);
        dir.copy("trees/shared/people.yaml");
        let html = dir
            .run(
                &[
                    "render",
                    &relative,
                    "--data",
                    "fixtures/data/all.csv",
                    "--format",
                    "html",
                ],
                0,
            )
            .stdout;
        for outside in ["http", "//", "src=", "url(", "@import", "<link"] {
            assert!(
                !html.contains(outside),
                "{relative}: the page names `{outside}`"
            );
        }
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    }
}

#[test]
fn the_svg_picture_of_a_small_tree() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    let svg = dir
        .run(
            &[
                "render", TREE, "--data", DATA, "--format", "svg", "--period", "2026-W47",
            ],
            0,
        )
        .stdout;
    assert!(svg.starts_with("<?xml"));
    // The picture carries the page's heading, not only a tooltip.
    assert!(svg.contains("<text class=\"h\" x=\"0\" y=\"16\">Item creation rate</text>"));
    assert!(svg.contains("2026-W47, compared with 2026-W46 · 7 metrics · 4 moved"));
    assert!(svg.contains("thick border: its alert rules fired</text>"));
    insta::assert_snapshot!("item_creation_svg", svg);
}

#[test]
fn html_and_svg_need_data_and_mermaid_is_the_default() {
    let dir = Dir::new();
    dir.copy(TREE);
    let run = dir.run(&["render", TREE, "--format", "html"], 1);
    assert!(
        run.stderr.contains("needs data") && run.stderr.contains("help: add `--data SRC`"),
        "{}",
        run.stderr
    );
    let run = dir.run(&["render", TREE], 0);
    assert!(run.stdout.contains("flowchart TD"), "{}", run.stdout);
}

#[test]
fn run_keeps_each_periods_report_and_its_emails_link_it() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    let env = [(
        "CANOPY_REPORT_URL",
        "https://metrics.example.com/canopy/".to_string(),
    )];
    for period in ["2026-W46", "2026-W47"] {
        dir.run_env(&["run", TREE, "--data", DATA, "--period", period], &env, 0);
    }
    let reports = dir.path().join(".canopy/report");
    let page = std::fs::read_to_string(reports.join("item-creation/2026-W47.html")).unwrap();
    assert!(page.contains("<title>Item creation rate: 2026-W47</title>"));
    // The metrics this run alerted on stand out.
    assert!(page.contains("<g class=\"n bad moved\" data-id=\"items_created\""));
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    let (newer, older) = (
        index.find("href=\"item-creation/2026-W47.html\"").unwrap(),
        index.find("href=\"item-creation/2026-W46.html\"").unwrap(),
    );
    assert!(newer < older, "newest first: {index}");
    let link = "https://metrics.example.com/canopy/item-creation/2026-W47.html";
    let mut linked = 0;
    for entry in std::fs::read_dir(dir.path().join(".canopy/outbox")).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let text = quoted_printable::decode(&raw, quoted_printable::ParseMode::Robust).unwrap();
        let text = String::from_utf8_lossy(&text);
        if text.contains("2026-W47") {
            assert!(
                text.contains(&format!("The tree with this period's values: {link}")),
                "{text}"
            );
            assert!(text.contains(&format!("<a href=\"{link}\"")), "{text}");
            linked += 1;
        }
    }
    assert!(linked > 0, "no email of 2026-W47");
}

#[test]
fn the_index_lists_each_tree_under_its_title_with_the_roots_value_and_moves() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    let (wide, wide_data) = wide_tree(&dir, 2, 2);
    let (wide, wide_data) = (wide.to_str().unwrap(), wide_data.to_str().unwrap());
    // Runs of two trees and of periods out of order accumulate in one folder.
    for period in ["2026-W47", "2026-W45", "2026-W46"] {
        dir.run(&["run", TREE, "--data", DATA, "--period", period], 0);
    }
    dir.run(
        &["run", wide, "--data", wide_data, "--period", "2026-W02"],
        0,
    );
    let reports = dir.path().join(".canopy/report");
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    let main = &index[index.find("<main>").unwrap()..index.find("</main>").unwrap() + 7];
    insta::assert_snapshot!("report_index", main.replace("</tr>", "</tr>\n"));
    // A page without its summary, as older runs kept them, is still listed.
    std::fs::remove_file(reports.join("item-creation/2026-W45.json")).unwrap();
    dir.run(&["run", TREE, "--data", DATA, "--period", "2026-W47"], 0);
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(
        index.contains("<tr data-period=\"2026-W45\"><td><a href=\"item-creation/2026-W45.html\">2026-W45</a></td><td></td><td></td><td></td></tr>"),
        "{index}"
    );
}

#[test]
fn a_report_that_cannot_be_written_fails_the_run_but_not_its_emails() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    dir.create("blocked", "a file where the report folder would go");
    let run = dir.run(
        &["run", TREE, "--data", DATA, "--report", "blocked/reports"],
        1,
    );
    assert!(
        run.stderr.contains("error: cannot write the report") && run.stderr.contains("help: "),
        "{}",
        run.stderr
    );
    let sent = std::fs::read_dir(dir.path().join(".canopy/outbox"))
        .unwrap()
        .count();
    assert!(sent > 0, "the emails were held back");
}
