//! Settings from the environment: every `CANOPY_*` variable is in [`SETTINGS`], with its
//! default and what it sets (`canopy --help` lists them from there), and is read here, by one
//! reader, so that each is parsed, defaulted and reported the same way.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use canopy_notifier::{Mailbox, Retry, SmtpSettings};
use canopy_sources::Settings;

/// A `CANOPY_*` setting: its name, its default, and what it sets.
pub(crate) struct Setting {
    pub(crate) name: &'static str,
    pub(crate) default: Default,
    pub(crate) help: &'static str,
}

/// What a setting is when it is not set.
pub(crate) enum Default {
    /// A whole number.
    Number(u64),
    /// A text.
    Text(&'static str),
    /// What being unset means, in words.
    Unset(&'static str),
}

/// Every setting Canopy reads from the environment.
pub(crate) const SETTINGS: &[Setting] = &[
    Setting { name: "CANOPY_SMTP_URL", default: Default::Unset("emails are written to the outbox folder"), help: "the SMTP server, in lettre's URL form: smtp://user:pass@host:587?tls=required (STARTTLS), smtps://user:pass@host:465 (implicit TLS), smtp://host:25" },
    Setting { name: "CANOPY_FROM", default: Default::Text("Canopy <canopy@localhost>"), help: "the sender, e.g. `Canopy <canopy@example.com>`; its domain names Message-IDs and List-Id" },
    Setting { name: "CANOPY_SMTP_CA", default: Default::Unset("the system's roots only"), help: "a PEM file of extra trusted roots (a company's private CA)" },
    Setting { name: "CANOPY_SMTP_TIMEOUT", default: Default::Number(30), help: "seconds to wait on the SMTP server" },
    Setting { name: "CANOPY_SMTP_ATTEMPTS", default: Default::Number(3), help: "attempts per email (and chat message) per pass" },
    Setting { name: "CANOPY_SMTP_RETRY_MS", default: Default::Number(2000), help: "milliseconds before the second attempt, doubling after" },
    Setting { name: "CANOPY_SMTP_UNCERTAIN_AFTER", default: Default::Number(3600), help: "seconds before an unacknowledged email is sent again" },
    Setting { name: "CANOPY_WEBHOOK_TIMEOUT", default: Default::Number(10), help: "seconds to wait on a chat webhook's answer" },
    Setting { name: "CANOPY_LOCK_WAIT", default: Default::Number(600), help: "seconds to wait for another run or flush on the same database (0: fail at once)" },
    Setting { name: "CANOPY_SQL_TIMEOUT", default: Default::Number(300), help: "seconds a query may run before it is cancelled (at least 1)" },
    Setting { name: "CANOPY_SQL_CONNECTIONS", default: Default::Number(4), help: "queries run at once on one database or service" },
    Setting { name: "CANOPY_REPORT_URL", default: Default::Unset("emails carry no link"), help: "the http(s) address the report folder is served at, which emails link to" },
];

/// The settings as a help section, for `canopy --help`.
pub(crate) fn help() -> String {
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::from("Settings (environment variables):\n");
    for s in SETTINGS {
        let default = match s.default {
            Default::Number(n) => format!("default {n}"),
            Default::Text(text) => format!("default {text}"),
            Default::Unset(means) => format!("unset: {means}"),
        };
        out += &format!("  {:width$}  {} [{default}]\n", s.name, s.help);
    }
    out.trim_end().to_string()
}

/// The value of `name`, if it is set to something other than blanks.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The setting `name` of [`SETTINGS`].
fn setting(name: &str) -> &'static Setting {
    (SETTINGS.iter().find(|s| s.name == name))
        .unwrap_or_else(|| panic!("{name} is not in SETTINGS"))
}

/// The whole number the setting `name` holds, or its default when it is unset.
fn number<T: std::str::FromStr + TryFrom<u64>>(name: &str) -> anyhow::Result<T> {
    let Default::Number(default) = setting(name).default else {
        panic!("{name} is not a number setting")
    };
    let invalid = |v: &str| {
        // A value pasted into the wrong variable may be a secret: shown redacted.
        let shown = canopy_engine::redact_password(v);
        anyhow::anyhow!("{name}=`{shown}` is not a whole number")
    };
    match var(name) {
        None => T::try_from(default).map_err(|_| invalid(&default.to_string())),
        Some(v) => v.trim().parse().map_err(|_| invalid(&v)),
    }
}

/// The text the setting `name` holds, or its default; `None` when it has neither.
fn text(name: &str) -> Option<String> {
    match setting(name).default {
        Default::Text(default) => Some(var(name).unwrap_or_else(|| default.to_string())),
        _ => var(name),
    }
}

/// The sender of every email: `CANOPY_FROM`, or `Canopy <canopy@localhost>`.
pub(crate) fn sender() -> anyhow::Result<Mailbox> {
    let from = text("CANOPY_FROM").expect("CANOPY_FROM has a default");
    from.parse().with_context(|| {
        format!(
            "CANOPY_FROM=`{}` is not an address like `Canopy <canopy@example.com>`",
            canopy_engine::redact_password(&from)
        )
    })
}

/// `CANOPY_WEBHOOK_TIMEOUT`: how long to wait on a chat webhook's answer.
pub(crate) fn webhook_timeout() -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(number("CANOPY_WEBHOOK_TIMEOUT")?))
}

