//! Kubernetes CronJob schedules: five-field cron expressions and `@daily`-style macros, parsed
//! the way Kubernetes does (robfig/cron's standard parser), and their next run times in UTC.
//!
//! Fields: minute (0-59), hour (0-23), day-of-month (1-31), month (1-12 or `JAN`-`DEC`) and
//! day-of-week (0-6 or `SUN`-`SAT`; Kubernetes rejects `7`). Each field is `*` or `?` (any), or a
//! list of values, ranges `a-b` and steps `*/n`, `a-b/n`, `a/n` (from `a` to the maximum).
//! Names are case-insensitive. When both day-of-month and day-of-week are restricted, a day
//! matches if either matches.

use std::fmt;
use std::ops::Range;

use super::time::{civil_from_days, days_from_civil, weekday_from_days};

/// When a CronJob runs: the allowed minutes, hours, days, months and weekdays.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CronSchedule {
    /// Bit `n` set: minute `n` (0-59).
    minutes: u64,
    /// Bit `n` set: hour `n` (0-23).
    hours: u32,
    /// Bit `n` set: day-of-month `n` (1-31).
    days_of_month: u32,
    /// Bit `n` set: month `n` (1-12).
    months: u16,
    /// Bit `n` set: weekday `n` (0 = Sunday ... 6 = Saturday).
    days_of_week: u8,
    /// The day-of-month field was `*` or `?`.
    dom_star: bool,
    /// The day-of-week field was `*` or `?`.
    dow_star: bool,
}

/// Why a text is not a cron schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// What is wrong.
    pub message: String,
    /// The byte range inside the expression that is wrong.
    pub span: Range<usize>,
    /// How to fix it, where known.
    pub help: Option<String>,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CronError {}

fn error(message: impl Into<String>, span: Range<usize>, help: impl Into<String>) -> CronError {
    CronError {
        message: message.into(),
        span,
        help: Some(help.into()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const FIELDS: [Field; 5] = [
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
];

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 6),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &DAY_NAMES,
            _ => &[],
        }
    }

    fn range_help(self) -> String {
        let (min, max) = self.bounds();
        match self {
            Field::Month => "use 1-12 or `JAN`-`DEC`".to_string(),
            Field::DayOfWeek => "use 0-6 or `SUN`-`SAT`".to_string(),
            _ => format!("use a value from {min} to {max}"),
        }
    }
}

const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const MACRO_LIST: &str =
    "use one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` or `@hourly`, or five fields";

