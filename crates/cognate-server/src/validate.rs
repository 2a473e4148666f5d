//! Model constraint checks, phrased the way AWS phrases them:
//! `Value 'x' at 'identityPoolName' failed to satisfy constraint: ...`.
//! All violations of a request are collected and reported together.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use cognate_core::Error;
use regex::Regex;

/// A model pattern: the regex as AWS prints it, and an anchored compiled
/// form. The models' classes are Java's, which are ASCII: `\w`, `\d`, `\s`
/// and `\S` mean ASCII word characters, digits, whitespace and all but
/// ASCII whitespace (the `regex` crate's would be Unicode). Explicit
/// Unicode classes (`\p{L}`) stay Unicode.
pub struct Pattern {
    pub shown: &'static str,
    regex: Regex,
}

impl Pattern {
    // The patterns are the literals below, all covered by tests.
    #[allow(clippy::expect_used)]
    fn new(shown: &'static str) -> Pattern {
        // Every `\w`, `\s` and `\S` of the models stands inside a
        // character class, every `\d` outside one.
        let ascii = shown
            .replace(r"\w", "a-zA-Z0-9_")
            .replace(r"\d", "[0-9]")
            .replace(r"\s", "[:space:]")
            .replace(r"\S", "[:^space:]")
            // Java writes a code point past the 16-bit range this way.
            .replace(r"\u10000-\u10FFFF", r"\x{10000}-\x{10FFFF}");
        let regex = Regex::new(&format!("^(?:{ascii})$")).expect("model patterns compile");
        Pattern { shown, regex }
    }

