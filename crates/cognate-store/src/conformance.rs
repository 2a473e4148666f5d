//! The behaviour every Store engine must show. `tests/conformance.rs` runs
//! each case against SQLite and, when `COGNATE_TEST_POSTGRES_URL` is set,
//! PostgreSQL. Each case gets a fresh, empty store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use cognate_core::audit::{AuditQuery, AuditRecord};
use cognate_core::model::{
    Login, ManagedPolicy, ManagedPolicyVersion, MergeCause, MergeRecord, OidcProvider, Pool, Role,
    SamlProvider, SigningKeyRecord,
};
use cognate_core::store::{
    IdentityChanges, IdentityState, NewIdentity, PolicyDeletion, ResetCounts, Store, StoreError,
};

/// A pool allowing guests, with nothing else set.
pub fn pool(id: &str, account: &str) -> Pool {
    Pool {
        allow_unauthenticated: true,
        ..Pool::empty(id, account, "us-east-1", &format!("pool {id}"), 1)
    }
}

fn login(provider: &str, subject: &str) -> Login {
    Login {
        provider: provider.into(),
        subject: subject.into(),
    }
}

fn new_identity(id: &str, pool_id: &str) -> NewIdentity {
    NewIdentity {
        id: id.into(),
        pool_id: pool_id.into(),
        created_at: 10,
    }
}

/// Creates an identity holding the given logins.
async fn create_with(store: &dyn Store, pool_id: &str, id: &str, logins: &[Login]) {
    store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 10,
            create: Some(new_identity(id, pool_id)),
            links: logins.iter().map(|l| (id.to_string(), l.clone())).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
}

pub async fn pools_round_trip_and_versioning(store: Arc<dyn Store>) {
    let mut p = pool("us-east-1:00000000-0000-0000-0000-000000000001", "111");
    p.tags.insert("env".into(), "dev".into());
    store.insert_pool(&p, 10).await.unwrap();
    assert_eq!(store.get_pool(&p.id).await.unwrap(), Some(p.clone()));

    let mut changed = p.clone();
    changed.name = "renamed".into();
    changed.version = 2;
    store.update_pool(&changed, 1).await.unwrap();
    assert_eq!(
        store.get_pool(&p.id).await.unwrap().unwrap().name,
        "renamed"
    );

    // A writer that read version 1 loses.
    let mut stale = p.clone();
    stale.version = 2;
    assert!(matches!(
        store.update_pool(&stale, 1).await,
        Err(StoreError::Conflict(_))
    ));
    let mut missing = pool("us-east-1:00000000-0000-0000-0000-00000000dead", "111");
    missing.version = 2;
    assert!(matches!(
        store.update_pool(&missing, 1).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn pool_limit_is_per_account_and_region(store: Arc<dyn Store>) {
    for i in 0..3 {
        store
            .insert_pool(&pool(&format!("us-east-1:{i}"), "111"), 3)
            .await
            .unwrap();
    }
    assert!(matches!(
        store.insert_pool(&pool("us-east-1:9", "111"), 3).await,
        Err(StoreError::LimitExceeded(_))
    ));
    // Another account is not affected.
    store
        .insert_pool(&pool("us-east-1:a", "222"), 3)
        .await
        .unwrap();
    let mut other_region = pool("eu-west-1:b", "111");
    other_region.region = "eu-west-1".into();
    store.insert_pool(&other_region, 3).await.unwrap();
}

pub async fn pools_page_in_id_order(store: Arc<dyn Store>) {
    for id in ["us-east-1:c", "us-east-1:a", "us-east-1:b", "us-east-1:d"] {
        store.insert_pool(&pool(id, "111"), 100).await.unwrap();
    }
    store
        .insert_pool(&pool("us-east-1:0", "222"), 100)
        .await
        .unwrap();
    let first = store.list_pools("111", "us-east-1", None, 3).await.unwrap();
    let ids: Vec<_> = first.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["us-east-1:a", "us-east-1:b", "us-east-1:c"]);
    let rest = store
        .list_pools("111", "us-east-1", Some("us-east-1:c"), 3)
        .await
        .unwrap();
    let ids: Vec<_> = rest.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["us-east-1:d"]);
}

pub async fn developer_provider_names_are_unique(store: Arc<dyn Store>) {
    let mut a = pool("us-east-1:a", "111");
    a.developer_provider_name = Some("login.app".into());
    store.insert_pool(&a, 10).await.unwrap();
    let mut b = pool("us-east-1:b", "111");
    b.developer_provider_name = Some("login.app".into());
    assert!(matches!(
        store.insert_pool(&b, 10).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store
            .pool_by_developer_provider("111", "us-east-1", "login.app")
            .await
            .unwrap()
            .as_deref(),
        Some("us-east-1:a")
    );
}

pub async fn deleting_a_pool_deletes_its_identities(store: Arc<dyn Store>) {
    let p = pool("us-east-1:p", "111");
    store.insert_pool(&p, 10).await.unwrap();
    create_with(
        &*store,
        &p.id,
        "us-east-1:i1",
        &[login("accounts.google.com", "u1")],
    )
    .await;
    assert!(store.delete_pool(&p.id).await.unwrap());
    assert!(!store.delete_pool(&p.id).await.unwrap());
    assert_eq!(store.get_identity("us-east-1:i1").await.unwrap(), None);
    assert!(
        store
            .find_login_owners(&p.id, &[login("accounts.google.com", "u1")])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_login_belongs_to_one_identity(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    let l = login("accounts.google.com", "u1");
    create_with(&*store, pool_id, "us-east-1:i1", std::slice::from_ref(&l)).await;
    let second = store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 11,
            create: Some(new_identity("us-east-1:i2", pool_id)),
            links: vec![("us-east-1:i2".into(), l.clone())],
            ..Default::default()
        })
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))));
    // Nothing of the failed change is left: not even the identity.
    assert_eq!(store.get_identity("us-east-1:i2").await.unwrap(), None);
    assert_eq!(
        store
            .find_login_owners(pool_id, std::slice::from_ref(&l))
            .await
            .unwrap(),
        vec![(l.clone(), "us-east-1:i1".to_string())]
    );
    // The same login in another pool is another login.
    create_with(&*store, "us-east-1:other", "us-east-1:i3", &[l]).await;
}

pub async fn stale_versions_abort_the_whole_change(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    create_with(&*store, pool_id, "us-east-1:i1", &[]).await;
    let identity = store.get_identity("us-east-1:i1").await.unwrap().unwrap();
    assert_eq!(identity.version, 1);
    assert!(identity.is_guest());
    let stale = store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 12,
            expect_versions: vec![("us-east-1:i1".into(), 7)],
            links: vec![("us-east-1:i1".into(), login("www.amazon.com", "a"))],
            ..Default::default()
        })
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));
    assert!(
        store
            .get_identity("us-east-1:i1")
            .await
            .unwrap()
            .unwrap()
            .logins
            .is_empty()
    );

    store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 12,
            expect_versions: vec![("us-east-1:i1".into(), 1)],
            links: vec![("us-east-1:i1".into(), login("www.amazon.com", "a"))],
            ..Default::default()
        })
        .await
        .unwrap();
    let identity = store.get_identity("us-east-1:i1").await.unwrap().unwrap();
    assert_eq!(identity.version, 2);
    assert_eq!(identity.updated_at, 12);
    assert_eq!(identity.logins, vec![login("www.amazon.com", "a")]);
}

