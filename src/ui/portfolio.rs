//! Portfolio state of the unlocked app: the snapshot on screen, per-connection status, and
//! the refresh that replaces them. One connection failing keeps its last data (marked) and
//! never hides the others; each successful refresh is saved as an encrypted snapshot.

use std::collections::BTreeMap;

use holdix_core::exchange::ErrorKind;
use holdix_core::history::{self, Layout, Point};
use holdix_core::portfolio;
use holdix_core::records::{ExchangeId, Snapshot};
use leptos::prelude::*;

use super::Ctx;
use crate::browser::{online, origin, sleep_ms, unix_ms};
use crate::exchange::Fetcher;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnStatus {
    Loading,
    Ok,
    Error(String),
}

/// What the screens may know of a connection: no key, secret or passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSummary {
    pub id: String,
    pub label: String,
    pub exchange: ExchangeId,
    pub region: Option<String>,
    pub demo: bool,
    /// When the exchange said the key expires (Unix ms).
    pub key_expires_ms: Option<i64>,
}

/// The portfolio part of the app state.
#[derive(Clone, Copy)]
pub struct PortfolioState {
    pub snapshot: RwSignal<Option<Snapshot>>,
    pub statuses: RwSignal<BTreeMap<String, ConnStatus>>,
    pub connections: RwSignal<Vec<ConnectionSummary>>,
    pub refreshing: RwSignal<bool>,
    /// The proxy cannot be reached (or the browser has no network): the snapshot on screen
    /// is all there is, and Refresh waits until the proxy answers its health check again.
    pub offline: RwSignal<bool>,
    /// A problem with the vault's portfolio data itself (not one connection's).
    pub problem: RwSignal<Option<String>>,
    /// Value history, time-ordered (see `holdix_core::history`).
    pub history: RwSignal<Vec<Point>>,
    /// What history's stored records hold; `None` until history was read (a refresh before
    /// that, or after history failed to read, adds no point rather than risk the records).
    layout: StoredValue<Option<Layout>>,
    /// When the last refresh started (Unix ms): auto-refresh counts from it.
    last_attempt_ms: StoredValue<f64>,
    fetcher: StoredValue<Option<Fetcher>, LocalStorage>,
}

impl PortfolioState {
    pub fn new() -> Self {
        Self {
            snapshot: RwSignal::new(None),
            statuses: RwSignal::new(BTreeMap::new()),
            connections: RwSignal::new(Vec::new()),
            refreshing: RwSignal::new(false),
            offline: RwSignal::new(false),
            problem: RwSignal::new(None),
            history: RwSignal::new(Vec::new()),
            layout: StoredValue::new(None),
            last_attempt_ms: StoredValue::new(0.0),
            fetcher: StoredValue::new_local(None),
        }
    }

    pub fn clear(&self) {
        self.snapshot.set(None);
        self.statuses.set(BTreeMap::new());
        self.connections.set(Vec::new());
        self.refreshing.set(false);
        self.offline.set(false);
        self.problem.set(None);
        self.history.set(Vec::new());
        self.layout.set_value(None);
        // The fetcher stays: it holds only the proxy's address and each exchange host's
        // clock, with the last time handed to a signed request there, which must keep
        // increasing across a lock (WhiteBIT refuses a nonce it has seen).
    }

    /// The fetcher for the configured proxy (the app's own origin by default).
    pub fn fetcher(&self, ctx: &Ctx) -> Fetcher {
        let proxy = ctx
            .settings
            .with_untracked(|s| s.proxy_url.clone())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(origin);
        if let Some(f) = self
            .fetcher
            .with_value(|f| f.clone())
            .filter(|f| f.proxy() == proxy)
        {
            return f;
        }
        let fetcher = Fetcher::new(&proxy);
        self.fetcher.set_value(Some(fetcher.clone()));
        fetcher
    }
}

impl Default for PortfolioState {
    fn default() -> Self {
        Self::new()
    }
}

