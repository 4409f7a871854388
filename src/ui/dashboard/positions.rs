//! Every derivatives and margin position of every connection.

use holdix_core::portfolio::{format_amount, Side};
use leptos::prelude::*;
use rust_decimal::Decimal;

use super::shown;
use crate::ui::use_ctx;

fn opt(value: Option<Decimal>) -> String {
    value.map(format_amount).unwrap_or_else(|| "—".into())
}

#[component]
pub fn Positions() -> impl IntoView {
    let ctx = use_ctx();
    let p = ctx.portfolio;
    let positions = move || {
        p.snapshot
            .with(|s| s.as_ref().map(|s| s.positions.clone()).unwrap_or_default())
    };
    view! {
        <section class="card">
            <h2>"Positions"</h2>
            <Show when=move || !positions().is_empty() fallback=|| view! { <p class="muted">"No open positions."</p> }>
                <div class="table-wrap">
                    <table class="cards" data-testid="positions">
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
                                                <td class="num">{shown(ctx, format_amount(x.size))}</td>
                                                <td class="num">{opt(x.entry)}</td>
                                                <td class="num">{opt(x.mark)}</td>
                                                <td class="num">{shown(ctx, opt(x.pnl))}</td>
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
