//! Calendar arithmetic (proleptic Gregorian, UTC) and the ISO 8601 form S3 uses in XML. No time
//! crate: the few conversions needed are here, and the clock itself is never read.

pub const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds of a UTC date and time, or `None` if any field is out of range.
pub fn unix_seconds(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| {
        days_from_civil(year, month, day) * SECS_PER_DAY
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second)
    })
}

/// Split unix seconds into (year, month, day, hour, minute, second) in UTC.
pub fn civil_time(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let (year, month, day) = civil_from_days(unix.div_euclid(SECS_PER_DAY));
    let secs_of_day = unix.rem_euclid(SECS_PER_DAY) as u32;
    (year, month, day, secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)
}

/// Format unix milliseconds as S3 does in XML: ISO 8601 in UTC with milliseconds,
/// e.g. `2019-12-11T23:32:47.000Z`.
pub fn iso8601_millis(unix_millis: u64) -> String {
    let (year, month, day, hour, minute, second) = civil_time((unix_millis / 1000) as i64);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{:03}Z", unix_millis % 1000)
}

/// Parse S3's ISO 8601 timestamps (`2019-12-11T23:32:47.000Z`, fraction optional) into unix
/// milliseconds: the inverse of `iso8601_millis`.
pub fn parse_iso8601_millis(text: &str) -> Option<u64> {
    let text = text.trim().strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (date_parts.next()??, date_parts.next()??, date_parts.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock_parts = clock.splitn(3, ':').map(|p| p.parse::<u32>().ok());
    let (hour, minute, second) = (clock_parts.next()??, clock_parts.next()??, clock_parts.next()??);
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: u64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let secs = unix_seconds(i64::from(year), month, day, hour, minute, second)?;
    u64::try_from(secs).ok().map(|s| s * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats() {
        for millis in
            [0u64, 951_782_400_000, 1_576_107_167_000, 1_641_394_898_314, 1_709_251_199_999, 4_102_444_800_123]
        {
            assert_eq!(parse_iso8601_millis(&iso8601_millis(millis)), Some(millis));
        }
        assert_eq!(parse_iso8601_millis("2019-12-11T23:32:47Z"), Some(1_576_107_167_000));
        assert_eq!(parse_iso8601_millis("2019-12-11T23:32:47.5Z"), Some(1_576_107_167_500));
        for bad in ["", "2019-12-11", "2019-13-11T00:00:00Z", "2019-12-11T24:00:00Z", "x-12-11T00:00:00Z"] {
            assert_eq!(parse_iso8601_millis(bad), None, "{bad}");
        }
    }
}
