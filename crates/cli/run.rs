//! `canopy run`: the scheduled job. For each tree: evaluate, detect moves, compose one digest
//! per person, record everything; then deliver the outbox.

use std::path::PathBuf;
use std::time::SystemTime;

use canopy_engine::Compare;
use canopy_evaluator::{evaluate, Period, Slice};
use canopy_notifier::{plan, Channel, EmailStatus, History, MoveReport, Pass};
use serde::Serialize;

use crate::args::{Format, RunArgs};
use crate::data::{self, PeriodArg};
use crate::mail::{self, Mail};
use crate::report;
use crate::trees::{self, Style};
use crate::Outcome;

#[derive(Serialize)]
struct EmailReport {
    /// The address, or the webhook as shown (without its secret).
    to: String,
    /// `email`, or `webhook` for a chat message.
    #[serde(rename = "channel")]
    medium: canopy_notifier::Medium,
    subject: String,
    /// The root's move in one sentence, when it moved.
    headline: Option<String>,
    status: Delivery,
    #[serde(skip)]
    message_id: String,
    /// Why it could not be composed, in this run.
    #[serde(skip)]
    unsendable: bool,
}

#[derive(Serialize)]
struct TreeReport {
    tree: String,
    period: String,
    /// The version of the tree's definition.
    definition: String,
    moves: Vec<MoveReport>,
    /// The metrics whose definitions changed since the last run.
    redefined: Vec<canopy_notifier::Redefinition>,
    emails: Vec<EmailReport>,
    /// The verdicts on registered changes this run told, as `canopy impact` prints them.
    verdicts: Vec<VerdictReport>,
}

/// A verdict told by a run: the assessment as `canopy impact` prints it, in its field order.
#[derive(Serialize)]
struct VerdictReport {
    #[serde(flatten)]
    assessment: canopy_present::ChangeJson,
    #[serde(skip)]
    story: String,
}

impl TreeReport {
    fn of(
        tree: &str,
        period: Period,
        planned: canopy_notifier::PlannedRun,
    ) -> anyhow::Result<TreeReport> {
        let emails = (planned.record.emails.iter())
            .map(|e| EmailReport::of(e, planned.headline.as_deref()))
            .collect();
        Ok(TreeReport {
            tree: tree.to_string(),
            period: period.to_string(),
            definition: planned.version,
            moves: planned.moves,
            redefined: planned.redefined,
            emails,
            verdicts: (planned.verdicts.into_iter())
                .map(|v| VerdictReport {
                    assessment: canopy_present::ChangeJson(v.assessment),
                    story: v.story,
                })
                .collect(),
        })
    }
}

/// The periods a run of `tree` for `p` reads: those its rules look back on (the anomaly
/// rule's `history`, and every rule the period before), and the history the verdicts due by
/// then need.
pub(crate) fn needed(
    tree: &canopy_engine::MetricTree,
    unjudged: &[&canopy_engine::Change],
    p: Period,
) -> Vec<Period> {
    let back = tree
        .ids()
        .map(|id| tree.metric(id).alerts.history)
        .max()
        .unwrap_or(0) as i32
        + 1;
    // A seasonal metric compares with the same period a year before.
    let seasonal = (tree.ids()).any(|id| tree.metric(id).alerts.compare == Compare::Year);
    let year = seasonal.then(|| p.year_before());
    let first = unjudged
        .iter()
        .filter(|c| c.window.last_evaluated(c.shipped) <= p)
        .map(|c| canopy_evaluator::impact::first_needed(c))
        .chain(year)
        .fold(p.offset(-back), Period::min);
    (0..=p.since(first)).map(|k| first.offset(k)).collect()
}

