//! Settings from the environment: one reader for every `CANOPY_*` variable, so that each is
//! parsed, defaulted and reported the same way.

use std::time::Duration;

use canopy_sources::Settings;

/// The value of `name`, if it is set to something other than blanks.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The whole number `name` holds, or `default` when it is unset.
pub(crate) fn number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            // A value pasted into the wrong variable may be a secret: shown redacted.
            let shown = canopy_engine::redact_password(&v);
            anyhow::anyhow!("{name}=`{shown}` is not a whole number")
        }),
    }
}

/// `CANOPY_SQL_TIMEOUT` (seconds a query may run, default 300) and `CANOPY_SQL_CONNECTIONS`
/// (connections used at once, default 4).
pub(crate) fn sql_settings() -> anyhow::Result<Settings> {
    let defaults = Settings::default();
    let connections: usize = number("CANOPY_SQL_CONNECTIONS", defaults.connections)?;
    if connections == 0 {
        anyhow::bail!("CANOPY_SQL_CONNECTIONS=0: at least one connection is needed");
    }
    // 0 would mean "no limit" to PostgreSQL and "give up at once" elsewhere: neither is what a
    // scheduled job wants, so it is refused rather than read two ways.
    let timeout = number("CANOPY_SQL_TIMEOUT", defaults.timeout.as_secs())?;
    if timeout == 0 {
        anyhow::bail!("CANOPY_SQL_TIMEOUT=0: a query needs a time limit\nhelp: give the seconds a query may run, at least 1 (default {})", defaults.timeout.as_secs());
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
    let Some(v) = var("CANOPY_REPORT_URL") else {
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
