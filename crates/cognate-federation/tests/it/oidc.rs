//! JWT checks: good tokens, every kind of bad one, order of checks,
//! audiences, issuers.

use cognate_core::federation::{LoginError, ProviderKind};
use cognate_testkit::{Alg, BadToken, OidcOptions, OidcProvider, unix_now};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn good_token_gives_subject_audience_claims() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["other", "client-1"]);
    let token = idp.id_token(json!({"sub": "u1", "aud": "client-1", "email": "u1@example.com"}));
    let login = verify(&v, &spec, &token).await.unwrap();
    assert_eq!(login.provider, idp.logins_key());
    assert_eq!(login.subject, "u1");
    assert_eq!(login.audience, "client-1");
    assert_eq!(login.claims["email"], "u1@example.com");
    assert_eq!(login.claims["iss"], idp.issuer());
}

#[tokio::test]
async fn every_algorithm_verifies() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    // Create all keys first so one JWKS fetch sees them all.
    for alg in Alg::ALL {
        idp.current_kid(alg);
    }
    for alg in Alg::ALL {
        let token = idp.sign(alg, json!({"sub": "u", "aud": "c"}));
        let login = verify(&v, &spec, &token).await;
        assert!(login.is_ok(), "{alg:?}: {login:?}");
    }
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn es256_token() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    let token = idp.sign(Alg::ES256, json!({"sub": "ec-user", "aud": "c"}));
    assert_eq!(verify(&v, &spec, &token).await.unwrap().subject, "ec-user");
    // An ES256 header naming the RSA key is refused.
    let rsa_kid = idp.current_kid(Alg::RS256);
    let token = idp.sign_with_header(
        Alg::ES256,
        json!({"kid": rsa_kid}),
        json!({"sub": "u", "aud": "c"}),
    );
    assert_eq!(
        verify(&v, &spec, &token).await,
        Err(LoginError::BadSignature)
    );
}

fn expected(kind: BadToken, err: &LoginError) -> bool {
    match kind {
        BadToken::Expired => matches!(err, LoginError::Expired { .. }),
        BadToken::NotYetValid | BadToken::IssuedInFuture => {
            matches!(err, LoginError::NotYetValid { .. })
        }
        BadToken::WrongAudience => *err == LoginError::AudienceNotAllowed,
        BadToken::WrongIssuer => *err == LoginError::IssuerMismatch,
        BadToken::TamperedSignature
        | BadToken::TamperedPayload
        | BadToken::AlgNone
        | BadToken::Hs256WithPublicKey
        | BadToken::UnknownKid
        | BadToken::AlgMismatch => *err == LoginError::BadSignature,
        BadToken::Garbage => *err == LoginError::Malformed,
    }
}

#[tokio::test]
async fn every_bad_kind_is_refused_with_its_error() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["client-1"]);
    for kind in BadToken::ALL {
        let token = idp.bad_token(kind, json!({"sub": "u1", "aud": "client-1"}));
        let err = verify(&v, &spec, &token).await.unwrap_err();
        assert!(expected(kind, &err), "{kind:?} gave {err:?}");
        assert_no_token_in(&err, &token);
    }
}

