//! The summary card: total, as-of time, Refresh and Connect, notices, each connection's
//! status; below it the other parts of the dashboard.

use holdix_core::exchange::{expiry_notice, unreadable_notice};
use holdix_core::portfolio;
use leptos::prelude::*;

use super::accounts::Accounts;
use super::allocation::Allocation;
use super::assets::Assets;
use super::connections::Connections;
use super::export::Export;
use super::history::History;
use super::positions::Positions;
use super::{money, private, rate, signed_change, time_text, toggle_privacy};
use crate::ui::connect::ConnectDialog;
use crate::ui::portfolio::{refresh, ConnStatus};
use crate::ui::use_ctx;

#[component]
pub fn Dashboard() -> impl IntoView {
    let ctx = use_ctx();
    let p = ctx.portfolio;
    let valuation = Memo::new(move |_| {
        p.snapshot.with(|s| {
            s.as_ref()
                .map(|s| portfolio::value(&s.holdings, &s.prices))
                .unwrap_or_default()
        })
    });
    let has_connections = move || p.connections.with(|c| !c.is_empty());
    // The asset whose history the chart shows (chosen in the assets table); `None`: total.
    let chart_asset = RwSignal::new(None::<String>);
    // Alt+Shift+H toggles privacy mode from anywhere on the dashboard.
    let keys = window_event_listener(leptos::ev::keydown, move |e| {
        if e.alt_key() && e.shift_key() && e.code() == "KeyH" {
            e.prevent_default();
            toggle_privacy(ctx);
        }
    });
    on_cleanup(move || keys.remove());
    view! {
        <crate::ui::backup::BackupReminder />
        <section class="card summary" data-testid="dashboard">
            <div class="summary-head">
                <div>
                    <p class="muted">"Total value"</p>
                    <p class="total" data-testid="total">{move || money(ctx, valuation.with(|v| v.total))}</p>
                    {move || {
                        let change = p.snapshot.with(|s| {
                            s.as_ref().and_then(|s| valuation.with(|v| portfolio::day_change(&v.assets, &s.opens)))
                        });
                        change.map(|(usd, percent)| {
                            let (class, text) = signed_change(ctx, usd, percent);
                            view! { <p class=class data-testid="day-change">{format!("{text} in 24 h (exchange prices)")}</p> }
                        })
                    }}
                    {move || {
                        let code = ctx.settings.with(|s| s.currency.clone());
                        (code != "USD").then(|| {
                            let text = match rate(ctx) {
                                Some(r) => {
                                    let source = p.snapshot.with(|s| s.as_ref().and_then(|s| s.rate_sources.get(r.code).cloned())).unwrap_or_default();
                                    let at = p.snapshot.with(|s| s.as_ref().map(|s| time_text(s.as_of_ms))).unwrap_or_default();
                                    format!("1 USD = {} {} · {source} ticker, {at}", r.per_usd, r.code)
                                }
                                None => format!("None of your exchanges quotes {code} against USDT: values are in USD."),
                            };
                            view! { <p class="muted" data-testid="rate">{text}</p> }
                        })
                    }}
                    <p class="muted" data-testid="as-of">
                        {move || {
                            let as_of = p.snapshot.with(|s| s.as_ref().filter(|s| s.as_of_ms > 0).map(|s| time_text(s.as_of_ms)));
                            match (p.offline.get(), as_of) {
                                (true, Some(t)) => Some(format!("Offline — as of {t}")),
                                (true, None) => Some("Offline — nothing saved yet".into()),
                                (false, t) => t.map(|t| format!("As of {t}")),
                            }
                        }}
                    </p>
                </div>
                <div class="actions">
                    <button
                        type="button"
                        class="secondary"
                        data-testid="privacy"
                        aria-pressed=move || private(ctx).to_string()
                        aria-keyshortcuts="Alt+Shift+H"
                        title="Alt+Shift+H"
                        on:click=move |_| toggle_privacy(ctx)
                    >
                        {move || if private(ctx) { "Show amounts" } else { "Hide amounts" }}
                    </button>
                    <Show when=has_connections>
                        <button
                            type="button"
                            class="secondary"
                            data-testid="refresh"
                            disabled=move || p.refreshing.get() || p.offline.get()
                            aria-describedby="offline-note"
                            on:click=move |_| ctx.spawn(refresh(ctx))
                        >
                            {move || if p.refreshing.get() { "Refreshing…" } else { "Refresh" }}
                        </button>
                    </Show>
                    <button type="button" class="primary inline" data-testid="open-connect" on:click=move |_| ctx.connecting.set(true)>
                        "Connect exchange"
                    </button>
                </div>
            </div>
            {move || p.offline.get().then(|| view! {
                <p class="notice" id="offline-note" data-testid="offline-note">
                    {format!(
                        "Offline: the proxy at {} cannot be reached. You see your last saved snapshot; Refresh comes back once the proxy answers.",
                        p.fetcher(&ctx).proxy()
                    )}
                </p>
            })}
            {move || (ctx.persisted.get() == Some(false)).then(|| view! {
                <p class="notice" data-testid="eviction-note">
                    "This browser has not granted persistent storage: it may delete Holdix's data, your vault included, when space runs low. Installing Holdix as an app usually helps (Settings → Storage)."
                </p>
            })}
            <StatusList />
            {move || {
                let unpriced = valuation.with(|v| v.unpriced.clone());
                (!unpriced.is_empty()).then(|| view! {
                    <p class="notice" data-testid="unpriced-note">
                        {format!(
                            "{} asset{} without a price {} not counted in the total: {}.",
                            unpriced.len(),
                            if unpriced.len() == 1 { "" } else { "s" },
                            if unpriced.len() == 1 { "is" } else { "are" },
                            unpriced.join(", ")
                        )}
                    </p>
                })
            }}
            {move || p.problem.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || (!has_connections()).then(|| view! {
                <h2>"No exchanges connected yet"</h2>
                <p class="muted">"Connect an exchange with a read-only API key to see your balances here."</p>
            })}
        </section>
        {move || ctx.connecting.get().then(|| view! { <ConnectDialog /> })}
        <Show when=has_connections>
            <History asset=chart_asset />
            <Accounts valuation=valuation />
            <Allocation valuation=valuation />
            <Assets valuation=valuation chart_asset=chart_asset />
            <Positions />
            <Connections />
            <Export />
        </Show>
    }
}

