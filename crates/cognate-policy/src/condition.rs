//! The `Condition` element: operators, typed values and their evaluation.
//!
//! Semantics (per the IAM documentation, with the choices noted where it is
//! silent):
//!
//! * Entries (operator × key) are ANDed; the values listed for one key are ORed.
//! * **Missing key** (absent, or present with no values): plain positive
//!   operators are false; negated operators (`StringNotEquals`, `NotIpAddress`,
//!   `ArnNotLike`, …) are true; `...IfExists` is true; `ForAllValues:` is true;
//!   `ForAnyValue:` is false (unless `IfExists`); `Null` tests exactly this.
//! * **Present key**, for each request value `v`: a positive operator holds if
//!   `v` matches *any* policy value; a negated operator holds if `v` matches
//!   *none* of them. `ForAnyValue:` needs one request value to hold,
//!   `ForAllValues:` needs all of them to. Without a qualifier a positive
//!   operator needs one request value to hold and a negated operator needs all
//!   of them to (i.e. the negation of the positive operator).
//! * A comparison that cannot be made — a policy variable that cannot be
//!   resolved, or a request value that is not a number/date/IP address — is
//!   neither a match nor a non-match: it never makes a positive operator hold
//!   *and* it makes a negated operator fail (the statement is treated as not
//!   applicable, as IAM does for unresolvable variables).
//! * Policy variables are substituted only in the String, Bool and ARN
//!   families (as in IAM); in Numeric/Date/IP/Binary values `${` is literal.

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::context::ContextKeys;
use crate::variables::{MissingSink, Template};
use crate::wildcard::{ArnPattern, GlobMode, Pattern};

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// At least one request value must satisfy the operator.
    ForAnyValue,
    /// Every request value must satisfy the operator (vacuously true when none).
    ForAllValues,
}

/// The operator without qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const ALL_BASE: [BaseOperator; 27] = {
    use BaseOperator::*;
    [
        StringEquals,
        StringNotEquals,
        StringEqualsIgnoreCase,
        StringNotEqualsIgnoreCase,
        StringLike,
        StringNotLike,
        NumericEquals,
        NumericNotEquals,
        NumericLessThan,
        NumericLessThanEquals,
        NumericGreaterThan,
        NumericGreaterThanEquals,
        DateEquals,
        DateNotEquals,
        DateLessThan,
        DateLessThanEquals,
        DateGreaterThan,
        DateGreaterThanEquals,
        Bool,
        BinaryEquals,
        IpAddress,
        NotIpAddress,
        ArnEquals,
        ArnLike,
        ArnNotEquals,
        ArnNotLike,
        Null,
    ]
};

impl BaseOperator {
    /// The IAM spelling, e.g. `"StringLike"`.
    pub fn name(self) -> &'static str {
        use BaseOperator::*;
        match self {
            StringEquals => "StringEquals",
            StringNotEquals => "StringNotEquals",
            StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            StringLike => "StringLike",
            StringNotLike => "StringNotLike",
            NumericEquals => "NumericEquals",
            NumericNotEquals => "NumericNotEquals",
            NumericLessThan => "NumericLessThan",
            NumericLessThanEquals => "NumericLessThanEquals",
            NumericGreaterThan => "NumericGreaterThan",
            NumericGreaterThanEquals => "NumericGreaterThanEquals",
            DateEquals => "DateEquals",
            DateNotEquals => "DateNotEquals",
            DateLessThan => "DateLessThan",
            DateLessThanEquals => "DateLessThanEquals",
            DateGreaterThan => "DateGreaterThan",
            DateGreaterThanEquals => "DateGreaterThanEquals",
            Bool => "Bool",
            BinaryEquals => "BinaryEquals",
            IpAddress => "IpAddress",
            NotIpAddress => "NotIpAddress",
            ArnEquals => "ArnEquals",
            ArnLike => "ArnLike",
            ArnNotEquals => "ArnNotEquals",
            ArnNotLike => "ArnNotLike",
            Null => "Null",
        }
    }

    /// True for the negated operators (`StringNotEquals`, `NotIpAddress`, …).
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    fn from_name_ci(name: &str) -> Option<BaseOperator> {
        ALL_BASE
            .iter()
            .copied()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }
}

