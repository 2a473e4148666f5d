//! Abuse limits on the unsigned operations.

use cognate_server::limits::LimitsConfig;

use crate::common::{Raw, TestServer, code};

fn tight(settings: &mut cognate::Settings) {
    settings.limits = LimitsConfig {
        public_per_address_per_second: 1.0,
        public_per_address_burst: 30.0,
        guests_per_address_per_minute: 1.0,
        guests_per_address_burst: 5.0,
        guests_per_pool_per_second: 0.0,
        guests_per_pool_burst: 0.0,
    };
}

#[tokio::test]
async fn guest_creation_and_public_calls_are_throttled_per_address() {
    let s = TestServer::start_with(tight).await;
    let pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("limited")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let anon = s.anonymous_cognito();
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(
            anon.get_id()
                .identity_pool_id(&pool)
                .send()
                .await
                .unwrap()
                .identity_id
                .unwrap(),
        );
    }
    let err = anon
        .get_id()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TooManyRequestsException");
    // The refused call made no identity.
    let listed = s
        .cognito()
        .list_identities()
        .identity_pool_id(&pool)
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.identities().len(), 5);

    // Existing guests still get tokens until the per-address budget of
    // public calls is spent; signed admin calls are not limited.
    let mut throttled = 0;
    for _ in 0..40 {
        match anon
            .get_open_id_token()
            .identity_id(&created[0])
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(code(&e), "TooManyRequestsException");
                throttled += 1;
            }
        }
    }
    assert!(throttled > 0 && throttled < 40, "{throttled}");
    s.cognito()
        .describe_identity_pool()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap();

    // STS answers throttling in its own shape.
    let r = Raw::query("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s&WebIdentityToken=abcd")
        .send(&s)
        .await;
    assert_eq!(r.xml_error(), "Throttling");
}

fn short_guest_ttl(settings: &mut cognate::Settings) {
    settings.guest_ttl = Some(std::time::Duration::from_secs(100));
    settings.guest_sweep_interval = std::time::Duration::from_millis(300);
}

#[tokio::test]
async fn unused_guests_are_swept_and_used_ones_kept() {
    let s = TestServer::start_with(short_guest_ttl).await;
    let pool = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("ttl")
        .allow_unauthenticated_identities(true)
        .developer_provider_name("login.ttl")
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let anon = s.anonymous_cognito();
    let used = anon
        .get_id()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    let idle = anon
        .get_id()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    let member = s
        .cognito()
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool)
        .logins("login.ttl", "u1")
        .send()
        .await
        .unwrap()
        .identity_id
        .unwrap();
    s.clock.advance(std::time::Duration::from_secs(80));
    anon.get_open_id_token()
        .identity_id(&used)
        .send()
        .await
        .unwrap();
    s.clock.advance(std::time::Duration::from_secs(40));
    let c = s.cognito();
    let mut swept = false;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if c.describe_identity()
            .identity_id(&idle)
            .send()
            .await
            .is_err()
        {
            swept = true;
            break;
        }
    }
    assert!(swept, "the idle guest was not swept");
    let err = c
        .describe_identity()
        .identity_id(&idle)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    c.describe_identity()
        .identity_id(&used)
        .send()
        .await
        .unwrap();
    c.describe_identity()
        .identity_id(&member)
        .send()
        .await
        .unwrap();
}
