//! The SMTP route: delivering stored emails with lettre (the outbox folder, used when no
//! SMTP server is configured, is the `folder` route).
//!
//! SMTP is driven one step at a time, so a failure is known to have happened before the
//! message was handed over (safe to retry) or after (the server may have it: `uncertain`).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use canopy_engine::redact_password;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

use super::{Channel, Deliver, Failure, FailureKind, HandOver, StoredEmail};
use crate::address::parse_address;
use crate::Error;

/// SMTP settings, as given by the environment (`CANOPY_SMTP_URL` and friends).
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// lettre's URL form: `smtp://user:pass@host:587?tls=required`, `smtps://host:465`,
    /// `smtp://host:25` (no TLS), `?tls=opportunistic`.
    pub url: String,
    /// A PEM file of extra trusted root certificates (a company's private CA).
    pub ca_file: Option<PathBuf>,
    /// How long to wait on the server before giving up an attempt.
    pub timeout: Duration,
}

/// An SMTP server.
pub struct Smtp {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    description: String,
}

/// Where in the conversation with the server an attempt failed.
#[derive(Clone, Copy)]
enum Stage {
    /// Before the content was sent: nothing can have been delivered.
    Before,
    /// After the whole content was sent: the server may have it.
    HandedOver,
}

impl Smtp {
    /// The server described by `settings`, connected to for each email. The URL is read as
    /// lettre reads it: `smtp` (port 25, no TLS; `?tls=required` STARTTLS or
    /// `?tls=opportunistic`, port 587) or `smtps` (implicit TLS, port 465), credentials from
    /// the user and password, the EHLO name from the path. TLS trusts the system's roots
    /// plus those of `ca_file`.
    pub fn new(settings: &SmtpSettings) -> Result<Smtp, Error> {
        let redacted = redact_password(&settings.url);
        let bad = |why: String| Error::Smtp(format!("CANOPY_SMTP_URL `{redacted}`: {why}"));
        let url = url::Url::parse(&settings.url).map_err(|e| bad(e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("no host".into()))?
            .to_string();
        let mode = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let params = || tls_parameters(&host, settings.ca_file.as_deref());
        let (tls, port) = match (url.scheme(), mode.as_deref()) {
            ("smtp", None) => (Tls::None, 25),
            ("smtp", Some("required")) => (Tls::Required(params()?), 587),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic(params()?), 587),
            ("smtps", _) => (Tls::Wrapper(params()?), 465),
            (scheme, mode) => {
                return Err(bad(format!("unknown scheme `{scheme}` or tls=`{}`; use smtp:// (with ?tls=required or ?tls=opportunistic) or smtps://", mode.unwrap_or(""))))
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|e| bad(format!("the user or password is not UTF-8: {e}")))
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let path = url.path().trim_matches('/');
        Ok(Smtp {
            port: url.port().unwrap_or(port),
            host,
            tls,
            credentials,
            hello: match path.is_empty() {
                true => ClientId::default(),
                false => ClientId::Domain(path.to_string()),
            },
            timeout: settings.timeout,
            description: format!("SMTP server {redacted}"),
        })
    }

    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let wrapper = match &self.tls {
            Tls::Wrapper(params) => Some(params),
            _ => None,
        };
        let server = (self.host.as_str(), self.port);
        let mut conn =
            SmtpConnection::connect(server, Some(self.timeout), &self.hello, wrapper, None)?;
        match &self.tls {
            Tls::Opportunistic(params) if conn.can_starttls() => {
                conn.starttls(params, &self.hello)?
            }
            Tls::Required(params) => conn.starttls(params, &self.hello)?,
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)?;
        }
        Ok(conn)
    }

    /// MAIL, RCPT and DATA: once they are accepted, the content can be sent.
    fn envelope(
        &self,
        conn: &mut SmtpConnection,
        from: Address,
        to: Address,
        body: &[u8],
    ) -> Result<(), lettre::transport::smtp::Error> {
        let mut options = Vec::new();
        let info = conn.server_info();
        if !body.is_ascii() && info.supports_feature(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if !(from.to_string().is_ascii() && to.to_string().is_ascii())
            && info.supports_feature(Extension::SmtpUtfEight)
        {
            options.push(MailParameter::SmtpUtfEight);
        }
        conn.command(Mail::new(Some(from), options))?;
        conn.command(Rcpt::new(to, Vec::new()))?;
        conn.command(Data)?;
        Ok(())
    }

    /// The content, after DATA; says how far it got when it fails.
    fn content(
        &self,
        conn: &mut SmtpConnection,
        body: &[u8],
    ) -> Result<(), (Stage, lettre::transport::smtp::Error)> {
        // lettre writes each part, then the terminator, then reads the reply: once the
        // iterator is exhausted, the whole content has been written.
        let written = Cell::new(false);
        let parts = std::iter::once(body).chain(std::iter::from_fn(|| {
            written.set(true);
            None
        }));
        conn.message_iter(parts).map(|_| ()).map_err(|e| {
            // A reply (even a refusal) is an answer; anything else after the content was
            // written leaves the outcome unknown.
            let answered = e.status().is_some();
            let stage = match written.get() && !answered {
                true => Stage::HandedOver,
                false => Stage::Before,
            };
            (stage, e)
        })
    }

    fn failure(&self, stage: Stage, e: &lettre::transport::smtp::Error) -> Failure {
        let timed_out = timed_out(e);
        let what = match timed_out {
            true => format!(
                "timed out after {} s waiting for the server",
                self.timeout.as_secs()
            ),
            false => e.to_string(),
        };
        match stage {
            Stage::HandedOver => Failure {
                kind: FailureKind::Uncertain,
                message: format!(
                    "the message was handed over, then {what}; it may have been delivered"
                ),
            },
            Stage::Before => Failure {
                // Only an explicit 5xx refusal is final; timeouts, refused connections and 4xx
                // replies are worth another try.
                kind: match e.is_permanent() {
                    true => FailureKind::Permanent,
                    false => FailureKind::Transient,
                },
                message: what,
            },
        }
    }
}

