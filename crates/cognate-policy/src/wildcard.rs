//! Wildcard (`*` / `?`) patterns, compiled once and matched many times.
//!
//! Three flavours are used by IAM:
//!
//! * [`GlobMode::Plain`] — `*` matches any run of characters (including `:`),
//!   `?` matches exactly one character. Used by `Action` (after lower-casing
//!   both sides), `StringLike` and each segment of `ArnLike`.
//! * [`GlobMode::Resource`] — the `Resource` element. Per the IAM
//!   documentation wildcards work *within* a colon-delimited ARN segment: `?`
//!   never matches `:` and a `*` does not cross a `:` — except that a `*`
//!   which is the last character of a segment (followed by `:` or at the end
//!   of the pattern) "can expand to match beyond the colon boundaries". So
//!   `arn:aws:s3:*` matches every S3 ARN, `arn:aws:s3:::bucket/*` matches
//!   every key including ones containing `:`, while `arn:aws:iam::*:role/x`
//!   still pins the resource part.
//! * ARN conditions (`ArnLike`/`ArnEquals`) split both sides into the six
//!   ARN components and match each one with [`GlobMode::Plain`]; see
//!   [`ArnPattern`].

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A character that must match exactly (after any case folding done by the caller).
    Lit(char),
    /// `?`: exactly one character (never `:` when `bounded`).
    One { bounded: bool },
    /// `*`: any run of characters (never containing `:` when `bounded`).
    Star { bounded: bool },
}

/// How wildcards behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobMode {
    Plain,
    Resource,
}

/// Appends the tokens for `text`, interpreting `*` and `?` as wildcards.
pub(crate) fn push_wild_tokens(text: &str, out: &mut Vec<Tok>) {
    for c in text.chars() {
        out.push(match c {
            '*' => Tok::Star { bounded: false },
            '?' => Tok::One { bounded: false },
            c => Tok::Lit(c),
        });
    }
}

/// Appends `text` as literal tokens (no wildcard interpretation).
pub(crate) fn push_literal_tokens(text: &str, out: &mut Vec<Tok>) {
    out.extend(text.chars().map(Tok::Lit));
}

/// Fast paths recognised at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// A lone unbounded `*`.
    Everything,
    /// No wildcard at all.
    Exact(String),
    /// Literal prefix followed by one unbounded `*`.
    Prefix(String),
    /// Anything else: dynamic programming over the tokens.
    General,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
    shape: Shape,
}

impl Pattern {
    /// Compiles a token list under the given mode.
    pub(crate) fn from_tokens(mut toks: Vec<Tok>, mode: GlobMode) -> Pattern {
        if mode == GlobMode::Resource {
            apply_resource_bounds(&mut toks);
        }
        let shape = shape_of(&toks);
        Pattern { toks, shape }
    }

    /// Compiles `text` with `*`/`?` wildcards.
    pub(crate) fn new(text: &str, mode: GlobMode) -> Pattern {
        let mut toks = Vec::with_capacity(text.len());
        push_wild_tokens(text, &mut toks);
        Pattern::from_tokens(toks, mode)
    }

    /// True if the pattern is a lone unbounded `*`.
    #[cfg(test)]
    pub(crate) fn matches_everything(&self) -> bool {
        self.shape == Shape::Everything
    }

    /// Matches the whole of `text`.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Everything => true,
            Shape::Exact(s) => s == text,
            Shape::Prefix(p) => text.starts_with(p.as_str()),
            Shape::General => {
                let chars: Vec<char> = text.chars().collect();
                dp_match(&self.toks, &chars)
            }
        }
    }

    /// Matches the whole of a pre-split character slice (avoids re-collecting
    /// when the same text is tested against many patterns).
    pub(crate) fn matches_chars<'c>(&self, text: &str, chars: impl FnOnce() -> &'c [char]) -> bool {
        match &self.shape {
            Shape::General => dp_match(&self.toks, chars()),
            _ => self.matches(text),
        }
    }
}

