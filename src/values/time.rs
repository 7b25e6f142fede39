//! RFC 3339 times as unix seconds, and the civil-calendar arithmetic shared with cron schedules.
//!
//! Times are kept as whole unix seconds in UTC; fractional seconds are accepted and truncated.

use std::fmt;

/// Why a text is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    /// What is wrong.
    pub message: String,
    /// How to fix it, where known.
    pub help: Option<String>,
}

impl TimeError {
    fn new(message: impl Into<String>, help: Option<String>) -> Self {
        TimeError {
            message: message.into(),
            help,
        }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TimeError {}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Whether `y` is a leap year of the proleptic Gregorian calendar.
pub fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The number of days of month `m` (1-12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (month 1-12, day 1-31).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day of the week of a count of days since 1970-01-01: 0 = Sunday ... 6 = Saturday.
pub fn weekday_from_days(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (days + 4).rem_euclid(7) as u32
}

/// The current time in unix seconds.
pub fn now_unix() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Formats unix seconds as an RFC 3339 time in UTC, such as `2026-11-25T01:22:46Z`.
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 time, such as `2026-11-25T01:22:46Z` or `2026-11-25T02:22:46.5+01:00`,
/// into unix seconds. Fractional seconds are truncated; `t` and `z` may be lowercase.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    let not_time = |help: &str| {
        TimeError::new(
            format!("`{s}` is not an RFC 3339 time"),
            Some(help.to_string()),
        )
    };
    let example = "write a time such as `2026-11-25T01:22:46Z`";
    if s.is_empty() {
        return Err(TimeError::new(
            "the time is empty",
            Some(example.to_string()),
        ));
    }
    if s.trim() != s {
        return Err(not_time(&format!(
            "remove the surrounding spaces: `{}`",
            s.trim()
        )));
    }
    let b = s.as_bytes();

    // Date: YYYY-MM-DD.
    let date_ok = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    if !date_ok {
        return Err(not_time(
            "write the date as `YYYY-MM-DD` followed by a time, such as `2026-11-25T01:22:46Z`",
        ));
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter().fold(0, |n, c| n * 10 + u32::from(c - b'0'))
    };
    let year = i64::from(num(0..4));
    let month = num(5..7);
    let day = num(8..10);
    if !(1..=12).contains(&month) {
        return Err(TimeError::new(
            format!("`{s}` has month {month}, which is out of range 1-12"),
            None,
        ));
    }
    let dim = days_in_month(year, month);
    if day < 1 || day > dim {
        return Err(TimeError::new(
            format!(
                "`{s}` has day {day}, but {} {year} has {dim} days",
                MONTH_NAMES[month as usize - 1]
            ),
            None,
        ));
    }
    let date = &s[..10];
    if b.len() == 10 {
        return Err(TimeError::new(
            format!("`{s}` is a date without a time"),
            Some(format!("add a time and offset, e.g. `{date}T00:00:00Z`")),
        ));
    }
    match b[10] {
        b'T' | b't' => {}
        b' ' | b'_' => {
            return Err(not_time(&format!(
                "separate the date and the time with `T`: `{date}T{}`",
                &s[11..]
            )))
        }
        _ => return Err(not_time(example)),
    }

    // Time: HH:MM:SS.
    let t = &b[11..];
    let time_ok = t.len() >= 8
        && t[..2].iter().all(u8::is_ascii_digit)
        && t[2] == b':'
        && t[3..5].iter().all(u8::is_ascii_digit)
        && t[5] == b':'
        && t[6..8].iter().all(u8::is_ascii_digit);
    if !time_ok {
        let is_hh_mm = t.len() >= 5
            && t[..2].iter().all(u8::is_ascii_digit)
            && t[2] == b':'
            && t[3..5].iter().all(u8::is_ascii_digit)
            && (t.len() == 5 || !t[5].is_ascii_digit() && t[5] != b':');
        if is_hh_mm {
            return Err(not_time(&format!(
                "add the seconds: `{}:00{}`",
                &s[..16],
                &s[16..]
            )));
        }
        return Err(not_time(
            "write the time as `HH:MM:SS`, such as `01:22:46Z`",
        ));
    }
    let hour = num(11..13);
    let minute = num(14..16);
    let second = num(17..19);
    if hour > 23 {
        return Err(TimeError::new(
            format!("`{s}` has hour {hour}, which is out of range 0-23"),
            None,
        ));
    }
    if minute > 59 {
        return Err(TimeError::new(
            format!("`{s}` has minute {minute}, which is out of range 0-59"),
            None,
        ));
    }
    if second > 59 {
        return Err(TimeError::new(
            format!("`{s}` has second {second}, which is out of range 0-59"),
            None,
        ));
    }

    // Fractional seconds.
    let mut pos = 19;
    if pos < b.len() && b[pos] == b'.' {
        let start = pos + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return Err(not_time(
                "write digits after the decimal point, or remove it",
            ));
        }
        pos = end;
    } else if pos < b.len() && b[pos] == b',' {
        return Err(not_time("use a dot before fractional seconds"));
    }

