//! Twitter (`api.twitter.com`), as Cognito checks it: the pool's value is
//! `consumerKey;consumerSecret`, the login `accessToken;accessTokenSecret`,
//! and `GET <base>/1.1/account/verify_credentials.json`, signed with OAuth
//! 1.0a (HMAC-SHA1) by both secrets, names the user (subject `id_str`).
//! Twitter refuses unknown, revoked and forged tokens itself (401).

use std::time::SystemTime;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cognate_core::federation::{LoginError, ProviderSpec, VerifiedLogin};
use reqwest::StatusCode;
use serde_json::Value;

use crate::social::{endpoint, nonsense};
use crate::verifier::{FederatedVerifier, unix_seconds, unreachable_error};

pub(crate) const TWITTER_API: &str = "https://api.twitter.com";
const VERIFY_CREDENTIALS: &str = "1.1/account/verify_credentials.json";
/// Asked for the user alone: the latest tweet is not needed.
const QUERY: [(&str, &str); 2] = [("include_entities", "false"), ("skip_status", "true")];

/// `a;b` with both halves non-empty printable ASCII and no second `;`.
fn pair(text: &str) -> Option<(&str, &str)> {
    let (a, b) = text.split_once(';')?;
    let plausible = |s: &str| {
        !s.is_empty() && s.len() <= 1024 && s.bytes().all(|c| c.is_ascii_graphic() && c != b';')
    };
    (plausible(a) && plausible(b)).then_some((a, b))
}

pub(crate) async fn twitter(
    v: &FederatedVerifier,
    spec: &ProviderSpec,
    token: &str,
    now: SystemTime,
) -> Result<VerifiedLogin, LoginError> {
    let Some((access_token, token_secret)) = pair(token) else {
        return Err(LoginError::Rejected(
            "A Twitter login is the access token and its secret, separated by ';'.".into(),
        ));
    };
    let Some((consumer_key, consumer_secret)) = spec.audiences.iter().find_map(|a| pair(a)) else {
        return Err(LoginError::Rejected(
            "The identity pool's Twitter app must be given as consumerKey;consumerSecret.".into(),
        ));
    };
    let base = v.api_base(spec, TWITTER_API);
    let url = endpoint(&base, VERIFY_CREDENTIALS).map_err(|e| unreachable_error(spec, &e))?;
    let signer = OAuth1 {
        consumer_key,
        consumer_secret,
        token: access_token,
        token_secret,
    };
    let nonce: String = cognate_core::ids::random_bytes(16)
        .map_err(|_| LoginError::ProviderUnreachable("No randomness for the OAuth nonce.".into()))?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let authorization =
        signer.authorization("GET", url.as_str(), &QUERY, &nonce, unix_seconds(now));
    let answer = v
        .http
        .get(&url, &QUERY, Some(&authorization))
        .await
        .map_err(|e| unreachable_error(spec, &e))?;
    if answer.status == StatusCode::UNAUTHORIZED {
        return Err(LoginError::Rejected(
            "The Twitter access token is not valid.".into(),
        ));
    }
    if answer.status != StatusCode::OK {
        return Err(unreachable_error(
            spec,
            &crate::http::FetchError::Status(answer.status.as_u16()),
        ));
    }
    let user = answer
        .json_object()
        .map_err(|e| unreachable_error(spec, &e))?;
    let subject = match (user.get("id_str"), user.get("id")) {
        (Some(Value::String(s)), _) if !s.is_empty() => s.clone(),
        (_, Some(Value::Number(n))) => n.to_string(),
        _ => return Err(nonsense(spec, "no user id")),
    };
    // The user's scalar fields (screen_name, name, ...) for role-mapping
    // rules and principal tags.
    let mut claims: serde_json::Map<String, Value> = user
        .into_iter()
        .filter(|(_, value)| !value.is_object() && !value.is_array())
        .collect();
    claims.insert("sub".into(), Value::String(subject.clone()));
    claims.insert("aud".into(), Value::String(consumer_key.to_owned()));
    Ok(VerifiedLogin {
        provider: spec.name.clone(),
        subject,
        audience: consumer_key.to_owned(),
        claims,
        saml_roles: None,
    })
}

