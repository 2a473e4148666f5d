//! The console's roles of a pool (SetIdentityPoolRoles and the trust
//! warnings), its IAM pages and its policy simulator, over real HTTP:
//! what the console saves is what the API reads back, a refusal shows
//! AWS's words and changes nothing, every new form needs the CSRF token,
//! and data is shown as text.

use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRuleMatchType, RoleMappingType,
};
use reqwest::StatusCode;

use crate::common::{TestServer, create_role, trust};
use crate::console::Browser;

async fn pool(s: &TestServer, name: &str) -> String {
    s.cognito()
        .create_identity_pool()
        .identity_pool_name(name)
        .allow_unauthenticated_identities(true)
        .supported_login_providers("accounts.google.com", "app.example")
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string()
}

/// A policy document as IAM sends it (URL-encoded, as botocore decodes).
fn url_decoded(doc: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("d={doc}")).unwrap();
    pairs[0].1.clone()
}

/// A trust policy for Cognito identities with no condition at all: any
/// pool's identities, guests and signed-in alike.
const OPEN_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;

#[tokio::test]
async fn roles_and_rule_mappings_saved_in_the_console_are_what_the_api_reads() {
    let s = TestServer::start().await;
    let pool_id = pool(&s, "mapped").await;
    let auth = create_role(&s, "Auth", &trust(&pool_id, "authenticated")).await;
    let guest = create_role(&s, "Guest", &trust(&pool_id, "unauthenticated")).await;
    let staff = create_role(&s, "Staff", &trust(&pool_id, "authenticated")).await;
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let path = format!("/console/pools/{pool_id}/roles");

    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for label in [
        r#"<label for="authenticated">"#,
        r#"<label for="unauthenticated">"#,
        r#"<label for="m0.provider">"#,
        r#"<label class="visually-hidden" for="m0.r1.role">"#,
    ] {
        assert!(page.body.contains(label), "{label}");
    }

    // "Add a rule" shows the form again with one more row; nothing saved.
    let base = vec![
        ("csrf", csrf.as_str()),
        ("authenticated", auth.as_str()),
        ("unauthenticated", guest.as_str()),
        ("m0.provider", "accounts.google.com"),
        ("m0.type", "Rules"),
        ("m0.ambiguous", "Deny"),
        ("m0.r0.claim", "email"),
        ("m0.r0.match", "Contains"),
        ("m0.r0.value", "@staff.example"),
        ("m0.r0.role", staff.as_str()),
        ("m0.r1.claim", "sub"),
        ("m0.r1.match", "StartsWith"),
        ("m0.r1.value", "admin-"),
        ("m0.r1.role", auth.as_str()),
        ("m0.r2.claim", ""),
        ("m0.r2.match", "Equals"),
        ("m0.r2.value", ""),
        ("m0.r2.role", ""),
    ];
    let mut add = base.clone();
    add.push(("action", "add-rule-0"));
    let more = b.post(&path, &add).await;
    assert_eq!(more.status, StatusCode::OK, "{}", more.body);
    assert!(more.body.contains(r#"id="m0.r3.claim""#));
    assert!(!more.body.contains(r#"id="m0.r4.claim""#));
    assert!(more.body.contains("@staff.example"));
    let roles = s
        .cognito()
        .get_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert!(roles.roles().is_none_or(|r| r.is_empty()));

    // Saved: the API reads back the roles and the rules, in order.
    let mut save = base.clone();
    save.push(("action", "save"));
    let saved = b.post(&path, &save).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), format!("{path}?saved=1"));
    let roles = s
        .cognito()
        .get_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let map = roles.roles().unwrap();
    assert_eq!(map["authenticated"], auth);
    assert_eq!(map["unauthenticated"], guest);
    let mapping = &roles.role_mappings().unwrap()["accounts.google.com"];
    assert_eq!(mapping.r#type(), &RoleMappingType::Rules);
    assert_eq!(
        mapping.ambiguous_role_resolution(),
        Some(&AmbiguousRoleResolutionType::Deny)
    );
    let rules = mapping.rules_configuration().unwrap().rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].claim(), "email");
    assert_eq!(rules[0].match_type(), &MappingRuleMatchType::Contains);
    assert_eq!(rules[0].value(), "@staff.example");
    assert_eq!(rules[0].role_arn(), staff);
    assert_eq!(rules[1].match_type(), &MappingRuleMatchType::StartsWith);
    assert_eq!(rules[1].role_arn(), auth);
    // The page shows them again, and proper roles draw no warning.
    let page = b.get(&format!("{path}?saved=1")).await;
    assert!(page.body.contains("Saved the roles."));
    assert!(page.body.contains("@staff.example"));
    assert!(!page.body.contains("trust-warning"), "{}", page.body);

    // Refusals: AWS's words beside the form, and nothing changes.
    let unchanged = || async {
        let now = s
            .cognito()
            .get_identity_pool_roles()
            .identity_pool_id(&pool_id)
            .send()
            .await
            .unwrap();
        assert_eq!(now.roles(), roles.roles());
        assert_eq!(now.role_mappings(), roles.role_mappings());
    };
    let mut bad_match = save.clone();
    bad_match.retain(|(k, _)| *k != "m0.r1.match");
    bad_match.push(("m0.r1.match", "Regex"));
    bad_match.push(("unauthenticated", ""));
    let refused = b.post(&path, &bad_match).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains(
            "Value &#39;Regex&#39; at &#39;roleMappings.member.rulesConfiguration.rules.member.matchType&#39; failed to satisfy constraint: Member must satisfy enum value set"
        ) || refused.body.contains(
            "Value 'Regex' at 'roleMappings.member.rulesConfiguration.rules.member.matchType' failed to satisfy constraint: Member must satisfy enum value set"
        ),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r#"role="alert""#));
    unchanged().await;
    // The domain's own check: a provider the pool does not have.
    let mut unknown = save.clone();
    unknown.retain(|(k, _)| *k != "m0.provider");
    unknown.push(("m0.provider", "graph.facebook.com"));
    let refused = b.post(&path, &unknown).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("InvalidParameterException"),
        "{}",
        refused.body
    );
    unchanged().await;
    // No rules at all under Rules.
    let no_rules = vec![
        ("csrf", csrf.as_str()),
        ("authenticated", auth.as_str()),
        ("m0.provider", "accounts.google.com"),
        ("m0.type", "Rules"),
        ("action", "save"),
    ];
    let refused = b.post(&path, &no_rules).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("rulesConfiguration.rules"),
        "{}",
        refused.body
    );
    unchanged().await;
    // Markup entered is echoed as text.
    let mut markup = save.clone();
    markup.retain(|(k, _)| *k != "authenticated");
    markup.push(("authenticated", "<script>alert(1)</script>"));
    let refused = b.post(&path, &markup).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(!refused.body.contains("<script>"), "{}", refused.body);
    assert!(refused.body.contains("&lt;script&gt;"));
    unchanged().await;

    // Without the CSRF token: refused, nothing changes.
    let mut no_token = save.clone();
    no_token.retain(|(k, _)| *k != "csrf");
    no_token.retain(|(k, _)| *k != "unauthenticated");
    let refused = b.post(&path, &no_token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    unchanged().await;
}

