//! Linking, merging and unlinking logins: which identity a login lands on.

use std::collections::HashSet;
use std::time::Duration;

use cognate_core::Error;
use cognate_core::model::MergeCause;
use cognate_core::pools::PoolSettings;

use crate::harness::{Domain, LOGIN_KEY, login_of, logins, message};

#[tokio::test]
async fn a_login_links_to_a_guest_and_merges_another_guest_into_its_owner() {
    let d = Domain::open().await;
    let setup = d.oidc_pool(true).await;
    let pool = &setup.pool_id;
    let alice = login_of("alice");

    // A guest links its first login and keeps its id.
    let g = d.get_id(pool, &[]).await.unwrap();
    let (_, role) = d.credentials(&g, &[], None).await.unwrap();
    assert_eq!(role, setup.unauth_role, "a guest is unauthenticated");
    let (linked, role) = d
        .credentials(&g, &[(LOGIN_KEY, &alice)], None)
        .await
        .unwrap();
    assert_eq!(linked, g);
    assert_eq!(role, setup.auth_role, "a linked login is authenticated");
    let described = d.cognate.identities().describe(&d.root, &g).await.unwrap();
    assert_eq!(described.logins.len(), 1);
    assert_eq!(described.logins[0].provider, LOGIN_KEY);
    assert_eq!(described.logins[0].subject, "alice");

    // A second login of the same provider on one identity is a conflict.
    let bob = login_of("bob");
    let err = d
        .cognate
        .identities()
        .get_open_id_token(&g, &logins(&[(LOGIN_KEY, &bob)]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResourceConflict(_)), "{err:?}");

    // Another guest presenting alice's login merges into alice's identity,
    // which is the one answered.
    let h = d.get_id(pool, &[]).await.unwrap();
    let (merged, _) = d
        .credentials(&h, &[(LOGIN_KEY, &alice)], None)
        .await
        .unwrap();
    assert_eq!(merged, g, "the surviving id is returned");
    let err = d.credentials(&h, &[], None).await.unwrap_err();
    assert_eq!(err, Error::identity_forbidden(&h));
    assert_eq!(d.identity_count(pool, false).await, 2);
    assert_eq!(d.identity_count(pool, true).await, 1);

    // The merge is recorded on both ends.
    let gone = d.cognate.identities().describe(&d.root, &h).await.unwrap();
    assert_eq!(gone.merged_into.as_deref(), Some(g.as_str()));
    let merges = d.cognate.identities().merges(&g).await.unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].from_identity, h);
    assert_eq!(merges[0].to_identity, g);
    assert_eq!(merges[0].cause, MergeCause::LoginPresented);
}

#[tokio::test]
async fn unlinking_the_last_login_retires_the_identity() {
    let d = Domain::open().await;
    let setup = d.oidc_pool(false).await;
    let alice = login_of("alice");
    let g = d
        .get_id(&setup.pool_id, &[(LOGIN_KEY, &alice)])
        .await
        .unwrap();

    // Unlinking with another identity's login is refused, and changes
    // nothing.
    let carol = login_of("carol");
    let identities = d.cognate.identities();
    let err = identities
        .unlink(&g, &logins(&[(LOGIN_KEY, &carol)]), &[LOGIN_KEY.into()])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotAuthorized(_)), "{err:?}");
    assert_eq!(
        d.get_id(&setup.pool_id, &[(LOGIN_KEY, &alice)]).await,
        Ok(g.clone())
    );

    // Unlinking the only login leaves the identity inaccessible, and the
    // login makes a new identity next time.
    identities
        .unlink(&g, &logins(&[(LOGIN_KEY, &alice)]), &[LOGIN_KEY.into()])
        .await
        .unwrap();
    let fresh = d
        .get_id(&setup.pool_id, &[(LOGIN_KEY, &alice)])
        .await
        .unwrap();
    assert_ne!(fresh, g);
    let err = d.credentials(&g, &[], None).await.unwrap_err();
    assert!(matches!(err, Error::NotAuthorized(_)), "{err:?}");
}

#[tokio::test]
async fn logins_of_two_identities_merge_them_into_the_older() {
    let d = Domain::open().await;
    // Two issuers, each its own Logins key.
    let iam = d.cognate.iam();
    let mut arns = Vec::new();
    for url in ["https://one.example.com", "https://two.example.com"] {
        let provider = iam
            .create_oidc_provider(&d.root, url, vec![crate::harness::CLIENT.into()], vec![])
            .await
            .unwrap();
        arns.push(provider.arn);
    }
    let pool = d
        .pool(PoolSettings {
            open_id_connect_provider_arns: arns,
            ..Default::default()
        })
        .await;
    let (t1, t2) = (login_of("u1"), login_of("u2"));
    let x1 = d.get_id(&pool, &[("one.example.com", &t1)]).await.unwrap();
    d.clock.advance(Duration::from_secs(5));
    let x2 = d.get_id(&pool, &[("two.example.com", &t2)]).await.unwrap();
    assert_ne!(x1, x2);

    let both = d
        .get_id(&pool, &[("one.example.com", &t1), ("two.example.com", &t2)])
        .await
        .unwrap();
    assert_eq!(both, x1, "the older identity survives");
    let survivor = d.cognate.identities().describe(&d.root, &x1).await.unwrap();
    assert_eq!(survivor.logins.len(), 2);
    assert_eq!(d.identity_count(&pool, true).await, 1);
    // The merged-away id never comes back.
    let again = d.get_id(&pool, &[("two.example.com", &t2)]).await.unwrap();
    assert_eq!(again, x1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_get_id_with_one_new_login_creates_one_identity() {
    let d = Domain::open().await;
    let setup = d.oidc_pool(false).await;
    let token = login_of("racer");
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (cognate, pool, token) = (d.cognate.clone(), setup.pool_id.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let logins = logins(&[(LOGIN_KEY, &token)]);
            cognate.identities().get_id(&pool, None, &logins).await
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        let id = task.await.unwrap();
        ids.insert(id.unwrap_or_else(|e| panic!("every GetId succeeds: {}", message(&e))));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(d.identity_count(&setup.pool_id, false).await, 1);
}
