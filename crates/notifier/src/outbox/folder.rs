//! Emails as files: the outbox folder used when no SMTP server is configured, and the preview
//! of a dry run.
//!
//! Each message gets a name of its own: the recipient is escaped, not replaced, so two
//! addresses never share a file, and a chat message's name carries a hash of its whole
//! webhook, so two webhooks on one host do not either. A file is never overwritten by another
//! message: a name that is taken by a different message is an error, while the same message
//! written again (a retry, or a preview made twice) replaces its own file.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{Channel, Deliver, Failure, FailureKind, HandOver, Medium, StoredEmail};

/// A folder of `.eml` files: the default when no SMTP server is configured.
pub struct Folder {
    dir: PathBuf,
}

impl Folder {
    /// Emails will be written into `dir`, created if needed.
    pub fn new(dir: &Path) -> Folder {
        Folder {
            dir: dir.to_path_buf(),
        }
    }

    /// The file an email is written to: named by tree, period and recipient, so a repeated
    /// run writes the same file, and two recipients never share one. A chat message is its
    /// JSON, named by its webhook as shown (never by its URL's secret path) and a short hash
    /// of the whole webhook.
    pub fn file_name(email: &StoredEmail) -> String {
        let (who, extension) = match email.medium {
            Medium::Email => (escape(&email.recipient), "eml"),
            Medium::Webhook => {
                let hash = canopy_engine::stable_hash(email.recipient.bytes());
                let shown = email.shown_recipient().replace(|c| !kept(c), "_");
                (format!("{shown}-{:08x}", hash as u32), "json")
            }
        };
        format!(
            "{}-{}-{who}.{extension}",
            escape(&email.tree),
            escape(&email.period.to_string())
        )
    }
}

/// Whether `c` stands for itself in a file name; every other character is escaped.
fn kept(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.+@".contains(c)
}

/// `text` with every character that is not [`kept`] written as `%` and the hex of its UTF-8
/// bytes (`%` itself included), so different texts always give different names.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if kept(c) {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out += &format!("%{b:02X}");
            }
        }
    }
    out
}

/// Writes `email`'s content to `path` whole: into a partial file first, so a reader never
/// sees half a message, then under its name unless that name holds another message. A name
/// taken by another message fails with `AlreadyExists`, and nothing is overwritten.
fn write_own(path: &Path, email: &StoredEmail) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, &email.body)?;
    // A hard link creates the name only if it is free, with the whole content at once.
    let placed = match std::fs::hard_link(&partial, path) {
        Ok(()) => std::fs::remove_file(&partial),
        Err(e) if e.kind() == ErrorKind::AlreadyExists || path.exists() => {
            if holds(path, email) {
                std::fs::rename(&partial, path)
            } else {
                Err(std::io::Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{} holds another message; nothing was overwritten",
                        path.display()
                    ),
                ))
            }
        }
        // A file system without hard links: the name is free, so a rename claims it.
        Err(_) => std::fs::rename(&partial, path),
    };
    if placed.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    placed
}

/// Whether the file at `path` is `email`, as written before. An email is known by its
/// Message-ID header. A chat message carries no id of its own, but its name holds the hash of
/// its whole webhook with the tree and period, which are what make its id: a file of that
/// name is the same message.
fn holds(path: &Path, email: &StoredEmail) -> bool {
    match email.medium {
        Medium::Webhook => true,
        Medium::Email => std::fs::read(path).is_ok_and(|bytes| {
            let text = String::from_utf8_lossy(&bytes);
            let headers = text.split("\r\n\r\n").next().unwrap_or("");
            headers
                .lines()
                .filter_map(|l| l.strip_prefix("Message-ID: "))
                .any(|id| id.trim() == email.message_id)
        }),
    }
}

/// Writes `email` into `dir` to be read before it is sent: the message as `.eml` (named as
/// [`Folder`] names it) and its HTML part as `.html`, to open in a browser. Writing the same
/// message again replaces its files; a name that holds another message is an error.
pub fn preview(dir: &Path, email: &StoredEmail) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(Folder::file_name(email));
    write_own(&path, email)?;
    if let Some(html) = html_part(&email.body) {
        std::fs::write(path.with_extension("html"), html)?;
    }
    Ok(())
}

