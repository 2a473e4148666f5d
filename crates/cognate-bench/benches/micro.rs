//! Micro-benchmarks of the pieces on cognate's hot paths:
//! `cargo bench -p cognate-bench` (see docs/benchmarks.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use cognate_core::federation::{LoginVerifier, ProviderKind, ProviderSpec};
use cognate_core::keys::{KeyRing, KeySource, SealingKey, SigningAlgorithm};
use cognate_core::session::{Session, SessionSealer};
use cognate_core::trust::{WebIdentity, parse_trust_policy, trust_allows};
use cognate_federation::{FederatedVerifier, FederationConfig};
use cognate_policy::{Policy, PolicyKind, RequestContext, TRUST_POLICY_MAX_SIZE};
use cognate_testkit::OidcProvider;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const POOL_ID: &str = "us-east-1:0c6f9e1a-8b2d-4f3e-a7c5-1d9e2b3f4a5c";
const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/BenchUnauth";
const SECRET: &str = "benchSecretKey0000000000000000000000000000";

/// A DescribeIdentityPool request signed by aws-sigv4 (as the SDKs sign).
struct SignedRequest {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn signed_request() -> SignedRequest {
    let body = json!({"IdentityPoolId": POOL_ID}).to_string().into_bytes();
    let mut headers = vec![
        ("host".to_string(), "127.0.0.1:8085".to_string()),
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "x-amz-target".to_string(),
            "AWSCognitoIdentityService.DescribeIdentityPool".to_string(),
        ),
    ];
    let identity: Identity =
        Credentials::new("AKIABENCHADMIN000001", SECRET, None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-identity")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        "http://127.0.0.1:8085/",
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (added, _) = instructions.into_parts();
    for h in added {
        headers.push((h.name().to_string(), h.value().to_string()));
    }
    SignedRequest { headers, body }
}

fn sigv4(c: &mut Criterion) {
    let signed = signed_request();
    let headers: Vec<(&str, &str)> = signed
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = cognate_sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: &signed.body,
    };
    let now = SystemTime::now();
    let info = cognate_sigv4::parse(&request).unwrap().unwrap();
    cognate_sigv4::verify(&request, &info, SECRET, now).unwrap();
    let key = cognate_sigv4::signing_key(SECRET, &info.date, &info.region, &info.service);

    let mut g = c.benchmark_group("sigv4");
    g.bench_function("parse+verify", |b| {
        b.iter(|| {
            let info = cognate_sigv4::parse(black_box(&request)).unwrap().unwrap();
            cognate_sigv4::verify(&request, &info, SECRET, now).unwrap();
        })
    });
    g.bench_function("verify with cached signing key", |b| {
        b.iter(|| {
            cognate_sigv4::verify_with_signing_key(black_box(&request), &info, &key, now).unwrap();
        })
    });
    g.finish();
}

fn policy(c: &mut Criterion) {
    let doc = cognate_testkit::cognito_trust_policy(POOL_ID, "unauthenticated");
    let policy = Policy::parse(&doc, PolicyKind::Trust, TRUST_POLICY_MAX_SIZE).unwrap();
    let ctx =
        RequestContext::assume_role_with_web_identity("cognito-identity.amazonaws.com", ROLE_ARN)
            .with_key("cognito-identity.amazonaws.com:aud", POOL_ID)
            .with_key(
                "cognito-identity.amazonaws.com:sub",
                "us-east-1:7d2b1a4e-3f7c-4c1e-9a51-2f0b6c9d8e77",
            )
            .with_values("cognito-identity.amazonaws.com:amr", ["unauthenticated"]);
    assert!(policy.evaluate(&ctx).is_allowed());
    let amr = vec!["unauthenticated".to_string()];
    let who = WebIdentity {
        provider: "cognito-identity.amazonaws.com",
        audience: POOL_ID,
        subject: "us-east-1:7d2b1a4e-3f7c-4c1e-9a51-2f0b6c9d8e77",
        amr: &amr,
        tags_session: false,
    };
    let parse_and_allow = |doc: &str| {
        parse_trust_policy(doc).is_ok_and(|policy| trust_allows(&policy, ROLE_ARN, &who))
    };
    assert!(parse_and_allow(&doc));

    let mut g = c.benchmark_group("policy");
    g.bench_function("evaluate Cognito trust (parsed once)", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&ctx))))
    });
    g.bench_function("parse Cognito trust", |b| {
        b.iter(|| Policy::parse(black_box(&doc), PolicyKind::Trust, TRUST_POLICY_MAX_SIZE).unwrap())
    });
    g.bench_function("cognate_core::trust::trust_allows (parse+evaluate)", |b| {
        b.iter(|| assert!(parse_and_allow(black_box(&doc))))
    });
    g.finish();
}

fn token_validation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let idp = runtime.block_on(OidcProvider::start());
    let token = idp.id_token(json!({"sub": "bench-user-1", "aud": "bench-client"}));
    let verifier = Arc::new(FederatedVerifier::new(FederationConfig::default()).unwrap());
    let spec = ProviderSpec {
        name: idp.logins_key(),
        kind: ProviderKind::Oidc {
            url: idp.issuer().to_string(),
        },
        audiences: vec!["bench-client".to_string()],
    };
    // Warm the key cache (discovery + JWKS fetched once).
    runtime
        .block_on(verifier.verify(&spec, &token, SystemTime::now()))
        .unwrap();
    let fetches = idp.jwks_fetches();

    let mut g = c.benchmark_group("federation");
    g.bench_function("verify RS256 OIDC token (warm cache)", |b| {
        b.to_async(&runtime).iter(|| async {
            verifier
                .verify(&spec, black_box(&token), SystemTime::now())
                .await
                .unwrap()
        })
    });
    saml_verification(&mut g);
    g.finish();
    assert_eq!(idp.jwks_fetches(), fetches, "the JWKS cache stayed warm");
    drop(idp);
}