/// After unlock: the saved snapshot at once, then a refresh.
pub fn load_after_unlock(ctx: Ctx) {
    ctx.spawn(async move {
        reload(ctx).await;
        refresh(ctx).await;
        auto_refresh(ctx).await;
    });
}

/// Reads what the vault holds — snapshot, history, connections — into the screens (after
/// unlock, and after a backup was restored into the open vault).
pub async fn reload(ctx: Ctx) {
    let Some(session) = ctx.session() else { return };
    match session.snapshot().await {
        Ok(snapshot) => ctx.portfolio.snapshot.set(snapshot),
        Err(e) => ctx.portfolio.problem.set(Some(ctx.report(e))),
    }
    match session.history().await {
        Ok((points, layout)) => {
            ctx.portfolio.history.set(points);
            ctx.portfolio.layout.set_value(Some(layout));
        }
        Err(e) => ctx.portfolio.problem.set(Some(ctx.report(e))),
    }
    drop(session);
    reload_connections(ctx).await;
}

thread_local! {
    /// Benchmark hook (the soak in `cargo xtask bench`): auto-refresh every this many ms
    /// instead of the setting's minutes (0: off).
    static BENCH_EVERY_MS: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
    /// Benchmark counters: refreshes started, and refreshes whose snapshot and history point
    /// were saved.
    static BENCH_COUNTS: std::cell::Cell<(u32, u32)> = const { std::cell::Cell::new((0, 0)) };
    /// The app's context, for the benchmark hooks that read the open vault.
    static BENCH_CTX: std::cell::Cell<Option<Ctx>> = const { std::cell::Cell::new(None) };
}

/// See [`crate::bench_auto_refresh`].
pub fn bench_auto_refresh(every_ms: f64) {
    BENCH_EVERY_MS.set(Some(every_ms.max(0.0)));
}

/// See [`crate::bench_refresh_counts`].
pub fn bench_counts() -> (u32, u32) {
    BENCH_COUNTS.get()
}

/// The number of history points stored in the open vault (read from IndexedDB).
pub async fn bench_history_points() -> Option<usize> {
    let session = BENCH_CTX.get()?.session()?;
    session.history().await.ok().map(|(points, _)| points.len())
}

/// While unlocked: refreshes every `Settings.refresh_minutes` (off at 0), counted from the
/// last refresh started; never while the tab is hidden, offline, already refreshing, or with
/// nothing connected.
async fn auto_refresh(ctx: Ctx) {
    let p = ctx.portfolio;
    BENCH_CTX.set(Some(ctx));
    while ctx.session().is_some() {
        let bench = BENCH_EVERY_MS.get();
        sleep_ms(if bench.is_some() { 20 } else { 1_000 }).await;
        let every_ms = bench.unwrap_or_else(|| {
            f64::from(ctx.settings.with_untracked(|s| s.refresh_minutes)) * 60_000.0
        });
        let due = p.last_attempt_ms.get_value() + every_ms <= js_sys::Date::now();
        let visible = !web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        let connected = p.connections.with_untracked(|c| !c.is_empty());
        if every_ms > 0.0 && due && visible && connected && !p.offline.get_untracked() && online() {
            // Counted from this attempt even if the refresh stops early (no retry every second).
            p.last_attempt_ms.set_value(js_sys::Date::now());
            refresh(ctx).await;
        }
    }
}

/// Reads the connection list (without secrets) from the vault.
pub async fn reload_connections(ctx: Ctx) {
    let Some(session) = ctx.session() else { return };
    match session.connections().await {
        Ok(list) => ctx.portfolio.connections.set(
            list.into_iter()
                .map(|c| ConnectionSummary {
                    id: c.id.clone(),
                    label: c.label.clone(),
                    exchange: c.exchange,
                    region: c.options.region.clone(),
                    demo: c.options.demo,
                    key_expires_ms: c.key_expires_ms,
                })
                .collect(),
        ),
        Err(e) => ctx.portfolio.problem.set(Some(ctx.report(e))),
    }
}

/// Fetches every connection and replaces the snapshot; failures keep the last data.
/// Boxed: three places start a refresh, and one copy of it is enough in the bundle.
pub fn refresh(ctx: Ctx) -> futures::future::LocalBoxFuture<'static, ()> {
    Box::pin(refresh_now(ctx))
}

