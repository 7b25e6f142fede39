//! Charts drawn on the server as inline SVG: they scale with the page (a `viewBox`, width
//! 100%), need no script, and each point has a `<title>` that browsers show on hover.
//! Colours are presentation attributes, so the pages' CSP needs no inline style.

use std::fmt::Write as _;

use super::html::escape;

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

/// The opening of a chart's SVG: its label (the series names), three grid lines labelled with
/// values up to `top` in `unit`, and the two ends of the x axis.
fn frame<'a>(
    names: impl Iterator<Item = &'a str>,
    top: f64,
    unit: &str,
    first: &str,
    last: &str,
) -> String {
    let ph = H - TOP - BOTTOM;
    let mut out = String::new();
    let names: Vec<&str> = names.collect();
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(&names.join(", "))
    );
    for frac in [0.0, 0.5, 1.0] {
        let yy = TOP + ph * (1.0 - frac);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#d9dde3\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"{FONT}\" text-anchor=\"end\" fill=\"#5b6470\">{}{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            yy + 4.0,
            escape(&fmt_axis(top * frac)),
            escape(unit)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"{FONT}\" fill=\"#5b6470\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"{FONT}\" text-anchor=\"end\" fill=\"#5b6470\">{}</text>",
        H - 6.0,
        escape(first),
        W - RIGHT,
        H - 6.0,
        escape(last)
    );
    out
}

/// A line chart (bars when `bars`) of `series` over the same x positions; `first` and `last`
/// label the ends of the x axis. `unit` follows the y values (`s`, `%`).
pub fn chart(series: &[Series], bars: bool, unit: &str, first: &str, last: &str) -> String {
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
    let mut out = frame(
        series.iter().map(|s| s.name.as_str()),
        top,
        unit,
        first,
        last,
    );
    if n == 0 {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#5b6470\">no data yet</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    let k = series.len().max(1) as f64;
    for (si, s) in series.iter().enumerate() {
        if bars {
            let slot = pw / n.max(1) as f64;
            let bw = (slot * 0.8 / k).max(1.0);
            for (i, p) in s.points.iter().enumerate() {
                let bx = x(i) - slot * 0.4 + bw * si as f64;
                let by = y(p.value);
                let _ = write!(
                    out,
                    "<rect x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} {}</title></rect>",
                    (TOP + ph - by).max(0.0),
                    s.color,
                    escape(&p.label),
                    escape(&fmt_num(p.value)),
                    escape(&s.name)
                );
            }
        } else {
            let pts: Vec<String> = s
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.value)))
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                s.color,
                pts.join(" ")
            );
            for (i, p) in s.points.iter().enumerate() {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\"><title>{}: {}{} {}</title></circle>",
                    x(i),
                    y(p.value),
                    if n > 60 { 1.5 } else { 3.0 },
                    s.color,
                    escape(&p.label),
                    escape(&fmt_num(p.value)),
                    escape(unit),
                    escape(&s.name)
                );
            }
        }
    }
    out.push_str("</svg>");
    if series.len() > 1 {
        legend(&mut out, series.iter().map(|s| (s.color, s.name.as_str())));
    }
    out
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
    let span = (end - start).max(1) as f64;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let top = nice_max(max);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: i64| LEFT + pw * ((t - start) as f64 / span).clamp(0.0, 1.0);
    let y = |v: f64| TOP + ph * (1.0 - (v / top).clamp(0.0, 1.0));
    let mut out = frame(
        series.iter().map(|s| s.name.as_str()),
        top,
        unit,
        &minute(start),
        &minute(end),
    );
    if series.iter().all(|s| s.points.is_empty()) {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#5b6470\">no data in this range</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
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
                let _ = write!(
                    out,
                    "<rect x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} {}</title></rect>",
                    (TOP + ph - by).max(0.0),
                    s.color,
                    escape(&minute(t)),
                    escape(&fmt_num(v)),
                    escape(&s.name)
                );
            }
            continue;
        }
        // Lines, broken where points are missing.
        let mut run: Vec<String> = Vec::new();
        let mut last: Option<i64> = None;
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                    s.color,
                    run.join(" ")
                );
            }
            run.clear();
        };
        for &(t, v) in &s.points {
            if last.is_some_and(|l| (t - l) as f64 > 1.5 * step.max(1) as f64) {
                flush(&mut run, &mut out);
            }
            run.push(format!("{:.1},{:.1}", x(t), y(v)));
            last = Some(t);
        }
        flush(&mut run, &mut out);
        for &(t, v) in &s.points {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\"><title>{}: {}{} {}</title></circle>",
                x(t),
                y(v),
                if total > 120 { 1.5 } else { 3.0 },
                s.color,
                escape(&minute(t)),
                escape(&fmt_num(v)),
                escape(unit),
                escape(&s.name)
            );
        }
    }
    out.push_str("</svg>");
    if series.len() > 1 || (legend_always && !series.is_empty()) {
        legend(&mut out, series.iter().map(|s| (s.color, s.name.as_str())));
    }
    out
}

fn legend<'a>(out: &mut String, entries: impl Iterator<Item = (&'static str, &'a str)>) {
    out.push_str("<p class=\"meta\">");
    for (color, name) in entries {
        let _ = write!(
            out,
            "<svg class=\"key\" viewBox=\"0 0 10 10\" width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"{color}\"/></svg> {} &nbsp; ",
            escape(name)
        );
    }
    out.push_str("</p>");
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
