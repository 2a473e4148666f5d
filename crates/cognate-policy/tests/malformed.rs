//! One test per validation rule: the document is rejected with a useful message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cognate_policy::{MalformedKind, MalformedPolicy, Policy, PolicyKind, PolicyVersion};

fn reject(doc: &str, kind: PolicyKind) -> MalformedPolicy {
    match Policy::parse(doc, kind, 1 << 20) {
        Ok(p) => panic!("expected rejection, parsed {p:?}"),
        Err(e) => e,
    }
}

fn reject_identity(doc: &str) -> MalformedPolicy {
    reject(doc, PolicyKind::Identity)
}

/// Wraps one statement body into an identity policy.
fn stmt(body: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}},{body}]}}"#
    )
}

#[test]
fn valid_documents_parse() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A1","Effect":"Allow","Action":["s3:Get*"],"Resource":["*"],
            "Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*",1,true]}}}}"#,
        PolicyKind::Identity,
        6144,
    )
    .unwrap();
    assert_eq!(p.version(), Some(PolicyVersion::V2012_10_17));
    assert_eq!(p.id(), Some("x"));
    assert_eq!(p.statements().len(), 1);
    assert_eq!(
        p.statements()[0].conditions()[0].values(),
        &["a*", "1", "true"]
    );
    let p = Policy::parse(
        r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
        6144,
    )
    .unwrap();
    assert_eq!(p.version(), None);
}

