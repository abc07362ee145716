//! Secrets never print: one function, [`redact_url`], hides the credentials of every
//! URL in a text (`user:password@` and secret query parameters), and
//! [`split_userinfo`] takes `user:password@` out of a URL so that it can be sent as
//! authentication instead. Plain functions, no I/O; shared by the scenarios and the
//! harness (for every error, `Debug` output and report line that can name a URL).

/// What replaces a hidden secret.
pub const REDACTED: &str = "***";

/// Query parameters whose values are secrets (compared case-insensitively).
const SECRET_PARAMS: [&str; 10] = [
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "auth",
];

/// Characters that end a URL's authority (or a URL) inside a text.
fn ends_authority(c: char) -> bool {
    matches!(
        c,
        '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';'
    ) || c.is_whitespace()
}

/// `text` with every URL's credentials hidden: the userinfo of `scheme://user:pw@host`
/// becomes `***@`, and the value of a secret query parameter (`?token=…`,
/// `&password=…`, `api_key`, …) becomes `***`. Works on a single URL and on any text
/// that contains URLs (error messages); text without URLs comes back unchanged.
///
/// ```
/// use lgtm_scenarios::redact::redact_url;
/// assert_eq!(
///     redact_url("GET http://admin:secret@grafana:3000/api/search?token=abc failed"),
///     "GET http://***@grafana:3000/api/search?token=*** failed"
/// );
/// assert_eq!(redact_url("no URL here"), "no URL here");
/// ```
pub fn redact_url(text: &str) -> String {
    hide_query_secrets(&hide_userinfo(text))
}

fn hide_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(ends_authority).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn hide_query_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['?', '&']) {
        let (head, tail) = rest.split_at(i + 1);
        out.push_str(head);
        let key_end = tail.find('=').filter(|&e| {
            let key = &tail[..e];
            !key.is_empty()
                && !key.contains(ends_authority)
                && SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key))
        });
        match key_end {
            Some(e) => {
                out.push_str(&tail[..=e]);
                let value = &tail[e + 1..];
                let end = value
                    .find(|c: char| c == '&' || ends_authority(c))
                    .unwrap_or(value.len());
                out.push_str(REDACTED);
                rest = &value[end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Splits `user:password@` off `url`: the URL without it, and the user and password
/// (percent-decoded; the password empty when there is none). A URL without userinfo
/// comes back unchanged with `None`.
pub fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some(i) = url.find("://") else {
        return (url.to_owned(), None);
    };
    let start = i + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |e| start + e);
    let Some(at) = url[start..end].rfind('@').map(|a| start + a) else {
        return (url.to_owned(), None);
    };
    let (user, password) = url[start..at]
        .split_once(':')
        .unwrap_or((&url[start..at], ""));
    let clean = format!("{}{}", &url[..start], &url[at + 1..]);
    (
        clean,
        Some((percent_decode(user), percent_decode(password))),
    )
}

/// Decodes `%XX`; a malformed escape is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_userinfo_in_urls_and_in_text() {
        assert_eq!(
            redact_url("http://admin:s3cret@grafana:3000/api/health"),
            "http://***@grafana:3000/api/health"
        );
        assert_eq!(redact_url("https://tok@h"), "https://***@h");
        assert_eq!(
            redact_url("loki at http://u:p%40ss@l:3100/x is unreachable (see https://u2:q@t:1)"),
            "loki at http://***@l:3100/x is unreachable (see https://***@t:1)"
        );
        // A password with `@` or `/`-free odd characters: everything before the last
        // `@` of the authority goes.
        assert_eq!(redact_url("http://u:a@b@h:1/p"), "http://***@h:1/p");
        assert_eq!(
            redact_url("--loki-url = \"http://u:pw@h\""),
            "--loki-url = \"http://***@h\""
        );
    }

    #[test]
    fn hides_secret_query_parameters() {
        assert_eq!(
            redact_url("http://h/api?query=up&token=abc123&x=1"),
            "http://h/api?query=up&token=***&x=1"
        );
        assert_eq!(
            redact_url("http://h/?API_KEY=k#f"),
            "http://h/?API_KEY=***#f"
        );
        assert_eq!(redact_url("http://h/?query=a&b"), "http://h/?query=a&b");
    }

    #[test]
    fn leaves_text_without_secrets_alone() {
        for s in [
            "",
            "http://127.0.0.1:3100/loki/api/v1/query_range",
            "sum(rate(x{a=\"b\"}[5m]))",
            "user@example.org wrote",
            "{ span.http.method = \"POST\" && duration > 100ms }",
        ] {
            assert_eq!(redact_url(s), s);
        }
    }

    #[test]
    fn splits_userinfo_off() {
        assert_eq!(
            split_userinfo("http://u%3A1:p%40ss@loki:3100/x"),
            (
                "http://loki:3100/x".to_string(),
                Some(("u:1".to_string(), "p@ss".to_string()))
            )
        );
        assert_eq!(
            split_userinfo("http://user@h"),
            (
                "http://h".to_string(),
                Some(("user".to_string(), String::new()))
            )
        );
        assert_eq!(
            split_userinfo("http://h:1/a@b"),
            ("http://h:1/a@b".to_string(), None)
        );
        assert_eq!(split_userinfo("not a url"), ("not a url".to_string(), None));
    }
}
