//! Abuse limits on the unsigned operations.

use cognate_server::limits::LimitsConfig;

use crate::common::{
    Raw, TestServer, code, create_pool, describe_pool, guest_id, guest_id_error, identity_count,
};

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
    let pool = create_pool(&s, "limited", true).await;
    let anon = s.anonymous_cognito();
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(guest_id(&anon, &pool).await);
    }
    let err = guest_id_error(&anon, &pool).await;
    assert_eq!(code(&err), "TooManyRequestsException");
    // The refused call made no identity.
    assert_eq!(identity_count(&s, &pool).await, 5);

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
    describe_pool(&s, &pool).await;

    // STS answers throttling in its own shape.
    let r = Raw::query("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s&WebIdentityToken=abcd")
        .send(&s)
        .await;
    assert_eq!(r.xml_error(), "Throttling");
}

/// GetId for a new guest in `pool`, as a client behind `forwarded_for`
/// (an `X-Forwarded-For` value) would send it: the HTTP status.
async fn new_guest(s: &TestServer, pool: &str, forwarded_for: &[&str]) -> u16 {
    let mut raw = Raw::json("GetId", &format!(r#"{{"IdentityPoolId":"{pool}"}}"#));
    for value in forwarded_for {
        raw.headers
            .push(("x-forwarded-for".into(), value.to_string()));
    }
    let r = raw.send(s).await;
    if r.status != 200 {
        assert_eq!(r.json_error(), "TooManyRequestsException", "{}", r.body);
    }
    r.status
}

async fn guest_pool(s: &TestServer) -> String {
    s.cognito()
        .create_identity_pool()
        .identity_pool_name("proxied")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string()
}

#[tokio::test]
async fn an_untrusted_peer_cannot_pick_its_bucket_with_x_forwarded_for() {
    let s = TestServer::start_with(tight).await;
    let pool = guest_pool(&s).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        statuses.push(new_guest(&s, &pool, &[&format!("198.51.100.{n}")]).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 400]);
}

fn behind_a_proxy_on_loopback(settings: &mut cognate::Settings) {
    tight(settings);
    settings.trusted_proxies =
        cognate_server::client_address::TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
}

#[tokio::test]
async fn behind_a_trusted_proxy_limits_count_the_forwarded_client() {
    let s = TestServer::start_with(behind_a_proxy_on_loopback).await;
    let pool = guest_pool(&s).await;
    // Five guests each for two clients behind the same proxy.
    for client in ["203.0.113.5", "203.0.113.6"] {
        for _ in 0..5 {
            assert_eq!(new_guest(&s, &pool, &[client]).await, 200, "{client}");
        }
    }
    // The sixth from the first client is refused, even when the client
    // forges an entry in front of what the proxy appended.
    assert_eq!(new_guest(&s, &pool, &["203.0.113.5"]).await, 400);
    assert_eq!(
        new_guest(&s, &pool, &["192.0.2.99, 203.0.113.5"]).await,
        400
    );
    // Through a second trusted proxy (one more header line) it is the
    // same client.
    assert_eq!(
        new_guest(&s, &pool, &["203.0.113.5", "127.0.0.9"]).await,
        400
    );
    // No header: the proxy's own address has a budget of its own.
    assert_eq!(new_guest(&s, &pool, &[]).await, 200);
    // An IPv6 client is counted by its /64: another address in it shares
    // the budget, another /64 does not.
    for n in 1..=5 {
        assert_eq!(
            new_guest(&s, &pool, &[&format!("2001:db8:0:1::{n}")]).await,
            200
        );
    }
    assert_eq!(new_guest(&s, &pool, &["2001:db8:0:1:ffff::6"]).await, 400);
    assert_eq!(new_guest(&s, &pool, &["[2001:db8:0:2::1]:4711"]).await, 200);
    // Refused calls made no identity: 5 + 5 + 1 + 5 + 1.
    assert_eq!(identity_count(&s, &pool).await, 17);
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
    let used = guest_id(&anon, &pool).await;
    let idle = guest_id(&anon, &pool).await;
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
