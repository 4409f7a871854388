//! The Holdix web app (Leptos, client-side rendered). Logic lives in `holdix-core`; this
//! crate is the browser glue and the screens:
//!
//! * [`store`]: IndexedDB, one transaction per write.
//! * [`session`]: an unlocked vault, sealing records and writing them through the store.
//! * [`browser`]: small helpers over the browser (time, yielding to paint).
//! * [`kdf`]: key derivation in a Web Worker, so the page never freezes.
//! * [`exchange`]: requests through the proxy, clock correction, retries, refresh.
//! * [`ui`]: the Leptos components.

pub mod browser;
pub mod exchange;
pub mod kdf;
pub mod session;
pub mod store;
pub mod ui;

use wasm_bindgen::prelude::wasm_bindgen;

/// For the key-derivation worker (`pwa/kdf-worker.js`, see [`kdf`]): the vault key for the
/// password's UTF-8 bytes and a vault header's bytes. The password is zeroized here after use.
#[wasm_bindgen]
pub fn kdf_derive(password: Vec<u8>, header: &[u8]) -> Result<Vec<u8>, wasm_bindgen::JsError> {
    use holdix_core::vault::{derive_key, VaultHeader};
    let password = zeroize::Zeroizing::new(password);
    let header = VaultHeader::from_bytes(header)?;
    let key = derive_key(&password, &header)?;
    Ok(key.to_bytes().to_vec())
}

/// Benchmark hook (`cargo xtask bench`): milliseconds of one bare key derivation with the
/// default parameters, as unlocking does it.
#[wasm_bindgen]
pub fn bench_kdf_ms() -> f64 {
    use holdix_core::vault::{derive_key, KdfParams, VaultHeader};
    let Ok(header) = VaultHeader::generate(KdfParams::DEFAULT) else {
        return f64::NAN;
    };
    let start = browser::now_ms();
    let key = derive_key(b"benchmark password", &header);
    let elapsed = browser::now_ms() - start;
    if key.is_ok() {
        elapsed
    } else {
        f64::NAN
    }
}

/// Benchmark hook (`cargo xtask bench`): mounts a value-history card with five years of
/// history of its own at the end of the page (see `ui::dashboard::bench_mount`); returns its
/// points.
#[wasm_bindgen]
pub fn bench_mount_history() -> usize {
    ui::bench_mount_history()
}

/// Benchmark hook (the soak): auto-refresh every `every_ms` milliseconds instead of the
/// setting (0: off).
#[wasm_bindgen]
pub fn bench_auto_refresh(every_ms: f64) {
    ui::portfolio::bench_auto_refresh(every_ms);
}

/// Benchmark hook (the soak): `[refreshes started, refreshes saved with a history point]`.
#[wasm_bindgen]
pub fn bench_refresh_counts() -> Vec<u32> {
    let (started, saved) = ui::portfolio::bench_counts();
    vec![started, saved]
}

/// Benchmark hook (the soak): history points stored in the open vault, read back from
/// IndexedDB; -1 while locked.
#[wasm_bindgen]
pub async fn bench_history_points() -> f64 {
    ui::portfolio::bench_history_points()
        .await
        .map_or(-1.0, |n| n as f64)
}

/// Test hook (end-to-end tests): vault keys alive in this page. Locking must bring it to 0
/// at once, whatever work was in flight.
#[wasm_bindgen]
pub fn live_vault_keys() -> usize {
    session::live_keys()
}
