//! The one grammar of addresses Canopy sends to, and the limits that keep every header line
//! within RFC 5322's 998 octets. `canopy check` applies it through [`Sendable`]; composing and
//! delivering an email use the same functions, so whatever `check` accepts can be sent.

use canopy_engine::Mailboxes;
use lettre::message::Mailbox;
use lettre::{Address, Message};

/// The longest display name shown in an email, in characters; longer names are cut and end
/// with `…`. With encoded words this keeps a `To:` line well under 998 octets.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest subject, in characters; longer ones are cut and end with `…`.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Parses `text` as an address Canopy can send to: lettre's grammar, a domain with a dot (or
/// `localhost`), and accepted as the recipient of a message lettre builds.
pub fn parse_address(text: &str) -> Result<Address, String> {
    let address: Address = text
        .parse()
        .map_err(|e| format!("`{text}` is not an email address: {e}"))?;
    let domain = address.domain();
    if domain.starts_with('[') {
        return Err(format!(
            "`{text}` has an IP address as its domain, which Canopy does not send to"
        ));
    }
    if !domain.contains('.') && domain != "localhost" {
        return Err(format!("`{text}` has no domain with a dot"));
    }
    // The address must also survive being written into a message and read back as its
    // envelope, which refuses some forms the address grammar allows.
    let probe: Address = "canopy@localhost".parse().expect("a valid address");
    Message::builder()
        .from(Mailbox::new(None, probe))
        .to(Mailbox::new(None, address.clone()))
        .subject("")
        .body(String::new())
        .map_err(|e| format!("`{text}` cannot be the recipient of an email: {e}"))?;
    Ok(address)
}

/// Removes control characters (line breaks included), so that no user-provided text can end
/// a header line and start another.
pub fn strip_controls(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Cuts `text` to at most `max` characters, ending with `…` when it was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((end, _)) if text.chars().count() > max => format!("{}…", &text[..end]),
        _ => text.to_string(),
    }
}

/// A person's name as shown in an email's headers: without control characters, cut to
/// [`MAX_NAME_CHARS`].
pub fn display_name(name: &str) -> String {
    cut(&strip_controls(name), MAX_NAME_CHARS)
}

/// A subject as sent: without control characters, cut to [`MAX_SUBJECT_CHARS`].
pub fn fit_subject(subject: &str) -> String {
    cut(&strip_controls(subject), MAX_SUBJECT_CHARS)
}

/// The notifier's rules for people in tree files, for [`canopy_engine::load`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Sendable;

impl Mailboxes for Sendable {
    fn address_problem(&self, address: &str) -> Option<String> {
        parse_address(address).err()
    }

    fn name_problem(&self, name: &str) -> Option<String> {
        let shown = display_name(name);
        if shown == name {
            return None;
        }
        let n = name.chars().count();
        Some(if n > MAX_NAME_CHARS {
            format!(
                "this name is {n} characters long; emails show its first {} and `…`",
                MAX_NAME_CHARS - 1
            )
        } else {
            "this name has control characters (line breaks, tabs), which emails leave out"
                .to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(parse_address("maya@example.com").is_ok());
        assert!(parse_address("ops@localhost").is_ok());
        for bad in [
            "maya.example.com",
            "maya@example",
            "maya @example.com",
            "a@b.com\r\nBcc: x@y.com",
            "user@[127.0.0.1]",
            "\"quoted local\"@example.com",
        ] {
            let e = parse_address(bad).expect_err(bad);
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn names_and_subjects_are_cut_with_an_ellipsis() {
        assert_eq!(display_name("Maya\r\nBcc: x"), "MayaBcc: x");
        let long = "é".repeat(150);
        let shown = display_name(&long);
        assert_eq!(shown.chars().count(), MAX_NAME_CHARS);
        assert!(shown.ends_with("é…"));
        assert_eq!(
            display_name(&"a".repeat(MAX_NAME_CHARS)),
            "a".repeat(MAX_NAME_CHARS)
        );
        assert_eq!(
            fit_subject(&"s".repeat(500)).chars().count(),
            MAX_SUBJECT_CHARS
        );
        assert_eq!(Sendable.name_problem("Maya Chen"), None);
        assert!(Sendable
            .name_problem(&long)
            .unwrap()
            .contains("150 characters"));
        assert!(Sendable.name_problem("a\tb").unwrap().contains("control"));
    }
}
