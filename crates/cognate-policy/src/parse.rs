//! JSON → [`Policy`]: shape checks, validation and pre-compilation.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::condition::{ConditionEntry, ConditionOperator};
use crate::error::{MalformedKind, MalformedPolicy};
use crate::model::{
    ActionBlock, Effect, Policy, PolicyKind, PolicyVersion, PrincipalBlock, ResourceBlock,
    ResourcePattern, Statement,
};
use crate::principal::{PrincipalMap, PrincipalSpec, valid_aws_principal, valid_other_principal};
use crate::variables::Template;
use crate::wildcard::{GlobMode, Pattern};

const TOP_FIELDS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

type Result<T> = std::result::Result<T, MalformedPolicy>;

fn err(kind: MalformedKind, msg: impl Into<String>) -> MalformedPolicy {
    MalformedPolicy::new(kind, msg)
}

/// Size as IAM counts it: characters, not counting whitespace.
pub fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

pub(crate) fn parse_policy(doc: &str, kind: PolicyKind, max_size: usize) -> Result<Policy> {
    let size = policy_size(doc);
    if size > max_size {
        return Err(err(
            MalformedKind::TooLarge {
                size,
                limit: max_size,
            },
            format!(
                "Cannot exceed quota for PolicySize: {max_size} (document has {size} characters)"
            ),
        ));
    }
    let value: Value = serde_json::from_str(doc)
        .map_err(|e| MalformedPolicy::syntax(format!("Invalid JSON: {e}.")))?;
    let Value::Object(top) = value else {
        return Err(MalformedPolicy::syntax(
            "The policy document must be a JSON object.",
        ));
    };
    check_fields(&top, &TOP_FIELDS)?;

    let version = match top.get("Version") {
        None => None,
        Some(Value::String(v)) if v == "2012-10-17" => Some(PolicyVersion::V2012_10_17),
        Some(Value::String(v)) if v == "2008-10-17" => Some(PolicyVersion::V2008_10_17),
        Some(other) => {
            return Err(err(
                MalformedKind::InvalidVersion,
                format!(
                    "The policy failed legacy parsing: invalid Version {other} (expected \"2012-10-17\" or \"2008-10-17\")"
                ),
            )
            .in_field("Version"));
        }
    };
    let vars = version == Some(PolicyVersion::V2012_10_17);

    let id = match top.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(MalformedPolicy::syntax("Id must be a string.").in_field("Id"));
        }
    };

    let raw_statements: Vec<&Map<String, Value>> = match top.get("Statement") {
        None => {
            return Err(err(
                MalformedKind::MissingField,
                "Missing required field Statement",
            ));
        }
        Some(Value::Object(o)) => vec![o],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(o) => out.push(o),
                    _ => {
                        return Err(MalformedPolicy::syntax(
                            "Each statement must be a JSON object.",
                        )
                        .at_statement(i, None));
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(MalformedPolicy::syntax(
                "Statement must be an object or an array of objects.",
            )
            .in_field("Statement"));
        }
    };
    if raw_statements.is_empty() {
        return Err(err(
            MalformedKind::MissingField,
            "Policy must contain at least one statement.",
        )
        .in_field("Statement"));
    }

    let mut seen_sids = HashSet::new();
    let mut statements = Vec::with_capacity(raw_statements.len());
    for (i, raw) in raw_statements.into_iter().enumerate() {
        let sid = match raw.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(MalformedPolicy::syntax("Sid must be a string.")
                    .in_field("Sid")
                    .at_statement(i, None));
            }
        };
        let st = parse_statement(i, sid.clone(), raw, kind, vars)
            .map_err(|e| e.at_statement(i, sid.as_deref()))?;
        if let Some(s) = &sid
            && !s.is_empty()
            && !seen_sids.insert(s.clone())
        {
            return Err(err(
                MalformedKind::InvalidSid,
                "Statement IDs (SID) in a single policy must be unique.",
            )
            .in_field("Sid")
            .at_statement(i, Some(s)));
        }
        statements.push(st);
    }

    Ok(Policy {
        kind,
        version,
        id,
        statements,
    })
}

fn check_fields(obj: &Map<String, Value>, known: &[&str]) -> Result<()> {
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let hint = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key))
            .map(|k| format!(" (element names are case-sensitive; did you mean {k}?)"))
            .unwrap_or_default();
        return Err(err(
            MalformedKind::UnknownField,
            format!("Unknown field {key}{hint}"),
        ));
    }
    Ok(())
}

