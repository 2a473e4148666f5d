//! Developer-authenticated identities: linking user ids, looking them up,
//! merging and unlinking them.

use std::collections::BTreeSet;

use cognate_core::Error;
use cognate_core::developer::DeveloperTokenRequest;
use cognate_core::pools::PoolSettings;

use crate::harness::Domain;

const DEV: &str = "login.myapp";

async fn developer_pool(d: &Domain) -> String {
    d.pool(PoolSettings {
        allow_unauthenticated: true,
        developer_provider_name: Some(DEV.into()),
        ..Default::default()
    })
    .await
}

/// GetOpenIdTokenForDeveloperIdentity: the identity of `user`.
async fn token_for(
    d: &Domain,
    pool_id: &str,
    user: &str,
    identity_id: Option<&str>,
) -> Result<String, Error> {
    let request = DeveloperTokenRequest {
        pool_id: pool_id.into(),
        identity_id: identity_id.map(str::to_string),
        logins: crate::harness::logins(&[(DEV, user)]),
        principal_tags: Default::default(),
        token_duration: None,
    };
    let developer = d.cognate.developer();
    let (id, _token) = developer.open_id_token(&d.root, &request).await?;
    Ok(id)
}

/// LookupDeveloperIdentity, every page: the identity and its user ids.
async fn lookup(
    d: &Domain,
    pool_id: &str,
    identity_id: Option<&str>,
    user: Option<&str>,
) -> Result<(String, BTreeSet<String>), Error> {
    let developer = d.cognate.developer();
    let mut users = BTreeSet::new();
    let mut next = None;
    loop {
        let (id, page, token) = developer
            .lookup(&d.root, pool_id, identity_id, user, 5, next.as_deref())
            .await?;
        assert!(page.len() <= 5);
        users.extend(page);
        if token.is_none() {
            return Ok((id, users));
        }
        next = token;
    }
}

async fn merge(
    d: &Domain,
    pool_id: &str,
    source: &str,
    destination: &str,
) -> Result<String, Error> {
    let developer = d.cognate.developer();
    developer
        .merge(&d.root, pool_id, DEV, source, destination)
        .await
}

#[tokio::test]
async fn user_ids_link_look_up_merge_and_unlink() {
    let d = Domain::open().await;
    let pool = developer_pool(&d).await;
    let i1 = token_for(&d, &pool, "u1", None).await.unwrap();

    // A guest is upgraded in place.
    let g = d.get_id(&pool, &[]).await.unwrap();
    assert_eq!(token_for(&d, &pool, "u2", Some(&g)).await, Ok(g.clone()));
    let (owner, users) = lookup(&d, &pool, None, Some("u2")).await.unwrap();
    assert_eq!(owner, g);
    assert_eq!(users, BTreeSet::from(["u2".to_string()]));

    // A user id of another identity, or an identity that is not the
    // user's, is refused.
    let err = token_for(&d, &pool, "u2", Some(&i1)).await.unwrap_err();
    assert!(
        matches!(err, Error::DeveloperUserAlreadyRegistered(_)),
        "{err:?}"
    );
    let err = token_for(&d, &pool, "u9", Some(&i1)).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotAuthorized(m) if m.starts_with("Logins don't match")),
        "{err:?}"
    );
    let err = lookup(&d, &pool, Some(&i1), Some("u2")).await.unwrap_err();
    assert!(matches!(err, Error::ResourceConflict(_)), "{err:?}");
    let err = lookup(&d, &pool, None, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}");

    // u2's identity merges into u1's: u2 now signs in to it.
    assert_eq!(merge(&d, &pool, "u2", "u1").await, Ok(i1.clone()));
    assert_eq!(token_for(&d, &pool, "u2", None).await, Ok(i1.clone()));
    let (_, users) = lookup(&d, &pool, Some(&i1), None).await.unwrap();
    assert_eq!(users, BTreeSet::from(["u1".to_string(), "u2".to_string()]));
    let gone = d.cognate.identities().describe(&d.root, &g).await.unwrap();
    assert_eq!(gone.merged_into.as_deref(), Some(i1.as_str()));
    let err = d.credentials(&g, &[], None).await.unwrap_err();
    assert_eq!(err, Error::identity_forbidden(&g));

    // Unlinking u2 gives it a new identity next time; unlinking it again
    // is a conflict.
    let developer = d.cognate.developer();
    developer
        .unlink(&d.root, &pool, &i1, DEV, "u2")
        .await
        .unwrap();
    assert_ne!(token_for(&d, &pool, "u2", None).await, Ok(i1.clone()));
    let err = developer
        .unlink(&d.root, &pool, &i1, DEV, "u2")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResourceConflict(_)), "{err:?}");
}

#[tokio::test]
async fn lookup_pages_through_many_user_ids() {
    let d = Domain::open().await;
    let pool = developer_pool(&d).await;
    let id = token_for(&d, &pool, "user-00", None).await.unwrap();
    for i in 1..12 {
        let user = format!("user-{i:02}");
        let other = token_for(&d, &pool, &user, None).await.unwrap();
        assert_ne!(other, id);
        assert_eq!(merge(&d, &pool, &user, "user-00").await, Ok(id.clone()));
    }
    let (owner, users) = lookup(&d, &pool, Some(&id), None).await.unwrap();
    assert_eq!(owner, id);
    assert_eq!(users.len(), 12);
}

/// Merges of the same users at once end consistent: every user id on
/// exactly one active identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_merges_stay_consistent() {
    let d = Domain::open().await;
    let pool = developer_pool(&d).await;
    let users: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    for u in &users {
        token_for(&d, &pool, u, None).await.unwrap();
    }
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (i, source) in users.iter().enumerate() {
            let destination = users[(i + 1 + round) % users.len()].clone();
            let (cognate, root, pool, source) = (
                d.cognate.clone(),
                d.root.clone(),
                pool.clone(),
                source.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let developer = cognate.developer();
                developer
                    .merge(&root, &pool, DEV, &source, &destination)
                    .await
            }));
        }
    }
    for task in tasks {
        match task.await.unwrap() {
            // Retry-later answers are allowed under contention; nothing else.
            Ok(_) | Err(Error::TooManyRequests(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let mut owners = BTreeSet::new();
    for u in &users {
        let (owner, _) = lookup(&d, &pool, None, Some(u)).await.unwrap();
        let (_, listed) = lookup(&d, &pool, Some(&owner), None).await.unwrap();
        assert!(listed.contains(u));
        let identity = d.cognate.identities().describe(&d.root, &owner).await;
        assert_eq!(
            identity.unwrap().merged_into,
            None,
            "{u} is on a merged-away identity"
        );
        owners.insert(owner);
    }
    assert_eq!(d.identity_count(&pool, true).await, owners.len());
}

/// The console's search by login does not answer for the developer
/// provider (ListIdentities names no subjects); its users are found as
/// LookupDeveloperIdentity allows.
#[tokio::test]
async fn a_search_by_login_refuses_the_developer_provider() {
    let d = Domain::open().await;
    let pool = developer_pool(&d).await;
    let owner = token_for(&d, &pool, "u1", None).await.unwrap();
    let login = cognate_core::model::Login {
        provider: DEV.into(),
        subject: "u1".into(),
    };
    let refused = d
        .cognate
        .identities()
        .owner_of_login(&d.root, &pool, &login)
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidParameter(ref m)) if m.contains("LookupDeveloperIdentity")),
        "{refused:?}"
    );
    let (found, _) = lookup(&d, &pool, None, Some("u1")).await.unwrap();
    assert_eq!(found, owner);
}
