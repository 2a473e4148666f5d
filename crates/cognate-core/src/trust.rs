//! Policy documents as the domain needs them: validation on write and the
//! trust decision for web-identity federation. Delegates to the
//! `cognate-policy` engine once it is wired in.

use serde_json::Value;

use crate::error::{Error, Result};

fn parse_document(doc: &str) -> Result<Value> {
    let value: Value = serde_json::from_str(doc)
        .map_err(|_| Error::MalformedPolicyDocument("Syntax errors in policy.".into()))?;
    let statements = value
        .get("Statement")
        .ok_or_else(|| Error::MalformedPolicyDocument("Missing required field Statement".into()))?;
    if !(statements.is_object() || statements.is_array()) {
        return Err(Error::MalformedPolicyDocument(
            "Syntax errors in policy.".into(),
        ));
    }
    Ok(value)
}

pub fn check_trust_policy_document(doc: &str) -> Result<()> {
    parse_document(doc).map(|_| ())
}

pub fn check_identity_policy_document(doc: &str) -> Result<()> {
    parse_document(doc).map(|_| ())
}
