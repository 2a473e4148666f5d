//! Facebook and Login with Amazon access tokens, and Twitter's OAuth 1.0a
//! logins, against their fixtures.

use cognate_core::federation::{LoginError, ProviderKind, ProviderSpec};
use cognate_testkit::{Behavior, FacebookGraph, LoginWithAmazon, TwitterApi};
use serde_json::json;

use crate::common::*;

fn fb_spec(apps: &[&str]) -> ProviderSpec {
    spec("graph.facebook.com", ProviderKind::Facebook, apps)
}

fn lwa_spec(clients: &[&str]) -> ProviderSpec {
    spec("www.amazon.com", ProviderKind::Amazon, clients)
}

fn rejected(r: Result<cognate_core::federation::VerifiedLogin, LoginError>) -> String {
    match r {
        Err(e @ LoginError::Rejected(_)) => e.to_string(),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn facebook_tokens() {
    let fb = FacebookGraph::start().await;
    fb.set_user_profile("10001", json!({"name": "Ada", "email": "ada@example.com"}));
    let v = verifier(config().with_provider("graph.facebook.com", fb.base_url()));
    let s = fb_spec(&["app-1", "app-2"]);

    let good = fb.issue_token("app-2", "10001");
    let login = verify(&v, &s, &good).await.unwrap();
    assert_eq!(login.subject, "10001");
    assert_eq!(login.audience, "app-2");
    assert_eq!(login.claims["name"], "Ada");
    assert_eq!(login.claims["sub"], "10001");
    assert_eq!(login.claims["aud"], "app-2");

    let other_app = fb.issue_token("app-9", "10001");
    assert_eq!(
        verify(&v, &s, &other_app).await,
        Err(LoginError::AudienceNotAllowed)
    );

    let expired = fb.issue_expired_token("app-1", "10001");
    let m = rejected(verify(&v, &s, &expired).await);
    assert!(m.contains("expired"), "{m}");
    assert!(!m.contains(&expired));

    let m = rejected(verify(&v, &s, "EAAnot-a-real-token").await);
    assert!(m.contains("not valid"), "{m}");

    fb.revoke(&good);
    rejected(verify(&v, &s, &good).await);

    // Not even sent.
    let before = fb.requests();
    rejected(verify(&v, &s, "has spaces in it").await);
    rejected(verify(&v, &s, "").await);
    assert_eq!(fb.requests(), before);
}

#[tokio::test]
async fn facebook_versioned_base_url() {
    let fb = FacebookGraph::start().await;
    let base = format!("{}/v19.0", fb.base_url());
    let v = verifier(config().with_provider("graph.facebook.com", &base));
    let t = fb.issue_token("app-1", "42");
    assert_eq!(
        verify(&v, &fb_spec(&["app-1"]), &t).await.unwrap().subject,
        "42"
    );
}

#[tokio::test]
async fn facebook_down() {
    let fb = FacebookGraph::start().await;
    let v = verifier(config().with_provider("graph.facebook.com", fb.base_url()));
    let s = fb_spec(&["app-1"]);
    let t = fb.issue_token("app-1", "42");
    for behavior in [
        Behavior::Status(500),
        Behavior::Status(429),
        Behavior::Malformed,
    ] {
        fb.set_behavior(behavior.clone());
        let err = verify(&v, &s, &t).await.unwrap_err();
        assert!(
            matches!(err, LoginError::ProviderUnreachable(_)),
            "{behavior:?}: {err:?}"
        );
        assert!(!err.to_string().contains(&t));
        assert!(!format!("{err:?}").contains(&t));
    }
}

#[tokio::test]
async fn amazon_tokens() {
    let lwa = LoginWithAmazon::start().await;
    let v = verifier(config().with_provider("www.amazon.com", lwa.base_url()));
    let s = lwa_spec(&["amzn1.application-oa2-client.abc"]);

    let good = lwa.issue_token("amzn1.application-oa2-client.abc", "amzn1.account.U1");
    assert!(good.starts_with("Atza|"));
    let login = verify(&v, &s, &good).await.unwrap();
    assert_eq!(login.subject, "amzn1.account.U1");
    assert_eq!(login.audience, "amzn1.application-oa2-client.abc");
    assert_eq!(login.claims["aud"], "amzn1.application-oa2-client.abc");
    assert_eq!(login.claims["sub"], "amzn1.account.U1");

    let other = lwa.issue_token("amzn1.application-oa2-client.zzz", "amzn1.account.U1");
    assert_eq!(
        verify(&v, &s, &other).await,
        Err(LoginError::AudienceNotAllowed)
    );

    let expired = lwa.issue_expired_token("amzn1.application-oa2-client.abc", "amzn1.account.U1");
    let m = rejected(verify(&v, &s, &expired).await);
    assert!(!m.contains(&expired));
    rejected(verify(&v, &s, "Atza|unknown").await);
}

#[tokio::test]
async fn amazon_subject_from_profile() {
    let lwa = LoginWithAmazon::start().await;
    lwa.set_tokeninfo_includes_user_id(false);
    lwa.set_user_profile(
        "amzn1.account.U2",
        json!({"name": "Bo", "email": "bo@example.com"}),
    );
    let v = verifier(config().with_provider("www.amazon.com", lwa.base_url()));
    let s = lwa_spec(&["client"]);
    let t = lwa.issue_token("client", "amzn1.account.U2");
    let login = verify(&v, &s, &t).await.unwrap();
    assert_eq!(login.subject, "amzn1.account.U2");
    assert_eq!(login.claims["name"], "Bo");
    assert_eq!(lwa.requests(), 2);
}

#[tokio::test]
async fn amazon_down() {
    let lwa = LoginWithAmazon::start().await;
    let v = verifier(config().with_provider("www.amazon.com", lwa.base_url()));
    let s = lwa_spec(&["client"]);
    let t = lwa.issue_token("client", "u");
    for behavior in [
        Behavior::Status(503),
        Behavior::Malformed,
        Behavior::Huge(2 << 20),
    ] {
        lwa.set_behavior(behavior.clone());
        let err = verify(&v, &s, &t).await.unwrap_err();
        assert!(
            matches!(err, LoginError::ProviderUnreachable(_)),
            "{behavior:?}: {err:?}"
        );
        assert!(!err.to_string().contains(&t));
    }
}

fn twitter_spec(app: &str) -> ProviderSpec {
    spec("api.twitter.com", ProviderKind::Twitter, &[app])
}

/// Neither the login nor the app's secret may appear in an error.
fn assert_no_secrets(err: &LoginError, secrets: &[&str]) {
    for secret in secrets.iter().flat_map(|s| s.split(';')) {
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!format!("{err:?}").contains(secret), "{err:?}");
    }
}

#[tokio::test]
async fn twitter_logins_are_checked_with_signed_requests() {
    let tw = TwitterApi::start().await;
    let v = verifier(config().with_provider("api.twitter.com", tw.base_url()));
    let app = tw.register_app();
    let (consumer_key, _) = app.split_once(';').unwrap();
    let s = twitter_spec(&app);

    let login = tw.issue_token(consumer_key, 783214, "twitterapi");
    let verified = verify(&v, &s, &login).await.unwrap();
    assert_eq!(verified.subject, "783214");
    assert_eq!(verified.audience, consumer_key);
    assert_eq!(verified.claims["sub"], "783214");
    assert_eq!(verified.claims["screen_name"], "twitterapi");
    assert_eq!(verified.claims["aud"], consumer_key);
    assert!(verified.claims.get("entities").is_none());
    // Each request is signed afresh (the fixture refuses a reused nonce).
    assert_eq!(verify(&v, &s, &login).await.unwrap().subject, "783214");

    // The wrong token secret, or the app's wrong consumer secret: the
    // signature does not verify and Twitter refuses.
    let (token, _) = login.split_once(';').unwrap();
    let forged = format!("{token};not-the-secret");
    let err = verify(&v, &s, &forged).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid login token. The Twitter access token is not valid."
    );
    assert_no_secrets(&err, &[&forged, &app]);
    let wrong_app = format!("{consumer_key};not-the-consumer-secret");
    let err = verify(&v, &twitter_spec(&wrong_app), &login)
        .await
        .unwrap_err();
    assert!(matches!(err, LoginError::Rejected(_)), "{err:?}");
    assert_no_secrets(&err, &[&login, &wrong_app]);

    // A token of another app, and a revoked one.
    let other_app = tw.register_app();
    let (other_key, _) = other_app.split_once(';').unwrap();
    let theirs = tw.issue_token(other_key, 5, "other");
    rejected(verify(&v, &s, &theirs).await);
    tw.revoke(&login);
    rejected(verify(&v, &s, &login).await);
}

