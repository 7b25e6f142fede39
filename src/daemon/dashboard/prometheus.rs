//! Longer trends from a Prometheus server that scrapes the daemon's `/metrics`
//! (`[dashboard] prometheus_url` in platform.toml): the PromQL of each chart and the parsing
//! of `/api/v1/query_range` answers are pure functions; [`fetch`] sends the queries (at once,
//! under one timeout). Nothing here can break a page: every failure is a message the trends
//! page shows as a notice.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use super::html::url_encode;

/// A range the trends page offers when a Prometheus server is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// In the query string: `?range=7d`.
    pub name: &'static str,
    /// For people.
    pub label: &'static str,
    /// Length, seconds.
    pub seconds: i64,
    /// Resolution: one point (and the window of `increase` and `max_over_time`), seconds.
    pub step: i64,
}

/// The ranges, shortest first: each has 144 to 180 points.
pub const RANGES: [Range; 4] = [
    Range {
        name: "6h",
        label: "6 hours",
        seconds: 6 * 3600,
        step: 120,
    },
    Range {
        name: "1d",
        label: "1 day",
        seconds: 86_400,
        step: 600,
    },
    Range {
        name: "7d",
        label: "7 days",
        seconds: 7 * 86_400,
        step: 3600,
    },
    Range {
        name: "30d",
        label: "30 days",
        seconds: 30 * 86_400,
        step: 4 * 3600,
    },
];

/// The range named `name`.
pub fn range(name: &str) -> Option<Range> {
    RANGES.iter().copied().find(|r| r.name == name)
}

/// Tenants charted by name at most (the fullest ones): one series each.
pub const MAX_TENANTS: usize = 5;

/// What each chart of the trends page asks Prometheus, by chart key:
///
/// - `duration`: the mean duration of the syncs in each step (none where none ran);
/// - `changed`: objects written in each step, by action;
/// - `drift`: the most drifted objects seen in each step;
/// - `quota`: per tenant of `tenants`, its fullest quota resource in percent;
/// - `cpu`: per tenant of `tenants`, the CPU its pods use against its `requests.cpu` quota,
///   in percent (the metrics API).
///
/// `tenants` are DNS labels (validated names); others are left out of the queries.
pub fn queries(range: &Range, tenants: &[&str]) -> Vec<(&'static str, String)> {
    let w = format!("{}s", range.step);
    let mut out = vec![
        (
            "duration",
            format!("sum(increase(berth_sync_duration_seconds_sum[{w}])) / sum(increase(berth_sync_duration_seconds_count[{w}]))"),
        ),
        (
            "changed",
            format!("sum by (action) (increase(berth_objects_applied_total[{w}]))"),
        ),
        ("drift", format!("max(max_over_time(berth_drifted_objects[{w}]))")),
    ];
    let names: Vec<&str> = tenants
        .iter()
        .copied()
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .take(MAX_TENANTS)
        .collect();
    if !names.is_empty() {
        let re = names.join("|");
        out.push((
            "quota",
            format!("100 * max by (tenant) (max_over_time(berth_tenant_quota_used{{tenant=~\"{re}\"}}[{w}]) / (max_over_time(berth_tenant_quota_hard{{tenant=~\"{re}\"}}[{w}]) > 0))"),
        ));
        out.push((
            "cpu",
            format!("100 * max by (tenant) (max_over_time(berth_tenant_pod_usage{{resource=\"cpu\",tenant=~\"{re}\"}}[{w}])) / max by (tenant) (max_over_time(berth_tenant_quota_hard{{resource=\"requests.cpu\",tenant=~\"{re}\"}}[{w}]) > 0)"),
        ));
    }
    out
}

/// The path and query of a range query against a Prometheus server at `base` (no trailing
/// `/`): `base/api/v1/query_range?query=...&start=...&end=...&step=...`.
pub fn query_range_url(base: &str, promql: &str, start: i64, end: i64, step: i64) -> String {
    format!(
        "{}/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
        base.trim_end_matches('/'),
        url_encode(promql)
    )
}