/// A full condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    /// `ForAnyValue:` / `ForAllValues:` prefix, if any.
    pub qualifier: Option<SetQualifier>,
    /// The comparison.
    pub base: BaseOperator,
    /// `...IfExists` suffix.
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Parses an operator name (case-insensitively). `Null` accepts neither a
    /// qualifier nor `IfExists` (IAM rejects `NullIfExists`).
    pub fn parse(name: &str) -> Result<ConditionOperator, String> {
        let invalid = || format!("Invalid Condition type : {name}");
        let (qualifier, rest) = if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, name)
        };
        let (if_exists, base_name) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let base = BaseOperator::from_name_ci(base_name).ok_or_else(invalid)?;
        if base == BaseOperator::Null && (if_exists || qualifier.is_some()) {
            return Err(format!(
                "Invalid Condition type : {name} (Null cannot take IfExists or a set qualifier)"
            ));
        }
        Ok(ConditionOperator {
            qualifier,
            base,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    if tail.eq_ignore_ascii_case(suffix) {
        s.get(..cut)
    } else {
        None
    }
}

/// A point in time, as `(seconds since the epoch, nanoseconds)`.
type Instant = (i64, u32);

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cidr {
    V4 { net: u32, prefix: u8 },
    V6 { net: u128, prefix: u8 },
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let prefix = prefix.unwrap_or(32);
                (prefix <= 32).then(|| Cidr::V4 {
                    net: u32::from(a) & mask32(prefix),
                    prefix,
                })
            }
            IpAddr::V6(a) => {
                let prefix = prefix.unwrap_or(128);
                (prefix <= 128).then(|| Cidr::V6 {
                    net: u128::from(a) & mask128(prefix),
                    prefix,
                })
            }
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 request address (::ffff:a.b.c.d) is compared as
        // IPv4 against IPv4 blocks.
        let ip = match (self, ip) {
            (Cidr::V4 { .. }, IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            _ => ip,
        };
        match (self, ip) {
            (Cidr::V4 { net, prefix }, IpAddr::V4(a)) => u32::from(a) & mask32(*prefix) == *net,
            (Cidr::V6 { net, prefix }, IpAddr::V6(a)) => u128::from(a) & mask128(*prefix) == *net,
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

/// Parses an IAM numeric value: optional sign, digits, optional fraction.
fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if (int.is_empty() && frac.is_none()) || !int_ok || !frac_ok {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Parses an ISO 8601 date/time (UTC assumed when no offset is given; a bare
/// date means midnight) or a UNIX epoch value in seconds.
pub(crate) fn parse_date(s: &str) -> Option<Instant> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(n) = parse_epoch(t) {
        return Some(n);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some((dt.timestamp(), dt.timestamp_subsec_nanos()));
    }
    let naive_src = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix('z'))
        .unwrap_or(t);
    const FORMATS: [&str; 5] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y%m%dT%H%M%S%.f",
        "%Y%m%dT%H%M",
    ];
    for fmt in FORMATS {
        if let Ok(n) = NaiveDateTime::parse_from_str(naive_src, fmt) {
            let u = n.and_utc();
            return Some((u.timestamp(), u.timestamp_subsec_nanos()));
        }
    }
    for fmt in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(naive_src, fmt) {
            let u = d.and_hms_opt(0, 0, 0)?.and_utc();
            return Some((u.timestamp(), 0));
        }
    }
    None
}

fn parse_epoch(t: &str) -> Option<Instant> {
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    // Eight-digit values are ambiguous with basic-format dates (20240101);
    // treat them as dates unless they have a fraction or sign.
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (int.len() == 8 && !neg && frac.is_empty())
    {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut nanos: u32 = 0;
    let mut scale = 100_000_000u32;
    for b in frac.bytes().take(9) {
        nanos = nanos.saturating_add(u32::from(b - b'0').saturating_mul(scale));
        scale /= 10;
    }
    if neg {
        if nanos == 0 {
            Some((secs.checked_neg()?, 0))
        } else {
            Some((secs.checked_neg()?.checked_sub(1)?, 1_000_000_000 - nanos))
        }
    } else {
        Some((secs, nanos))
    }
}

/// A typed, pre-compiled policy value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// Exact string comparison (`StringEquals`, `BinaryEquals`, ...).
    Exact(Template),
    /// Case-insensitive (`StringEqualsIgnoreCase`, `Bool`): pre-lowercased when static.
    IgnoreCase {
        tpl: Template,
        lowered: Option<String>,
    },
    /// `StringLike`: pre-compiled when static.
    Like {
        tpl: Template,
        compiled: Option<Pattern>,
    },
    /// `ArnLike`/`ArnEquals`.
    Arn {
        tpl: Template,
        compiled: Option<ArnPattern>,
    },
    Number(f64),
    Date(Instant),
    Ip(Cidr),
    Null(bool),
}

/// One `operator: { key: values }` entry of a `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEntry {
    operator: ConditionOperator,
    key: String,
    key_lc: String,
    raw_values: Vec<String>,
    values: Vec<Value>,
}