/// Picks at most one of a positive/negated element pair.
fn one_of<'a>(
    obj: &'a Map<String, Value>,
    positive: &'static str,
    negated: &'static str,
) -> Result<Option<(bool, &'a Value, &'static str)>> {
    let (p, n) = (obj.get(positive), obj.get(negated));
    match (p, n) {
        (Some(_), Some(_)) => Err(MalformedPolicy::syntax(format!(
            "A statement cannot contain both {positive} and {negated}."
        ))
        .in_field(negated)),
        (Some(v), None) => Ok(Some((false, v, positive))),
        (None, Some(v)) => Ok(Some((true, v, negated))),
        (None, None) => Ok(None),
    }
}

fn parse_statement(
    index: usize,
    sid: Option<String>,
    obj: &Map<String, Value>,
    kind: PolicyKind,
    vars: bool,
) -> Result<Statement> {
    check_fields(obj, &STATEMENT_FIELDS)?;

    if let Some(s) = &sid
        && kind.alphanumeric_sid()
        && !s.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(err(
            MalformedKind::InvalidSid,
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        )
        .in_field("Sid"));
    }

    let effect = match obj.get("Effect") {
        None => {
            return Err(err(
                MalformedKind::MissingField,
                "Missing required field Effect",
            ));
        }
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(err(
                MalformedKind::InvalidEffect,
                format!(
                    "Invalid effect: {} (must be \"Allow\" or \"Deny\")",
                    display_json(other)
                ),
            )
            .in_field("Effect"));
        }
    };

    // Principal / NotPrincipal.
    let principal = match one_of(obj, "Principal", "NotPrincipal")? {
        Some((negated, value, field)) => {
            if !kind.requires_principal() {
                return Err(err(
                    MalformedKind::ProhibitedField,
                    "Policy document should not specify a principal.",
                )
                .in_field(field));
            }
            let spec = parse_principal(value).map_err(|e| e.in_field(field))?;
            Some(PrincipalBlock { negated, spec })
        }
        None => {
            if kind.requires_principal() {
                return Err(err(
                    MalformedKind::MissingField,
                    "Missing required field Principal",
                ));
            }
            None
        }
    };

    // Action / NotAction.
    let action = match one_of(obj, "Action", "NotAction")? {
        Some((negated, value, field)) => {
            let raw = string_list(value, field)?;
            if raw.is_empty() {
                return Err(err(
                    MalformedKind::MissingField,
                    "Policy statement must contain actions.",
                )
                .in_field(field));
            }
            let mut patterns = Vec::with_capacity(raw.len());
            for a in &raw {
                validate_action(a).map_err(|e| e.in_field(field))?;
                patterns.push(Pattern::new(&a.to_lowercase(), GlobMode::Plain));
            }
            ActionBlock {
                negated,
                raw,
                patterns,
            }
        }
        None => {
            return Err(err(
                MalformedKind::MissingField,
                "Policy statement must contain actions. Missing required field Action",
            ));
        }
    };

    // Resource / NotResource.
    let resource = match one_of(obj, "Resource", "NotResource")? {
        Some((negated, value, field)) => {
            if !kind.requires_resource() {
                return Err(err(
                    MalformedKind::ProhibitedField,
                    format!("Has prohibited field {field}"),
                )
                .in_field(field));
            }
            let raw = string_list(value, field)?;
            if raw.is_empty() {
                return Err(err(
                    MalformedKind::MissingField,
                    "Policy statement must contain resources.",
                )
                .in_field(field));
            }
            let mut patterns = Vec::with_capacity(raw.len());
            for r in &raw {
                validate_resource(r).map_err(|e| e.in_field(field))?;
                let tpl = Template::parse(r, vars)
                    .map_err(|m| err(MalformedKind::InvalidVariable, m).in_field(field))?;
                patterns.push(if tpl.has_vars() {
                    ResourcePattern::Dynamic(tpl)
                } else {
                    ResourcePattern::Static(Pattern::from_tokens(
                        tpl.static_tokens(),
                        GlobMode::Resource,
                    ))
                });
            }
            Some(ResourceBlock {
                negated,
                raw,
                patterns,
            })
        }
        None => {
            if kind.requires_resource() {
                return Err(err(
                    MalformedKind::MissingField,
                    "Missing required field Resource",
                ));
            }
            None
        }
    };

    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(v) => parse_conditions(v, vars).map_err(|e| e.in_field("Condition"))?,
    };

    Ok(Statement {
        index,
        sid,
        effect,
        action,
        resource,
        principal,
        conditions,
    })
}

fn display_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A string or an array of strings.
fn string_list(v: &Value, field: &str) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(MalformedPolicy::syntax(format!(
                    "{field} entries must be strings, found {other}."
                ))
                .in_field(field)),
            })
            .collect(),
        other => Err(MalformedPolicy::syntax(format!(
            "{field} must be a string or an array of strings, found {other}."
        ))
        .in_field(field)),
    }
}

