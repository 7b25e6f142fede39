//! CronJob schedules as the API server and the CronJob controller read them: robfig/cron v3's
//! standard parser (`cron.ParseStandard`, `github.com/robfig/cron/v3` `parser.go` and
//! `spec.go`), with its error messages, which the CronJob validation
//! (`pkg/apis/batch/validation/validation.go`, `validateScheduleFormat`) puts into its 422;
//! and `spec.timeZone` (`validateTimeZone`), looked up in the IANA database compiled in (Go's
//! `time.LoadLocation`).
//!
//! This is a copy of the server's parser, not berth's (`src/values/cron.rs` words its errors
//! for a user and points into their file): the emulator must be able to refuse what berth
//! accepts.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

/// The bit robfig/cron sets for a field written `*` or `?` (without a step above 1): with it
/// on day-of-month or day-of-week, a day must match both; without, either.
const STAR: u64 = 1 << 63;

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

fn bits(min: u32, max: u32, step: u32) -> u64 {
    let mut b = 0;
    let mut v = min;
    while v <= max {
        b |= 1 << v;
        v += step;
    }
    b
}

fn all(r: &Bounds) -> u64 {
    bits(r.min, r.max, 1) | STAR
}

/// Go's `strconv.Atoi` followed by robfig's negative check (`mustParseInt`).
fn must_parse_int(expr: &str) -> Result<u32, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: invalid syntax"
        ));
    }
    let n: i64 = match expr.parse() {
        Ok(n) => n,
        Err(_) => {
            return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
        ))
        }
    };
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    // Larger than any field's maximum, which the range check words.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn int_or_name(expr: &str, r: &Bounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    match r.names.iter().find(|(n, _)| *n == lower) {
        Some((_, v)) => Ok(*v),
        None => must_parse_int(expr),
    }
}

/// robfig's `getRange`: `*`, `?`, `a`, `a-b`, each with an optional `/step`.
fn range(expr: &str, r: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let mut extra = 0;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        extra = STAR;
        (r.min, r.max)
    } else {
        let start = int_or_name(low_and_high[0], r)?;
        match low_and_high.len() {
            1 => (start, start),
            2 => (start, int_or_name(low_and_high[1], r)?),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            if single {
                end = r.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < r.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        ));
    }
    if end > r.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            r.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(bits(start, end, step) | extra)
}

fn field(text: &str, r: &Bounds) -> Result<u64, String> {
    text.split(',')
        .try_fold(0, |acc, part| Ok(acc | range(part, r)?))
}

/// Go's `%s` of a `[]string`: `[a b c]`.
fn go_strings(fields: &[&str]) -> String {
    let mut s = String::from("[");
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{f}");
    }
    s.push(']');
    s
}

/// `cron.ParseStandard`: five fields or a descriptor. A leading `TZ=`/`CRON_TZ=` is taken off
/// first, as robfig does (the CronJob validation refuses it separately). `@every` is refused:
/// the emulator's controller could not run it.
pub fn parse(spec: &str) -> Result<Schedule, String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let Some(i) = spec.find(' ') else {
            // robfig slices to the first space and panics without one; the apiserver recovers
            // that as a 500. Refusing it is the stricter answer.
            return Err(format!("provided bad location {spec}"));
        };
        let eq = spec.find('=').unwrap_or(0);
        let name = &spec[eq + 1..i];
        if TimeZone::get(name).is_err() {
            return Err(format!(
                "provided bad location {name}: unknown time zone {name}"
            ));
        }
        spec = spec[i..].trim();
    }
    if spec.starts_with('@') {
        let d = |minute, hour, dom, month, dow| Schedule {
            minute,
            hour,
            dom,
            month,
            dow,
        };
        return match spec {
            "@yearly" | "@annually" => Ok(d(1, 1, 1 << 1, 1 << 1, all(&DOW))),
            "@monthly" => Ok(d(1, 1, 1 << 1, all(&MONTHS), all(&DOW))),
            "@weekly" => Ok(d(1, 1, all(&DOM), all(&MONTHS), 1)),
            "@daily" | "@midnight" => Ok(d(1, 1, all(&DOM), all(&MONTHS), all(&DOW))),
            "@hourly" => Ok(d(1, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW))),
            s if s.starts_with("@every ") => Err(format!(
                "{s}: @every schedules are not emulated (this server runs only calendar schedules)"
            )),
            s => Err(format!("unrecognized descriptor: {s}")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: {}",
            fields.len(),
            go_strings(&fields)
        ));
    }
    Ok(Schedule {
        minute: field(fields[0], &MINUTES)?,
        hour: field(fields[1], &HOURS)?,
        dom: field(fields[2], &DOM)?,
        month: field(fields[3], &MONTHS)?,
        dow: field(fields[4], &DOW)?,
    })
}

