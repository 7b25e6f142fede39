//! Durations such as retention periods, written as numbers with units: `14d`, `1d12h`, `90m`.
//!
//! Units are `s` (seconds), `m` (minutes), `h` (hours), `d` (days) and `w` (weeks), combined in
//! any order. Months and years are not units because their length varies.

use std::fmt;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    /// What is wrong.
    pub message: String,
    /// How to fix it, where known.
    pub help: Option<String>,
}

impl DurationError {
    fn new(message: impl Into<String>, help: impl Into<Option<String>>) -> Self {
        DurationError {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DurationError {}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;

fn unit_seconds(unit: &str) -> Option<u64> {
    match unit {
        "s" => Some(1),
        "m" => Some(MINUTE),
        "h" => Some(HOUR),
        "d" => Some(DAY),
        "w" => Some(WEEK),
        _ => None,
    }
}

/// The unit meant by a spelling that is not one, such as `days` or `H`.
fn unit_alias(unit: &str) -> Option<&'static str> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "w" | "wk" | "wks" | "week" | "weeks" => "w",
        _ => return None,
    })
}

fn is_calendar_unit(unit: &str) -> bool {
    matches!(
        unit.to_ascii_lowercase().as_str(),
        "y" | "yr" | "yrs" | "year" | "years" | "mo" | "mon" | "mos" | "month" | "months"
    ) || unit == "M"
}

/// Parses a duration such as `14d`, `1d12h`, `2w` or `90m` into seconds. The result is never
/// zero.
pub fn parse_duration(s: &str) -> Result<u64, DurationError> {
    let example = "write a number and a unit (`s`, `m`, `h`, `d` or `w`), such as `14d` or `1d12h`";
    if s.trim().is_empty() {
        return Err(DurationError::new(
            "the duration is empty",
            example.to_string(),
        ));
    }
    if s.contains(char::is_whitespace) {
        let joined: String = s.split_whitespace().collect();
        return Err(DurationError::new(
            format!("`{s}` is not a duration: it contains spaces"),
            format!("remove the spaces: `{joined}`"),
        ));
    }
    if let Some(rest) = s.strip_prefix('-') {
        return Err(DurationError::new(
            format!("`{s}` is negative"),
            format!("durations count forward; write `{rest}`"),
        ));
    }
    let body = s.strip_prefix('+').unwrap_or(s);

    // Split into (number, unit) parts.
    let mut total: u64 = 0;
    let mut rest = body;
    let mut consumed = s.len() - body.len();
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.' && c != ',')
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        let after = &rest[num_len..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c == ',')
            .unwrap_or(after.len());
        let unit = &after[..unit_len];
        let part_start = consumed;
        let unit_start = consumed + num_len;
        consumed += num_len + unit_len;
        rest = &after[unit_len..];

        if number.is_empty() {
            return Err(DurationError::new(
                format!("`{s}` is not a duration: `{unit}` has no number before it"),
                example.to_string(),
            ));
        }
        if unit.is_empty() {
            let help = if part_start == 0 && rest.is_empty() && !number.contains(['.', ',']) {
                format!("add a unit: `{number}d`")
            } else {
                format!("add a unit (`s`, `m`, `h`, `d` or `w`) after `{number}`")
            };
            return Err(DurationError::new(format!("`{s}` has no unit"), help));
        }
        let Some(unit_secs) = unit_seconds(unit) else {
            let replaced =
                |with: &str| format!("{}{with}{}", &s[..unit_start], &s[unit_start + unit_len..]);
            let help = if is_calendar_unit(unit) {
                "months and years vary in length; use days, e.g. `365d`".to_string()
            } else if let Some(u) = unit_alias(unit) {
                format!("use `{}`", replaced(u))
            } else if unit.eq_ignore_ascii_case("ms")
                || unit.eq_ignore_ascii_case("us")
                || unit.eq_ignore_ascii_case("ns")
            {
                "durations are counted in whole seconds; use `s` or a larger unit".to_string()
            } else {
                "use the units `s`, `m`, `h`, `d` or `w`, such as `14d` or `1d12h`".to_string()
            };
            return Err(DurationError::new(
                format!("`{s}` has the unknown unit `{unit}`"),
                help,
            ));
        };
        if number.contains(['.', ',']) {
            return Err(DurationError::new(
                format!("`{s}` is not a duration: `{number}{unit}` is not a whole number"),
                fraction_help(number, unit_secs),
            ));
        }
        let too_large = || {
            DurationError::new(
                format!("`{s}` is too large"),
                "use a duration of at most a few thousand years".to_string(),
            )
        };
        let n: u64 = number.parse().map_err(|_| too_large())?;
        let part = n.checked_mul(unit_secs).ok_or_else(too_large)?;
        total = total.checked_add(part).ok_or_else(too_large)?;
    }
    if total == 0 {
        return Err(DurationError::new(
            format!("the duration `{s}` must be longer than zero"),
            "write a positive duration, such as `1d`".to_string(),
        ));
    }
    Ok(total)
}

