//! The resume plot: time of the last invocation against N, both SDKs, log-log, as SVG.

use std::fmt::Write;
use std::time::Duration;

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// Picks one SDK's time from a point.
type Pick = fn(&(u64, Duration, Duration)) -> Duration;

/// `points`: (N, durable-fsm, official SDK).
pub fn resume_plot(points: &[(u64, Duration, Duration)]) -> String {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let xs: Vec<f64> = points.iter().map(|p| p.0 as f64).collect();
    let ys: Vec<f64> = points.iter().flat_map(|p| [us(p.1), us(p.2)]).collect();
    let decade = |v: f64, up: bool| {
        let l = v.max(1e-3).log10();
        10f64.powf(if up { l.ceil() } else { l.floor() })
    };
    let x0 = decade(xs.iter().copied().fold(f64::INFINITY, f64::min), false);
    let x1 = decade(xs.iter().copied().fold(1.0, f64::max), true);
    let y0 = decade(ys.iter().copied().fold(f64::INFINITY, f64::min), false);
    let y1 = decade(ys.iter().copied().fold(1.0, f64::max), true);
    let px = |x: f64| {
        LEFT + (x.log10() - x0.log10()) / (x1.log10() - x0.log10()).max(1e-9) * (W - LEFT - RIGHT)
    };
    let py = |y: f64| {
        H - BOTTOM
            - (y.log10() - y0.log10()) / (y1.log10() - y0.log10()).max(1e-9) * (H - TOP - BOTTOM)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">Last invocation after N transitions and a timer</text>"#,
        (LEFT + W - RIGHT) / 2.0
    );
    // Grid and tick labels, one per decade.
    let mut x = x0;
    while x <= x1 * 1.0001 {
        let p = px(x);
        let _ = writeln!(
            s,
            r##"<line x1="{p:.1}" y1="{TOP}" x2="{p:.1}" y2="{}" stroke="#ddd"/><text x="{p:.1}" y="{}" text-anchor="middle">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 18.0,
            thousands(x)
        );
        x *= 10.0;
    }
    let mut y = y0;
    while y <= y1 * 1.0001 {
        let p = py(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{p:.1}" x2="{}" y2="{p:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            p + 4.0,
            time_label(y)
        );
        y *= 10.0;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">N (transitions before the timer), log scale</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 16.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">time of the last invocation, log scale</text>"#,
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0
    );
    let series: [(&str, &str, Pick); 2] = [
        ("durable-fsm", "#1f77b4", |p| p.1),
        ("official SDK", "#d62728", |p| p.2),
    ];
    for (i, (name, colour, pick)) in series.iter().enumerate() {
        let coords: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (px(p.0 as f64), py(us(pick(p)))))
            .collect();
        let path: Vec<String> = coords
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for ((x, y), p) in coords.iter().zip(points) {
            let _ = writeln!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{colour}"><title>{name}, N = {}: {}</title></circle>"#,
                thousands(p.0 as f64),
                time_label(us(pick(p)))
            );
        }
        let ly = TOP + 20.0 + 22.0 * i as f64;
        let lx = W - RIGHT + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{name}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `v` rounded, with thousands separators.
pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn time_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

fn trim(v: f64) -> String {
    if v >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
