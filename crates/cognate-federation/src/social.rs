//! Opaque access tokens checked with the provider's API: Facebook Graph and
//! Login with Amazon.

use cognate_core::federation::{LoginError, ProviderSpec, VerifiedLogin};
use reqwest::{StatusCode, Url};
use serde_json::{Map, Value};

use crate::http::{Answer, FetchError, parse_url};
use crate::verifier::{FederatedVerifier, unreachable_error};

pub(crate) const FACEBOOK_API: &str = "https://graph.facebook.com";
pub(crate) const AMAZON_API: &str = "https://api.amazon.com";

/// Longest opaque token sent to a provider.
const MAX_ACCESS_TOKEN_LEN: usize = 8192;

/// Opaque tokens are sent in a query string or header: printable ASCII only.
fn plausible_access_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_ACCESS_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Refuses, without asking the provider, what cannot be its access token.
fn check_access_token(token: &str, provider: &str) -> Result<(), LoginError> {
    if plausible_access_token(token) {
        Ok(())
    } else {
        Err(LoginError::Rejected(format!(
            "The {provider} access token is not valid."
        )))
    }
}

/// The URL of `path` under a provider's API base.
fn api_url(spec: &ProviderSpec, base: &str, path: &str) -> Result<Url, LoginError> {
    endpoint(base, path).map_err(|e| unreachable_error(spec, &e))
}

pub(crate) fn endpoint(base: &str, path: &str) -> Result<Url, FetchError> {
    parse_url(&format!("{}/{path}", base.trim_end_matches('/')))
}

pub(crate) fn nonsense(spec: &ProviderSpec, what: &str) -> LoginError {
    LoginError::ProviderUnreachable(format!(
        "The identity provider {} gave an unexpected answer ({what}).",
        spec.name
    ))
}

// ---------------------------------------------------------------- Facebook

/// Facebook: `GET <base>/app?access_token=T` names the app the token was
/// issued to, which must be an allowed app id; `GET <base>/me?fields=id,
/// name,email&access_token=T` names the user (subject = `id`). Graph
/// refuses invalid and expired tokens itself (OAuthException 190).
pub(crate) async fn facebook(
    v: &FederatedVerifier,
    spec: &ProviderSpec,
    token: &str,
) -> Result<VerifiedLogin, LoginError> {
    check_access_token(token, "Facebook")?;
    let base = v.api_base(spec, FACEBOOK_API);
    let app_url = api_url(spec, &base, "app")?;
    let me_url = api_url(spec, &base, "me")?;

    let app = facebook_call(v, spec, &app_url, &[("access_token", token)]).await?;
    let app_id = match app.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(nonsense(spec, "no app id")),
    };
    if !spec.audiences.contains(&app_id) {
        return Err(LoginError::AudienceNotAllowed);
    }

    let me = facebook_call(
        v,
        spec,
        &me_url,
        &[("fields", "id,name,email"), ("access_token", token)],
    )
    .await?;
    let user_id = match me.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(nonsense(spec, "no user id")),
    };

    let mut claims = me;
    claims.insert("sub".into(), Value::String(user_id.clone()));
    claims.insert("user_id".into(), Value::String(user_id.clone()));
    claims.insert("aud".into(), Value::String(app_id.clone()));
    claims.insert("app_id".into(), Value::String(app_id.clone()));
    Ok(VerifiedLogin {
        provider: spec.name.clone(),
        subject: user_id,
        audience: app_id,
        claims,
        saml_roles: None,
    })
}

async fn facebook_call(
    v: &FederatedVerifier,
    spec: &ProviderSpec,
    url: &Url,
    query: &[(&str, &str)],
) -> Result<Map<String, Value>, LoginError> {
    let answer = v
        .http
        .get(url, query, None)
        .await
        .map_err(|e| unreachable_error(spec, &e))?;
    if answer.status == StatusCode::OK {
        return answer
            .json_object()
            .map_err(|e| unreachable_error(spec, &e));
    }
    Err(facebook_error(spec, &answer))
}

