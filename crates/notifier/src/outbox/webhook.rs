//! Posting chat messages to webhooks over HTTP(S) with ureq.
//!
//! A 2xx answer delivers the message. A 5xx, 408 or 429 answer, no connection, or no answer
//! within the timeout leaves it pending (a later flush posts it again, with the same
//! `X-Canopy-Id` header, by which a receiver can drop a repeat). Any other answer is a
//! refusal: the message fails, and `canopy outbox retry` puts it back once it is mended. The
//! webhook's URL is read when the message is posted (for `env:NAME`, through the lookup the
//! binary gives, which reads its settings), and never written in an error: they show the host
//! only.

use std::time::Duration;

use canopy_engine::Webhook;

use super::{Channel, Deliver, Failure, FailureKind, HandOver, StoredEmail};

/// Posts chat messages to the webhooks they are for.
pub struct Poster {
    agent: ureq::Agent,
    timeout: Duration,
    /// The value of a variable, for `env:NAME` webhooks; `None` when it is not set.
    var: fn(&str) -> Option<String>,
}

impl Poster {
    /// A poster that gives up on an answer after `timeout`, and reads the URL of an
    /// `env:NAME` webhook with `var` when it posts to it.
    pub fn new(timeout: Duration, var: fn(&str) -> Option<String>) -> Poster {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("canopy/", env!("CARGO_PKG_VERSION")))
            .build();
        Poster {
            agent: config.into(),
            timeout,
            var,
        }
    }
}

impl Deliver for Poster {
    /// A message whose answer was lost is posted again, with the same `X-Canopy-Id` by which
    /// a receiver drops a repeat, so no hand-over is marked.
    fn deliver(&self, message: &StoredEmail, _: HandOver<'_>) -> Result<(), Failure> {
        let refused = |message: String| Failure {
            kind: FailureKind::Permanent,
            message,
        };
        let hook = Webhook::parse(&message.recipient).map_err(refused)?;
        let url = hook
            .url(self.var)
            .map_err(|e| refused(format!("{hook}: {e}; set it, then `canopy outbox retry`")))?;
        let answer = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Canopy-Id", &message.message_id)
            .send(&message.body[..]);
        let transient = |what: String| Failure {
            kind: FailureKind::Transient,
            message: format!("{hook}: {what}"),
        };
        let mut answer = match answer {
            Ok(answer) => answer,
            Err(ureq::Error::Timeout(_)) => {
                let s = self.timeout.as_secs_f64();
                return Err(transient(format!(
                    "timed out after {s} s waiting for the server"
                )));
            }
            Err(e) => return Err(transient(e.to_string())),
        };
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let said: String = (answer.body_mut().read_to_string().unwrap_or_default())
            .chars()
            .take(200)
            .collect();
        let what = format!(
            "answered {status}{}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {}", said.trim())
            }
        );
        let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
        Err(Failure {
            kind: if retry {
                FailureKind::Transient
            } else {
                FailureKind::Permanent
            },
            message: format!("{hook} {what}"),
        })
    }

    fn describe(&self) -> String {
        "webhooks".to_string()
    }

    fn channel(&self) -> Channel {
        Channel::Webhook
    }
}