pub async fn merges_move_logins_and_disable_the_source(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    create_with(
        &*store,
        pool_id,
        "us-east-1:a",
        &[login("accounts.google.com", "g")],
    )
    .await;
    create_with(
        &*store,
        pool_id,
        "us-east-1:b",
        &[login("www.amazon.com", "z")],
    )
    .await;
    let record = MergeRecord {
        pool_id: pool_id.into(),
        from_identity: "us-east-1:b".into(),
        to_identity: "us-east-1:a".into(),
        at: 20,
        cause: MergeCause::LoginPresented,
    };
    store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 20,
            // Creating with a login bumps the version once more.
            expect_versions: vec![("us-east-1:a".into(), 2), ("us-east-1:b".into(), 2)],
            merges: vec![record.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let a = store.get_identity("us-east-1:a").await.unwrap().unwrap();
    let b = store.get_identity("us-east-1:b").await.unwrap().unwrap();
    assert_eq!(
        a.logins,
        vec![
            login("accounts.google.com", "g"),
            login("www.amazon.com", "z")
        ]
    );
    assert!(!a.disabled);
    assert!(b.disabled);
    assert_eq!(b.merged_into.as_deref(), Some("us-east-1:a"));
    assert!(b.logins.is_empty());
    assert!(!b.is_guest());
    assert_eq!(
        store.merges_of("us-east-1:b").await.unwrap(),
        vec![record.clone()]
    );
    assert_eq!(store.merges_of("us-east-1:a").await.unwrap(), vec![record]);
    // A disabled identity never receives a login.
    let link = store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 21,
            links: vec![("us-east-1:b".into(), login("appleid.apple.com", "x"))],
            ..Default::default()
        })
        .await;
    assert!(matches!(link, Err(StoreError::Conflict(_))));
}

pub async fn unlink_removes_only_the_named_login(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    create_with(
        &*store,
        pool_id,
        "us-east-1:a",
        &[
            login("dev", "u1"),
            login("dev", "u2"),
            login("www.amazon.com", "z"),
        ],
    )
    .await;
    store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 30,
            unlinks: vec![("us-east-1:a".into(), login("dev", "u1"))],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .subjects_of("us-east-1:a", "dev", None, 10)
            .await
            .unwrap(),
        vec!["u2".to_string()]
    );
    let again = store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 31,
            unlinks: vec![("us-east-1:a".into(), login("dev", "u1"))],
            ..Default::default()
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
}

/// Guests created at once all land (the engines group their commits), and
/// an id already taken fails its own call only, leaving nothing of it.
pub async fn concurrent_guests_commit_and_a_taken_id_fails_alone(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:cg";
    store
        .insert_guests(&[new_identity("us-east-1:taken", pool_id)])
        .await
        .unwrap();
    let mut calls = Vec::new();
    for n in 0..64 {
        let store = store.clone();
        calls.push(tokio::spawn(async move {
            let mut guests = vec![new_identity(&format!("us-east-1:g{n:02}"), pool_id)];
            if n == 7 {
                guests.push(new_identity("us-east-1:taken", pool_id));
            }
            store.insert_guests(&guests).await
        }));
    }
    for (n, call) in calls.into_iter().enumerate() {
        let outcome = call.await.unwrap();
        if n == 7 {
            assert!(
                matches!(outcome, Err(StoreError::Conflict(_))),
                "{outcome:?}"
            );
        } else {
            outcome.unwrap();
        }
    }
    let mut listed = Vec::new();
    let mut after = String::new();
    loop {
        let page = store
            .list_identities(pool_id, false, Some(&after), 50)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        listed.extend(page.into_iter().map(|i| i.id));
    }
    assert_eq!(listed.len(), 64, "63 guests and the taken one: {listed:?}");
    assert!(
        !listed.contains(&"us-east-1:g07".to_string()),
        "a failed call left its guest"
    );
}

/// Ids of a pool in one state, paged two at a time through `after`.
async fn ids_in_state(store: &dyn Store, pool_id: &str, state: IdentityState) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_identities_in_state(pool_id, state, after.as_deref(), 2)
            .await
            .unwrap();
        let done = page.len() < 2;
        ids.extend(page.into_iter().map(|i| i.id));
        if done {
            return ids;
        }
        after = ids.last().cloned();
    }
}