/// Graph errors: code 190 (invalid/expired OAuth token), 102 (session) and
/// 2500 (no active token) are the token's fault; anything else (rate
/// limits, 5xx) is the provider's.
fn facebook_error(spec: &ProviderSpec, answer: &Answer) -> LoginError {
    let error = answer
        .json_object()
        .ok()
        .and_then(|m| m.get("error").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    let code = error.get("code").and_then(Value::as_i64);
    let subcode = error.get("error_subcode").and_then(Value::as_i64);
    if answer.status.is_client_error() && matches!(code, Some(190 | 102 | 2500)) {
        if subcode == Some(463) {
            return LoginError::Rejected("The Facebook access token has expired.".into());
        }
        return LoginError::Rejected("The Facebook access token is not valid.".into());
    }
    unreachable_error(spec, &FetchError::Status(answer.status.as_u16()))
}

// ------------------------------------------------------- Login with Amazon

/// Login with Amazon: `GET <base>/auth/o2/tokeninfo?access_token=T`; its
/// `aud` (the client id) must be allowed and `exp` (seconds left) positive;
/// the subject is its `user_id`, or, when tokeninfo omits it,
/// `GET <base>/user/profile` (`Authorization: Bearer T`).
pub(crate) async fn amazon(
    v: &FederatedVerifier,
    spec: &ProviderSpec,
    token: &str,
) -> Result<VerifiedLogin, LoginError> {
    check_access_token(token, "Login with Amazon")?;
    let base = v.api_base(spec, AMAZON_API);
    let info_url = api_url(spec, &base, "auth/o2/tokeninfo")?;

    let answer = v
        .http
        .get(&info_url, &[("access_token", token)], None)
        .await
        .map_err(|e| unreachable_error(spec, &e))?;
    if answer.status != StatusCode::OK {
        return Err(amazon_error(spec, &answer));
    }
    let mut claims = answer
        .json_object()
        .map_err(|e| unreachable_error(spec, &e))?;

    let audience = match claims.get("aud") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(LoginError::MissingClaim("aud")),
    };
    if let Some(left) = claims.get("exp").and_then(Value::as_i64)
        && left <= 0
    {
        return Err(LoginError::Rejected(
            "The Login with Amazon access token has expired.".into(),
        ));
    }
    if !spec.audiences.contains(&audience) {
        return Err(LoginError::AudienceNotAllowed);
    }

    let subject = match claims.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            let profile_url = api_url(spec, &base, "user/profile")?;
            let answer = v
                .http
                .get(&profile_url, &[], Some(&format!("Bearer {token}")))
                .await
                .map_err(|e| unreachable_error(spec, &e))?;
            if answer.status != StatusCode::OK {
                return Err(amazon_error(spec, &answer));
            }
            let profile = answer
                .json_object()
                .map_err(|e| unreachable_error(spec, &e))?;
            let user_id = match profile.get("user_id") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err(nonsense(spec, "no user_id")),
            };
            for (k, val) in profile {
                claims.entry(k).or_insert(val);
            }
            user_id
        }
    };
    claims.insert("sub".into(), Value::String(subject.clone()));
    claims.insert("user_id".into(), Value::String(subject.clone()));
    Ok(VerifiedLogin {
        provider: spec.name.clone(),
        subject,
        audience,
        claims,
        saml_roles: None,
    })
}

/// LWA answers `{"error": "invalid_token" | "invalid_request" | ...}` with
/// 400/401 for tokens it refuses.
fn amazon_error(spec: &ProviderSpec, answer: &Answer) -> LoginError {
    let error = answer
        .json_object()
        .ok()
        .and_then(|m| m.get("error").and_then(Value::as_str).map(str::to_owned));
    if answer.status.is_client_error()
        && matches!(
            error.as_deref(),
            Some("invalid_token" | "invalid_request" | "insufficient_scope")
        )
    {
        return LoginError::Rejected(
            "The Login with Amazon access token is not valid or has expired.".into(),
        );
    }
    unreachable_error(spec, &FetchError::Status(answer.status.as_u16()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_shapes() {
        assert!(plausible_access_token("Atza|IQEBLjAsAhR"));
        assert!(plausible_access_token("EAAGm0PX4ZCpsBA"));
        assert!(!plausible_access_token(""));
        assert!(!plausible_access_token("a b"));
        assert!(!plausible_access_token("a\nb"));
        assert!(!plausible_access_token("tök"));
        assert!(!plausible_access_token(
            &"a".repeat(MAX_ACCESS_TOKEN_LEN + 1)
        ));
    }

    #[test]
    fn endpoints_keep_base_path() {
        let u = endpoint("https://graph.facebook.com/v19.0/", "me").map(|u| u.to_string());
        assert_eq!(
            u.ok().as_deref(),
            Some("https://graph.facebook.com/v19.0/me")
        );
        assert!(endpoint("http://graph.facebook.com", "me").is_err());
    }
}
