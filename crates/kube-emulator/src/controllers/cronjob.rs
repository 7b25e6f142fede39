//! The CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`, `utils.go`), at
//! the controllers' clock: at the most recent scheduled time since `lastScheduleTime` (or the
//! creation), a Job `NAME-<unix minutes>` from the jobTemplate, owned by the CronJob, with the
//! `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation; `concurrencyPolicy` Allow,
//! Forbid (skip while one runs) or Replace (delete the running ones); `status.active`,
//! `lastScheduleTime`, `lastSuccessfulTime`; finished Jobs beyond `successfulJobsHistoryLimit`
//! (3) and `failedJobsHistoryLimit` (1) are deleted, the oldest first. Schedules are
//! robfig/cron's standard five fields (and `@hourly` and the like), read as wall-clock time in
//! `spec.timeZone` (UTC when unset): a minute a daylight-saving change skips does not run, one
//! it repeats runs at each instant that shows it.

use serde_json::{json, Map, Value};

use kube_store::{cron, DeleteOptions, Propagation, StoreError};

use super::{deleting, list, rfc3339, s, tolerate, Controllers, MANAGER};

const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// A CronJob's schedule in its time zone (`kube_store::cron`, robfig/cron's parser).
struct Schedule {
    spec: cron::Schedule,
    zone: jiff::tz::TimeZone,
}

/// The schedule of a CronJob, `None` when it cannot run: a schedule or time zone the
/// validation would refuse (stored before it existed, or by the embedded cluster).
fn schedule_of(cj: &Value) -> Option<Schedule> {
    let spec = cron::parse(s(cj, "/spec/schedule")).ok()?;
    let zone = cron::zone(cj.pointer("/spec/timeZone").and_then(Value::as_str))?;
    Some(Schedule { spec, zone })
}

impl Schedule {
    fn matches(&self, secs: i64) -> bool {
        self.spec.matches_at(secs, &self.zone)
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
        let schedule = schedule_of(&cj);
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

    fn at(schedule: &str, tz: Option<&str>) -> Schedule {
        let mut cj = json!({"spec": {"schedule": schedule}});
        if let Some(tz) = tz {
            cj["spec"]["timeZone"] = json!(tz);
        }
        schedule_of(&cj).unwrap()
    }

    #[test]
    fn schedules_match_as_cron_does() {
        let every_5 = at("*/5 * * * *", None);
        let t = parse_time("2026-11-05T10:07:30Z").unwrap();
        assert_eq!(
            every_5.most_recent(t - 3600, t),
            parse_time("2026-11-05T10:05:00Z")
        );
        assert_eq!(every_5.next(t), parse_time("2026-11-05T10:10:00Z"));
        // 2026-11-05 is a Thursday.
        let mondays = at("30 2 * * MON", None);
        assert_eq!(mondays.next(t), parse_time("2026-11-09T02:30:00Z"));
        let daily = at("@daily", None);
        assert_eq!(daily.next(t), parse_time("2026-11-06T00:00:00Z"));
        assert!(schedule_of(&json!({"spec": {"schedule": "61 * * * *"}})).is_none());
        assert!(schedule_of(&json!({"spec": {"schedule": "* * *"}})).is_none());
    }

    #[test]
    fn a_schedule_with_a_time_zone_runs_at_that_zones_wall_clock() {
        let t = parse_time("2026-11-05T10:07:30Z").unwrap();
        // acme's nightly: 02:00 in Berlin, 01:00 UTC in winter.
        let nightly = at("0 2 * * *", Some("Europe/Berlin"));
        assert_eq!(nightly.next(t), parse_time("2026-11-06T01:00:00Z"));
        let summer = parse_time("2026-07-05T10:00:00Z").unwrap();
        assert_eq!(nightly.next(summer), parse_time("2026-07-06T00:00:00Z"));
        assert!(schedule_of(
            &json!({"spec": {"schedule": "0 2 * * *", "timeZone": "Mars/Olympus"}})
        )
        .is_none());
    }
}
