//! Every asset merged across accounts and connections: amount, price, value, share;
//! sortable; balances under the small-balance threshold (a setting, $1 by default) behind a
//! toggle.

use holdix_core::portfolio::{self, format_amount, AssetRow};
use holdix_core::sort;
use leptos::prelude::*;

use super::{money, shown};

/// Brings the history card (now showing the chosen asset) into view.
fn scroll_to_history() {
    if let Some(card) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("[data-testid=history]").ok().flatten())
    {
        card.scroll_into_view();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Value,
    Asset,
    Amount,
}

#[component]
pub fn Assets(
    valuation: Memo<portfolio::Valuation>,
    chart_asset: RwSignal<Option<String>>,
) -> impl IntoView {
    let ctx = crate::ui::use_ctx();
    let p = ctx.portfolio;
    // Which exchange priced an asset, where the sources disagree by more than 1 %.
    let note = move |asset: &str| {
        p.snapshot
            .with(|s| s.as_ref().and_then(|s| s.price_notes.get(asset).cloned()))
    };
    let sort = RwSignal::new(SortBy::Value);
    let show_dust = RwSignal::new(false);
    // Shown rows and the number of dust rows, computed once per change for both uses.
    let rows = Memo::new(move |_| {
        let mut rows: Vec<AssetRow> = valuation.with(|v| v.assets.clone());
        let dust_usd = ctx.settings.with(|s| s.dust_usd);
        let dust = rows
            .iter()
            .filter(|r| r.value.is_some_and(|x| x < dust_usd))
            .count();
        if !show_dust.get() {
            rows.retain(|r| r.value.is_none_or(|x| x >= dust_usd));
        }
        match sort.get() {
            SortBy::Value => {}
            SortBy::Asset => sort::by(&mut rows, &|a, b| a.asset.cmp(&b.asset)),
            SortBy::Amount => sort::by(&mut rows, &|a, b| b.amount.cmp(&a.amount)),
        }
        (rows, dust)
    });
    // The 24 h change cell: sign and arrow written out, colour only repeats them.
    let day = move |r: &AssetRow| {
        let open = p
            .snapshot
            .with(|s| s.as_ref().and_then(|s| s.opens.get(&r.asset).copied()));
        let percent = r
            .price
            .and_then(|price| portfolio::day_percent(&r.asset, price, open));
        let (class, text) = match percent {
            Some(p) if p > rust_decimal::Decimal::ZERO => ("num change up", format!("▲ +{p}%")),
            Some(p) if p < rust_decimal::Decimal::ZERO => ("num change down", format!("▼ {p}%")),
            Some(p) => ("num change", format!("{p}%")),
            None => ("num change", String::new()),
        };
        view! { <td class=class>{text}</td> }
    };
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
                    {move || format!("Show small balances (under ${}): {}", ctx.settings.with(|s| s.dust_usd), rows.with(|r| r.1))}
                </label>
            </div>
            <div class="table-wrap">
                <table class="cards" data-testid="assets">
                    <thead>
                        <tr>
                            {header("Asset", SortBy::Asset, false)}
                            {header("Amount", SortBy::Amount, true)}
                            <th scope="col" class="num">"Price"</th>
                            {header("Value", SortBy::Value, true)}
                            <th scope="col" class="num">"Share"</th>
                            <th scope="col" class="num" title="From the exchange that priced the asset">"24 h"</th>
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
                                            <th scope="row">
                                                <button type="button" class="link" data-testid=format!("asset-history-{}", r.asset)
                                                    title="Show this asset's value over time"
                                                    on:click={
                                                        let a = r.asset.clone();
                                                        move |_| {
                                                            chart_asset.set(Some(a.clone()));
                                                            scroll_to_history();
                                                        }
                                                    }>{r.asset.clone()}</button>
                                                {note(&r.asset).map(|n| view! { <span class="muted price-note" data-testid=format!("price-note-{}", r.asset)>{n}</span> })}
                                            </th>
                                            <td class="num">{shown(ctx, format_amount(r.amount))}</td>
                                            <td class="num">{r.price.map(format_amount).map(|p| format!("${p}")).unwrap_or_else(|| "no price".into())}</td>
                                            <td class="num">{r.value.map(|v| money(ctx, v)).unwrap_or_else(|| "—".into())}</td>
                                            <td class="num">{r.share.map(|s| format!("{s}%")).unwrap_or_default()}</td>
                                            {day(&r)}
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
