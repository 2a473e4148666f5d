//! The signing algorithm setting: ES256 OpenID tokens verified by an
//! independent JWT library against the served JWKS and accepted by STS, and
//! a switch from RS512 on restart that keeps earlier tokens valid.

use cognate::Settings;
use cognate_core::keys::SigningAlgorithm;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::common::{
    TestServer, code, create_pool, create_role, discovery_and_jwks, guest_id, trust,
    verify_with_jwks,
};

/// A restart binds another port: a fixed issuer keeps earlier tokens ours.
const ISSUER: &str = "https://cognate.test";

fn es256(settings: &mut Settings) {
    settings.signing_algorithm = SigningAlgorithm::Es256;
}

fn fixed_issuer(settings: &mut Settings) {
    settings.issuer = Some(ISSUER.into());
}

fn fixed_issuer_es256(settings: &mut Settings) {
    fixed_issuer(settings);
    es256(settings);
}

struct Guest {
    pool_id: String,
    role_arn: String,
    identity_id: String,
}

/// A guest pool with a guest role, and one guest.
async fn guest(s: &TestServer) -> Guest {
    let pool_id = create_pool(s, "signing", true).await;
    let role_arn = create_role(s, "SigningGuest", &trust(&pool_id, "unauthenticated")).await;
    let identity_id = guest_id(&s.anonymous_cognito(), &pool_id).await;
    Guest {
        pool_id,
        role_arn,
        identity_id,
    }
}

async fn open_id_token(s: &TestServer, g: &Guest) -> String {
    s.anonymous_cognito()
        .get_open_id_token()
        .identity_id(&g.identity_id)
        .send()
        .await
        .unwrap()
        .token()
        .unwrap()
        .to_string()
}

async fn assume(s: &TestServer, g: &Guest, token: &str) -> String {
    let out = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.role_arn)
        .role_session_name("signing")
        .web_identity_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.audience(), Some(g.pool_id.as_str()));
    out.subject_from_web_identity_token().unwrap().to_string()
}

#[tokio::test]
async fn es256_tokens_verify_against_the_jwks_and_assume_roles() {
    let s = TestServer::start_with(es256).await;
    let g = guest(&s).await;
    let token = open_id_token(&s, &g).await;

    let claims = verify_with_jwks(&s, &token, Algorithm::ES256, &g.pool_id).await;
    assert_eq!(claims["sub"], g.identity_id);
    assert_eq!(claims["amr"], json!(["unauthenticated"]));
    let (discovery, jwks) = discovery_and_jwks(&s).await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

    assert_eq!(assume(&s, &g, &token).await, g.identity_id);

    // The same token relabelled RS512 is refused by STS.
    let (header, rest) = token.split_once('.').unwrap();
    let mut forged: Value = serde_json::from_slice(&b64_decode(header)).unwrap();
    forged["alg"] = json!("RS512");
    let forged = format!("{}.{rest}", b64_encode(forged.to_string().as_bytes()));
    let err = s
        .anonymous_sts()
        .assume_role_with_web_identity()
        .role_arn(&g.role_arn)
        .role_session_name("forged")
        .web_identity_token(forged)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidIdentityToken");
}

#[tokio::test]
async fn switching_to_es256_on_restart_keeps_rs512_tokens_valid() {
    let s = TestServer::start_with(fixed_issuer).await;
    let g = guest(&s).await;
    let old = open_id_token(&s, &g).await;
    verify_with_jwks(&s, &old, Algorithm::RS512, &g.pool_id).await;

    let s = s.restart_with(fixed_issuer_es256).await;
    let new = open_id_token(&s, &g).await;
    verify_with_jwks(&s, &new, Algorithm::ES256, &g.pool_id).await;
    // The retired RSA key stays published, so the earlier token still
    // verifies, with jsonwebtoken and with STS.
    let (discovery, jwks) = discovery_and_jwks(&s).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS512", "ES256"])
    );
    verify_with_jwks(&s, &old, Algorithm::RS512, &g.pool_id).await;
    assert_eq!(assume(&s, &g, &old).await, g.identity_id);
    assert_eq!(assume(&s, &g, &new).await, g.identity_id);

    // Same setting again: no further rotation.
    let s = s.restart().await;
    let (_, jwks) = discovery_and_jwks(&s).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let again = open_id_token(&s, &g).await;
    assert_eq!(
        jsonwebtoken::decode_header(&again).unwrap().kid,
        jsonwebtoken::decode_header(&new).unwrap().kid
    );
}

fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