/// The four OAuth 1.0a credentials of a request (RFC 5849).
struct OAuth1<'a> {
    consumer_key: &'a str,
    consumer_secret: &'a str,
    token: &'a str,
    token_secret: &'a str,
}

impl OAuth1<'_> {
    /// The `Authorization: OAuth ...` value for a request to `url` (no
    /// query) with `query` parameters.
    fn authorization(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, &str)],
        nonce: &str,
        timestamp: i64,
    ) -> String {
        let timestamp = timestamp.to_string();
        let mut oauth = vec![
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", timestamp.as_str()),
            ("oauth_token", self.token),
            ("oauth_version", "1.0"),
        ];
        let mut signed: Vec<(&str, &str)> = oauth.clone();
        signed.extend_from_slice(query);
        let signature = self.signature(method, url, &signed);
        oauth.push(("oauth_signature", signature.as_str()));
        oauth.sort();
        let fields: Vec<String> = oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", percent_encode(k), percent_encode(v)))
            .collect();
        format!("OAuth {}", fields.join(", "))
    }

    /// HMAC-SHA1 over the signature base string, base64.
    fn signature(&self, method: &str, url: &str, params: &[(&str, &str)]) -> String {
        let mut encoded: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (percent_encode(k), percent_encode(v)))
            .collect();
        encoded.sort();
        let parameters: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let base = format!(
            "{}&{}&{}",
            method.to_ascii_uppercase(),
            percent_encode(url),
            percent_encode(&parameters.join("&"))
        );
        let key = format!(
            "{}&{}",
            percent_encode(self.consumer_secret),
            percent_encode(self.token_secret)
        );
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
        STANDARD.encode(hmac::sign(&key, base.as_bytes()).as_ref())
    }
}

/// RFC 3986 percent-encoding: everything but ALPHA, DIGIT, `-._~`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The worked example of Twitter's "Creating a signature" guide.
    #[test]
    fn signature_matches_twitters_worked_example() {
        let signer = OAuth1 {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog",
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        };
        let params = [
            (
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            ("include_entities", "true"),
            ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            (
                "oauth_token",
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            ),
            ("oauth_version", "1.0"),
        ];
        assert_eq!(
            signer.signature(
                "POST",
                "https://api.twitter.com/1.1/statuses/update.json",
                &params
            ),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }

    #[test]
    fn the_header_carries_every_oauth_field_encoded() {
        let signer = OAuth1 {
            consumer_key: "key",
            consumer_secret: "secret",
            token: "to ken",
            token_secret: "ts",
        };
        let header = signer.authorization("GET", "https://x.test/p", &QUERY, "n1", 1_700_000_000);
        assert!(header.starts_with(
            "OAuth oauth_consumer_key=\"key\", oauth_nonce=\"n1\", oauth_signature=\""
        ));
        assert!(header.contains("oauth_token=\"to%20ken\""));
        assert!(header.ends_with(
            "oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1700000000\", oauth_token=\"to%20ken\", oauth_version=\"1.0\""
        ));
        // The query is signed but not in the header.
        assert!(!header.contains("skip_status"));
    }

    #[test]
    fn pairs() {
        assert_eq!(pair("a;b"), Some(("a", "b")));
        for bad in ["", "a", "a;", ";b", "a;b;c", "a b;c", "a;\u{e9}"] {
            assert_eq!(pair(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_encoding_is_rfc_3986() {
        assert_eq!(
            percent_encode("Ladies + Gentlemen!*"),
            "Ladies%20%2B%20Gentlemen%21%2A"
        );
        assert_eq!(percent_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(percent_encode("\u{e9}"), "%C3%A9");
    }
}
