//! The dashboard: total, refresh status, accounts per connection, assets, positions, and
//! the connection list (rename, re-test, remove).

use holdix_core::portfolio::{self, format_amount, format_usd, Account, AssetRow, Side};
use leptos::prelude::*;
use rust_decimal::Decimal;

use super::connect::ConnectDialog;
use super::portfolio::{refresh, reload_connections, ConnStatus};
use super::use_ctx;

/// Holdings worth less than this are "dust", hidden unless asked for.
const DUST_USD: Decimal = Decimal::ONE;

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Value,
    Asset,
    Amount,
}

fn as_of_text(ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}

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
    view! {
        <section class="card summary" data-testid="dashboard">
            <div class="summary-head">
                <div>
                    <p class="muted">"Total value"</p>
                    <p class="total" data-testid="total">{move || format_usd(valuation.with(|v| v.total))}</p>
                    <p class="muted" data-testid="as-of">
                        {move || {
                            let as_of = p.snapshot.with(|s| s.as_ref().filter(|s| s.as_of_ms > 0).map(|s| as_of_text(s.as_of_ms)));
                            match (p.offline.get(), as_of) {
                                (true, Some(t)) => Some(format!("Offline — as of {t}")),
                                (true, None) => Some("Offline — nothing saved yet".into()),
                                (false, t) => t.map(|t| format!("As of {t}")),
                            }
                        }}
                    </p>
                </div>
                <div class="actions">
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
            <Accounts valuation=valuation />
            <Assets valuation=valuation />
            <Positions />
            <Connections />
        </Show>
    }
}

