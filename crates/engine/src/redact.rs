//! Masking secrets in connection URLs before they reach a message or a log.

/// Query parameters that carry secrets in the URL forms Canopy reads (libpq's `password` and
/// `sslpassword`, and their common spellings).
const SECRET_KEYS: &[&str] = &["password", "pass", "passwd", "pwd", "sslpassword", "secret"];

/// `url` with its password, and any secret query parameter, replaced by `***`: for messages
/// and logs. A URL that cannot be parsed is shown as its scheme alone, since there is no
/// telling where a secret would be in it.
pub fn redact_password(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://*** (unparseable URL)"),
            None => "*** (unparseable URL)".to_string(),
        };
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let secret = |k: &str| SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s));
    if parsed.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The serializer percent-encodes `*` in a query; keep the mask readable.
    parsed.to_string().replace("%2A%2A%2A", "***")
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn every_secret_is_masked() {
        for (url, shown) in [
            (
                "postgres://canopy:s3cret@db:5432/x",
                "postgres://canopy:***@db:5432/x",
            ),
            ("postgres://db/x", "postgres://db/x"),
            (
                "postgres://u@h/db?password=hunter2",
                "postgres://u@h/db?password=***",
            ),
            (
                "postgresql://h/db?sslmode=require&PASSWORD=x&application_name=c",
                "postgresql://h/db?sslmode=require&PASSWORD=***&application_name=c",
            ),
            (
                "smtp://u:p@w@host:587?tls=required",
                "smtp://u:***@host:587?tls=required",
            ),
            (
                "smtps://user:pa%3Ass@mail.example.com",
                "smtps://user:***@mail.example.com",
            ),
            ("sqlite://data/app.db", "sqlite://data/app.db"),
            ("postgres://u:pw@[::1", "postgres://*** (unparseable URL)"),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }
}