async fn refresh_now(ctx: Ctx) {
    let p = ctx.portfolio;
    if p.refreshing.get_untracked() {
        return;
    }
    // The session is held only to read the connections: not across the network wait.
    let Some(session) = ctx.session() else { return };
    let connections = match session.connections().await {
        Ok(c) => c,
        Err(e) => {
            p.problem.set(Some(ctx.report(e)));
            return;
        }
    };
    drop(session);
    if connections.is_empty() {
        return;
    }
    if !online() {
        went_offline(ctx);
        return;
    }
    p.refreshing.set(true);
    p.last_attempt_ms.set_value(js_sys::Date::now());
    BENCH_COUNTS.set((BENCH_COUNTS.get().0 + 1, BENCH_COUNTS.get().1));
    p.statuses.set(statuses_of(
        connections
            .iter()
            .map(|c| (c.id.clone(), ConnStatus::Loading)),
    ));
    let fetcher = p.fetcher(&ctx);
    let report = fetcher.refresh(&connections).await;
    drop(connections);
    // The session as it is now: locked meanwhile shows nothing; after a password change
    // the snapshot is sealed under the new key.
    let Some(session) = ctx.session() else { return };
    let book = report.prices.clone();
    let results = report.fetched();
    let unreachable = results
        .iter()
        .all(|(_, r)| r.as_ref().is_err_and(|e| e.kind == ErrorKind::Unreachable));
    let statuses = statuses_of(results.iter().map(|(id, r)| {
        let status = match r {
            Ok(_) => ConnStatus::Ok,
            Err(e) => ConnStatus::Error(e.problem.message.clone()),
        };
        (id.clone(), status)
    }));
    let previous = p.snapshot.get_untracked().unwrap_or_default();
    let now = unix_ms().max(0) as u64;
    if let Some(next) = previous.merge(&results, &book, now) {
        // The refresh's point, and history's records to rewrite, compacted as of now (none
        // while history is unread: its records are not risked).
        let mut points = p.history.get_untracked();
        let changes = p.layout.with_value(Clone::clone).map(|saved| {
            let point = Point::of(now, &portfolio::value(&next.holdings, &next.prices));
            history::add(&mut points, point);
            history::compact(&mut points, now);
            history::changes(&saved, &points, now, now)
        });
        let layout = changes.as_ref().map(|c| c.layout.clone());
        match session
            .save_snapshot(&next, changes.unwrap_or_default())
            .await
        {
            Ok(()) => {
                // Saved: an earlier failure to save (a full disk) is over.
                p.problem.set(None);
                if layout.is_some() {
                    BENCH_COUNTS.set((BENCH_COUNTS.get().0, BENCH_COUNTS.get().1 + 1));
                    p.history.set(points);
                    p.layout.set_value(layout);
                }
            }
            Err(e) => p.problem.set(Some(ctx.report(e))),
        }
        p.snapshot.set(Some(next));
    }
    drop(session);
    p.statuses.set(statuses);
    p.refreshing.set(false);
    if unreachable {
        went_offline(ctx);
    }
}

/// The status map, inserted one by one (collecting into a map compiles a sort).
fn statuses_of(items: impl Iterator<Item = (String, ConnStatus)>) -> BTreeMap<String, ConnStatus> {
    let mut map = BTreeMap::new();
    for (id, status) in items {
        map.insert(id, status);
    }
    map
}

/// Marks the app offline and, once, starts checking every 3 s whether the proxy answers
/// again; then Refresh is enabled again (no reload needed).
pub fn went_offline(ctx: Ctx) {
    let p = ctx.portfolio;
    if p.offline.get_untracked() {
        return;
    }
    p.offline.set(true);
    ctx.spawn(async move {
        while p.offline.get_untracked() && ctx.session().is_some() {
            sleep_ms(3_000).await;
            if online() && p.fetcher(&ctx).proxy_answers().await {
                p.offline.set(false);
            }
        }
    });
}