/// One series of a matrix: its labels and its points `(unix seconds, value)`; values that
/// are not finite numbers (`NaN`, `+Inf`) are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSeries {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Points, oldest first.
    pub points: Vec<(i64, f64)>,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct AnswerData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<MatrixSeries>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Why a query gave no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrometheusError {
    /// The configured URL cannot be requested.
    #[error("`{url}` cannot be requested: {message}")]
    Url {
        /// The base URL.
        url: String,
        /// Why.
        message: String,
    },
    /// No connection.
    #[error("cannot reach Prometheus at {url}: {message}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// Why.
        message: String,
    },
    /// No answer in time.
    #[error("Prometheus at {url} did not answer within {seconds} s")]
    Timeout {
        /// The base URL.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The query was refused (`status: error`).
    #[error("Prometheus at {url} refused a query ({error_type}): {message}")]
    Query {
        /// The base URL.
        url: String,
        /// `bad_data`, `timeout`, `execution`, ...
        error_type: String,
        /// Its message.
        message: String,
    },
    /// An HTTP error without a Prometheus answer (a proxy, the wrong server).
    #[error("Prometheus at {url} answered HTTP {status}: {message}")]
    Http {
        /// The base URL.
        url: String,
        /// Status code.
        status: u16,
        /// The start of the body.
        message: String,
    },
    /// The answer is not what the HTTP API returns.
    #[error("cannot read the answer of Prometheus at {url}: {message}")]
    Decode {
        /// The base URL.
        url: String,
        /// Why.
        message: String,
    },
}

/// The series of a `query_range` answer (any HTTP status: Prometheus explains its errors in
/// the body).
pub fn parse_matrix(
    url: &str,
    status: u16,
    body: &[u8],
) -> Result<Vec<PromSeries>, PrometheusError> {
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) if (200..300).contains(&status) => {
            return Err(PrometheusError::Decode {
                url: url.into(),
                message: e.to_string(),
            })
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(PrometheusError::Http {
                url: url.into(),
                status,
                message: text.chars().take(200).collect(),
            });
        }
    };
    if answer.status != "success" {
        return Err(PrometheusError::Query {
            url: url.into(),
            error_type: answer.error_type.unwrap_or_else(|| "error".into()),
            message: answer.error.unwrap_or_default(),
        });
    }
    let data = answer.data.ok_or_else(|| PrometheusError::Decode {
        url: url.into(),
        message: "no `data` in a successful answer".into(),
    })?;
    if data.result_type != "matrix" {
        return Err(PrometheusError::Decode {
            url: url.into(),
            message: format!("a `{}` where a `matrix` was expected", data.result_type),
        });
    }
    Ok(data
        .result
        .into_iter()
        .map(|s| PromSeries {
            labels: s.metric,
            points: s
                .values
                .into_iter()
                .filter_map(|(t, v)| {
                    let v: f64 = v.parse().ok()?;
                    v.is_finite().then_some((t.floor() as i64, v))
                })
                .collect(),
        })
        .collect())
}

/// What the trends page shows from Prometheus.
#[derive(Debug, Clone, Default)]
pub struct PromTrends {
    /// The range.
    pub range: Option<Range>,
    /// The server (base URL).
    pub url: String,
    /// First and last point, unix seconds.
    pub start: i64,
    /// See `start`.
    pub end: i64,
    /// Series by chart key (see [`queries`]); a chart whose query failed is absent.
    pub charts: BTreeMap<&'static str, Vec<PromSeries>>,
    /// What went wrong, once each.
    pub errors: Vec<String>,
}

/// How long all the queries of a page may take together.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read, bytes.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Empty<hyper::body::Bytes>,
>;

/// One client for the process (HTTP and HTTPS, the system's roots); `Err` when the system's
/// certificates cannot be loaded.
fn client() -> Result<&'static Client, String> {
    static CLIENT: OnceLock<Result<Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(https),
            )
        })
        .as_ref()
        .map_err(Clone::clone)
}

async fn get(url: &str, target: &str) -> Result<(u16, Vec<u8>), PrometheusError> {
    use http_body_util::BodyExt as _;
    let client = client().map_err(|message| PrometheusError::Url {
        url: url.into(),
        message,
    })?;
    let uri: hyper::Uri =
        target
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| PrometheusError::Url {
                url: url.into(),
                message: e.to_string(),
            })?;
    let request = hyper::Request::get(uri)
        .header(hyper::header::ACCEPT, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("berth/", env!("CARGO_PKG_VERSION")),
        )
        .body(http_body_util::Empty::new())
        .map_err(|e| PrometheusError::Url {
            url: url.into(),
            message: e.to_string(),
        })?;
    let response = client.request(request).await.map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        PrometheusError::Unreachable {
            url: url.into(),
            message,
        }
    })?;
    let status = response.status().as_u16();
    let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| PrometheusError::Decode {
            url: url.into(),
            message: e.to_string(),
        })?
        .to_bytes();
    Ok((status, body.to_vec()))
}

