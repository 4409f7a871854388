//! Figures for `cargo xtask bench` (printed as `name: value unit`): five years of a refresh
//! every 5 minutes with 50 assets and 4 connections as compaction keeps them
//! (`history::sample`, compacted once more as the app does: it changes nothing), then sealed
//! record by record as the app stores them in IndexedDB.
//! - history_points: the points kept;
//! - history_kb: the sealed records' bytes (what IndexedDB holds, ids included);
//! - history_encode_ms: encoding and sealing every record (a first save);
//! - chart_path_ms: the All range's series and SVG path of the total (median of 21).

use std::time::Instant;

use holdix_core::chart;
use holdix_core::history::{self, Range};
use holdix_core::vault::{KdfParams, VaultMeta};

fn main() {
    let now: u64 = 1_795_824_000_000;
    let mut points = history::sample(now, 5, 50);
    let sampled = points.len();
    history::compact(&mut points, now);
    assert_eq!(points.len(), sampled, "the sample is compacted already");

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
