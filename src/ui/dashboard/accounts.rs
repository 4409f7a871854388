//! Accounts per connection: one column per kind of account any connected exchange has; a
//! cell says "not enabled" for an account the user never opened on the exchange, "not
//! readable" for one the key may not read, and "—" where the exchange has no such account.

use holdix_core::exchange::exchange;
use holdix_core::portfolio::{self, Account};
use leptos::prelude::*;

use super::money;
use crate::ui::use_ctx;

#[component]
pub fn Accounts(valuation: Memo<portfolio::Valuation>) -> impl IntoView {
    let ctx = use_ctx();
    let p = ctx.portfolio;
    // An account a connection's exchange always has, or one it turned out to have (a Bybit
    // classic account's Spot and Derivatives wallets).
    let has = move |c: &crate::ui::portfolio::ConnectionSummary, a: Account| {
        exchange(c.exchange).spec().accounts.contains(&a)
            || valuation.with(|v| v.by_account.contains_key(&(c.id.clone(), a)))
    };
    let columns = Memo::new(move |_| {
        p.connections.with(|cs| {
            Account::ALL
                .into_iter()
                .filter(|a| cs.iter().any(|c| has(c, *a)))
                .collect::<Vec<_>>()
        })
    });
    view! {
        <section class="card">
            <h2>"Accounts"</h2>
            <div class="table-wrap">
                <table class="cards" data-testid="accounts">
                    <thead>
                        <tr>
                            <th scope="col">"Connection"</th>
                            {move || columns.get().into_iter().map(|a| view! { <th scope="col" class="num">{a.label()}</th> }).collect_view()}
                            <th scope="col" class="num">"Total"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let (off, unreadable) = p.snapshot.with(|s| s.as_ref().map(|s| (s.not_enabled.clone(), s.unreadable.clone())).unwrap_or_default());
                            p.connections
                                .get()
                                .into_iter()
                                .map(|c| {
                                    let v = valuation.get();
                                    let cell = |a: Account| {
                                        if !has(&c, a) {
                                            "—".to_string()
                                        } else if off.iter().any(|(id, x)| *id == c.id && *x == a) {
                                            "not enabled".to_string()
                                        } else if unreadable.iter().any(|(id, x)| *id == c.id && *x == a) {
                                            "not readable".to_string()
                                        } else {
                                            money(ctx, v.by_account.get(&(c.id.clone(), a)).copied().unwrap_or_default())
                                        }
                                    };
                                    let total = v.by_connection.get(&c.id).copied().unwrap_or_default();
                                    view! {
                                        <tr data-testid=format!("account-row-{}", c.label)>
                                            <th scope="row">{c.label.clone()}</th>
                                            {columns.get().into_iter().map(|a| view! {
                                                <td class="num" data-label=a.label() data-testid=format!("account-{}-{}", c.label, a.key())>{cell(a)}</td>
                                            }).collect_view()}
                                            <td class="num" data-label="Total"><strong>{money(ctx, total)}</strong></td>
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
