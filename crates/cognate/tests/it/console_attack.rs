//! An outsider's attack on the console's new pages, over real HTTP: what
//! it found, kept found.

use reqwest::StatusCode;

use crate::common::{TestServer, create_role};
use crate::console::Browser;

/// A trust policy for Cognito identities with `condition` (a JSON
/// object's members) as its Condition.
fn trust_with(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"cognito-identity.amazonaws.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{{condition}}}}}]}}"#
    )
}

/// The trust warnings a pool's roles page shows.
fn warnings(body: &str) -> Vec<String> {
    body.split(r#"<li class="trust-warning">"#)
        .skip(1)
        .map(|w| w.split("</li>").next().unwrap().to_string())
        .collect()
}

/// Finding: an aud or amr condition counted whatever its operator and
/// values, and an aud of "*" counted as naming the pool. A trust of
/// `StringLike aud "*"` (or `StringNotEquals aud <another pool>`) lets
/// every identity pool's identities assume the role, and `amr "*"` lets
/// guests and signed-in identities alike, yet the roles page said nothing.
#[tokio::test]
async fn a_trust_open_through_wildcards_or_negation_draws_the_warnings() {
    let s = TestServer::start().await;
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("attacked")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let like_any = create_role(
        &s,
        "LikeAny",
        &trust_with(
            r#""StringLike":{"cognito-identity.amazonaws.com:aud":"*"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"*"}"#,
        ),
    )
    .await;
    let not_other = create_role(
        &s,
        "NotOther",
        &trust_with(
            r#""StringNotEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:00000000-0000-0000-0000-000000000000"},"ForAnyValue:StringNotLike":{"cognito-identity.amazonaws.com:amr":"x"}"#,
        ),
    )
    .await;
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("unauthenticated", &like_any)
        .roles("authenticated", &not_other)
        .send()
        .await
        .unwrap();

    // The open trust works: a guest of this pool gets the role's
    // credentials (and so would any other pool's).
    let guest = s
        .cognito()
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    s.cognito()
        .get_credentials_for_identity()
        .identity_id(guest.identity_id().unwrap())
        .send()
        .await
        .unwrap();

    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let page = b.get(&format!("/console/pools/{pool_id}/roles")).await;
    assert_eq!(page.status, StatusCode::OK);
    let warnings = warnings(&page.body);
    let aud: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("no cognito-identity.amazonaws.com:aud condition"))
        .collect();
    let amr: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("no cognito-identity.amazonaws.com:amr condition"))
        .collect();
    assert_eq!(
        aud.len(),
        2,
        "both roles are open to every pool: {warnings:?}"
    );
    assert_eq!(
        amr.len(),
        2,
        "both roles take guests and users alike: {warnings:?}"
    );
    // And the role's own IAM page says so too.
    let page = b.get("/console/iam/roles/LikeAny").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("no cognito-identity.amazonaws.com:aud condition"),
        "{}",
        page.body
    );
}

/// The server time a console page took, from its `Server-Timing`.
fn server_millis(answer: &crate::console::Answer) -> f64 {
    let timing = answer.headers["server-timing"].to_str().unwrap();
    timing.strip_prefix("total;dur=").unwrap().parse().unwrap()
}