/// Runs the queries of `range` ending `now` against the Prometheus server at `url`, for the
/// charts of the trends page; `tenants` are charted by name (the fullest first, see
/// [`queries`]). Never fails: what went wrong is in [`PromTrends::errors`].
pub async fn fetch(url: &str, range: Range, now: i64, tenants: &[&str]) -> PromTrends {
    let end = now;
    let start = now - range.seconds;
    let mut out = PromTrends {
        range: Some(range),
        url: url.to_string(),
        start,
        end,
        ..PromTrends::default()
    };
    let asked = queries(&range, tenants);
    let requests = asked.iter().map(|(_, promql)| {
        let target = query_range_url(url, promql, start, end, range.step);
        async move {
            let (status, body) = get(url, &target).await?;
            parse_matrix(url, status, &body)
        }
    });
    let answers = match tokio::time::timeout(TIMEOUT, futures::future::join_all(requests)).await {
        Ok(a) => a,
        Err(_) => {
            out.errors.push(
                PrometheusError::Timeout {
                    url: url.into(),
                    seconds: TIMEOUT.as_secs(),
                }
                .to_string(),
            );
            return out;
        }
    };
    for ((key, _), answer) in asked.iter().zip(answers) {
        match answer {
            Ok(series) => {
                out.charts.insert(key, series);
            }
            Err(e) => {
                let e = e.to_string();
                if !out.errors.contains(&e) {
                    out.errors.push(e);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_have_a_few_hundred_points_at_most() {
        for r in RANGES {
            let points = r.seconds / r.step;
            assert!((100..=200).contains(&points), "{r:?}");
        }
        assert_eq!(range("7d").unwrap().step, 3600);
        assert!(range("1y").is_none());
    }

    #[test]
    fn queries_chart_the_daemon_metrics_and_the_named_tenants_only() {
        let r = range("7d").unwrap();
        let q: BTreeMap<_, _> = queries(&r, &["acme", "globex", "Bad|name", "x\"y"])
            .into_iter()
            .collect();
        assert_eq!(
            q["duration"],
            "sum(increase(berth_sync_duration_seconds_sum[3600s])) / sum(increase(berth_sync_duration_seconds_count[3600s]))"
        );
        assert_eq!(
            q["changed"],
            "sum by (action) (increase(berth_objects_applied_total[3600s]))"
        );
        assert!(
            q["quota"].contains("tenant=~\"acme|globex\""),
            "{}",
            q["quota"]
        );
        assert!(q["cpu"].contains("resource=\"requests.cpu\""));
        let none = queries(&r, &[]);
        assert_eq!(none.len(), 3, "no tenant charts without tenants");
        let many: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let q: BTreeMap<_, _> = queries(&r, &many).into_iter().collect();
        assert!(q["quota"].contains("t0|t1|t2|t3|t4\""), "{}", q["quota"]);
    }

    #[test]
    fn the_url_encodes_the_query() {
        assert_eq!(
            query_range_url("http://p:9090/", "sum(x{a=\"b\"})", 10, 20, 5),
            "http://p:9090/api/v1/query_range?query=sum%28x%7Ba%3D%22b%22%7D%29&start=10&end=20&step=5"
        );
    }

    #[test]
    fn matrices_parse_and_errors_are_messages() {
        let ok = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"action":"create"},"values":[[1700000000,"3"],[1700000060.5,"NaN"],[1700000120,"+Inf"],[1700000180,"0.25"]]}]}}"#;
        let s = parse_matrix("http://p", 200, ok).unwrap();
        assert_eq!(s[0].labels["action"], "create");
        assert_eq!(s[0].points, [(1_700_000_000, 3.0), (1_700_000_180, 0.25)]);

        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        let e = parse_matrix("http://p", 400, bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Prometheus at http://p refused a query (bad_data): parse error at char 5"
        );
        let proxy = parse_matrix("http://p", 502, b"<html>\n Bad   Gateway</html>").unwrap_err();
        assert_eq!(
            proxy.to_string(),
            "Prometheus at http://p answered HTTP 502: <html> Bad Gateway</html>"
        );
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(matches!(
            parse_matrix("http://p", 200, vector),
            Err(PrometheusError::Decode { .. })
        ));
        assert!(matches!(
            parse_matrix("http://p", 200, b"not json"),
            Err(PrometheusError::Decode { .. })
        ));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_message_not_a_failure() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let t = fetch(&url, RANGES[0], 1_795_000_000, &["acme"]).await;
        assert!(t.charts.is_empty());
        assert_eq!(
            t.errors.len(),
            1,
            "one message for all queries: {:?}",
            t.errors
        );
        assert!(
            t.errors[0].starts_with(&format!("cannot reach Prometheus at {url}")),
            "{:?}",
            t.errors
        );
    }
}