/// The console's filters: every change to an identity's logins (link,
/// unlink, merge, the last login unlinked, an import) moves it between
/// guest, authenticated and disabled, and each list pages in id order.
pub async fn identities_listed_by_state(store: Arc<dyn Store>) {
    use IdentityState::{Authenticated, Disabled, Guest};
    let pool_id = "us-east-1:p";
    let store = &*store;
    store
        .insert_guests(&[
            new_identity("us-east-1:g1", pool_id),
            new_identity("us-east-1:g2", pool_id),
            new_identity("us-east-1:g3", pool_id),
            new_identity("us-east-1:g4", pool_id),
            new_identity("us-east-1:other", "us-east-1:q"),
        ])
        .await
        .unwrap();
    create_with(
        store,
        pool_id,
        "us-east-1:a1",
        &[login("graph.facebook.com", "f1")],
    )
    .await;
    create_with(
        store,
        pool_id,
        "us-east-1:a2",
        &[login("graph.facebook.com", "f2"), login("dev", "u2")],
    )
    .await;
    create_with(store, pool_id, "us-east-1:a3", &[login("dev", "u3")]).await;
    let state = |s| ids_in_state(store, pool_id, s);
    assert_eq!(
        state(Guest).await,
        [
            "us-east-1:g1",
            "us-east-1:g2",
            "us-east-1:g3",
            "us-east-1:g4"
        ]
    );
    assert_eq!(
        state(Authenticated).await,
        ["us-east-1:a1", "us-east-1:a2", "us-east-1:a3"]
    );
    assert!(state(Disabled).await.is_empty());

    let change = |changes: IdentityChanges| async move {
        store
            .apply_identity_changes(&IdentityChanges {
                pool_id: pool_id.into(),
                now: 50,
                ..changes
            })
            .await
            .unwrap();
    };
    // A guest gains a login; a guest is merged into an identity.
    change(IdentityChanges {
        links: vec![("us-east-1:g1".into(), login("www.amazon.com", "z1"))],
        ..Default::default()
    })
    .await;
    change(IdentityChanges {
        merges: vec![MergeRecord {
            pool_id: pool_id.into(),
            from_identity: "us-east-1:g2".into(),
            to_identity: "us-east-1:a1".into(),
            at: 50,
            cause: MergeCause::LoginPresented,
        }],
        ..Default::default()
    })
    .await;
    // An authenticated identity is merged into a guest, which takes its
    // logins.
    change(IdentityChanges {
        merges: vec![MergeRecord {
            pool_id: pool_id.into(),
            from_identity: "us-east-1:a3".into(),
            to_identity: "us-east-1:g3".into(),
            at: 50,
            cause: MergeCause::DeveloperMerge,
        }],
        ..Default::default()
    })
    .await;
    // One of two logins unlinked: still authenticated. The only login
    // unlinked: disabled.
    change(IdentityChanges {
        unlinks: vec![("us-east-1:a2".into(), login("dev", "u2"))],
        touch: vec!["us-east-1:a2".into()],
        ..Default::default()
    })
    .await;
    change(IdentityChanges {
        unlinks: vec![("us-east-1:a1".into(), login("graph.facebook.com", "f1"))],
        touch: vec!["us-east-1:a1".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(state(Guest).await, ["us-east-1:a1", "us-east-1:g4"]);
    assert_eq!(
        state(Authenticated).await,
        ["us-east-1:a2", "us-east-1:g1", "us-east-1:g3"]
    );
    assert_eq!(state(Disabled).await, ["us-east-1:a3", "us-east-1:g2"]);
    change(IdentityChanges {
        unlinks: vec![("us-east-1:g1".into(), login("www.amazon.com", "z1"))],
        disable: vec!["us-east-1:g1".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(
        state(Disabled).await,
        ["us-east-1:a3", "us-east-1:g1", "us-east-1:g2"]
    );
    assert_eq!(state(Authenticated).await, ["us-east-1:a2", "us-east-1:g3"]);
    // A page carries the identity's logins; `after` starts past an id.
    let page = store
        .list_identities_in_state(pool_id, Authenticated, Some("us-east-1:a2"), 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "us-east-1:g3");
    assert_eq!(page[0].logins, vec![login("dev", "u3")]);

    // Imported identities land in their state.
    let imported = |id: &str, disabled: bool, logins: Vec<Login>| cognate_core::model::Identity {
        id: id.into(),
        pool_id: pool_id.into(),
        created_at: 1,
        updated_at: 1,
        disabled,
        merged_into: None,
        logins,
        version: 1,
    };
    store
        .import_identities(&[
            imported(
                "us-east-1:i1",
                false,
                vec![login("accounts.google.com", "s")],
            ),
            imported("us-east-1:i2", false, Vec::new()),
            imported("us-east-1:i3", true, Vec::new()),
        ])
        .await
        .unwrap();
    assert_eq!(
        state(Guest).await,
        ["us-east-1:a1", "us-east-1:g4", "us-east-1:i2"]
    );
    assert_eq!(
        state(Authenticated).await,
        ["us-east-1:a2", "us-east-1:g3", "us-east-1:i1"]
    );
    assert_eq!(
        state(Disabled).await,
        [
            "us-east-1:a3",
            "us-east-1:g1",
            "us-east-1:g2",
            "us-east-1:i3"
        ]
    );
    // Deleted identities leave their list; other pools are apart.
    assert!(store.delete_identity("us-east-1:g3").await.unwrap());
    assert_eq!(state(Authenticated).await, ["us-east-1:a2", "us-east-1:i1"]);
    assert_eq!(
        ids_in_state(store, "us-east-1:q", Guest).await,
        ["us-east-1:other"]
    );
}

pub async fn identities_page_and_hide_disabled(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    store
        .insert_guests(&[
            new_identity("us-east-1:3", pool_id),
            new_identity("us-east-1:1", pool_id),
            new_identity("us-east-1:2", pool_id),
        ])
        .await
        .unwrap();
    store
        .insert_guests(&[new_identity("us-east-1:0", "us-east-1:q")])
        .await
        .unwrap();
    create_with(
        &*store,
        pool_id,
        "us-east-1:4",
        &[login("www.amazon.com", "z")],
    )
    .await;
    store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 40,
            merges: vec![MergeRecord {
                pool_id: pool_id.into(),
                from_identity: "us-east-1:2".into(),
                to_identity: "us-east-1:4".into(),
                at: 40,
                cause: MergeCause::LoginPresented,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let page = store
        .list_identities(pool_id, false, None, 2)
        .await
        .unwrap();
    let ids: Vec<_> = page.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["us-east-1:1", "us-east-1:2"]);
    let page = store
        .list_identities(pool_id, false, Some("us-east-1:2"), 10)
        .await
        .unwrap();
    let ids: Vec<_> = page.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["us-east-1:3", "us-east-1:4"]);
    assert_eq!(page[1].logins, vec![login("www.amazon.com", "z")]);
    let visible = store
        .list_identities(pool_id, true, None, 10)
        .await
        .unwrap();
    let ids: Vec<_> = visible.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["us-east-1:1", "us-east-1:3", "us-east-1:4"]);
    // Counted, disabled ones too, no further than the cap.
    assert_eq!(store.count_identities(pool_id, 100).await.unwrap(), 4);
    assert_eq!(store.count_identities(pool_id, 2).await.unwrap(), 2);
    assert_eq!(store.count_identities("us-east-1:q", 100).await.unwrap(), 1);
    assert_eq!(
        store.count_identities("us-east-1:none", 100).await.unwrap(),
        0
    );

    assert!(store.delete_identity("us-east-1:4").await.unwrap());
    assert!(!store.delete_identity("us-east-1:4").await.unwrap());
    assert!(
        store
            .find_login_owners(pool_id, &[login("www.amazon.com", "z")])
            .await
            .unwrap()
            .is_empty()
    );
}

/// Many writers racing to create the same login: exactly one wins.
pub async fn concurrent_creation_of_one_login(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("us-east-1:c{i}");
            store
                .apply_identity_changes(&IdentityChanges {
                    pool_id: pool_id.into(),
                    now: 50,
                    create: Some(new_identity(&id, pool_id)),
                    links: vec![(id.clone(), login("accounts.google.com", "same"))],
                    ..Default::default()
                })
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(won, 1);
    let all = store
        .list_identities(pool_id, false, None, 60)
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "failed creations must leave no identity");
}

fn role(account: &str, name: &str) -> Role {
    Role {
        account: account.into(),
        name: name.into(),
        path: "/".into(),
        role_id: format!("AROA{}", name.to_uppercase()),
        arn: format!("arn:aws:iam::{account}:role/{name}"),
        assume_role_policy_document: "{}".into(),
        description: None,
        max_session_duration: 3600,
        created_at: 1,
        inline_policies: BTreeMap::new(),
        attached_policies: vec![],
        tags: BTreeMap::new(),
    }
}

fn managed_policy(account: &str, name: &str) -> ManagedPolicy {
    ManagedPolicy {
        account: account.into(),
        name: name.into(),
        path: "/".into(),
        policy_id: format!("ANPA{}", name.to_uppercase()),
        arn: format!("arn:aws:iam::{account}:policy/{name}"),
        description: Some(format!("policy {name}")),
        default_version_id: "v1".into(),
        versions: vec![ManagedPolicyVersion {
            version_id: "v1".into(),
            document: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            created_at: 1,
        }],
        created_at: 1,
        updated_at: 1,
        attachment_count: 0,
        tags: BTreeMap::new(),
        highest_version: 1,
    }
}

pub async fn managed_policies_round_trip(store: Arc<dyn Store>) {
    for name in ["Charlie", "alpha", "Bravo"] {
        store
            .insert_managed_policy(&managed_policy("111", name))
            .await
            .unwrap();
    }
    store
        .insert_managed_policy(&managed_policy("222", "alpha"))
        .await
        .unwrap();
    // Names are unique in an account regardless of case (and path).
    let mut clash = managed_policy("111", "ALPHA");
    clash.path = "/other/".into();
    clash.arn = "arn:aws:iam::111:policy/other/ALPHA".into();
    assert!(matches!(
        store.insert_managed_policy(&clash).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let bravo = managed_policy("111", "Bravo");
    assert_eq!(
        store.get_managed_policy(&bravo.arn).await.unwrap(),
        Some(bravo.clone())
    );
    assert_eq!(
        store
            .get_managed_policy("arn:aws:iam::111:policy/nope")
            .await
            .unwrap(),
        None
    );
    // Paged by lower-cased name.
    let first = store.list_managed_policies("111", None, 2).await.unwrap();
    let names: Vec<&str> = first.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alpha", "Bravo"]);
    let rest = store
        .list_managed_policies("111", Some("bravo"), 2)
        .await
        .unwrap();
    let names: Vec<&str> = rest.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Charlie"]);
    // An edit is applied and kept; a refused edit writes nothing.
    let added = |policy: &mut ManagedPolicy| {
        policy.versions.push(ManagedPolicyVersion {
            version_id: "v2".into(),
            document: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            created_at: 2,
        });
        policy.default_version_id = "v2".into();
        Ok(())
    };
    let revised = store
        .edit_managed_policy(&bravo.arn, Box::new(added))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revised.default_version_id, "v2");
    assert_eq!(
        store.get_managed_policy(&bravo.arn).await.unwrap(),
        Some(revised.clone())
    );
    let refused = store
        .edit_managed_policy(
            &bravo.arn,
            Box::new(|policy: &mut ManagedPolicy| {
                policy.versions.clear();
                Err(cognate_core::Error::LimitExceeded("no".into()))
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        refused,
        Err(cognate_core::Error::LimitExceeded("no".into()))
    );
    assert_eq!(
        store.get_managed_policy(&bravo.arn).await.unwrap(),
        Some(revised)
    );
    assert!(matches!(
        store
            .edit_managed_policy("arn:aws:iam::111:policy/nope", Box::new(|_| Ok(())))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Concurrent edits each see the one before: no version is lost.
    let edits = (0..4).map(|_| {
        let store = store.clone();
        let arn = bravo.arn.clone();
        tokio::spawn(async move {
            let next = |policy: &mut ManagedPolicy| {
                let n = policy.versions.len() + 1;
                policy.versions.push(ManagedPolicyVersion {
                    version_id: format!("v{n}"),
                    document: "{}".into(),
                    created_at: 3,
                });
                Ok(())
            };
            store.edit_managed_policy(&arn, Box::new(next)).await
        })
    });
    for edit in edits.collect::<Vec<_>>() {
        edit.await.unwrap().unwrap().unwrap();
    }
    let ids: Vec<String> = store
        .get_managed_policy(&bravo.arn)
        .await
        .unwrap()
        .unwrap()
        .versions
        .into_iter()
        .map(|v| v.version_id)
        .collect();
    assert_eq!(ids, ["v1", "v2", "v3", "v4", "v5", "v6"]);
    assert_eq!(
        store.delete_managed_policy(&bravo.arn).await.unwrap(),
        PolicyDeletion::Deleted
    );
    assert_eq!(
        store.delete_managed_policy(&bravo.arn).await.unwrap(),
        PolicyDeletion::NotFound
    );
    assert_eq!(store.get_managed_policy(&bravo.arn).await.unwrap(), None);
    assert_eq!(
        store.list_managed_policies("222", None, 10).await.unwrap(),
        vec![managed_policy("222", "alpha")]
    );
}

pub async fn attachments_follow_roles_and_policies(store: Arc<dyn Store>) {
    let guest = role("111", "Guest");
    store.insert_role(&guest).await.unwrap();
    let p1 = managed_policy("111", "p1");
    let p2 = managed_policy("111", "p2");
    store.insert_managed_policy(&p1).await.unwrap();
    store.insert_managed_policy(&p2).await.unwrap();

    // Attaching is idempotent and case-insensitive in the role name.
    store
        .attach_role_policy("111", "guest", &p2.arn)
        .await
        .unwrap();
    store
        .attach_role_policy("111", "Guest", &p2.arn)
        .await
        .unwrap();
    store
        .attach_role_policy("111", "Guest", &p1.arn)
        .await
        .unwrap();
    let read = store.get_role("111", "Guest").await.unwrap().unwrap();
    assert_eq!(read.attached_policies, vec![p1.arn.clone(), p2.arn.clone()]);
    assert_eq!(
        store.list_roles("111", None, 10).await.unwrap()[0].attached_policies,
        vec![p1.arn.clone(), p2.arn.clone()]
    );
    assert_eq!(
        store
            .get_managed_policy(&p1.arn)
            .await
            .unwrap()
            .unwrap()
            .attachment_count,
        1
    );
    assert_eq!(
        store.list_managed_policies("111", None, 10).await.unwrap()[1].attachment_count,
        1
    );

    // A stale read-modify-write of the role does not undo attachments.
    let mut stale = guest.clone();
    stale.description = Some("changed".into());
    store.update_role(&stale).await.unwrap();
    let read = store.get_role("111", "Guest").await.unwrap().unwrap();
    assert_eq!(read.description.as_deref(), Some("changed"));
    assert_eq!(read.attached_policies.len(), 2);

    // An attached policy cannot be deleted.
    assert_eq!(
        store.delete_managed_policy(&p1.arn).await.unwrap(),
        PolicyDeletion::Attached
    );
    assert!(
        store
            .detach_role_policy("111", "GUEST", &p1.arn)
            .await
            .unwrap()
    );
    assert!(
        !store
            .detach_role_policy("111", "Guest", &p1.arn)
            .await
            .unwrap()
    );
    assert_eq!(
        store.delete_managed_policy(&p1.arn).await.unwrap(),
        PolicyDeletion::Deleted
    );

    // Missing ends.
    assert!(matches!(
        store.attach_role_policy("111", "Nobody", &p2.arn).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.attach_role_policy("111", "Guest", &p1.arn).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.attach_role_policy("222", "Guest", &p2.arn).await,
        Err(StoreError::NotFound(_))
    ));

    // Deleting the role takes its attachments with it; a role of the same
    // name starts without them.
    assert!(store.delete_role("111", "Guest").await.unwrap());
    assert_eq!(
        store
            .get_managed_policy(&p2.arn)
            .await
            .unwrap()
            .unwrap()
            .attachment_count,
        0
    );
    store.insert_role(&guest).await.unwrap();
    assert!(
        store
            .get_role("111", "Guest")
            .await
            .unwrap()
            .unwrap()
            .attached_policies
            .is_empty()
    );
    assert_eq!(
        store.delete_managed_policy(&p2.arn).await.unwrap(),
        PolicyDeletion::Deleted
    );
}

/// Attaching and deleting the same policy at once: never an attachment to
/// a deleted policy.
pub async fn concurrent_attach_and_policy_delete(store: Arc<dyn Store>) {
    store.insert_role(&role("111", "Racer")).await.unwrap();
    for round in 0..10 {
        let policy = managed_policy("111", &format!("race{round}"));
        store.insert_managed_policy(&policy).await.unwrap();
        let attach = {
            let store = store.clone();
            let arn = policy.arn.clone();
            tokio::spawn(async move { store.attach_role_policy("111", "Racer", &arn).await })
        };
        let delete = {
            let store = store.clone();
            let arn = policy.arn.clone();
            tokio::spawn(async move { store.delete_managed_policy(&arn).await })
        };
        let attached = attach.await.unwrap();
        let deleted = delete.await.unwrap().unwrap();
        let exists = store.get_managed_policy(&policy.arn).await.unwrap();
        let role = store.get_role("111", "Racer").await.unwrap().unwrap();
        let on_role = role.attached_policies.contains(&policy.arn);
        match deleted {
            PolicyDeletion::Deleted => {
                assert!(exists.is_none());
                assert!(!on_role, "round {round}: attachment to a deleted policy");
                assert!(matches!(attached, Err(StoreError::NotFound(_))));
            }
            PolicyDeletion::Attached => {
                attached.unwrap();
                assert!(on_role);
                assert_eq!(exists.unwrap().attachment_count, 1);
            }
            PolicyDeletion::NotFound => panic!("round {round}: the policy vanished"),
        }
    }
}

pub async fn roles_are_unique_ignoring_case(store: Arc<dyn Store>) {
    let role = Role {
        account: "111".into(),
        name: "Guest".into(),
        path: "/".into(),
        role_id: "AROAEXAMPLE".into(),
        arn: "arn:aws:iam::111:role/Guest".into(),
        assume_role_policy_document: "{}".into(),
        description: None,
        max_session_duration: 3600,
        created_at: 1,
        inline_policies: BTreeMap::new(),
        attached_policies: vec![],
        tags: BTreeMap::new(),
    };
    store.insert_role(&role).await.unwrap();
    let mut upper = role.clone();
    upper.name = "GUEST".into();
    assert!(matches!(
        store.insert_role(&upper).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store.get_role("111", "guest").await.unwrap(),
        Some(role.clone())
    );
    assert_eq!(store.get_role("222", "Guest").await.unwrap(), None);
    let mut updated = role.clone();
    updated.inline_policies.insert("p".into(), "{}".into());
    store.update_role(&updated).await.unwrap();
    assert_eq!(
        store.list_roles("111", None, 10).await.unwrap(),
        vec![updated]
    );
    assert!(store.delete_role("111", "Guest").await.unwrap());
    assert!(matches!(
        store.update_role(&role).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn oidc_providers_round_trip(store: Arc<dyn Store>) {
    let provider = OidcProvider {
        account: "111".into(),
        arn: "arn:aws:iam::111:oidc-provider/127.0.0.1:9000".into(),
        url: "http://127.0.0.1:9000".into(),
        client_ids: vec!["c1".into()],
        thumbprints: vec![],
        created_at: 1,
        tags: BTreeMap::new(),
    };
    store.insert_oidc_provider(&provider).await.unwrap();
    assert!(matches!(
        store.insert_oidc_provider(&provider).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let mut more = provider.clone();
    more.client_ids.push("c2".into());
    store.update_oidc_provider(&more).await.unwrap();
    assert_eq!(
        store.list_oidc_providers("111").await.unwrap(),
        vec![more.clone()]
    );
    assert_eq!(
        store.get_oidc_provider(&provider.arn).await.unwrap(),
        Some(more)
    );
    assert!(store.delete_oidc_provider(&provider.arn).await.unwrap());
    assert_eq!(store.get_oidc_provider(&provider.arn).await.unwrap(), None);
}

fn saml_provider(account: &str, name: &str) -> SamlProvider {
    SamlProvider {
        account: account.into(),
        arn: format!("arn:aws:iam::{account}:saml-provider/{name}"),
        name: name.into(),
        metadata: "<md:EntityDescriptor/>".into(),
        created_at: 1,
        valid_until: Some(2_000_000_000),
        tags: BTreeMap::from([("team".to_string(), "identity".to_string())]),
    }
}

pub async fn saml_providers_round_trip(store: Arc<dyn Store>) {
    let provider = saml_provider("111", "corp");
    let other_account = saml_provider("222", "corp");
    store.insert_saml_provider(&provider).await.unwrap();
    store.insert_saml_provider(&other_account).await.unwrap();
    assert!(matches!(
        store.insert_saml_provider(&provider).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let mut updated = provider.clone();
    updated.metadata = "<md:EntityDescriptor entityID=\"x\"/>".into();
    updated.valid_until = None;
    store.update_saml_provider(&updated).await.unwrap();
    let second = saml_provider("111", "another");
    store.insert_saml_provider(&second).await.unwrap();
    assert_eq!(
        store.list_saml_providers("111").await.unwrap(),
        vec![second.clone(), updated.clone()]
    );
    assert_eq!(
        store.get_saml_provider(&provider.arn).await.unwrap(),
        Some(updated.clone())
    );
    assert!(store.delete_saml_provider(&provider.arn).await.unwrap());
    assert!(!store.delete_saml_provider(&provider.arn).await.unwrap());
    assert_eq!(store.get_saml_provider(&provider.arn).await.unwrap(), None);
    assert!(matches!(
        store.update_saml_provider(&updated).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.list_saml_providers("222").await.unwrap(),
        vec![other_account]
    );
}

pub async fn signing_keys_retire_and_expire(store: Arc<dyn Store>) {
    let key = |kid: &str, created_at| SigningKeyRecord {
        kid: kid.into(),
        alg: "RS512".into(),
        sealed_private_key: vec![1, 2, 3],
        public_jwk: "{}".into(),
        created_at,
        retired_at: None,
    };
    store.insert_signing_key(&key("k1", 1)).await.unwrap();
    store.insert_signing_key(&key("k2", 2)).await.unwrap();
    store.retire_signing_keys("k2", 100).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].kid, "k1");
    assert_eq!(keys[0].retired_at, Some(100));
    assert_eq!(keys[1].retired_at, None);
    assert_eq!(keys[0].sealed_private_key, vec![1, 2, 3]);
    assert_eq!(
        store.delete_signing_keys_retired_before(100).await.unwrap(),
        0
    );
    assert_eq!(
        store.delete_signing_keys_retired_before(101).await.unwrap(),
        1
    );
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 1);
}

pub async fn settings_are_set_once(store: Arc<dyn Store>) {
    assert_eq!(store.get_setting("k").await.unwrap(), None);
    assert_eq!(store.init_setting("k", b"first").await.unwrap(), b"first");
    assert_eq!(store.init_setting("k", b"second").await.unwrap(), b"first");
    assert_eq!(
        store.get_setting("k").await.unwrap(),
        Some(b"first".to_vec())
    );
}

pub async fn import_writes_records_as_given(store: Arc<dyn Store>) {
    use cognate_core::model::Identity;
    store
        .insert_pool(&pool("us-east-1:b", "111"), 10)
        .await
        .unwrap();
    store
        .insert_pool(&pool("us-east-1:a", "222"), 10)
        .await
        .unwrap();
    let all = store.list_all_pools(None, 10).await.unwrap();
    let ids: Vec<_> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["us-east-1:a", "us-east-1:b"]);
    assert_eq!(
        store
            .list_all_pools(Some("us-east-1:a"), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let merged = Identity {
        id: "us-east-1:old".into(),
        pool_id: "us-east-1:a".into(),
        created_at: 5,
        updated_at: 9,
        disabled: true,
        merged_into: Some("us-east-1:new".into()),
        logins: vec![],
        version: 4,
    };
    let survivor = Identity {
        id: "us-east-1:new".into(),
        pool_id: "us-east-1:a".into(),
        created_at: 3,
        updated_at: 9,
        disabled: false,
        merged_into: None,
        logins: vec![login("accounts.google.com", "g"), login("dev", "u1")],
        version: 7,
    };
    store
        .import_identities(&[merged.clone(), survivor.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.get_identity(&merged.id).await.unwrap(),
        Some(merged.clone())
    );
    assert_eq!(
        store.get_identity(&survivor.id).await.unwrap(),
        Some(survivor.clone())
    );
    // An id or a login that exists is refused, and nothing of the batch stays.
    let mut clash = survivor.clone();
    clash.id = "us-east-1:other".into();
    let fresh = Identity {
        id: "us-east-1:fresh".into(),
        logins: vec![],
        ..merged.clone()
    };
    assert!(matches!(
        store.import_identities(&[fresh.clone(), clash]).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.get_identity(&fresh.id).await.unwrap(), None);

    let record = MergeRecord {
        pool_id: "us-east-1:a".into(),
        from_identity: merged.id.clone(),
        to_identity: survivor.id.clone(),
        at: 9,
        cause: MergeCause::DeveloperMerge,
    };
    store
        .import_merges(std::slice::from_ref(&record))
        .await
        .unwrap();
    assert_eq!(
        store.merges_of_pool("us-east-1:a").await.unwrap(),
        vec![record.clone()]
    );
    assert!(
        store
            .merges_of_pool("us-east-1:b")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.merges_of(&merged.id).await.unwrap(), vec![record]);
}

pub async fn idle_guests_are_deleted_and_others_kept(store: Arc<dyn Store>) {
    let pool_id = "us-east-1:p";
    store
        .insert_guests(&[new_identity("us-east-1:old", pool_id)])
        .await
        .unwrap();
    // created_at 10; a linked identity and a merged one of the same age stay.
    create_with(&*store, pool_id, "us-east-1:member", &[login("dev", "u")]).await;
    store
        .insert_guests(&[new_identity("us-east-1:merged", pool_id)])
        .await
        .unwrap();
    store
        .apply_identity_changes(&IdentityChanges {
            pool_id: pool_id.into(),
            now: 10,
            merges: vec![MergeRecord {
                pool_id: pool_id.into(),
                from_identity: "us-east-1:merged".into(),
                to_identity: "us-east-1:member".into(),
                at: 10,
                cause: MergeCause::LoginPresented,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.delete_idle_guests(10, 100).await.unwrap(), 0);
    assert_eq!(store.delete_idle_guests(11, 100).await.unwrap(), 1);
    assert_eq!(store.get_identity("us-east-1:old").await.unwrap(), None);
    assert!(
        store
            .get_identity("us-east-1:member")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_identity("us-east-1:merged")
            .await
            .unwrap()
            .is_some()
    );
}

/// Whether the configuration generation moved since `last` (and records
/// the new value). It never goes back.
async fn generation_moved(store: &dyn Store, last: &mut i64) -> bool {
    let now = store.config_generation().await.unwrap();
    assert!(now >= *last, "the generation went back: {} -> {now}", *last);
    let moved = now > *last;
    *last = now;
    moved
}

pub async fn generation_and_identity_agree_with_separate_reads(store: Arc<dyn Store>) {
    let s = &*store;
    let p = pool("us-east-1:gi", "111");
    s.insert_pool(&p, 10).await.unwrap();
    create_with(
        s,
        &p.id,
        "us-east-1:gi1",
        &[login("b.example", "u2"), login("a.example", "u1")],
    )
    .await;
    s.insert_guests(&[new_identity("us-east-1:gi2", &p.id)])
        .await
        .unwrap();
    for id in ["us-east-1:gi1", "us-east-1:gi2", "us-east-1:missing"] {
        let (generation, identity) = s.generation_and_identity(id).await.unwrap();
        assert_eq!(generation, s.config_generation().await.unwrap(), "{id}");
        assert_eq!(identity, s.get_identity(id).await.unwrap(), "{id}");
    }
    let (_, with_logins) = s.generation_and_identity("us-east-1:gi1").await.unwrap();
    assert_eq!(with_logins.unwrap().logins.len(), 2);
    let before = s.config_generation().await.unwrap();
    s.update_pool(&p, p.version).await.unwrap();
    let (after, _) = s.generation_and_identity("us-east-1:gi2").await.unwrap();
    assert!(after > before);
}

pub async fn config_generation_counts_config_changes(store: Arc<dyn Store>) {
    use cognate_core::model::Identity;
    let s = &*store;
    let mut g = s.config_generation().await.unwrap();

    // Pools.
    let p = pool("us-east-1:a", "111");
    s.insert_pool(&p, 1).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "insert_pool");
    assert!(matches!(
        s.insert_pool(&pool("us-east-1:b", "111"), 1).await,
        Err(StoreError::LimitExceeded(_))
    ));
    assert!(!generation_moved(s, &mut g).await, "refused insert_pool");
    let mut changed = p.clone();
    changed.allow_unauthenticated = false;
    changed.version = 2;
    s.update_pool(&changed, 1).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "update_pool");
    assert!(matches!(
        s.update_pool(&changed, 1).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(!generation_moved(s, &mut g).await, "stale update_pool");

    // Identity writes are not configuration.
    create_with(s, &p.id, "us-east-1:i1", &[login("dev", "u1")]).await;
    s.insert_guests(&[new_identity("us-east-1:i2", &p.id)])
        .await
        .unwrap();
    s.apply_identity_changes(&IdentityChanges {
        pool_id: p.id.clone(),
        now: 11,
        expect_versions: vec![],
        merges: vec![MergeRecord {
            pool_id: p.id.clone(),
            from_identity: "us-east-1:i2".into(),
            to_identity: "us-east-1:i1".into(),
            at: 11,
            cause: MergeCause::LoginPresented,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(s.delete_identity("us-east-1:i1").await.unwrap());
    s.import_identities(&[Identity {
        id: "us-east-1:i3".into(),
        pool_id: p.id.clone(),
        created_at: 1,
        updated_at: 1,
        disabled: false,
        merged_into: None,
        logins: vec![login("dev", "u3")],
        version: 1,
    }])
    .await
    .unwrap();
    s.delete_idle_guests(1_000, 10).await.unwrap();
    s.insert_signing_key(&SigningKeyRecord {
        kid: "k1".into(),
        alg: "RS512".into(),
        sealed_private_key: vec![1],
        public_jwk: "{}".into(),
        created_at: 1,
        retired_at: None,
    })
    .await
    .unwrap();
    s.init_setting("s", b"v").await.unwrap();
    assert!(!generation_moved(s, &mut g).await, "identity writes");

    // Roles and their attachments.
    let r = role("111", "Guest");
    s.insert_role(&r).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "insert_role");
    assert!(matches!(
        s.insert_role(&role("111", "GUEST")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(!generation_moved(s, &mut g).await, "refused insert_role");
    let mut updated = r.clone();
    updated.assume_role_policy_document = r#"{"Version":"2012-10-17"}"#.into();
    s.update_role(&updated).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "update_role");
    assert!(matches!(
        s.update_role(&role("111", "Missing")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!generation_moved(s, &mut g).await, "refused update_role");

    // Managed policies.
    let mp = managed_policy("111", "p1");
    s.insert_managed_policy(&mp).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "insert_managed_policy");
    assert!(matches!(
        s.insert_managed_policy(&mp).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(
        !generation_moved(s, &mut g).await,
        "refused insert_managed_policy"
    );
    s.attach_role_policy("111", "guest", &mp.arn).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "attach_role_policy");
    assert!(matches!(
        s.attach_role_policy("111", "Missing", &mp.arn).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !generation_moved(s, &mut g).await,
        "refused attach_role_policy"
    );
    assert_eq!(
        s.delete_managed_policy(&mp.arn).await.unwrap(),
        PolicyDeletion::Attached
    );
    assert!(
        !generation_moved(s, &mut g).await,
        "refused policy deletion"
    );
    assert!(s.detach_role_policy("111", "Guest", &mp.arn).await.unwrap());
    assert!(generation_moved(s, &mut g).await, "detach_role_policy");
    assert_eq!(
        s.delete_managed_policy(&mp.arn).await.unwrap(),
        PolicyDeletion::Deleted
    );
    assert!(generation_moved(s, &mut g).await, "delete_managed_policy");
    assert!(s.delete_role("111", "guest").await.unwrap());
    assert!(generation_moved(s, &mut g).await, "delete_role");

    // OIDC providers.
    let provider = OidcProvider {
        account: "111".into(),
        arn: "arn:aws:iam::111:oidc-provider/idp.example".into(),
        url: "https://idp.example".into(),
        client_ids: vec!["c1".into()],
        thumbprints: vec![],
        created_at: 1,
        tags: BTreeMap::new(),
    };
    s.insert_oidc_provider(&provider).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "insert_oidc_provider");
    assert!(matches!(
        s.insert_oidc_provider(&provider).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(
        !generation_moved(s, &mut g).await,
        "refused insert_oidc_provider"
    );
    let mut more = provider.clone();
    more.client_ids.push("c2".into());
    s.update_oidc_provider(&more).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "update_oidc_provider");
    assert!(s.delete_oidc_provider(&provider.arn).await.unwrap());
    assert!(generation_moved(s, &mut g).await, "delete_oidc_provider");
    assert!(matches!(
        s.update_oidc_provider(&more).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !generation_moved(s, &mut g).await,
        "refused update_oidc_provider"
    );

    // SAML providers.
    let provider = saml_provider("111", "corp");
    s.insert_saml_provider(&provider).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "insert_saml_provider");
    assert!(matches!(
        s.insert_saml_provider(&provider).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(
        !generation_moved(s, &mut g).await,
        "refused insert_saml_provider"
    );
    s.update_saml_provider(&provider).await.unwrap();
    assert!(generation_moved(s, &mut g).await, "update_saml_provider");
    assert!(s.delete_saml_provider(&provider.arn).await.unwrap());
    assert!(generation_moved(s, &mut g).await, "delete_saml_provider");
    assert!(!s.delete_saml_provider(&provider.arn).await.unwrap());
    assert!(
        !generation_moved(s, &mut g).await,
        "refused delete_saml_provider"
    );

    // Deleting the pool is a configuration change.
    assert!(s.delete_pool(&p.id).await.unwrap());
    assert!(generation_moved(s, &mut g).await, "delete_pool");
}

pub async fn reset_empties_all_but_keys_and_settings(store: Arc<dyn Store>) {
    let s = &*store;
    // A little of everything, in two accounts.
    let mut developer_pool = pool("us-east-1:r1", "111");
    developer_pool.developer_provider_name = Some("login.example".into());
    s.insert_pool(&developer_pool, 10).await.unwrap();
    s.insert_pool(&pool("us-east-1:r2", "222"), 10)
        .await
        .unwrap();
    let p = &developer_pool.id;
    create_with(s, p, "us-east-1:ri1", &[login("login.example", "dev-user")]).await;
    create_with(s, p, "us-east-1:ri2", &[login("accounts.google.com", "g")]).await;
    s.insert_guests(&[new_identity("us-east-1:ri3", p)])
        .await
        .unwrap();
    s.apply_identity_changes(&IdentityChanges {
        pool_id: p.clone(),
        now: 11,
        merges: vec![MergeRecord {
            pool_id: p.clone(),
            from_identity: "us-east-1:ri2".into(),
            to_identity: "us-east-1:ri1".into(),
            at: 11,
            cause: MergeCause::LoginPresented,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut guest_role = role("111", "Guest");
    guest_role
        .inline_policies
        .insert("inline".into(), r#"{"Version":"2012-10-17"}"#.into());
    s.insert_role(&guest_role).await.unwrap();
    s.insert_role(&role("222", "Other")).await.unwrap();
    let policy = managed_policy("111", "p1");
    s.insert_managed_policy(&policy).await.unwrap();
    s.attach_role_policy("111", "Guest", &policy.arn)
        .await
        .unwrap();
    let oidc = OidcProvider {
        account: "111".into(),
        arn: "arn:aws:iam::111:oidc-provider/127.0.0.1:9000".into(),
        url: "http://127.0.0.1:9000".into(),
        client_ids: vec!["c1".into()],
        thumbprints: vec![],
        created_at: 1,
        tags: BTreeMap::new(),
    };
    s.insert_oidc_provider(&oidc).await.unwrap();
    s.insert_saml_provider(&saml_provider("111", "corp"))
        .await
        .unwrap();
    let key = SigningKeyRecord {
        kid: "k1".into(),
        alg: "RS512".into(),
        sealed_private_key: vec![1, 2, 3],
        public_jwk: "{}".into(),
        created_at: 1,
        retired_at: None,
    };
    s.insert_signing_key(&key).await.unwrap();
    s.init_setting("master_key_check", b"kept").await.unwrap();
    let mut g = s.config_generation().await.unwrap();

    let removed = s.reset().await.unwrap();
    assert_eq!(
        removed,
        ResetCounts {
            pools: 2,
            identities: 3,
            logins: 2,
            merges: 1,
            roles: 2,
            managed_policies: 1,
            role_policy_attachments: 1,
            oidc_providers: 1,
            saml_providers: 1,
        }
    );
    assert!(generation_moved(s, &mut g).await, "reset");

    // Nothing of it is left, in any account.
    assert!(s.list_all_pools(None, 10).await.unwrap().is_empty());
    assert_eq!(s.get_pool(p).await.unwrap(), None);
    for id in ["us-east-1:ri1", "us-east-1:ri2", "us-east-1:ri3"] {
        assert_eq!(s.get_identity(id).await.unwrap(), None, "{id}");
        assert!(s.merges_of(id).await.unwrap().is_empty(), "{id}");
    }
    assert!(
        s.list_identities(p, false, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.merges_of_pool(p).await.unwrap().is_empty());
    let dev = login("login.example", "dev-user");
    assert!(
        s.find_login_owners(p, std::slice::from_ref(&dev))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.pool_by_developer_provider("111", "us-east-1", "login.example")
            .await
            .unwrap(),
        None
    );
    for account in ["111", "222"] {
        assert!(s.list_roles(account, None, 10).await.unwrap().is_empty());
        assert!(
            s.list_managed_policies(account, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(s.list_oidc_providers(account).await.unwrap().is_empty());
        assert!(s.list_saml_providers(account).await.unwrap().is_empty());
    }
    assert_eq!(s.get_managed_policy(&policy.arn).await.unwrap(), None);

    // The keys and settings stay.
    assert_eq!(s.list_signing_keys().await.unwrap(), vec![key]);
    assert_eq!(
        s.get_setting("master_key_check").await.unwrap(),
        Some(b"kept".to_vec())
    );

    // Everything can be made again under the same names, and nothing of
    // the old attachments comes back with it.
    s.insert_pool(&developer_pool, 10).await.unwrap();
    create_with(s, p, "us-east-1:ri1", std::slice::from_ref(&dev)).await;
    assert_eq!(
        s.find_login_owners(p, &[dev]).await.unwrap(),
        vec![(
            login("login.example", "dev-user"),
            "us-east-1:ri1".to_string()
        )]
    );
    s.insert_role(&role("111", "Guest")).await.unwrap();
    s.insert_managed_policy(&policy).await.unwrap();
    let again = s.get_role("111", "Guest").await.unwrap().unwrap();
    assert!(again.attached_policies.is_empty() && again.inline_policies.is_empty());
    let again = s.get_managed_policy(&policy.arn).await.unwrap().unwrap();
    assert_eq!(again.attachment_count, 0);
    s.insert_oidc_provider(&oidc).await.unwrap();

    // An empty deployment resets too, and the generation still moves.
    s.reset().await.unwrap();
    g = s.config_generation().await.unwrap();
    assert_eq!(s.reset().await.unwrap(), ResetCounts::default());
    assert!(generation_moved(s, &mut g).await, "reset of nothing");
}

/// Generates one `#[tokio::test]` per conformance case for an engine,
/// given an async expression that yields a fresh `Arc<dyn Store>` and
/// whatever must outlive it (e.g. its temporary directory), or `None`
/// when the engine is not available.
fn audit_event(
    at: i64,
    id: &str,
    kind: &str,
    pool: Option<&str>,
    identity: Option<&str>,
) -> AuditRecord {
    AuditRecord {
        at,
        id: id.into(),
        kind: kind.into(),
        pool_id: pool.map(str::to_string),
        identity_id: identity.map(str::to_string),
        other_identity_id: None,
        caller: "admin".into(),
        detail: r#"{"pool_name":"<script>x</script>"}"#.into(),
    }
}

/// Pages of `limit` events of `query`, cut by keyset, until one is short.
async fn audit_pages(store: &dyn Store, query: &AuditQuery, limit: usize) -> Vec<Vec<String>> {
    let mut query = query.clone();
    let mut pages = Vec::new();
    loop {
        let page = store.list_audit(&query, limit).await.unwrap();
        let ids: Vec<String> = page.iter().map(|e| e.id.clone()).collect();
        let last = page.last().map(|e| (e.at, e.id.clone()));
        let short = page.len() < limit;
        pages.push(ids);
        match last {
            Some(last) if !short => query.before = Some(last),
            _ => return pages,
        }
    }
}

pub async fn audit_events_filter_page_and_purge(store: Arc<dyn Store>) {
    let (p1, p2) = ("us-east-1:pool-1", "us-east-1:pool-2");
    let mut merge = audit_event(3_000, "c", "identities_merged", Some(p1), Some("i1"));
    merge.other_identity_id = Some("i2".into());
    let events = vec![
        audit_event(1_000, "a", "pool_created", Some(p1), None),
        audit_event(2_000, "b", "identity_created", Some(p1), Some("i1")),
        merge,
        // Two events of one millisecond: the id orders them.
        audit_event(4_000, "d1", "credentials_vended", Some(p2), Some("i3")),
        audit_event(4_000, "d2", "credentials_vended", Some(p1), Some("i2")),
        audit_event(5_000, "e", "signing_key_rotated", None, None),
    ];
    store.append_audit(&events).await.unwrap();
    // Written again (a retried batch): nothing doubles.
    store.append_audit(&events[..2]).await.unwrap();
    store.append_audit(&[]).await.unwrap();

    let ids =
        |events: Vec<AuditRecord>| -> Vec<String> { events.into_iter().map(|e| e.id).collect() };
    let list = |query: AuditQuery| {
        let store = store.clone();
        async move { ids(store.list_audit(&query, 100).await.unwrap()) }
    };
    let all = store.list_audit(&AuditQuery::default(), 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[3], events[2], "stored as given");
    assert_eq!(ids(all), ["e", "d2", "d1", "c", "b", "a"], "newest first");

    let pool = AuditQuery {
        pool_id: Some(p1.into()),
        ..Default::default()
    };
    assert_eq!(list(pool.clone()).await, ["d2", "c", "b", "a"]);
    // Either identity of a merge finds it.
    let identity = |id: &str| AuditQuery {
        identity_id: Some(id.into()),
        ..Default::default()
    };
    assert_eq!(list(identity("i1")).await, ["c", "b"]);
    assert_eq!(list(identity("i2")).await, ["d2", "c"]);
    assert_eq!(list(identity("nobody")).await, Vec::<String>::new());
    // An identity and a kind: the kind among the identity's own events.
    let identity_kind = AuditQuery {
        identity_id: Some("i2".into()),
        kind: Some("identities_merged".into()),
        ..Default::default()
    };
    assert_eq!(list(identity_kind).await, ["c"]);
    let kind = AuditQuery {
        kind: Some("credentials_vended".into()),
        ..Default::default()
    };
    assert_eq!(list(kind.clone()).await, ["d2", "d1"]);
    // Filters combine; the time range is [since, until).
    let narrowed = AuditQuery {
        pool_id: Some(p1.into()),
        kind: Some("credentials_vended".into()),
        ..Default::default()
    };
    assert_eq!(list(narrowed).await, ["d2"]);
    let window = AuditQuery {
        since: Some(2_000),
        until: Some(4_000),
        ..Default::default()
    };
    assert_eq!(list(window).await, ["c", "b"]);

    // Keyset pages: every event once, in order, across the equal times.
    assert_eq!(
        audit_pages(store.as_ref(), &AuditQuery::default(), 2).await,
        [vec!["e", "d2"], vec!["d1", "c"], vec!["b", "a"], vec![]]
    );
    assert_eq!(
        audit_pages(store.as_ref(), &pool, 3).await,
        [vec!["d2", "c", "b"], vec!["a"]]
    );
    let mut after_d2 = kind.clone();
    after_d2.before = Some((4_000, "d2".into()));
    assert_eq!(list(after_d2).await, ["d1"]);

    // The purge takes the oldest first, at most `limit`, only before the
    // cut.
    assert_eq!(store.purge_audit(4_000, 2).await.unwrap(), 2);
    assert_eq!(list(AuditQuery::default()).await, ["e", "d2", "d1", "c"]);
    assert_eq!(store.purge_audit(4_000, 10).await.unwrap(), 1);
    assert_eq!(store.purge_audit(4_000, 10).await.unwrap(), 0);
    assert_eq!(list(AuditQuery::default()).await, ["e", "d2", "d1"]);
}

#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@cases $fresh;
            pools_round_trip_and_versioning,
            pool_limit_is_per_account_and_region,
            pools_page_in_id_order,
            developer_provider_names_are_unique,
            deleting_a_pool_deletes_its_identities,
            a_login_belongs_to_one_identity,
            stale_versions_abort_the_whole_change,
            merges_move_logins_and_disable_the_source,
            unlink_removes_only_the_named_login,
            identities_page_and_hide_disabled,
            identities_listed_by_state,
            concurrent_creation_of_one_login,
            roles_are_unique_ignoring_case,
            managed_policies_round_trip,
            attachments_follow_roles_and_policies,
            concurrent_attach_and_policy_delete,
            oidc_providers_round_trip,
            saml_providers_round_trip,
            signing_keys_retire_and_expire,
            settings_are_set_once,
            import_writes_records_as_given,
            idle_guests_are_deleted_and_others_kept,
            config_generation_counts_config_changes,
            generation_and_identity_agree_with_separate_reads,
            concurrent_guests_commit_and_a_taken_id_fails_alone,
            reset_empties_all_but_keys_and_settings,
            audit_events_filter_page_and_purge,
        );
    };
    (@cases $fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((store, _held)) = $fresh.await else { return };
                $crate::conformance::$case(store).await;
            }
        )*
    };
}
