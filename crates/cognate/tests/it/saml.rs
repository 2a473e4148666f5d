//! SAML providers through the Rust SDK: IAM's SAML provider calls, and
//! logins with responses that signxml (lxml's canonicalization, not
//! cognate's) signed for `cognate-saml`'s test vectors. The vectors are
//! dated 2030-01-01T00:00Z..01:00Z and name account 123456789012, provider
//! `ExampleIdP` and roles `Admin` and `ReadOnly`, so this server runs in
//! that account and its clock is moved to 2030 for the logins.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::common::{TestServer, code, create_role, message, set_pool_role, trust, vended};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../cognate-saml/tests/vectors");
const ACCOUNT: &str = "123456789012";
const PROVIDER_ARN: &str = "arn:aws:iam::123456789012:saml-provider/ExampleIdP";
/// 2030-01-01T00:00:30Z: inside every vector's validity window.
const VECTOR_TIME: u64 = 1_893_456_030;

fn vector(name: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
}

fn response(name: &str) -> String {
    STANDARD.encode(vector(&format!("responses/{name}")))
}

fn in_account(settings: &mut cognate::Settings) {
    settings.account_id = ACCOUNT.into();
}

fn until_vector_time() -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Duration::from_secs(VECTOR_TIME) - now
}

/// GetId with a SAML login of the vectors' provider.
fn saml_get_id(
    anon: &aws_sdk_cognitoidentity::Client,
    pool: &str,
    login: impl Into<String>,
) -> aws_sdk_cognitoidentity::operation::get_id::builders::GetIdFluentBuilder {
    anon.get_id()
        .identity_pool_id(pool)
        .logins(PROVIDER_ARN, login)
}

/// GetCredentialsForIdentity with a SAML login of the vectors' provider.
fn saml_credentials(
    anon: &aws_sdk_cognitoidentity::Client,
    identity: &str,
    login: &str,
) -> aws_sdk_cognitoidentity::operation::get_credentials_for_identity::builders::GetCredentialsForIdentityFluentBuilder{
    anon.get_credentials_for_identity()
        .identity_id(identity)
        .logins(PROVIDER_ARN, login)
}

/// AssumeRoleWithSAML of `role` through the vectors' provider.
fn assume(
    s: &TestServer,
    role: &str,
    response: String,
) -> aws_sdk_sts::operation::assume_role_with_saml::builders::AssumeRoleWithSAMLFluentBuilder {
    s.anonymous_sts()
        .assume_role_with_saml()
        .role_arn(role)
        .principal_arn(PROVIDER_ARN)
        .saml_assertion(response)
}

#[tokio::test]
async fn saml_provider_calls_through_the_sdk() {
    let s = TestServer::start_with(in_account).await;
    let iam = s.iam();
    let metadata = vector("metadata.xml");
    let created = iam
        .create_saml_provider()
        .name("ExampleIdP")
        .saml_metadata_document(&metadata)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("owner")
                .value("it")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.saml_provider_arn(), Some(PROVIDER_ARN));
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .unwrap();
    assert_eq!(got.saml_metadata_document(), Some(metadata.as_str()));
    // The metadata's validUntil (2031-01-01T00:00:00Z).
    assert_eq!(got.valid_until().map(|t| t.secs()), Some(1_924_992_000));
    assert_eq!(got.tags().len(), 1);
    let listed = iam.list_saml_providers().send().await.unwrap();
    let arns: Vec<_> = listed
        .saml_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    assert_eq!(arns, [PROVIDER_ARN]);

    let err = iam
        .update_saml_provider()
        .saml_provider_arn(PROVIDER_ARN)
        .saml_metadata_document(format!("<not-metadata>{}</not-metadata>", "x".repeat(1000)))
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_invalid_input_exception(), "{err:?}");
    // A refused update leaves the provider as it was.
    let still = iam
        .get_saml_provider()
        .saml_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .unwrap();
    assert_eq!(still.saml_metadata_document(), Some(metadata.as_str()));

    iam.delete_saml_provider()
        .saml_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .unwrap();
    let err = iam
        .get_saml_provider()
        .saml_provider_arn(PROVIDER_ARN)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");
}

