//! The digest as an email: plain text and HTML alternatives of one letter, safe headers,
//! and a Message-ID that is the same every time the run is repeated.

use std::time::SystemTime;

use canopy_evaluator::Period;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};

use super::budget::{self, Shown, MAX_EMAIL_BYTES};
use super::{html, letter, subject, text, Digest};
use crate::address::{display_name, parse_address, strip_controls};
use crate::outbox::{Medium, StoredEmail};
use crate::Error;
use canopy_evaluator::Evaluation;

/// A stable Message-ID for (tree, period, recipient): repeated runs produce the same one, so
/// the outbox (and mail clients) see one message.
pub fn message_id(tree: &str, period: Period, recipient: &str, sender: &Address) -> String {
    // FNV-1a of the lower-cased address keeps the address itself out of the header.
    let hash = canopy_engine::stable_hash(recipient.to_lowercase().bytes());
    format!("<canopy.{tree}.{period}.{hash:016x}@{}>", sender.domain())
}

/// Builds the email of `digest` to `email` (the person's address), ready for the outbox.
pub fn compose(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    email: &str,
    sender: &Mailbox,
    date: SystemTime,
) -> Result<StoredEmail, Error> {
    let tree = eval.tree();
    let address = parse_address(email).map_err(Error::Address)?;
    let to = Mailbox::new(Some(display_name(&digest.person.name)), address.clone());
    let subject = subject(tree, period, digest);
    let message_id = message_id(tree.id(), period, email, &sender.email);
    let list_id = format!(
        "Canopy {} <{}.canopy.{}>",
        strip_controls(tree.id()),
        tree.id(),
        sender.email.domain()
    );
    let limit = format!("{} KB", MAX_EMAIL_BYTES / 1024);
    let build = |shown: Shown| {
        let letter = letter(eval, period, digest, (shown, &limit));
        Message::builder()
            .from(sender.clone())
            .to(to.clone())
            .subject(subject.clone())
            .date(date)
            .message_id(Some(message_id.clone()))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Id"),
                list_id.clone(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                text::render(&letter),
                html::render(&letter),
            ))
            .map_err(|e| Error::Address(format!("`{address}`: {e}")))
    };
    // A message that cannot be built fails the same way however much it shows.
    let shown = budget::fit(digest.all(), |shown| {
        build(shown).map_or(true, |m| m.formatted().len() <= MAX_EMAIL_BYTES)
    });
    let message = build(shown)?;
    Ok(StoredEmail {
        id: 0,
        message_id,
        tree: tree.id().to_string(),
        period,
        medium: Medium::Email,
        sender: sender.email.to_string(),
        recipient: address.to_string(),
        subject,
        body: message.formatted(),
        attempts: 0,
        last_error: None,
    })
}

/// The email of `digest`, or, when it cannot be composed, a record of that: an email with no
/// content that is stored as failed, naming the person, tree and address, so one bad address
/// does not stop anyone else's email.
pub fn compose_or_fail(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    email: &str,
    sender: &Mailbox,
    date: SystemTime,
) -> StoredEmail {
    compose(eval, period, digest, email, sender, date).unwrap_or_else(|e| {
        let (tree, person) = (eval.tree(), digest.person);
        StoredEmail {
            id: 0,
            message_id: message_id(tree.id(), period, email, &sender.email),
            tree: tree.id().to_string(),
            period,
            medium: Medium::Email,
            sender: sender.email.to_string(),
            recipient: email.to_string(),
            subject: subject(tree, period, digest),
            body: Vec::new(),
            attempts: 0,
            last_error: Some(format!(
                "cannot compose the email of tree `{}` to person `{}` <{email}>: {e}",
                tree.id(),
                person.id,
            )),
        }
    })
}
