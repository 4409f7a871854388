//! Where the money sits: by asset (the eight largest and "Other"), by exchange, or by kind
//! of account — each part's value, share and a bar (a native `<meter>`, no chart script), in
//! one table, so a screen reader gets exactly the numbers the bars show.

use holdix_core::allocation::{by_account, by_asset, by_exchange};
use holdix_core::portfolio::Valuation;
use leptos::prelude::*;

use super::money;
use crate::ui::use_ctx;

const VIEWS: [&str; 3] = ["Asset", "Exchange", "Account"];

#[component]
pub fn Allocation(valuation: Memo<Valuation>) -> impl IntoView {
    let ctx = use_ctx();
    let p = ctx.portfolio;
    let by = RwSignal::new(0);
    let slices = move || {
        valuation.with(|v| match by.get() {
            0 => by_asset(v),
            1 => p.connections.with(|cs| {
                by_exchange(v, &|id| cs.iter().find(|c| c.id == id).map(|c| c.exchange))
            }),
            _ => by_account(v),
        })
    };
    view! {
        <section class="card">
            <div class="section-head">
                <h2 id="allocation-title">"Allocation"</h2>
                <label class="check">
                    "By"
                    <select data-testid="allocation-by" on:change=move |ev| {
                        let chosen = event_target_value(&ev);
                        by.set(VIEWS.iter().position(|v| *v == chosen).unwrap_or(0));
                    }>
                        <option>"Asset"</option>
                        <option>"Exchange"</option>
                        <option>"Account"</option>
                    </select>
                </label>
            </div>
            <div class="table-wrap">
                <table class="cards" data-testid="allocation" aria-labelledby="allocation-title">
                    <thead>
                        <tr>
                            <th scope="col">{move || VIEWS[by.get()]}</th>
                            <th scope="col" class="num">"Value"</th>
                            <th scope="col" class="num">"Share"</th>
                            <th scope="col"><span class="visually-hidden">"Bar"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || slices().into_iter().map(|s| view! {
                            <tr data-testid=format!("allocation-{}", s.label)>
                                <th scope="row">{s.label.clone()}</th>
                                <td class="num">{money(ctx, s.usd)}</td>
                                <td class="num">{format!("{}%", s.percent)}</td>
                                <td class="bar"><meter min="0" max="100" value=s.percent.to_string() aria-hidden="true"></meter></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