/// The whitespace-separated tokens of `s`, with their byte ranges.
fn tokens(s: &str) -> Vec<(&str, Range<usize>)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(st)) => {
                out.push((&s[st..i], st..i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((&s[st..], st..s.len()));
    }
    out
}

/// Parses a Kubernetes CronJob schedule such as `0 2 * * *`, `*/15 * * * MON-FRI` or `@daily`.
pub fn parse_cron(expr: &str) -> Result<CronSchedule, CronError> {
    let toks = tokens(expr);
    let Some((first, first_span)) = toks.first().cloned() else {
        return Err(error(
            "the schedule is empty",
            0..expr.len(),
            "write five fields (minute hour day-of-month month day-of-week), such as `0 2 * * *`",
        ));
    };
    let whole = first_span.start..toks.last().map_or(expr.len(), |t| t.1.end);

    let upper = first.to_ascii_uppercase();
    if upper.starts_with("TZ=") || upper.starts_with("CRON_TZ=") {
        return Err(error(
            format!("the schedule sets its time zone with `{first}`"),
            first_span,
            "use the schedule's `timezone` setting instead",
        ));
    }

    if first.starts_with('@') {
        let Some((_, fields)) = MACROS.iter().find(|(m, _)| *m == first) else {
            let lower = first.to_ascii_lowercase();
            let (message, help) = if MACROS.iter().any(|(m, _)| *m == lower) {
                (
                    format!("the macro `{first}` must be lowercase"),
                    format!("write `{lower}`"),
                )
            } else if lower == "@reboot" {
                (
                    "`@reboot` is not supported by Kubernetes".to_string(),
                    MACRO_LIST.to_string(),
                )
            } else if lower == "@every" {
                (
                    "`@every` is not supported here".to_string(),
                    "write the interval as fields, such as `*/15 * * * *` for every 15 minutes"
                        .to_string(),
                )
            } else {
                (format!("unknown macro `{first}`"), MACRO_LIST.to_string())
            };
            return Err(error(message, first_span, help));
        };
        if toks.len() > 1 {
            let extra = toks[1].1.start..whole.end;
            return Err(error(
                format!("the macro `{first}` takes no fields"),
                extra,
                format!("remove the fields after `{first}`, or write five fields instead"),
            ));
        }
        return Ok(parse_cron(fields).expect("built-in macros are valid"));
    }

    if toks.len() != 5 {
        let help = match toks.len() {
            6 => "Kubernetes CronJobs use 5 fields (minute hour day-of-month month day-of-week); remove the seconds field",
            7 => "Kubernetes CronJobs use 5 fields (minute hour day-of-month month day-of-week); remove the seconds and year fields",
            _ => "Kubernetes CronJobs use 5 fields (minute hour day-of-month month day-of-week), such as `0 2 * * *`",
        };
        let n = toks.len();
        let message = format!(
            "the schedule has {n} field{}, but Kubernetes CronJobs use 5",
            if n == 1 { "" } else { "s" }
        );
        return Err(error(message, whole, help));
    }

    let mut bits = [0u64; 5];
    let mut stars = [false; 5];
    for (i, (text, span)) in toks.iter().enumerate() {
        let (b, star) = parse_field(text, span.start, FIELDS[i])?;
        bits[i] = b;
        stars[i] = star;
    }
    Ok(CronSchedule {
        minutes: bits[0],
        hours: bits[1] as u32,
        days_of_month: bits[2] as u32,
        months: bits[3] as u16,
        days_of_week: bits[4] as u8,
        dom_star: stars[2],
        dow_star: stars[4],
    })
}

/// Parses one field starting at byte `offset` of the expression: (bits, whether it was a star).
fn parse_field(text: &str, offset: usize, field: Field) -> Result<(u64, bool), CronError> {
    let fname = field.name();
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || "*?,-/".contains(*c)))
    {
        let span = offset + i..offset + i + c.len_utf8();
        let help = match c {
            '#' => "Kubernetes does not support `#` (nth weekday of the month)".to_string(),
            _ => "fields use numbers, names, `*`, `?`, `,`, `-` and `/`".to_string(),
        };
        return Err(error(
            format!("unexpected character `{c}` in the {fname} field"),
            span,
            help,
        ));
    }

    let mut bits = 0u64;
    let mut star = false;
    let mut item_start = 0;
    let items: Vec<&str> = text.split(',').collect();
    let count = items.len();
    for (idx, item) in items.into_iter().enumerate() {
        let start = offset + item_start;
        if item.is_empty() {
            // Point at the comma next to the empty item.
            let comma = if idx + 1 < count { start } else { start - 1 };
            let message = if count == 1 {
                format!("the {fname} field is empty")
            } else {
                format!("the {fname} field has an empty list item")
            };
            return Err(error(message, comma..comma + 1, "remove the extra comma"));
        }
        let (b, s) = parse_item(item, start, field)?;
        bits |= b;
        star |= s;
        item_start += item.len() + 1;
    }
    Ok((bits, star))
}