fn validate_action(a: &str) -> Result<()> {
    if a == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = a.split_once(':') else {
        return Err(err(
            MalformedKind::InvalidAction,
            format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (got \"{a}\")"
            ),
        ));
    };
    if vendor.is_empty()
        || !vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(err(
            MalformedKind::InvalidAction,
            format!("Vendor {vendor} is not valid (in action \"{a}\")"),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '-' | '_' | '.'))
    {
        return Err(err(
            MalformedKind::InvalidAction,
            format!("Invalid Action: \"{a}\" is not of the form service:action"),
        ));
    }
    Ok(())
}

fn validate_resource(r: &str) -> Result<()> {
    if r == "*" {
        return Ok(());
    }
    let parts: Vec<&str> = r.splitn(4, ':').collect();
    let (Some(&"arn"), Some(partition), Some(service)) =
        (parts.first(), parts.get(1), parts.get(2))
    else {
        return Err(err(
            MalformedKind::InvalidResource,
            format!("Resource {r} must be in ARN format or \"*\"."),
        ));
    };
    if partition.is_empty() || service.is_empty() {
        return Err(err(
            MalformedKind::InvalidResource,
            format!("Resource {r} must be in ARN format or \"*\"."),
        ));
    }
    if service.contains(['*', '?']) {
        return Err(err(
            MalformedKind::InvalidResource,
            format!(
                "Resource vendor must be fully qualified and cannot contain regexes (in \"{r}\")."
            ),
        ));
    }
    Ok(())
}

fn invalid_principal(detail: String) -> MalformedPolicy {
    err(
        MalformedKind::InvalidPrincipal,
        format!("Invalid principal in policy: {detail}"),
    )
}

fn parse_principal(v: &Value) -> Result<PrincipalSpec> {
    let map = match v {
        Value::String(s) if s == "*" => return Ok(PrincipalSpec::Wildcard),
        Value::Object(m) if !m.is_empty() => m,
        other => return Err(invalid_principal(other.to_string())),
    };
    let mut out = PrincipalMap::default();
    for (ty, list) in map {
        let entries = match list {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) if !items.is_empty() => {
                let mut v = Vec::with_capacity(items.len());
                for i in items {
                    match i {
                        Value::String(s) => v.push(s.clone()),
                        other => return Err(invalid_principal(format!("\"{ty}\":{other}"))),
                    }
                }
                v
            }
            other => return Err(invalid_principal(format!("\"{ty}\":{other}"))),
        };
        let (target, validator): (&mut Vec<String>, fn(&str) -> bool) = match ty.as_str() {
            "AWS" => (&mut out.aws, valid_aws_principal),
            "Federated" => (&mut out.federated, valid_other_principal),
            "Service" => (&mut out.service, valid_other_principal),
            "CanonicalUser" => (&mut out.canonical_user, valid_other_principal),
            _ => {
                return Err(invalid_principal(format!(
                    "\"{ty}\" is not a principal type"
                )));
            }
        };
        for e in entries {
            if !validator(&e) {
                return Err(invalid_principal(format!("\"{ty}\":\"{e}\"")));
            }
            target.push(e);
        }
    }
    Ok(PrincipalSpec::Map(out))
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_conditions(v: &Value, vars: bool) -> Result<Vec<ConditionEntry>> {
    let Value::Object(ops) = v else {
        return Err(MalformedPolicy::syntax(
            "Condition must be an object mapping operators to {key: value} objects.",
        ));
    };
    let mut entries = Vec::new();
    for (op_name, body) in ops {
        let op = ConditionOperator::parse(op_name)
            .map_err(|m| err(MalformedKind::InvalidCondition, m))?;
        let Value::Object(keys) = body else {
            return Err(MalformedPolicy::syntax(format!(
                "Condition operator {op_name} must map to an object of condition keys."
            )));
        };
        for (key, raw) in keys {
            let has_vendor = key
                .split_once(':')
                .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
            if !has_vendor {
                return Err(err(
                    MalformedKind::InvalidCondition,
                    format!(
                        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (condition key \"{key}\")"
                    ),
                ));
            }
            let values = match raw {
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        scalar_to_string(i).ok_or_else(|| {
                            MalformedPolicy::syntax(format!(
                                "Condition values for {op_name} {key} must be strings, numbers or booleans, found {i}."
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
                scalar => vec![scalar_to_string(scalar).ok_or_else(|| {
                    MalformedPolicy::syntax(format!(
                        "Condition value for {op_name} {key} must be a string, number, boolean or array, found {scalar}."
                    ))
                })?],
            };
            let entry = ConditionEntry::new(op, key, values, vars).map_err(|m| {
                let kind = if m.starts_with("Invalid policy variable") {
                    MalformedKind::InvalidVariable
                } else {
                    MalformedKind::InvalidCondition
                };
                err(kind, m)
            })?;
            entries.push(entry);
        }
    }
    Ok(entries)
}
