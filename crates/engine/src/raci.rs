//! RACI: who is Responsible, Accountable, Consulted and Informed for a metric, and the people
//! those roles name.

/// Someone who can own or follow a metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The key the tree refers to this person by.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address, validated.
    pub email: String,
}

/// A metric's RACI assignment, resolved: exactly one accountable person, every id a known
/// person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raci {
    /// Who does the work that moves the metric.
    pub responsible: Vec<String>,
    /// The one person who answers for the metric and is notified when it moves.
    pub accountable: String,
    /// Who is asked before decisions.
    pub consulted: Vec<String>,
    /// Who receives a summary.
    pub informed: Vec<String>,
}

/// What can receive email: the rules for people's addresses and display names. The engine
/// knows nothing of email, so the crate that sends it supplies these rules, and `check`
/// accepts exactly what a run can deliver.
pub trait Mailboxes {
    /// Why `address` cannot receive email, or `None` when it can.
    fn address_problem(&self, address: &str) -> Option<String>;
    /// Why the display name `name` will not be shown as written (a warning), or `None`.
    fn name_problem(&self, name: &str) -> Option<String>;
}
