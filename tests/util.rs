//! Running the `canopy` binary in a fresh directory and reporting everything on failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Starts a test server process and waits for the line it prints on stdout once it is
/// listening; returns it with that line, trimmed.
pub fn start_server(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

/// The repository root, where `trees/` and `fixtures/` are.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `CANOPY_*` setting the binary reads, as `canopy --help` lists them (from the
/// binary's one table of settings).
pub fn settings() -> &'static [String] {
    static SETTINGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
            .arg("--help")
            .output()
            .expect("canopy runs");
        let help = String::from_utf8(out.stdout).expect("UTF-8 help");
        let (_, section) = (help.split_once("Settings (environment variables):\n"))
            .expect("the help lists the settings");
        let names: Vec<String> = (section.lines())
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.starts_with("CANOPY_"))
            .map(str::to_string)
            .collect();
        assert!(names.len() >= 10, "{section}");
        names
    })
}

/// A scratch directory of its own for one test, with the binary ready to run in it.
pub struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::Builder::new()
                .prefix("canopy-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` inside the directory.
    pub fn create(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Copies a file of the repository into the directory, keeping its relative path.
    pub fn copy(&self, relative: &str) -> PathBuf {
        let text = std::fs::read_to_string(repo().join(relative)).unwrap();
        self.create(relative, &text)
    }

    /// `canopy` with `args`, run in this directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_canopy"));
        cmd.args(args).current_dir(self.path());
        // Tests choose their email settings; none leak in from the environment.
        for var in settings() {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs `canopy args` with extra environment variables, checking its exit code.
    pub fn run_env(&self, args: &[&str], env: &[(&str, String)], expected_code: i32) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        run_command(&mut cmd, expected_code)
    }

    /// Runs `canopy args` and checks its exit code, returning its output.
    pub fn run(&self, args: &[&str], expected_code: i32) -> Run {
        let mut cmd = self.command(args);
        run_command(&mut cmd, expected_code)
    }
}

/// `canopy run` of the item-creation example for 2026-W47, in a [`item_creation`] directory:
/// four people get an email.
pub const ITEM_CREATION_RUN: &[&str] = &[
    "run",
    "trees/item-creation.yaml",
    "--data",
    "fixtures/data/item-creation.csv",
    "--period",
    "2026-W47",
];

/// A fresh directory holding the item-creation example tree and its data.
pub fn item_creation() -> Dir {
    let dir = Dir::new();
    dir.copy("trees/item-creation.yaml");
    dir.copy("fixtures/data/item-creation.csv");
    dir
}

/// The output of one run, as text.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd`, and if its exit code is not `expected_code` panics with the command, its
/// directory, stdout and stderr, so a failure explains itself.
pub fn run_command(cmd: &mut Command, expected_code: i32) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("canopy runs");
    let run = Run {
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    };
    if status.code() != Some(expected_code) {
        panic!(
            "\n\ncommand: {cmd:?}\ncwd: {}\nexpected exit code {expected_code}, got {status}\n\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            cmd.get_current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            run.stdout,
            run.stderr,
        );
    }
    run
}

/// The test PostgreSQL server's URL (`.ci/postgres.sh` starts one). Without it the test is
/// skipped and says so; under CI a skipped PostgreSQL test fails instead.
pub fn postgres_url() -> Option<String> {
    match std::env::var("CANOPY_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CANOPY_TEST_POSTGRES_URL is not set under CI: the PostgreSQL tests cannot be skipped")
        }
        Err(_) => {
            eprintln!("skipped: CANOPY_TEST_POSTGRES_URL is not set (eval \"$(.ci/postgres.sh)\")");
            None
        }
    }
}

/// The test ClickHouse server (`.ci/clickhouse.sh` starts one): its HTTP address and the
/// password of its `reader`. Without it the test is skipped and says so; under CI a skipped
/// ClickHouse test fails instead.
pub fn clickhouse() -> Option<(String, String)> {
    match std::env::var("CANOPY_TEST_CLICKHOUSE_HTTP") {
        Ok(http) => Some((
            http,
            std::env::var("CANOPY_TEST_CLICKHOUSE_PASSWORD").unwrap_or_default(),
        )),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CANOPY_TEST_CLICKHOUSE_HTTP is not set under CI: the ClickHouse tests cannot be skipped")
        }
        Err(_) => {
            eprintln!(
                "skipped: CANOPY_TEST_CLICKHOUSE_HTTP is not set (eval \"$(.ci/clickhouse.sh)\")"
            );
            None
        }
    }
}

/// Runs `sql` on the test ClickHouse at `http` as its `default` user (which may write).
pub fn clickhouse_run(http: &str, sql: &str) -> String {
    let mut response = ureq::post(http).send(sql).expect("ClickHouse answers");
    let body = response.body_mut().read_to_string().expect("a text answer");
    assert_eq!(response.status(), 200, "{sql}: {body}");
    body
}

/// A private CA and a certificate it signed for 127.0.0.1 (and no other name), as PEM files
/// in `folder` of `dir`.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certs(dir: &Dir, folder: &str) -> Certs {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Canopy test CA ({folder})"),
    );
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Certs {
        ca: dir.create(&format!("{folder}/ca.pem"), &ca.pem()),
        cert: dir.create(&format!("{folder}/server.crt"), &cert.pem()),
        key: dir.create(&format!("{folder}/server.key"), &key.serialize_pem()),
    }
}

/// Writes `NAME.yaml`, a tree of one SQL leaf `n` whose query is `sql`; returns its file name.
pub fn sql_tree(dir: &Dir, name: &str, sql: &str) -> String {
    let file = format!("{name}.yaml");
    dir.create(&file, &format!("tree: {name}\nroot: n\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  n:\n    source: {{ sql: \"{sql}\" }}\n"));
    file
}

/// The text part of `eml`, decoded, and its HTML part as the preview wrote it.
pub fn parts(dir: &Dir, name: &str) -> (String, String) {
    let preview = dir.path().join("preview");
    let eml = std::fs::read_to_string(preview.join(format!("{name}.eml"))).unwrap();
    let html = std::fs::read_to_string(preview.join(format!("{name}.html"))).unwrap();
    (text_part(&eml), html)
}

/// The text part of the email `eml`, decoded.
pub fn text_part(eml: &str) -> String {
    let text = eml.split("Content-Type: text/plain").nth(1).unwrap();
    let text = text.split("Content-Type: text/html").next().unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    let body = body.rsplit_once("\r\n--").map_or(body, |(b, _)| b);
    let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust).unwrap();
    String::from_utf8(decoded).unwrap().replace("\r\n", "\n")
}

/// `canopy run TREE --data DATA --period P --dry-run --preview preview` in `dir`.
pub fn preview(dir: &Dir, tree: &str, data: &str, period: &str) {
    let args = [
        "run",
        tree,
        "--data",
        data,
        "--period",
        period,
        "--dry-run",
        "--preview",
        "preview",
    ];
    dir.run(&args, 0);
}
