//! The fixtures serve what they claim, and their tokens verify with plain
//! aws-lc-rs (independently of cognate-federation).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognate_testkit::{
    Alg, BadToken, Behavior, CognitoUserPool, FacebookGraph, LoginWithAmazon, OidcProvider,
};
use serde_json::{Value, json};

async fn get(url: &str) -> (u16, Value) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn part(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
}

fn verifies(jwks: &Value, token: &str) -> bool {
    if token.split('.').count() != 3 {
        return false;
    }
    let header = part(token, 0);
    let kid = header["kid"].as_str().unwrap_or_default();
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
    else {
        return false;
    };
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let b = |m: &str| URL_SAFE_NO_PAD.decode(key[m].as_str().unwrap()).unwrap();
    match header["alg"].as_str().unwrap() {
        "RS256" => RsaPublicKeyComponents {
            n: b("n"),
            e: b("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &sig,
        )
        .is_ok(),
        "RS512" => RsaPublicKeyComponents {
            n: b("n"),
            e: b("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA512,
            input.as_bytes(),
            &sig,
        )
        .is_ok(),
        "ES256" => {
            let mut point = vec![4u8];
            point.extend(b("x"));
            point.extend(b("y"));
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &sig)
                .is_ok()
        }
        _ => false,
    }
}

#[tokio::test]
async fn oidc_provider_serves_discovery_and_keys() {
    let idp = OidcProvider::start().await;
    assert!(idp.issuer().starts_with("http://127.0.0.1:"));
    let (status, doc) = get(&idp.discovery_url()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], idp.issuer());
    assert_eq!(doc["jwks_uri"], idp.jwks_url());
    let (_, jwks) = get(&idp.jwks_url()).await;
    assert_eq!(jwks, idp.jwks());
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (1, 1));

    let t = idp.id_token(json!({"sub": "u1", "aud": "client-1"}));
    let claims = part(&t, 1);
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["sub"], "u1");
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    assert!(verifies(&idp.jwks(), &t));
    for alg in [Alg::RS512, Alg::ES256] {
        let t = idp.sign(alg, json!({"sub": "u"}));
        assert_eq!(part(&t, 0)["alg"], alg.name());
        assert!(verifies(&idp.jwks(), &t), "{alg:?}");
    }
    // null removes a defaulted claim.
    let t = idp.id_token(json!({"sub": "u", "exp": null}));
    assert!(part(&t, 1).get("exp").is_none());
}

#[tokio::test]
async fn bad_tokens_are_bad() {
    let idp = OidcProvider::start().await;
    let jwks = idp.jwks();
    let claims = json!({"sub": "u", "aud": "c"});
    for kind in BadToken::ALL {
        let verified = verifies(&jwks, &idp.bad_token(kind, claims.clone()));
        if kind.is_forged() {
            // The mismatched algorithm is a real signature of a published key.
            assert!(!verified || kind == BadToken::AlgMismatch, "{kind:?}");
        } else {
            // Signed correctly, wrong claims.
            assert!(verified, "{kind:?}");
        }
    }
    assert_eq!(
        part(&idp.bad_token(BadToken::AlgNone, claims.clone()), 0)["alg"],
        "none"
    );
    assert_eq!(
        part(&idp.bad_token(BadToken::TamperedPayload, claims.clone()), 1)["sub"],
        "u-tampered"
    );
}

#[tokio::test]
async fn rotation_and_behaviours() {
    let idp = OidcProvider::start().await;
    let old = idp.current_kid(Alg::RS256);
    let new = idp.rotate();
    assert_ne!(old, new);
    assert_eq!(idp.jwks()["keys"].as_array().unwrap().len(), 2);
    assert_eq!(part(&idp.id_token(json!({})), 0)["kid"], new);
    idp.retire_old_keys();
    assert_eq!(idp.jwks()["keys"].as_array().unwrap().len(), 1);

    idp.set_jwks_behavior(Behavior::Status(503));
    assert_eq!(get(&idp.jwks_url()).await.0, 503);
    idp.set_jwks_behavior(Behavior::Huge(10_000));
    let body = reqwest::get(idp.jwks_url())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(body.len() >= 10_000);
    idp.set_jwks_behavior(Behavior::Malformed);
    assert_eq!(get(&idp.jwks_url()).await.1, Value::Null);
    assert_eq!(idp.jwks_fetches(), 3);
}

#[tokio::test]
async fn user_pool_shape() {
    let pool = CognitoUserPool::start_with_pool_id("us-east-1_Fixture1").await;
    assert_eq!(
        pool.issuer(),
        format!("{}/us-east-1_Fixture1", pool.base_url())
    );
    assert_eq!(
        pool.jwks_url(),
        format!("{}/.well-known/jwks.json", pool.issuer())
    );
    assert_eq!(get(&pool.jwks_url()).await.0, 200);
    let id = part(
        &pool.id_token(json!({"sub": "s", "aud": "c", "cognito:groups": ["g"]})),
        1,
    );
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["cognito:username"], "s");
    assert_eq!(id["cognito:groups"], json!(["g"]));
    let access = part(&pool.access_token(json!({"sub": "s", "aud": "c"})), 1);
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], "c");
    assert!(access.get("aud").is_none());
}

#[tokio::test]
async fn facebook_and_amazon_tables() {
    let fb = FacebookGraph::start().await;
    let t = fb.issue_token("app", "77");
    let (s, me) = get(&format!("{}/me?access_token={t}", fb.base_url())).await;
    assert_eq!((s, me["id"].clone()), (200, json!("77")));
    let (s, app) = get(&format!("{}/v19.0/app?access_token={t}", fb.base_url())).await;
    assert_eq!((s, app["id"].clone()), (200, json!("app")));
    let (s, dbg) = get(&format!(
        "{}/debug_token?input_token={t}&access_token=app|secret",
        fb.base_url()
    ))
    .await;
    assert_eq!((s, dbg["data"]["is_valid"].clone()), (200, json!(true)));
    let expired = fb.issue_expired_token("app", "77");
    let (s, err) = get(&format!("{}/me?access_token={expired}", fb.base_url())).await;
    assert_eq!(
        (
            s,
            err["error"]["code"].clone(),
            err["error"]["error_subcode"].clone()
        ),
        (400, json!(190), json!(463))
    );
    assert_eq!(fb.requests(), 4);

    let lwa = LoginWithAmazon::start().await;
    let t = lwa.issue_token("client", "amzn1.account.X");
    let enc = t.replace('|', "%7C");
    let (s, info) = get(&format!(
        "{}/auth/o2/tokeninfo?access_token={enc}",
        lwa.base_url()
    ))
    .await;
    assert_eq!(s, 200);
    assert_eq!(info["aud"], "client");
    assert_eq!(info["user_id"], "amzn1.account.X");
    assert!(info["exp"].as_i64().unwrap() > 3500);
    let profile = reqwest::Client::new()
        .get(format!("{}/user/profile", lwa.base_url()))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status().as_u16(), 200);
    let (s, err) = get(&format!(
        "{}/auth/o2/tokeninfo?access_token=nope",
        lwa.base_url()
    ))
    .await;
    assert_eq!((s, err["error"].clone()), (400, json!("invalid_token")));
}
