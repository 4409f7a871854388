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

impl Point {
    /// The point of a valuation at `at_ms`: total, each connection, each priced asset.
    pub fn of(at_ms: u64, v: &crate::portfolio::Valuation) -> Self {
        Self {
            at_ms,
            total: v.total,
            connections: v
                .by_connection
                .iter()
                .map(|(c, x)| (c.clone(), *x))
                .collect(),
            assets: v
                .assets
                .iter()
                .filter_map(|a| Some((a.asset.clone(), a.amount, a.value?)))
                .collect(),
        }
    }
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

/// The change over a chart series (a range's total, or one asset's value): (last − first,
/// that as a percentage of the first, when the first is not zero). `None` with fewer than
/// two points.
pub fn change(series: &[(u64, Decimal)]) -> Option<(Decimal, Option<Decimal>)> {
    let (first, last) = (series.first()?.1, series.last()?.1);
    if series.len() < 2 {
        return None;
    }
    let diff = last - first;
    let percent = (!first.is_zero()).then(|| (diff * Decimal::ONE_HUNDRED / first).round_dp(2));
    Some((diff, percent))
}

/// Benchmark data: `years` of a refresh every 5 minutes until `now_ms` as compaction keeps
/// them (daily, then hourly for 90 days, then every point for 48 hours), each with `assets`
/// assets over 4 connections; values move every point, amounts now and then.
#[doc(hidden)]
pub fn sample(now_ms: u64, years: u64, assets: usize) -> Vec<Point> {
    const MIN: u64 = 60_000;
    let mut points = Vec::new();
    let mut at = now_ms - years * 365 * DAY_MS;
    while at <= now_ms {
        let n = (at / MIN) as i64;
        let assets: Vec<(String, Decimal, Decimal)> = (0..assets as i64)
            .map(|i| {
                let amount = Decimal::new(1_000_000 + i * 7_919 + n / 2_500, 6);
                let value = Decimal::new(100_000 + (n * 37 + i * 1_009) % 900_000, 2);
                (format!("ASSET{i}"), amount, value)
            })
            .collect();
        let total = Decimal::new(6_000_000 + (n % 9_973) * 37, 2)
            + assets.iter().map(|a| a.2).sum::<Decimal>();
        let quarter = total / Decimal::from(4);
        points.push(Point {
            at_ms: at,
            total,
            connections: ["okx-1", "binance-1", "bybit-1", "whitebit-1"]
                .iter()
                .map(|c| (c.to_string(), quarter))
                .collect(),
            assets,
        });
        at += match now_ms - at {
            a if a > KEEP_HOURLY_MS => DAY_MS,
            a if a > KEEP_ALL_MS => HOUR_MS,
            _ => 5 * MIN,
        };
    }
    points
}

/// Ids of the vault records that hold history.
pub const RECORD_PREFIX: &str = "history/";
const BLOCK_MS: u64 = 30 * DAY_MS;

/// The record a point is stored in at `now_ms`: one per UTC day while points may still be
/// compacted to hours (so a refresh rewrites only today's record), one per 30 days after.
/// Along a time-ordered history the ids of consecutive points group consecutively.
pub fn record_id(at_ms: u64, now_ms: u64) -> String {
    if now_ms.saturating_sub(at_ms) <= KEEP_HOURLY_MS {
        format!("{RECORD_PREFIX}d{}", at_ms / DAY_MS)
    } else {
        format!("{RECORD_PREFIX}b{}", at_ms / BLOCK_MS)
    }
}

/// One stored record's points, compactly: names once, per-asset values in cents, an amount
/// only where it differs from the one before it in the record. 50 assets cost about 400
/// bytes a point (five years of 5-minute refreshes: about 2 MB).
#[derive(Serialize, Deserialize)]
struct Stored {
    /// Connection ids.
    c: Vec<String>,
    /// Assets.
    a: Vec<String>,
    p: Vec<Row>,
}

/// (time, total, value per connection of `c`, value in cents per asset of `a`, amounts that
/// changed as (asset index, amount)).
#[derive(Serialize, Deserialize)]
struct Row(
    u64,
    Decimal,
    Vec<Option<Decimal>>,
    Vec<Option<i64>>,
    Vec<(usize, Decimal)>,
);

fn index_of(names: &mut Vec<String>, name: &str) -> usize {
    names.iter().position(|n| n == name).unwrap_or_else(|| {
        names.push(name.to_string());
        names.len() - 1
    })
}

/// Per-asset values are kept to the cent, half to even as amounts are shown (totals and
/// connection values exactly).
fn cents(value: Decimal) -> i64 {
    i64::try_from((value * Decimal::ONE_HUNDRED).round_dp(0)).unwrap_or(i64::MAX)
}

/// The JSON of one record's points (in time order).
pub fn encode(points: &[Point]) -> Vec<u8> {
    let mut stored = Stored {
        c: Vec::new(),
        a: Vec::new(),
        p: Vec::with_capacity(points.len()),
    };
    let mut last_amounts: Vec<Option<Decimal>> = Vec::new();
    for point in points {
        let mut conns = vec![None; stored.c.len()];
        for (id, value) in &point.connections {
            let i = index_of(&mut stored.c, id);
            conns.resize(stored.c.len(), None);
            conns[i] = Some(*value);
        }
        let mut values = vec![None; stored.a.len()];
        let mut changed = Vec::new();
        for (asset, amount, value) in &point.assets {
            let i = index_of(&mut stored.a, asset);
            values.resize(stored.a.len(), None);
            last_amounts.resize(stored.a.len(), None);
            values[i] = Some(cents(*value));
            if last_amounts[i] != Some(*amount) {
                last_amounts[i] = Some(*amount);
                changed.push((i, *amount));
            }
        }
        stored
            .p
            .push(Row(point.at_ms, point.total, conns, values, changed));
    }
    serde_json::to_vec(&stored).unwrap_or_default()
}

/// The points of one record's JSON.
pub fn decode(json: &[u8]) -> Result<Vec<Point>, serde_json::Error> {
    let stored: Stored = serde_json::from_slice(json)?;
    let mut amounts: Vec<Decimal> = vec![Decimal::ZERO; stored.a.len()];
    let mut points = Vec::with_capacity(stored.p.len());
    for Row(at_ms, total, conns, values, changed) in stored.p {
        for (i, amount) in changed {
            if let Some(slot) = amounts.get_mut(i) {
                *slot = amount;
            }
        }
        let connections = stored
            .c
            .iter()
            .zip(conns)
            .filter_map(|(id, v)| Some((id.clone(), v?)))
            .collect();
        let assets = stored
            .a
            .iter()
            .zip(&amounts)
            .zip(values)
            .filter_map(|((asset, amount), cents)| {
                Some((asset.clone(), *amount, Decimal::new(cents?, 2)))
            })
            .collect();
        points.push(Point {
            at_ms,
            total,
            connections,
            assets,
        });
    }
    Ok(points)
}

/// What history's records hold: each record's id and the times of its points.
pub type Layout = Vec<(String, Vec<u64>)>;

/// The layout of `points` (time-ordered) at `now_ms`.
pub fn layout(points: &[Point], now_ms: u64) -> Layout {
    let mut out: Layout = Vec::new();
    for p in points {
        let id = record_id(p.at_ms, now_ms);
        match out.last_mut() {
            Some((last, times)) if *last == id => times.push(p.at_ms),
            _ => out.push((id, vec![p.at_ms])),
        }
    }
    out
}

/// What a refresh writes to history's records.
#[derive(Debug, Default)]
pub struct Changes {
    /// Records to write: (id, JSON).
    pub puts: Vec<(String, Vec<u8>)>,
    /// Records to delete.
    pub deletes: Vec<String>,
    /// What the records hold afterwards.
    pub layout: Layout,
}

/// What to write so storage holds `points` (time-ordered, compacted at `now_ms`) when it
/// held `saved`: the records whose points changed and the one holding `fresh_ms`, and the
/// records to delete.
pub fn changes(saved: &Layout, points: &[Point], now_ms: u64, fresh_ms: u64) -> Changes {
    let next = layout(points, now_ms);
    let mut puts = Vec::new();
    let mut start = 0;
    for (id, times) in &next {
        let end = start + times.len();
        let same = saved.iter().any(|(s, t)| s == id && t == times);
        if !same || times.contains(&fresh_ms) {
            puts.push((id.clone(), encode(&points[start..end])));
        }
        start = end;
    }
    let deletes = saved
        .iter()
        .filter(|(id, _)| !next.iter().any(|(n, _)| n == id))
        .map(|(id, _)| id.clone())
        .collect();
    Changes {
        puts,
        deletes,
        layout: next,
    }
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

    fn ch(points: &[Point]) -> Option<(Decimal, Option<Decimal>)> {
        change(&crate::chart::series(points, None))
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
            ch(Range::Day.points(&h, NOW)),
            Some((d("30"), Some(d("23.08"))))
        );
        assert_eq!(ch(&h), Some((d("60"), Some(d("60")))));
        assert_eq!(ch(&h[4..]), None, "one point is no change");
        assert_eq!(
            ch(&[at(1, "0"), at(2, "5")]),
            Some((d("5"), None)),
            "no percentage from zero"
        );
        // Exact decimals: 0.1 + 0.2 style sums stay exact.
        assert_eq!(
            ch(&[at(1, "0.3"), at(2, "0.1")]),
            Some((d("-0.2"), Some(d("-66.67"))))
        );
    }

