//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Metric trees with RACI ownership: validate, evaluate, explain, notify.
#[derive(Debug, Parser)]
#[command(name = "canopy", version, about, max_term_width = 100)]
pub(crate) struct Args {
    /// When to quote the source line under each diagnostic.
    #[arg(long, global = true, value_enum, default_value_t = When::Auto)]
    pub(crate) snippets: When,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate tree files; every problem is printed as path:line:col on stderr.
    Check {
        /// Tree files to check.
        #[arg(required = true, value_name = "TREE")]
        trees: Vec<PathBuf>,
    },
    /// Draw a tree as Mermaid or Graphviz text.
    Render {
        /// The tree file.
        tree: PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        format: RenderFormat,
    },
    /// Print the JSON Schema of the tree file, for editors.
    Schema,
}

/// When to do something that suits a terminal.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum When {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// What `canopy render` draws.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RenderFormat {
    /// A Mermaid flowchart, for Markdown on GitHub and GitLab and for wikis.
    Mermaid,
    /// A Graphviz digraph, for `dot -Tsvg`.
    Dot,
}
