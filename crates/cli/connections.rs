//! A tree's named connections as the binary meets them: their settings read from the
//! environment (the one place that does), the variables `check` finds unset, and
//! `check --connections`, which tries each with a trivial read-only request.

use canopy_engine::{Connection, Diagnostic, MetricId, MetricTree, Setting};
use canopy_sources::{Database, Stage};

/// The environment variables `connection` reads.
fn variables(connection: &Connection) -> Vec<&str> {
    let settings = [Some(&connection.url), connection.user.as_ref()];
    let named = settings.into_iter().flatten().filter_map(|s| match s {
        Setting::Env(name) => Some(name.as_str()),
        Setting::Text(_) => None,
    });
    named
        .chain(connection.secret.as_ref().map(|(_, name)| name.as_str()))
        .collect()
}

/// A warning at each connection that reads a variable not set here: a run would fail on it.
pub(crate) fn unset(tree: &MetricTree) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for connection in tree.connections().values() {
        let missing: Vec<&str> = (variables(connection).into_iter())
            .filter(|name| crate::env::var(name).is_none())
            .collect();
        if !missing.is_empty() {
            out.push(
                Diagnostic::warning(
                    connection.location.clone(),
                    format!("connection `{}` reads {}, not set here", connection.name, missing.join(", ")),
                )
                .with_help("set it where canopy runs; `canopy check --connections` then tries the connection"),
            );
        }
    }
    canopy_engine::sort_diagnostics(&mut out);
    out
}

/// The database of a tree's named connection, its settings read from the environment now.
/// A missing variable, or a URL from the environment of a kind that does not speak its
/// leaves' language, is an error naming the connection and where it is written.
pub(crate) fn open(
    tree: &MetricTree,
    connection: &canopy_engine::Connection,
    leaves: &[(MetricId, &str)],
) -> anyhow::Result<Database> {
    let var = |name: &str| crate::env::var(name);
    let place = &connection.location;
    let failed = |why: String| {
        anyhow::anyhow!("connection `{}` ({}:{}:{}): {why}\nhelp: set the variables the connection names where canopy runs", connection.name, place.path.display(), place.span.line, place.span.col)
    };
    let url = connection.url.resolve(var).map_err(failed)?;
    let Some(kind) = canopy_engine::ConnectionKind::of(&url) else {
        let shown = canopy_engine::redact_password(&url);
        return Err(failed(format!(
            "{} holds `{shown}`, which is not a connection URL Canopy reads",
            connection.url.shown()
        )));
    };
    for (id, _) in leaves {
        let source = tree
            .metric(*id)
            .source
            .as_ref()
            .expect("a leaf with a query");
        if source.language != kind.language() {
            return Err(failed(format!(
                "it is a {} connection, which reads `{}:`, but `{}` gives `{}:`",
                kind.name(),
                kind.language().key(),
                tree.metric(*id).id,
                source.language.key()
            )));
        }
    }
    let user = connection
        .user
        .as_ref()
        .map(|u| u.resolve(var))
        .transpose()
        .map_err(failed)?;
    let secret = (connection.secret.as_ref())
        .map(|(_, name)| canopy_engine::Setting::Env(name.clone()).resolve(var))
        .transpose()
        .map_err(failed)?;
    let credentials = canopy_sources::Credentials { user, secret };
    Ok(Database::open_with(&url, &credentials)?.named(&connection.name))
}

/// Tries each connection of `tree` once, printing a line per connection: reached,
/// authenticated and permitted, or how far it got and the server's words. True when all
/// three held for every one.
pub(crate) fn probe_all(tree: &MetricTree, timeout: std::time::Duration) -> anyhow::Result<bool> {
    let mut ok = true;
    for connection in tree.connections().values() {
        let leaves: Vec<(MetricId, &str)> = Vec::new();
        let outcome = open(tree, connection, &leaves)
            .map_err(|e| (None, format!("{e:#}")))
            .and_then(|db| db.probe(timeout).map_err(|(stage, e)| (Some(stage), e)));
        let said = match outcome {
            Ok(()) => "reached, authenticated, permitted to read".to_string(),
            Err((stage, why)) => {
                ok = false;
                let how_far = match stage {
                    None => "not tried",
                    Some(Stage::Reach) => "not reached",
                    Some(Stage::Authenticate) => "reached, not authenticated",
                    Some(Stage::Permit) => "reached and authenticated, not permitted to read",
                };
                format!("{how_far}: {why}")
            }
        };
        outln!("{} connection `{}`: {said}", tree.id(), connection.name)?;
    }
    Ok(ok)
}
