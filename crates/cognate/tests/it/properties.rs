//! Properties of authorization and limits over generated requests, against
//! a real server over HTTP. Bodies are made of an operation's own members,
//! members of other operations, members repeated with other values and
//! values of other pools; whatever the mix:
//!
//! - a session allowed only on pool A never changes pool B, its identities
//!   or its developer users, and never reads them back (every resource an
//!   operation acts on was authorized);
//! - no more guests are made than the guest limits allow (every GetId
//!   that makes a guest is counted).

use std::collections::BTreeMap;

use aws_credential_types::Credentials;
use cognate_server::limits::LimitsConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::common::{
    ACCOUNT, Raw, TestServer, basic_session, create_pool, create_role, identity_count, new_guest,
    pool_arn, trust,
};

/// Both pools, the scoped session, and the values requests are made of.
struct World {
    s: TestServer,
    session: Credentials,
    pool_b: String,
    /// Identities of B (guests and a developer user's), which must survive.
    b_identities: Vec<String>,
    /// The values a generated member of each name may take: of this pool
    /// and of the other, existing and not.
    candidates: BTreeMap<&'static str, Vec<Value>>,
    snapshot: Snapshot,
}

/// Everything an admin can read of pool B.
#[derive(Debug, PartialEq)]
struct Snapshot {
    pool: Value,
    roles: Value,
    tags: Value,
    principal_tags: Value,
    identities: Value,
    developer_user: Value,
}

async fn admin_call(s: &TestServer, operation: &str, body: Value) -> Value {
    let r = Raw::json(operation, &body.to_string())
        .admin_signed(s, "cognito-identity")
        .send(s)
        .await;
    assert_eq!(r.status, 200, "{operation}: {}", r.body);
    r.json()
}