/// Registers the vectors' IdP as `ExampleIdP`.
async fn register_example_idp(s: &TestServer) {
    let iam = s.iam();
    let provider = iam.create_saml_provider().name("ExampleIdP");
    let metadata = vector("metadata.xml");
    provider
        .saml_metadata_document(metadata)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn independently_signed_assertions_log_in_and_choose_roles() {
    let s = TestServer::start_with(in_account).await;
    register_example_idp(&s).await;
    let pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("saml")
        .allow_unauthenticated_identities(false)
        .saml_provider_arns(PROVIDER_ARN)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let admin_role = create_role(&s, "Admin", &trust(&pool, "authenticated")).await;
    let read_only = create_role(&s, "ReadOnly", &trust(&pool, "authenticated")).await;
    let default = create_role(&s, "SamlDefault", &trust(&pool, "authenticated")).await;
    set_pool_role(&s, &pool, "authenticated", &default).await;

    let shift = until_vector_time();
    s.clock.advance(shift);
    let anon = s.anonymous_cognito();
    // Signed on the assertion, on the response, on both; canonicalized
    // exclusively, inclusively, and with namespaces declared far away.
    let mut identity = None;
    for name in [
        "assertion_signed.xml",
        "response_signed.xml",
        "both_signed.xml",
        "assertion_signed_sha384.xml",
        "assertion_signed_c14n10.xml",
    ] {
        let id = saml_get_id(&anon, &pool, response(name))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
            .identity_id()
            .unwrap()
            .to_string();
        // Every vector is alice@example.com: one identity.
        assert_eq!(identity.get_or_insert(id.clone()), &id, "{name}");
    }
    let identity = identity.unwrap();

    // The assertion grants Admin and ReadOnly: one must be chosen.
    let login = response("assertion_signed.xml");
    let err = saml_credentials(&anon, &identity, &login)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");
    assert!(message(&err).contains("CustomRoleArn"), "{}", message(&err));
    let err = saml_credentials(&anon, &identity, &login)
        .custom_role_arn(&default)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
    let as_admin = saml_credentials(&anon, &identity, &login)
        .custom_role_arn(&admin_role)
        .send()
        .await
        .unwrap();
    let as_read_only = saml_credentials(&anon, &identity, &login)
        .custom_role_arn(&read_only)
        .send()
        .await
        .unwrap();

    // Refusals, each for its own reason.
    for (name, why) in [
        ("wrong_key.xml", "signature"),
        ("unsigned.xml", "not signed"),
        ("sha1.xml", "SHA-1"),
    ] {
        let err = saml_get_id(&anon, &pool, response(name))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "NotAuthorizedException", "{name}");
        assert!(message(&err).contains(why), "{name}: {}", message(&err));
    }
    let tampered = STANDARD.encode(
        vector("responses/assertion_signed.xml").replace("alice@example.com", "admin@example.com"),
    );
    let err = saml_get_id(&anon, &pool, tampered)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
    // The basic flow does not take SAML logins, as in AWS.
    let err = anon
        .get_open_id_token()
        .identity_id(&identity)
        .logins(PROVIDER_ARN, &login)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameterException");
    // Two hours later the vectors have expired (valid for one, plus five
    // minutes of skew).
    s.clock.advance(Duration::from_secs(7200));
    let err = saml_get_id(&anon, &pool, &login).send().await.unwrap_err();
    assert!(message(&err).contains("expired"), "{}", message(&err));

    // Back to the present, where the SDK signs: STS sees the chosen roles.
    s.clock.rewind(shift + Duration::from_secs(7200));
    for (credentials, role) in [(&as_admin, "Admin"), (&as_read_only, "ReadOnly")] {
        let caller = s
            .sts_with(vended(credentials.credentials().unwrap()))
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        let arn = caller.arn().unwrap();
        assert!(
            arn.starts_with(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/")),
            "{arn}"
        );
    }
}

#[tokio::test]
async fn assume_role_with_saml_through_the_sdk() {
    let s = TestServer::start_with(in_account).await;
    register_example_idp(&s).await;
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}
        }]
    });
    let admin_role = create_role(&s, "Admin", &trust.to_string()).await;

    let shift = until_vector_time();
    s.clock.advance(shift);
    let assumed = assume(&s, &admin_role, response("assertion_signed.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(assumed.subject(), Some("alice@example.com"));
    assert_eq!(assumed.subject_type(), Some("persistent"));
    assert_eq!(assumed.issuer(), Some("https://idp.example.com/metadata"));
    assert_eq!(
        assumed.audience(),
        Some("https://signin.aws.amazon.com/saml")
    );
    let arn = assumed.assumed_role_user().unwrap().arn();
    assert_eq!(
        arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice")
    );

    // ReadOnly is granted by the assertion but is not a role here; Dev is
    // not granted at all: both AccessDenied. A wrong-key response is an
    // invalid token.
    for role in ["ReadOnly", "Dev"] {
        let role = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        let err = assume(&s, &role, response("assertion_signed.xml"))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.meta().code(), Some("AccessDenied"), "{err:?}");
    }
    let err = assume(&s, &admin_role, response("wrong_key.xml"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_identity_token_exception(), "{err:?}");

    s.clock.rewind(shift);
    let credentials = assumed.credentials().unwrap();
    let caller = s
        .sts_with(aws_credential_types::Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            None,
            "saml",
        ))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(caller.arn(), Some(arn));
}
