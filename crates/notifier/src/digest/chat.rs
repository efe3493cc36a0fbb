//! Chat messages: a digest posted to a Slack-compatible incoming webhook, as JSON
//! `{"text": ...}` holding what the email's text part says, under its subject in bold.

use canopy_engine::Webhook;
use canopy_evaluator::{Evaluation, Period};
use lettre::message::Mailbox;

use super::budget;
use super::{letter, message_id, subject, text, Digest};
use crate::outbox::{Medium, StoredEmail};

/// The most characters a message's text holds (Slack's limit is 40,000); a longer digest is
/// cut, and says so.
pub const MAX_CHAT_CHARS: usize = 39_000;

/// The chat message of `digest` for the webhook `hook`, ready for the outbox. Its id is
/// stable per (tree, period, webhook), as an email's Message-ID is per address.
pub fn compose_chat(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    hook: &Webhook,
    sender: &Mailbox,
) -> StoredEmail {
    let tree = eval.tree();
    let subject = subject(tree, period, digest);
    let reference = hook.reference();
    let limit = format!("{MAX_CHAT_CHARS} characters");
    let body = |shown| {
        format!(
            "*{}*\n\n{}",
            escape(&subject),
            escape(&text::render(&letter(
                eval,
                period,
                digest,
                (shown, &limit)
            )))
        )
    };
    // The same cuts as an email's, to the chat's own limit; a message that is still too long
    // (a long verdict, say) is cut at the limit.
    let shown = budget::fit(digest.all(), |s| body(s).chars().count() <= MAX_CHAT_CHARS);
    let mut body = body(shown);
    if body.chars().count() > MAX_CHAT_CHARS {
        body = body.chars().take(MAX_CHAT_CHARS).collect();
        body += "\n… (cut here: the message was too long for chat)";
    }
    let payload = serde_json::json!({ "text": body });
    StoredEmail {
        id: 0,
        message_id: message_id(
            tree.id(),
            period,
            &format!("webhook {reference}"),
            &sender.email,
        ),
        tree: tree.id().to_string(),
        period,
        medium: Medium::Webhook,
        sender: sender.email.to_string(),
        recipient: reference,
        subject,
        body: payload.to_string().into_bytes(),
        attempts: 0,
        last_error: None,
    }
}

/// Slack's escaping of message text: `&`, `<` and `>` only.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