#[component]
fn StatusList() -> impl IntoView {
    let p = use_ctx().portfolio;
    view! {
        <ul class="statuses" aria-live="polite">
            {move || {
                p.connections
                    .get()
                    .into_iter()
                    .map(|c| {
                        let status = p.statuses.with(|s| s.get(&c.id).cloned());
                        let (class, text) = match status {
                            Some(ConnStatus::Loading) => ("loading", "Loading…".to_string()),
                            Some(ConnStatus::Ok) => ("ok", "Up to date".to_string()),
                            Some(ConnStatus::Error(e)) => ("error", e),
                            None => ("", String::new()),
                        };
                        view! {
                            <li class=format!("status {class}") data-testid=format!("status-{}", c.label)>
                                <strong>{c.label.clone()}</strong>" "<span role=if class == "error" { "alert" } else { "status" }>{text}</span>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
    }
}

#[component]
fn Accounts(valuation: Memo<portfolio::Valuation>) -> impl IntoView {
    let p = use_ctx().portfolio;
    view! {
        <section class="card">
            <h2>"Accounts"</h2>
            <div class="table-wrap">
                <table data-testid="accounts">
                    <thead>
                        <tr>
                            <th scope="col">"Connection"</th>
                            {Account::ALL.map(|a| view! { <th scope="col" class="num">{a.label()}</th> })}
                            <th scope="col" class="num">"Total"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            p.connections
                                .get()
                                .into_iter()
                                .map(|c| {
                                    let v = valuation.get();
                                    let cell = |a: Account| {
                                        v.by_account.get(&(c.id.clone(), a)).copied().unwrap_or_default()
                                    };
                                    let total = v.by_connection.get(&c.id).copied().unwrap_or_default();
                                    view! {
                                        <tr data-testid=format!("account-row-{}", c.label)>
                                            <th scope="row">{c.label.clone()}</th>
                                            {Account::ALL.map(|a| view! {
                                                <td class="num" data-testid=format!("account-{}-{}", c.label, a.label().to_ascii_lowercase())>{format_usd(cell(a))}</td>
                                            })}
                                            <td class="num"><strong>{format_usd(total)}</strong></td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Assets(valuation: Memo<portfolio::Valuation>) -> impl IntoView {
    let sort = RwSignal::new(SortBy::Value);
    let show_dust = RwSignal::new(false);
    // Shown rows and the number of dust rows, computed once per change for both uses.
    let rows = Memo::new(move |_| {
        let mut rows: Vec<AssetRow> = valuation.with(|v| v.assets.clone());
        let dust = rows
            .iter()
            .filter(|r| r.value.is_some_and(|x| x < DUST_USD))
            .count();
        if !show_dust.get() {
            rows.retain(|r| r.value.is_none_or(|x| x >= DUST_USD));
        }
        match sort.get() {
            SortBy::Value => {}
            SortBy::Asset => rows.sort_by(|a, b| a.asset.cmp(&b.asset)),
            SortBy::Amount => rows.sort_by_key(|r| std::cmp::Reverse(r.amount)),
        }
        (rows, dust)
    });
    let header = move |label: &'static str, by: SortBy, numeric: bool| {
        view! {
            <th scope="col" class:num=numeric aria-sort=move || if sort.get() == by { "descending" } else { "none" }>
                <button type="button" class="sort" on:click=move |_| sort.set(by)>{label}</button>
            </th>
        }
    };
    view! {
        <section class="card">
            <div class="section-head">
                <h2>"Assets"</h2>
                <label class="check">
                    <input type="checkbox" data-testid="show-dust" prop:checked=move || show_dust.get()
                        on:change=move |ev| show_dust.set(event_target_checked(&ev)) />
                    {move || format!("Show small balances (under $1): {}", rows.with(|r| r.1))}
                </label>
            </div>
            <div class="table-wrap">
                <table data-testid="assets">
                    <thead>
                        <tr>
                            {header("Asset", SortBy::Asset, false)}
                            {header("Amount", SortBy::Amount, true)}
                            <th scope="col" class="num">"Price"</th>
                            {header("Value", SortBy::Value, true)}
                            <th scope="col" class="num">"Share"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            rows.get()
                                .0
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <tr data-testid=format!("asset-{}", r.asset)>
                                            <th scope="row">{r.asset.clone()}</th>
                                            <td class="num">{format_amount(r.amount)}</td>
                                            <td class="num">{r.price.map(format_amount).map(|p| format!("${p}")).unwrap_or_else(|| "no price".into())}</td>
                                            <td class="num">{r.value.map(format_usd).unwrap_or_else(|| "—".into())}</td>
                                            <td class="num">{r.share.map(|s| format!("{s}%")).unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn opt(value: Option<Decimal>) -> String {
    value.map(format_amount).unwrap_or_else(|| "—".into())
}

#[component]
fn Positions() -> impl IntoView {
    let p = use_ctx().portfolio;
    let positions = move || {
        p.snapshot
            .with(|s| s.as_ref().map(|s| s.positions.clone()).unwrap_or_default())
    };
    view! {
        <section class="card">
            <h2>"Positions"</h2>
            <Show when=move || !positions().is_empty() fallback=|| view! { <p class="muted">"No open positions."</p> }>
                <div class="table-wrap">
                    <table data-testid="positions">
                        <thead>
                            <tr>
                                <th scope="col">"Instrument"</th>
                                <th scope="col">"Side"</th>
                                <th scope="col" class="num">"Size"</th>
                                <th scope="col" class="num">"Entry"</th>
                                <th scope="col" class="num">"Mark"</th>
                                <th scope="col" class="num">"Unrealized PnL"</th>
                                <th scope="col" class="num">"Leverage"</th>
                                <th scope="col" class="num">"Liq. price"</th>
                                <th scope="col">"Margin"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {move || {
                                positions()
                                    .into_iter()
                                    .map(|x| {
                                        let side = match x.side { Side::Long => "Long", Side::Short => "Short" };
                                        view! {
                                            <tr data-testid=format!("position-{}", x.instrument)>
                                                <th scope="row">{x.instrument.clone()}" "<span class="muted">{x.kind.clone()}</span></th>
                                                <td class=format!("side {}", side.to_ascii_lowercase())>{side}</td>
                                                <td class="num">{format_amount(x.size)}</td>
                                                <td class="num">{opt(x.entry)}</td>
                                                <td class="num">{opt(x.mark)}</td>
                                                <td class="num">{opt(x.pnl)}</td>
                                                <td class="num">{x.leverage.map(|l| format!("{}×", format_amount(l))).unwrap_or_else(|| "—".into())}</td>
                                                <td class="num">{opt(x.liquidation)}</td>
                                                <td>{x.margin_mode.clone()}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </tbody>
                    </table>
                </div>
            </Show>
        </section>
    }
}

/// Manage connections: rename, re-test, remove (with confirmation).
#[component]
fn Connections() -> impl IntoView {
    let ctx = use_ctx();
    let p = ctx.portfolio;
    let message = RwSignal::new(None::<String>);
    view! {
        <section class="card">
            <h2>"Connections"</h2>
            <ul class="connections">
                {move || {
                    p.connections
                        .get()
                        .into_iter()
                        .map(|c| {
                            let id = StoredValue::new(c.id.clone());
                            let name = RwSignal::new(c.label.clone());
                            let confirming = RwSignal::new(false);
                            let rename = move |_| {
                                let label = name.get_untracked().trim().to_string();
                                if label.is_empty() { return; }
                                ctx.spawn(async move {
                                    let Some(session) = ctx.session() else { return };
                                    let id = id.get_value();
                                    let result = async {
                                        let Some(mut conn) = session.connection(&id).await? else {
                                            return Ok("This connection was removed meanwhile.".to_string());
                                        };
                                        conn.label = label;
                                        session.save_connection(&conn).await.map(|()| "Renamed.".to_string())
                                    }.await;
                                    drop(session);
                                    message.set(Some(result.unwrap_or_else(|e| ctx.report(e))));
                                    reload_connections(ctx).await;
                                });
                            };
                            let retest = move |_| {
                                let fetcher = p.fetcher(&ctx);
                                ctx.spawn(async move {
                                    let Some(session) = ctx.session() else { return };
                                    let id = id.get_value();
                                    let Ok(Some(conn)) = session.connection(&id).await else { return };
                                    drop(session);
                                    let status = match fetcher.test_connection(&conn).await {
                                        Ok(config) if config.is_read_only() => ConnStatus::Ok,
                                        Ok(config) => ConnStatus::Error(holdix_core::exchange::okx::refuse_permissions(&config).message),
                                        Err(e) => ConnStatus::Error(e.explain().message),
                                    };
                                    p.statuses.update(|s| { s.insert(id, status); });
                                });
                            };
                            let remove = move |_| {
                                ctx.spawn(async move {
                                    let Some(session) = ctx.session() else { return };
                                    let id = id.get_value();
                                    let deleted = session.delete_connection(&id).await;
                                    drop(session);
                                    match deleted {
                                        Ok(()) => {
                                            p.snapshot.update(|s| if let Some(s) = s { s.drop_connection(&id) });
                                            p.statuses.update(|s| { s.remove(&id); });
                                            reload_connections(ctx).await;
                                        }
                                        Err(e) => message.set(Some(ctx.report(e))),
                                    }
                                });
                            };
                            let label = c.label.clone();
                            let region = c.region.clone().unwrap_or_else(|| "global".into());
                            view! {
                                <li class="connection" data-testid=format!("connection-{label}")>
                                    <div class="field inline">
                                        <label for=format!("name-{}", c.id)>{format!("{} connection name", c.exchange.name())}</label>
                                        <input id=format!("name-{}", c.id) type="text" bind:value=name />
                                    </div>
                                    <p class="muted">{format!("{} · {region}{}", c.exchange.name(), if c.demo { " · demo trading" } else { "" })}</p>
                                    <div class="row">
                                        <button type="button" class="secondary" on:click=rename>"Rename"</button>
                                        <button type="button" class="secondary" on:click=retest>"Re-test"</button>
                                        <Show when=move || !confirming.get() fallback=move || view! {
                                            <span>"Remove this connection and its data?"</span>
                                            <button type="button" class="danger" data-testid="confirm-remove" on:click=remove>"Remove"</button>
                                            <button type="button" class="secondary" on:click=move |_| confirming.set(false)>"Keep"</button>
                                        }>
                                            <button type="button" class="secondary" on:click=move |_| confirming.set(true)>"Remove…"</button>
                                        </Show>
                                    </div>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            <p class="muted" role="status">{move || message.get()}</p>
        </section>
    }
}
