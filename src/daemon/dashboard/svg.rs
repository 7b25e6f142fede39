//! Charts drawn on the server as inline SVG: they scale with the page (a `viewBox`, width
//! 100%), need no script, and each point has a `<title>` that browsers show on hover.
//! Colours are presentation attributes, so the pages' CSP needs no inline style.

use serde::Serialize;

use super::templates::render;

// The drawing's units are about the pixels a chart gets at the default size (a third of a
// laptop's page, a phone's width), so that 12-unit text reads as 12-pixel text there.
const W: f64 = 360.0;
const H: f64 = 170.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;
/// The size of axis labels.
const FONT: f64 = 12.0;

/// One point: its label (shown on hover) and value.
#[derive(Debug, Clone)]
pub struct Point {
    /// What the point is (`2026-11-25 02:00 · abc123`).
    pub label: String,
    /// Its value.
    pub value: f64,
}

/// A line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// Points, oldest first; drawn evenly spaced.
    pub points: Vec<Point>,
}

/// A round upper bound for an axis: 1, 2, 5 times a power of ten.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if max <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

/// An axis value, short: `200k`, `1.5M`.
fn fmt_axis(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{}M", fmt_num(v / 1e6))
    } else if v.abs() >= 1e4 {
        format!("{}k", fmt_num(v / 1e3))
    } else {
        fmt_num(v)
    }
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A mark of a chart, in drawing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mark {
    /// A bar: its corner, size, colour and hover text.
    Bar {
        /// Left.
        x: String,
        /// Top.
        y: String,
        /// Width.
        w: String,
        /// Height.
        h: String,
        /// Fill.
        color: &'static str,
        /// Hover text.
        title: String,
    },
    /// A line through `x,y` points.
    Line {
        /// Stroke.
        color: &'static str,
        /// `x,y x,y`.
        points: String,
    },
    /// A point: its centre, radius, colour and hover text.
    Dot {
        /// Centre.
        x: String,
        /// Centre.
        y: String,
        /// Radius.
        r: String,
        /// Fill.
        color: &'static str,
        /// Hover text.
        title: String,
    },
}

/// A grid line and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GridLine {
    /// Its height.
    pub y: String,
    /// Where its label sits.
    pub text_y: String,
    /// Its value and unit (`50%`).
    pub label: String,
}

/// Text in the middle of a chart without data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptyText {
    /// Centre.
    pub x: String,
    /// Baseline.
    pub y: String,
    /// `no data yet`.
    pub text: &'static str,
}

/// A chart, drawn: what `chart.svg` shows. Coordinates are in the drawing's units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drawing {
    /// Width.
    pub w: String,
    /// Height.
    pub h: String,
    /// The series names, for screen readers.
    pub label: String,
    /// Left of the plot area.
    pub left: String,
    /// Right of the plot area.
    pub right: String,
    /// Right of the y axis labels.
    pub axis_x: String,
    /// Baseline of the x axis labels.
    pub bottom_y: String,
    /// Size of axis labels.
    pub font: String,
    /// Three grid lines, at 0, half and the top.
    pub grid: Vec<GridLine>,
    /// The label of the x axis's start.
    pub first: String,
    /// The label of its end.
    pub last: String,
    /// Shown when there is nothing to draw.
    pub empty: Option<EmptyText>,
    /// Bars, lines and points.
    pub marks: Vec<Mark>,
    /// Colours and names of the series, when there is a legend.
    pub legend: Vec<(&'static str, String)>,
}

