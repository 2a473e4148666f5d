//! Twitter logins end to end: a pool whose `api.twitter.com` value is the
//! app's `consumerKey;consumerSecret`, logins `accessToken;tokenSecret`
//! checked against the Twitter API fixture with OAuth 1.0a signatures.

use cognate_testkit::TwitterApi;

use crate::common::{
    TestServer, code, create_role, login_id, message, set_pool_role, trust, vended,
};

#[tokio::test]
async fn twitter_logins_get_identities_and_the_authenticated_role() {
    let tw = TwitterApi::start().await;
    let base = tw.base_url().to_string();
    let s = TestServer::start_with_extra(
        |_| {},
        move |settings| {
            settings.federation.providers.insert(
                "api.twitter.com".into(),
                cognate_federation::ProviderOverride {
                    issuer: base,
                    jwks_uri: None,
                },
            );
        },
    )
    .await;
    let app = tw.register_app();
    let (consumer_key, consumer_secret) = app.split_once(';').unwrap();
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("twitter")
        .allow_unauthenticated_identities(false)
        .supported_login_providers("api.twitter.com", &app)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let role = create_role(&s, "TwitterUsers", &trust(&pool_id, "authenticated")).await;
    set_pool_role(&s, &pool_id, "authenticated", &role).await;

    let anon = s.anonymous_cognito();
    let login = tw.issue_token(consumer_key, 783214, "twitterapi");
    let identity_id = login_id(&anon, &pool_id, "api.twitter.com", &login).await;
    // Another device of the same user, with a token of its own.
    let second_device = tw.issue_token(consumer_key, 783214, "twitterapi");
    let credentials = anon
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .logins("api.twitter.com", &second_device)
        .send()
        .await
        .unwrap();
    assert_eq!(credentials.identity_id(), Some(identity_id.as_str()));
    let c = credentials.credentials().unwrap();
    let caller = s
        .sts_with(vended(c))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        caller.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/TwitterUsers/CognitoIdentityCredentials")
    );
    let described = s
        .cognito()
        .describe_identity()
        .identity_id(&identity_id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.logins(), ["api.twitter.com".to_string()]);

    // A revoked token is refused, and nothing of the login or the app's
    // secret is in the answer.
    tw.revoke(&login);
    let err = anon
        .get_id()
        .identity_pool_id(&pool_id)
        .logins("api.twitter.com", &login)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotAuthorizedException");
    let m = message(&err);
    assert_eq!(
        m,
        "Invalid login token. The Twitter access token is not valid."
    );
    for secret in login.split(';').chain([consumer_secret]) {
        assert!(!m.contains(secret));
    }
}
