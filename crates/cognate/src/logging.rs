//! How the text log writes an event's fields: control characters escaped,
//! so a value a client chose (a pool name, an error quoting its input)
//! can neither start a line of its own nor move a terminal's cursor. The
//! audit trail is JSON, which escapes them already.

use std::fmt::Write;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{FormatFields, debug_fn};

/// The text log's field formatter: `message` first as it is, the others as
/// `name=value`, separated by spaces, as the default formatter writes them.
pub fn text_fields() -> impl for<'writer> FormatFields<'writer> + 'static {
    debug_fn(|writer, field, value| {
        let raw = format!("{value:?}");
        let text = escape_controls(&raw);
        if field.name() == "message" {
            writer.write_str(&text)
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// `text` with every control character, and the Unicode line and paragraph
/// separators, written as an escape.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
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
    fn controls_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("plain é 漢"), "plain é 漢");
        assert_eq!(
            escape_controls("a\nFORGED\r\t\u{1b}[31m\u{0}\u{7f}\u{85}\u{2028}"),
            "a\\nFORGED\\r\\t\\u{1b}[31m\\u{0}\\u{7f}\\u{85}\\u{2028}"
        );
    }
}