async fn snapshot(s: &TestServer, pool_b: &str) -> Snapshot {
    let id = json!({ "IdentityPoolId": pool_b });
    let mut identities = admin_call(
        s,
        "ListIdentities",
        json!({"IdentityPoolId": pool_b, "MaxResults": 60}),
    )
    .await;
    // Each identity as DescribeIdentity tells it (logins, merges).
    let ids: Vec<String> = identities["Identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["IdentityId"].as_str().unwrap().to_string())
        .collect();
    let mut described = Vec::new();
    for identity in ids {
        described.push(admin_call(s, "DescribeIdentity", json!({ "IdentityId": identity })).await);
    }
    identities["Described"] = Value::Array(described);
    Snapshot {
        pool: admin_call(s, "DescribeIdentityPool", id.clone()).await,
        roles: admin_call(s, "GetIdentityPoolRoles", id.clone()).await,
        tags: admin_call(
            s,
            "ListTagsForResource",
            json!({ "ResourceArn": pool_arn(pool_b) }),
        )
        .await,
        principal_tags: admin_call(
            s,
            "GetPrincipalTagAttributeMap",
            json!({"IdentityPoolId": pool_b, "IdentityProviderName": "accounts.google.com"}),
        )
        .await,
        identities,
        developer_user: admin_call(
            s,
            "LookupDeveloperIdentity",
            json!({"IdentityPoolId": pool_b, "DeveloperUserIdentifier": "user-b"}),
        )
        .await,
    }
}

async fn developer_pool(s: &TestServer, name: &str, provider: &str) -> String {
    let r = Raw::json(
        "CreateIdentityPool",
        &json!({
            "IdentityPoolName": name,
            "AllowUnauthenticatedIdentities": true,
            "DeveloperProviderName": provider,
            "SupportedLoginProviders": {"accounts.google.com": "client"},
        })
        .to_string(),
    )
    .admin_signed(s, "cognito-identity")
    .send(s)
    .await;
    r.json()["IdentityPoolId"].as_str().unwrap().to_string()
}

async fn developer_identity(s: &TestServer, pool: &str, provider: &str, user: &str) -> String {
    admin_call(
        s,
        "GetOpenIdTokenForDeveloperIdentity",
        json!({"IdentityPoolId": pool, "Logins": {provider: user}}),
    )
    .await["IdentityId"]
        .as_str()
        .unwrap()
        .to_string()
}

impl World {
    async fn build() -> World {
        let s = TestServer::start().await;
        let pool_a = developer_pool(&s, "pool a", "dev.a").await;
        let pool_b = developer_pool(&s, "pool b", "dev.b").await;
        let role_b = create_role(&s, "RoleOfB", &trust(&pool_b, "*")).await;
        admin_call(
            &s,
            "SetIdentityPoolRoles",
            json!({"IdentityPoolId": pool_b, "Roles": {"unauthenticated": role_b}}),
        )
        .await;
        admin_call(
            &s,
            "TagResource",
            json!({"ResourceArn": pool_arn(&pool_b), "Tags": {"owner": "b"}}),
        )
        .await;
        admin_call(
            &s,
            "SetPrincipalTagAttributeMap",
            json!({"IdentityPoolId": pool_b, "IdentityProviderName": "accounts.google.com",
                "PrincipalTags": {"team": "hd"}}),
        )
        .await;
        // The session may do anything to pool A, pass A's role, and
        // nothing else.
        let role_a = format!("arn:aws:iam::{ACCOUNT}:role/ScopedToA");
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "cognito-identity:*", "Resource": pool_arn(&pool_a)},
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_a},
            ]
        })
        .to_string();
        let session = basic_session(&s, &pool_a, "ScopedToA", &policy).await;
        let a_guest = new_guest(&s, &pool_a).await;
        let a_dev = developer_identity(&s, &pool_a, "dev.a", "user-a").await;
        let b_guests = [new_guest(&s, &pool_b).await, new_guest(&s, &pool_b).await];
        let b_dev = developer_identity(&s, &pool_b, "dev.b", "user-b").await;
        let b_dev2 = developer_identity(&s, &pool_b, "dev.b", "user-b2").await;
        let b_identities = vec![
            b_guests[0].clone(),
            b_guests[1].clone(),
            b_dev.clone(),
            b_dev2.clone(),
        ];
        developer_identity(&s, &pool_a, "dev.a", "user-a2").await;
        let users = vec![
            json!("user-a"),
            json!("user-a2"),
            json!("user-b"),
            json!("user-b2"),
        ];
        let candidates = BTreeMap::from([
            (
                "IdentityPoolId",
                vec![
                    json!(pool_a),
                    json!(pool_b),
                    json!("us-east-1:00000000-0000-0000-0000-000000000000"),
                ],
            ),
            (
                "IdentityId",
                vec![
                    json!(a_guest),
                    json!(a_dev),
                    json!(b_guests[0]),
                    json!(b_dev),
                    json!(b_dev2),
                ],
            ),
            (
                "ResourceArn",
                vec![json!(pool_arn(&pool_a)), json!(pool_arn(&pool_b))],
            ),
            (
                "IdentityIdsToDelete",
                vec![
                    json!([a_guest]),
                    json!([b_guests[1]]),
                    json!([a_dev, b_dev]),
                ],
            ),
            (
                "DeveloperProviderName",
                vec![json!("dev.a"), json!("dev.b")],
            ),
            ("DeveloperUserIdentifier", users.clone()),
            ("SourceUserIdentifier", users.clone()),
            ("DestinationUserIdentifier", users),
            (
                "Logins",
                vec![
                    json!({"dev.a": "user-a"}),
                    json!({"dev.b": "user-b"}),
                    json!({"dev.a": "user-b2"}),
                ],
            ),
            (
                "Roles",
                vec![
                    json!({"unauthenticated": role_a}),
                    json!({"unauthenticated": role_b}),
                ],
            ),
            ("Tags", vec![json!({"k": "v"})]),
            ("PrincipalTags", vec![json!({"k": "sub"})]),
            ("TagKeys", vec![json!(["owner"])]),
            ("IdentityProviderName", vec![json!("accounts.google.com")]),
            ("IdentityPoolName", vec![json!("renamed")]),
            (
                "AllowUnauthenticatedIdentities",
                vec![json!(true), json!(false)],
            ),
            ("UseDefaults", vec![json!(true), json!(false)]),
            ("HideDisabled", vec![json!(true), json!(false)]),
            ("MaxResults", vec![json!(10)]),
            ("TokenDuration", vec![json!(60)]),
            ("AccountId", vec![json!(ACCOUNT)]),
        ]);
        let snapshot = snapshot(&s, &pool_b).await;
        World {
            s,
            session,
            pool_b,
            b_identities,
            candidates,
            snapshot,
        }
    }

    /// What a successful answer may say of B: the ids of B's identities
    /// DeleteIdentities reports it did not delete, as AccessDenied.
    fn leaks(&self, answer: &Value) -> Option<String> {
        let mut answer = answer.clone();
        if let Some(unprocessed) = answer["UnprocessedIdentityIds"].as_array_mut() {
            unprocessed.retain(|u| u["ErrorCode"] != "AccessDenied");
        }
        let text = answer.to_string();
        std::iter::once(&self.pool_b)
            .chain(&self.b_identities)
            .find(|b| text.contains(b.as_str()))
            .cloned()
    }
}