/// Finding: the Activity page filtered by an identity and a kind read
/// the kind's index, every identity's events of that kind, to find the
/// identity's few: with 600,000 vendings of other identities, one
/// identity's vendings took 1.2 s of server time (its unfiltered events,
/// 2 ms). Anyone who can get credentials adds vendings.
#[tokio::test]
async fn one_identitys_events_of_a_kind_are_read_from_its_own_index() {
    let s = TestServer::start().await;
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("busy")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let guest = s
        .cognito()
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap()
        .identity_id()
        .unwrap()
        .to_string();
    // Other identities' vendings, older than the guest's creation.
    let db = s.dir.path().join("cognate.db");
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO audit_events (at, id, kind, pool_id, identity_id, other_identity_id, caller, detail) \
                 VALUES (?1, ?2, 'credentials_vended', ?3, ?4, NULL, 'anonymous', '{}')",
            )
            .unwrap();
        for i in 0..600_000i64 {
            insert
                .execute(rusqlite::params![
                    1_000_000 + i,
                    format!("{i:012}"),
                    pool_id,
                    format!("us-east-1:{i:036}")
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    drop(conn);

    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let path = format!("/console/activity?identity={guest}&kind=credentials_vended");
    let mut fastest = f64::MAX;
    for _ in 0..3 {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("No events match."), "{}", page.body);
        fastest = fastest.min(server_millis(&page));
    }
    // Its own events only: a few index entries, not 600,000 rows (about
    // 500 ms here before, a millisecond or two after; 50 ms leaves a busy
    // machine room).
    assert!(fastest < 50.0, "{fastest} ms");
}

/// Finding: a trust whose action is a pattern (`sts:AssumeRole*`) was
/// said not to let Cognito assume the role ("GetCredentialsForIdentity
/// will fail") while it let every pool's guests and users in.
#[tokio::test]
async fn a_trust_with_an_action_pattern_is_seen_as_open() {
    let s = TestServer::start().await;
    let pool_id = s
        .cognito()
        .create_identity_pool()
        .identity_pool_name("patterned")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let role = create_role(
        &s,
        "Patterned",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRole*"}]}"#,
    )
    .await;
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("unauthenticated", &role)
        .send()
        .await
        .unwrap();
    // It works: a guest gets its credentials.
    let guest = s
        .cognito()
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    s.cognito()
        .get_credentials_for_identity()
        .identity_id(guest.identity_id().unwrap())
        .send()
        .await
        .unwrap();
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let page = b.get(&format!("/console/pools/{pool_id}/roles")).await;
    assert_eq!(page.status, StatusCode::OK);
    let warnings = warnings(&page.body);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("identities of any identity pool"),
        "{warnings:?}"
    );
    assert!(warnings[1].contains("no cognito-identity.amazonaws.com:amr condition"));
}

/// Finding: the IAM roles and policies lists showed their first 1,000
/// and dropped the rest without a word, and a policy's "Attached to" was
/// read from those 1,000 roles only: anyone allowed CreateRole could push
/// a role (an open trust, a policy attached) out of the admin's sight, and
/// the policy's page said "No role."
#[tokio::test]
async fn a_role_past_the_first_thousand_is_listed_and_its_policy_knows_it() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let policy_arn = iam
        .create_policy()
        .policy_name("Everything")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    let mut made = tokio::task::JoinSet::new();
    for i in 0..1000u32 {
        let iam = iam.clone();
        made.spawn(async move {
            iam.create_role()
                .role_name(format!("aaa{i:04}"))
                .assume_role_policy_document(trust)
                .send()
                .await
                .unwrap();
        });
    }
    while let Some(done) = made.join_next().await {
        done.unwrap();
    }
    create_role(&s, "zz-hidden", trust).await;
    iam.attach_role_policy()
        .role_name("zz-hidden")
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();

    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let first = b.get("/console/iam/roles").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("aaa0999"));
    assert!(!first.body.contains("zz-hidden"));
    let next = first
        .body
        .split(r#"<a href=""#)
        .skip(1)
        .map(|a| a.split('"').next().unwrap().replace("&amp;", "&"))
        .find(|href| href.starts_with("/console/iam/roles?after="))
        .expect("a link to the roles past the first page");
    let second = b.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("zz-hidden"), "{}", second.body);
    assert!(!second.body.contains("aaa0999"));

    let page = b
        .get(&format!(
            "/console/iam/policy?arn={}",
            policy_arn.replace('/', "%2F")
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let attached = page.body.split("Attached to").nth(1).unwrap();
    let attached = attached.split("</ul>").next().unwrap();
    assert!(attached.contains("zz-hidden"), "{attached}");
}
