//! STS: GetCallerIdentity and AssumeRoleWithWebIdentity.

use crate::app::AppState;
use crate::auth::Principal;
use crate::cognito::not_implemented;
use crate::operation::Operation;
use crate::query::Params;
use crate::wire_error::ApiError;
use crate::xml::XmlWriter;

pub async fn dispatch(
    state: &AppState,
    operation: Operation,
    principal: &Principal,
    _params: &Params,
) -> Result<XmlWriter, ApiError> {
    match operation {
        Operation::GetCallerIdentity => Ok(caller_identity(state, principal)),
        _ => Err(not_implemented(operation)),
    }
}

fn caller_identity(state: &AppState, principal: &Principal) -> XmlWriter {
    let account = &state.cognate.config().account;
    let (arn, user_id, account) = match principal {
        Principal::Admin { .. } | Principal::Anonymous { .. } => (
            format!("arn:aws:iam::{account}:root"),
            account.clone(),
            account.clone(),
        ),
        Principal::Session { session, .. } => (
            session.assumed_role_arn(),
            session.user_id(),
            session.account.clone(),
        ),
    };
    let mut w = XmlWriter::new();
    w.leaf("UserId", &user_id)
        .leaf("Account", &account)
        .leaf("Arn", &arn);
    w
}
