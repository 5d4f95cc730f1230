//! Request timestamps: the ISO 8601 basic form of `X-Amz-Date` (`20150830T123600Z`), the
//! `yyyymmdd` credential date, RFC 1123 HTTP dates (`Date`, `Last-Modified`), and the clock skew
//! check. Times are unix seconds; the current time is always a parameter (on wasm32
//! `SystemTime::now()` panics, so the entry reads the clock once).

use crate::s3::error::S3Result;

/// How far a signed request's time may be from the server's, in either direction (S3: 15 minutes).
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

use crate::time::{civil_time, unix_seconds, SECS_PER_DAY};

/// Weekday names starting from Thursday, the weekday of 1970-01-01.
const WEEKDAYS_FROM_EPOCH: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// A number made only of ASCII digits (no sign, no spaces).
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse `yyyymmddThhmmssZ` (ISO 8601 basic, UTC) into unix seconds. Strict: exactly that form.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // ASCII first, so the slices below cannot cut a UTF-8 character.
    if b.len() != 16 || !s.is_ascii() || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let (date, time) = (&s[..8], &s[9..15]);
    unix_seconds(
        i64::from(digits(&date[..4])?),
        digits(&date[4..6])?,
        digits(&date[6..8])?,
        digits(&time[..2])?,
        digits(&time[2..4])?,
        digits(&time[4..6])?,
    )
}

/// Format unix seconds as `yyyymmddThhmmssZ`.
pub fn format_amz_date(unix: i64) -> String {
    let (year, month, day, hour, minute, second) = civil_time(unix);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}

/// Format unix seconds as the `yyyymmdd` date of a credential scope.
pub fn format_yyyymmdd(unix: i64) -> String {
    let (year, month, day, ..) = civil_time(unix);
    format!("{year:04}{month:02}{day:02}")
}

/// Parse an RFC 1123 HTTP date, `Sun, 06 Nov 1994 08:49:37 GMT`, into unix seconds. The weekday
/// must be a weekday name but is not checked against the date; a one-digit day is accepted.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let (weekday, rest) = s.trim().split_once(", ")?;
    if !WEEKDAYS_FROM_EPOCH.contains(&weekday) {
        return None;
    }
    let mut fields = rest.split(' ');
    let (day, month, year, time, zone) =
        (fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || zone != "GMT" || day.len() > 2 || year.len() != 4 {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let mut hms = time.split(':');
    let (hour, minute, second) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || hour.len() != 2 || minute.len() != 2 || second.len() != 2 {
        return None;
    }
    unix_seconds(i64::from(digits(year)?), month, digits(day)?, digits(hour)?, digits(minute)?, digits(second)?)
}

/// Format unix seconds as an RFC 1123 HTTP date (`Last-Modified`, `Date`).
pub fn format_http_date(unix: i64) -> String {
    let (year, month, day, hour, minute, second) = civil_time(unix);
    let weekday = WEEKDAYS_FROM_EPOCH[unix.div_euclid(SECS_PER_DAY).rem_euclid(7) as usize];
    let month = MONTHS[month as usize - 1];
    format!("{weekday}, {day:02} {month} {year:04} {hour:02}:{minute:02}:{second:02} GMT")
}

/// RequestTimeTooSkewed when the request time is more than `max_skew_secs` away from `now`, in
/// either direction.
pub fn check_clock_skew(request_time: i64, now: i64, max_skew_secs: i64) -> S3Result<()> {
    if request_time.abs_diff(now) > max_skew_secs.unsigned_abs() {
        return Err(crate::s3_error!(RequestTimeTooSkewed));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;
    use crate::time::{civil_from_days, days_from_civil, days_in_month};

    #[test]
    fn parses_and_formats_amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(1_369_353_600));
        assert_eq!(parse_amz_date("20000229T235959Z"), Some(951_868_799));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(format_yyyymmdd(1_440_938_160), "20150830");
        assert_eq!(format_amz_date(0), "19700101T000000Z");
        assert_eq!(format_amz_date(-1), "19691231T235959Z");
    }

    #[test]
    fn rejects_malformed_amz_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150830T123600z",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20150830T123600Z ",
            "20151330T123600Z",
            "20150230T123600Z",
            "21000229T000000Z",
            "20150800T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "2015083+T123600Z",
            "+0150830T123600Z",
            "20€150T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
        assert!(parse_amz_date("20000229T000000Z").is_some());
        assert!(parse_amz_date("20240229T000000Z").is_some());
    }

    #[test]
    fn round_trips_every_day_across_four_centuries() {
        // Day by day over 400 years covers every leap-year rule; days_from_civil and
        // civil_from_days must be inverses.
        let start = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2300, 1, 1);
        assert_eq!(end - start, 146_097);
        let mut expected = (1900, 1, 1);
        for days in start..end {
            let (year, month, day) = civil_from_days(days);
            assert_eq!((year, month, day), expected);
            assert_eq!(days_from_civil(year, month, day), days);
            let unix = days * SECS_PER_DAY + 45_296;
            assert_eq!(parse_amz_date(&format_amz_date(unix)), Some(unix));
            assert_eq!(parse_http_date(&format_http_date(unix)), Some(unix));
            expected = if day < days_in_month(year, month) {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
        }
    }

    #[test]
    fn parses_and_formats_http_dates() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(format_http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), Some(1_369_353_600));
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Noo 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn clock_skew_allows_fifteen_minutes_either_way() {
        let now = 1_440_938_160;
        assert!(check_clock_skew(now, now, MAX_CLOCK_SKEW_SECS).is_ok());
        assert!(check_clock_skew(now - 900, now, MAX_CLOCK_SKEW_SECS).is_ok());
        assert!(check_clock_skew(now + 900, now, MAX_CLOCK_SKEW_SECS).is_ok());
        for request_time in [now - 901, now + 901, i64::MIN, i64::MAX] {
            let err = check_clock_skew(request_time, now, MAX_CLOCK_SKEW_SECS).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::RequestTimeTooSkewed);
        }
    }
}