    fn full(ms: u64, btc: &str, value: &str) -> Point {
        Point {
            at_ms: ms,
            total: d(value) + d("0.005"),
            connections: vec![("okx-1".into(), d(value)), ("bybit-1".into(), d("0.005"))],
            assets: vec![
                ("BTC".into(), d(btc), d(value)),
                ("USDT".into(), d("0.00512"), d("0.005")),
            ],
        }
    }

    /// A record keeps totals and connection values exactly, amounts exactly, per-asset
    /// values to the cent; an asset missing from a point stays missing.
    #[test]
    fn records_round_trip() {
        let mut points = vec![
            full(1, "0.5", "45000.123"),
            full(2, "0.5", "45100"),
            full(3, "0.75", "60000.5"),
        ];
        points[1].assets.remove(1);
        points[1].connections.remove(1);
        let json = encode(&points);
        let text = String::from_utf8(json.clone()).unwrap();
        // The unchanged BTC amount of the second point is not repeated.
        assert_eq!(text.matches("\"0.5\"").count(), 1, "{text}");
        let back = decode(&json).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].total, d("45000.128"));
        assert_eq!(back[0].connections, points[0].connections);
        assert_eq!(
            back[0].assets,
            vec![
                ("BTC".into(), d("0.5"), d("45000.12")),
                // 0.005 to the cent, half to even.
                ("USDT".into(), d("0.00512"), d("0")),
            ]
        );
        assert_eq!(back[1].assets, vec![("BTC".into(), d("0.5"), d("45100"))]);
        assert_eq!(back[1].connections, vec![("okx-1".into(), d("45100"))]);
        assert_eq!(back[2].assets[0], ("BTC".into(), d("0.75"), d("60000.5")));
        assert!(
            decode(b"{\"c\":[],\"a\":[]}").is_err(),
            "damaged data is an error"
        );
    }

    /// Records: one per day within 90 days, one per 30 days before; a refresh writes only
    /// the record it adds to, plus those compaction changed, and deletes emptied ones.
    #[test]
    fn a_refresh_rewrites_only_what_changed() {
        let mut h = vec![
            at(NOW - 200 * DAY_MS, "1"),
            at(NOW - 91 * DAY_MS, "2"),
            at(NOW - 2 * DAY_MS - HOUR_MS, "3"),
            at(NOW - 2 * DAY_MS - HOUR_MS + 5 * MIN, "4"),
            at(NOW - 10 * MIN, "5"),
        ];
        let saved = layout(&h, NOW - 10 * MIN);
        assert_eq!(
            saved.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            [
                format!("history/b{}", (NOW - 200 * DAY_MS) / BLOCK_MS),
                format!("history/b{}", (NOW - 91 * DAY_MS) / BLOCK_MS),
                format!("history/d{}", (NOW - 2 * DAY_MS - HOUR_MS) / DAY_MS),
                format!("history/d{}", (NOW - 10 * MIN) / DAY_MS),
            ]
        );
        // Ten minutes later (a new UTC day): a new point in a new record; the two points
        // 48 h old became one hourly point; yesterday's record is not rewritten.
        add(&mut h, at(NOW, "6"));
        compact(&mut h, NOW);
        let Changes {
            puts,
            deletes,
            layout: next,
        } = changes(&saved, &h, NOW, NOW);
        let put_ids: Vec<&str> = puts.iter().map(|(id, _)| id.as_str()).collect();
        let today = format!("history/d{}", NOW / DAY_MS);
        assert_eq!(put_ids, [saved[2].0.as_str(), today.as_str()]);
        assert!(deletes.is_empty());
        assert_eq!(decode(&puts[0].1).unwrap().len(), 1);
        assert_eq!(decode(&puts[1].1).unwrap()[0].total, d("6"));
        // A day record whose point aged past 90 days moves to its 30-day record.
        let later = NOW + 89 * DAY_MS;
        compact(&mut h, later);
        let deletes = changes(&next, &h, later, later).deletes;
        assert_eq!(deletes, vec![saved[2].0.clone()]);
    }

    /// Five years of 5-minute refreshes with 50 assets, compacted: the stored JSON.
    #[test]
    fn five_years_with_fifty_assets_is_a_few_megabytes() {
        let start = NOW - 5 * 365 * DAY_MS;
        let mut h = Vec::new();
        let mut t = start;
        let mut n: i64 = 0;
        while t <= NOW {
            if (t - start).is_multiple_of(HOUR_MS) || NOW - t <= KEEP_ALL_MS {
                let assets = (0..50)
                    .map(|i| {
                        let amount = Decimal::new(1_000_000 + i * 1_000 + n / 1000, 6);
                        (
                            format!("AS{i}"),
                            amount,
                            Decimal::new(123_456 + n % 9_000 + i, 2),
                        )
                    })
                    .collect();
                h.push(Point {
                    at_ms: t,
                    total: Decimal::new(6_200_000 + n, 2),
                    connections: vec![("okx-1".into(), Decimal::new(6_200_000 + n, 2))],
                    assets,
                });
                n += 1;
            }
            if (t - start).is_multiple_of(DAY_MS) {
                compact(&mut h, t);
            }
            t += 5 * MIN;
        }
        compact(&mut h, NOW);
        let puts = changes(&Vec::new(), &h, NOW, NOW).puts;
        let bytes: usize = puts.iter().map(|(_, json)| json.len()).sum();
        assert!(bytes < 3_000_000, "{bytes} bytes for {} points", h.len());
        let back: Vec<Point> = puts.iter().flat_map(|(_, j)| decode(j).unwrap()).collect();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.last().unwrap().total, h.last().unwrap().total);
    }
}
