//! Minimal, panic-free UTC timestamp parsing and formatting (no clock reads).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Only called with year >= 1970, 1 <= month <= 12, 1 <= day <= 31.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            Some(acc * 10 + u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn from_parts(
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    min: u64,
    sec: u64,
) -> Option<SystemTime> {
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + min * 60 + sec;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Parses the ISO-8601 basic format used by SigV4: `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let [
        y0,
        y1,
        y2,
        y3,
        mo0,
        mo1,
        d0,
        d1,
        b'T',
        h0,
        h1,
        mi0,
        mi1,
        s0,
        s1,
        b'Z',
    ] = *value.as_bytes()
    else {
        return None;
    };
    from_parts(
        digits(&[y0, y1, y2, y3])?,
        digits(&[mo0, mo1])?,
        digits(&[d0, d1])?,
        digits(&[h0, h1])?,
        digits(&[mi0, mi1])?,
        digits(&[s0, s1])?,
    )
}

/// Parses an RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`
/// (the day name is not cross-checked).
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    let [
        _,
        _,
        _,
        b',',
        b' ',
        d0,
        d1,
        b' ',
        m0,
        m1,
        m2,
        b' ',
        y0,
        y1,
        y2,
        y3,
        b' ',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        b' ',
        b'G',
        b'M',
        b'T',
    ] = *value.as_bytes()
    else {
        return None;
    };
    let month = match &[m0, m1, m2] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    from_parts(
        digits(&[y0, y1, y2, y3])?,
        month,
        digits(&[d0, d1])?,
        digits(&[h0, h1])?,
        digits(&[mi0, mi1])?,
        digits(&[s0, s1])?,
    )
}

/// Formats as `YYYYMMDD'T'HHMMSS'Z'` (times before the epoch clamp to the epoch).
pub(crate) fn format_amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
    let rem = secs % SECS_PER_DAY;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn amz_date_round_trip() {
        for s in [
            "19700101T000000Z",
            "20000229T235959Z",
            "20260101T000000Z",
            "20150830T123600Z",
            "21001231T120000Z",
        ] {
            let t = parse_amz_date(s).unwrap();
            assert_eq!(format_amz_date(t), s);
        }
        assert_eq!(
            parse_amz_date("20260101T000000Z").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_767_225_600)
        );
    }

    #[test]
    fn amz_date_rejects_garbage() {
        for s in [
            "",
            "2026",
            "20260101T000000",
            "20260101T000000z",
            "20261301T000000Z",
            "20260230T000000Z",
            "21000229T000000Z",
            "20260101T240000Z",
            "20260101T006000Z",
            "20260101T000060Z",
            "2026-01-01T00:00:00Z",
            "19691231T235959Z",
            "2026010lT000000Z",
            "+0260101T000000Z",
        ] {
            assert!(parse_amz_date(s).is_none(), "{s}");
        }
    }

    #[test]
    fn http_date() {
        assert_eq!(
            format_amz_date(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap()),
            "19941106T084937Z"
        );
        assert!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT").is_none());
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC").is_none());
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
    }

    #[test]
    fn civil_round_trip_every_day_for_centuries() {
        let mut days = 0;
        for year in 1970..2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), days);
                    assert_eq!(civil_from_days(days), (year, month, day));
                    days += 1;
                }
            }
        }
    }
}