/// Parses one list item (`*`, `5`, `1-5`, `*/15`, `1-30/5`, `5/10`) at byte `offset`.
fn parse_item(item: &str, offset: usize, field: Field) -> Result<(u64, bool), CronError> {
    let fname = field.name();
    let (min, max) = field.bounds();
    let span_all = offset..offset + item.len();
    let parts: Vec<&str> = item.split('/').collect();
    if parts.len() > 2 {
        let second = offset + parts[0].len() + 1 + parts[1].len();
        return Err(error(
            format!("too many `/` in the {fname} field"),
            second..second + 1,
            "write one step, such as `*/15` or `0-30/5`",
        ));
    }
    let range_text = parts[0];
    let range_span = offset..offset + range_text.len();
    if range_text.is_empty() {
        return Err(error(
            format!("the step in the {fname} field has no range before it"),
            span_all,
            format!("write `*/{}` for every step from the start", parts[1]),
        ));
    }

    let (mut start, mut end, is_star, single) = if range_text == "*" || range_text == "?" {
        (min, max, true, false)
    } else {
        let ends: Vec<&str> = range_text.split('-').collect();
        if ends.len() > 2 {
            return Err(error(
                format!("the range `{range_text}` in the {fname} field has too many `-`"),
                range_span,
                "write a range as `start-end`, such as `1-5`",
            ));
        }
        let missing = |at: usize| {
            error(
                format!("the range `{range_text}` in the {fname} field is missing a value"),
                at..at + 1,
                "write a range as `start-end`, such as `1-5`",
            )
        };
        if ends.len() == 2 && ends[0].is_empty() {
            return Err(missing(offset));
        }
        if ends.len() == 2 && ends[1].is_empty() {
            return Err(missing(offset + ends[0].len()));
        }
        let lo = parse_value(ends[0], offset, field)?;
        if ends.len() == 1 {
            (lo, lo, false, true)
        } else {
            let hi_offset = offset + ends[0].len() + 1;
            let hi = parse_value(ends[1], hi_offset, field)?;
            if lo > hi {
                return Err(error(
                    format!("the {fname} range `{range_text}` starts after it ends"),
                    range_span,
                    format!(
                        "write the smaller value first, such as `{}-{}`; ranges do not wrap around",
                        ends[1], ends[0]
                    ),
                ));
            }
            (lo, hi, false, false)
        }
    };

    let mut step = 1;
    if let Some(step_text) = parts.get(1) {
        let step_offset = offset + range_text.len() + 1;
        let step_span = step_offset..step_offset + step_text.len();
        if step_text.is_empty() {
            return Err(error(
                format!("the step in the {fname} field is missing after `/`"),
                step_offset - 1..step_offset,
                "write a step after `/`, such as `*/15`",
            ));
        }
        if !step_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error(
                format!("the step `{step_text}` in the {fname} field is not a number"),
                step_span,
                "write the step as a number, such as `*/15`",
            ));
        }
        step = step_text.parse::<u32>().unwrap_or(u32::MAX);
        if step == 0 {
            return Err(error(
                format!("the step in the {fname} field is 0"),
                step_span,
                "use a step of 1 or more, such as `*/5`",
            ));
        }
        if single {
            // `a/n` means from `a` to the maximum, every `n`.
            end = max;
        }
    }

    let mut bits = 0u64;
    while start <= end {
        bits |= 1 << start;
        start = match start.checked_add(step) {
            Some(s) => s,
            None => break,
        };
    }
    // As Kubernetes does: `*/n` with n > 1 counts as a restriction, `*` and `*/1` do not.
    Ok((bits, is_star && step == 1))
}

/// Parses a number or a name of `field` at byte `offset`.
fn parse_value(text: &str, offset: usize, field: Field) -> Result<u32, CronError> {
    let fname = field.name();
    let (min, max) = field.bounds();
    let span = offset..offset + text.len();
    if text == "*" || text == "?" {
        return Err(error(
            format!("`{text}` cannot be part of a range in the {fname} field"),
            span,
            "write `*` alone, or a range of values such as `1-5`",
        ));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let value = text.parse::<u32>().unwrap_or(u32::MAX);
        if value < min || value > max {
            let shown = if value == u32::MAX {
                text.to_string()
            } else {
                value.to_string()
            };
            let help = match (field, value) {
                (Field::DayOfWeek, 7) => {
                    "Kubernetes counts Sunday as day 0; write `0` or `SUN`".to_string()
                }
                (Field::Hour, 24) => "midnight is hour `0`".to_string(),
                _ => field.range_help(),
            };
            return Err(error(
                format!("{fname} {shown} is out of range {min}-{max}"),
                span,
                help,
            ));
        }
        return Ok(value);
    }
    let lower = text.to_ascii_lowercase();
    let names = field.names();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(min + i as u32);
    }
    let help = if let Some(n) = names.iter().find(|n| lower.starts_with(*n)) {
        format!("use the three-letter name `{}`", n.to_ascii_uppercase())
    } else if matches!(lower.as_str(), "l" | "w" | "lw")
        || lower.len() > 1
            && (lower.ends_with('l') || lower.ends_with('w'))
            && lower[..lower.len() - 1].bytes().all(|b| b.is_ascii_digit())
    {
        format!(
            "Kubernetes does not support `L` or `W`; {}",
            field.range_help()
        )
    } else {
        let other = match field {
            Field::DayOfWeek => Some((&MONTH_NAMES[..], "month")),
            Field::Month => Some((&DAY_NAMES[..], "day-of-week")),
            _ => None,
        };
        match other {
            Some((other_names, other_field))
                if other_names.iter().any(|n| lower.starts_with(n)) =>
            {
                format!("`{text}` is a {other_field}; {}", field.range_help())
            }
            _ => field.range_help(),
        }
    };
    Err(error(
        format!("`{text}` is not a valid {fname}"),
        span,
        help,
    ))
}