impl ConditionEntry {
    /// Builds and validates an entry. `raw_values` are the JSON values already
    /// turned into strings; `vars` says whether policy variables are enabled.
    pub(crate) fn new(
        operator: ConditionOperator,
        key: &str,
        raw_values: Vec<String>,
        vars: bool,
    ) -> Result<ConditionEntry, String> {
        use BaseOperator::*;
        let mut values = Vec::with_capacity(raw_values.len());
        for raw in &raw_values {
            let bad = |what: &str| {
                format!(
                    "Invalid {what} value \"{raw}\" for condition key {key} in operator {operator}"
                )
            };
            let v = match operator.base {
                StringEquals | StringNotEquals => Value::Exact(Template::parse(raw, vars)?),
                BinaryEquals => Value::Exact(Template::parse(raw, false)?),
                StringEqualsIgnoreCase | StringNotEqualsIgnoreCase | Bool => {
                    let tpl = Template::parse(raw, vars)?;
                    let lowered = (!tpl.has_vars()).then(|| tpl.static_string().to_lowercase());
                    Value::IgnoreCase { tpl, lowered }
                }
                StringLike | StringNotLike => {
                    let tpl = Template::parse(raw, vars)?;
                    let compiled = (!tpl.has_vars())
                        .then(|| Pattern::from_tokens(tpl.static_tokens(), GlobMode::Plain));
                    Value::Like { tpl, compiled }
                }
                ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => {
                    let tpl = Template::parse(raw, vars)?;
                    let compiled =
                        (!tpl.has_vars()).then(|| ArnPattern::from_tokens(tpl.static_tokens()));
                    Value::Arn { tpl, compiled }
                }
                NumericEquals
                | NumericNotEquals
                | NumericLessThan
                | NumericLessThanEquals
                | NumericGreaterThan
                | NumericGreaterThanEquals => {
                    Value::Number(parse_number(raw).ok_or_else(|| bad("numeric"))?)
                }
                DateEquals
                | DateNotEquals
                | DateLessThan
                | DateLessThanEquals
                | DateGreaterThan
                | DateGreaterThanEquals => Value::Date(parse_date(raw).ok_or_else(|| bad("date"))?),
                IpAddress | NotIpAddress => {
                    Value::Ip(Cidr::parse(raw).ok_or_else(|| bad("IP address"))?)
                }
                Null => {
                    if raw.eq_ignore_ascii_case("true") {
                        Value::Null(true)
                    } else if raw.eq_ignore_ascii_case("false") {
                        Value::Null(false)
                    } else {
                        return Err(bad("Null (expected true or false)"));
                    }
                }
            };
            values.push(v);
        }
        Ok(ConditionEntry {
            operator,
            key: key.to_owned(),
            key_lc: key.to_lowercase(),
            raw_values,
            values,
        })
    }

    /// The operator.
    pub fn operator(&self) -> ConditionOperator {
        self.operator
    }

    /// The condition key as written in the policy.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The values as written in the policy (numbers and booleans stringified).
    pub fn values(&self) -> &[String] {
        &self.raw_values
    }

    /// Context keys this entry reads (its own key plus keys used in
    /// variables), as written in the policy.
    pub fn referenced_keys(&self) -> impl Iterator<Item = &str> {
        let var_keys = self.values.iter().flat_map(|v| {
            let tpl = match v {
                Value::Exact(t)
                | Value::IgnoreCase { tpl: t, .. }
                | Value::Like { tpl: t, .. }
                | Value::Arn { tpl: t, .. } => Some(t),
                _ => None,
            };
            tpl.into_iter().flat_map(Template::var_keys)
        });
        std::iter::once(self.key.as_str()).chain(var_keys)
    }

    /// Evaluates this entry. Keys found missing are reported to `sink`.
    pub(crate) fn evaluate(&self, keys: &ContextKeys, sink: &mut dyn MissingSink) -> bool {
        let op = self.operator;
        let present = keys.get_lc(&self.key_lc);
        if op.base == BaseOperator::Null {
            let is_null = present.is_none();
            return self
                .values
                .iter()
                .any(|v| matches!(v, Value::Null(want) if *want == is_null));
        }
        let Some(request_values) = present else {
            sink.missing(&self.key_lc);
            return op.if_exists
                || match op.qualifier {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => op.base.is_negated(),
                };
        };
        let negated = op.base.is_negated();
        let mut per_value = request_values
            .iter()
            .map(|rv| self.single_value_holds(rv, negated, keys, &mut *sink));
        match op.qualifier {
            Some(SetQualifier::ForAnyValue) => per_value.any(|b| b),
            Some(SetQualifier::ForAllValues) => per_value.all(|b| b),
            None if negated => per_value.all(|b| b),
            None => per_value.any(|b| b),
        }
    }