#[tokio::test]
async fn messages_match_the_reference() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["client-1"]);
    let claims = json!({"sub": "u1", "aud": "client-1"});
    let msg = |r: Result<_, LoginError>| r.unwrap_err().to_string();

    let m = msg(verify(&v, &spec, "garbage").await);
    assert_eq!(
        m,
        "Invalid login token. Not a valid OpenId Connect identity token."
    );
    let m = msg(verify(
        &v,
        &spec,
        &idp.bad_token(BadToken::WrongIssuer, claims.clone()),
    )
    .await);
    assert_eq!(m, "Invalid login token. Issuer doesn't match providerName");
    let m = msg(verify(&v, &spec, &idp.id_token(json!({"sub": "u1"}))).await);
    assert_eq!(m, "Invalid login token. Missing a required claim: aud");
    let m = msg(verify(
        &v,
        &spec,
        &idp.bad_token(BadToken::TamperedSignature, claims.clone()),
    )
    .await);
    assert_eq!(m, "Invalid login token. Couldn't verify signed token.");
    let m = msg(verify(
        &v,
        &spec,
        &idp.bad_token(BadToken::WrongAudience, claims.clone()),
    )
    .await);
    assert_eq!(
        m,
        "Token is not from a supported provider of this identity pool."
    );

    let exp = unix_now() - 3600;
    let token = idp.id_token(json!({"sub": "u1", "aud": "client-1", "iat": exp - 60, "exp": exp}));
    match verify(&v, &spec, &token).await.unwrap_err() {
        e @ LoginError::Expired { now, exp: e_exp } => {
            assert_eq!(e_exp, exp);
            assert!(now >= exp + 3600 - 5);
            assert_eq!(
                e.to_string(),
                format!("Invalid login token. Token expired: {now} >= {exp}")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn missing_claims() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    let cases = [
        (
            json!({"sub": "u", "aud": "c", "iss": null}),
            LoginError::MissingClaim("iss"),
        ),
        (json!({"sub": "u"}), LoginError::MissingClaim("aud")),
        (
            json!({"sub": "u", "aud": []}),
            LoginError::MissingClaim("aud"),
        ),
        (json!({"aud": "c"}), LoginError::MissingClaim("sub")),
        (
            json!({"sub": "", "aud": "c"}),
            LoginError::MissingClaim("sub"),
        ),
        (
            json!({"sub": "u", "aud": "c", "exp": null}),
            LoginError::MissingClaim("exp"),
        ),
        (
            json!({"sub": "u", "aud": "c", "exp": "tomorrow"}),
            LoginError::Malformed,
        ),
        (
            json!({"sub": "u", "aud": "c", "iss": 42}),
            LoginError::IssuerMismatch,
        ),
    ];
    for (claims, want) in cases {
        let token = idp.id_token(claims.clone());
        assert_eq!(verify(&v, &spec, &token).await, Err(want), "{claims}");
    }
}

#[tokio::test]
async fn five_minutes_of_clock_skew() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    let now = unix_now();
    let ok = [
        json!({"sub": "u", "aud": "c", "iat": now - 400, "exp": now - 60}),
        json!({"sub": "u", "aud": "c", "exp": now - 280}),
        json!({"sub": "u", "aud": "c", "nbf": now + 200}),
        json!({"sub": "u", "aud": "c", "iat": now + 200}),
        json!({"sub": "u", "aud": "c", "exp": (now + 100) as f64 + 0.5}),
    ];
    for claims in ok {
        let token = idp.id_token(claims.clone());
        assert!(verify(&v, &spec, &token).await.is_ok(), "{claims}");
    }
    let token = idp.id_token(json!({"sub": "u", "aud": "c", "iat": now - 900, "exp": now - 320}));
    assert!(matches!(
        verify(&v, &spec, &token).await,
        Err(LoginError::Expired { .. })
    ));
    let token = idp.id_token(json!({"sub": "u", "aud": "c", "nbf": now + 320}));
    assert!(matches!(
        verify(&v, &spec, &token).await,
        Err(LoginError::NotYetValid { nbf, .. }) if nbf == now + 320
    ));
}

/// Claim-based verdicts never come before the signature: an unsigned or
/// forged token learns only "not valid", "wrong issuer", "no aud" (things
/// its author knows) or "couldn't verify".
#[tokio::test]
async fn signature_before_claims() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    let now = unix_now();
    let expired_unsigned = idp.bad_token(
        BadToken::AlgNone,
        json!({"sub": "u", "aud": "c", "iat": now - 7200, "exp": now - 3600}),
    );
    assert_eq!(
        verify(&v, &spec, &expired_unsigned).await,
        Err(LoginError::BadSignature)
    );
    let wrong_aud_unsigned = idp.bad_token(BadToken::AlgNone, json!({"sub": "u", "aud": "zzz"}));
    assert_eq!(
        verify(&v, &spec, &wrong_aud_unsigned).await,
        Err(LoginError::BadSignature)
    );
    let no_sub_forged = idp.bad_token(BadToken::UnknownKid, json!({"aud": "c"}));
    assert_eq!(
        verify(&v, &spec, &no_sub_forged).await,
        Err(LoginError::BadSignature)
    );
    // Pre-signature refusals.
    let wrong_iss_unsigned = idp.bad_token(
        BadToken::AlgNone,
        json!({"sub": "u", "aud": "c", "iss": "https://elsewhere.example"}),
    );
    assert_eq!(
        verify(&v, &spec, &wrong_iss_unsigned).await,
        Err(LoginError::IssuerMismatch)
    );
    let no_aud_unsigned = idp.bad_token(BadToken::AlgNone, json!({"sub": "u"}));
    assert_eq!(
        verify(&v, &spec, &no_aud_unsigned).await,
        Err(LoginError::MissingClaim("aud"))
    );
    // Expired and badly signed: the signature speaks first.
    let expired_tampered = idp.bad_token(
        BadToken::TamperedSignature,
        json!({"sub": "u", "aud": "c", "iat": now - 7200, "exp": now - 3600}),
    );
    assert_eq!(
        verify(&v, &spec, &expired_tampered).await,
        Err(LoginError::BadSignature)
    );
}

