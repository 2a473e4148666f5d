//! How the text log writes an event's fields, so that a value a client
//! chose (a pool name, an error quoting its input) can neither start a
//! line of its own, nor pass for another field, nor move a terminal's
//! cursor or reorder text: control and formatting characters are escaped,
//! and a field value with a space, `=` or `"` is quoted. The audit trail
//! is JSON, which does all this already.

use std::fmt::Write;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{FormatFields, debug_fn};

/// The text log's field formatter: `message` first as it is, the others as
/// `name=value`, separated by spaces, as the default formatter writes them.
pub fn text_fields() -> impl for<'writer> FormatFields<'writer> + 'static {
    debug_fn(|writer, field, value| {
        let raw = format!("{value:?}");
        if field.name() == "message" {
            return writer.write_str(&escape_controls(&raw));
        }
        // A string recorded as such is quoted and escaped already; a
        // displayed value (`%name`) is not, even when it looks quoted.
        if !is_quoted(&raw) && raw.contains([' ', '=', '"']) {
            write!(writer, "{field}={raw:?}")
        } else {
            write!(writer, "{field}={}", escape_controls(&raw))
        }
    })
    .delimited(" ")
}

/// Whether `raw` is one quoted string as `Debug` writes it: quotes at both
/// ends and none unescaped between them.
fn is_quoted(raw: &str) -> bool {
    let Some(inner) = raw
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return false,
            _ => {}
        }
    }
    !escaped
}

/// `text` with every control character, the Unicode line and paragraph
/// separators and the invisible formatting characters (bidirectional
/// overrides, zero-width characters) written as escapes.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}'
                    | '\u{2029}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2060}'..='\u{2064}'
                    | '\u{2066}'..='\u{206f}'
                    | '\u{feff}'
                    | '\u{061c}'
                    | '\u{180e}'
            )
    };
    if !text.chars().any(escaped) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn only_what_debug_quoted_counts_as_quoted() {
        assert!(super::is_quoted(&format!("{:?}", "a \"b\" = c")));
        assert!(super::is_quoted(r#""""#));
        assert!(!super::is_quoted(r#""a" user="root""#));
        assert!(!super::is_quoted(r#""a\""#));
        assert!(!super::is_quoted("plain"));
    }

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("plain é 漢"), "plain é 漢");
        assert_eq!(
            escape_controls("a\nFORGED\r\t\u{1b}[31m\u{0}\u{7f}\u{85}\u{2028}"),
            "a\\nFORGED\\r\\t\\u{1b}[31m\\u{0}\\u{7f}\\u{85}\\u{2028}"
        );
        assert_eq!(
            escape_controls("abc\u{202e}fed\u{200b}"),
            "abc\\u{202e}fed\\u{200b}"
        );
    }
}