/// Writes the emails that could be composed into `dir`, to read before sending.
fn preview(dir: &std::path::Path, emails: &[canopy_notifier::StoredEmail]) -> anyhow::Result<()> {
    for email in emails.iter().filter(|e| e.last_error.is_none()) {
        canopy_notifier::preview(dir, email)
            .map_err(|e| anyhow::anyhow!("cannot write the preview into {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// The tree's changes that no run has judged yet.
fn unjudged<'t>(
    tree: &'t canopy_engine::MetricTree,
    history: &History,
) -> anyhow::Result<Vec<&'t canopy_engine::Change>> {
    let mut out = Vec::new();
    for change in tree.changes() {
        let judged = history
            .change(tree.id(), &change.id)?
            .and_then(|c| c.judged_in);
        if judged.is_none() {
            out.push(change);
        }
    }
    Ok(out)
}

pub(crate) fn run(request: &RunArgs, style: Style) -> anyhow::Result<Outcome> {
    let mut sources = data::Sources::start(&request.data.sources)?;
    let batch = trees::load_all(&request.trees, style);
    if !batch.all_valid {
        return Ok(Outcome::Failure);
    }
    let mail = Mail::from_env(&request.store)?;
    let report_url = crate::env::report_url()?;
    let mut history = open(request)?;
    let (now, date) = (chrono::Utc::now(), SystemTime::now());
    let mut reports = Vec::new();
    let mut ok = true;
    let mut run = Run {
        request,
        sources: &mut sources,
        history: &mut history,
        mail: &mail,
        now,
        date,
        style,
        report_url,
        failed: false,
    };
    for loaded in &batch.loaded {
        // One tree's failure (bad data, a bug) must not hold back the other trees' emails:
        // it is told, the run fails, and the rest goes on.
        match run.tree(&loaded.tree) {
            Ok(Some(report)) => reports.push(report),
            Ok(None) => ok = false,
            Err(e) => {
                eprintln!(
                    "error: nothing is sent for tree `{}`: {e:#}",
                    loaded.tree.id()
                );
                ok = false;
            }
        }
    }
    ok &= !run.failed;
    let pass = if request.dry_run {
        None
    } else {
        Some(mail.flush(&history)?)
    };
    for email in reports.iter_mut().flat_map(|r| r.emails.iter_mut()) {
        email.status = status(&history, pass.as_ref(), mail.channel(), &email.message_id)?;
    }
    let printed = match request.format {
        Format::Json if reports.len() == 1 => {
            outln!("{}", serde_json::to_string_pretty(&reports[0])?)
        }
        Format::Json => outln!("{}", serde_json::to_string_pretty(&reports)?),
        Format::Table => out!("{}", render(&reports, request.dry_run)),
    };
    // A reader that stopped reading must not hide a failed delivery, reported below.
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    if let Some(pass) = &pass {
        ok &= mail::report_pass(&mail, pass);
        ok &= report_earlier(&reports, pass);
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// What every tree of a run shares.
struct Run<'r> {
    request: &'r RunArgs,
    sources: &'r mut data::Sources,
    history: &'r mut History,
    mail: &'r Mail,
    now: chrono::DateTime<chrono::Utc>,
    date: SystemTime,
    style: Style,
    /// `CANOPY_REPORT_URL`, which emails link to.
    report_url: Option<String>,
    /// A tree's report page could not be written (its emails still go).
    failed: bool,
}

impl Run<'_> {
    /// Runs one tree: its report, or `None` when it was told why there is none. A panic (a
    /// bug) is caught here so that it stops this tree only; what the tree had begun to
    /// write is rolled back with its transaction.
    fn tree(&mut self, tree: &canopy_engine::MetricTree) -> anyhow::Result<Option<TreeReport>> {
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.tree_inner(tree)));
        caught.unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "an internal error stopped it (a bug in canopy, described above: please report it)"
            ))
        })
    }

    fn tree_inner(
        &mut self,
        whole: &canopy_engine::MetricTree,
    ) -> anyhow::Result<Option<TreeReport>> {
        let request = self.request;
        let slice = Slice(request.slice.conditions.clone());
        let sliced = (!slice.is_empty()).then(|| whole.for_slice(slice.tree_id(whole.id())));
        let tree = sliced.as_ref().unwrap_or(whole);
        let arg = PeriodArg::parse(&request.period, tree.grain())?;
        let unjudged = unjudged(tree, self.history)?;
        // Rows are read for the tree as written (a data file's `tree` column names it).
        let loaded_data = data::load(whole, self.sources, self.style, |last| {
            let p = data::resolve(&arg, last, tree.grain())?;
            Ok(needed(tree, &unjudged, p))
        })?;
        let Some((data, periods)) = loaded_data else {
            return Ok(None);
        };
        let data = data::sliced(data, &slice.0, &request.data.sources)?;
        let period = *periods.last().expect("at least the period itself");
        let eval = evaluate(tree, &data);
        // The evaluation holds every value now: the leaves' layout is no longer needed.
        drop(data);
        // Without the root there is nothing to report, and summaries of "no value" would
        // hide a broken data pipeline: fail loudly instead, and send nothing for this tree.
        if let Err(cell) = eval.total(tree.root(), period) {
            let why = eval.reason(tree.root(), period, cell);
            eprintln!("error: tree `{}` has no value for its root in {period} ({why}); nothing is sent for it", tree.id());
            return Ok(None);
        }
        let url = report::url(self.report_url.as_deref(), tree.id(), period);
        let planned = plan(
            &eval,
            period,
            self.history,
            &self.mail.sender,
            self.date,
            url.as_deref(),
        )?;
        if !request.dry_run {
            self.history.record_run(&planned.record, self.now)?;
            // A page that cannot be written must not hold back the emails: said, and failed.
            if let Err(e) = report::write(&report_dir(request), &eval, period, &planned) {
                eprintln!("error: {e:#}");
                self.failed = true;
            }
        }
        if let Some(dir) = request.preview.as_deref() {
            preview(dir, &planned.record.emails)?;
        }
        TreeReport::of(tree.id(), period, planned).map(Some)
    }
}

