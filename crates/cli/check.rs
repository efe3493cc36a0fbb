//! `canopy check`: validate tree files.

use std::path::PathBuf;

use crate::trees::{self, Style};
use crate::Outcome;

pub(crate) fn run(paths: &[PathBuf], style: Style) -> anyhow::Result<Outcome> {
    let batch = trees::load_all(paths, style);
    for l in &batch.loaded {
        let t = &l.tree;
        outln!(
            "{}: ok (tree `{}`, {} metrics)",
            t.path().display(),
            t.id(),
            t.len()
        )?;
    }
    Ok(if batch.all_valid {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