impl CronSchedule {
    fn day_matches(&self, day_of_month: u32, weekday: u32) -> bool {
        let dom = self.days_of_month & (1 << day_of_month) != 0;
        let dow = self.days_of_week & (1 << weekday) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first matching minute of a matching day at or after minute-of-day `from`.
    fn first_minute_from(&self, from: u32) -> Option<u32> {
        for hour in from / 60..24 {
            if self.hours & (1 << hour) == 0 {
                continue;
            }
            let first = if hour == from / 60 { from % 60 } else { 0 };
            if let Some(minute) = (first..60).find(|m| self.minutes & (1 << m) != 0) {
                return Some(hour * 60 + minute);
            }
        }
        None
    }

    /// Whether the schedule runs at the minute containing `unix_secs` (UTC).
    pub fn matches(&self, unix_secs: i64) -> bool {
        let day = unix_secs.div_euclid(86_400);
        let minute_of_day = (unix_secs.rem_euclid(86_400) / 60) as u32;
        let (_, month, dom) = civil_from_days(day);
        self.months & (1 << month) != 0
            && self.day_matches(dom, weekday_from_days(day))
            && self.first_minute_from(minute_of_day) == Some(minute_of_day)
    }

    /// The start of the next matching minute strictly after `unix_secs`, in UTC, or `None` if
    /// the schedule does not run within about five years (such as `0 0 30 2 *`).
    pub fn next_after(&self, unix_secs: i64) -> Option<i64> {
        let start = unix_secs.div_euclid(60).checked_add(1)?.checked_mul(60)?;
        let start_day = start.div_euclid(86_400);
        let start_minute = (start.rem_euclid(86_400) / 60) as u32;
        let (start_year, _, _) = civil_from_days(start_day);
        // As Kubernetes does: give up after the fifth year following the start.
        let end_day = days_from_civil(start_year + 6, 1, 1);
        for day in start_day..end_day {
            let (_, month, dom) = civil_from_days(day);
            if self.months & (1 << month) == 0 || !self.day_matches(dom, weekday_from_days(day)) {
                continue;
            }
            let from = if day == start_day { start_minute } else { 0 };
            if let Some(minute) = self.first_minute_from(from) {
                return day.checked_mul(86_400)?.checked_add(i64::from(minute) * 60);
            }
        }
        None
    }
}

/// An IANA time zone for schedules (`timezone = "Europe/Berlin"`), from the time zone
/// database compiled into berth.
#[derive(Debug, Clone)]
pub struct ScheduleZone(jiff::tz::TimeZone);

impl ScheduleZone {
    /// The zone named `name`, or `None` when the database has no such zone.
    pub fn get(name: &str) -> Option<ScheduleZone> {
        jiff::tz::TimeZone::get(name).ok().map(ScheduleZone)
    }

    /// The known zone name closest to `name`, for "did you mean" help.
    pub fn closest(name: &str) -> Option<String> {
        let names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_string())
            .collect();
        crate::diag::did_you_mean(name, names.iter().map(String::as_str)).map(str::to_string)
    }

    /// The zone's offset from UTC at `unix_secs`, in seconds.
    pub fn offset_at(&self, unix_secs: i64) -> i64 {
        match jiff::Timestamp::from_second(unix_secs) {
            Ok(t) => i64::from(self.0.to_offset(t).seconds()),
            Err(_) => 0,
        }
    }
}

impl CronSchedule {
    /// The next run after `unix_secs` of a schedule in the IANA zone `timezone` (UTC when
    /// `None`); `None` also when the zone is unknown.
    pub fn next_run(&self, unix_secs: i64, timezone: Option<&str>) -> Option<i64> {
        match timezone {
            Some(name) => self.next_after_in(unix_secs, &ScheduleZone::get(name)?),
            None => self.next_after(unix_secs),
        }
    }