/// Where the HTML reports go: `--report`, or `report` beside the outbox folder.
fn report_dir(request: &RunArgs) -> PathBuf {
    request.report.as_deref().map_or_else(
        || {
            let outbox = &request.store.outbox;
            outbox
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("report")
        },
        std::path::Path::to_path_buf,
    )
}

/// The history: for a dry run, read only (so it decides as the real one would, writing
/// nothing), or in memory when there is none yet.
fn open(request: &RunArgs) -> anyhow::Result<History> {
    let db = &request.store.db;
    Ok(match (request.dry_run, db.exists()) {
        (true, true) => History::open_read_only(db)?,
        (true, false) => History::in_memory()?,
        (false, _) => mail::open_history(&request.store.db)?,
    })
}

impl EmailReport {
    /// The report of an email this run planned; one that could not be composed says why now.
    fn of(e: &canopy_notifier::StoredEmail, headline: Option<&str>) -> EmailReport {
        if let Some(why) = &e.last_error {
            eprintln!("error: {why}");
        }
        EmailReport {
            to: e.shown_recipient(),
            medium: e.medium,
            subject: e.subject.clone(),
            headline: headline.map(str::to_string),
            status: Delivery::WouldSend,
            message_id: e.message_id.clone(),
            unsendable: e.last_error.is_some(),
        }
    }
}

/// Tells of this run's emails that an earlier pass could not deliver (refused, or handed over
/// without an answer): the run is not done while they are not. True when there are none.
fn report_earlier(reports: &[TreeReport], pass: &Pass) -> bool {
    let tried: Vec<&str> = (pass.failed.iter().chain(&pass.uncertain))
        .map(|u| u.message_id.as_str())
        .collect();
    let mut ok = true;
    for email in reports.iter().flat_map(|r| &r.emails) {
        let earlier = email.status.stuck()
            && !email.unsendable
            && !tried.contains(&email.message_id.as_str());
        if earlier {
            eprintln!(
                "error: the {} to {} (\"{}\") is {} since an earlier run; `canopy outbox status` says why, `canopy outbox retry` sends it again",
                email.medium.noun(),
                email.to,
                email.subject,
                email.status.as_str()
            );
        }
        ok &= email.status.settled();
    }
    ok
}