/// The Cognito operations a signed caller makes, with the members of their
/// inputs.
const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "CreateIdentityPool",
        &["IdentityPoolName", "AllowUnauthenticatedIdentities"],
    ),
    ("DescribeIdentityPool", &["IdentityPoolId"]),
    (
        "UpdateIdentityPool",
        &[
            "IdentityPoolId",
            "IdentityPoolName",
            "AllowUnauthenticatedIdentities",
            "DeveloperProviderName",
        ],
    ),
    ("DeleteIdentityPool", &["IdentityPoolId"]),
    ("ListIdentityPools", &["MaxResults"]),
    ("SetIdentityPoolRoles", &["IdentityPoolId", "Roles"]),
    ("GetIdentityPoolRoles", &["IdentityPoolId"]),
    (
        "SetPrincipalTagAttributeMap",
        &[
            "IdentityPoolId",
            "IdentityProviderName",
            "UseDefaults",
            "PrincipalTags",
        ],
    ),
    (
        "GetPrincipalTagAttributeMap",
        &["IdentityPoolId", "IdentityProviderName"],
    ),
    ("TagResource", &["ResourceArn", "Tags"]),
    ("UntagResource", &["ResourceArn", "TagKeys"]),
    ("ListTagsForResource", &["ResourceArn"]),
    (
        "ListIdentities",
        &["IdentityPoolId", "MaxResults", "HideDisabled"],
    ),
    ("DescribeIdentity", &["IdentityId"]),
    ("DeleteIdentities", &["IdentityIdsToDelete"]),
    (
        "GetOpenIdTokenForDeveloperIdentity",
        &["IdentityPoolId", "IdentityId", "Logins", "TokenDuration"],
    ),
    (
        "LookupDeveloperIdentity",
        &[
            "IdentityPoolId",
            "IdentityId",
            "DeveloperUserIdentifier",
            "MaxResults",
        ],
    ),
    (
        "MergeDeveloperIdentities",
        &[
            "IdentityPoolId",
            "SourceUserIdentifier",
            "DestinationUserIdentifier",
            "DeveloperProviderName",
        ],
    ),
    (
        "UnlinkDeveloperIdentity",
        &[
            "IdentityPoolId",
            "IdentityId",
            "DeveloperUserIdentifier",
            "DeveloperProviderName",
        ],
    ),
];

