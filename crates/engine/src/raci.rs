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

/// Checks an email address the way mail servers will: a local part, `@`, and a domain.
pub(crate) fn email_error(address: &str) -> Option<String> {
    match address.parse::<email_address::EmailAddress>() {
        Ok(parsed) if parsed.domain().contains('.') || parsed.domain() == "localhost" => None,
        Ok(_) => Some(format!("`{address}` has no domain with a dot")),
        Err(e) => Some(format!("`{address}` is not an email address: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::email_error;

    #[test]
    fn emails() {
        assert_eq!(email_error("maya@example.com"), None);
        assert_eq!(email_error("ops@localhost"), None);
        assert!(email_error("maya.example.com").is_some());
        assert!(email_error("maya@example").is_some());
        assert!(email_error("maya @example.com").is_some());
        assert!(email_error("a@b.com\r\nBcc: x@y.com").is_some());
    }
}