/// Marks `*` and `?` as segment-bounded per the `Resource` rules.
fn apply_resource_bounds(toks: &mut [Tok]) {
    let len = toks.len();
    for i in 0..len {
        let next_is_boundary = match toks.get(i + 1) {
            None => true,
            Some(Tok::Lit(':')) => true,
            Some(_) => false,
        };
        if let Some(tok) = toks.get_mut(i) {
            match tok {
                Tok::Star { bounded } => *bounded = !next_is_boundary,
                Tok::One { bounded } => *bounded = true,
                Tok::Lit(_) => {}
            }
        }
    }
}

fn shape_of(toks: &[Tok]) -> Shape {
    let lit_prefix: String = toks
        .iter()
        .map_while(|t| match t {
            Tok::Lit(c) => Some(*c),
            _ => None,
        })
        .collect();
    let lit_count = lit_prefix.chars().count();
    let rest = toks.get(lit_count..).unwrap_or(&[]);
    match rest {
        [] => Shape::Exact(lit_prefix),
        [Tok::Star { bounded: false }] if lit_count == 0 => Shape::Everything,
        [Tok::Star { bounded: false }] => Shape::Prefix(lit_prefix),
        _ => Shape::General,
    }
}

fn char_ok(bounded: bool, c: char) -> bool {
    !bounded || c != ':'
}

/// Classic O(|pattern| * |text|) matcher supporting per-token wildcard
/// restrictions. `row[j]` means "the tokens seen so far match `text[..j]`".
fn dp_match(toks: &[Tok], text: &[char]) -> bool {
    let mut prev = vec![false; text.len() + 1];
    let mut cur = vec![false; text.len() + 1];
    if let Some(first) = prev.first_mut() {
        *first = true;
    }
    for tok in toks {
        match *tok {
            Tok::Star { bounded } => {
                let mut last = false;
                for (j, (c, p)) in cur.iter_mut().zip(prev.iter()).enumerate() {
                    let extend =
                        last && j > 0 && text.get(j - 1).is_some_and(|&ch| char_ok(bounded, ch));
                    *c = *p || extend;
                    last = *c;
                }
            }
            Tok::One { bounded } => step_single(&prev, &mut cur, text, |ch| char_ok(bounded, ch)),
            Tok::Lit(l) => step_single(&prev, &mut cur, text, |ch| ch == l),
        }
        std::mem::swap(&mut prev, &mut cur);
        if !prev.iter().any(|&b| b) {
            return false;
        }
    }
    prev.last().copied().unwrap_or(false)
}

fn step_single(prev: &[bool], cur: &mut [bool], text: &[char], ok: impl Fn(char) -> bool) {
    let mut prev_before = false;
    for (j, (c, p)) in cur.iter_mut().zip(prev.iter()).enumerate() {
        *c = j > 0 && prev_before && text.get(j - 1).is_some_and(|&ch| ok(ch));
        prev_before = *p;
    }
}

/// A pattern for the `Arn*` condition operators: six colon-separated
/// components, each matched independently with [`GlobMode::Plain`] (the last
/// one, the resource part, may itself contain colons). A policy value with
/// fewer than six components (e.g. a lone `*`) is matched against the whole
/// ARN as a plain wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    Segments(Vec<Pattern>),
    Whole(Pattern),
}

impl ArnPattern {
    pub(crate) fn from_tokens(toks: Vec<Tok>) -> ArnPattern {
        let mut segments: Vec<Vec<Tok>> = vec![Vec::new()];
        for tok in toks {
            let split_here = matches!(tok, Tok::Lit(':')) && segments.len() < 6;
            if split_here {
                segments.push(Vec::new());
            } else if let Some(seg) = segments.last_mut() {
                seg.push(tok);
            }
        }
        if segments.len() == 6 {
            ArnPattern::Segments(
                segments
                    .into_iter()
                    .map(|s| Pattern::from_tokens(s, GlobMode::Plain))
                    .collect(),
            )
        } else {
            // Re-join the pieces for a whole-string match.
            let mut joined = Vec::new();
            for (i, seg) in segments.into_iter().enumerate() {
                if i > 0 {
                    joined.push(Tok::Lit(':'));
                }
                joined.extend(seg);
            }
            ArnPattern::Whole(Pattern::from_tokens(joined, GlobMode::Plain))
        }
    }

