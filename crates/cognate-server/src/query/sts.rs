//! STS: GetCallerIdentity, AssumeRoleWithWebIdentity and AssumeRoleWithSAML,
//! each one input type with its handler.

use cognate_core::sts::{AssumeRoleWithWebIdentity, AssumedRole};
use cognate_core::sts_saml::{AssumeRoleWithSaml, AssumedSamlRole};
use cognate_core::{Authority, Caller};

use crate::call::Context;
use crate::operation::Service;
use crate::query::{Params, QueryOperation, domain};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::{XmlWriter, timestamp};

fn err(e: cognate_core::Error) -> ApiError {
    domain(Service::Sts)(e)
}

pub struct GetCallerIdentityInput;

impl QueryOperation for GetCallerIdentityInput {
    fn parse(_: &Params, _: &mut Checker) -> Result<Self, ApiError> {
        Ok(GetCallerIdentityInput)
    }

    /// Needs no permission, as in AWS.
    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        write_caller_identity(w, &cx.caller);
        Ok(())
    }
}

pub struct AssumeRoleWithWebIdentityInput(AssumeRoleWithWebIdentity);

impl QueryOperation for AssumeRoleWithWebIdentityInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(Self(parse_web_identity(params, c)))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let sts = cx.cognate().sts();
        let assumed = sts.assume_role_with_web_identity(&self.0).await;
        write_assumed_role(w, &assumed.map_err(err)?);
        Ok(())
    }
}

pub struct AssumeRoleWithSAMLInput(AssumeRoleWithSaml);

impl QueryOperation for AssumeRoleWithSAMLInput {
    fn parse(params: &Params, c: &mut Checker) -> Result<Self, ApiError> {
        Ok(Self(parse_saml(params, c)))
    }

    async fn call(self, cx: &Context<'_>, w: &mut XmlWriter) -> Result<(), ApiError> {
        let sts = cx.cognate().sts();
        let assumed = sts.assume_role_with_saml(&self.0).await;
        write_assumed_saml_role(w, &assumed.map_err(err)?);
        Ok(())
    }
}

fn write_caller_identity(w: &mut XmlWriter, caller: &Caller) {
    let (arn, user_id, account) = match &caller.authority {
        Authority::Session(session) => (
            session.assumed_role_arn(),
            session.user_id(),
            session.account.clone(),
        ),
        Authority::Root | Authority::Anonymous => {
            (caller.arn(), caller.account.clone(), caller.account.clone())
        }
    };
    w.leaf("UserId", &user_id)
        .leaf("Account", &account)
        .leaf("Arn", &arn);
}

/// The model constraints of AssumeRoleWithWebIdentity.
fn parse_web_identity(params: &Params, c: &mut Checker) -> AssumeRoleWithWebIdentity {
    let get = |name: &str| params.get(name).map(str::to_string);
    let role_arn = get("RoleArn");
    if let Some(arn) = c.required("roleArn", &role_arn) {
        c.string("roleArn", arn, 20, 2048, Some(&v::STS_ARN));
    }
    let session_name = get("RoleSessionName");
    if let Some(name) = c.required("roleSessionName", &session_name) {
        c.string("roleSessionName", name, 2, 64, Some(&v::SESSION_NAME));
    }
    let token = get("WebIdentityToken");
    if let Some(token) = c.required("webIdentityToken", &token) {
        c.sensitive("webIdentityToken", token, 4, 20000);
    }
    let provider_id = get("ProviderId");
    c.opt_string("providerId", &provider_id, 4, 2048, None);
    let session = session_request(c, params);
    AssumeRoleWithWebIdentity {
        role_arn: role_arn.unwrap_or_default(),
        role_session_name: session_name.unwrap_or_default(),
        web_identity_token: token.unwrap_or_default(),
        provider_id,
        policy_arns: session.policy_arns,
        policy: session.policy,
        duration_seconds: session.duration_seconds,
    }
}

/// The session parameters both federated calls take.
struct SessionParams {
    policy_arns: Vec<String>,
    policy: Option<String>,
    duration_seconds: Option<i64>,
}