/// A request body as text: members in order, possibly repeated.
fn body_text(members: &[(String, Value)]) -> String {
    let fields: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// One member and one of its candidate values.
fn member(
    candidates: &BTreeMap<&'static str, Vec<Value>>,
    name: &'static str,
) -> BoxedStrategy<(String, Value)> {
    let values = candidates.get(name).cloned().unwrap_or_default();
    prop::sample::select(values)
        .prop_map(move |v| (name.to_string(), v))
        .boxed()
}

/// An operation and its body: most of its own members, sometimes members
/// of other operations, and now and then one of its own again with another
/// value.
fn request(
    candidates: &BTreeMap<&'static str, Vec<Value>>,
) -> impl Strategy<Value = (usize, Vec<(String, Value)>)> {
    let candidates = candidates.clone();
    (0..OPERATIONS.len()).prop_flat_map(move |op| {
        let own: Vec<&'static str> = OPERATIONS[op].1.to_vec();
        let others: Vec<&'static str> = candidates
            .keys()
            .copied()
            .filter(|name| !own.contains(name))
            .collect();
        let own_members: Vec<_> = own
            .iter()
            .map(|name| prop::option::weighted(0.9, member(&candidates, name)))
            .collect();
        let c = candidates.clone();
        let misplaced = prop::collection::vec(
            prop::sample::select(others).prop_flat_map(move |name| member(&c, name)),
            0..3,
        );
        let c = candidates.clone();
        let repeated = prop::option::weighted(
            0.15,
            prop::sample::select(own.clone()).prop_flat_map(move |name| member(&c, name)),
        );
        (Just(op), own_members, misplaced, repeated).prop_map(|(op, own, misplaced, repeated)| {
            let mut body: Vec<(String, Value)> = own.into_iter().flatten().collect();
            body.extend(misplaced);
            body.extend(repeated);
            (op, body)
        })
    })
}

/// A runner of `cases` cases from a fixed seed, so that a run in CI is the
/// run a developer repeats.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn a_scoped_session_acts_only_on_what_it_may_whatever_the_body_says() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let world = rt.block_on(World::build());
    let mut runner = runner(256);
    let allowed = std::cell::Cell::new(0usize);
    let result = runner.run(&request(&world.candidates), |(op, members)| {
        let (operation, _) = OPERATIONS[op];
        let body = body_text(&members);
        rt.block_on(async {
            // As text: a repeated member would not survive a `Value`.
            let r = Raw::json(operation, &body)
                .signed_as(&world.s, &world.session, "cognito-identity")
                .send(&world.s)
                .await;
            prop_assert!(
                r.status < 500,
                "{operation} {body}: {} {}",
                r.status,
                r.body
            );
            if r.status == 200 {
                allowed.set(allowed.get() + 1);
                let leak = world.leaks(&r.json());
                prop_assert!(
                    leak.is_none(),
                    "{operation} {body} told of {leak:?}: {}",
                    r.body
                );
            }
            let now = snapshot(&world.s, &world.pool_b).await;
            prop_assert_eq!(
                &now,
                &world.snapshot,
                "{} {} changed pool B",
                operation,
                body
            );
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator reaches past authorization, not only denials.
    let allowed = allowed.get();
    assert!(allowed >= 10, "only {allowed} of 256 requests were allowed");
}

fn few_guests(settings: &mut cognate::Settings) {
    settings.limits = LimitsConfig {
        guests_per_address_per_minute: 0.001,
        guests_per_address_burst: 4.0,
        ..LimitsConfig::default()
    };
}

#[test]
fn every_get_id_that_makes_a_guest_counts_against_the_guest_limits() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(TestServer::start_with(few_guests));
    let pool = rt.block_on(create_pool(&s, "limited", true));
    let other = rt.block_on(create_pool(&s, "other", true));
    let candidates = BTreeMap::from([
        (
            "IdentityPoolId",
            vec![json!(pool), json!(other), json!("us-east-1:0"), Value::Null],
        ),
        (
            "Logins",
            vec![
                json!({}),
                Value::Null,
                json!({"accounts.google.com": "x"}),
                json!([]),
            ],
        ),
        ("AccountId", vec![json!(ACCOUNT), json!("1")]),
        ("IdentityId", vec![json!("us-east-1:1")]),
        ("ResourceArn", vec![json!(pool_arn(&pool))]),
    ]);
    let names: Vec<&'static str> = candidates.keys().copied().collect();
    let c = candidates.clone();
    let strategy = (
        member(&candidates, "IdentityPoolId"),
        prop::collection::vec(
            prop::sample::select(names).prop_flat_map(move |name| member(&c, name)),
            0..4,
        ),
    )
        .prop_map(|(pool, mut rest)| {
            rest.insert(0, pool);
            rest
        });
    let mut runner = runner(200);
    let created = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |body| {
        let text = body_text(&body);
        rt.block_on(async {
            let r = Raw::json("GetId", &text).send(&s).await;
            prop_assert!(r.status < 500, "{text}: {}", r.body);
            if r.status == 200 {
                created.set(created.get() + 1);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let guests =
        rt.block_on(async { identity_count(&s, &pool).await + identity_count(&s, &other).await });
    // One address: its burst of four, whichever pool and body made them.
    assert_eq!(created.get(), guests, "every success made one guest");
    // (A refused GetId may have used a token too.)
    assert!(guests <= 4, "{guests} guests made, the limit is 4");
    assert!(guests > 0, "the generator makes valid GetIds too");
}
