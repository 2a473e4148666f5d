//! Policy variables: `${aws:username}`, `${key, 'default'}` and the
//! `${*}` / `${?}` / `${$}` escapes.
//!
//! Only policies with `"Version": "2012-10-17"` substitute variables; for
//! older (or absent) versions the text is taken literally.
//!
//! Resolution rules:
//! * key names are case-insensitive; whitespace around the key and around the
//!   quoted default is ignored; a `''` inside the default stands for one `'`;
//! * a key that is absent, empty or multi-valued cannot be substituted: the
//!   default is used if given, otherwise the whole value is *unresolvable*;
//! * substituted text (variable values and defaults) is always literal — a
//!   `*` in a user name never acts as a wildcard — and is not re-scanned;
//! * an unterminated `${` is literal text.

use crate::context::ContextKeys;
use crate::wildcard::{Tok, push_literal_tokens, push_wild_tokens};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Policy text (wildcards apply where the operator supports them).
    Text(String),
    /// `${*}`, `${?}` or `${$}`: always a literal character.
    Escaped(char),
    /// `${key}` or `${key, 'default'}`.
    Var {
        key: String,
        key_lc: String,
        default: Option<String>,
    },
}

/// A policy string with its variables located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// Receives the names of context keys that a template needed but were absent.
pub(crate) trait MissingSink {
    fn missing(&mut self, key_lc: &str);
}

impl MissingSink for () {
    fn missing(&mut self, _key_lc: &str) {}
}

impl Template {
    /// Splits `text` into parts. With `vars` false the text is one literal part.
    /// Errors carry an IAM-style message.
    pub(crate) fn parse(text: &str, vars: bool) -> Result<Template, String> {
        if !vars || !text.contains("${") {
            return Ok(Template {
                parts: vec![Part::Text(text.to_owned())],
            });
        }
        let mut parts = Vec::new();
        let mut buf = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find("${") {
            let (before, after_dollar) = rest.split_at(pos);
            buf.push_str(before);
            let body_start = after_dollar.get(2..).unwrap_or("");
            match find_close(body_start) {
                None => {
                    // Unterminated: keep everything literally.
                    buf.push_str(after_dollar);
                    rest = "";
                    break;
                }
                Some(close) => {
                    let body = body_start.get(..close).unwrap_or("");
                    let part = parse_var_body(body)
                        .map_err(|m| format!("Invalid policy variable ${{{body}}}: {m}"))?;
                    if !buf.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut buf)));
                    }
                    parts.push(part);
                    rest = body_start.get(close + 1..).unwrap_or("");
                }
            }
        }
        buf.push_str(rest);
        if !buf.is_empty() || parts.is_empty() {
            parts.push(Part::Text(buf));
        }
        Ok(Template { parts })
    }

    /// True if at least one `${key}` needs the request context.
    pub(crate) fn has_vars(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var { .. }))
    }

    /// The keys referenced by variables, as written.
    pub(crate) fn var_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Substitutes variables, producing a plain string.
    pub(crate) fn resolve_string(
        &self,
        keys: &ContextKeys,
        sink: &mut dyn MissingSink,
    ) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Escaped(c) => out.push(*c),
                Part::Var {
                    key_lc, default, ..
                } => {
                    out.push_str(lookup(keys, key_lc, default.as_deref(), sink)?);
                }
            }
        }
        Some(out)
    }

    /// Substitutes variables, producing wildcard tokens: `*`/`?` in policy text
    /// are wildcards, everything substituted or escaped is literal.
    pub(crate) fn resolve_tokens(
        &self,
        keys: &ContextKeys,
        sink: &mut dyn MissingSink,
    ) -> Option<Vec<Tok>> {
        let mut toks = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => push_wild_tokens(t, &mut toks),
                Part::Escaped(c) => toks.push(Tok::Lit(*c)),
                Part::Var {
                    key_lc, default, ..
                } => {
                    let v = lookup(keys, key_lc, default.as_deref(), sink)?;
                    push_literal_tokens(v, &mut toks);
                }
            }
        }
        Some(toks)
    }

    /// Tokens for a template without variables (escapes are still literal).
    pub(crate) fn static_tokens(&self) -> Vec<Tok> {
        self.resolve_tokens(&ContextKeys::new(), &mut ())
            .unwrap_or_default()
    }

    /// The string for a template without variables.
    pub(crate) fn static_string(&self) -> String {
        self.resolve_string(&ContextKeys::new(), &mut ())
            .unwrap_or_default()
    }
}

