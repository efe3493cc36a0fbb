//! `canopy render`: draw a tree.

use std::path::Path;

use crate::args::RenderFormat;
use crate::trees::{self, Style};
use crate::Outcome;

pub(crate) fn run(path: &Path, format: RenderFormat, style: Style) -> anyhow::Result<Outcome> {
    let Some(loaded) = trees::load(path, style)? else {
        return Ok(Outcome::Failure);
    };
    let text = match format {
        RenderFormat::Mermaid => canopy_engine::mermaid(&loaded.tree),
        RenderFormat::Dot => canopy_engine::dot(&loaded.tree),
    };
    out!("{text}")?;
    Ok(Outcome::Success)
}
