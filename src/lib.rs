//! The Holdix web app (Leptos, client-side rendered). Logic lives in `holdix-core`; this
//! crate is the browser glue and the screens:
//!
//! * [`store`]: IndexedDB, one transaction per write.
//! * [`session`]: an unlocked vault, sealing records and writing them through the store.
//! * [`browser`]: small helpers over the browser (time, yielding to paint).
//! * [`exchange`]: requests through the proxy, clock correction, retries, refresh.
//! * [`ui`]: the Leptos components.

pub mod browser;
pub mod exchange;
pub mod session;
pub mod store;
pub mod ui;

use wasm_bindgen::prelude::wasm_bindgen;

/// Benchmark hook (`cargo xtask bench`): milliseconds of one bare key derivation with the
/// default parameters, as unlocking does it.
#[wasm_bindgen]
pub fn bench_kdf_ms() -> f64 {
    use holdix_core::vault::{derive_key, KdfParams, VaultHeader};
    let Ok(header) = VaultHeader::generate(KdfParams::DEFAULT) else {
        return f64::NAN;
    };
    let start = browser::now_ms();
    let key = derive_key("benchmark password", &header);
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

/// Benchmark hook (`cargo xtask bench`): a vault with five years of history (50 assets,
/// see `holdix_core::history::sample`) in a database of its own, exported as a backup and
/// restored into another empty one, as a user does; every database is erased afterwards.
/// Resolves to `[export ms, restore ms (reading, checking, the key derivation of the
/// password, writing), file bytes, history points]`.
#[wasm_bindgen]
pub async fn bench_backup() -> Result<Vec<f64>, wasm_bindgen::JsValue> {
    use holdix_core::vault::KdfParams;
    use holdix_core::{backup, history, records::Snapshot};
    let fail = |e: &dyn std::fmt::Display| wasm_bindgen::JsValue::from_str(&e.to_string());
    const PASSWORD: &str = "benchmark password";
    let fresh = |name: &'static str| async move {
        store::Store::open_named(name).await?.erase().await?;
        store::Store::open_named(name).await
    };
    let now = browser::unix_ms().max(0) as u64;
    let points = history::sample(now, 5, 50);
    let from = fresh("holdix-bench-export").await.map_err(|e| fail(&e))?;
    let session = session::Session::create(from.clone(), PASSWORD, KdfParams::DEFAULT)
        .await
        .map_err(|e| fail(&e))?;
    let changes = history::changes(&Vec::new(), &points, now, now);
    session
        .save_snapshot(&Snapshot::default(), changes)
        .await
        .map_err(|e| fail(&e))?;

    let start = browser::now_ms();
    let (_, file) = session.export_backup().await.map_err(|e| fail(&e))?;
    let export_ms = browser::now_ms() - start;

    let into = fresh("holdix-bench-restore").await.map_err(|e| fail(&e))?;
    let start = browser::now_ms();
    let read = backup::read(&file).map_err(|e| fail(&e))?;
    let vault = read.open(PASSWORD).map_err(|e| fail(&e))?;
    let restored = session::Session::restore(into.clone(), &read, vault)
        .await
        .map_err(|e| fail(&e))?;
    let restore_ms = browser::now_ms() - start;

    let restored_points = restored.history().await.map_err(|e| fail(&e))?.0.len();
    drop((session, restored));
    from.erase().await.map_err(|e| fail(&e))?;
    into.erase().await.map_err(|e| fail(&e))?;
    if restored_points != points.len() {
        return Err(fail(&"the restored vault lacks history points"));
    }
    Ok(vec![
        export_ms,
        restore_ms,
        file.len() as f64,
        points.len() as f64,
    ])
}

/// Test hook (end-to-end tests): vault keys alive in this page. Locking must bring it to 0
/// at once, whatever work was in flight.
#[wasm_bindgen]
pub fn live_vault_keys() -> usize {
    session::live_keys()
}