#[tokio::test]
async fn twitter_malformed_logins_and_apps_are_not_sent() {
    let tw = TwitterApi::start().await;
    let v = verifier(config().with_provider("api.twitter.com", tw.base_url()));
    let app = tw.register_app();
    let (consumer_key, _) = app.split_once(';').unwrap();
    let login = tw.issue_token(consumer_key, 1, "u");
    for bad in [
        "",
        "token-only",
        "a;b;c",
        ";secret",
        "token;",
        "to ken;secret",
    ] {
        let m = rejected(verify(&v, &twitter_spec(&app), bad).await);
        assert_eq!(
            m,
            "Invalid login token. A Twitter login is the access token and its secret, separated by ';'."
        );
    }
    let m = rejected(verify(&v, &twitter_spec(consumer_key), &login).await);
    assert!(m.contains("consumerKey;consumerSecret"), "{m}");
    assert_eq!(tw.requests(), 0);
}

#[tokio::test]
async fn twitter_down() {
    let tw = TwitterApi::start().await;
    let v = verifier(config().with_provider("api.twitter.com", tw.base_url()));
    let app = tw.register_app();
    let (consumer_key, _) = app.split_once(';').unwrap();
    let login = tw.issue_token(consumer_key, 1, "u");
    for behavior in [
        Behavior::Status(503),
        Behavior::Status(429),
        Behavior::Malformed,
    ] {
        tw.set_behavior(behavior.clone());
        let err = verify(&v, &twitter_spec(&app), &login).await.unwrap_err();
        assert!(
            matches!(err, LoginError::ProviderUnreachable(_)),
            "{behavior:?}: {err:?}"
        );
        assert_no_secrets(&err, &[&login, &app]);
    }
}