#[tokio::test]
async fn a_role_that_trusts_every_pool_or_both_kinds_draws_the_warnings() {
    let s = TestServer::start().await;
    let pool_id = pool(&s, "warned").await;
    let open = create_role(&s, "Open", OPEN_TRUST).await;
    let proper = create_role(&s, "Proper", &trust(&pool_id, "unauthenticated")).await;
    let other_pool = create_role(
        &s,
        "OtherPool",
        &trust(
            "us-east-1:00000000-0000-0000-0000-000000000000",
            "authenticated",
        ),
    )
    .await;
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("authenticated", &open)
        .roles("unauthenticated", &proper)
        .send()
        .await
        .unwrap();
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let page = b.get(&format!("/console/pools/{pool_id}/roles")).await;
    assert_eq!(page.status, StatusCode::OK);
    let warnings: Vec<&str> = page
        .body
        .split(r#"<li class="trust-warning">"#)
        .skip(1)
        .map(|w| w.split("</li>").next().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("no cognito-identity.amazonaws.com:aud condition"));
    assert!(warnings[0].contains("identities of any identity pool"));
    assert!(warnings[1].contains("no cognito-identity.amazonaws.com:amr condition"));
    // Each names the open role, not the proper one.
    let section = page.body.split("trust-warnings-section").nth(1).unwrap();
    let section = section.split("</section>").next().unwrap();
    assert!(section.contains(&open));
    assert!(!section.contains(&proper));

    // A proper pair: no warnings.
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("unauthenticated", &proper)
        .send()
        .await
        .unwrap();
    let page = b.get(&format!("/console/pools/{pool_id}/roles")).await;
    assert!(!page.body.contains("trust-warning"), "{}", page.body);

    // A role trusting another pool only: it would never work here.
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("authenticated", &other_pool)
        .send()
        .await
        .unwrap();
    let page = b.get(&format!("/console/pools/{pool_id}/roles")).await;
    assert!(page.body.contains("does not name this identity pool"));
}

#[tokio::test]
async fn iam_roles_and_policies_are_edited_and_a_bad_document_shows_the_parser_error() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;

    // A trust policy that is not JSON: the parser's words, no role.
    let refused = b
        .post(
            "/console/iam/roles",
            &[
                ("csrf", &csrf),
                ("name", "Broken"),
                ("trust", "{\"Version\": \"2012-10-17\", \"Statement\": ["),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("MalformedPolicyDocument"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r#"id="create-role-error""#));
    let roles = iam.list_roles().send().await.unwrap();
    assert!(roles.roles().is_empty());
    // A name IAM refuses: the model's words.
    let refused = b
        .post(
            "/console/iam/roles",
            &[
                ("csrf", &csrf),
                ("name", "<script>alert(1)</script>"),
                ("trust", &trust("us-east-1:x", "authenticated")),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("at &#39;roleName&#39; failed to satisfy constraint")
            || refused
                .body
                .contains("at 'roleName' failed to satisfy constraint"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("<script>"));

    // Made.
    let made = b
        .post(
            "/console/iam/roles",
            &[
                ("csrf", &csrf),
                ("name", "Reader"),
                ("description", "reads"),
                ("trust", OPEN_TRUST),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(made.location(), "/console/iam/roles/Reader?done=created");
    let role = iam.get_role().role_name("Reader").send().await.unwrap();
    assert_eq!(role.role().unwrap().description(), Some("reads"));
    let page = b.get("/console/iam/roles/Reader").await;
    assert!(
        page.body
            .contains("no cognito-identity.amazonaws.com:aud condition")
    );

    // An inline policy without a Resource: the parser's error, nothing put.
    let bad = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject"}]}"#;
    let refused = b
        .post(
            "/console/iam/roles/Reader/policies",
            &[("csrf", &csrf), ("name", "read"), ("document", bad)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("MalformedPolicyDocument"),
        "{}",
        refused.body
    );
    let inline = iam
        .list_role_policies()
        .role_name("Reader")
        .send()
        .await
        .unwrap();
    assert!(inline.policy_names().is_empty());
    let good = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let put = b
        .post(
            "/console/iam/roles/Reader/policies",
            &[("csrf", &csrf), ("name", "read"), ("document", good)],
        )
        .await;
    assert_eq!(put.status, StatusCode::SEE_OTHER, "{}", put.body);
    let doc = iam
        .get_role_policy()
        .role_name("Reader")
        .policy_name("read")
        .send()
        .await
        .unwrap();
    assert_eq!(url_decoded(doc.policy_document()), good);

    // A bad trust edit changes nothing; a good one is saved.
    let refused = b
        .post(
            "/console/iam/roles/Reader/trust",
            &[("csrf", &csrf), ("document", "[]")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains(r#"id="trust-error""#));
    let role = iam.get_role().role_name("Reader").send().await.unwrap();
    let trust_now = url_decoded(role.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(trust_now, OPEN_TRUST);

    // A managed policy made, given a version, attached and detached.
    let made = b
        .post(
            "/console/iam/policies",
            &[("csrf", &csrf), ("name", "Writer"), ("document", good)],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let arn = "arn:aws:iam::000000000000:policy/Writer".to_string();
    let refused = b
        .post(
            "/console/iam/policy/versions",
            &[("csrf", &csrf), ("arn", &arn), ("document", "{")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("MalformedPolicyDocument"));
    let versioned = b
        .post(
            "/console/iam/policy/versions",
            &[
                ("csrf", &csrf),
                ("arn", &arn),
                ("document", good),
                ("set_default", "on"),
            ],
        )
        .await;
    assert_eq!(
        versioned.status,
        StatusCode::SEE_OTHER,
        "{}",
        versioned.body
    );
    let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(policy.policy().unwrap().default_version_id(), Some("v2"));
    let attached = b
        .post(
            "/console/iam/roles/Reader/attach",
            &[("csrf", &csrf), ("arn", &arn)],
        )
        .await;
    assert_eq!(attached.status, StatusCode::SEE_OTHER, "{}", attached.body);
    let listed = iam
        .list_attached_role_policies()
        .role_name("Reader")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.attached_policies().len(), 1);
    let page = b.get(&format!("/console/iam/policy?arn={arn}")).await;
    assert!(
        page.body.contains("/console/iam/roles/Reader"),
        "{}",
        page.body
    );
    let detached = b
        .post(
            "/console/iam/roles/Reader/detach",
            &[("csrf", &csrf), ("arn", &arn)],
        )
        .await;
    assert_eq!(detached.status, StatusCode::SEE_OTHER);
    let listed = iam
        .list_attached_role_policies()
        .role_name("Reader")
        .send()
        .await
        .unwrap();
    assert!(listed.attached_policies().is_empty());

    // A description holding markup renders as text.
    iam.create_role()
        .role_name("Tagged")
        .assume_role_policy_document(OPEN_TRUST)
        .description("<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let page = b.get("/console/iam/roles/Tagged").await;
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Deleting: refused while it has policies (IAM's DeleteConflict),
    // then done.
    let refused = b
        .post("/console/iam/roles/Reader/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("DeleteConflict"), "{}", refused.body);
    b.post(
        "/console/iam/roles/Reader/policies/delete",
        &[("csrf", &csrf), ("name", "read")],
    )
    .await;
    let deleted = b
        .post("/console/iam/roles/Reader/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert!(iam.get_role().role_name("Reader").send().await.is_err());
}

/// Posts the simulator's form.
async fn simulate(b: &mut Browser, csrf: &str, form: &[(&str, String)]) -> crate::console::Answer {
    let mut pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("csrf", csrf));
    b.post("/console/simulator", &pairs).await
}

#[tokio::test]
async fn the_simulator_names_the_statement_that_allowed_or_denied() {
    let s = TestServer::start().await;
    let pool_id = pool(&s, "simulated").await;
    let guest_role = create_role(&s, "Guest", &trust(&pool_id, "unauthenticated")).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"ReadPhotos","Effect":"Allow","Action":["s3:GetObject","ec2:RunInstances"],"Resource":"*"},
        {"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secrets/*"},
        {"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":"203.0.113.7"}}}]}"#;
    s.iam()
        .put_role_policy()
        .role_name("Guest")
        .policy_name("photos")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    s.cognito()
        .set_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .roles("unauthenticated", &guest_role)
        .send()
        .await
        .unwrap();
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let page = b.get("/console/simulator").await;
    assert_eq!(page.status, StatusCode::OK);
    for id in ["identity_id", "role_arn", "action", "resource", "context"] {
        assert!(
            page.body.contains(&format!(r#"<label for="{id}">"#)),
            "{id}"
        );
    }
    let decision = |body: &str| -> String {
        let d = body.split(r#"id="decision""#).nth(1).unwrap_or("");
        d.split("</p>").next().unwrap_or("").to_string()
    };

    // A role: allowed by ReadPhotos.
    let allowed = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "role".into()),
            ("role_arn", guest_role.clone()),
            ("action", "s3:GetObject".into()),
            ("resource", "arn:aws:s3:::photos/cat.jpg".into()),
        ],
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    assert!(
        decision(&allowed.body).contains("allowed"),
        "{}",
        allowed.body
    );
    let table = allowed.body.split(r#"id="deciding""#).nth(1).unwrap();
    assert!(
        table.contains("photos") && table.contains("ReadPhotos"),
        "{table}"
    );
    assert!(!table.contains("NoSecrets"));

    // Explicitly denied by NoSecrets.
    let denied = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "role".into()),
            ("role_arn", guest_role.clone()),
            ("action", "s3:GetObject".into()),
            ("resource", "arn:aws:s3:::secrets/key".into()),
        ],
    )
    .await;
    assert!(
        decision(&denied.body).contains("explicitly denied"),
        "{}",
        denied.body
    );
    let table = denied.body.split(r#"id="deciding""#).nth(1).unwrap();
    assert!(
        table.contains("NoSecrets") && !table.contains("ReadPhotos"),
        "{table}"
    );

    // A context key decides: the statement without a Sid, by number.
    let by_ip = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "role".into()),
            ("role_arn", guest_role.clone()),
            ("action", "s3:GetObject".into()),
            ("resource", "arn:aws:s3:::photos/cat.jpg".into()),
            ("context", "aws:SourceIp=203.0.113.7".into()),
        ],
    )
    .await;
    assert!(decision(&by_ip.body).contains("explicitly denied"));
    assert!(
        by_ip.body.contains("Statement 3 (no Sid)"),
        "{}",
        by_ip.body
    );

    // A guest identity: its role allows ec2:RunInstances, but the guest
    // session policy does not, so it is implicitly denied; s3 is allowed.
    let identity = s
        .anonymous_cognito()
        .get_id()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap()
        .identity_id()
        .unwrap()
        .to_string();
    let ec2 = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "identity".into()),
            ("identity_id", identity.clone()),
            ("action", "ec2:RunInstances".into()),
        ],
    )
    .await;
    assert_eq!(ec2.status, StatusCode::OK, "{}", ec2.body);
    assert!(
        decision(&ec2.body).contains("implicitly denied"),
        "{}",
        ec2.body
    );
    assert!(ec2.body.contains(&guest_role));
    assert!(ec2.body.contains("guest session policy"));
    let s3 = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "identity".into()),
            ("identity_id", identity.clone()),
            ("action", "s3:GetObject".into()),
            ("resource", "arn:aws:s3:::photos/cat.jpg".into()),
        ],
    )
    .await;
    assert!(decision(&s3.body).contains("allowed"), "{}", s3.body);
    assert!(s3.body.contains("ReadPhotos"));

    // A Sid holding markup: IAM refuses it (Sids are alphanumeric), and
    // the parser's message, which quotes it, shows it as text.
    let marked = b
        .post(
            "/console/iam/roles/Guest/policies",
            &[
                ("csrf", &csrf),
                ("name", "queues"),
                (
                    "document",
                    r#"{"Version":"2012-10-17","Statement":[{"Sid":"<script>alert(1)</script>","Effect":"Deny","Action":"sqs:*","Resource":"*"}]}"#,
                ),
            ],
        )
        .await;
    assert_eq!(marked.status, StatusCode::BAD_REQUEST);
    assert!(
        marked.body.contains("must be alpha-numeric"),
        "{}",
        marked.body
    );
    assert!(!marked.body.contains("<script>"), "{}", marked.body);
    assert!(
        marked
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );

    // An unknown identity and bad context lines: the error, in words.
    let unknown = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "identity".into()),
            (
                "identity_id",
                "us-east-1:00000000-0000-0000-0000-000000000000".into(),
            ),
            ("action", "s3:GetObject".into()),
        ],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body.contains("ResourceNotFoundException"),
        "{}",
        unknown.body
    );
    let bad = simulate(
        &mut b,
        &csrf,
        &[
            ("principal", "role".into()),
            ("role_arn", guest_role.clone()),
            ("action", "s3:GetObject".into()),
            ("context", "<script>alert(1)</script>".into()),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("must be key=value"));
    assert!(!bad.body.contains("<script>"));
}

