//! Property tests for the evaluator and the parser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cognate_policy::{
    EvalDecision, Policy, PolicyKind, RequestContext, RequestPrincipal, evaluate,
    evaluate_with_session,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: [&str; 7] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:CreateUser",
    "cognito-identity:GetId",
    "cognito-identity:ListIdentityPools",
    "sts:AssumeRoleWithWebIdentity",
];
const RESOURCES: [&str; 5] = [
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/alice/x:y",
    "arn:aws:iam::123456789012:user/alice",
    "*",
];

fn action_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        prop::sample::select(ACTIONS.to_vec()).prop_map(str::to_string),
        prop::sample::select(ACTIONS.to_vec()).prop_map(|a| a.to_uppercase()),
        prop::sample::select(vec![
            "s3:*",
            "s3:Get*",
            "s3:?utObject",
            "iam:*",
            "cognito-identity:*",
            "sts:Assume*"
        ])
        .prop_map(str::to_string),
    ]
}

fn resource_pattern() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "*",
        "arn:aws:s3:::b",
        "arn:aws:s3:::b/*",
        "arn:aws:s3:*",
        "arn:aws:s3:::b/${aws:username}/*",
        "arn:aws:s3:::b/${aws:username, 'alice'}/*",
        "arn:aws:iam::*:user/*",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:s3:::b/?",
    ])
    .prop_map(str::to_string)
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop::sample::select(vec![
        json!({"StringEquals": {"aws:username": "alice"}}),
        json!({"StringNotEquals": {"aws:username": ["alice", "carol"]}}),
        json!({"StringLikeIfExists": {"aws:username": "a*"}}),
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        json!({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}}),
        json!({"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "auth*"}}),
        json!({"ForAllValues:StringEquals": {"cognito-identity.amazonaws.com:amr": ["authenticated", "unauthenticated"]}}),
        json!({"Null": {"aws:username": "false"}}),
        json!({"Bool": {"aws:SecureTransport": true}}),
        json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
        json!({"NumericGreaterThanEquals": {"s3:max-keys": 5}}),
        json!({"StringEquals": {"aws:username": "${aws:PrincipalTag/name}"}}),
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}),
    ]))
}

fn string_or_list(items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.into_iter().next().unwrap())
    } else {
        Value::Array(items.into_iter().map(Value::String).collect())
    }
}

fn statement(effect: &'static str) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::collection::vec(action_pattern(), 1..3),
        any::<bool>(),
        prop::collection::vec(resource_pattern(), 1..3),
        condition(),
    )
        .prop_map(
            move |(not_action, actions, not_resource, resources, cond)| {
                let mut st = serde_json::Map::new();
                st.insert("Effect".into(), json!(effect));
                st.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    string_or_list(actions),
                );
                st.insert(
                    if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    }
                    .into(),
                    string_or_list(resources),
                );
                if let Some(c) = cond {
                    st.insert("Condition".into(), c);
                }
                Value::Object(st)
            },
        )
}

fn any_statement() -> impl Strategy<Value = Value> {
    prop_oneof![statement("Allow"), statement("Deny")]
}

fn policy_doc() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(any_statement(), 1..5)
}

fn build(statements: &[Value]) -> Policy {
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    Policy::parse(&doc, PolicyKind::Identity, usize::MAX).unwrap()
}

fn request() -> impl Strategy<Value = RequestContext> {
    (
        prop::sample::select(ACTIONS.to_vec()),
        prop::sample::select(RESOURCES.to_vec()),
        prop::option::of(prop::sample::select(vec!["alice", "bob", "*"])),
        prop::option::of(prop::sample::select(vec![
            "10.1.2.3",
            "192.168.0.1",
            "::1",
            "junk",
        ])),
        prop::collection::vec(
            prop::sample::select(vec!["authenticated", "unauthenticated", "x"]),
            0..3,
        ),
        prop::option::of(prop::sample::select(vec!["true", "false"])),
    )
        .prop_map(|(action, resource, user, ip, amr, secure)| {
            let mut ctx = RequestContext::new(action, resource);
            if let Some(u) = user {
                ctx = ctx.with_key("aws:username", u);
            }
            if let Some(ip) = ip {
                ctx = ctx.with_key("aws:SourceIp", ip);
            }
            if !amr.is_empty() {
                ctx = ctx.with_values("cognito-identity.amazonaws.com:amr", amr);
            }
            if let Some(s) = secure {
                ctx = ctx.with_key("aws:SecureTransport", s);
            }
            ctx.with_key("aws:CurrentTime", "2025-01-01T00:00:00Z")
        })
}

