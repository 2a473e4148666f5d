//! Identities and the authentication flows.

use serde_json::Value;

use super::{JsonResult, not_implemented};
use crate::app::AppState;
use crate::auth::Principal;
use crate::operation::Operation;

pub async fn dispatch(
    _state: &AppState,
    operation: Operation,
    _principal: &Principal,
    _input: Value,
) -> JsonResult {
    Err(not_implemented(operation))
}
