//! A small writer for Query protocol XML responses.

use std::fmt::Write;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as it is, not normalised to a line feed by the parser.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            // XML 1.0 has no way to write these (not even as a character
            // reference): an error that quotes the input shows them as
            // escapes, and the answer stays XML.
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Builds `<OpResponse xmlns=..><OpResult>...</OpResult><ResponseMetadata>..`.
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            buf: String::with_capacity(512),
        }
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.buf, "<{name}>");
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// `<name>text</name>`, escaped.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        let _ = write!(self.buf, "<{name}>{}</{name}>", escape(text));
        self
    }

    pub fn leaf_opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// The whole response document around what was written.
    pub fn finish(self, operation: &str, namespace: &str, request_id: &str) -> String {
        format!(
            "<{operation}Response xmlns=\"{namespace}\"><{operation}Result>{}</{operation}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{operation}Response>",
            self.buf,
            escape(request_id)
        )
    }
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// ISO 8601 UTC as the Query protocol writes timestamps.
pub fn timestamp(epoch_secs: i64) -> String {
    chrono::DateTime::from_timestamp(epoch_secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_always_xml() {
        assert_eq!(
            escape("a<b>&\"'\tc\nd\re"),
            "a&lt;b&gt;&amp;&quot;&apos;\tc\nd&#13;e"
        );
        // Characters XML cannot carry become visible escapes.
        assert_eq!(
            escape("bell\u{7} nul\u{0} esc\u{1b} \u{ffff} é"),
            "bell\\u{7} nul\\u{0} esc\\u{1b} \\u{ffff} é"
        );
    }
}