#[tokio::test]
async fn header_oddities() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    let claims = json!({"sub": "u", "aud": "c"});
    // No kid: every compatible key is tried.
    let token = idp.sign_with_header(Alg::RS256, json!({"kid": null}), claims.clone());
    assert!(verify(&v, &spec, &token).await.is_ok());
    // Critical extensions are not understood.
    let token = idp.sign_with_header(
        Alg::RS256,
        json!({"crit": ["exp"], "exp": 1}),
        claims.clone(),
    );
    assert_eq!(
        verify(&v, &spec, &token).await,
        Err(LoginError::BadSignature)
    );
    // A kid that is not a string.
    let token = idp.sign_with_header(Alg::RS256, json!({"kid": 7}), claims.clone());
    assert_eq!(
        verify(&v, &spec, &token).await,
        Err(LoginError::BadSignature)
    );
    for alg in ["HS256", "HS512", "none", "None", "RS1", "EdDSA", ""] {
        let token = idp.sign_with_header(Alg::RS256, json!({"alg": alg}), claims.clone());
        assert_eq!(
            verify(&v, &spec, &token).await,
            Err(LoginError::BadSignature),
            "{alg}"
        );
    }
    // JWE-shaped and other non-JWS strings.
    for junk in ["a.b.c.d.e", "..", "e30.e30", "e30.e30.e30.", "W10.e30.", ""] {
        assert_eq!(
            verify(&v, &spec, junk).await,
            Err(LoginError::Malformed),
            "{junk}"
        );
    }
    // `{}.{}.`: a JWS, but without iss.
    assert_eq!(
        verify(&v, &spec, "e30.e30.").await,
        Err(LoginError::MissingClaim("iss"))
    );
}

#[tokio::test]
async fn keys_without_alg_accept_any_fitting_algorithm() {
    let idp = OidcProvider::start().await;
    idp.set_publish_alg(false);
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    // RS512 header, the RS256 key: fine when the key states no alg.
    let token = idp.bad_token(BadToken::AlgMismatch, json!({"sub": "u", "aud": "c"}));
    assert!(verify(&v, &spec, &token).await.is_ok());
}

#[tokio::test]
async fn azp_and_audience_lists() {
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["web", "android"]);
    let t = idp.id_token(json!({"sub": "u", "aud": ["x", "web"]}));
    assert_eq!(verify(&v, &spec, &t).await.unwrap().audience, "web");
    let t = idp.id_token(json!({"sub": "u", "aud": "web", "azp": "android"}));
    assert_eq!(verify(&v, &spec, &t).await.unwrap().audience, "android");
    let t = idp.id_token(json!({"sub": "u", "aud": "other", "azp": "android"}));
    assert_eq!(verify(&v, &spec, &t).await.unwrap().audience, "android");
    // When azp is present it decides.
    let t = idp.id_token(json!({"sub": "u", "aud": "web", "azp": "ios"}));
    assert_eq!(
        verify(&v, &spec, &t).await,
        Err(LoginError::AudienceNotAllowed)
    );
    let t = idp.id_token(json!({"sub": "u", "aud": ["a", "b"]}));
    assert_eq!(
        verify(&v, &spec, &t).await,
        Err(LoginError::AudienceNotAllowed)
    );
    // A provider with no client ids configured accepts nothing.
    let none = oidc_spec(&idp, &[]);
    let t = idp.id_token(json!({"sub": "u", "aud": "web"}));
    assert_eq!(
        verify(&v, &none, &t).await,
        Err(LoginError::AudienceNotAllowed)
    );
}

