//! Masking secrets in connection settings before they reach a message or a log: the one
//! place that knows where a secret sits in what a user gives Canopy (a URL, a libpq
//! `key=value` string, a `user:password@host` written without its scheme).

/// Keys whose values are secrets, in URL queries and `key=value` strings (libpq's `password`
/// and `sslpassword`, their common spellings, and the tokens and keys of HTTP APIs).
const SECRET_KEYS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "sslpassword",
    "secret",
    "token",
    "access_token",
    "key",
    "apikey",
    "api_key",
];

/// How a masked secret is shown.
const MASK: &str = "***";

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s))
}

/// `setting` with every secret in it replaced by `***`, for messages and logs: a URL's
/// password and secret query parameters; in text that is not a URL (no `://`), anything
/// between the first `:` and the last `@` (`user:password@host`) and the value of every
/// secret `key=value` pair. A URL that cannot be parsed is shown as its scheme alone, since
/// there is no telling where a secret would be in it.
pub fn redact_password(setting: &str) -> String {
    if !setting.contains("://") {
        return redact_pairs(&redact_userinfo(setting));
    }
    let Ok(mut parsed) = url::Url::parse(setting) else {
        let scheme = setting.split_once("://").map_or("", |(s, _)| s);
        return format!("{scheme}://{MASK} (unparseable URL)");
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    if parsed.query_pairs().any(|(k, _)| is_secret(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret(&k) {
                    MASK.into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The serializer percent-encodes `*` in a query; keep the mask readable.
    parsed.to_string().replace("%2A%2A%2A", MASK)
}

/// `user:secret@host` without a scheme: the part between the first `:` and the last `@`.
fn redact_userinfo(text: &str) -> String {
    match text.rfind('@') {
        Some(at) => match text[..at].find(':') {
            Some(colon) => format!("{}:{MASK}{}", &text[..colon], &text[at..]),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// The values of secret keys in `key=value` pairs separated by spaces, `;` or `&` (libpq's
/// connection strings, ODBC's, a query), quoted or not, masked.
fn redact_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq]
            .trim_end()
            .rfind(|c: char| c.is_whitespace() || ";&?,".contains(c))
            .map_or(0, |i| i + 1);
        let key = rest[key_start..eq].trim();
        out.push_str(&rest[..=eq]);
        rest = &rest[eq + 1..];
        if !is_secret(key) {
            continue;
        }
        let value = rest.trim_start();
        out.push_str(&rest[..rest.len() - value.len()]);
        let end = match value.chars().next() {
            Some(q @ ('\'' | '"')) => value[1..].find(q).map_or(value.len(), |i| i + 2),
            _ => value
                .find(|c: char| c.is_whitespace() || ";&".contains(c))
                .unwrap_or(value.len()),
        };
        out.push_str(MASK);
        rest = &value[end..];
    }
    out.push_str(rest);
    out
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
            // Not URLs: libpq's key=value form, a URL without its scheme, an API's token.
            (
                "host=db user=u password=hunter2 dbname=x",
                "host=db user=u password=*** dbname=x",
            ),
            (
                "host=db password = 'a b c' sslmode=require",
                "host=db password = *** sslmode=require",
            ),
            ("Server=x;Pwd=abc;Uid=u", "Server=x;Pwd=***;Uid=u"),
            ("user:p@ss:w@host:587", "user:***@host:587"),
            ("mail.example.com:587", "mail.example.com:587"),
            ("data/2026.csv", "data/2026.csv"),
            (
                "https://hooks.example.com/x?token=abc&channel=c",
                "https://hooks.example.com/x?token=***&channel=c",
            ),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }
}
