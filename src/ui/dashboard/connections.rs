//! The connection list: rename, re-test (the same key check as Connect), remove.

use holdix_core::exchange::exchange;
use holdix_core::exchange::time::day;
use leptos::prelude::*;

use crate::ui::connect::check_and_save;
use crate::ui::portfolio::{reload_connections, ConnStatus};
use crate::ui::use_ctx;

/// Manage connections: rename, re-test, remove (with confirmation).

#[component]
pub fn Connections() -> impl IntoView {
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
                                        session.save_connection(&conn).await.map(|next| {
                                            ctx.update_session(next);
                                            "Renamed.".to_string()
                                        })
                                    }.await;
                                    drop(session);
                                    message.set(Some(result.unwrap_or_else(|e| ctx.report(e))));
                                    reload_connections(ctx).await;
                                });
                            };
                            let retest = move |_| {
                                ctx.spawn(async move {
                                    let Some(session) = ctx.session() else { return };
                                    let id = id.get_value();
                                    let Ok(Some(conn)) = session.connection(&id).await else { return };
                                    drop(session);
                                    // The same check as Connect; the key's expiry as the exchange
                                    // now gives it is saved (binding an IP ends the expiry).
                                    let status = match check_and_save(ctx, conn).await {
                                        None => return,
                                        Some(Ok(())) => ConnStatus::Ok,
                                        Some(Err(p)) => ConnStatus::Error(p.message),
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
                                        Ok(next) => {
                                            ctx.update_session(next);
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
                                    <p class="muted" data-testid=format!("connection-info-{label}")>{format!(
                                        "{} · {region}{}{}{}",
                                        c.exchange.name(),
                                        if c.demo { " · demo trading" } else { "" },
                                        if !exchange(c.exchange).spec().read_endpoints.is_empty() { " · key permissions not reported by the exchange" } else { "" },
                                        c.key_expires_ms.map(|ms| format!(" · key expires {}", day(ms))).unwrap_or_default()
                                    )}</p>
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