/// A Deny statement guaranteed to apply to `ctx`.
fn matching_deny(ctx: &RequestContext, flavour: u8) -> Value {
    match flavour % 4 {
        0 => json!({"Effect": "Deny", "Action": ctx.action, "Resource": "*"}),
        1 => json!({"Effect": "Deny", "Action": "*", "Resource": ctx.resource}),
        2 => json!({"Effect": "Deny", "NotAction": "nothing:Matches", "Resource": "*",
                     "Condition": {"StringLikeIfExists": {"aws:username": "*"}}}),
        _ => {
            json!({"Effect": "Deny", "Action": ctx.action.to_lowercase(), "NotResource": "arn:aws:none:::x",
                     "Condition": {"ForAllValues:StringLike": {"nothing:here": "x"}}})
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_matching_deny_always_denies(
        mut policies in prop::collection::vec(policy_doc(), 1..4),
        ctx in request(),
        which in any::<prop::sample::Index>(),
        pos in any::<prop::sample::Index>(),
        flavour in any::<u8>(),
    ) {
        let p = which.index(policies.len());
        let stmts = &mut policies[p];
        let at = pos.index(stmts.len() + 1);
        stmts.insert(at, matching_deny(&ctx, flavour));
        let built: Vec<Policy> = policies.iter().map(|s| build(s)).collect();
        let refs: Vec<&Policy> = built.iter().collect();
        let d = evaluate(&refs, &ctx);
        prop_assert_eq!(d.effect, EvalDecision::ExplicitDeny);
        prop_assert!(d.matched_statements.iter().any(|m| m.policy_index == p && m.statement_index == at));
        // Also through the session-policy path, on either side.
        let base = build(&[json!({"Effect":"Allow","Action":"*","Resource":"*"})]);
        prop_assert_eq!(evaluate_with_session(&[&base], &refs, &ctx).effect, EvalDecision::ExplicitDeny);
        prop_assert_eq!(evaluate_with_session(&refs, &[&base], &ctx).effect, EvalDecision::ExplicitDeny);
    }

    #[test]
    fn adding_an_allow_never_revokes_an_allow(
        mut policies in prop::collection::vec(policy_doc(), 1..4),
        extra in statement("Allow"),
        ctx in request(),
        which in any::<prop::sample::Index>(),
        pos in any::<prop::sample::Index>(),
    ) {
        let before: Vec<Policy> = policies.iter().map(|s| build(s)).collect();
        let before_refs: Vec<&Policy> = before.iter().collect();
        let d0 = evaluate(&before_refs, &ctx).effect;
        let p = which.index(policies.len());
        let at = pos.index(policies[p].len() + 1);
        policies[p].insert(at, extra);
        let after: Vec<Policy> = policies.iter().map(|s| build(s)).collect();
        let after_refs: Vec<&Policy> = after.iter().collect();
        let d1 = evaluate(&after_refs, &ctx).effect;
        if d0 == EvalDecision::Allowed {
            prop_assert_eq!(d1, EvalDecision::Allowed);
        }
        if d0 == EvalDecision::ExplicitDeny {
            prop_assert_eq!(d1, EvalDecision::ExplicitDeny);
        }
    }

    #[test]
    fn session_policies_never_widen_access(
        identity in prop::collection::vec(policy_doc(), 0..3),
        session in prop::collection::vec(policy_doc(), 0..3),
        ctx in request(),
    ) {
        let id: Vec<Policy> = identity.iter().map(|s| build(s)).collect();
        let se: Vec<Policy> = session.iter().map(|s| build(s)).collect();
        let id_refs: Vec<&Policy> = id.iter().collect();
        let se_refs: Vec<&Policy> = se.iter().collect();
        let with = evaluate_with_session(&id_refs, &se_refs, &ctx);
        if with.is_allowed() {
            prop_assert!(evaluate(&id_refs, &ctx).is_allowed());
            for s in &se_refs {
                prop_assert!(evaluate(&[*s], &ctx).is_allowed());
            }
        }
        if evaluate(&id_refs, &ctx).effect == EvalDecision::ExplicitDeny {
            prop_assert_eq!(with.effect, EvalDecision::ExplicitDeny);
        }
    }

    #[test]
    fn decision_explains_itself(policies in prop::collection::vec(policy_doc(), 1..4), ctx in request()) {
        let built: Vec<Policy> = policies.iter().map(|s| build(s)).collect();
        let refs: Vec<&Policy> = built.iter().collect();
        let d = evaluate(&refs, &ctx);
        match d.effect {
            EvalDecision::ImplicitDeny => prop_assert!(d.matched_statements.is_empty()),
            EvalDecision::Allowed | EvalDecision::ExplicitDeny => {
                prop_assert!(!d.matched_statements.is_empty());
                let want = if d.effect == EvalDecision::Allowed {
                    cognate_policy::Effect::Allow
                } else {
                    cognate_policy::Effect::Deny
                };
                for m in &d.matched_statements {
                    prop_assert_eq!(m.effect, want);
                    let st = &built[m.policy_index].statements()[m.statement_index];
                    prop_assert_eq!(st.effect(), want);
                    prop_assert!(st.applies_to(&ctx));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Robustness: arbitrary JSON that parses must evaluate without panicking.
// ---------------------------------------------------------------------------

fn vocab_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Version",
            "2012-10-17",
            "2008-10-17",
            "Statement",
            "Effect",
            "Allow",
            "Deny",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
            "Sid",
            "Id",
            "*",
            "s3:*",
            "s3:GetObject",
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::b/${aws:username}",
            "arn:aws:s3:::${aws:username, 'x'}${*}",
            "AWS",
            "Federated",
            "Service",
            "CanonicalUser",
            "123456789012",
            "arn:aws:iam::123456789012:root",
            "cognito-identity.amazonaws.com",
            "StringEquals",
            "StringLike",
            "ForAnyValue:StringLike",
            "ForAllValues:StringNotEquals",
            "StringNotEqualsIfExists",
            "NumericLessThan",
            "DateGreaterThan",
            "IpAddress",
            "NotIpAddress",
            "ArnLike",
            "ArnNotEquals",
            "Bool",
            "BinaryEquals",
            "Null",
            "aws:username",
            "aws:SourceIp",
            "aws:CurrentTime",
            "10.0.0.0/8",
            "::/0",
            "2020-01-01T00:00:00Z",
            "1700000000",
            "true",
            "5",
            "${aws:username}",
            "${",
            "}",
            "${*}",
            "a*b?c",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9:*?${}/ ,'.-]{0,12}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        vocab_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((vocab_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn condition_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => vocab_string().prop_map(Value::String),
        1 => any::<i32>().prop_map(|n| json!(n)),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => prop::collection::vec(vocab_string().prop_map(Value::String), 0..4).prop_map(Value::Array),
    ]
}

fn structured_condition() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateGreaterThan",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
        "StringLikeIfExists",
        "ForAnyValue:StringLike",
        "ForAllValues:StringEquals",
        "ForAnyValue:StringNotEqualsIfExists",
        "ForAllValues:ArnLike",
        "DateLessThanIfExists",
        "NotIpAddressIfExists",
        "BoolIfExists",
    ]);
    let key = prop::sample::select(vec![
        "aws:username",
        "aws:SourceIp",
        "aws:CurrentTime",
        "aws:SecureTransport",
        "cognito-identity.amazonaws.com:amr",
        "s3:max-keys",
        "aws:SourceArn",
        "x:missing",
    ]);
    prop::collection::vec(
        (op, prop::collection::vec((key, condition_value()), 1..3)),
        1..3,
    )
    .prop_map(|ops| {
        let mut m = serde_json::Map::new();
        for (op, keys) in ops {
            let mut k = serde_json::Map::new();
            for (key, v) in keys {
                k.insert(key.to_string(), v);
            }
            m.insert(op.to_string(), Value::Object(k));
        }
        Value::Object(m)
    })
}

fn principal_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": "*"})),
        Just(json!({"AWS": ["123456789012", "arn:aws:iam::123456789012:role/R"]})),
        Just(json!({"Federated": "cognito-identity.amazonaws.com"})),
        Just(json!({"Service": ["ec2.amazonaws.com"]})),
        arb_json(),
    ]
}