    pub fn matches(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

macro_rules! patterns {
    ($($name:ident = $re:literal;)*) => {
        $(pub static $name: LazyLock<Pattern> = LazyLock::new(|| Pattern::new($re));)*
    };
}

patterns! {
    POOL_NAME = r"[\w\s+=,.@-]+";
    REGIONAL_ID = r"[\w-]+:[0-9a-f-]+";
    PROVIDER_ID = r"[\w.;_/-]+";
    DEVELOPER_PROVIDER_NAME = r"[\w._-]+";
    USER_POOL_PROVIDER_NAME = r"[\w._:/-]+";
    USER_POOL_CLIENT_ID = r"[\w_]+";
    ROLE_TYPE = r"(un)?authenticated";
    CLAIM_NAME = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+";
    NEXT_TOKEN = r"[\S]+";
    ACCOUNT_ID = r"\d+";
    SESSION_NAME = r"[\w+=,.@-]*";
    IAM_NAME = r"[\w+=,.@-]+";
    SAML_PROVIDER_NAME = r"[\w._-]+";
    POLICY_VERSION_ID = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?";
    POLICY_DOCUMENT = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
    ROLE_PATH = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
    ROLE_PATH_PREFIX = r"\u002F[\u0021-\u007F]*";
    POLICY_PATH = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";
    ROLE_DESCRIPTION = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*";
    MARKER = r"[\u0020-\u00FF]+";
    // STS's ARN members: any text but control characters, surrogates and
    // the two non-characters.
    STS_ARN = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";
    IAM_TAG_KEY = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
    // AWS's tag pattern (Cognito's model leaves tags unpatterned, its
    // guide and IAM's model give this): letters, numbers, spaces and
    // `_.:/=+-@`, never control characters.
    TAG = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";
}

/// Collects violations; `finish` turns them into one ValidationException.
#[derive(Default)]
pub struct Checker {
    errors: Vec<String>,
}

/// How a value is shown in messages.
fn shown(value: &str, sensitive: bool) -> &str {
    if sensitive { "***" } else { value }
}

impl Checker {
    pub fn new() -> Self {
        Checker::default()
    }

    fn fail(&mut self, value: &str, member: &str, constraint: &str) {
        self.errors.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A required member: records `Member must not be null` when absent.
    pub fn required<'a, T>(&mut self, member: &str, value: &'a Option<T>) -> Option<&'a T> {
        if value.is_none() {
            self.errors.push(format!(
                "Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ));
        }
        value.as_ref()
    }

    /// Length (in characters, as the models count) and pattern of a string.
    pub fn string(
        &mut self,
        member: &str,
        value: &str,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
    ) {
        self.string_inner(member, value, min, max, pattern, false);
    }

    /// Like `string` but never echoes the value (tokens, secrets).
    pub fn sensitive(&mut self, member: &str, value: &str, min: usize, max: usize) {
        self.string_inner(member, value, min, max, None, true);
    }

    fn string_inner(
        &mut self,
        member: &str,
        value: &str,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
        sensitive: bool,
    ) {
        let len = value.chars().count();
        let v = shown(value, sensitive);
        if len < min {
            self.fail(
                v,
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.fail(
                v,
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        } else if let Some(p) = pattern
            && !p.matches(value)
        {
            self.fail(
                v,
                member,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    p.shown
                ),
            );
        }
    }

    pub fn opt_string(
        &mut self,
        member: &str,
        value: &Option<String>,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
    ) {
        if let Some(v) = value {
            self.string(member, v, min, max, pattern);
        }
    }

    pub fn range(&mut self, member: &str, value: i64, min: i64, max: i64) {
        if value < min {
            self.fail(
                &value.to_string(),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.fail(
                &value.to_string(),
                member,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    pub fn count(&mut self, member: &str, shown_value: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.fail(
                shown_value,
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.fail(
                shown_value,
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, member: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.fail(
                value,
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// A map of strings: entry count, then each key and value.
    #[allow(clippy::too_many_arguments)]
    pub fn string_map(
        &mut self,
        member: &str,
        map: &BTreeMap<String, String>,
        max_entries: usize,
        key: (usize, usize, Option<&Pattern>),
        value: (usize, usize, Option<&Pattern>),
        sensitive_values: bool,
    ) {
        let display = if sensitive_values {
            format!(
                "{{{}}}",
                map.keys()
                    .map(|k| format!("{k}=***"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!("{map:?}")
        };
        self.count(member, &display, map.len(), 0, max_entries);
        for (k, v) in map {
            let before = self.errors.len();
            self.string(member, k, key.0, key.1, key.2);
            if self.errors.len() > before {
                if let Some(last) = self.errors.last_mut() {
                    *last = last.replace("Member must", "Map keys must");
                }
                continue;
            }
            self.string_inner(member, v, value.0, value.1, value.2, sensitive_values);
            if self.errors.len() > before
                && let Some(last) = self.errors.last_mut()
            {
                *last = last.replace("Member must", "Map value must");
            }
        }
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }
}

/// Common shapes.
impl Checker {
    pub fn pool_id(&mut self, member: &str, value: &Option<String>) -> Option<String> {
        let v = self.required(member, value)?;
        self.string(member, v, 1, 55, Some(&REGIONAL_ID));
        Some(v.clone())
    }

    pub fn identity_id(&mut self, member: &str, value: &Option<String>) -> Option<String> {
        self.pool_id(member, value)
    }

    pub fn arn(&mut self, member: &str, value: &str) {
        self.string(member, value, 20, 2048, None);
    }

    pub fn logins(&mut self, member: &str, logins: &Option<BTreeMap<String, String>>) {
        if let Some(map) = logins {
            self.string_map(member, map, 10, (1, 128, None), (1, 50000, None), true);
        }
    }

    pub fn max_results(&mut self, member: &str, value: &Option<i64>) -> Option<usize> {
        let v = *self.required(member, value)?;
        self.range(member, v, 1, 60);
        usize::try_from(v).ok()
    }

    pub fn next_token(&mut self, member: &str, value: &Option<String>) {
        self.opt_string(member, value, 1, 65535, Some(&NEXT_TOKEN));
    }
}

impl Checker {
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn patterns_are_anchored_and_ascii() {
        assert!(POOL_NAME.matches("my pool_1+=,.@-"));
        assert!(!POOL_NAME.matches("bad/name"));
        assert!(REGIONAL_ID.matches("us-east-1:0f0e-ab"));
        assert!(!REGIONAL_ID.matches("us-east-1_abc"));
        assert!(!REGIONAL_ID.matches("x us-east-1:ab"));
        assert!(ROLE_TYPE.matches("authenticated"));
        assert!(ROLE_TYPE.matches("unauthenticated"));
        assert!(!ROLE_TYPE.matches("admin"));
        assert!(CLAIM_NAME.matches("custom:dept"));
        assert!(!SESSION_NAME.matches("a:b"));
        assert!(POLICY_DOCUMENT.matches("{\"a\":\t\"é\"}\n"));
        assert!(!POLICY_DOCUMENT.matches("\u{1}"));
        assert!(!POLICY_DOCUMENT.matches("\u{100}"));
    }

    #[test]
    fn iam_and_sts_patterns() {
        assert!(ROLE_PATH.matches("/"));
        assert!(ROLE_PATH.matches("/app/prod/"));
        assert!(!ROLE_PATH.matches("/a b/"));
        assert!(!ROLE_PATH.matches("app/"));
        assert!(POLICY_PATH.matches("/"));
        assert!(POLICY_PATH.matches("/cognate/"));
        assert!(!POLICY_PATH.matches("/a~b/"));
        assert!(ROLE_DESCRIPTION.matches("Guests of the app: read é"));
        assert!(!ROLE_DESCRIPTION.matches("bell\u{7}"));
        assert!(!ROLE_DESCRIPTION.matches("\u{80}"));
        assert!(MARKER.matches("abc=="));
        assert!(!MARKER.matches("a\nb"));
        assert!(STS_ARN.matches("arn:aws:iam::000000000000:role/é-😀"));
        assert!(!STS_ARN.matches("arn:\u{0}"));
        assert!(!STS_ARN.matches("arn:\u{ffff}"));
        assert!(IAM_TAG_KEY.matches("team"));
        assert!(!IAM_TAG_KEY.matches(""));
        assert!(!IAM_TAG_KEY.matches("a\u{1}"));
    }

    #[test]
    fn java_classes_are_ascii_and_unicode_classes_unicode() {
        assert!(POOL_NAME.matches("tab\tand space"));
        for unicode_space in ["\u{2028}", "\u{a0}", "\u{3000}", "\u{85}", "\u{2003}"] {
            assert!(
                !POOL_NAME.matches(&format!("a{unicode_space}b")),
                "{unicode_space:?}"
            );
        }
        assert!(!POOL_NAME.matches("é"), "\\w is ASCII");
        assert!(!ACCOUNT_ID.matches("١٢٣"), "\\d is ASCII");
        // `\S` is everything but ASCII whitespace, as in Java.
        assert!(NEXT_TOKEN.matches("é\u{a0}x"));
        assert!(!NEXT_TOKEN.matches("a b"));
        assert!(TAG.matches("équipe données 123_.:/=+-@"));
        assert!(TAG.matches(""));
        for control in ["\0", "\u{7}", "\n", "\u{1b}", "\u{7f}", "\u{85}"] {
            assert!(!TAG.matches(&format!("a{control}")), "{control:?}");
        }
    }

    #[test]
    fn messages_follow_aws_form() {
        let mut c = Checker::new();
        c.string("identityPoolName", "bad/name", 1, 128, Some(&POOL_NAME));
        c.range("maxResults", 61, 1, 60);
        let _ = c.required::<String>("identityPoolId", &None);
        let err = c.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            "3 validation errors detected: Value 'bad/name' at 'identityPoolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+; Value '61' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 60; Value null at 'identityPoolId' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let mut c = Checker::new();
        let logins = Some(BTreeMap::from([("p".to_string(), "x".repeat(50001))]));
        c.logins("logins", &logins);
        let err = c.finish().unwrap_err().to_string();
        assert!(!err.contains("xxxx"), "{err}");
        assert!(err.contains("less than or equal to 50000"), "{err}");
    }
}