/// A SAML response as an IdP sends it (cognate-saml's signxml-signed
/// vector, exclusive C14N, RSA-SHA256), checked against its metadata at a
/// time inside its validity; metadata parsing is measured apart, since a
/// login pays both.
fn saml_verification(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    use base64::Engine;
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../cognate-saml/tests/vectors");
    let metadata = std::fs::read_to_string(format!("{vectors}/metadata.xml")).unwrap();
    let response = base64::engine::general_purpose::STANDARD.encode(
        std::fs::read_to_string(format!("{vectors}/responses/assertion_signed.xml")).unwrap(),
    );
    let idp = cognate_saml::IdpMetadata::parse(&metadata).unwrap();
    let expect = cognate_saml::Expectations {
        now: 1_893_456_030, // 2030-01-01T00:00:30Z
        clock_skew_secs: 300,
        audiences: &["urn:amazon:webservices"],
        recipients: &["https://signin.aws.amazon.com/saml"],
    };
    g.bench_function("verify SAML response (RSA-SHA256, exc-c14n)", |b| {
        b.iter(|| cognate_saml::verify_response(black_box(&response), &idp, &expect).unwrap())
    });
    g.bench_function("parse SAML IdP metadata", |b| {
        b.iter(|| cognate_saml::IdpMetadata::parse(black_box(&metadata)).unwrap())
    });
}

fn signing(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // KeyRing loads (and on first use generates) its key from a store:
    // a throwaway SQLite store per algorithm.
    let dir = tempfile::tempdir().unwrap();
    let ring_of = |alg: SigningAlgorithm| {
        runtime.block_on(async {
            let store = cognate_store::sqlite::SqliteStore::open(
                &format!("sqlite://{}/keys-{alg}.db", dir.path().display()),
                &cognate_store::StoreOptions {
                    max_connections: 1,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let master = SealingKey::new(&[7u8; 32]).unwrap();
            let ring = KeyRing::empty();
            let source = KeySource {
                store: &store,
                master: &master,
                kid_prefix: "bench",
                alg,
                now: cognate_testkit::unix_now(),
            };
            ring.load(&source).await.unwrap();
            ring
        })
    };
    let ring = ring_of(SigningAlgorithm::Rs512);
    let es256 = ring_of(SigningAlgorithm::Es256);
    let claims = json!({
        "sub": "us-east-1:7d2b1a4e-3f7c-4c1e-9a51-2f0b6c9d8e77",
        "aud": POOL_ID,
        "amr": ["unauthenticated"],
        "iss": "http://127.0.0.1:8085",
        "exp": 1_900_000_600,
        "iat": 1_900_000_000,
    });
    let token = ring.sign(&claims).unwrap();
    assert!(ring.verify(&token).is_some());
    let es256_token = es256.sign(&claims).unwrap();
    assert!(es256.verify(&es256_token).is_some());

    let mut g = c.benchmark_group("tokens");
    g.bench_function("KeyRing::sign RS512 (cognate OpenID token)", |b| {
        b.iter(|| ring.sign(black_box(&claims)).unwrap())
    });
    g.bench_function("KeyRing::verify RS512", |b| {
        b.iter(|| ring.verify(black_box(&token)).unwrap())
    });
    g.bench_function("KeyRing::sign ES256", |b| {
        b.iter(|| es256.sign(black_box(&claims)).unwrap())
    });
    g.bench_function("KeyRing::verify ES256", |b| {
        b.iter(|| es256.verify(black_box(&es256_token)).unwrap())
    });
    g.finish();
}

fn sealing(c: &mut Criterion) {
    let key = SealingKey::new(&[9u8; 32]).unwrap();
    let plain = vec![0x5au8; 600];
    let sealed = key.seal("bench", &plain).unwrap();
    let sealer = SessionSealer::new(SealingKey::new(&[9u8; 32]).unwrap());
    let session = Session {
        access_key_id: "ASIABENCH00000000001".into(),
        secret_access_key: "benchSecretKey0000000000000000000000000000".into(),
        issued_at: 1_900_000_000,
        expires_at: 1_900_003_600,
        account: "000000000000".into(),
        role_arn: ROLE_ARN.into(),
        role_name: "BenchUnauth".into(),
        role_id: "AROABENCH00000000001".into(),
        session_name: "CognitoIdentityCredentials".into(),
        provider: "cognito-identity.amazonaws.com".into(),
        audience: POOL_ID.into(),
        subject: "us-east-1:7d2b1a4e-3f7c-4c1e-9a51-2f0b6c9d8e77".into(),
        amr: vec!["unauthenticated".into()],
        principal_tags: Default::default(),
        session_policies: Vec::new(),
        guest_scope_down: false,
    };
    let token = sealer.seal(&session).unwrap();
    assert_eq!(sealer.open(&token).as_ref(), Some(&session));

    let mut g = c.benchmark_group("sealing");
    g.bench_function("SealingKey::seal 600 B", |b| {
        b.iter(|| key.seal("bench", black_box(&plain)).unwrap())
    });
    g.bench_function("SealingKey::open 600 B", |b| {
        b.iter(|| key.open("bench", black_box(&sealed)).unwrap())
    });
    g.bench_function("SessionSealer::seal (session token)", |b| {
        b.iter(|| sealer.seal(black_box(&session)).unwrap())
    });
    g.bench_function("SessionSealer::open (session token)", |b| {
        b.iter(|| sealer.open(black_box(&token)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, sigv4, policy, token_validation, signing, sealing);
criterion_main!(benches);