/// The HTML part of a multipart message as Canopy composes it, decoded.
pub fn html_part(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let boundary = text.split("boundary=\"").nth(1)?.split('"').next()?;
    let part = text
        .split(&format!("--{boundary}"))
        .find(|p| p.contains("Content-Type: text/html"))?;
    let (_, body) = part.split_once("\r\n\r\n")?;
    let decoded =
        quoted_printable::decode(body.trim_end(), quoted_printable::ParseMode::Robust).ok()?;
    String::from_utf8(decoded).ok()
}

impl Deliver for Folder {
    /// A file is whole or absent (it is renamed into place), and writing it again writes the
    /// same file: there is no hand-over whose outcome can be unknown.
    fn deliver(&self, email: &StoredEmail, _: HandOver<'_>) -> Result<(), Failure> {
        let failure = |e: std::io::Error| Failure {
            // Another message's file stays until someone moves it: trying again will not help.
            kind: match e.kind() {
                ErrorKind::AlreadyExists => FailureKind::Permanent,
                _ => FailureKind::Transient,
            },
            message: format!("{}: {e}", self.dir.display()),
        };
        std::fs::create_dir_all(&self.dir).map_err(failure)?;
        write_own(&self.dir.join(Folder::file_name(email)), email).map_err(failure)
    }

    fn describe(&self) -> String {
        format!("the folder {}", self.dir.display())
    }

    fn channel(&self) -> Channel {
        Channel::Folder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(recipient: &str, medium: Medium, id: &str) -> StoredEmail {
        StoredEmail {
            id: 0,
            message_id: format!("<{id}@x.example>"),
            tree: "t".into(),
            period: canopy_engine::Period::parse("2026-W02", canopy_engine::Grain::Week).unwrap(),
            medium,
            sender: "c@x.example".into(),
            recipient: recipient.into(),
            subject: "s".into(),
            body: format!("Message-ID: <{id}@x.example>\r\n\r\n{recipient}").into_bytes(),
            attempts: 0,
            last_error: None,
        }
    }

    fn check(recipient: &str, medium: Medium, expected: &str) {
        assert_eq!(Folder::file_name(&email(recipient, medium, "m")), expected);
    }

    #[test]
    fn names_escape_what_they_cannot_keep() {
        check(
            "a_b@example.com",
            Medium::Email,
            "t-2026-W02-a_b@example.com.eml",
        );
        check(
            "a+b@example.com",
            Medium::Email,
            "t-2026-W02-a+b@example.com.eml",
        );
        check(
            "a/b@example.com",
            Medium::Email,
            "t-2026-W02-a%2Fb@example.com.eml",
        );
        check(
            "a%2Fb@example.com",
            Medium::Email,
            "t-2026-W02-a%252Fb@example.com.eml",
        );
        check(
            "é@example.com",
            Medium::Email,
            "t-2026-W02-%C3%A9@example.com.eml",
        );
    }

    #[test]
    fn two_webhooks_on_one_host_have_names_of_their_own() {
        let name = |url: &str| Folder::file_name(&email(url, Medium::Webhook, "m"));
        let (a, b) = (name("https://h.example/a"), name("https://h.example/b"));
        assert_ne!(a, b);
        assert!(
            a.starts_with("t-2026-W02-webhook_https___h.example__-"),
            "{a}"
        );
        assert!(!a.contains("/a"), "no secret in {a}");
    }

    #[test]
    fn a_name_taken_by_another_message_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.eml");
        let first = email("a@x.example", Medium::Email, "first");
        write_own(&path, &first).unwrap();
        // The same message again replaces its own file.
        write_own(&path, &first).unwrap();
        let other = email("b@x.example", Medium::Email, "other");
        let err = write_own(&path, &other).expect_err("taken");
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), first.body);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no partial file is left behind");
    }
}
