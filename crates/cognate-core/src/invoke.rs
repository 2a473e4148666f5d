//! `execute-api:Invoke`: whether temporary credentials may call an API,
//! decided as API Gateway's IAM authorizer decides it, and who the caller
//! is as API Gateway tells the backend (`requestContext.identity`).
//!
//! The protocol layer verifies the request's signature and finds which
//! API, stage and resource path it is for; the decision is made here, by
//! the same policy evaluation as every other signed call.

use cognate_policy::{EvalDecision, MatchedStatement};

use crate::access::{Authority, Caller};
use crate::arn::COGNITO_PROVIDER;
use crate::error::Result;
use crate::service::Cognate;
use crate::session::Session;

/// The IAM action API Gateway authorizes.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`,
/// the resource path without its leading `/` (`GET /` is `.../GET/`).
pub fn execute_api_arn(
    region: &str,
    account: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    resource_path: &str,
) -> String {
    let path = resource_path.strip_prefix('/').unwrap_or(resource_path);
    // Joined rather than formatted: made for every forward-auth decision.
    [
        "arn:aws:execute-api:",
        region,
        ":",
        account,
        ":",
        api_id,
        "/",
        stage,
        "/",
        method,
        "/",
        path,
    ]
    .concat()
}

/// Who the caller is, as API Gateway hands it to the backend. Cognito
/// fields are empty for credentials that did not come from an identity
/// pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeIdentity {
    pub cognito_identity_id: String,
    pub cognito_identity_pool_id: String,
    /// `authenticated` or `unauthenticated`.
    pub cognito_authentication_type: String,
    /// The logins of an authenticated identity, as its `amr` names them:
    /// `cognito-idp.us-east-1.amazonaws.com/us-east-1_X,cognito-idp.us-east-1.amazonaws.com/us-east-1_X:CognitoSignIn:<sub>`.
    pub cognito_authentication_provider: String,
    /// The assumed-role ARN (`userArn`).
    pub user_arn: String,
    /// `<role id>:<session name>` (`caller`).
    pub caller: String,
    pub access_key: String,
    pub account_id: String,
}

impl InvokeIdentity {
    pub fn of(caller: &Caller, access_key: &str) -> InvokeIdentity {
        let Authority::Session(session) = &caller.authority else {
            // The account root (the admin key).
            return InvokeIdentity {
                user_arn: caller.arn(),
                caller: caller.account.clone(),
                access_key: access_key.to_string(),
                account_id: caller.account.clone(),
                ..InvokeIdentity::default()
            };
        };
        let mut identity = InvokeIdentity {
            user_arn: session.assumed_role_arn(),
            caller: session.user_id(),
            access_key: session.access_key_id.clone(),
            account_id: session.account.clone(),
            ..InvokeIdentity::default()
        };
        if session.provider == COGNITO_PROVIDER {
            identity.cognito_identity_id = session.subject.clone();
            identity.cognito_identity_pool_id = session.audience.clone();
            let authenticated = session.amr.iter().any(|a| a == "authenticated");
            identity.cognito_authentication_type = if authenticated {
                "authenticated"
            } else {
                "unauthenticated"
            }
            .into();
            if authenticated {
                identity.cognito_authentication_provider = cognito_providers(session);
            }
        }
        identity
    }
}

/// The `amr` entries after `authenticated`, comma-separated.
fn cognito_providers(session: &Session) -> String {
    let providers: Vec<&str> = session
        .amr
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "authenticated" && *a != "unauthenticated")
        .collect();
    providers.join(",")
}

/// The outcome of `execute-api:Invoke` for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeDecision {
    pub effect: EvalDecision,
    /// The statements that decided: the allowing ones, or the denying ones
    /// of an explicit deny.
    pub matched_statements: Vec<MatchedStatement>,
    /// API Gateway's words for a denial.
    pub denial: Option<String>,
}

impl InvokeDecision {
    pub fn is_allowed(&self) -> bool {
        self.effect == EvalDecision::Allowed
    }
}

impl Cognate {
    /// Whether `caller` (authenticated by the request's signature) may
    /// invoke the API resource `arn`. The account root may; a session is
    /// judged by its role's policies narrowed by its session policies, with
    /// the request's origin as `aws:SourceIp` and `aws:SecureTransport`.
    pub async fn decide_invoke(&self, caller: &Caller, arn: &str) -> Result<InvokeDecision> {
        let session = match &caller.authority {
            Authority::Root => {
                return Ok(InvokeDecision {
                    effect: EvalDecision::Allowed,
                    matched_statements: Vec::new(),
                    denial: None,
                });
            }
            Authority::Session(session) => session,
            Authority::Anonymous => {
                return Ok(denied(caller, arn, EvalDecision::ImplicitDeny, Vec::new()));
            }
        };
        let decision = self
            .session_decision(caller, session, INVOKE_ACTION, arn, &[])
            .await?;
        Ok(match decision {
            Some(d) if d.is_allowed() => InvokeDecision {
                effect: EvalDecision::Allowed,
                matched_statements: d.matched_statements,
                denial: None,
            },
            Some(d) => denied(caller, arn, d.effect, d.matched_statements),
            // The session's role is gone: it grants nothing.
            None => denied(caller, arn, EvalDecision::ImplicitDeny, Vec::new()),
        })
    }
}

fn denied(
    caller: &Caller,
    arn: &str,
    effect: EvalDecision,
    matched_statements: Vec<MatchedStatement>,
) -> InvokeDecision {
    let who = caller.arn();
    let mut message =
        format!("User: {who} is not authorized to perform: {INVOKE_ACTION} on resource: {arn}");
    if effect == EvalDecision::ExplicitDeny {
        message.push_str(" with an explicit deny");
    }
    InvokeDecision {
        effect,
        matched_statements,
        denial: Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_drop_the_leading_slash_of_the_resource_path() {
        let arn = |m, p| execute_api_arn("us-east-1", "123456789012", "a1b2c3", "prod", m, p);
        assert_eq!(
            arn("POST", "/locations"),
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/POST/locations"
        );
        assert_eq!(
            arn("GET", "/"),
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/"
        );
        assert_eq!(
            arn("GET", "/pets/a1b2"),
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/a1b2"
        );
    }
}