/// Policy-shaped documents with arbitrary holes, so that many of them parse.
fn policy_like_json() -> impl Strategy<Value = Value> {
    let st = (
        prop::sample::select(vec!["Allow", "Deny"]),
        any::<bool>(),
        prop_oneof![
            4 => prop::collection::vec(action_pattern(), 1..3).prop_map(string_or_list),
            1 => arb_json(),
        ],
        prop::option::weighted(
            0.7,
            prop_oneof![
                4 => prop::collection::vec(resource_pattern(), 1..3).prop_map(string_or_list),
                1 => arb_json(),
            ],
        ),
        prop::option::of(principal_json()),
        prop::option::weighted(
            0.7,
            prop_oneof![4 => structured_condition(), 1 => arb_json()],
        ),
    )
        .prop_map(|(effect, negate, action, resource, principal, condition)| {
            let mut m = serde_json::Map::new();
            m.insert("Effect".into(), json!(effect));
            m.insert(if negate { "NotAction" } else { "Action" }.into(), action);
            if let Some(r) = resource {
                m.insert(if negate { "NotResource" } else { "Resource" }.into(), r);
            }
            if let Some(p) = principal {
                m.insert(if negate { "NotPrincipal" } else { "Principal" }.into(), p);
            }
            if let Some(c) = condition {
                m.insert("Condition".into(), c);
            }
            Value::Object(m)
        });
    (prop::collection::vec(st, 1..3), any::<bool>()).prop_map(|(sts, v12)| {
        json!({"Version": if v12 { "2012-10-17" } else { "2008-10-17" }, "Statement": sts})
    })
}

