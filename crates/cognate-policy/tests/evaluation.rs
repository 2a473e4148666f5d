//! Evaluation examples modelled on the IAM documentation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cognate_policy::{
    Decision, Effect, EvalDecision, Policy, PolicyKind, PolicySource, RequestContext,
    RequestPrincipal, evaluate, evaluate_trust, evaluate_with_session,
};

fn identity(doc: &str) -> Policy {
    Policy::parse(doc, PolicyKind::Identity, 1 << 20).unwrap()
}

fn one(policy: &Policy, ctx: &RequestContext) -> EvalDecision {
    evaluate(&[policy], ctx).effect
}

const ALLOWED: EvalDecision = EvalDecision::Allowed;
const EXPLICIT: EvalDecision = EvalDecision::ExplicitDeny;
const IMPLICIT: EvalDecision = EvalDecision::ImplicitDeny;

// ---------------------------------------------------------------------------
// Core decision logic
// ---------------------------------------------------------------------------

#[test]
fn explicit_deny_overrides_allow_across_policies() {
    let allow_all = identity(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    let deny_delete = identity(
        r#"{"Version":"2012-10-17","Id":"guard","Statement":[
            {"Sid":"NoDelete","Effect":"Deny","Action":"cognito-identity:Delete*","Resource":"*"}]}"#,
    );
    let del = RequestContext::new(
        "cognito-identity:DeleteIdentityPool",
        "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/us-east-1:abc",
    );
    let d = evaluate(&[&allow_all, &deny_delete], &del);
    assert_eq!(d.effect, EXPLICIT);
    assert_eq!(d.matched_statements.len(), 1);
    let m = &d.matched_statements[0];
    assert_eq!(m.policy_index, 1);
    assert_eq!(m.policy_id.as_deref(), Some("guard"));
    assert_eq!(m.sid.as_deref(), Some("NoDelete"));
    assert_eq!(m.effect, Effect::Deny);
    assert_eq!(m.source, PolicySource::Primary);

    let list = RequestContext::new("cognito-identity:ListIdentityPools", "*");
    let d = evaluate(&[&allow_all, &deny_delete], &list);
    assert_eq!(d.effect, ALLOWED);
    assert_eq!(d.matched_statements[0].sid.as_deref(), Some("All"));
    assert!(d.is_allowed());
}

#[test]
fn no_policy_or_no_match_is_implicit_deny() {
    let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k");
    let d: Decision = evaluate(&[], &ctx);
    assert_eq!(d.effect, IMPLICIT);
    assert!(d.matched_statements.is_empty());
    let p = identity(r#"{"Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}}"#);
    assert_eq!(one(&p, &ctx), IMPLICIT);
}

#[test]
fn action_matching_is_case_insensitive_with_wildcards() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["COGNITO-IDENTITY:get*","sts:?etCallerIdentity"],"Resource":"*"}}"#,
    );
    assert_eq!(
        one(&p, &RequestContext::new("cognito-identity:GetId", "*")),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("Cognito-Identity:GETCREDENTIALSFORIDENTITY", "*")
        ),
        ALLOWED
    );
    assert_eq!(
        one(&p, &RequestContext::new("sts:GetCallerIdentity", "*")),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("cognito-identity:ListIdentities", "*")
        ),
        IMPLICIT
    );
    assert_eq!(
        one(&p, &RequestContext::new("cognito-idp:GetUser", "*")),
        IMPLICIT
    );
}