fn lookup<'a>(
    keys: &'a ContextKeys,
    key_lc: &str,
    default: Option<&'a str>,
    sink: &mut dyn MissingSink,
) -> Option<&'a str> {
    match keys.get_lc(key_lc) {
        Some([single]) => Some(single.as_str()),
        Some(_) => default,
        None => {
            if default.is_none() {
                sink.missing(key_lc);
            }
            default
        }
    }
}

/// Finds the `}` closing a variable body, skipping quoted default text.
fn find_close(body: &str) -> Option<usize> {
    let mut in_quote = false;
    for (i, c) in body.char_indices() {
        match c {
            '\'' => in_quote = !in_quote,
            '}' if !in_quote => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_var_body(body: &str) -> Result<Part, String> {
    let trimmed = body.trim();
    match trimmed {
        "*" => return Ok(Part::Escaped('*')),
        "?" => return Ok(Part::Escaped('?')),
        "$" => return Ok(Part::Escaped('$')),
        _ => {}
    }
    let (key, default) = match trimmed.split_once(',') {
        None => (trimmed, None),
        Some((k, d)) => (k.trim(), Some(parse_default(d.trim())?)),
    };
    if key.is_empty() {
        return Err("empty variable name".to_owned());
    }
    if key
        .chars()
        .any(|c| c.is_whitespace() || c == '\'' || c == '$')
    {
        return Err("variable name contains an invalid character".to_owned());
    }
    Ok(Part::Var {
        key: key.to_owned(),
        key_lc: key.to_lowercase(),
        default,
    })
}

fn parse_default(quoted: &str) -> Result<String, String> {
    let inner = quoted
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .ok_or_else(|| "default value must be enclosed in single quotes".to_owned())?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
            } else {
                return Err("a quote inside a default value must be doubled ('')".to_owned());
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn keys() -> ContextKeys {
        let mut k = ContextKeys::new();
        k.insert("aws:username", "alice");
        k.insert("aws:PrincipalTag/team", "blue*");
        k.insert("multi:key", "a");
        k.insert("multi:key", "b");
        k
    }

    #[test]
    fn substitutes_and_escapes() {
        let t = Template::parse("home/${AWS:UserName}/${*}${?}${$}", true).unwrap();
        assert!(t.has_vars());
        assert_eq!(
            t.resolve_string(&keys(), &mut ()).unwrap(),
            "home/alice/*?$"
        );
        let toks = t.resolve_tokens(&keys(), &mut ()).unwrap();
        assert!(toks.iter().all(|t| matches!(t, Tok::Lit(_))));
    }

    #[test]
    fn version_2008_is_literal() {
        let t = Template::parse("home/${aws:username}", false).unwrap();
        assert!(!t.has_vars());
        assert_eq!(t.static_string(), "home/${aws:username}");
    }

    #[test]
    fn defaults_and_missing() {
        let t = Template::parse("${aws:userid , 'it''s}x' }", true).unwrap();
        assert_eq!(t.resolve_string(&keys(), &mut ()).unwrap(), "it's}x");
        let t = Template::parse("${aws:userid}", true).unwrap();
        assert_eq!(t.resolve_string(&keys(), &mut ()), None);
        let t = Template::parse("${multi:key}", true).unwrap();
        assert_eq!(t.resolve_string(&keys(), &mut ()), None);
        let t = Template::parse("${multi:key, 'd'}", true).unwrap();
        assert_eq!(t.resolve_string(&keys(), &mut ()).unwrap(), "d");
    }

    #[test]
    fn substituted_values_are_literal() {
        let t = Template::parse("x/${aws:PrincipalTag/team}/*", true).unwrap();
        let toks = t.resolve_tokens(&keys(), &mut ()).unwrap();
        assert_eq!(toks.get(6), Some(&Tok::Lit('*')));
        assert!(matches!(toks.last(), Some(Tok::Star { .. })));
    }

    #[test]
    fn malformed_variables() {
        assert!(Template::parse("${}", true).is_err());
        assert!(Template::parse("${a:b, nodefaultquotes}", true).is_err());
        assert!(Template::parse("${a:b, 'x''y' z}", true).is_err());
        assert!(Template::parse("${a:b, 'x' 'y'}", true).is_err());
        // An unbalanced quote leaves the variable unterminated: literal text.
        let t = Template::parse("${a:b, 'x'y'}", true).unwrap();
        assert_eq!(t.static_string(), "${a:b, 'x'y'}");
        // Unterminated is literal.
        let t = Template::parse("abc${aws:username", true).unwrap();
        assert_eq!(t.static_string(), "abc${aws:username");
    }
}