fn all_kinds() -> [PolicyKind; 4] {
    [
        PolicyKind::Identity,
        PolicyKind::Session,
        PolicyKind::Trust,
        PolicyKind::Resource,
    ]
}

fn exercise(doc: &str, ctx: &RequestContext) -> usize {
    let mut parsed = 0;
    for kind in all_kinds() {
        if let Ok(p) = Policy::parse(doc, kind, usize::MAX) {
            parsed += 1;
            let d = evaluate(&[&p], ctx);
            // The explanation must point at real statements.
            for m in &d.matched_statements {
                assert!(m.statement_index < p.statements().len());
            }
            let _ = evaluate_with_session(&[&p], &[&p], ctx);
            let _ = p.context_keys();
        }
    }
    parsed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in arb_json(), ctx in request()) {
        exercise(&v.to_string(), &ctx);
    }

    #[test]
    fn policy_like_json_never_panics(v in policy_like_json(), ctx in request(), who in prop::sample::select(vec![0u8, 1, 2, 3])) {
        let ctx = ctx.with_principal(match who {
            0 => RequestPrincipal::Anonymous,
            1 => RequestPrincipal::Aws("arn:aws:iam::123456789012:user/alice".into()),
            2 => RequestPrincipal::Federated("cognito-identity.amazonaws.com".into()),
            _ => RequestPrincipal::Service("ec2.amazonaws.com".into()),
        });
        exercise(&v.to_string(), &ctx);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s, &RequestContext::new("s3:GetObject", "*"));
    }
}

// ---------------------------------------------------------------------------
// Wildcard matching agrees with a regex reference implementation.
// ---------------------------------------------------------------------------

fn glob_to_regex(pattern: &str, resource: bool) -> regex::Regex {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("(?s)^");
    for (i, c) in chars.iter().enumerate() {
        match c {
            '*' if resource => {
                let segment_end = matches!(chars.get(i + 1), None | Some(':'));
                re.push_str(if segment_end { ".*" } else { "[^:]*" });
            }
            '?' if resource => re.push_str("[^:]"),
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn string_like_matches_regex_reference(pattern in "[ab:*?]{0,8}", text in "[ab:]{0,8}") {
        let doc = json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"StringLike":{"k:v": pattern}}}}).to_string();
        let p = Policy::parse(&doc, PolicyKind::Identity, usize::MAX).unwrap();
        let ctx = RequestContext::new("a:b", "*").with_key("k:v", text.clone());
        let expected = glob_to_regex(&pattern, false).is_match(&text);
        prop_assert_eq!(p.evaluate(&ctx).is_allowed(), expected, "pattern {:?} text {:?}", pattern, text);
    }

    #[test]
    fn resource_matches_regex_reference(pattern in "[ab:*?]{0,8}", text in "[ab:]{0,8}") {
        let pattern = format!("arn:aws:s3:{pattern}");
        let text = format!("arn:aws:s3:{text}");
        let doc = json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource": pattern}}).to_string();
        let p = Policy::parse(&doc, PolicyKind::Identity, usize::MAX).unwrap();
        let expected = glob_to_regex(&pattern, true).is_match(&text);
        prop_assert_eq!(p.evaluate(&RequestContext::new("a:b", &*text)).is_allowed(), expected,
            "pattern {:?} text {:?}", pattern, text);
    }

    #[test]
    fn action_matching_is_case_insensitive(pattern in "[aB*?]{0,6}", text in "[abAB]{0,6}") {
        let pattern = format!("svc:{pattern}");
        let text = format!("svc:{text}");
        let doc = json!({"Statement":{"Effect":"Allow","Action": pattern,"Resource":"*"}}).to_string();
        let p = Policy::parse(&doc, PolicyKind::Identity, usize::MAX);
        // "svc:" alone is not a valid action.
        if let Ok(p) = p {
            let expected = glob_to_regex(&pattern.to_lowercase(), false).is_match(&text.to_lowercase());
            prop_assert_eq!(p.evaluate(&RequestContext::new(&*text, "*")).is_allowed(), expected);
        }
    }
}
