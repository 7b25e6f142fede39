//! The CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`, `utils.go`), at
//! the controllers' clock: at the most recent scheduled time since `lastScheduleTime` (or the
//! creation), a Job `NAME-<unix minutes>` from the jobTemplate, owned by the CronJob, with the
//! `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation; `concurrencyPolicy` Allow,
//! Forbid (skip while one runs) or Replace (delete the running ones); `status.active`,
//! `lastScheduleTime`, `lastSuccessfulTime`; finished Jobs beyond `successfulJobsHistoryLimit`
//! (3) and `failedJobsHistoryLimit` (1) are deleted, the oldest first. Schedules are the
//! standard five fields (and `@hourly` and the like) in UTC.

use serde_json::{json, Map, Value};

use kube_store::{DeleteOptions, Propagation, StoreError};

use super::{deleting, list, rfc3339, s, tolerate, Controllers, MANAGER};

const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// One field of a schedule: which values match.
struct Field(Vec<bool>);

fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Option<Field> {
    let mut allowed = vec![false; max as usize + 1];
    let value = |t: &str| -> Option<u32> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(t)) {
            return Some(i as u32 + min);
        }
        t.parse().ok()
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().ok().filter(|n| *n > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        let mut v = lo;
        while v <= hi {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Some(Field(allowed))
}

/// A parsed schedule (robfig/cron's standard parser, as the controller uses).
struct Schedule {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
    /// Day of month and day of week both restricted: either matches.
    either_day: bool,
}

fn parse_schedule(text: &str) -> Option<Schedule> {
    let text = match text.trim() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        t => t,
    };
    let f: Vec<&str> = text.split_whitespace().collect();
    if f.len() != 5 {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let mut dow = parse_field(f[4], 0, 7, &DAYS)?;
    if dow.0[7] {
        dow.0[0] = true;
    }
    Some(Schedule {
        minute: parse_field(f[0], 0, 59, &[])?,
        hour: parse_field(f[1], 0, 23, &[])?,
        dom: parse_field(f[2], 1, 31, &[])?,
        month: parse_field(f[3], 1, 12, &MONTHS)?,
        dow,
        either_day: !f[2].starts_with('*') && !f[4].starts_with('*'),
    })
}

/// Civil date of a Unix time in seconds: (year, month, day, hour, minute, weekday).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        weekday,
    )
}

impl Schedule {
    fn matches(&self, secs: i64) -> bool {
        let (_, month, day, hour, minute, weekday) = civil(secs);
        let dom = self.dom.0[day as usize];
        let dow = self.dow.0[weekday as usize];
        let day_ok = if self.either_day {
            dom || dow
        } else {
            dom && dow
        };
        self.minute.0[minute as usize]
            && self.hour.0[hour as usize]
            && self.month.0[month as usize]
            && day_ok
    }

    /// The latest scheduled minute in (after, until], in Unix seconds; a year back at most.
    fn most_recent(&self, after: i64, until: i64) -> Option<i64> {
        let mut t = until - until.rem_euclid(60);
        let floor = after.max(until - 366 * 86_400);
        while t > floor {
            if self.matches(t) {
                return Some(t);
            }
            t -= 60;
        }
        None
    }

    /// The next scheduled minute after `after`, within a year.
    fn next(&self, after: i64) -> Option<i64> {
        let mut t = after - after.rem_euclid(60) + 60;
        let end = after + 366 * 86_400;
        while t <= end {
            if self.matches(t) {
                return Some(t);
            }
            t += 60;
        }
        None
    }
}

/// Seconds of an RFC 3339 time (`2026-11-05T10:00:00Z`).
pub(crate) fn parse_time(t: &str) -> Option<i64> {
    let (date, time) = t.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut h = time
        .split(':')
        .map(|x| x.split('.').next().and_then(|x| x.parse::<i64>().ok()));
    let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn job_state(job: &Value) -> Option<&'static str> {
    let cs = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)?;
    for c in cs {
        if c["status"] == "True" {
            if c["type"] == "Complete" {
                return Some("Complete");
            }
            if c["type"] == "Failed" {
                return Some("Failed");
            }
        }
    }
    None
}

fn new_job(cj: &Value, scheduled: i64) -> Value {
    let name = format!("{}-{}", s(cj, "/metadata/name"), scheduled / 60);
    let template = &cj["spec"]["jobTemplate"];
    let mut annotations: Map<String, Value> = template
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    annotations.insert(
        SCHEDULED_ANNOTATION.into(),
        json!(rfc3339(scheduled * 1000)),
    );
    let mut meta = json!({
        "name": name,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "CronJob", "name": s(cj, "/metadata/name"),
            "uid": s(cj, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true,
        }],
    });
    if let Some(l) = template.pointer("/metadata/labels") {
        meta["labels"] = l.clone();
    }
    json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

