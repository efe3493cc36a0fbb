//! `canopy check`: validate tree files, and with `--connections` try their connections.

use std::path::PathBuf;

use crate::trees::{self, Style};
use crate::Outcome;

pub(crate) fn run(paths: &[PathBuf], connections: bool, style: Style) -> anyhow::Result<Outcome> {
    let batch = trees::load_all(paths, style);
    for l in &batch.loaded {
        let t = &l.tree;
        // A variable not set here is a warning: trees are often checked where no secret is.
        style.print(&crate::connections::unset(t), &l.sources);
        outln!(
            "{}: ok (tree `{}`, {} metrics)",
            t.path().display(),
            t.id(),
            t.len()
        )?;
    }
    let mut ok = batch.all_valid;
    if connections {
        let settings = crate::env::sql_settings()?;
        for l in &batch.loaded {
            ok &= crate::connections::probe_all(&l.tree, settings.timeout)?;
        }
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