    #[cfg(test)]
    pub(crate) fn new(text: &str) -> ArnPattern {
        let mut toks = Vec::new();
        push_wild_tokens(text, &mut toks);
        ArnPattern::from_tokens(toks)
    }

    pub(crate) fn matches(&self, arn: &str) -> bool {
        match self {
            ArnPattern::Whole(p) => p.matches(arn),
            ArnPattern::Segments(pats) => {
                let parts: Vec<&str> = arn.splitn(6, ':').collect();
                parts.len() == 6 && pats.iter().zip(parts).all(|(p, part)| p.matches(part))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn plain(p: &str, t: &str) -> bool {
        Pattern::new(p, GlobMode::Plain).matches(t)
    }

    fn res(p: &str, t: &str) -> bool {
        Pattern::new(p, GlobMode::Resource).matches(t)
    }

    #[test]
    fn plain_globs() {
        assert!(plain("*", ""));
        assert!(plain("*", "anything:at:all"));
        assert!(plain("s3:Get*", "s3:GetObject"));
        assert!(!plain("s3:Get*", "s3:PutObject"));
        assert!(plain("s3:?etObject", "s3:GetObject"));
        assert!(!plain("s3:?etObject", "s3:etObject"));
        assert!(plain("a*b*c", "aXXbYYc"));
        assert!(plain("a*b*c", "abc"));
        assert!(!plain("a*b*c", "acb"));
        assert!(plain("*:*", "x:y"));
        assert!(!plain("abc", "abcd"));
        assert!(plain("", ""));
        assert!(!plain("", "a"));
        assert!(plain("??", "éé"));
        assert!(!plain("???", "éé"));
        assert!(Pattern::new("*", GlobMode::Plain).matches_everything());
    }

    #[test]
    fn resource_star_within_segment_does_not_cross_colon() {
        assert!(res(
            "arn:aws:iam::*:role/x",
            "arn:aws:iam::123456789012:role/x"
        ));
        // A mid-segment star cannot swallow a colon.
        assert!(!res("arn:aws:sqs:us-*-1", "arn:aws:sqs:us-east:x-1"));
        assert!(res("arn:aws:sqs:us-*-1", "arn:aws:sqs:us-east-1"));
        // `?` never matches a colon.
        assert!(!res("arn:aws:s3?::b", "arn:aws:s3:::b"));
    }

    #[test]
    fn resource_trailing_star_crosses_colons() {
        assert!(res("arn:aws:s3:*", "arn:aws:s3:::bucket/key"));
        assert!(res("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b:c"));
        assert!(!res("arn:aws:s3:::bucket/*", "arn:aws:s3:::other/a"));
        assert!(res("*", "arn:aws:iam::1:user/x"));
        // A star followed by ':' is the last character of its segment.
        assert!(res("arn:aws:*:us-east-1:*", "arn:aws:sqs:us-east-1:1:q"));
    }

    #[test]
    fn arn_pattern_is_segment_wise() {
        let p = ArnPattern::new("arn:aws:iam::*:role/*");
        assert!(p.matches("arn:aws:iam::123456789012:role/a/b"));
        assert!(!p.matches("arn:aws:iam::123456789012:user/a"));
        // Star in the account segment cannot absorb the resource part.
        let p = ArnPattern::new("arn:aws:iam::*:user/x");
        assert!(!p.matches("arn:aws:iam::1:2:user/x"));
        assert!(p.matches("arn:aws:iam::1:user/x"));
        // Fewer than six components: whole-string wildcard match.
        let p = ArnPattern::new("arn:aws:iam::*");
        assert!(p.matches("arn:aws:iam::1:user/x"));
        let p = ArnPattern::new("arn:aws:s3:::bucket/*");
        assert!(p.matches("arn:aws:s3:::bucket/x:y"));
        assert!(!p.matches("not-an-arn"));
        assert!(ArnPattern::new("*").matches("whatever"));
    }
}
