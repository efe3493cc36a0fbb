//! Delivering stored emails: over SMTP with lettre, or as `.eml` files when no SMTP server is
//! configured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use canopy_evaluator::redact_password;
use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, SmtpTransport, Transport};

use crate::history::StoredEmail;
use crate::Error;

/// Why one delivery attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The server refused the message for good (a 5xx reply): retrying will not help.
    pub permanent: bool,
    /// What happened.
    pub message: String,
}

/// Somewhere emails can be delivered.
pub trait Deliver {
    /// Delivers one email.
    fn deliver(&self, email: &StoredEmail) -> Result<(), Failure>;
    /// Where emails go, for messages to the user.
    fn describe(&self) -> String;
}

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
    transport: SmtpTransport,
    description: String,
}

impl Smtp {
    /// Connects lazily to the server described by `settings`. TLS (STARTTLS or implicit)
    /// trusts the system's roots plus those of `ca_file`.
    pub fn new(settings: &SmtpSettings) -> Result<Smtp, Error> {
        let bad = |why: String| {
            Error::Smtp(format!(
                "CANOPY_SMTP_URL `{}`: {why}",
                redact_password(&settings.url)
            ))
        };
        let url = url::Url::parse(&settings.url).map_err(|e| bad(e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("no host".into()))?
            .to_string();
        let mut builder = SmtpTransport::from_url(&settings.url).map_err(|e| bad(e.to_string()))?;
        let tls_mode = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let wants_tls = url.scheme() == "smtps"
            || matches!(tls_mode.as_deref(), Some("required" | "opportunistic"));
        if wants_tls {
            let mut params = TlsParameters::builder(host);
            if let Some(ca) = &settings.ca_file {
                let pem = std::fs::read(ca).map_err(|e| {
                    Error::Smtp(format!("cannot read CANOPY_SMTP_CA {}: {e}", ca.display()))
                })?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| Error::Smtp(format!("CANOPY_SMTP_CA {}: {e}", ca.display())))?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build().map_err(|e| bad(e.to_string()))?;
            let tls = match (url.scheme(), tls_mode.as_deref()) {
                ("smtps", _) => Tls::Wrapper(params),
                (_, Some("opportunistic")) => Tls::Opportunistic(params),
                _ => Tls::Required(params),
            };
            builder = builder.tls(tls);
        }
        Ok(Smtp {
            transport: builder.timeout(Some(settings.timeout)).build(),
            description: format!("SMTP server {}", redact_password(&settings.url)),
        })
    }
}

fn address(text: &str) -> Result<Address, Failure> {
    text.parse().map_err(|e| Failure {
        permanent: true,
        message: format!("bad address {text}: {e}"),
    })
}

impl Deliver for Smtp {
    fn deliver(&self, email: &StoredEmail) -> Result<(), Failure> {
        let envelope = Envelope::new(
            Some(address(&email.sender)?),
            vec![address(&email.recipient)?],
        )
        .map_err(|e| Failure {
            permanent: true,
            message: e.to_string(),
        })?;
        self.transport
            .send_raw(&envelope, &email.body)
            .map(|_| ())
            .map_err(|e| Failure {
                // Only an explicit 5xx refusal is final; timeouts, refused connections and 4xx
                // replies are worth another try.
                permanent: e.is_permanent(),
                message: e.to_string(),
            })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

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
    /// run writes the same file.
    pub fn file_name(email: &StoredEmail) -> String {
        let safe = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        format!(
            "{}-{}-{}.eml",
            safe(&email.tree),
            safe(&email.period),
            safe(&email.recipient)
        )
    }
}

impl Deliver for Folder {
    fn deliver(&self, email: &StoredEmail) -> Result<(), Failure> {
        let failure = |e: std::io::Error| Failure {
            permanent: false,
            message: format!("{}: {e}", self.dir.display()),
        };
        std::fs::create_dir_all(&self.dir).map_err(failure)?;
        let path = self.dir.join(Folder::file_name(email));
        // Write then rename, so a reader never sees half a message.
        let partial = path.with_extension("eml.partial");
        std::fs::write(&partial, &email.body).map_err(failure)?;
        std::fs::rename(&partial, &path).map_err(failure)
    }

    fn describe(&self) -> String {
        format!("the folder {}", self.dir.display())
    }
}