    /// Does the operator hold for one request value?
    fn single_value_holds(
        &self,
        request_value: &str,
        negated: bool,
        keys: &ContextKeys,
        sink: &mut dyn MissingSink,
    ) -> bool {
        let mut results = self
            .values
            .iter()
            .map(|v| self.compare(v, request_value, keys, &mut *sink));
        if negated {
            results.all(|r| r == Some(false))
        } else {
            results.any(|r| r == Some(true))
        }
    }

    /// The positive comparison of one policy value against one request value;
    /// `None` when it cannot be made.
    fn compare(
        &self,
        value: &Value,
        rv: &str,
        keys: &ContextKeys,
        sink: &mut dyn MissingSink,
    ) -> Option<bool> {
        use BaseOperator::*;
        match value {
            Value::Exact(tpl) => Some(tpl.resolve_string(keys, sink)? == rv),
            Value::IgnoreCase { tpl, lowered } => {
                let rv_lc = rv.to_lowercase();
                match lowered {
                    Some(l) => Some(*l == rv_lc),
                    None => Some(tpl.resolve_string(keys, sink)?.to_lowercase() == rv_lc),
                }
            }
            Value::Like { tpl, compiled } => match compiled {
                Some(p) => Some(p.matches(rv)),
                None => Some(
                    Pattern::from_tokens(tpl.resolve_tokens(keys, sink)?, GlobMode::Plain)
                        .matches(rv),
                ),
            },
            Value::Arn { tpl, compiled } => match compiled {
                Some(p) => Some(p.matches(rv)),
                None => Some(ArnPattern::from_tokens(tpl.resolve_tokens(keys, sink)?).matches(rv)),
            },
            Value::Number(p) => {
                let r = parse_number(rv)?;
                let ord = r.partial_cmp(p)?;
                Some(match self.operator.base {
                    NumericEquals | NumericNotEquals => ord == Ordering::Equal,
                    NumericLessThan => ord == Ordering::Less,
                    NumericLessThanEquals => ord != Ordering::Greater,
                    NumericGreaterThan => ord == Ordering::Greater,
                    NumericGreaterThanEquals => ord != Ordering::Less,
                    _ => false,
                })
            }
            Value::Date(p) => {
                let ord = parse_date(rv)?.cmp(p);
                Some(match self.operator.base {
                    DateEquals | DateNotEquals => ord == Ordering::Equal,
                    DateLessThan => ord == Ordering::Less,
                    DateLessThanEquals => ord != Ordering::Greater,
                    DateGreaterThan => ord == Ordering::Greater,
                    DateGreaterThanEquals => ord != Ordering::Less,
                    _ => false,
                })
            }
            Value::Ip(cidr) => Some(cidr.contains(rv.trim().parse::<IpAddr>().ok()?)),
            Value::Null(_) => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn entry(op: &str, key: &str, vals: &[&str]) -> ConditionEntry {
        ConditionEntry::new(
            ConditionOperator::parse(op).unwrap(),
            key,
            vals.iter().map(|s| s.to_string()).collect(),
            true,
        )
        .unwrap()
    }

    fn eval(e: &ConditionEntry, kv: &[(&str, &str)]) -> bool {
        let mut k = ContextKeys::new();
        for (a, b) in kv {
            k.insert(a, *b);
        }
        e.evaluate(&k, &mut ())
    }

    #[test]
    fn operator_parsing() {
        let op = ConditionOperator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.qualifier, Some(SetQualifier::ForAnyValue));
        assert_eq!(op.base, BaseOperator::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.to_string(), "ForAnyValue:StringLikeIfExists");
        assert!(ConditionOperator::parse("stringequals").is_ok());
        assert!(ConditionOperator::parse("StringEqualz").is_err());
        assert!(ConditionOperator::parse("NullIfExists").is_err());
        assert!(ConditionOperator::parse("ForSomeValues:StringLike").is_err());
        assert!(ConditionOperator::parse("IfExists").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("1e3"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("."), None);
        assert_eq!(parse_number(""), None);
        let e = entry("NumericLessThanEquals", "s3:max-keys", &["10"]);
        assert!(eval(&e, &[("s3:max-keys", "10")]));
        assert!(!eval(&e, &[("s3:max-keys", "11")]));
        assert!(!eval(&e, &[("s3:max-keys", "ten")]));
        let ne = entry("NumericNotEquals", "s3:max-keys", &["10"]);
        assert!(!eval(&ne, &[("s3:max-keys", "ten")]));
        assert!(eval(&ne, &[]));
    }

    #[test]
    fn dates() {
        let a = parse_date("2019-07-16T12:00:00Z").unwrap();
        assert_eq!(a, (1_563_278_400, 0));
        assert_eq!(parse_date("1563278400"), Some(a));
        assert_eq!(parse_date("2019-07-16T14:00:00+02:00"), Some(a));
        assert_eq!(parse_date("2019-07-16T12:00:00"), Some(a));
        assert_eq!(parse_date("2019-07-16T12:00Z"), Some(a));
        assert_eq!(parse_date("20190716T120000Z"), Some(a));
        assert_eq!(parse_date("2019-07-16"), Some((1_563_235_200, 0)));
        assert_eq!(
            parse_date("2019-07-16T12:00:00.5Z"),
            Some((1_563_278_400, 500_000_000))
        );
        assert_eq!(parse_date("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2019-13-01"), None);
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.77".parse().unwrap()));
        assert!(!c.contains("203.0.114.1".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.5".parse().unwrap()));
        let c6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c6.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!c6.contains("2001:db8:1234:5679::1".parse().unwrap()));
        assert!(!c6.contains("203.0.113.5".parse().unwrap()));
        let mapped = Cidr::parse("::ffff:0:0/96").unwrap();
        assert!(mapped.contains("::ffff:1.2.3.4".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("10.0.0.1")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0/").is_none());
        assert!(Cidr::parse("::/129").is_none());
        assert!(Cidr::parse("not-ip").is_none());
    }

    #[test]
    fn negated_and_missing() {
        let e = entry("StringNotEquals", "aws:username", &["bob", "carol"]);
        assert!(eval(&e, &[]));
        assert!(eval(&e, &[("aws:username", "alice")]));
        assert!(!eval(&e, &[("aws:username", "carol")]));
        let e = entry("StringEquals", "aws:username", &["bob"]);
        assert!(!eval(&e, &[]));
        let e = entry("StringEqualsIfExists", "aws:username", &["bob"]);
        assert!(eval(&e, &[]));
        assert!(!eval(&e, &[("aws:username", "alice")]));
    }

    #[test]
    fn unresolvable_variable_never_matches() {
        let e = entry(
            "StringEquals",
            "aws:username",
            &["${aws:PrincipalTag/name}"],
        );
        assert!(!eval(&e, &[("aws:username", "bob")]));
        assert!(eval(
            &e,
            &[("aws:username", "bob"), ("aws:PrincipalTag/name", "bob")]
        ));
        let ne = entry(
            "StringNotEquals",
            "aws:username",
            &["${aws:PrincipalTag/name}"],
        );
        assert!(!eval(&ne, &[("aws:username", "bob")]));
        assert!(eval(
            &ne,
            &[("aws:username", "bob"), ("aws:PrincipalTag/name", "al")]
        ));
    }

    #[test]
    fn bool_and_binary() {
        let e = entry("Bool", "aws:SecureTransport", &["true"]);
        assert!(eval(&e, &[("aws:SecureTransport", "TRUE")]));
        assert!(!eval(&e, &[("aws:SecureTransport", "false")]));
        let b = entry("BinaryEquals", "k:bin", &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="]);
        assert!(eval(&b, &[("k:bin", "QmluYXJ5VmFsdWVJbkJhc2U2NA==")]));
        assert!(!eval(&b, &[("k:bin", "qmluYXJ5VmFsdWVJbkJhc2U2NA==")]));
    }

    #[test]
    fn bad_values_rejected() {
        let op = |s| ConditionOperator::parse(s).unwrap();
        assert!(ConditionEntry::new(op("NumericEquals"), "k:k", vec!["x".into()], true).is_err());
        assert!(ConditionEntry::new(op("DateEquals"), "k:k", vec!["x".into()], true).is_err());
        assert!(ConditionEntry::new(op("IpAddress"), "k:k", vec!["1.2.3".into()], true).is_err());
        assert!(ConditionEntry::new(op("Null"), "k:k", vec!["maybe".into()], true).is_err());
        assert!(ConditionEntry::new(op("StringLike"), "k:k", vec!["${}".into()], true).is_err());
    }
}
