//! A line chart's geometry as pure integer math (no floats: their formatting would add to
//! the bundle): where each point goes in an SVG view box, the path through them, and the
//! point nearest a pointer. Coordinates are in tenths of a view-box unit.

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::history::Point;

/// The chart's view box: `0 0 WIDTH HEIGHT`.
pub const WIDTH: u32 = 600;
pub const HEIGHT: u32 = 160;

/// A line through a series of (time, value), scaled to the view box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// SVG path data, e.g. `M0 160L600 0`.
    pub path: String,
    /// Each point's x and y, in tenths of a unit.
    pub xs: Vec<u32>,
    pub ys: Vec<u32>,
    /// The lowest and highest value (the y axis).
    pub low: Decimal,
    pub high: Decimal,
}

/// Writes tenths as a number: 1234 → `123.4`, 1230 → `123`.
fn push_tenths(out: &mut String, tenths: u32) {
    let _ = match tenths % 10 {
        0 => write!(out, "{}", tenths / 10),
        f => write!(out, "{}.{f}", tenths / 10),
    };
}

/// Tenths as SVG number text: 1234 → `123.4`.
pub fn tenths(t: u32) -> String {
    let mut out = String::new();
    push_tenths(&mut out, t);
    out
}

/// The line through `series` (time-ordered): time spans the width (first point at the left
/// edge, last at the right), values span the height (highest at the top); one point, or
/// all equal values, draw a level line through the middle.
pub fn line(series: &[(u64, Decimal)]) -> Line {
    let (Some(first), Some(last)) = (series.first(), series.last()) else {
        return Line::default();
    };
    let low = series.iter().map(|p| p.1).min().unwrap_or_default();
    let high = series.iter().map(|p| p.1).max().unwrap_or_default();
    let span_t = last.0 - first.0;
    let span_v = high - low;
    let (w, h) = (WIDTH * 10, HEIGHT * 10);
    let mut out = Line {
        path: String::with_capacity(series.len() * 12),
        xs: Vec::with_capacity(series.len()),
        ys: Vec::with_capacity(series.len()),
        low,
        high,
    };
    for (i, &(t, v)) in series.iter().enumerate() {
        let x = match span_t {
            0 if series.len() == 1 => 0,
            0 => (i as u64 * u64::from(w) / (series.len() as u64 - 1)) as u32,
            _ => ((t - first.0) as u128 * u128::from(w) / u128::from(span_t)) as u32,
        };
        let y = if span_v.is_zero() {
            h / 2
        } else {
            let up = ((v - low) * Decimal::from(h) / span_v).round();
            h - u32::try_from(up).unwrap_or(0).min(h)
        };
        out.path.push(if i == 0 { 'M' } else { 'L' });
        push_tenths(&mut out.path, x);
        out.path.push(' ');
        push_tenths(&mut out.path, y);
        out.xs.push(x);
        out.ys.push(y);
    }
    if series.len() == 1 {
        out.path.push('H');
        push_tenths(&mut out.path, w);
        out.xs[0] = w;
    }
    out
}

/// The index of the point whose x is nearest `x` (tenths); the later one on a tie.
pub fn nearest(xs: &[u32], x: u32) -> Option<usize> {
    let i = xs.partition_point(|&p| p < x);
    match (i.checked_sub(1), xs.get(i)) {
        (Some(before), Some(&after)) if x - xs[before] < after - x => Some(before),
        (_, Some(_)) => Some(i),
        (Some(before), None) => Some(before),
        (None, None) => None,
    }
}

/// A chart's series from history: the total (`asset` None) or one asset's USD value, at
/// each point that has it.
pub fn series(points: &[Point], asset: Option<&str>) -> Vec<(u64, Decimal)> {
    points
        .iter()
        .filter_map(|p| match asset {
            None => Some((p.at_ms, p.total)),
            Some(a) => p
                .assets
                .iter()
                .find(|(name, _, _)| name == a)
                .map(|(_, _, value)| (p.at_ms, *value)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_line_spans_the_view_box() {
        // Times 0, 1, 4 h; values 100, 150, 120: x = 0, 150, 600; y = 160, 0, 96.
        let h = 3_600_000;
        let l = line(&[(0, d("100")), (h, d("150")), (4 * h, d("120"))]);
        assert_eq!(l.path, "M0 160L150 0L600 96");
        assert_eq!(l.xs, [0, 1500, 6000]);
        assert_eq!(l.ys, [1600, 0, 960]);
        assert_eq!((l.low, l.high), (d("100"), d("150")));
        // Tenths where the scale needs them: a third of 160 from the bottom.
        let l = line(&[(0, d("0")), (3, d("1")), (6, d("3"))]);
        assert_eq!(l.path, "M0 160L300 106.7L600 0");
    }

    #[test]
    fn flat_and_single_point_lines_run_through_the_middle() {
        assert_eq!(line(&[(5, d("7")), (9, d("7"))]).path, "M0 80L600 80");
        let one = line(&[(5, d("7"))]);
        assert_eq!(one.path, "M0 80H600");
        assert_eq!(one.xs, [6000]);
        assert_eq!(line(&[]), Line::default());
        // Points at the same millisecond are spread evenly.
        assert_eq!(line(&[(5, d("1")), (5, d("2"))]).path, "M0 160L600 0");
    }

    #[test]
    fn the_readout_picks_the_nearest_point() {
        let xs = [0, 1500, 6000];
        assert_eq!(nearest(&xs, 0), Some(0));
        assert_eq!(nearest(&xs, 700), Some(0));
        assert_eq!(nearest(&xs, 750), Some(1), "tie: the later");
        assert_eq!(nearest(&xs, 3800), Some(2));
        assert_eq!(nearest(&xs, 9000), Some(2));
        assert_eq!(nearest(&[], 10), None);
    }

    #[test]
    fn series_of_the_total_or_one_asset() {
        let p = |at, total: &str, btc: Option<&str>| Point {
            at_ms: at,
            total: d(total),
            connections: vec![],
            assets: btc
                .map(|v| vec![("BTC".to_string(), d("1"), d(v))])
                .unwrap_or_default(),
        };
        let h = [
            p(1, "10", Some("4")),
            p(2, "11", None),
            p(3, "12", Some("5")),
        ];
        assert_eq!(series(&h, None), [(1, d("10")), (2, d("11")), (3, d("12"))]);
        assert_eq!(series(&h, Some("BTC")), [(1, d("4")), (3, d("5"))]);
        assert!(series(&h, Some("ETH")).is_empty());
    }
}
