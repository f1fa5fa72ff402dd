//! What a request presents: its token and where it comes from.

use std::collections::HashMap;

use base64::Engine as _;

/// Request headers, looked up by lower-case name: an `http::HeaderMap` (axum, hyper, tower,
/// tonic) or the map of lower-case names Envoy sends in a `CheckRequest`.
pub trait Headers {
    /// The value of the header `name` (lower case), when it is present and text.
    fn get(&self, name: &str) -> Option<&str>;
}

impl Headers for http::HeaderMap {
    fn get(&self, name: &str) -> Option<&str> {
        http::HeaderMap::get(self, name).and_then(|value| value.to_str().ok())
    }
}

impl Headers for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

/// The value of `name`, trimmed; none when absent or blank.
pub(crate) fn text(headers: &impl Headers, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

/// The token in `Authorization`: `Bearer <token>`, or `Basic` Azure DevOps style (an empty
/// user name and the token as password; a token as the user name with an empty password
/// works too). Schemes are matched without regard to case.
pub fn presented_token(headers: &impl Headers) -> Option<String> {
    let value = headers.get("authorization")?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_string()).filter(|token| !token.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let token = if password.is_empty() { user } else { password };
        return Some(token.to_string()).filter(|token| !token.is_empty());
    }
    None
}

/// The client's address as the gateway reports it: the first `X-Forwarded-For` entry, else
/// `X-Real-IP`.
pub fn client_address(headers: &impl Headers) -> Option<String> {
    text(headers, "x-forwarded-for")
        .and_then(|list| list.split(',').next().map(|first| first.trim().to_string()))
        .filter(|first| !first.is_empty())
        .or_else(|| text(headers, "x-real-ip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn tokens_come_from_bearer_or_either_half_of_basic() {
        let basic = |pair: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        let cases = [
            ("Bearer ptl_abc", Some("ptl_abc")),
            ("bearer   ptl_abc  ", Some("ptl_abc")),
            (&basic(":ptl_abc"), Some("ptl_abc")),
            (&basic("ptl_abc:"), Some("ptl_abc")),
            (&basic("ptl_abc"), Some("ptl_abc")),
            (&basic(":"), None),
            ("Bearer ", None),
            ("Basic !!!", None),
            ("Digest ptl_abc", None),
            ("ptl_abc", None),
        ];
        for (authorization, expected) in cases {
            assert_eq!(
                presented_token(&headers(&[("authorization", authorization)])).as_deref(),
                expected,
                "{authorization:?}"
            );
        }
        assert_eq!(presented_token(&headers(&[])), None);
    }

    #[test]
    fn the_client_is_the_first_forwarded_address_else_the_real_ip() {
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Headers<'_>, Option<&str>); 4] = [
            (
                &[("x-forwarded-for", "203.0.113.7, 10.0.0.1")],
                Some("203.0.113.7"),
            ),
            (
                &[
                    ("x-forwarded-for", " , 10.0.0.1"),
                    ("x-real-ip", "198.51.100.2"),
                ],
                Some("198.51.100.2"),
            ),
            (&[("x-real-ip", "198.51.100.2")], Some("198.51.100.2")),
            (&[], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                client_address(&headers(pairs)).as_deref(),
                expected,
                "{pairs:?}"
            );
        }
    }
}