#[test]
fn resource_matching_is_case_sensitive_with_wildcards() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/Bob"}}"#,
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("iam:GetUser", "arn:aws:iam::123456789012:user/Bob")
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("iam:GetUser", "arn:aws:iam::123456789012:user/bob")
        ),
        IMPLICIT
    );

    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/accounting/*"}}"#,
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new(
                "iam:GetUser",
                "arn:aws:iam::123456789012:user/accounting/alice"
            )
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("iam:GetUser", "arn:aws:iam::123456789012:user/sales/alice")
        ),
        IMPLICIT
    );
}

#[test]
fn not_action_with_allow_grants_everything_else() {
    // IAM docs: allow everything except IAM.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#,
    );
    assert_eq!(
        one(&p, &RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k")),
        ALLOWED
    );
    assert_eq!(
        one(&p, &RequestContext::new("iam:CreateUser", "*")),
        IMPLICIT
    );
    assert!(p.statements()[0].is_not_action());
}

#[test]
fn not_action_with_deny_and_mfa_condition() {
    // IAM docs: deny everything except IAM when MFA is absent.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"*","Resource":"*"},
          {"Sid":"DenyAllUsersNotUsingMFA","Effect":"Deny","NotAction":"iam:*","Resource":"*",
           "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
    );
    let s3 = RequestContext::new("s3:ListBucket", "arn:aws:s3:::b");
    assert_eq!(
        one(&p, &s3),
        EXPLICIT,
        "key missing -> IfExists true -> deny"
    );
    assert_eq!(
        one(
            &p,
            &s3.clone().with_key("aws:MultiFactorAuthPresent", "false")
        ),
        EXPLICIT
    );
    assert_eq!(
        one(
            &p,
            &s3.clone().with_key("aws:MultiFactorAuthPresent", "true")
        ),
        ALLOWED
    );
    assert_eq!(
        one(&p, &RequestContext::new("iam:ChangePassword", "*")),
        ALLOWED
    );
}

#[test]
fn not_resource() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::HRBucket/Payroll","arn:aws:s3:::HRBucket/Payroll/*"]}}"#,
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("s3:GetObject", "arn:aws:s3:::Other/x")
        ),
        EXPLICIT
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv")
        ),
        IMPLICIT
    );
}

// ---------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------

#[test]
fn string_like_wildcards_for_s3_prefix() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition":{"StringLike":{"s3:prefix":["home/","home/${aws:username}/*"]}}}}"#,
    );
    let base = RequestContext::new("s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket")
        .with_key("aws:username", "alice");
    assert_eq!(
        one(&p, &base.clone().with_key("s3:prefix", "home/")),
        ALLOWED
    );
    assert_eq!(
        one(&p, &base.clone().with_key("s3:prefix", "home/alice/docs/")),
        ALLOWED
    );
    assert_eq!(
        one(&p, &base.clone().with_key("s3:prefix", "home/bob/")),
        IMPLICIT
    );
    assert_eq!(
        one(&p, &base.clone().with_key("s3:prefix", "Home/")),
        IMPLICIT,
        "case-sensitive"
    );
    assert_eq!(one(&p, &base), IMPLICIT, "missing key");
}

#[test]
fn string_not_equals_on_missing_key_matches() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}}"#,
    );
    let ctx = RequestContext::new("ec2:RunInstances", "*");
    assert_eq!(one(&p, &ctx), EXPLICIT);
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key("aws:RequestedRegion", "ap-south-1")
        ),
        EXPLICIT
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key("aws:RequestedRegion", "eu-west-1")
        ),
        IMPLICIT
    );
}

#[test]
fn string_equals_ignore_case() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"StringEqualsIgnoreCase":{"aws:PrincipalTag/Dept":"Engineering"},
                         "StringNotEqualsIgnoreCase":{"aws:PrincipalTag/level":"INTERN"}}}}"#,
    );
    let ctx = RequestContext::new("x:y", "*");
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key("aws:principaltag/dept", "ENGINEERING")
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:PrincipalTag/Dept", "engineering")
                .with_key("aws:PrincipalTag/Level", "intern")
        ),
        IMPLICIT
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:PrincipalTag/Dept", "sales")),
        IMPLICIT
    );
}

#[test]
fn multiple_keys_and_operators_are_anded_values_ored() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"StringEquals":{"aws:PrincipalTag/dept":["hr","finance"],"aws:PrincipalTag/site":"paris"},
                         "Bool":{"aws:SecureTransport":true}}}}"#,
    );
    let ok = RequestContext::new("x:y", "*")
        .with_key("aws:PrincipalTag/dept", "finance")
        .with_key("aws:PrincipalTag/site", "paris")
        .with_key("aws:SecureTransport", "true");
    assert_eq!(one(&p, &ok), ALLOWED);
    let mut bad = ok.clone();
    bad.keys.set("aws:PrincipalTag/site", ["lyon"]);
    assert_eq!(one(&p, &bad), IMPLICIT);
    let mut bad = ok.clone();
    bad.keys.set("aws:SecureTransport", ["false"]);
    assert_eq!(one(&p, &bad), IMPLICIT);
    let mut bad = ok;
    bad.keys.set("aws:PrincipalTag/dept", ["it"]);
    assert_eq!(one(&p, &bad), IMPLICIT);
}

#[test]
fn for_all_values_with_missing_or_empty_key_is_true() {
    // The documented pitfall: ForAllValues on an absent key matches.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*",
            "Condition":{"ForAllValues:StringEquals":{"dynamodb:Attributes":["ID","Message","Tags"]}}}}"#,
    );
    let ctx = RequestContext::new("dynamodb:GetItem", "*");
    assert_eq!(one(&p, &ctx), ALLOWED, "missing key");
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_values("dynamodb:Attributes", Vec::<String>::new())
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_values("dynamodb:Attributes", ["ID", "Message"])
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_values("dynamodb:Attributes", ["ID", "Secret"])
        ),
        IMPLICIT
    );
}

#[test]
fn for_any_value_semantics() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#,
    );
    let ctx = RequestContext::new("ec2:CreateTags", "*");
    assert_eq!(one(&p, &ctx), IMPLICIT, "missing key");
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_values("aws:TagKeys", ["owner", "environment"])
        ),
        ALLOWED
    );
    assert_eq!(
        one(&p, &ctx.clone().with_values("aws:TagKeys", ["owner"])),
        IMPLICIT
    );

    // Negated operator under ForAnyValue: holds if some value is outside the set.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#,
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_values("aws:TagKeys", ["environment", "owner"])
        ),
        EXPLICIT
    );
    assert_eq!(
        one(&p, &ctx.clone().with_values("aws:TagKeys", ["environment"])),
        IMPLICIT
    );
    assert_eq!(one(&p, &ctx), IMPLICIT);
}

#[test]
fn if_exists_operators() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*",
            "Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}}"#,
    );
    let ctx = RequestContext::new("ec2:RunInstances", "*");
    assert_eq!(one(&p, &ctx), ALLOWED, "key absent");
    assert_eq!(
        one(&p, &ctx.clone().with_key("ec2:InstanceType", "t2.micro")),
        ALLOWED
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("ec2:InstanceType", "m5.large")),
        IMPLICIT
    );

    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"NumericLessThanIfExists":{"s3:max-keys":"10"}}}}"#,
    );
    assert_eq!(one(&p, &RequestContext::new("s3:ListBucket", "*")), ALLOWED);
    assert_eq!(
        one(
            &p,
            &RequestContext::new("s3:ListBucket", "*").with_key("s3:max-keys", "11")
        ),
        IMPLICIT
    );
}

#[test]
fn null_operator() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}]}"#,
    );
    let ctx = RequestContext::new("s3:GetObject", "*");
    assert_eq!(
        one(&p, &ctx),
        EXPLICIT,
        "long-term credentials have no token time"
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:TokenIssueTime", "2024-01-01T00:00:00Z")
        ),
        ALLOWED
    );

    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalTag/team":false}}}}"#,
    );
    assert_eq!(one(&p, &ctx), IMPLICIT);
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:PrincipalTag/team", "x")),
        ALLOWED
    );
}

#[test]
fn ip_address_conditions() {
    // IAM docs: deny requests that do not come from these ranges.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"*","Resource":"*"},
          {"Effect":"Deny","Action":"*","Resource":"*",
           "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24","2001:DB8:1234:5678::/64"]}}}]}"#,
    );
    let ctx = RequestContext::new("s3:GetObject", "*");
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:SourceIp", "203.0.113.7")),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:SourceIp", "2001:db8:1234:5678::42")
        ),
        ALLOWED
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:SourceIp", "198.51.100.1")),
        EXPLICIT
    );
    assert_eq!(
        one(&p, &ctx),
        EXPLICIT,
        "NotIpAddress on missing key matches"
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:SourceIp", "garbage")),
        ALLOWED,
        "an unparsable address cannot be compared, so the negated test fails"
    );

    let allow = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
    );
    assert_eq!(
        one(&allow, &ctx.clone().with_key("aws:SourceIp", "10.200.3.4")),
        ALLOWED
    );
    assert_eq!(
        one(&allow, &ctx.clone().with_key("aws:SourceIp", "11.0.0.1")),
        IMPLICIT
    );
    assert_eq!(one(&allow, &ctx), IMPLICIT);
}

#[test]
fn date_conditions() {
    // IAM docs: allow only within a time window.
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
                         "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}}"#,
    );
    let ctx = RequestContext::new("s3:GetObject", "*");
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:CurrentTime", "2020-05-15T12:00:00Z")
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:CurrentTime", "2020-07-01T00:00:00Z")
        ),
        IMPLICIT
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:CurrentTime", "2020-04-01T00:00:00Z")
        ),
        IMPLICIT,
        "strict bound"
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:CurrentTime", "1589544000")),
        ALLOWED,
        "epoch seconds"
    );
    assert_eq!(one(&p, &ctx), IMPLICIT);

    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"DateLessThanEquals":{"aws:EpochTime":1589544000},"DateNotEquals":{"aws:TokenIssueTime":"2020-01-01"}}}}"#,
    );
    let c = ctx
        .clone()
        .with_key("aws:EpochTime", "2020-05-15T12:00:00Z");
    assert_eq!(one(&p, &c), ALLOWED);
    assert_eq!(
        one(
            &p,
            &c.clone()
                .with_key("aws:TokenIssueTime", "2020-01-01T00:00:00Z")
        ),
        IMPLICIT
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:EpochTime", "1589544001")),
        IMPLICIT
    );
}

#[test]
fn numeric_conditions() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
            "Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"},"NumericGreaterThan":{"s3:max-keys":1.5}}}}"#,
    );
    let ctx = RequestContext::new("s3:ListBucket", "*");
    assert_eq!(one(&p, &ctx.clone().with_key("s3:max-keys", "10")), ALLOWED);
    assert_eq!(one(&p, &ctx.clone().with_key("s3:max-keys", "2")), ALLOWED);
    assert_eq!(one(&p, &ctx.clone().with_key("s3:max-keys", "1")), IMPLICIT);
    assert_eq!(
        one(&p, &ctx.clone().with_key("s3:max-keys", "11")),
        IMPLICIT
    );
}

#[test]
fn arn_conditions() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"sns:Publish","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:*:*:bucket-*"}}},
          {"Effect":"Deny","Action":"sns:Publish","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket-evil"}}}]}"#,
    );
    let ctx = RequestContext::new("sns:Publish", "*");
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:SourceArn", "arn:aws:s3:::bucket-a")
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:SourceArn", "arn:aws:s3:::bucket-evil")
        ),
        EXPLICIT
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key("aws:SourceArn", "arn:aws:s3:::other")
        ),
        IMPLICIT
    );
    assert_eq!(
        one(&p, &ctx.clone().with_key("aws:SourceArn", "not-an-arn")),
        IMPLICIT
    );

    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin*"}}}}"#,
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key(
                "aws:PrincipalArn",
                "arn:aws:iam::123456789012:role/AdminOps"
            )
        ),
        IMPLICIT
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone()
                .with_key("aws:PrincipalArn", "arn:aws:iam::123456789012:user/bob")
        ),
        EXPLICIT
    );
}

#[test]
fn binary_and_bool() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"BinaryEquals":{"k:blob":"QmluYXJ5VmFsdWU="},"Bool":{"aws:SecureTransport":"true"}}}}"#,
    );
    let ctx = RequestContext::new("a:b", "*")
        .with_key("k:blob", "QmluYXJ5VmFsdWU=")
        .with_key("aws:SecureTransport", "true");
    assert_eq!(one(&p, &ctx), ALLOWED);
    let mut c = ctx.clone();
    c.keys.set("k:blob", ["QmluYXJ5VmFsdWV="]);
    assert_eq!(one(&p, &c), IMPLICIT);
}

#[test]
fn condition_keys_are_case_insensitive() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"AWS:USERNAME":"alice"}}}}"#,
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("a:b", "*").with_key("aws:username", "alice")
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("a:b", "*").with_key("aws:username", "ALICE")
        ),
        IMPLICIT
    );
}

// ---------------------------------------------------------------------------
// Policy variables
// ---------------------------------------------------------------------------

#[test]
fn username_variable_in_resource() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#,
    );
    let ctx =
        |res: &str| RequestContext::new("s3:GetObject", res).with_key("aws:username", "alice");
    assert_eq!(
        one(&p, &ctx("arn:aws:s3:::bucket/home/alice/a.txt")),
        ALLOWED
    );
    assert_eq!(
        one(&p, &ctx("arn:aws:s3:::bucket/home/bob/a.txt")),
        IMPLICIT
    );
    // Unresolvable: no match.
    assert_eq!(
        one(
            &p,
            &RequestContext::new("s3:GetObject", "arn:aws:s3:::bucket/home/alice/a.txt")
        ),
        IMPLICIT
    );
    let d = evaluate(
        &[&p],
        &RequestContext::new("s3:GetObject", "arn:aws:s3:::bucket/home/x/a"),
    );
    assert_eq!(d.missing_context_keys, vec!["aws:username".to_string()]);
}

#[test]
fn variables_ignored_in_2008_version() {
    let p = identity(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#,
    );
    let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::bucket/alice")
        .with_key("aws:username", "alice");
    assert_eq!(one(&p, &ctx), IMPLICIT);
    let literal = RequestContext::new("s3:GetObject", "arn:aws:s3:::bucket/${aws:username}");
    assert_eq!(one(&p, &literal), ALLOWED);

    // No Version at all: same 2008 semantics.
    let p = identity(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#,
    );
    assert_eq!(one(&p, &ctx), IMPLICIT);
}

#[test]
fn variable_escapes_and_defaults() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${*}/${aws:PrincipalTag/team, 'company-wide'}/*"}}"#,
    );
    let ctx = |res: &str| RequestContext::new("s3:GetObject", res);
    assert_eq!(one(&p, &ctx("arn:aws:s3:::b/*/company-wide/x")), ALLOWED);
    assert_eq!(
        one(&p, &ctx("arn:aws:s3:::b/anything/company-wide/x")),
        IMPLICIT,
        "the escaped star is literal"
    );
    assert_eq!(
        one(
            &p,
            &ctx("arn:aws:s3:::b/*/blue/x").with_key("aws:PrincipalTag/team", "blue")
        ),
        ALLOWED
    );
}