    /// Like [`CronSchedule::next_after`], with the fields read as wall-clock time in `zone`
    /// (a CronJob's `timeZone`). A time skipped by a daylight saving change does not run; a
    /// time that happens twice runs at its first occurrence.
    pub fn next_after_in(&self, unix_secs: i64, zone: &ScheduleZone) -> Option<i64> {
        const WINDOW: i64 = 14 * 3600;
        // Local wall-clock seconds, written as if they were UTC; an hour early so that a
        // repeated hour after a fall-back is not missed.
        let mut cursor = unix_secs + zone.offset_at(unix_secs) - 3600;
        for _ in 0..10_000 {
            let local = self.next_after(cursor)?;
            let mut offsets = [
                zone.offset_at(local - WINDOW),
                zone.offset_at(local),
                zone.offset_at(local + WINDOW),
            ];
            offsets.sort_unstable();
            // The instants showing this wall-clock time: none in a gap, two in a fold, where
            // only the first one runs.
            let first = offsets
                .iter()
                .map(|o| local - o)
                .filter(|u| zone.offset_at(*u) == local - u)
                .min();
            if let Some(u) = first.filter(|u| *u > unix_secs) {
                return Some(u);
            }
            cursor = local;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::time::{format_rfc3339, parse_rfc3339};

    fn cron(s: &str) -> CronSchedule {
        parse_cron(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn err(s: &str) -> CronError {
        parse_cron(s).expect_err(s)
    }

    /// The text the error's span points at.
    fn spanned(s: &str) -> String {
        let e = err(s);
        s[e.span.clone()].to_string()
    }

    fn next(expr: &str, after: &str) -> String {
        let t = parse_rfc3339(after).unwrap();
        format_rfc3339(cron(expr).next_after(t).expect("a next run"))
    }

    /// The next `n` runs after `after`.
    fn runs(expr: &str, after: &str, n: usize) -> Vec<String> {
        let c = cron(expr);
        let mut t = parse_rfc3339(after).unwrap();
        (0..n)
            .map(|_| {
                t = c.next_after(t).unwrap();
                format_rfc3339(t)
            })
            .collect()
    }

    #[test]
    fn parses_fields() {
        let c = cron("*/15 2,14 1-5 JAN-mar mon-FRI");
        assert_eq!(c.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(c.hours, 1 << 2 | 1 << 14);
        assert_eq!(c.days_of_month, 0b11_1110);
        assert_eq!(c.months, 0b1110);
        assert_eq!(c.days_of_week, 0b11_1110);
        assert!(!c.dom_star && !c.dow_star);

        let c = cron("5/20 1-10/3 ? * ?");
        assert_eq!(c.minutes, 1 << 5 | 1 << 25 | 1 << 45);
        assert_eq!(c.hours, 1 << 1 | 1 << 4 | 1 << 7 | 1 << 10);
        assert!(c.dom_star && c.dow_star);
        assert_eq!(c.days_of_month, 0xFFFF_FFFE);
        assert_eq!(c.days_of_week, 0x7F);

        assert!(!cron("0 0 */2 * *").dom_star);
        assert!(cron("0 0 */1 * *").dom_star);
        assert_eq!(cron("0 0 * * SUN,sat").days_of_week, 1 | 1 << 6);
        assert_eq!(cron("*/100 * * * *").minutes, 1);
        assert_eq!(cron("  0\t2 * * *  ").hours, 1 << 2);
    }

    #[test]
    fn macros() {
        assert_eq!(cron("@yearly"), cron("0 0 1 1 *"));
        assert_eq!(cron("@annually"), cron("0 0 1 1 *"));
        assert_eq!(cron("@monthly"), cron("0 0 1 * *"));
        assert_eq!(cron("@weekly"), cron("0 0 * * 0"));
        assert_eq!(cron("@daily"), cron("0 0 * * *"));
        assert_eq!(cron("@midnight"), cron("0 0 * * *"));
        assert_eq!(cron(" @hourly "), cron("0 * * * *"));
    }

    #[test]
    fn field_count() {
        let e = err("0 0 2 * * *");
        assert_eq!(
            e.message,
            "the schedule has 6 fields, but Kubernetes CronJobs use 5"
        );
        assert_eq!(e.span, 0..11);
        assert_eq!(
            e.help.as_deref(),
            Some("Kubernetes CronJobs use 5 fields (minute hour day-of-month month day-of-week); remove the seconds field")
        );
        assert_eq!(err(" 0 2 * * ").span, 1..8);
        assert!(err("0 2 * * * * 2026")
            .help
            .unwrap()
            .contains("seconds and year"));
        assert_eq!(
            err("daily").message,
            "the schedule has 1 field, but Kubernetes CronJobs use 5"
        );
        let e = err("   ");
        assert_eq!(e.message, "the schedule is empty");
        assert!(e.help.is_some());
    }

    #[test]
    fn out_of_range() {
        let e = err("0 25 * * *");
        assert_eq!(e.message, "hour 25 is out of range 0-23");
        assert_eq!(e.span, 2..4);
        assert!(e.help.is_some());
        assert_eq!(err("60 * * * *").message, "minute 60 is out of range 0-59");
        assert_eq!(
            err("0 0 0 * *").message,
            "day-of-month 0 is out of range 1-31"
        );
        assert_eq!(
            err("0 0 32 * *").message,
            "day-of-month 32 is out of range 1-31"
        );
        assert_eq!(err("0 0 * 13 *").message, "month 13 is out of range 1-12");
        assert_eq!(err("0 0 * 0 *").message, "month 0 is out of range 1-12");
        let e = err("0 0 * * 7");
        assert_eq!(e.message, "day-of-week 7 is out of range 0-6");
        assert_eq!(
            e.help.as_deref(),
            Some("Kubernetes counts Sunday as day 0; write `0` or `SUN`")
        );
        assert_eq!(spanned("0 0 * * 1-7"), "7");
        assert_eq!(spanned("0 1-24 * * *"), "24");
        assert_eq!(
            err("0 24 * * *").help.as_deref(),
            Some("midnight is hour `0`")
        );
        assert_eq!(
            err("99999999999 * * * *").message,
            "minute 99999999999 is out of range 0-59"
        );
    }

    #[test]
    fn bad_names() {
        let e = err("0 0 * FOO *");
        assert_eq!(e.message, "`FOO` is not a valid month");
        assert_eq!(e.span, 6..9);
        assert_eq!(e.help.as_deref(), Some("use 1-12 or `JAN`-`DEC`"));
        assert_eq!(
            err("0 0 * * monday").help.as_deref(),
            Some("use the three-letter name `MON`")
        );
        assert!(err("0 0 * * JAN")
            .help
            .unwrap()
            .contains("`JAN` is a month"));
        assert!(err("0 0 * MON *")
            .help
            .unwrap()
            .contains("`MON` is a day-of-week"));
        assert_eq!(err("0 MON * * *").message, "`MON` is not a valid hour");
        assert!(err("0 0 L * *").help.unwrap().contains("`L` or `W`"));
        assert!(err("0 0 15W * *").help.unwrap().contains("`L` or `W`"));
    }

    #[test]
    fn ranges_and_steps() {
        let e = err("0 0 * * 5-1");
        assert_eq!(
            e.message,
            "the day-of-week range `5-1` starts after it ends"
        );
        assert_eq!(e.span, 8..11);
        assert!(e.help.unwrap().contains("`1-5`"));
        let e = err("*/0 * * * *");
        assert_eq!(e.message, "the step in the minute field is 0");
        assert_eq!(e.span, 2..3);
        assert!(e.help.is_some());
        assert_eq!(spanned("1-5/2/3 * * * *"), "/");
        assert_eq!(spanned("*/ * * * *"), "/");
        assert_eq!(spanned("*/x * * * *"), "x");
        assert_eq!(spanned("1-2-3 * * * *"), "1-2-3");
        assert_eq!(spanned("1- * * * *"), "-");
        assert_eq!(spanned("*-5 * * * *"), "*");
        assert_eq!(spanned("/5 * * * *"), "/5");
    }

    #[test]
    fn empty_items_and_garbage() {
        let e = err("1,,2 * * * *");
        assert_eq!(e.message, "the minute field has an empty list item");
        assert_eq!(e.span, 2..3);
        assert_eq!(e.help.as_deref(), Some("remove the extra comma"));
        assert_eq!(err("0 1, * * *").span, 3..4);
        assert_eq!(err("0 ,1 * * *").span, 2..3);
        let e = err("0 2 * * 1;2");
        assert_eq!(
            e.message,
            "unexpected character `;` in the day-of-week field"
        );
        assert_eq!(e.span, 9..10);
        assert!(e.help.is_some());
        assert!(err("0 0 * * 1#2").help.unwrap().contains('#'));
        let e = err("0 0 * * é");
        assert_eq!(e.span, 8..10);
    }

    #[test]
    fn macro_errors() {
        let e = err("@reboot");
        assert_eq!(e.message, "`@reboot` is not supported by Kubernetes");
        assert_eq!(e.span, 0..7);
        assert!(e.help.is_some());
        let e = err("@fortnightly");
        assert_eq!(e.message, "unknown macro `@fortnightly`");
        assert!(e.help.unwrap().contains("@daily"));
        assert_eq!(err("@DAILY").help.as_deref(), Some("write `@daily`"));
        assert!(err("@every 5m").message.contains("@every"));
        let e = err("@daily 0 2 * * *");
        assert_eq!(e.message, "the macro `@daily` takes no fields");
        assert_eq!(e.span, 7..16);
    }

    #[test]
    fn time_zone_prefix() {
        for s in ["TZ=Europe/Berlin 0 2 * * *", "CRON_TZ=UTC 0 2 * * *"] {
            let e = err(s);
            assert_eq!(
                e.help.as_deref(),
                Some("use the schedule's `timezone` setting instead")
            );
            assert_eq!(e.span.start, 0);
            assert_eq!(&s[e.span.clone()], s.split(' ').next().unwrap());
        }
    }

    #[test]
    fn next_daily() {
        assert_eq!(
            next("0 2 * * *", "2026-11-25T01:22:00Z"),
            "2026-11-25T02:00:00Z"
        );
        assert_eq!(
            next("0 2 * * *", "2026-11-25T02:00:00Z"),
            "2026-11-26T02:00:00Z"
        );
        assert_eq!(
            next("0 2 * * *", "2026-11-25T01:59:59Z"),
            "2026-11-25T02:00:00Z"
        );
        assert_eq!(
            next("@daily", "2026-12-31T23:59:00Z"),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("* * * * *", "2026-11-25T01:22:46Z"),
            "2026-11-25T01:23:00Z"
        );
        assert_eq!(
            next("* * * * *", "2026-11-25T01:22:00Z"),
            "2026-11-25T01:23:00Z"
        );
        assert_eq!(
            next("30 * * * *", "1969-12-31T23:45:00Z"),
            "1970-01-01T00:30:00Z"
        );
    }

    #[test]
    fn next_steps() {
        assert_eq!(
            runs("*/15 9-10 * * *", "2026-11-25T10:31:00Z", 3),
            [
                "2026-11-25T10:45:00Z",
                "2026-11-26T09:00:00Z",
                "2026-11-26T09:15:00Z"
            ]
        );
        assert_eq!(
            runs("@monthly", "2026-11-25T00:00:00Z", 3),
            [
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
                "2027-02-01T00:00:00Z"
            ]
        );
        assert_eq!(
            next("@yearly", "2026-11-25T00:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 31 * *", "2026-11-25T00:00:00Z"),
            "2026-12-31T00:00:00Z"
        );
    }

    #[test]
    fn next_leap_day() {
        assert_eq!(
            runs("0 0 29 2 *", "2026-11-25T00:00:00Z", 3),
            [
                "2028-02-29T00:00:00Z",
                "2032-02-29T00:00:00Z",
                "2036-02-29T00:00:00Z"
            ]
        );
        // 2100 is not a leap year.
        assert_eq!(
            next("0 0 29 2 *", "2099-03-01T00:00:00Z"),
            "2104-02-29T00:00:00Z"
        );
        // Kubernetes gives up after the fifth year following the start.
        assert_eq!(
            cron("0 0 29 2 *").next_after(parse_rfc3339("2096-03-01T00:00:00Z").unwrap()),
            None
        );
        // Never runs.
        assert_eq!(cron("0 0 30 2 *").next_after(0), None);
        assert_eq!(cron("0 0 31 4,6,9,11 *").next_after(0), None);
    }

    #[test]
    fn next_weekdays() {
        // 2026-11-27 is a Friday.
        assert_eq!(
            runs("0 0 * * 1-5", "2026-11-27T00:00:00Z", 2),
            ["2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"]
        );
        assert_eq!(
            next("0 9 * * MON-FRI", "2026-11-27T09:00:00Z"),
            "2026-11-30T09:00:00Z"
        );
        assert_eq!(
            next("@weekly", "2026-11-25T00:00:00Z"),
            "2026-11-29T00:00:00Z"
        );
    }

    #[test]
    fn next_dom_dow_or_rule() {
        // Both restricted: the 1st of the month or any Monday.
        assert_eq!(
            runs("0 0 1 * MON", "2026-11-25T00:00:00Z", 4),
            [
                "2026-11-30T00:00:00Z", // Monday
                "2026-12-01T00:00:00Z", // the 1st, a Tuesday
                "2026-12-07T00:00:00Z", // Monday
                "2026-12-14T00:00:00Z",
            ]
        );
        // Day-of-week `*`: only the 13th.
        assert_eq!(
            next("0 0 13 * *", "2026-11-25T00:00:00Z"),
            "2026-12-13T00:00:00Z"
        );
        // Day-of-month `*`: only Fridays.
        assert_eq!(
            next("0 0 * * 5", "2026-11-25T00:00:00Z"),
            "2026-11-27T00:00:00Z"
        );
        // A step counts as a restriction: every other day or Sunday.
        assert_eq!(
            runs("0 0 */10 * 0", "2026-11-25T00:00:00Z", 3),
            [
                "2026-11-29T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2026-12-06T00:00:00Z"
            ]
        );
    }

    #[test]
    fn matches_minutes() {
        let c = cron("0 2 * * *");
        assert!(c.matches(parse_rfc3339("2026-11-25T02:00:30Z").unwrap()));
        assert!(!c.matches(parse_rfc3339("2026-11-25T02:01:00Z").unwrap()));
        assert!(!c.matches(parse_rfc3339("2026-11-25T03:00:00Z").unwrap()));
    }

    #[test]
    fn next_is_strictly_after_and_matches() {
        let c = cron("7,37 */5 1-10 * 2");
        let mut t = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        for _ in 0..200 {
            let n = c.next_after(t).unwrap();
            assert!(n > t);
            assert_eq!(n % 60, 0);
            assert!(c.matches(n));
            // Nothing matches in between.
            let mut m = (t / 60 + 1) * 60;
            while m < n {
                assert!(!c.matches(m), "{}", format_rfc3339(m));
                m += 60;
            }
            t = n;
        }
    }
}

#[cfg(test)]
mod zone_tests {
    use super::*;
    use crate::values::time::parse_rfc3339;

    fn t(s: &str) -> i64 {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn next_run_in_a_time_zone_is_wall_clock_time_there() {
        let berlin = ScheduleZone::get("Europe/Berlin").unwrap();
        let nightly = parse_cron("0 2 * * *").unwrap();
        // Winter: 02:00 in Berlin is 01:00 UTC.
        assert_eq!(
            nightly.next_after_in(t("2026-11-25T12:00:00Z"), &berlin),
            Some(t("2026-11-26T01:00:00Z"))
        );
        // Summer: 00:00 UTC.
        assert_eq!(
            nightly.next_after_in(t("2026-07-01T12:00:00Z"), &berlin),
            Some(t("2026-07-02T00:00:00Z"))
        );
        let ny = ScheduleZone::get("America/New_York").unwrap();
        assert_eq!(
            nightly.next_after_in(t("2026-11-25T12:00:00Z"), &ny),
            Some(t("2026-11-26T07:00:00Z"))
        );
        assert!(ScheduleZone::get("Mars/Olympus_Mons").is_none());
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_does_not_run_and_a_repeated_one_runs_once() {
        let berlin = ScheduleZone::get("Europe/Berlin").unwrap();
        // 2026-03-29: clocks jump from 02:00 to 03:00; 02:30 does not exist that day.
        let half_past_two = parse_cron("30 2 * * *").unwrap();
        assert_eq!(
            half_past_two.next_after_in(t("2026-03-28T12:00:00Z"), &berlin),
            Some(t("2026-03-30T00:30:00Z"))
        );
        // 2026-10-25: 02:30 happens twice (CEST, then CET); the first one counts.
        assert_eq!(
            half_past_two.next_after_in(t("2026-10-24T12:00:00Z"), &berlin),
            Some(t("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            half_past_two.next_after_in(t("2026-10-25T00:30:00Z"), &berlin),
            Some(t("2026-10-26T01:30:00Z")),
            "the second 02:30 of that night does not run again"
        );
    }
}