#[component]
fn StatusList() -> impl IntoView {
    let p = use_ctx().portfolio;
    view! {
        <ul class="statuses" aria-live="polite">
            {move || {
                let now = crate::browser::unix_ms();
                let unreadable = p.snapshot.with(|s| s.as_ref().map(|s| s.unreadable.clone()).unwrap_or_default());
                // Each connection's status, then its notices: a key about to expire, an
                // account the key may not read (one row shape for all: one copy in the bundle).
                let mut rows = Vec::new();
                for c in p.connections.get() {
                    let status = p.statuses.with(|s| s.get(&c.id).cloned());
                    let (class, text) = match status {
                        Some(ConnStatus::Loading) => ("loading", "Loading…".to_string()),
                        Some(ConnStatus::Ok) => ("ok", "Up to date".to_string()),
                        Some(ConnStatus::Error(e)) => ("error", e),
                        None => ("", String::new()),
                    };
                    rows.push((class, format!("status-{}", c.label), c.label.clone(), text));
                    if let Some(n) = c.key_expires_ms.and_then(|ms| expiry_notice(c.exchange, ms, now)) {
                        rows.push(("notice", format!("expiry-{}", c.label), c.label.clone(), n));
                    }
                    for (_, account) in unreadable.iter().filter(|(id, _)| *id == c.id) {
                        let n = unreadable_notice(c.exchange, *account);
                        rows.push(("notice", format!("unreadable-{}-{}", c.label, account.key()), c.label.clone(), n));
                    }
                }
                rows.into_iter()
                    .map(|(class, id, label, text)| view! {
                        <li class=format!("status {class}") data-testid=id>
                            <strong>{label}</strong>" "<span role=if class == "error" { "alert" } else { "status" }>{text}</span>
                        </li>
                    })
                    .collect_view()
            }}
        </ul>
    }
}
