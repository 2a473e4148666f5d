//! xs:dateTime parsing.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)` into unix seconds
/// (fractional seconds are truncated). With `utc_only`, the only accepted
/// zones are `Z` and `+00:00` / `-00:00` (SAML core requires UTC); without it,
/// any offset is applied. A missing zone is always an error.
pub fn parse_datetime(s: &str, utc_only: bool) -> Option<i64> {
    let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let b = s.as_bytes();
    // Fixed part: 19 bytes "YYYY-MM-DDThh:mm:ss".
    if b.len() < 20 || !s.is_ascii() {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)?;
    let time = NaiveTime::from_hms_opt(digits(11..13)?, digits(14..16)?, digits(17..19)?)?;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 12 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        "Z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || (rb[0] != b'+' && rb[0] != b'-') || rb[3] != b':' {
                return None;
            }
            let hh = i64::from(digits_of(&rest[1..3])?);
            let mm = i64::from(digits_of(&rest[4..6])?);
            if hh > 14 || mm > 59 {
                return None;
            }
            let off = hh * 3600 + mm * 60;
            if utc_only && off != 0 {
                return None;
            }
            if rb[0] == b'-' { -off } else { off }
        }
    };
    let naive = NaiveDateTime::new(date, time);
    Some(naive.and_utc().timestamp() - offset_secs)
}

fn digits_of(s: &str) -> Option<u32> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn parses_utc_forms() {
        assert_eq!(
            parse_datetime("2030-01-01T00:00:00Z", true),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_datetime("2030-01-01T00:00:00.999Z", true),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_datetime("2030-01-01T00:00:00+00:00", true),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_datetime("2030-01-01T02:00:00+02:00", false),
            Some(1_893_456_000)
        );
    }

    #[test]
    fn rejects_other_forms() {
        for s in [
            "2030-01-01T00:00:00",
            "2030-01-01T02:00:00+02:00",
            "2030-01-01 00:00:00Z",
            "2030-13-01T00:00:00Z",
            "2030-01-01T00:00:00.Z",
            "2030-01-01T24:00:00Z",
            "+030-01-01T00:00:00Z",
            "2030-01-01T00:00:00Zjunk",
            "",
            "é030-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_datetime(s, true), None, "{s}");
        }
    }
}
