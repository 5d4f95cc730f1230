//! Times on the command line: RFC 3339 (`2026-12-01T00:00:00Z`, or with an offset), unix seconds
//! (`1798761600`), or a duration from now (`90s`, `30m`, `24h`, `7d`, `2w`, or sums like `1h30m`).
//!
//! Parsing is separate from the clock: [`parse_time`] only reads the text, and
//! [`TimeSpec::resolve`] turns it into unix seconds with the `now` that `main` read once.

use crate::time::{civil_time, unix_seconds};

/// A time as written, before the clock is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// An absolute time, unix seconds.
    At(i64),
    /// This many seconds after now.
    FromNow(i64),
}

impl TimeSpec {
    /// Unix seconds; `None` only when `now` plus the duration overflows.
    pub fn resolve(self, now: i64) -> Option<i64> {
        match self {
            TimeSpec::At(at) => Some(at),
            TimeSpec::FromNow(seconds) => now.checked_add(seconds),
        }
    }
}

/// Parse one time argument. The error names the accepted forms.
pub fn parse_time(text: &str) -> Result<TimeSpec, String> {
    let invalid = || {
        format!(
            "{text:?} is not a time: use RFC 3339 in UTC (2026-12-01T00:00:00Z), unix seconds (1798761600) \
             or a duration from now (30m, 24h, 7d)"
        )
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map(TimeSpec::At).map_err(|_| invalid());
    }
    if text.contains(['T', 't']) && text.contains('-') {
        return parse_rfc3339(text).map(TimeSpec::At).ok_or_else(invalid);
    }
    parse_duration(text).map(TimeSpec::FromNow).ok_or_else(invalid)
}

/// `1h30m`, `7d`, `45s`: one or more (digits, unit) pairs, units s, m, h, d, w. Seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let value: i64 = rest[..digits].parse().ok()?;
        let unit = match rest.as_bytes().get(digits)? {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            b'w' => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(value.checked_mul(unit)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` into unix seconds (a fraction is dropped).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, sep)| bytes.get(at) == Some(&sep)) || !matches!(bytes.get(10), Some(b'T' | b't')) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let offset = &rest.as_bytes()[1..];
            if offset.len() != 5
                || offset[2] != b':'
                || !offset.iter().enumerate().all(|(i, b)| i == 2 || b.is_ascii_digit())
            {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let local = unix_seconds(i64::from(year), month, day, hour, minute, second)?;
    Some(local - offset)
}

/// Unix seconds as RFC 3339 in UTC, for messages: `2026-12-01T00:00:00Z`.
pub fn format_rfc3339(unix: i64) -> String {
    let (year, month, day, hour, minute, second) = civil_time(unix);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn durations_count_from_now() {
        for (text, seconds) in [
            ("0s", 0),
            ("45s", 45),
            ("30m", 1800),
            ("24h", 86_400),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("1h30m", 5400),
            ("1d12h", 129_600),
        ] {
            assert_eq!(parse_time(text), Ok(TimeSpec::FromNow(seconds)), "{text}");
            assert_eq!(parse_time(text).unwrap().resolve(NOW), Some(NOW + seconds), "{text}");
        }
    }

    #[test]
    fn unix_seconds_are_absolute() {
        assert_eq!(parse_time("1798761600"), Ok(TimeSpec::At(1_798_761_600)));
        assert_eq!(parse_time("0"), Ok(TimeSpec::At(0)));
        assert_eq!(parse_time(" 1798761600 "), Ok(TimeSpec::At(1_798_761_600)));
        assert_eq!(TimeSpec::At(5).resolve(NOW), Some(5));
    }

    #[test]
    fn rfc3339_in_utc_and_with_offsets() {
        assert_eq!(parse_time("2026-12-01T00:00:00Z"), Ok(TimeSpec::At(1_796_083_200)));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(TimeSpec::At(0)));
        assert_eq!(parse_time("2026-12-01t00:00:00z"), Ok(TimeSpec::At(1_796_083_200)));
        assert_eq!(parse_time("2026-12-01T00:00:00.999Z"), Ok(TimeSpec::At(1_796_083_200)));
        assert_eq!(parse_time("2026-12-01T02:00:00+02:00"), Ok(TimeSpec::At(1_796_083_200)));
        assert_eq!(parse_time("2026-11-30T19:30:00-04:30"), Ok(TimeSpec::At(1_796_083_200)));
        assert_eq!(parse_time("2028-02-29T12:00:00Z"), Ok(TimeSpec::At(1_835_438_400)));
        assert_eq!(format_rfc3339(1_796_083_200), "2026-12-01T00:00:00Z");
        assert_eq!(parse_rfc3339(&format_rfc3339(NOW)), Some(NOW));
    }

    #[test]
    fn bad_times_are_refused_with_the_accepted_forms() {
        for bad in [
            "",
            "  ",
            "tomorrow",
            "30",
            "m",
            "30x",
            "30mm",
            "-30m",
            "1.5h",
            "30 m",
            "2026-12-01",
            "2026-12-01T00:00Z",
            "2026-12-01T00:00:00",
            "2026-12-01T00:00:00+0200",
            "2026-12-01T00:00:00+24:00",
            "2026-13-01T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T23:59:60Z",
            "2026-12-01T00:00:00.Z",
            "2026-12-01 00:00:00Z",
            "+2026-12-01T00:00:00Z",
            "99999999999999999999",
            "9999999999999999999w",
        ] {
            let result = parse_time(bad);
            // "30" is unix second 30: a valid (if long past) time, refused later as in the past.
            if bad == "30" {
                assert_eq!(result, Ok(TimeSpec::At(30)));
                continue;
            }
            let err = result.expect_err(bad);
            assert!(err.contains("RFC 3339") && err.contains("24h"), "{err}");
        }
        assert_eq!(TimeSpec::FromNow(i64::MAX).resolve(NOW), None);
    }
}