/// TLS parameters for `host`, trusting the system's roots plus those of `ca_file`.
fn tls_parameters(host: &str, ca_file: Option<&Path>) -> Result<TlsParameters, Error> {
    let mut params = TlsParameters::builder(host.to_string());
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).map_err(|e| {
            Error::Smtp(format!("cannot read CANOPY_SMTP_CA {}: {e}", ca.display()))
        })?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| Error::Smtp(format!("CANOPY_SMTP_CA {}: {e}", ca.display())))?;
        params = params.add_root_certificate(cert);
    }
    params
        .build()
        .map_err(|e| Error::Smtp(format!("TLS for {host}: {e}")))
}

/// Whether `e` is a timeout: sockets report a read past their timeout as `WouldBlock` on
/// Unix and `TimedOut` elsewhere.
fn timed_out(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{TimedOut, WouldBlock};
            return matches!(io.kind(), TimedOut | WouldBlock);
        }
        source = err.source();
    }
    false
}

fn address(text: &str) -> Result<Address, Failure> {
    parse_address(text).map_err(|message| Failure {
        kind: FailureKind::Permanent,
        message,
    })
}

impl Deliver for Smtp {
    fn deliver(&self, email: &StoredEmail, hand_over: HandOver<'_>) -> Result<(), Failure> {
        let (from, to) = (address(&email.sender)?, address(&email.recipient)?);
        let mut conn = self
            .connect()
            .map_err(|e| self.failure(Stage::Before, &e))?;
        let sent = (self.envelope(&mut conn, from, to, &email.body))
            .map_err(|e| self.failure(Stage::Before, &e))
            .and_then(|()| hand_over())
            .and_then(|()| {
                (self.content(&mut conn, &email.body)).map_err(|(stage, e)| self.failure(stage, &e))
            });
        // The message is settled either way; a failure to say goodbye changes nothing.
        conn.abort();
        sent
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn channel(&self) -> Channel {
        Channel::Smtp
    }
}