#[test]
fn variable_values_are_not_wildcards() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/${aws:username}/*"}}"#,
    );
    let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::bucket/alice/x")
        .with_key("aws:username", "*");
    assert_eq!(one(&p, &ctx), IMPLICIT);
}

#[test]
fn variables_in_condition_values() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:userid}"}}}}"#,
    );
    let ctx = RequestContext::new("ec2:StopInstances", "*").with_key("aws:userid", "AIDAEXAMPLE");
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key("aws:ResourceTag/owner", "AIDAEXAMPLE")
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &ctx.clone().with_key("aws:ResourceTag/owner", "someone")
        ),
        IMPLICIT
    );
    assert_eq!(
        one(
            &p,
            &RequestContext::new("ec2:StopInstances", "*")
                .with_key("aws:ResourceTag/owner", "AIDAEXAMPLE")
        ),
        IMPLICIT
    );
}

// ---------------------------------------------------------------------------
// Cognito
// ---------------------------------------------------------------------------

const POOL: &str = "us-east-1:12345678-1234-1234-1234-123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/Cognito_PoolAuth_Role";

fn cognito_trust() -> Policy {
    let doc = format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [{{
    "Effect": "Allow",
    "Principal": {{"Federated": "cognito-identity.amazonaws.com"}},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {{
      "StringEquals": {{"cognito-identity.amazonaws.com:aud": "{POOL}"}},
      "ForAnyValue:StringLike": {{"cognito-identity.amazonaws.com:amr": "authenticated"}}
    }}
  }}]
}}"#
    );
    Policy::parse(&doc, PolicyKind::Trust, 2048).unwrap()
}

fn web_identity(aud: &str, amr: &[&str]) -> RequestContext {
    RequestContext::assume_role_with_web_identity("cognito-identity.amazonaws.com", ROLE)
        .with_key("cognito-identity.amazonaws.com:aud", aud)
        .with_key("cognito-identity.amazonaws.com:sub", "us-east-1:aaaa-bbbb")
        .with_values("cognito-identity.amazonaws.com:amr", amr.iter().copied())
}

#[test]
fn cognito_trust_policy_allows_authenticated_identities_of_the_pool() {
    let trust = cognito_trust();
    let amr_auth = [
        "authenticated",
        "graph.facebook.com",
        "graph.facebook.com:123456789",
    ];
    let d = evaluate_trust(&trust, &web_identity(POOL, &amr_auth));
    assert_eq!(d.effect, ALLOWED);
    assert_eq!(d.matched_statements.len(), 1);
    assert_eq!(d.matched_statements[0].statement_index, 0);
}

#[test]
fn cognito_trust_policy_denies_unauthenticated_wrong_pool_or_provider() {
    let trust = cognito_trust();
    assert_eq!(
        evaluate_trust(&trust, &web_identity(POOL, &["unauthenticated"])).effect,
        IMPLICIT
    );
    assert_eq!(
        evaluate_trust(
            &trust,
            &web_identity("us-east-1:other-pool", &["authenticated"])
        )
        .effect,
        IMPLICIT
    );
    assert_eq!(
        evaluate_trust(&trust, &web_identity(POOL, &[])).effect,
        IMPLICIT,
        "no amr"
    );
    // Another provider.
    let mut ctx = web_identity(POOL, &["authenticated"]);
    ctx.principal = RequestPrincipal::Federated("accounts.google.com".into());
    assert_eq!(evaluate_trust(&trust, &ctx).effect, IMPLICIT);
    // An AWS principal.
    ctx.principal = RequestPrincipal::Aws("arn:aws:iam::123456789012:user/x".into());
    assert_eq!(evaluate_trust(&trust, &ctx).effect, IMPLICIT);
    // Another action.
    let mut ctx = web_identity(POOL, &["authenticated"]);
    ctx.action = "sts:AssumeRole".into();
    assert_eq!(evaluate_trust(&trust, &ctx).effect, IMPLICIT);
}

#[test]
fn cognito_sub_scoped_s3_policy() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::mybucket"],
           "Condition":{"StringLike":{"s3:prefix":["cognito/myapp/${cognito-identity.amazonaws.com:sub}/*"]}}},
          {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
           "Resource":["arn:aws:s3:::mybucket/cognito/myapp/${cognito-identity.amazonaws.com:sub}/*"]}]}"#,
    );
    let sub = "us-east-1:11111111-2222-3333-4444-555555555555";
    let get = |res: &str| {
        RequestContext::new("s3:GetObject", res).with_key("cognito-identity.amazonaws.com:sub", sub)
    };
    assert_eq!(
        one(
            &p,
            &get(&format!(
                "arn:aws:s3:::mybucket/cognito/myapp/{sub}/photo.jpg"
            ))
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &get(
                "arn:aws:s3:::mybucket/cognito/myapp/us-east-1:99999999-2222-3333-4444-555555555555/photo.jpg"
            )
        ),
        IMPLICIT
    );
    let list = RequestContext::new("s3:ListBucket", "arn:aws:s3:::mybucket")
        .with_key("cognito-identity.amazonaws.com:sub", sub);
    assert_eq!(
        one(
            &p,
            &list
                .clone()
                .with_key("s3:prefix", format!("cognito/myapp/{sub}/"))
        ),
        ALLOWED
    );
    assert_eq!(
        one(&p, &list.with_key("s3:prefix", "cognito/myapp/")),
        IMPLICIT
    );
}

// ---------------------------------------------------------------------------
// Resource-based policies, principals
// ---------------------------------------------------------------------------

#[test]
fn resource_policy_principals() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"cross account","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:role/Reader"]},
           "Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"},
          {"Sid":"public list","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared"},
          {"Sid":"not me","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::shared/*"}]}"#,
        PolicyKind::Resource,
        20480,
    )
    .unwrap();
    let get = |who: RequestPrincipal| {
        RequestContext::new("s3:GetObject", "arn:aws:s3:::shared/x").with_principal(who)
    };
    assert_eq!(
        one(
            &p,
            &get(RequestPrincipal::Aws(
                "arn:aws:iam::111122223333:user/any".into()
            ))
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &get(RequestPrincipal::Aws(
                "arn:aws:sts::444455556666:assumed-role/Reader/s1".into()
            ))
        ),
        ALLOWED
    );
    assert_eq!(
        one(
            &p,
            &get(RequestPrincipal::Aws(
                "arn:aws:iam::444455556666:user/x".into()
            ))
        ),
        IMPLICIT
    );
    assert_eq!(one(&p, &get(RequestPrincipal::Anonymous)), IMPLICIT);
    let list = RequestContext::new("s3:ListBucket", "arn:aws:s3:::shared");
    assert_eq!(one(&p, &list), ALLOWED, "Principal * includes anonymous");
    let del =
        |who| RequestContext::new("s3:DeleteObject", "arn:aws:s3:::shared/x").with_principal(who);
    assert_eq!(
        one(
            &p,
            &del(RequestPrincipal::Aws(
                "arn:aws:iam::999999999999:user/m".into()
            ))
        ),
        EXPLICIT
    );
    assert_eq!(
        one(
            &p,
            &del(RequestPrincipal::Aws(
                "arn:aws:iam::111122223333:user/a".into()
            ))
        ),
        IMPLICIT
    );
}

// ---------------------------------------------------------------------------
// Session policies
// ---------------------------------------------------------------------------

#[test]
fn session_policies_intersect() {
    let id = identity(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"S3","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );
    let session = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"ReadOnly","Effect":"Allow","Action":["s3:Get*","s3:List*","ec2:*"],"Resource":"*"}}"#,
        PolicyKind::Session,
        2048,
    )
    .unwrap();
    let get = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k");
    let d = evaluate_with_session(&[&id], &[&session], &get);
    assert_eq!(d.effect, ALLOWED);
    let sources: Vec<_> = d
        .matched_statements
        .iter()
        .map(|m| (m.source, m.sid.clone()))
        .collect();
    assert_eq!(
        sources,
        vec![
            (PolicySource::Primary, Some("S3".into())),
            (PolicySource::Session, Some("ReadOnly".into()))
        ]
    );
    // Session allows but identity does not.
    assert_eq!(
        evaluate_with_session(
            &[&id],
            &[&session],
            &RequestContext::new("ec2:RunInstances", "*")
        )
        .effect,
        IMPLICIT
    );
    // Identity allows but session does not.
    assert_eq!(
        evaluate_with_session(
            &[&id],
            &[&session],
            &RequestContext::new("s3:PutObject", "*")
        )
        .effect,
        IMPLICIT
    );
    // Every session policy must allow.
    let only_list = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:List*","Resource":"*"}}"#,
        PolicyKind::Session,
        2048,
    )
    .unwrap();
    assert_eq!(
        evaluate_with_session(&[&id], &[&session, &only_list], &get).effect,
        IMPLICIT
    );
    // No session policies: identity alone.
    assert_eq!(evaluate_with_session(&[&id], &[], &get).effect, ALLOWED);
    // Deny in a session policy is an explicit deny.
    let deny = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}}"#,
        PolicyKind::Session,
        2048,
    )
    .unwrap();
    let d = evaluate_with_session(&[&id], &[&session, &deny], &get);
    assert_eq!(d.effect, EXPLICIT);
    assert_eq!(d.matched_statements[0].source, PolicySource::Session);
    assert_eq!(d.matched_statements[0].policy_index, 1);
}

#[test]
fn context_keys_are_listed() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username}",
            "Condition":{"StringEquals":{"aws:PrincipalTag/x":"${aws:userid}","AWS:Username":"a"}}}}"#,
    );
    assert_eq!(
        p.context_keys(),
        vec!["aws:username", "aws:PrincipalTag/x", "aws:userid"]
    );
}

#[test]
fn decision_serializes_with_iam_names() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
    );
    let d = evaluate(&[&p], &RequestContext::new("a:b", "*"));
    assert_eq!(d.effect.as_iam_str(), "explicitDeny");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["matched_statements"][0]["effect"], "Deny");
}