/// `CANOPY_LOCK_WAIT`: how long to wait for another run or flush on the same history
/// database (zero: fail at once).
pub(crate) fn lock_wait() -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(number("CANOPY_LOCK_WAIT")?))
}

/// The retries of the outbox: `CANOPY_SMTP_ATTEMPTS`, `CANOPY_SMTP_RETRY_MS` and
/// `CANOPY_SMTP_UNCERTAIN_AFTER`, for emails and chat messages alike.
pub(crate) fn retry() -> anyhow::Result<Retry> {
    Ok(Retry {
        attempts: number("CANOPY_SMTP_ATTEMPTS")?,
        first_delay: Duration::from_millis(number("CANOPY_SMTP_RETRY_MS")?),
        uncertain_after: Duration::from_secs(number("CANOPY_SMTP_UNCERTAIN_AFTER")?),
    })
}

/// The SMTP server, when `CANOPY_SMTP_URL` is set, with `CANOPY_SMTP_CA` and
/// `CANOPY_SMTP_TIMEOUT`.
pub(crate) fn smtp() -> anyhow::Result<Option<SmtpSettings>> {
    let Some(url) = text("CANOPY_SMTP_URL") else {
        return Ok(None);
    };
    Ok(Some(SmtpSettings {
        url,
        ca_file: text("CANOPY_SMTP_CA").map(PathBuf::from),
        timeout: Duration::from_secs(number("CANOPY_SMTP_TIMEOUT")?),
    }))
}

/// `CANOPY_SQL_TIMEOUT` (seconds a query may run, default 300) and `CANOPY_SQL_CONNECTIONS`
/// (connections used at once, default 4).
pub(crate) fn sql_settings() -> anyhow::Result<Settings> {
    let connections: usize = number("CANOPY_SQL_CONNECTIONS")?;
    if connections == 0 {
        anyhow::bail!("CANOPY_SQL_CONNECTIONS=0: at least one connection is needed");
    }
    // 0 would mean "no limit" to PostgreSQL and "give up at once" elsewhere: neither is what a
    // scheduled job wants, so it is refused rather than read two ways.
    let timeout: u64 = number("CANOPY_SQL_TIMEOUT")?;
    if timeout == 0 {
        anyhow::bail!("CANOPY_SQL_TIMEOUT=0: a query needs a time limit\nhelp: give the seconds a query may run, at least 1 (default {})", Settings::default().timeout.as_secs());
    }
    Ok(Settings {
        timeout: Duration::from_secs(timeout),
        connections,
    })
}

/// `CANOPY_REPORT_URL`: where the report folder is served, without a trailing slash; `None`
/// when unset or blank. Emails link to it, so only an `http` or `https` address without
/// credentials is taken: a `javascript:` link or a password would reach every recipient.
pub(crate) fn report_url() -> anyhow::Result<Option<String>> {
    let Some(v) = text("CANOPY_REPORT_URL") else {
        return Ok(None);
    };
    let base = v.trim().trim_end_matches('/').to_string();
    let shown = canopy_engine::redact_password(&base);
    let help = "help: give the address the report folder is served at, e.g. https://reports.example.com/canopy";
    match url::Url::parse(&base) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() => {
            anyhow::bail!("CANOPY_REPORT_URL `{shown}` is not an http or https address\n{help}")
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => anyhow::bail!(
            "CANOPY_REPORT_URL `{shown}` carries credentials, which every email would show\n{help}"
        ),
        Ok(_) => Ok(Some(base)),
        Err(e) => anyhow::bail!("CANOPY_REPORT_URL `{shown}` is not an address: {e}\n{help}"),
    }
}

/// Who is running Canopy, by login name (`USER`, else `LOGNAME`): who a snooze says snoozed.
pub(crate) fn login() -> Option<String> {
    var("USER").or_else(|| var("LOGNAME"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's defaults are the ones the libraries use.
    #[test]
    fn defaults_agree_with_the_libraries() {
        let number = |name: &str| match setting(name).default {
            Default::Number(n) => n,
            _ => panic!("{name}"),
        };
        let sql = Settings::default();
        assert_eq!(number("CANOPY_SQL_TIMEOUT"), sql.timeout.as_secs());
        assert_eq!(number("CANOPY_SQL_CONNECTIONS"), sql.connections as u64);
        let retry = Retry::default();
        assert_eq!(number("CANOPY_SMTP_ATTEMPTS"), u64::from(retry.attempts));
        assert_eq!(
            number("CANOPY_SMTP_RETRY_MS"),
            retry.first_delay.as_millis() as u64
        );
        assert_eq!(
            number("CANOPY_SMTP_UNCERTAIN_AFTER"),
            retry.uncertain_after.as_secs()
        );
    }
}