#[tokio::test]
async fn every_new_form_needs_the_csrf_token() {
    let s = TestServer::start().await;
    let pool_id = pool(&s, "guarded").await;
    create_role(&s, "Kept", OPEN_TRUST).await;
    let mut b = Browser::of(&s);
    b.sign_in(&s).await;
    let policy_arn = "arn:aws:iam::000000000000:policy/None".to_string();
    for (path, form) in [
        (
            format!("/console/pools/{pool_id}/roles"),
            vec![("unauthenticated", "arn:aws:iam::000000000000:role/Kept")],
        ),
        (
            "/console/simulator".into(),
            vec![("action", "s3:GetObject")],
        ),
        (
            "/console/iam/roles".into(),
            vec![("name", "Sneaky"), ("trust", OPEN_TRUST)],
        ),
        (
            "/console/iam/roles/Kept/trust".into(),
            vec![("document", "{}")],
        ),
        (
            "/console/iam/roles/Kept/policies".into(),
            vec![("name", "p")],
        ),
        (
            "/console/iam/roles/Kept/policies/delete".into(),
            vec![("name", "p")],
        ),
        (
            "/console/iam/roles/Kept/attach".into(),
            vec![("arn", policy_arn.as_str())],
        ),
        (
            "/console/iam/roles/Kept/detach".into(),
            vec![("arn", policy_arn.as_str())],
        ),
        ("/console/iam/roles/Kept/delete".into(), vec![]),
        ("/console/iam/policies".into(), vec![("name", "Sneaky")]),
        (
            "/console/iam/policy/versions".into(),
            vec![("arn", policy_arn.as_str())],
        ),
        (
            "/console/iam/providers/oidc".into(),
            vec![("url", "https://evil.example")],
        ),
        ("/console/iam/providers/saml".into(), vec![("name", "evil")]),
        (
            "/console/iam/providers/delete".into(),
            vec![("arn", "x"), ("confirm", "on")],
        ),
    ] {
        let mut with_wrong = form.clone();
        with_wrong.push(("csrf", "AAAA"));
        for f in [&form, &with_wrong] {
            let answer = b.post(&path, f).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let iam = s.iam();
    let roles = iam.list_roles().send().await.unwrap();
    assert_eq!(roles.roles().len(), 1);
    assert!(iam.get_role().role_name("Kept").send().await.is_ok());
    assert!(
        iam.list_policies()
            .send()
            .await
            .unwrap()
            .policies()
            .is_empty()
    );
    let providers = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(providers.open_id_connect_provider_list().is_empty());
    let roles = s
        .cognito()
        .get_identity_pool_roles()
        .identity_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert!(roles.roles().is_none_or(|r| r.is_empty()));
}

#[tokio::test]
async fn providers_are_added_shown_and_deleted_after_a_confirmation() {
    let s = TestServer::start().await;
    let iam = s.iam();
    let mut b = Browser::of(&s);
    let csrf = b.sign_in(&s).await;
    let made = b
        .post(
            "/console/iam/providers/oidc",
            &[
                ("csrf", &csrf),
                ("url", "https://login.example.com"),
                ("client_ids", "app-one\napp-two\n"),
                ("thumbprints", ""),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let arn = "arn:aws:iam::000000000000:oidc-provider/login.example.com";
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.client_id_list(), ["app-one", "app-two"]);
    // The same URL again: IAM's refusal beside the form.
    let again = b
        .post(
            "/console/iam/providers/oidc",
            &[("csrf", &csrf), ("url", "https://login.example.com")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.contains("EntityAlreadyExists"), "{}", again.body);
    assert!(again.body.contains(r#"id="oidc-error""#));
    // SAML metadata that is not metadata: refused in words, nothing made.
    let refused = b
        .post(
            "/console/iam/providers/saml",
            &[("csrf", &csrf), ("name", "corp"), ("metadata", "<nope/>")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains(r#"id="saml-error""#));
    let saml = iam.list_saml_providers().send().await.unwrap();
    assert!(saml.saml_provider_list().is_empty());

    let list = b.get("/console/iam/providers").await;
    assert!(list.body.contains("https://login.example.com"));
    let detail = b.get(&format!("/console/iam/provider?arn={arn}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("app-one, app-two"));
    // Without the confirmation ticked: back to the page, still there.
    let unconfirmed = b
        .post(
            "/console/iam/providers/delete",
            &[("csrf", &csrf), ("arn", arn)],
        )
        .await;
    assert_eq!(unconfirmed.status, StatusCode::SEE_OTHER);
    assert!(
        unconfirmed
            .location()
            .starts_with("/console/iam/provider?arn=")
    );
    let listed = iam.list_open_id_connect_providers().send().await.unwrap();
    assert_eq!(listed.open_id_connect_provider_list().len(), 1);
    let deleted = b
        .post(
            "/console/iam/providers/delete",
            &[("csrf", &csrf), ("arn", arn), ("confirm", "on")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    let listed = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(listed.open_id_connect_provider_list().is_empty());
}