#[tokio::test]
async fn google_and_apple_via_overrides() {
    let google = OidcProvider::start().await;
    let apple = OidcProvider::start().await;
    let v = verifier(
        config()
            .with_provider("accounts.google.com", google.issuer())
            .with_provider("appleid.apple.com", apple.issuer()),
    );
    let gspec = spec("accounts.google.com", ProviderKind::Google, &["g-client"]);
    let aspec = spec(
        "appleid.apple.com",
        ProviderKind::Apple,
        &["com.example.app"],
    );

    let t = google.id_token(json!({"sub": "g1", "aud": "g-client"}));
    assert_eq!(verify(&v, &gspec, &t).await.unwrap().subject, "g1");
    // Google may omit the scheme in iss.
    let t = google.id_token(json!({"sub": "g2", "aud": "g-client", "iss": google.logins_key()}));
    assert_eq!(verify(&v, &gspec, &t).await.unwrap().subject, "g2");

    let t = apple.id_token(json!({"sub": "a1", "aud": "com.example.app"}));
    assert_eq!(verify(&v, &aspec, &t).await.unwrap().subject, "a1");
    // Apple does not get Google's leniency, and the issuers don't mix.
    let t =
        apple.id_token(json!({"sub": "a1", "aud": "com.example.app", "iss": apple.logins_key()}));
    assert_eq!(
        verify(&v, &aspec, &t).await,
        Err(LoginError::IssuerMismatch)
    );
    let t = google.id_token(json!({"sub": "g1", "aud": "com.example.app"}));
    assert_eq!(
        verify(&v, &aspec, &t).await,
        Err(LoginError::IssuerMismatch)
    );
}

#[tokio::test]
async fn default_issuers_without_overrides() {
    // No network: these fail at the issuer check.
    let idp = OidcProvider::start().await;
    let v = verifier(config());
    for (name, kind) in [
        ("accounts.google.com", ProviderKind::Google),
        ("appleid.apple.com", ProviderKind::Apple),
        (
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
            ProviderKind::CognitoUserPool,
        ),
    ] {
        let s = spec(name, kind, &["c"]);
        let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
        assert_eq!(
            verify(&v, &s, &t).await,
            Err(LoginError::IssuerMismatch),
            "{name}"
        );
    }
    assert_eq!(idp.discovery_fetches() + idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn issuer_with_path_and_trailing_slash() {
    let idp = OidcProvider::start_with(OidcOptions::default().path_prefix("/realms/test")).await;
    assert!(idp.issuer().ends_with("/realms/test"));
    let v = verifier(config());
    let spec = oidc_spec(&idp, &["c"]);
    let t = idp.id_token(json!({"sub": "u", "aud": "c"}));
    assert!(verify(&v, &spec, &t).await.is_ok());
    let t = idp.id_token(json!({"sub": "u", "aud": "c", "iss": format!("{}/", idp.issuer())}));
    assert!(verify(&v, &spec, &t).await.is_ok());
    // The OIDC key for a provider registered under another URL.
    let t = idp.id_token(json!({"sub": "u", "aud": "c", "iss": idp.base_url()}));
    assert_eq!(verify(&v, &spec, &t).await, Err(LoginError::IssuerMismatch));
}

#[tokio::test]
async fn digits_is_refused() {
    let v = verifier(config());
    let s = spec("www.digits.com", ProviderKind::Digits, &["key;secret"]);
    let err = verify(&v, &s, "token;secret").await.unwrap_err();
    assert!(matches!(err, LoginError::Rejected(_)));
    assert_eq!(
        err.to_string(),
        "Invalid login token. Digits logins are not supported: the service was shut down in 2017."
    );
}