/// Where an email stands after the run, as the run's table and JSON say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// A dry run: nothing was sent.
    WouldSend,
    /// Accepted by the SMTP server or a chat webhook in this run.
    Sent,
    /// Written to the outbox folder in this run.
    Written,
    /// Sent by an earlier run.
    AlreadySent,
    /// Written to the outbox folder by an earlier run.
    AlreadyWritten,
    /// Where an earlier run left it, in the outbox's own words.
    Stored(EmailStatus),
    /// Not in the outbox (it could not be stored).
    Missing,
}

impl Delivery {
    /// The one name of each, for the table and the JSON.
    fn as_str(self) -> &'static str {
        match self {
            Delivery::WouldSend => "would send",
            Delivery::Sent => "sent",
            Delivery::Written => "written",
            Delivery::AlreadySent => "already sent",
            Delivery::AlreadyWritten => "already written",
            Delivery::Stored(status) => status.name(),
            Delivery::Missing => EmailStatus::Pending.name(),
        }
    }

    /// Refused, or handed over without an answer: someone should look.
    fn stuck(self) -> bool {
        matches!(
            self,
            Delivery::Stored(EmailStatus::Failed | EmailStatus::Uncertain)
        )
    }

    /// Delivered, now or before, or given up on by someone: nothing left to do.
    fn settled(self) -> bool {
        matches!(
            self,
            Delivery::Sent
                | Delivery::Written
                | Delivery::AlreadySent
                | Delivery::AlreadyWritten
                | Delivery::Stored(EmailStatus::Sent | EmailStatus::Discarded)
        )
    }
}

impl Serialize for Delivery {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An email's status after the run: what this run's delivery did with it, or, for an email an
/// earlier run already handled, where it stands.
fn status(
    history: &History,
    pass: Option<&Pass>,
    channel: Channel,
    message_id: &str,
) -> anyhow::Result<Delivery> {
    let Some(pass) = pass else {
        return Ok(Delivery::WouldSend);
    };
    if pass.posted.iter().any(|m| m == message_id) {
        return Ok(Delivery::Sent);
    }
    if pass.sent.iter().any(|m| m == message_id) {
        return Ok(match channel {
            Channel::Smtp | Channel::Webhook => Delivery::Sent,
            Channel::Folder => Delivery::Written,
        });
    }
    Ok(match history.email_status(message_id)? {
        Some((EmailStatus::Sent, Some(Channel::Folder))) => Delivery::AlreadyWritten,
        Some((EmailStatus::Sent, _)) => Delivery::AlreadySent,
        Some((status, _)) => Delivery::Stored(status),
        None => Delivery::Missing,
    })
}

fn render(reports: &[TreeReport], dry_run: bool) -> String {
    let mut out = String::new();
    for r in reports {
        out += &format!(
            "{} {}: {} moved{} (definition {})\n",
            r.tree,
            r.period,
            crate::table::plural(r.moves.len(), "metric"),
            if dry_run { " (dry run)" } else { "" },
            r.definition
        );
        let rows: Vec<Vec<String>> = r
            .moves
            .iter()
            .map(|m| {
                vec![
                    format!("  {}", m.metric),
                    m.rules.join(", "),
                    m.recipient.clone(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            out += &crate::table::render(&["  metric", "rules", "accountable"], &rows, &[1, 2]);
        }
        let rows: Vec<Vec<String>> = r
            .emails
            .iter()
            .map(|e| {
                vec![
                    format!("  {}", e.to),
                    e.subject.clone(),
                    e.status.as_str().to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            out += &crate::table::render(&["  email to", "subject", "status"], &rows, &[1, 2]);
        }
        for d in &r.redefined {
            out += &format!("  definition changed: {} ({})\n", d.metric, d.versions());
            for line in d.lines() {
                out += &format!("    {line}\n");
            }
        }
        for v in &r.verdicts {
            out += &format!("  {}\n", v.story);
        }
        out.push('\n');
    }
    out
}
