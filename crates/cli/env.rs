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
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}=`{v}` is not a whole number")),
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
    Ok(Settings {
        timeout: Duration::from_secs(number("CANOPY_SQL_TIMEOUT", defaults.timeout.as_secs())?),
        connections,
    })
}

/// `CANOPY_REPORT_URL`: where the report folder is served, without a trailing slash; `None`
/// when unset or blank.
pub(crate) fn report_url() -> Option<String> {
    var("CANOPY_REPORT_URL").map(|v| v.trim().trim_end_matches('/').to_string())
}