/// The frame of a chart: its label (the series names), three grid lines labelled with values
/// up to `top` in `unit`, and the two ends of the x axis; no marks yet.
fn frame(
    series: &[(&'static str, &str)],
    top: f64,
    unit: &str,
    first: &str,
    last: &str,
) -> Drawing {
    let ph = H - TOP - BOTTOM;
    let names: Vec<&str> = series.iter().map(|s| s.1).collect();
    Drawing {
        w: W.to_string(),
        h: H.to_string(),
        label: names.join(", "),
        left: LEFT.to_string(),
        right: (W - RIGHT).to_string(),
        axis_x: (LEFT - 4.0).to_string(),
        bottom_y: (H - 6.0).to_string(),
        font: FONT.to_string(),
        grid: [0.0, 0.5, 1.0]
            .into_iter()
            .map(|frac| {
                let yy = TOP + ph * (1.0 - frac);
                GridLine {
                    y: format!("{yy:.1}"),
                    text_y: format!("{:.1}", yy + 4.0),
                    label: format!("{}{unit}", fmt_axis(top * frac)),
                }
            })
            .collect(),
        first: first.to_string(),
        last: last.to_string(),
        empty: None,
        marks: Vec::new(),
        legend: Vec::new(),
    }
}

fn empty_text(text: &'static str) -> EmptyText {
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    EmptyText {
        x: (LEFT + pw / 2.0).to_string(),
        y: (TOP + ph / 2.0).to_string(),
        text,
    }
}

/// A line chart (bars when `bars`) of `series` over the same x positions; `first` and `last`
/// label the ends of the x axis. `unit` follows the y values (`s`, `%`).
pub fn chart(series: &[Series], bars: bool, unit: &str, first: &str, last: &str) -> String {
    render(
        "chart.svg",
        &Page {
            page: chart_drawing(series, bars, unit, first, last),
        },
    )
}

/// What [`chart`] draws.
pub fn chart_drawing(
    series: &[Series],
    bars: bool,
    unit: &str,
    first: &str,
    last: &str,
) -> Drawing {
    let n = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.value))
        .fold(0.0f64, f64::max);
    let top = nice_max(max);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |i: usize| {
        if bars {
            LEFT + pw * (i as f64 + 0.5) / n.max(1) as f64
        } else if n <= 1 {
            LEFT + pw / 2.0
        } else {
            LEFT + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + ph * (1.0 - (v / top).clamp(0.0, 1.0));
    let keys: Vec<(&'static str, &str)> =
        series.iter().map(|s| (s.color, s.name.as_str())).collect();
    let mut d = frame(&keys, top, unit, first, last);
    if n == 0 {
        d.empty = Some(empty_text("no data yet"));
    }
    let k = series.len().max(1) as f64;
    for (si, s) in series.iter().enumerate() {
        if bars {
            let slot = pw / n.max(1) as f64;
            let bw = (slot * 0.8 / k).max(1.0);
            for (i, p) in s.points.iter().enumerate() {
                let bx = x(i) - slot * 0.4 + bw * si as f64;
                let by = y(p.value);
                d.marks.push(Mark::Bar {
                    x: format!("{bx:.1}"),
                    y: format!("{by:.1}"),
                    w: format!("{bw:.1}"),
                    h: format!("{:.1}", (TOP + ph - by).max(0.0)),
                    color: s.color,
                    title: format!("{}: {} {}", p.label, fmt_num(p.value), s.name),
                });
            }
        } else {
            let pts: Vec<String> = s
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.value)))
                .collect();
            d.marks.push(Mark::Line {
                color: s.color,
                points: pts.join(" "),
            });
            for (i, p) in s.points.iter().enumerate() {
                d.marks.push(Mark::Dot {
                    x: format!("{:.1}", x(i)),
                    y: format!("{:.1}", y(p.value)),
                    r: (if n > 60 { 1.5 } else { 3.0 }).to_string(),
                    color: s.color,
                    title: format!("{}: {}{unit} {}", p.label, fmt_num(p.value), s.name),
                });
            }
        }
    }
    if series.len() > 1 {
        d.legend = legend(&keys);
    }
    d
}

/// A line of a chart over time.
#[derive(Debug, Clone)]
pub struct TimeSeries {
    /// Legend text.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// `(unix seconds, value)`, oldest first.
    pub points: Vec<(i64, f64)>,
}