impl Schedule {
    /// Whether a wall-clock minute matches (robfig's `dayMatches` for the two day fields).
    pub fn matches_civil(
        &self,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        weekday: u32,
    ) -> bool {
        let on = |set: u64, v: u32| set & (1 << v) != 0;
        let dom = on(self.dom, day);
        let dow = on(self.dow, weekday);
        let day_ok = if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        };
        on(self.minute, minute) && on(self.hour, hour) && on(self.month, month) && day_ok
    }

    /// Whether the minute that holds the Unix time `secs` matches, read as wall-clock time in
    /// `zone`.
    pub fn matches_at(&self, secs: i64, zone: &TimeZone) -> bool {
        let Ok(t) = jiff::Timestamp::from_second(secs) else {
            return false;
        };
        let z = zone.to_datetime(t);
        self.matches_civil(
            z.month() as u32,
            z.day() as u32,
            z.hour() as u32,
            z.minute() as u32,
            z.weekday().to_sunday_zero_offset() as u32,
        )
    }
}

/// The zone of a CronJob's `spec.timeZone`: UTC when unset (the controller's default in
/// `pkg/controller/cronjob/utils.go` is the controller manager's local zone, which is UTC on
/// every control plane image); `None` for a name the database does not know.
pub fn zone(time_zone: Option<&str>) -> Option<TimeZone> {
    match time_zone {
        None => Some(TimeZone::UTC),
        Some(name) => TimeZone::get(name).ok(),
    }
}

/// `validateTimeZone`: the messages of the real validation, without the `Invalid value` prefix.
pub fn validate_time_zone(tz: &str) -> Option<String> {
    if tz.is_empty() {
        return Some("timeZone must be nil or non-empty string".into());
    }
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 14
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    };
    if tz
        .split('/')
        .any(|p| p == "." || p == ".." || p.starts_with('-') || !valid_part(p))
    {
        return Some(format!("unknown time zone {tz}"));
    }
    if tz.eq_ignore_ascii_case("Local") {
        return Some(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                .into(),
        );
    }
    if TimeZone::get(tz).is_err() {
        return Some(format!("unknown time zone {tz}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: &str) -> i64 {
        t.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn parse_errors_are_robfigs() {
        let cases = [
            ("", "empty spec string"),
            ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
            ("61 * * * *", "end of range (61) above maximum (59): 61"),
            ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
            ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
            (
                "5-2 * * * *",
                "beginning of range (5) beyond end of range (2): 5-2",
            ),
            (
                "*/0 * * * *",
                "step of range should be a positive number: */0",
            ),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("1/2/3 * * * *", "too many slashes: 1/2/3"),
            (
                "x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ];
        for (spec, want) in cases {
            assert_eq!(parse(spec).unwrap_err(), want, "{spec:?}");
        }
        for ok in [
            "*/5 * * * *",
            "0 2 * * MON-fri",
            "@daily",
            "0 0 1,15 jan,JUL ?",
            "CRON_TZ=UTC 0 * * * *",
        ] {
            assert!(parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn days_match_either_unless_one_is_a_star() {
        // The 13th, or any Friday.
        let either = parse("0 0 13 * 5").unwrap();
        // 2026-11-06 is a Friday, 2026-11-13 a Friday, 2026-11-12 a Thursday.
        assert!(either.matches_at(secs("2026-11-06T00:00:00Z"), &TimeZone::UTC));
        assert!(!either.matches_at(secs("2026-11-12T00:00:00Z"), &TimeZone::UTC));
        // `*/2` carries no star bit: either day field matches.
        let odd_days_or_monday = parse("0 0 */2 * 1").unwrap();
        assert!(odd_days_or_monday.matches_at(secs("2026-11-09T00:00:00Z"), &TimeZone::UTC));
        let every_day = parse("0 0 * * 1").unwrap();
        assert!(!every_day.matches_at(secs("2026-11-10T00:00:00Z"), &TimeZone::UTC));
    }

    #[test]
    fn a_time_zone_reads_the_fields_as_its_wall_clock() {
        let berlin = zone(Some("Europe/Berlin")).unwrap();
        let nightly = parse("0 2 * * *").unwrap();
        // 02:00 in Berlin in November (UTC+1) is 01:00 UTC.
        assert!(nightly.matches_at(secs("2026-11-05T01:00:00Z"), &berlin));
        assert!(!nightly.matches_at(secs("2026-11-05T02:00:00Z"), &berlin));
        // In July (UTC+2) it is 00:00 UTC.
        assert!(nightly.matches_at(secs("2026-07-05T00:00:00Z"), &berlin));
        // 02:30 does not exist on 2026-03-29 in Berlin: the schedule does not run that day.
        let skipped = parse("30 2 * * *").unwrap();
        let day = secs("2026-03-28T22:00:00Z");
        assert!(!(0..24 * 60).any(|m| skipped.matches_at(day + m * 60, &berlin)));
    }

    #[test]
    fn time_zones_are_validated_as_the_api_server_does() {
        assert_eq!(validate_time_zone("Europe/Berlin"), None);
        assert_eq!(validate_time_zone("UTC"), None);
        assert_eq!(
            validate_time_zone("").as_deref(),
            Some("timeZone must be nil or non-empty string")
        );
        assert_eq!(
            validate_time_zone("Mars/Olympus").as_deref(),
            Some("unknown time zone Mars/Olympus")
        );
        assert_eq!(
            validate_time_zone("../etc/passwd").as_deref(),
            Some("unknown time zone ../etc/passwd")
        );
        assert!(validate_time_zone("Local")
            .unwrap()
            .starts_with("timeZone must be an explicit"));
    }
}
