//! RACI: who is Responsible, Accountable, Consulted and Informed for a metric, and the people
//! those roles name.

/// Someone who can own or follow a metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The key the tree refers to this person by.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address, validated; `None` for someone reached only by webhook.
    pub email: Option<String>,
    /// A chat webhook (Slack-compatible), validated.
    pub webhook: Option<Webhook>,
}

impl Person {
    /// How the person is reached, for listings: their address, else their webhook as shown.
    pub fn contact(&self) -> String {
        match (&self.email, &self.webhook) {
            (Some(email), _) => email.clone(),
            (None, Some(hook)) => hook.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// Where a person's chat messages are posted: a URL written in the tree, or the name of an
/// environment variable that holds it (`env:SLACK_GROWTH_URL`), so that the secret in the
/// URL stays out of tree files and the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Webhook {
    /// The URL itself.
    Url(String),
    /// The environment variable holding the URL.
    Env(String),
}

impl Webhook {
    /// Reads a webhook as a tree writes it: `env:NAME`, or an `https://` URL (`http://` only
    /// to a loopback host: a webhook URL is a secret, never sent in the clear).
    pub fn parse(text: &str) -> Result<Webhook, String> {
        if let Some(name) = text.strip_prefix("env:") {
            // Environment variable names are identifiers, as metric ids are.
            return match crate::validate::is_identifier(name) {
                true => Ok(Webhook::Env(name.to_string())),
                false => Err(format!("`{text}` does not name an environment variable")),
            };
        }
        check_url(text)?;
        Ok(Webhook::Url(text.to_string()))
    }

    /// The webhook as written in the tree, and as the outbox keeps it.
    pub fn reference(&self) -> String {
        match self {
            Webhook::Url(url) => url.clone(),
            Webhook::Env(name) => format!("env:{name}"),
        }
    }

    /// The URL to post to, reading the environment through `var` for `env:NAME`.
    pub fn url(&self, var: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        match self {
            Webhook::Url(url) => Ok(url.clone()),
            Webhook::Env(name) => {
                let url = var(name)
                    .ok_or_else(|| format!("the environment variable {name} is not set"))?;
                check_url(&url).map_err(|e| format!("{name}: {e}"))?;
                Ok(url)
            }
        }
    }
}

/// Shown without the secret: `env:NAME`, or the URL's scheme and host only.
impl std::fmt::Display for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Webhook::Env(name) => write!(f, "webhook env:{name}"),
            Webhook::Url(url) => match url::Url::parse(url) {
                Ok(u) => write!(
                    f,
                    "webhook {}://{}/…",
                    u.scheme(),
                    u.host_str().unwrap_or("")
                ),
                Err(_) => f.write_str("webhook"),
            },
        }
    }
}

fn check_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("`{}` is not a URL ({e})", Webhook::Url(text.into())))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("a webhook URL names a host".to_string()),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("a webhook URL carries its secret: it must be `https://` (plain `http://` only to localhost)".to_string()),
        other => Err(format!("a webhook URL is `https://...`, not `{other}:`")),
    }
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

#[cfg(test)]
mod webhook_tests {
    use super::Webhook;

    #[test]
    fn a_webhook_is_https_or_loopback_http_or_a_variable() {
        let url = |u: &str| Ok(Webhook::Url(u.to_string()));
        assert_eq!(
            Webhook::parse("https://hooks.example.com/T1/B2/x"),
            url("https://hooks.example.com/T1/B2/x")
        );
        assert_eq!(
            Webhook::parse("http://127.0.0.1:8080/h"),
            url("http://127.0.0.1:8080/h")
        );
        assert_eq!(
            Webhook::parse("http://localhost/h"),
            url("http://localhost/h")
        );
        assert_eq!(Webhook::parse("http://[::1]/h"), url("http://[::1]/h"));
        assert_eq!(
            Webhook::parse("env:SLACK_GROWTH_URL"),
            Ok(Webhook::Env("SLACK_GROWTH_URL".into()))
        );
        for bad in [
            "http://hooks.example.com/x",
            "ftp://example.com/x",
            "env:",
            "env:1X",
            "hooks.example.com",
            "https://",
        ] {
            assert!(Webhook::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shown_without_its_secret_and_read_from_the_environment() {
        let hook = Webhook::parse("https://hooks.example.com/T1/B2/secret").unwrap();
        assert_eq!(hook.to_string(), "webhook https://hooks.example.com/…");
        let env = Webhook::parse("env:HOOK").unwrap();
        assert_eq!(env.reference(), "env:HOOK");
        assert_eq!(
            env.url(|_| Some("https://h.example.com/s".into())),
            Ok("https://h.example.com/s".into())
        );
        assert_eq!(
            env.url(|_| None),
            Err("the environment variable HOOK is not set".into())
        );
        let in_clear = env
            .url(|_| Some("http://h.example.com/s".into()))
            .unwrap_err();
        assert!(
            in_clear.starts_with("HOOK: a webhook URL carries its secret"),
            "{in_clear}"
        );
    }
}
