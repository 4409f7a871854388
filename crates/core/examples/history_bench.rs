//! Figures for `cargo xtask bench` (printed as `name: value unit`): five years of a refresh
//! every 5 minutes with 50 assets and 4 connections as compaction keeps them
//! (`history::sample`, compacted once more as the app does: it changes nothing), then sealed
//! record by record as the app stores them in IndexedDB.
//! - history_points: the points kept;
//! - history_kb: the sealed records' bytes (what IndexedDB holds, ids included);
//! - history_encode_ms: encoding and sealing every record (a first save);
//! - chart_path_ms: the All range's series and SVG path of the total (median of 21).
//!
//! With `HOLDIX_BENCH_BACKUP=<path>` it also writes there the backup file of a vault holding
//! that history (default key derivation, password [`BACKUP_PASSWORD`]), which the browser
//! benchmark restores and exports through the app (`restore_ms`, `backup_export_ms`).

use std::time::Instant;

use holdix_core::backup;
use holdix_core::chart;
use holdix_core::history::{self, Range};
use holdix_core::records::{Settings, SETTINGS_ID};
use holdix_core::vault::{KdfParams, VaultMeta};
use holdix_core::vault::{Manifest, MANIFEST_ID};

/// The password of the benchmark's backup file (tests/e2e/bench.mjs types it).
const BACKUP_PASSWORD: &str = "bench password of five years";

/// The backup file of a vault (default parameters) with settings and five years of history
/// until now (this machine's clock: the app shows it as recent).
fn backup_file() -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    let history = history::changes(&Vec::new(), &history::sample(now, 5, 50), now, now).puts;
    let (meta, vault) = VaultMeta::create(BACKUP_PASSWORD, KdfParams::DEFAULT).expect("vault");
    let mut records = vec![(
        SETTINGS_ID.to_string(),
        vault
            .seal_json(SETTINGS_ID, &Settings::default())
            .expect("seal"),
    )];
    for (id, json) in &history {
        records.push((id.clone(), vault.seal(id, json).expect("seal")));
    }
    let manifest = vault
        .seal_manifest(&Manifest::of(&records))
        .expect("manifest");
    records.push((MANIFEST_ID.to_string(), manifest));
    backup::write(&meta.to_json(), &records)
}

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

    if let Some(path) = std::env::var_os("HOLDIX_BENCH_BACKUP") {
        std::fs::write(&path, backup_file()).expect("write the backup file");
    }

    println!("history_points: {} points", points.len());
    println!("history_records: {} records", sealed.len());
    println!("history_kb: {:.0} KB", bytes as f64 / 1024.0);
    println!("history_encode_ms: {encode_ms:.0} ms");
    println!("chart_path_ms: {:.2} ms", times[times.len() / 2]);
}
