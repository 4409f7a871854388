//! Figures for `cargo xtask bench` (printed as `name: value unit`): five years of a refresh
//! every 5 minutes with 50 assets and 4 connections, compacted as the app does (after every
//! refresh for the last day, daily before: compaction is idempotent, so the result is the
//! same), then sealed record by record as the app stores them in IndexedDB.
//! - history_points: the points kept;
//! - history_kb: the sealed records' bytes (what IndexedDB holds, ids included);
//! - history_encode_ms: encoding and sealing every record (a first save);
//! - chart_path_ms: the All range's series and SVG path of the total (median of 21).

use std::time::Instant;

use holdix_core::chart;
use holdix_core::history::{self, Point, Range};
use holdix_core::vault::{KdfParams, VaultMeta};
use rust_decimal::Decimal;

const MIN: u64 = 60_000;
const DAY: u64 = 1_440 * MIN;

fn point(at_ms: u64, n: i64) -> Point {
    let assets: Vec<(String, Decimal, Decimal)> = (0..50)
        .map(|i| {
            // Amounts change now and then (every ~500 refreshes); values every refresh.
            let amount = Decimal::new(1_000_000 + i * 7_919 + n / 500, 6);
            let value = Decimal::new(100_000 + (n * 37 + i * 1_009) % 900_000, 2);
            (format!("ASSET{i}"), amount, value)
        })
        .collect();
    let total: Decimal = assets.iter().map(|a| a.2).sum();
    let quarter = total / Decimal::from(4);
    Point {
        at_ms,
        total,
        connections: ["okx-1", "binance-1", "bybit-1", "whitebit-1"]
            .iter()
            .map(|c| (c.to_string(), quarter))
            .collect(),
        assets,
    }
}

fn main() {
    let now: u64 = 1_795_824_000_000;
    let start = now - 5 * 365 * DAY;
    let mut points = Vec::new();
    let (mut t, mut n) = (start, 0i64);
    while t <= now {
        history::add(&mut points, point(t, n));
        if (t - start).is_multiple_of(DAY) {
            history::compact(&mut points, t);
        }
        t += 5 * MIN;
        n += 1;
    }
    history::compact(&mut points, now);

    let (_, vault) = VaultMeta::create("bench password", KdfParams::FLOOR).expect("vault");
    let started = Instant::now();
    let changes = history::changes(&Vec::new(), &points, now, now);
    let sealed: Vec<(String, Vec<u8>)> = changes
        .puts
        .iter()
        .map(|(id, json)| (id.clone(), vault.seal(id, json).expect("seal")))
        .collect();
    let encode_ms = started.elapsed().as_secs_f64() * 1e3;
    let bytes: usize = sealed.iter().map(|(id, s)| id.len() + s.len()).sum();

    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let series = chart::series(Range::All.points(&points, now), None);
        let line = chart::line(&series);
        std::hint::black_box(&line.path);
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);

    println!("history_points: {} points", points.len());
    println!("history_records: {} records", sealed.len());
    println!("history_kb: {:.0} KB", bytes as f64 / 1024.0);
    println!("history_encode_ms: {encode_ms:.0} ms");
    println!("chart_path_ms: {:.2} ms", times[times.len() / 2]);
}
