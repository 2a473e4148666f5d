//! The one decoder of JSON 1.1 bodies. An input is accepted only as an
//! object of the operation's members, each given once and of its type, in
//! UTF-8; members the operation does not have are ignored, as AWS ignores
//! them. Everything else is a SerializationException that names what is
//! wrong, so no body reaches a handler in a form its checks did not see.

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::wire_error::ApiError;

/// serde_json refuses a `Value` nested deeper than this; the typed decoder
/// skips unknown members without a limit, so deeper bodies are refused
/// before it runs.
const MAX_JSON_DEPTH: usize = 127;

fn serialization(message: impl Into<String>) -> ApiError {
    ApiError::serialization(message)
}

/// The operation's input `T` from a request body. An empty body (or only
/// whitespace) is an input with no members.
pub fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Ok(T::default());
    };
    // Only an object: serde would also fill a struct from an array.
    if *first != b'{' {
        return Err(serialization("The request body must be a JSON object."));
    }
    // The decoder checks only the syntax of members it skips, so the text
    // is checked first.
    let text = std::str::from_utf8(body)
        .map_err(|_| serialization("The request body is not valid JSON: it is not UTF-8."))?;
    if nested_deeper_than(body, MAX_JSON_DEPTH) {
        return Err(serialization(format!(
            "The request body is not valid JSON: it nests deeper than {MAX_JSON_DEPTH} levels."
        )));
    }
    // The path-tracking decoder costs more, so it runs only to explain a
    // failure; both decode the same way.
    serde_json::from_str(text).map_err(|_| explain::<T>(text))
}

/// Why `text` does not decode as `T`, naming the member.
fn explain<T: DeserializeOwned>(text: &str) -> ApiError {
    let mut de = serde_json::Deserializer::from_str(text);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => match de.end() {
            Ok(()) => return serialization("The request body could not be decoded."),
            Err(e) => return serialization(format!("The request body is not valid JSON: {e}")),
        },
        Err(e) => e,
    };
    let member = error.path().to_string();
    let inner = error.into_inner();
    match inner.classify() {
        Category::Data => serialization(format!(
            "The request does not match the operation's input shape at '{member}': {inner}"
        )),
        Category::Syntax | Category::Eof | Category::Io => {
            serialization(format!("The request body is not valid JSON: {inner}"))
        }
    }
}

/// Whether arrays and objects nest more than `limit` deep (outside strings).
fn nested_deeper_than(body: &[u8], limit: usize) -> bool {
    // Counted without early exit first, which the compiler vectorises: most
    // bodies open far fewer brackets than the limit.
    let opened = body.iter().filter(|b| matches!(b, b'[' | b'{')).count();
    if opened <= limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        identity_pool_id: Option<String>,
        logins: Option<BTreeMap<String, String>>,
    }

    fn message(body: &str) -> String {
        decode::<Input>(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn members_decode_once_and_unknown_ones_are_ignored() {
        let input: Input =
            decode(br#"{"IdentityPoolId":"p","Extra":[{"a":1}],"Logins":{"k":"v"}}"#).unwrap();
        assert_eq!(input.identity_pool_id.as_deref(), Some("p"));
        assert_eq!(input.logins.unwrap()["k"], "v");
        assert_eq!(decode::<Input>(b" \n").unwrap(), Input::default());
        assert_eq!(decode::<Input>(b"{}").unwrap(), Input::default());
    }

    #[test]
    fn every_other_body_is_refused_with_what_is_wrong() {
        let twice = message(r#"{"IdentityPoolId":"a","IdentityPoolId":"b"}"#);
        assert!(
            twice.contains("duplicate field `IdentityPoolId`"),
            "{twice}"
        );
        let typed = message(r#"{"IdentityPoolId":"p","Logins":[]}"#);
        assert!(typed.contains("at 'Logins'"), "{typed}");
        assert!(message("[null]").contains("JSON object"));
        assert!(message(r#"{"IdentityPoolId":"p""#).contains("not valid JSON"));
        assert!(message(r#"{"IdentityPoolId":"p"} x"#).contains("not valid JSON"));
        let mut bad = br#"{"Extra":""#.to_vec();
        bad.extend_from_slice(&[0xff, b'"', b'}']);
        assert!(decode::<Input>(&bad).unwrap_err().message.contains("UTF-8"));
        let deep = format!(r#"{{"Extra":{}1{}}}"#, "[".repeat(200), "]".repeat(200));
        assert!(message(&deep).contains("deeper"));
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        let deep = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert!(!nested_deeper_than(deep(127).as_bytes(), 127));
        assert!(nested_deeper_than(deep(128).as_bytes(), 127));
        let arrays = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(nested_deeper_than(arrays.as_bytes(), 127));
        // Brackets inside strings, escaped quotes included, do not count.
        let in_string = format!(r#"{{"IdentityId":"\"{}"}}"#, "[{".repeat(300));
        assert!(!nested_deeper_than(in_string.as_bytes(), 127));
        // Siblings are not depth.
        let wide = format!("[{}1]", "[],".repeat(300));
        assert!(!nested_deeper_than(wide.as_bytes(), 127));
    }
}