    // Offset: Z or +HH:MM / -HH:MM.
    let offset_help = "add `Z` for UTC or an offset such as `+01:00`";
    let rest = &s[pos..];
    let offset_secs: i64 = match rest.as_bytes() {
        [] => {
            return Err(TimeError::new(
                format!("`{s}` has no offset"),
                Some(offset_help.to_string()),
            ))
        }
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2]
            if [oh1, oh2, om1, om2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let oh = i64::from((oh1 - b'0') * 10 + (oh2 - b'0'));
            let om = i64::from((om1 - b'0') * 10 + (om2 - b'0'));
            if oh > 23 || om > 59 {
                return Err(TimeError::new(
                    format!("`{s}` has the offset `{rest}`, which is out of range"),
                    Some("offsets go from `-23:59` to `+23:59`".to_string()),
                ));
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        [sign @ (b'+' | b'-'), h1, h2, m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            return Err(not_time(&format!(
                "write the offset with a colon: `{}{}{}:{}{}`",
                *sign as char, *h1 as char, *h2 as char, *m1 as char, *m2 as char
            )))
        }
        [sign @ (b'+' | b'-'), h1, h2] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
            return Err(not_time(&format!(
                "write the offset with minutes: `{}{}{}:00`",
                *sign as char, *h1 as char, *h2 as char
            )))
        }
        _ if rest.eq_ignore_ascii_case("utc") || rest.eq_ignore_ascii_case(" utc") => {
            return Err(not_time(&format!("write `Z` for UTC: `{}Z`", &s[..pos])))
        }
        _ => {
            return Err(TimeError::new(
                format!("`{s}` has the offset `{rest}`, which is not `Z` or `+HH:MM`"),
                Some(offset_help.to_string()),
            ))
        }
    };

    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Ok(local - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> TimeError {
        parse_rfc3339(s).expect_err(s)
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m));
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday_from_days(0), 4); // 1970-01-01 Thursday
        assert_eq!(weekday_from_days(days_from_civil(2026, 11, 25)), 3); // Wednesday
        assert_eq!(weekday_from_days(days_from_civil(2000, 1, 1)), 6); // Saturday
        assert_eq!(weekday_from_days(-1), 3);
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2026));
        assert_eq!(days_in_month(2028, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
    }

    #[test]
    fn parses_utc() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2026-11-25T01:22:46Z").unwrap(),
            1_795_569_766
        );
        assert_eq!(
            parse_rfc3339("2026-11-25t01:22:46z").unwrap(),
            1_795_569_766
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap(), -1);
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00Z").unwrap(),
            1_709_208_000
        );
    }

    #[test]
    fn parses_offsets_and_fractions() {
        let utc = parse_rfc3339("2026-11-25T01:22:46Z").unwrap();
        assert_eq!(parse_rfc3339("2026-11-25T03:22:46+02:00").unwrap(), utc);
        assert_eq!(parse_rfc3339("2026-11-24T20:52:46-04:30").unwrap(), utc);
        assert_eq!(parse_rfc3339("2026-11-25T01:22:46-00:00").unwrap(), utc);
        assert_eq!(parse_rfc3339("2026-11-25T01:22:46.999Z").unwrap(), utc);
        assert_eq!(
            parse_rfc3339("2026-11-25T01:22:46.123456789+00:00").unwrap(),
            utc
        );
    }

    #[test]
    fn formats() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_569_766), "2026-11-25T01:22:46Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        for s in [-86_401, 0, 951_782_400, 1_795_569_766, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(s)).unwrap(), s);
        }
    }

    #[test]
    fn now_is_recent() {
        // After 2020-01-01.
        assert!(now_unix() > 1_577_836_800);
    }

    #[test]
    fn date_without_time() {
        let e = err("2026-11-20");
        assert_eq!(e.message, "`2026-11-20` is a date without a time");
        assert_eq!(
            e.help.as_deref(),
            Some("add a time and offset, e.g. `2026-11-20T00:00:00Z`")
        );
    }

    #[test]
    fn missing_offset() {
        let e = err("2026-11-20T10:00:00");
        assert_eq!(e.message, "`2026-11-20T10:00:00` has no offset");
        assert_eq!(
            e.help.as_deref(),
            Some("add `Z` for UTC or an offset such as `+01:00`")
        );
        assert!(err("2026-11-20T10:00:00.5").help.unwrap().contains("`Z`"));
    }

    #[test]
    fn out_of_range_fields() {
        assert!(err("2026-13-01T00:00:00Z").message.contains("month 13"));
        assert!(err("2026-00-01T00:00:00Z").message.contains("month 0"));
        assert_eq!(
            err("2026-02-29T00:00:00Z").message,
            "`2026-02-29T00:00:00Z` has day 29, but February 2026 has 28 days"
        );
        assert!(parse_rfc3339("2028-02-29T00:00:00Z").is_ok());
        assert!(err("1900-02-29T00:00:00Z").message.contains("day 29"));
        assert!(err("2026-04-31T00:00:00Z")
            .message
            .contains("April 2026 has 30 days"));
        assert!(err("2026-04-00T00:00:00Z").message.contains("day 0"));
        assert!(err("2026-04-01T24:00:00Z").message.contains("hour 24"));
        assert!(err("2026-04-01T23:60:00Z").message.contains("minute 60"));
        assert!(err("2026-04-01T23:59:60Z").message.contains("second 60"));
        assert!(err("2026-04-01T23:59:59+24:00")
            .message
            .contains("out of range"));
    }

    #[test]
    fn malformed() {
        assert_eq!(err("").message, "the time is empty");
        for s in [
            "yesterday",
            "2026-1-01T00:00:00Z",
            "26-11-20T00:00:00Z",
            "2026/11/20T00:00:00Z",
            "2026-11-20X00:00:00Z",
            "2026-11-20T0:00:00Z",
            "2026-11-20T00:00:00.Z",
            "2026-11-20T00:00:00+1",
            "2026-11-20T00:00:00ZZ",
        ] {
            let e = err(s);
            assert!(e.message.starts_with(&format!("`{s}`")), "{s}: {e:?}");
            assert!(e.help.is_some(), "{s}");
        }
    }

    #[test]
    fn helpful_fixes() {
        assert_eq!(
            err("2026-11-20 10:00:00Z").help.as_deref(),
            Some("separate the date and the time with `T`: `2026-11-20T10:00:00Z`")
        );
        assert_eq!(
            err("2026-11-20T10:00Z").help.as_deref(),
            Some("add the seconds: `2026-11-20T10:00:00Z`")
        );
        assert_eq!(
            err("2026-11-20T10:00:00+0100").help.as_deref(),
            Some("write the offset with a colon: `+01:00`")
        );
        assert_eq!(
            err("2026-11-20T10:00:00+01").help.as_deref(),
            Some("write the offset with minutes: `+01:00`")
        );
        assert_eq!(
            err("2026-11-20T10:00:00UTC").help.as_deref(),
            Some("write `Z` for UTC: `2026-11-20T10:00:00Z`")
        );
        assert_eq!(
            err(" 2026-11-20T10:00:00Z").help.as_deref(),
            Some("remove the surrounding spaces: `2026-11-20T10:00:00Z`")
        );
    }
}