/// `2026-11-25 02:00 UTC`.
fn minute(unix: i64) -> String {
    let s = crate::values::time::format_rfc3339(unix);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// A chart of `series` placed by time between `start` and `end` (points `step` seconds
/// apart: a longer gap breaks a line; bars are a step wide), as [`chart`] draws them; with a
/// legend when there are several series or `legend` asks for one.
pub fn time_chart(
    series: &[TimeSeries],
    start: i64,
    end: i64,
    step: i64,
    bars: bool,
    unit: &str,
    legend_always: bool,
) -> String {
    let d = time_chart_drawing(series, start, end, step, bars, unit, legend_always);
    render("chart.svg", &Page { page: d })
}

/// What [`time_chart`] draws.
pub fn time_chart_drawing(
    series: &[TimeSeries],
    start: i64,
    end: i64,
    step: i64,
    bars: bool,
    unit: &str,
    legend_always: bool,
) -> Drawing {
    let span = (end - start).max(1) as f64;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let top = nice_max(max);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: i64| LEFT + pw * ((t - start) as f64 / span).clamp(0.0, 1.0);
    let y = |v: f64| TOP + ph * (1.0 - (v / top).clamp(0.0, 1.0));
    let keys: Vec<(&'static str, &str)> =
        series.iter().map(|s| (s.color, s.name.as_str())).collect();
    let mut d = frame(&keys, top, unit, &minute(start), &minute(end));
    if series.iter().all(|s| s.points.is_empty()) {
        d.empty = Some(empty_text("no data in this range"));
    }
    let k = series.len().max(1) as f64;
    let slot = (pw * step.max(1) as f64 / span).max(1.0);
    let total: usize = series.iter().map(|s| s.points.len()).sum();
    for (si, s) in series.iter().enumerate() {
        if bars {
            let bw = (slot * 0.8 / k).max(1.0);
            for &(t, v) in &s.points {
                let bx = x(t) - slot * 0.4 + bw * si as f64;
                let by = y(v);
                d.marks.push(Mark::Bar {
                    x: format!("{bx:.1}"),
                    y: format!("{by:.1}"),
                    w: format!("{bw:.1}"),
                    h: format!("{:.1}", (TOP + ph - by).max(0.0)),
                    color: s.color,
                    title: format!("{}: {} {}", minute(t), fmt_num(v), s.name),
                });
            }
            continue;
        }
        // Lines, broken where points are missing.
        let mut run: Vec<String> = Vec::new();
        let mut last: Option<i64> = None;
        let flush = |run: &mut Vec<String>, marks: &mut Vec<Mark>| {
            if run.len() > 1 {
                marks.push(Mark::Line {
                    color: s.color,
                    points: run.join(" "),
                });
            }
            run.clear();
        };
        for &(t, v) in &s.points {
            if last.is_some_and(|l| (t - l) as f64 > 1.5 * step.max(1) as f64) {
                flush(&mut run, &mut d.marks);
            }
            run.push(format!("{:.1},{:.1}", x(t), y(v)));
            last = Some(t);
        }
        flush(&mut run, &mut d.marks);
        for &(t, v) in &s.points {
            d.marks.push(Mark::Dot {
                x: format!("{:.1}", x(t)),
                y: format!("{:.1}", y(v)),
                r: (if total > 120 { 1.5 } else { 3.0 }).to_string(),
                color: s.color,
                title: format!("{}: {}{unit} {}", minute(t), fmt_num(v), s.name),
            });
        }
    }
    if series.len() > 1 || (legend_always && !series.is_empty()) {
        d.legend = legend(&keys);
    }
    d
}

fn legend(keys: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    keys.iter().map(|(c, n)| (*c, n.to_string())).collect()
}

/// The data of `chart.svg`.
#[derive(Serialize)]
struct Page {
    page: Drawing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_charts_place_points_by_time_and_break_lines_at_gaps() {
        let s = TimeSeries {
            name: "drift".into(),
            color: "#cf222e",
            points: vec![(0, 1.0), (60, 2.0), (120, 2.0), (600, 4.0), (660, 3.0)],
        };
        let svg = time_chart(&[s], 0, 1200, 60, false, "", false);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 5);
        // 600 s is half of the range: the middle of the plot area.
        let mid = LEFT + (W - LEFT - RIGHT) / 2.0;
        assert!(svg.contains(&format!("cx=\"{mid:.1}\"")), "{svg}");
        assert!(
            svg.contains("<title>1970-01-01 00:10 UTC: 4 drift</title>"),
            "{svg}"
        );
        assert!(!svg.contains("style="));
        let empty = time_chart(&[], 0, 100, 10, true, "", true);
        assert!(empty.contains("no data in this range"));
    }

    fn series(values: &[f64]) -> Series {
        Series {
            name: "sync <duration>".into(),
            color: "#0b5cad",
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| Point {
                    label: format!("sync {i}"),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(0.7), 1.0);
        assert_eq!(nice_max(3.2), 5.0);
        assert_eq!(nice_max(12.0), 20.0);
        assert_eq!(nice_max(100.0), 100.0);
    }

    #[test]
    fn a_line_chart_has_a_point_per_value_with_a_title_and_escaped_labels() {
        let svg = chart(&[series(&[1.0, 2.5, 0.5])], false, "s", "<a>", "b");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(
            svg.contains("<title>sync 1: 2.5s sync &lt;duration&gt;</title>"),
            "{svg}"
        );
        assert!(svg.contains("&lt;a&gt;"));
        assert!(svg.contains(">5s</text>"), "the axis top: {svg}");
        assert!(!svg.contains("style="), "no inline style: {svg}");
    }

    #[test]
    fn bars_and_empty_charts() {
        let svg = chart(&[series(&[3.0, 0.0])], true, "", "", "");
        assert_eq!(svg.matches("<rect").count(), 2);
        let empty = chart(&[series(&[])], false, "", "", "");
        assert!(empty.contains("no data yet"));
    }
}
