//! IAM: roles with trust, inline and attached managed policies, customer
//! managed policies, the policy simulator, and identity providers. Each
//! operation is one input type with its handler (`QueryOperation`); this
//! module holds the members several of them read.

pub mod policies;
pub mod providers;
pub mod roles;
pub mod simulate;

use std::collections::BTreeMap;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::operation::Service;
use crate::query::{Params, domain};
use crate::validate::{self as v, Checker};
use crate::wire_error::ApiError;
use crate::xml::XmlWriter;

fn err(e: cognate_core::Error) -> ApiError {
    domain(Service::Iam)(e)
}

/// IAM returns policy documents URL-encoded (botocore decodes them).
fn encode_policy(doc: &str) -> String {
    utf8_percent_encode(doc, NON_ALPHANUMERIC).to_string()
}

fn required(c: &mut Checker, params: &Params, name: &str, member: &str) -> String {
    let value = params.get(name).map(str::to_string);
    c.required(member, &value).cloned().unwrap_or_default()
}

fn role_name(c: &mut Checker, params: &Params) -> String {
    let name = required(c, params, "RoleName", "roleName");
    c.string("roleName", &name, 1, 64, Some(&v::IAM_NAME));
    name
}

fn policy_name(c: &mut Checker, params: &Params) -> String {
    let name = required(c, params, "PolicyName", "policyName");
    c.string("policyName", &name, 1, 128, Some(&v::IAM_NAME));
    name
}

/// A policy document member: required, 1 to 131072 characters of the
/// model's pattern.
fn policy_document(c: &mut Checker, params: &Params, name: &str, member: &str) -> String {
    let doc = required(c, params, name, member);
    c.string(member, &doc, 1, 131072, Some(&v::POLICY_DOCUMENT));
    doc
}

fn role_description(c: &mut Checker, params: &Params) -> Option<String> {
    let description = params.get("Description").map(str::to_string);
    c.opt_string(
        "description",
        &description,
        0,
        1000,
        Some(&v::ROLE_DESCRIPTION),
    );
    description
}

/// `Marker`, as the list calls and the simulators take it.
fn marker(c: &mut Checker, params: &Params) -> Option<String> {
    let marker = params.get("Marker").map(str::to_string);
    c.opt_string("marker", &marker, 1, 320, Some(&v::MARKER));
    marker
}

/// A managed policy path (`Path`, `PathPrefix`).
fn policy_path(c: &mut Checker, params: &Params, name: &str, member: &str) -> Option<String> {
    let path = params.get(name).map(str::to_string);
    c.opt_string(member, &path, 1, 512, Some(&v::POLICY_PATH));
    path
}

/// `Tags.member.N.Key` and `.Value`: at most 50, each key and value as
/// IAM's model says, and no key twice (IAM compares keys without case).
fn tags(c: &mut Checker, params: &Params) -> Result<BTreeMap<String, String>, ApiError> {
    let entries = params.structs("Tags");
    c.count(
        "tags",
        &format!("[{} tags]", entries.len()),
        entries.len(),
        0,
        50,
    );
    let mut tags = BTreeMap::new();
    let mut keys = std::collections::HashSet::new();
    let mut duplicate = false;
    for entry in &entries {
        let key = entry.get("Key").map(str::to_string);
        let value = entry.get("Value").map(str::to_string);
        if let Some(k) = c.required("tags.member.key", &key) {
            c.string("tags.member.key", k, 1, 128, Some(&v::IAM_TAG_KEY));
        }
        if let Some(val) = c.required("tags.member.value", &value) {
            c.string("tags.member.value", val, 0, 256, Some(&v::TAG));
        }
        if let (Some(k), Some(val)) = (key, value) {
            duplicate |= !keys.insert(k.to_lowercase());
            tags.insert(k, val);
        }
    }
    if duplicate {
        return Err(err(cognate_core::Error::InvalidInput(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
        )));
    }
    Ok(tags)
}

fn max_items(c: &mut Checker, params: &Params) -> usize {
    match params.get("MaxItems") {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) => {
                c.range("maxItems", n, 1, 1000);
                usize::try_from(n).unwrap_or(100)
            }
            Err(_) => {
                c.range("maxItems", 0, 1, 1000);
                100
            }
        },
    }
}

fn policy_arn_param(c: &mut Checker, params: &Params) -> String {
    let arn = required(c, params, "PolicyArn", "policyArn");
    c.arn("policyArn", &arn);
    arn
}

fn optional_bool(c: &mut Checker, params: &Params, name: &str, member: &str) -> bool {
    match params.get(name) {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("true") => true,
        Some(s) if s.eq_ignore_ascii_case("false") => false,
        Some(s) => {
            c.one_of(member, s, &["true", "false"]);
            false
        }
    }
}

fn max_session_duration(c: &mut Checker, params: &Params) -> Option<i64> {
    match params.get("MaxSessionDuration") {
        Some(s) => match s.parse::<i64>() {
            Ok(n) => {
                c.range("maxSessionDuration", n, 3600, 43200);
                Some(n)
            }
            Err(_) => {
                c.range("maxSessionDuration", 0, 3600, 43200);
                None
            }
        },
        None => None,
    }
}

fn write_tags(w: &mut XmlWriter, tags: &BTreeMap<String, String>) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for (k, val) in tags {
        w.open("member")
            .leaf("Key", k)
            .leaf("Value", val)
            .close("member");
    }
    w.close("Tags");
}