/// Help for a fractional number of a unit: the same duration in whole smaller units, if exact.
fn fraction_help(number: &str, unit_secs: u64) -> String {
    let generic = "use whole numbers of a smaller unit, such as `36h` for one and a half days";
    let normalized = number.replace(',', ".");
    let Some((int, frac)) = normalized.split_once('.') else {
        return generic.to_string();
    };
    if normalized.matches('.').count() > 1 || frac.len() > 9 {
        return generic.to_string();
    }
    let int: u64 = if int.is_empty() {
        0
    } else {
        match int.parse() {
            Ok(n) => n,
            Err(_) => return generic.to_string(),
        }
    };
    let frac_digits: u64 = if frac.is_empty() {
        0
    } else {
        match frac.parse() {
            Ok(n) => n,
            Err(_) => return generic.to_string(),
        }
    };
    let scale = 10u64.pow(frac.len() as u32);
    let Some(whole) = int.checked_mul(unit_secs) else {
        return generic.to_string();
    };
    let Some(frac_scaled) = frac_digits.checked_mul(unit_secs) else {
        return generic.to_string();
    };
    if frac_scaled % scale != 0 {
        return generic.to_string();
    }
    match whole.checked_add(frac_scaled / scale) {
        Some(secs) if secs > 0 => format!(
            "use whole numbers of smaller units: `{}`",
            format_duration(secs)
        ),
        _ => generic.to_string(),
    }
}