#[test]
fn invalid_json() {
    let e = reject_identity(r#"{"Version":"2012-10-17","Statement":["#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    assert!(e.message().starts_with("Syntax errors in policy."), "{e}");
    let e = reject_identity("[]");
    assert_eq!(e.kind(), &MalformedKind::Syntax);
}

#[test]
fn too_large() {
    let doc =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let size = cognate_policy::policy_size(doc);
    assert!(Policy::parse(doc, PolicyKind::Identity, size).is_ok());
    let e = Policy::parse(doc, PolicyKind::Identity, size - 1).unwrap_err();
    assert_eq!(
        e.kind(),
        &MalformedKind::TooLarge {
            size,
            limit: size - 1
        }
    );
    assert!(
        e.message().contains("Cannot exceed quota for PolicySize"),
        "{e}"
    );
    // Whitespace is not counted.
    let spaced = doc.replace(':', " : ");
    assert!(Policy::parse(&spaced, PolicyKind::Identity, size).is_ok());
}

#[test]
fn unknown_top_level_field() {
    let e = reject_identity(
        r#"{"Version":"2012-10-17","Foo":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    assert_eq!(e.kind(), &MalformedKind::UnknownField);
    assert_eq!(e.message(), "Unknown field Foo");
    assert_eq!(e.statement_index(), None);
}

#[test]
fn unknown_statement_field_with_case_hint() {
    let e = reject_identity(&stmt(r#"{"effect":"Allow","Action":"*","Resource":"*"}"#));
    assert_eq!(e.kind(), &MalformedKind::UnknownField);
    assert!(e.message().starts_with("Unknown field effect"), "{e}");
    assert!(e.message().contains("did you mean Effect?"), "{e}");
    assert_eq!(e.statement_index(), Some(1));
    assert!(e.to_string().contains("Statement[1]"), "{e}");
}

#[test]
fn bad_version() {
    let e = reject_identity(
        r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    assert_eq!(e.kind(), &MalformedKind::InvalidVersion);
    assert_eq!(e.field(), Some("Version"));
    let e = reject_identity(
        r#"{"Version":2012,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    assert_eq!(e.kind(), &MalformedKind::InvalidVersion);
}

#[test]
fn bad_id_type() {
    let e =
        reject_identity(r#"{"Id":5,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    assert_eq!(e.field(), Some("Id"));
}

#[test]
fn missing_or_bad_statement() {
    let e = reject_identity(r#"{"Version":"2012-10-17"}"#);
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    assert_eq!(e.message(), "Missing required field Statement");
    let e = reject_identity(r#"{"Version":"2012-10-17","Statement":[]}"#);
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    let e = reject_identity(r#"{"Version":"2012-10-17","Statement":"Allow"}"#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    let e = reject_identity(r#"{"Version":"2012-10-17","Statement":[1]}"#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    assert_eq!(e.statement_index(), Some(0));
}

#[test]
fn effect_rules() {
    let e = reject_identity(&stmt(r#"{"Action":"*","Resource":"*"}"#));
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    assert_eq!(e.message(), "Missing required field Effect");
    let e = reject_identity(&stmt(
        r#"{"Sid":"Lower","Effect":"allow","Action":"*","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidEffect);
    assert!(e.message().contains("Invalid effect: allow"), "{e}");
    assert_eq!(e.sid(), Some("Lower"));
    assert!(e.to_string().contains("Sid \"Lower\""), "{e}");
}

#[test]
fn action_rules() {
    let e = reject_identity(&stmt(r#"{"Effect":"Allow","Resource":"*"}"#));
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    assert!(e.message().contains("must contain actions"), "{e}");
    let e = reject_identity(&stmt(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#));
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":"s3:Get","NotAction":"s3:Put","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    assert!(e.message().contains("both Action and NotAction"), "{e}");
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidAction);
    assert!(e.message().contains("must be prefaced by a vendor"), "{e}");
    assert_eq!(e.field(), Some("Action"));
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","NotAction":"s 3:GetObject","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidAction);
    assert_eq!(e.field(), Some("NotAction"));
    let e = reject_identity(&stmt(r#"{"Effect":"Allow","Action":"s3:","Resource":"*"}"#));
    assert_eq!(e.kind(), &MalformedKind::InvalidAction);
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":["s3:Get*",7],"Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::Syntax);
}

#[test]
fn resource_rules() {
    let e = reject_identity(&stmt(r#"{"Effect":"Allow","Action":"*"}"#));
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    assert_eq!(e.message(), "Missing required field Resource");
    let e = reject_identity(&stmt(r#"{"Effect":"Allow","Action":"*","Resource":[]}"#));
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":"*","Resource":"bucket/key"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidResource);
    assert!(e.message().contains("must be in ARN format"), "{e}");
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s*:::b"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidResource);
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${}"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidVariable);
    // Session policies follow identity rules.
    let e = reject(
        &stmt(r#"{"Effect":"Allow","Action":"*"}"#),
        PolicyKind::Session,
    );
    assert_eq!(e.message(), "Missing required field Resource");
}

#[test]
fn identity_policy_must_not_have_principal() {
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::ProhibitedField);
    assert_eq!(
        e.message(),
        "Policy document should not specify a principal."
    );
    assert_eq!(e.field(), Some("Principal"));
    let e = reject_identity(&stmt(
        r#"{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"*","Resource":"*"}"#,
    ));
    assert_eq!(e.field(), Some("NotPrincipal"));
}

#[test]
fn trust_policy_rules() {
    let e = reject(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
        PolicyKind::Trust,
    );
    assert_eq!(e.kind(), &MalformedKind::MissingField);
    assert_eq!(e.message(), "Missing required field Principal");
    let e = reject(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#,
        PolicyKind::Trust,
    );
    assert_eq!(e.kind(), &MalformedKind::ProhibitedField);
    assert_eq!(e.message(), "Has prohibited field Resource");
    // Resource policies need both.
    let e = reject(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#,
        PolicyKind::Resource,
    );
    assert_eq!(e.message(), "Missing required field Resource");
    let e = reject(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    assert_eq!(e.message(), "Missing required field Principal");
}

#[test]
fn invalid_principals() {
    let trust = |principal: &str| {
        reject(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}}}"#
            ),
            PolicyKind::Trust,
        )
    };
    for bad in [
        r#""bob""#,
        r#"{}"#,
        r#"{"AWS":"bob"}"#,
        r#"{"AWS":[]}"#,
        r#"{"AWS":["123456789012", 5]}"#,
        r#"{"AWS":"arn:aws:iam::123456789012:user/*"}"#,
        r#"{"Federated":""}"#,
        r#"{"Service":"ec2 amazonaws com"}"#,
        r#"{"Group":"admins"}"#,
        r#"["*"]"#,
    ] {
        let e = trust(bad);
        assert_eq!(e.kind(), &MalformedKind::InvalidPrincipal, "{bad}: {e}");
        assert!(
            e.message().starts_with("Invalid principal in policy"),
            "{e}"
        );
        assert_eq!(e.field(), Some("Principal"));
    }
    let e = trust(r#"{"AWS":"bob"}"#);
    assert!(e.message().contains(r#""AWS":"bob""#), "{e}");
}

#[test]
fn sid_rules() {
    let e = reject_identity(&stmt(
        r#"{"Sid":"has space","Effect":"Allow","Action":"*","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::InvalidSid);
    assert!(e.message().contains("alpha-numeric"), "{e}");
    let e = reject_identity(&stmt(
        r#"{"Sid":5,"Effect":"Allow","Action":"*","Resource":"*"}"#,
    ));
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    let e = reject_identity(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    );
    assert_eq!(e.kind(), &MalformedKind::InvalidSid);
    assert_eq!(
        e.message(),
        "Statement IDs (SID) in a single policy must be unique."
    );
    assert_eq!(e.statement_index(), Some(1));
    // Resource policies accept free-form Sids.
    assert!(
        Policy::parse(
            r#"{"Statement":{"Sid":"Allow public read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyKind::Resource,
            20480
        )
        .is_ok()
    );
}

#[test]
fn condition_rules() {
    let cond = |c: &str| {
        reject_identity(&stmt(&format!(
            r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{c}}}"#
        )))
    };

    let e = cond(r#"{"StringEqualz":{"aws:username":"a"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);
    assert_eq!(e.message(), "Invalid Condition type : StringEqualz");
    assert_eq!(e.field(), Some("Condition"));
    assert_eq!(e.statement_index(), Some(1));

    let e = cond(r#"{"NullIfExists":{"aws:username":"true"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);

    let e = cond(r#"{"StringEquals":{"username":"a"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);
    assert!(e.message().contains("prefaced by a vendor"), "{e}");

    let e = cond(r#""StringEquals""#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    let e = cond(r#"{"StringEquals":"aws:username"}"#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    let e = cond(r#"{"StringEquals":{"aws:username":{"a":1}}}"#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);
    let e = cond(r#"{"StringEquals":{"aws:username":[null]}}"#);
    assert_eq!(e.kind(), &MalformedKind::Syntax);

    let e = cond(r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);
    assert!(e.message().contains("numeric"), "{e}");
    let e = cond(r#"{"DateGreaterThan":{"aws:CurrentTime":"soon"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);
    let e = cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);
    let e = cond(r#"{"Null":{"aws:TokenIssueTime":"yes"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidCondition);
    let e = cond(r#"{"StringLike":{"s3:prefix":"${aws:username, default}"}}"#);
    assert_eq!(e.kind(), &MalformedKind::InvalidVariable);
}

#[test]
fn error_display_includes_location() {
    let e = reject_identity(&stmt(
        r#"{"Sid":"X1","Effect":"Allow","Action":"*","Resource":"*","Condition":{"Foo":{"a:b":"c"}}}"#,
    ));
    let s = e.to_string();
    assert!(s.contains("Invalid Condition type : Foo"), "{s}");
    assert!(s.contains("Statement[1]"), "{s}");
    assert!(s.contains("Sid \"X1\""), "{s}");
    assert!(s.contains("element Condition"), "{s}");
}