pub(crate) fn reconcile(c: &Controllers, now_ms: i64) -> Result<(), StoreError> {
    let store = c.store();
    let now = now_ms.div_euclid(1000);
    let opts = DeleteOptions {
        propagation: Some(Propagation::Background),
        now: rfc3339(now_ms),
        dry_run: false,
    };
    for cj in list(store, "CronJob", None)? {
        if deleting(&cj) {
            continue;
        }
        let ns = s(&cj, "/metadata/namespace").to_string();
        let name = s(&cj, "/metadata/name").to_string();
        let uid = s(&cj, "/metadata/uid").to_string();
        let old_status = cj.get("status").cloned().unwrap_or_else(|| json!({}));
        let mut status = old_status.clone();
        let mut jobs: Vec<Value> = list(store, "Job", Some(&ns))?
            .into_iter()
            .filter(|j| {
                j.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|rs| {
                        rs.iter()
                            .any(|r| s(r, "/uid") == uid && r["controller"] == true)
                    })
            })
            .collect();
        // Finished jobs leave `active`; the latest completion is the last success.
        let mut last_success = parse_time(s(&status, "/lastSuccessfulTime"));
        for j in &jobs {
            if job_state(j) == Some("Complete") {
                if let Some(t) = parse_time(s(j, "/status/completionTime")) {
                    if last_success.is_none_or(|l| t > l) {
                        last_success = Some(t);
                    }
                }
            }
        }
        if let Some(t) = last_success {
            status["lastSuccessfulTime"] = json!(rfc3339(t * 1000));
        }
        let mut running: Vec<&Value> = jobs
            .iter()
            .filter(|j| job_state(j).is_none() && !deleting(j))
            .collect();

        let suspended = cj
            .pointer("/spec/suspend")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let utc = matches!(s(&cj, "/spec/timeZone"), "" | "UTC" | "Etc/UTC");
        let schedule = parse_schedule(s(&cj, "/spec/schedule")).filter(|_| utc);
        let mut created: Option<Value> = None;
        if let (false, Some(schedule)) = (suspended, schedule) {
            let earliest = parse_time(s(&status, "/lastScheduleTime"))
                .or_else(|| parse_time(s(&cj, "/metadata/creationTimestamp")))
                .unwrap_or(now);
            if let Some(t) = schedule.most_recent(earliest, now) {
                let policy = s(&cj, "/spec/concurrencyPolicy");
                if policy == "Forbid" && !running.is_empty() {
                    // Not started while the prior one runs; retried.
                } else {
                    if policy == "Replace" {
                        for j in &running {
                            tolerate(store.delete_with("Job", &ns, s(j, "/metadata/name"), &opts))?;
                        }
                        running.clear();
                    }
                    // Through admission like any client's create; a refused Job (a quota's
                    // count/jobs.batch) leaves lastScheduleTime as it was, to be retried, as
                    // the real controller returns before updating the status.
                    let _one_at_a_time = c.admission().serialize();
                    let mut job = new_job(&cj, t);
                    let admitted = kube_store::kind_by_name("Job").is_some_and(|info| {
                        crate::admission::admit_create(store, info, &ns, &mut job).is_ok()
                    });
                    if admitted {
                        match store.create("Job", &ns, job, MANAGER, false) {
                            Ok(j) => created = Some(j),
                            Err(StoreError::AlreadyExists { .. }) => {}
                            Err(e) => return Err(e),
                        }
                        status["lastScheduleTime"] = json!(rfc3339(t * 1000));
                    }
                }
            }
            if let Some(next) = schedule.next(now) {
                c.wake_at(next * 1000);
            }
        }
        let mut active: Vec<Value> = running
            .iter()
            .map(|j| (*j).clone())
            .chain(created.clone())
            .map(|j| {
                json!({
                    "kind": "Job", "namespace": ns, "name": s(&j, "/metadata/name"),
                    "uid": s(&j, "/metadata/uid"), "apiVersion": "batch/v1",
                    "resourceVersion": s(&j, "/metadata/resourceVersion"),
                })
            })
            .collect();
        active.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let m = status.as_object_mut().expect("status is an object");
        if active.is_empty() {
            m.shift_remove("active");
        } else {
            m.insert("active".into(), json!(active));
        }
        if status != old_status {
            tolerate(store.set_status("CronJob", &ns, &name, status))?;
        }
        // History limits, the oldest first.
        jobs.sort_by_key(|j| parse_time(s(j, "/status/startTime")).unwrap_or(0));
        for (state, key, default) in [
            ("Complete", "/spec/successfulJobsHistoryLimit", 3),
            ("Failed", "/spec/failedJobsHistoryLimit", 1),
        ] {
            let limit = cj
                .pointer(key)
                .and_then(Value::as_i64)
                .unwrap_or(default)
                .max(0) as usize;
            let finished: Vec<&Value> = jobs
                .iter()
                .filter(|j| job_state(j) == Some(state) && !deleting(j))
                .collect();
            if finished.len() > limit {
                for j in &finished[..finished.len() - limit] {
                    tolerate(store.delete_with("Job", &ns, s(j, "/metadata/name"), &opts))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_as_cron_does() {
        let every_5 = parse_schedule("*/5 * * * *").unwrap();
        let t = parse_time("2026-11-05T10:07:30Z").unwrap();
        assert_eq!(
            every_5.most_recent(t - 3600, t),
            parse_time("2026-11-05T10:05:00Z")
        );
        assert_eq!(every_5.next(t), parse_time("2026-11-05T10:10:00Z"));
        // 2026-11-05 is a Thursday.
        let mondays = parse_schedule("30 2 * * MON").unwrap();
        assert_eq!(mondays.next(t), parse_time("2026-11-09T02:30:00Z"));
        let daily = parse_schedule("@daily").unwrap();
        assert_eq!(daily.next(t), parse_time("2026-11-06T00:00:00Z"));
        assert!(parse_schedule("61 * * * *").is_none());
        assert!(parse_schedule("* * *").is_none());
    }
}
