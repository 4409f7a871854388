//! The Connect Exchange dialog: OKX's three credentials, region and demo options, a help
//! panel, and a connection test that accepts only read-only keys. Problems are shown next to
//! the field at fault; nothing is saved unless the key passes.

use holdix_core::exchange::okx::{self, Field, Problem, REGIONS};
use holdix_core::records::{Connection, ConnectionOptions, ExchangeId, Secret};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::portfolio::{refresh, reload_connections};
use super::use_ctx;
use super::vault::PasswordField;
use crate::browser::random_id;

#[component]
pub fn ConnectDialog() -> impl IntoView {
    let ctx = use_ctx();
    let label = RwSignal::new("OKX".to_string());
    let api_key = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let passphrase = RwSignal::new(String::new());
    let region = RwSignal::new("global".to_string());
    let demo = RwSignal::new(false);
    let problem = RwSignal::new(None::<Problem>);
    let busy = RwSignal::new(false);
    let at = move |field: Field| {
        Signal::derive(move || {
            problem
                .get()
                .filter(|p| p.field == field)
                .map(|p| p.message)
        })
    };
    let filled = move || {
        [api_key, secret, passphrase]
            .iter()
            .all(|f| f.with(|v| !v.trim().is_empty()))
    };
    let close = move || {
        for f in [api_key, secret, passphrase] {
            f.set(String::new());
        }
        ctx.connecting.set(false);
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !filled() || busy.get_untracked() {
            return;
        }
        if ctx.session().is_none() {
            return;
        }
        busy.set(true);
        problem.set(None);
        let connection = Connection {
            id: random_id(),
            exchange: ExchangeId::Okx,
            label: Some(label.get_untracked().trim().to_string())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "OKX".into()),
            api_key: api_key.get_untracked().trim().to_string(),
            secret: Secret::new(secret.get_untracked().trim()),
            passphrase: Some(Secret::new(passphrase.get_untracked().trim())),
            options: ConnectionOptions {
                region: Some(region.get_untracked()).filter(|r| r != "global"),
                demo: demo.get_untracked(),
            },
        };
        let fetcher = ctx.portfolio.fetcher(&ctx);
        ctx.spawn(async move {
            let outcome = match fetcher.test_connection(&connection).await {
                Err(e) => Err(e.explain()),
                Ok(config) if !config.is_read_only() => Err(okx::refuse_permissions(&config)),
                // The session as it is after the test (a password may have changed meanwhile).
                Ok(_) => match ctx.session() {
                    None => return,
                    Some(session) => {
                        session
                            .save_connection(&connection)
                            .await
                            .map_err(|e| Problem {
                                field: Field::General,
                                message: ctx.report(e),
                            })
                    }
                },
            };
            busy.set(false);
            match outcome {
                Ok(()) => {
                    close();
                    reload_connections(ctx).await;
                    refresh(ctx).await;
                }
                Err(p) => problem.set(Some(p)),
            }
        });
    };
    view! {
        <form class="card dialog" role="dialog" aria-labelledby="connect-title" on:submit=submit data-testid="connect-form">
            <h2 id="connect-title">"Connect exchange"</h2>
            <div class="field">
                <label for="exchange">"Exchange"</label>
                <select id="exchange" data-testid="exchange">
                    <option value="okx" selected>"OKX"</option>
                </select>
            </div>
            <div class="field">
                <label for="conn-label">"Label"</label>
                <input id="conn-label" type="text" bind:value=label autocomplete="off" />
            </div>
            <div class="field">
                <label for="api-key">"API Key"</label>
                <input id="api-key" type="text" autocomplete="off" spellcheck="false" bind:value=api_key
                    aria-invalid=move || at(Field::ApiKey).get().is_some().to_string() aria-describedby="api-key-error" />
                <p id="api-key-error" class="field-error" role="alert" data-testid="api-key-error">{move || at(Field::ApiKey).get()}</p>
            </div>
            <PasswordField id="api-secret" label="API Secret" value=secret credential=true />
            <PasswordField id="api-passphrase" label="API Passphrase" value=passphrase error=at(Field::Passphrase) credential=true />
            <div class="field">
                <label for="region">"Region"</label>
                <select id="region" on:change=move |ev| region.set(event_target_value(&ev))>
                    {REGIONS.map(|(value, text, _)| view! { <option value=value selected=move || region.get() == value>{text}</option> })}
                </select>
            </div>
            <label class="check">
                <input type="checkbox" id="demo" prop:checked=move || demo.get() on:change=move |ev| demo.set(event_target_checked(&ev)) />
                "Demo trading key"
            </label>
            <p class="field-error" role="alert" data-testid="demo-error">{move || at(Field::Demo).get()}</p>
            <details class="help">
                <summary>"How to create a read-only OKX API key"</summary>
                <ol>
                    <li>"On OKX, open Profile → API and choose “Create API key”."</li>
                    <li>"Set a label such as “Holdix”."</li>
                    <li>"Choose a passphrase of your own (not your OKX password) and keep it: OKX never shows it again."</li>
                    <li>"Under Permissions select “Read” only — not Trade, not Withdraw."</li>
                    <li>"Optional: restrict the key to IP addresses. Requests reach OKX from the Holdix proxy, so allow the proxy's address, not your own."</li>
                    <li>"Confirm with 2FA, then paste the API Key, the Secret Key (shown once) and your passphrase here."</li>
                </ol>
            </details>
            <p class="form-error" role="alert" data-testid="connect-error">{move || at(Field::General).get()}</p>
            <div class="row">
                <button type="submit" class="primary inline" data-testid="connect" disabled=move || !filled() || busy.get()>
                    {move || if busy.get() { "Connecting…" } else { "Connect" }}
                </button>
                <button type="button" class="secondary" on:click=move |_| close()>"Cancel"</button>
            </div>
        </form>
    }
}
