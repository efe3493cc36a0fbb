//! The emails' HTML in a real browser: headless Chromium (Debian's `chromium`), at a phone's
//! width and a desktop's. Screenshots are taken, and the page is read back: the headline and
//! every moved metric are shown, and nothing overflows the phone's width.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{item_creation, Dir, ITEM_CREATION_RUN};

/// Chromium, or `None` (said, and refused under CI) when it is not installed.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        let ok = Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| PathBuf::from(name))
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed; .ci/run installs it"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    found
}

/// Runs Chromium headless on `url` with `args`, returning its standard output.
fn headless(chromium: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the page shows in a frame `width` px wide: its text, and how wide it lays out.
struct Shown {
    text: String,
    scroll_width: u64,
    width: u64,
}

fn shown(chromium: &Path, dir: &Dir, html: &str, width: u32) -> Shown {
    let escaped = html.replace('&', "&amp;").replace('"', "&quot;");
    let host = format!(
        "<!DOCTYPE html><html><body style=\"margin:0\"><iframe id=\"f\" style=\"width:{width}px;height:4000px;border:0\" srcdoc=\"{escaped}\"></iframe><pre id=\"out\"></pre>\n<script>const f = document.getElementById('f'); f.onload = () => {{ const d = f.contentDocument; document.getElementById('out').textContent = JSON.stringify({{ text: d.body.innerText, scroll: d.documentElement.scrollWidth, width: d.documentElement.clientWidth }}); }};</script></body></html>"
    );
    let path = dir.create(&format!("host-{width}.html"), &host);
    let dom = headless(
        chromium,
        &["--virtual-time-budget=5000", "--dump-dom"],
        &format!("file://{}", path.display()),
    );
    let json = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap();
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    Shown {
        text: v["text"].as_str().unwrap().to_string(),
        scroll_width: v["scroll"].as_u64().unwrap(),
        width: v["width"].as_u64().unwrap(),
    }
}

#[test]
fn the_email_reads_on_a_phone_and_a_desktop() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = item_creation();
    let args = [ITEM_CREATION_RUN, &["--dry-run", "--preview", "preview"]].concat();
    dir.run(&args, 0);
    // Product is accountable for two of the metrics that moved.
    let file = dir
        .path()
        .join("preview/item-creation-2026-W47-product@example.com.html");
    let html = std::fs::read_to_string(&file).unwrap();
    for width in [375, 1000] {
        let shot = dir.path().join(format!("email-{width}.png"));
        let size = format!("--window-size={width},1600");
        let screenshot = format!("--screenshot={}", shot.display());
        headless(
            &chromium,
            &[&size, &screenshot],
            &format!("file://{}", file.display()),
        );
        let png = std::fs::read(&shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "a screenshot at {width} px"
        );
        let page = shown(&chromium, &dir, &html, width);
        assert!(page.text.contains("Item creation rate fell 1.98 -> 1.57 items per active user: Creation flow completion"), "{}", page.text);
        for metric in ["Items created", "Items per activated user"] {
            assert!(
                page.text.contains(metric),
                "{metric} at {width} px: {}",
                page.text
            );
        }
        assert!(
            page.scroll_width <= page.width,
            "{} px of content in {} px",
            page.scroll_width,
            page.width
        );
    }
    // The check can fail: a page wider than the phone overflows it.
    let wide = shown(
        &chromium,
        &dir,
        "<div style=\"width:900px\">wide</div>",
        375,
    );
    assert!(wide.scroll_width > wide.width);
}
