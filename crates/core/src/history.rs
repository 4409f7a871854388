//! Portfolio value over time, as pure functions: the points a refresh adds, how they are
//! kept bounded ([`compact`]: every point for 48 hours, the last of each hour for 90 days,
//! the last of each UTC day for ever — the latest point always), which points a chart range
//! shows ([`Range::points`]) and the change over it ([`change`]). Values are USD, exact
//! decimals; display currencies convert when shown.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Every point is kept this long.
pub const KEEP_ALL_MS: u64 = 48 * HOUR_MS;
/// Then one point per hour this long (from now).
pub const KEEP_HOURLY_MS: u64 = 90 * DAY_MS;

/// The portfolio at one successful refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Unix milliseconds of the refresh.
    pub at_ms: u64,
    /// The total in USD.
    pub total: Decimal,
    /// USD per connection id.
    #[serde(default)]
    pub connections: Vec<(String, Decimal)>,
    /// Per asset: (asset, amount, USD value).
    #[serde(default)]
    pub assets: Vec<(String, Decimal, Decimal)>,
}

/// Adds a point in time order; a point at the same millisecond replaces the one there.
pub fn add(points: &mut Vec<Point>, point: Point) {
    match points.binary_search_by_key(&point.at_ms, |p| p.at_ms) {
        Ok(i) => points[i] = point,
        Err(i) => points.insert(i, point),
    }
}

/// The bucket a point of age `now - at` falls in: every point its own (within 48 h), then
/// its hour, then its UTC day.
fn bucket(at_ms: u64, now_ms: u64) -> (u8, u64) {
    let age = now_ms.saturating_sub(at_ms);
    if age <= KEEP_ALL_MS {
        (2, at_ms)
    } else if age <= KEEP_HOURLY_MS {
        (1, at_ms / HOUR_MS)
    } else {
        (0, at_ms / DAY_MS)
    }
}

/// Keeps history bounded: of the points (in time order) sharing a bucket, only the last
/// stays. The latest point always stays; running it again changes nothing.
pub fn compact(points: &mut Vec<Point>, now_ms: u64) {
    let mut kept: Vec<Point> = Vec::with_capacity(points.len());
    for point in points.drain(..) {
        if let Some(last) = kept.last() {
            if bucket(last.at_ms, now_ms) == bucket(point.at_ms, now_ms) {
                kept.pop();
            }
        }
        kept.push(point);
    }
    *points = kept;
}

/// A chart range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Range {
    Day,
    Week,
    Month,
    Year,
    All,
}

impl Range {
    pub const ALL: [Range; 5] = [
        Range::Day,
        Range::Week,
        Range::Month,
        Range::Year,
        Range::All,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
            Self::Year => "1y",
            Self::All => "All",
        }
    }

    fn span_ms(self) -> Option<u64> {
        match self {
            Self::Day => Some(DAY_MS),
            Self::Week => Some(7 * DAY_MS),
            Self::Month => Some(30 * DAY_MS),
            Self::Year => Some(365 * DAY_MS),
            Self::All => None,
        }
    }

    /// The points (in time order) this range shows at `now_ms`: those not older than the
    /// range, plus the last one before it, so the change covers the whole range when
    /// history reaches that far back.
    pub fn points(self, points: &[Point], now_ms: u64) -> &[Point] {
        let Some(span) = self.span_ms() else {
            return points;
        };
        let start = now_ms.saturating_sub(span);
        let first_inside = points.partition_point(|p| p.at_ms < start);
        &points[first_inside.saturating_sub(1)..]
    }
}