/// Formats seconds compactly with days, hours, minutes and seconds, leaving out zero parts:
/// `1209600` -> `14d`, `129600` -> `1d12h`, `90` -> `1m30s`, `0` -> `0s`. The result parses
/// back with [`parse_duration`] (for non-zero values).
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)] {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// Formats an age for people, rounded down to its largest unit or two:
///
/// - under a minute: seconds (`45s`);
/// - under ten minutes: minutes and seconds (`3m`, `3m20s`);
/// - under an hour: minutes (`42m`);
/// - under ten hours: hours and minutes (`2h`, `2h5m`);
/// - under a day: hours (`17h`);
/// - under a week: days and hours (`4d`, `1d6h`);
/// - under ten weeks: weeks and days (`2w`, `2w3d`);
/// - from ten weeks on: weeks (`52w`).
///
/// A second unit is shown only when it is not zero.
pub fn format_age(secs: u64) -> String {
    let two = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        let (a, b) = (secs / big, secs % big / small);
        if b == 0 {
            format!("{a}{big_unit}")
        } else {
            format!("{a}{big_unit}{b}{small_unit}")
        }
    };
    if secs < MINUTE {
        format!("{secs}s")
    } else if secs < 10 * MINUTE {
        two(MINUTE, "m", 1, "s")
    } else if secs < HOUR {
        format!("{}m", secs / MINUTE)
    } else if secs < 10 * HOUR {
        two(HOUR, "h", MINUTE, "m")
    } else if secs < DAY {
        format!("{}h", secs / HOUR)
    } else if secs < WEEK {
        two(DAY, "d", HOUR, "h")
    } else if secs < 10 * WEEK {
        two(WEEK, "w", DAY, "d")
    } else {
        format!("{}w", secs / WEEK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> DurationError {
        parse_duration(s).expect_err(s)
    }

    #[test]
    fn parses_single_units() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        assert_eq!(parse_duration("36h").unwrap(), 129_600);
        assert_eq!(parse_duration("14d").unwrap(), 1_209_600);
        assert_eq!(parse_duration("2w").unwrap(), 1_209_600);
        assert_eq!(parse_duration("+1d").unwrap(), 86_400);
        assert_eq!(parse_duration("007d").unwrap(), 7 * 86_400);
    }

    #[test]
    fn parses_combinations() {
        assert_eq!(parse_duration("1d12h").unwrap(), 129_600);
        assert_eq!(parse_duration("1w2d3h4m5s").unwrap(), 788_645);
        assert_eq!(parse_duration("12h1d").unwrap(), 129_600);
        assert_eq!(parse_duration("0d1s").unwrap(), 1);
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(err("").message, "the duration is empty");
        assert_eq!(err("  ").message, "the duration is empty");
        assert!(err("").help.is_some());
    }

    #[test]
    fn rejects_missing_unit() {
        let e = err("14");
        assert_eq!(e.message, "`14` has no unit");
        assert_eq!(e.help.as_deref(), Some("add a unit: `14d`"));
        let e = err("1d12");
        assert_eq!(e.message, "`1d12` has no unit");
        assert!(e.help.unwrap().contains("after `12`"));
    }

    #[test]
    fn rejects_unknown_units() {
        let e = err("14days");
        assert_eq!(e.message, "`14days` has the unknown unit `days`");
        assert_eq!(e.help.as_deref(), Some("use `14d`"));
        assert_eq!(err("1d12hours").help.as_deref(), Some("use `1d12h`"));
        assert_eq!(err("2W").help.as_deref(), Some("use `2w`"));
        assert_eq!(err("5min").help.as_deref(), Some("use `5m`"));
        let calendar = "months and years vary in length; use days, e.g. `365d`";
        for s in ["1y", "1mo", "2years", "1M", "3months"] {
            assert_eq!(err(s).help.as_deref(), Some(calendar), "{s}");
        }
        assert!(err("500ms").help.unwrap().contains("whole seconds"));
        assert!(err("5x")
            .help
            .unwrap()
            .contains("`s`, `m`, `h`, `d` or `w`"));
        assert!(err("d").message.contains("no number"));
        assert!(err("1d-2h").message.contains("unknown unit `d-`"));
    }

    #[test]
    fn rejects_zero() {
        let e = err("0d");
        assert_eq!(e.message, "the duration `0d` must be longer than zero");
        assert!(e.help.is_some());
        assert!(err("0s0m").message.contains("must be longer than zero"));
    }

    #[test]
    fn rejects_negative() {
        let e = err("-1d");
        assert_eq!(e.message, "`-1d` is negative");
        assert_eq!(
            e.help.as_deref(),
            Some("durations count forward; write `1d`")
        );
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(
            err("99999999999999999999s").message,
            "`99999999999999999999s` is too large"
        );
        assert!(err("3000000000000000w").message.contains("too large"));
        assert!(err("18446744073709551615s1s").message.contains("too large"));
        assert_eq!(parse_duration("18446744073709551615s").unwrap(), u64::MAX);
    }

    #[test]
    fn rejects_fractions_with_a_fix() {
        let e = err("1.5d");
        assert!(e.message.contains("not a whole number"));
        assert_eq!(
            e.help.as_deref(),
            Some("use whole numbers of smaller units: `1d12h`")
        );
        assert_eq!(
            err("0,5h").help.as_deref(),
            Some("use whole numbers of smaller units: `30m`")
        );
        assert!(err("1.3333s").help.unwrap().contains("smaller unit"));
    }

    #[test]
    fn rejects_spaces() {
        let e = err("1d 12h");
        assert_eq!(e.help.as_deref(), Some("remove the spaces: `1d12h`"));
        assert!(err("14 d").message.contains("spaces"));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(1), "1s");
        assert_eq!(format_duration(90), "1m30s");
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(129_600), "1d12h");
        assert_eq!(format_duration(1_209_600), "14d");
        assert_eq!(format_duration(90_061), "1d1h1m1s");
        for s in [
            1,
            59,
            61,
            3599,
            86_399,
            86_401,
            1_209_600,
            31_536_000,
            u64::MAX,
        ] {
            assert_eq!(parse_duration(&format_duration(s)).unwrap(), s);
        }
    }

    #[test]
    fn formats_ages() {
        assert_eq!(format_age(0), "0s");
        assert_eq!(format_age(45), "45s");
        assert_eq!(format_age(180), "3m");
        assert_eq!(format_age(200), "3m20s");
        assert_eq!(format_age(42 * 60 + 59), "42m");
        assert_eq!(format_age(2 * 3600), "2h");
        assert_eq!(format_age(2 * 3600 + 5 * 60 + 30), "2h5m");
        assert_eq!(format_age(17 * 3600 + 59 * 60), "17h");
        assert_eq!(format_age(4 * 86_400), "4d");
        assert_eq!(format_age(30 * 3600), "1d6h");
        assert_eq!(format_age(14 * 86_400), "2w");
        assert_eq!(format_age(17 * 86_400 + 3600), "2w3d");
        assert_eq!(format_age(365 * 86_400), "52w");
    }
}
