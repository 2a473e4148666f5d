//! The answers of the flows' hot operations (GetId, GetOpenIdToken,
//! GetCredentialsForIdentity), written directly as JSON. Their strings are
//! ids, keys and base64 tokens that almost never need escaping; checking
//! that takes a fraction of serde_json's byte-by-byte escaper, which was
//! about 2 % of a GetCredentialsForIdentity request. The output is byte for
//! byte what serde_json writes for the same members (tests below).

use cognate_core::credentials::Credentials;

use super::epoch_number;

pub fn identity(identity_id: &str) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(r#"{"IdentityId":"#);
    push_string(&mut out, identity_id);
    out.push('}');
    out
}

pub fn token(identity_id: &str, token: &str) -> String {
    let mut out = String::with_capacity(64 + token.len());
    out.push_str(r#"{"IdentityId":"#);
    push_string(&mut out, identity_id);
    out.push_str(r#","Token":"#);
    push_string(&mut out, token);
    out.push('}');
    out
}

pub fn credentials(identity_id: &str, credentials: &Credentials) -> String {
    let mut out = String::with_capacity(192 + credentials.session_token.len());
    out.push_str(r#"{"IdentityId":"#);
    push_string(&mut out, identity_id);
    out.push_str(r#","Credentials":{"AccessKeyId":"#);
    push_string(&mut out, &credentials.access_key_id);
    out.push_str(r#","SecretKey":"#);
    push_string(&mut out, &credentials.secret_access_key);
    out.push_str(r#","SessionToken":"#);
    push_string(&mut out, &credentials.session_token);
    out.push_str(r#","Expiration":"#);
    // Epoch seconds as a JSON number, in serde_json's float notation.
    match serde_json::Number::from_f64(epoch_number(credentials.expiration)) {
        Some(number) => out.push_str(&number.to_string()),
        None => out.push_str("null"),
    }
    out.push_str("}}");
    out
}

/// Appends `text` as a JSON string.
fn push_string(out: &mut String, text: &str) {
    // Without early exit, so the compiler can check many bytes at once.
    let needs_escape = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        out.push_str(&serde_json::Value::from(text).to_string());
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct IdentityOutput<'a> {
        identity_id: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct TokenOutput<'a> {
        identity_id: &'a str,
        token: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct CredentialsOutput<'a> {
        identity_id: &'a str,
        credentials: CredentialsShape<'a>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct CredentialsShape<'a> {
        access_key_id: &'a str,
        secret_key: &'a str,
        session_token: &'a str,
        expiration: f64,
    }

    const TEXTS: &[&str] = &[
        "us-east-1:01a21c45-46c2-77e8-940f-035e33d02a6a",
        "",
        "AgEBhx+/=",
        "a \"quoted\" word",
        "back\\slash",
        "tab\there, newline\n, nul\u{0}, escape\u{1b}",
        "non-ASCII é 漢字 \u{7f}",
        "eyJhbGciOiJSUzUxMiJ9.eyJzdWIiOiJ4In0.c2ln",
    ];

    #[test]
    fn answers_are_what_serde_json_writes() {
        for (i, a) in TEXTS.iter().enumerate() {
            let b = TEXTS[(i + 3) % TEXTS.len()];
            assert_eq!(
                identity(a),
                serde_json::to_string(&IdentityOutput { identity_id: a }).unwrap()
            );
            assert_eq!(
                token(a, b),
                serde_json::to_string(&TokenOutput {
                    identity_id: a,
                    token: b
                })
                .unwrap()
            );
            for expiration in [0, 1_764_240_000, -5, 253_402_300_799] {
                let c = Credentials {
                    access_key_id: b.to_string(),
                    secret_access_key: a.to_string(),
                    session_token: TEXTS[(i + 5) % TEXTS.len()].to_string(),
                    expiration,
                };
                let expected = serde_json::to_string(&CredentialsOutput {
                    identity_id: a,
                    credentials: CredentialsShape {
                        access_key_id: &c.access_key_id,
                        secret_key: &c.secret_access_key,
                        session_token: &c.session_token,
                        expiration: epoch_number(expiration),
                    },
                })
                .unwrap();
                assert_eq!(credentials(a, &c), expected);
            }
        }
    }
}