/// The change over the points of a range: (last − first, that as a percentage of the
/// first, when the first is not zero). `None` with fewer than two points.
pub fn change(points: &[Point]) -> Option<(Decimal, Option<Decimal>)> {
    let (first, last) = (points.first()?, points.last()?);
    if points.len() < 2 {
        return None;
    }
    let diff = last.total - first.total;
    let percent =
        (!first.total.is_zero()).then(|| (diff * Decimal::ONE_HUNDRED / first.total).round_dp(2));
    Some((diff, percent))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-28T00:00:00Z
    const NOW: u64 = 1_795_824_000_000;
    const MIN: u64 = 60_000;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn at(ms: u64, total: &str) -> Point {
        Point {
            at_ms: ms,
            total: d(total),
            ..Point::default()
        }
    }

    fn times(points: &[Point]) -> Vec<u64> {
        points.iter().map(|p| p.at_ms).collect()
    }

    #[test]
    fn points_go_in_time_order_and_one_per_millisecond() {
        let mut h = Vec::new();
        add(&mut h, at(3, "3"));
        add(&mut h, at(1, "1"));
        add(&mut h, at(2, "2"));
        add(&mut h, at(2, "2.5"));
        assert_eq!(times(&h), [1, 2, 3]);
        assert_eq!(h[1].total, d("2.5"));
    }

    /// The boundaries: exactly 48 h old is still kept as it is, a minute older is hourly;
    /// exactly 90 days old is hourly, older is daily (UTC days); the latest point stays.
    #[test]
    fn compaction_keeps_every_point_for_48h_then_hourly_then_daily() {
        let mut h = Vec::new();
        // Within 48 h: two points five minutes apart, both kept.
        add(&mut h, at(NOW - 10 * MIN, "10"));
        add(&mut h, at(NOW - 5 * MIN, "11"));
        // Exactly 48 h old, kept as it is; and one 5 minutes before, in the same hour.
        add(&mut h, at(NOW - KEEP_ALL_MS, "12"));
        add(&mut h, at(NOW - KEEP_ALL_MS - 5 * MIN, "13"));
        add(&mut h, at(NOW - KEEP_ALL_MS - 10 * MIN, "14"));
        // Three days old: three points in one hour → its last.
        let hour = NOW - 3 * DAY_MS;
        for (i, v) in ["20", "21", "22"].iter().enumerate() {
            add(&mut h, at(hour + i as u64 * 15 * MIN, v));
        }
        // 100 days old: four points over one UTC day (every six hours) → the day's last.
        let day = NOW - 100 * DAY_MS;
        for (i, v) in ["30", "31", "32", "33"].iter().enumerate() {
            add(&mut h, at(day + i as u64 * 6 * HOUR_MS, v));
        }
        compact(&mut h, NOW);
        let totals: Vec<String> = h.iter().map(|p| p.total.to_string()).collect();
        assert_eq!(totals, ["33", "22", "13", "12", "10", "11"]);
        // The hourly 48 h + 10 min and 48 h + 5 min points share an hour: the later stays.
        assert!(!h.iter().any(|p| p.total == d("14")));
        let again = h.clone();
        compact(&mut h, NOW);
        assert_eq!(h, again, "idempotent");

        // A lone latest point older than 90 days stays.
        let mut old = vec![
            at(NOW - 400 * DAY_MS, "1"),
            at(NOW - 400 * DAY_MS + MIN, "2"),
        ];
        compact(&mut old, NOW);
        assert_eq!(old, vec![at(NOW - 400 * DAY_MS + MIN, "2")]);
    }

    /// Five years of a refresh every 5 minutes: 576 points of the last 48 h, one per hour
    /// for the rest of 90 days, one per day before.
    #[test]
    fn five_years_of_five_minute_refreshes_stay_small() {
        let mut h = Vec::new();
        let start = NOW - 5 * 365 * DAY_MS;
        let mut t = start;
        while t <= NOW {
            h.push(at(t, "1"));
            // Compacted as the app would, now and then (daily), and at the end.
            if (t - start).is_multiple_of(DAY_MS) {
                compact(&mut h, t);
            }
            t += 5 * MIN;
        }
        compact(&mut h, NOW);
        let recent = h.iter().filter(|p| NOW - p.at_ms <= KEEP_ALL_MS).count();
        assert_eq!(recent, 577, "every 5 minutes over 48 h, both ends");
        let hourly = h
            .iter()
            .filter(|p| (KEEP_ALL_MS + 1..=KEEP_HOURLY_MS).contains(&(NOW - p.at_ms)))
            .count();
        assert_eq!(hourly, 88 * 24);
        assert!(h.len() < 4_500, "{}", h.len());
        assert_eq!(h.last().unwrap().at_ms, NOW);
    }

    #[test]
    fn ranges_show_their_span_and_the_point_before_it() {
        let h = vec![
            at(NOW - 40 * DAY_MS, "100"),
            at(NOW - 8 * DAY_MS, "120"),
            at(NOW - 2 * DAY_MS, "130"),
            at(NOW - HOUR_MS, "150"),
            at(NOW, "160"),
        ];
        assert_eq!(times(Range::Day.points(&h, NOW)), times(&h[2..]));
        assert_eq!(times(Range::Week.points(&h, NOW)), times(&h[1..]));
        assert_eq!(times(Range::Month.points(&h, NOW)), times(&h[0..]));
        assert_eq!(Range::All.points(&h, NOW).len(), 5);
        assert_eq!(Range::Year.points(&[], NOW).len(), 0);
        // 24h: from 130 (the last point before the range) to 160.
        assert_eq!(
            change(Range::Day.points(&h, NOW)),
            Some((d("30"), Some(d("23.08"))))
        );
        assert_eq!(change(&h), Some((d("60"), Some(d("60")))));
        assert_eq!(change(&h[4..]), None, "one point is no change");
        assert_eq!(
            change(&[at(1, "0"), at(2, "5")]),
            Some((d("5"), None)),
            "no percentage from zero"
        );
        // Exact decimals: 0.1 + 0.2 style sums stay exact.
        assert_eq!(
            change(&[at(1, "0.3"), at(2, "0.1")]),
            Some((d("-0.2"), Some(d("-66.67"))))
        );
    }
}