fn session_request(c: &mut Checker, params: &Params) -> SessionParams {
    let get = |name: &str| params.get(name).map(str::to_string);
    let policy_arns: Vec<String> = params
        .structs("PolicyArns")
        .iter()
        .map(|p| p.get("arn").unwrap_or_default().to_string())
        .collect();
    c.count(
        "policyArns",
        &format!("[{}]", policy_arns.join(", ")),
        policy_arns.len(),
        0,
        10,
    );
    for (i, arn) in policy_arns.iter().enumerate() {
        c.arn(&format!("policyArns.{}.member.arn", i + 1), arn);
    }
    let policy = get("Policy");
    c.opt_string("policy", &policy, 1, 2048, Some(&v::POLICY_DOCUMENT));
    let duration_seconds = match params.get("DurationSeconds") {
        None => None,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) => {
                c.range("durationSeconds", n, 900, 43200);
                Some(n)
            }
            Err(_) => {
                c.range("durationSeconds", 0, 900, 43200);
                None
            }
        },
    };
    SessionParams {
        policy_arns,
        policy,
        duration_seconds,
    }
}

/// The model constraints of AssumeRoleWithSAML.
fn parse_saml(params: &Params, c: &mut Checker) -> AssumeRoleWithSaml {
    let get = |name: &str| params.get(name).map(str::to_string);
    let role_arn = get("RoleArn");
    if let Some(arn) = c.required("roleArn", &role_arn) {
        c.string("roleArn", arn, 20, 2048, Some(&v::STS_ARN));
    }
    let principal_arn = get("PrincipalArn");
    if let Some(arn) = c.required("principalArn", &principal_arn) {
        c.string("principalArn", arn, 20, 2048, Some(&v::STS_ARN));
    }
    let assertion = get("SAMLAssertion");
    if let Some(assertion) = c.required("sAMLAssertion", &assertion) {
        c.sensitive("sAMLAssertion", assertion, 4, 100_000);
    }
    let session = session_request(c, params);
    AssumeRoleWithSaml {
        role_arn: role_arn.unwrap_or_default(),
        principal_arn: principal_arn.unwrap_or_default(),
        saml_assertion: assertion.unwrap_or_default(),
        policy_arns: session.policy_arns,
        policy: session.policy,
        duration_seconds: session.duration_seconds,
    }
}

fn write_credentials(w: &mut XmlWriter, c: &cognate_core::credentials::Credentials) {
    w.open("Credentials")
        .leaf("AccessKeyId", &c.access_key_id)
        .leaf("SecretAccessKey", &c.secret_access_key)
        .leaf("SessionToken", &c.session_token)
        .leaf("Expiration", &timestamp(c.expiration))
        .close("Credentials");
}

fn write_assumed_saml_role(w: &mut XmlWriter, a: &AssumedSamlRole) {
    write_credentials(w, &a.credentials);
    w.open("AssumedRoleUser")
        .leaf("AssumedRoleId", &a.assumed_role_id)
        .leaf("Arn", &a.assumed_role_arn)
        .close("AssumedRoleUser");
    if let Some(size) = a.packed_policy_size {
        w.leaf("PackedPolicySize", &size.to_string());
    }
    w.leaf("Subject", &a.subject)
        .leaf("SubjectType", &a.subject_type)
        .leaf("Issuer", &a.issuer)
        .leaf("Audience", &a.audience)
        .leaf("NameQualifier", &a.name_qualifier)
        .leaf_opt("SourceIdentity", a.source_identity.as_deref());
}

fn write_assumed_role(w: &mut XmlWriter, a: &AssumedRole) {
    write_credentials(w, &a.credentials);
    w.leaf(
        "SubjectFromWebIdentityToken",
        &a.subject_from_web_identity_token,
    )
    .open("AssumedRoleUser")
    .leaf("AssumedRoleId", &a.assumed_role_id)
    .leaf("Arn", &a.assumed_role_arn)
    .close("AssumedRoleUser");
    if let Some(size) = a.packed_policy_size {
        w.leaf("PackedPolicySize", &size.to_string());
    }
    w.leaf("Provider", &a.provider)
        .leaf("Audience", &a.audience)
        .leaf_opt("SourceIdentity", a.source_identity.as_deref());
}
