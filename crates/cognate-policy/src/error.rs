//! The error returned when a policy document is rejected.

use std::fmt;

/// What class of problem made a policy document invalid.
///
/// Callers mapping to the IAM wire protocol should translate
/// [`MalformedKind::TooLarge`] into `LimitExceeded` and everything else into
/// `MalformedPolicyDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedKind {
    /// Not JSON, or JSON of the wrong shape (e.g. `Statement` is a number).
    Syntax,
    /// The document exceeds the size limit passed to the parser.
    TooLarge {
        /// Size of the document, in non-whitespace characters.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// An element name that IAM does not know.
    UnknownField,
    /// A required element is absent.
    MissingField,
    /// An element that this kind of policy may not contain.
    ProhibitedField,
    /// `Version` is not a supported policy language version.
    InvalidVersion,
    /// `Effect` is not `Allow` or `Deny`.
    InvalidEffect,
    /// An `Action`/`NotAction` entry is not `*` or `service:action`.
    InvalidAction,
    /// A `Resource`/`NotResource` entry is not `*` or an ARN.
    InvalidResource,
    /// A `Principal`/`NotPrincipal` entry is malformed.
    InvalidPrincipal,
    /// An unknown condition operator, a bad condition key or value.
    InvalidCondition,
    /// A `Sid` is not acceptable (type, characters or duplicate).
    InvalidSid,
    /// A malformed `${...}` policy variable.
    InvalidVariable,
}

/// A policy document was rejected.
///
/// [`MalformedPolicy::message`] is the short IAM-style text (for example
/// `"Missing required field Resource"`); the `Display` implementation appends
/// where the problem is (statement index, `Sid`, element).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MalformedPolicy {
    kind: MalformedKind,
    message: String,
    statement: Option<usize>,
    sid: Option<String>,
    field: Option<String>,
}

impl MalformedPolicy {
    pub(crate) fn new(kind: MalformedKind, message: impl Into<String>) -> Self {
        MalformedPolicy {
            kind,
            message: message.into(),
            statement: None,
            sid: None,
            field: None,
        }
    }

    pub(crate) fn syntax(detail: impl fmt::Display) -> Self {
        Self::new(
            MalformedKind::Syntax,
            format!("Syntax errors in policy. {detail}"),
        )
    }

    pub(crate) fn at_statement(mut self, index: usize, sid: Option<&str>) -> Self {
        if self.statement.is_none() {
            self.statement = Some(index);
            self.sid = sid.map(str::to_owned);
        }
        self
    }

    pub(crate) fn in_field(mut self, field: &str) -> Self {
        if self.field.is_none() {
            self.field = Some(field.to_owned());
        }
        self
    }

    /// The class of problem.
    pub fn kind(&self) -> &MalformedKind {
        &self.kind
    }

    /// The IAM-style message without location information.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Zero-based index of the offending statement, when the problem is inside one.
    pub fn statement_index(&self) -> Option<usize> {
        self.statement
    }

    /// `Sid` of the offending statement, if it has one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The policy element (e.g. `Resource`, `Condition`) the problem is in.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for MalformedPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut parts: Vec<String> = Vec::new();
        if let Some(i) = self.statement {
            match &self.sid {
                Some(sid) if !sid.is_empty() => {
                    parts.push(format!("Statement[{i}] (Sid \"{sid}\")"))
                }
                _ => parts.push(format!("Statement[{i}]")),
            }
        }
        if let Some(field) = &self.field {
            parts.push(format!("element {field}"));
        }
        if !parts.is_empty() {
            write!(f, " [at {}]", parts.join(", "))?;
        }
        Ok(())
    }
}
