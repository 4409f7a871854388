//! The Connect Exchange dialog, generic over each exchange's `ConnectSpec`: its credential
//! fields, regions, demo switch and help steps. The key is checked with the exchange (only
//! read-only keys pass, see `Verdict::accept`); problems are shown next to the field at
//! fault; nothing is saved unless the key passes.

use holdix_core::exchange::{exchange, ConnectSpec, Field, Problem, EXCHANGES};
use holdix_core::records::{Connection, ConnectionOptions, ExchangeId, Secret};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::portfolio::{refresh, reload_connections};
use super::vault::PasswordField;
use super::{use_ctx, Ctx};
use crate::browser::random_id;
use futures::future::LocalBoxFuture;

/// The input id and error-line test id of each field.
fn field_id(field: Field) -> &'static str {
    match field {
        Field::ApiKey => "api-key",
        Field::Secret => "api-secret",
        Field::Passphrase => "api-passphrase",
        Field::Region => "region",
        Field::Demo => "demo",
        Field::General => "connect",
    }
}

fn spec_of(id: ExchangeId) -> &'static ConnectSpec {
    exchange(id).spec()
}

/// The key check of Connect and Re-test, then the connection saved with what the exchange
/// said of the key (its expiry), under the session as it is after the check (a password may
/// have changed meanwhile), and the list reloaded. `None`: the vault was locked meanwhile.
/// Boxed: one copy for both callers.
pub fn check_and_save(
    ctx: Ctx,
    mut connection: Connection,
) -> LocalBoxFuture<'static, Option<Result<(), Problem>>> {
    Box::pin(async move {
        let accepted = match ctx.portfolio.fetcher(&ctx).verify_key(&connection).await {
            Ok(accepted) => accepted,
            Err(e) => return Some(Err(e.problem)),
        };
        let session = ctx.session()?;
        connection.key_expires_ms = accepted.expires_ms;
        let saved = session.save_connection(&connection).await;
        drop(session);
        let saved = saved.map(|next| ctx.update_session(next));
        reload_connections(ctx).await;
        Some(saved.map_err(|e| Problem {
            field: Field::General,
            message: ctx.report(e),
        }))
    })
}

#[component]
pub fn ConnectDialog() -> impl IntoView {
    let ctx = use_ctx();
    let chosen = RwSignal::new(EXCHANGES[0].id());
    let spec = move || spec_of(chosen.get());
    let label = RwSignal::new(chosen.get_untracked().name().to_string());
    let api_key = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let passphrase = RwSignal::new(String::new());
    let region = RwSignal::new("global".to_string());
    let demo = RwSignal::new(false);
    let problem = RwSignal::new(None::<Problem>);
    let busy = RwSignal::new(false);
    let value_of = move |field: Field| match field {
        Field::Secret => Some(secret),
        Field::Passphrase => Some(passphrase),
        Field::ApiKey => Some(api_key),
        _ => None,
    };
    let at = move |field: Field| {
        Signal::derive(move || {
            problem
                .get()
                .filter(|p| p.field == field)
                .map(|p| p.message)
        })
    };
    let filled = move || {
        spec()
            .fields
            .iter()
            .filter_map(|f| value_of(f.field))
            .all(|v| v.with(|v| !v.trim().is_empty()))
    };
    let close = move || {
        for f in [api_key, secret, passphrase] {
            f.set(String::new());
        }
        ctx.connecting.set(false);
    };
    let switch = move |ev: leptos::ev::Event| {
        let Some(next) = EXCHANGES
            .iter()
            .find(|e| e.spec().id.name() == event_target_value(&ev))
        else {
            return;
        };
        // A label the user did not change follows the exchange.
        if label.get_untracked() == chosen.get_untracked().name() {
            label.set(next.name().to_string());
        }
        chosen.set(next.id());
        region.set("global".into());
        demo.set(false);
        problem.set(None);
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !filled() || busy.get_untracked() || ctx.session().is_none() {
            return;
        }
        busy.set(true);
        problem.set(None);
        let spec = spec_of(chosen.get_untracked());
        let connection = Connection {
            id: random_id(),
            exchange: spec.id,
            label: Some(label.get_untracked().trim().to_string())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| spec.id.name().into()),
            api_key: api_key.get_untracked().trim().to_string(),
            secret: Secret::new(secret.get_untracked().trim()),
            passphrase: spec
                .needs(Field::Passphrase)
                .then(|| Secret::new(passphrase.get_untracked().trim())),
            options: ConnectionOptions {
                region: Some(region.get_untracked()).filter(|r| r != "global"),
                demo: spec.demo && demo.get_untracked(),
            },
            key_expires_ms: None,
            saved_ms: 0,
        };
        ctx.spawn(async move {
            let Some(outcome) = check_and_save(ctx, connection).await else {
                return;
            };
            busy.set(false);
            match outcome {
                Ok(()) => {
                    close();
                    refresh(ctx).await;
                }
                Err(p) => problem.set(Some(p)),
            }
        });
    };
    let error_line = move |field: Field| {
        let id = field_id(field);
        view! {
            <p id=format!("{id}-error") class="field-error" role="alert" data-testid=format!("{id}-error")>{move || at(field).get()}</p>
        }
    };
    view! {
        <form class="card dialog" role="dialog" aria-labelledby="connect-title" on:submit=submit data-testid="connect-form">
            <h2 id="connect-title">"Connect exchange"</h2>
            <div class="field">
                <label for="exchange">"Exchange"</label>
                <select id="exchange" data-testid="exchange" on:change=switch>
                    {EXCHANGES.iter().map(|e| {
                        let name = e.name();
                        view! { <option value=name selected=move || chosen.get().name() == name>{name}</option> }
                    }).collect_view()}
                </select>
            </div>
            {move || {
                let spec = spec();
                (!spec.read_endpoints.is_empty()).then(|| view! {
                    <p class="notice" data-testid="permission-notice">{format!(
                        "{} cannot tell Holdix what a key may do, so Holdix cannot refuse a key that may trade or withdraw. When you create the key, turn on endpoint access restrictions and allow only these read endpoints: {}. The Holdix proxy forwards only these reads (and public time and prices), never an order, a withdrawal or a transfer, whatever the key allows.",
                        spec.id.name(),
                        spec.read_endpoints.join(", ")
                    )}</p>
                })
            }}
            <div class="field">
                <label for="conn-label">"Label"</label>
                <input id="conn-label" type="text" bind:value=label autocomplete="off" />
            </div>
            {move || spec().fields.iter().map(|f| {
                let Some(value) = value_of(f.field) else { return ().into_any() };
                let id = field_id(f.field);
                if f.secret {
                    view! { <PasswordField id=id label=f.label value=value error=at(f.field) credential=true /> }.into_any()
                } else {
                    view! {
                        <div class="field">
                            <label for=id>{f.label}</label>
                            <input id=id type="text" autocomplete="off" spellcheck="false" bind:value=value
                                aria-invalid=move || at(f.field).get().is_some().to_string() aria-describedby=format!("{id}-error") />
                            {error_line(f.field)}
                        </div>
                    }.into_any()
                }
            }).collect_view()}
            <Show when=move || { spec().regions.len() > 1 }>
                <div class="field">
                    <label for="region">"Region"</label>
                    <select id="region" on:change=move |ev| region.set(event_target_value(&ev))>
                        {move || spec().regions.iter().map(|r| {
                            let value = r.value;
                            view! { <option value=value selected=move || region.get() == value>{r.label}</option> }
                        }).collect_view()}
                    </select>
                    {error_line(Field::Region)}
                </div>
            </Show>
            <Show when=move || spec().demo>
                <label class="check">
                    <input type="checkbox" id="demo" prop:checked=move || demo.get() on:change=move |ev| demo.set(event_target_checked(&ev)) />
                    "Demo trading key"
                </label>
                {error_line(Field::Demo)}
            </Show>
            <details class="help">
                <summary>{move || spec().help_title}</summary>
                <ol>{move || spec().help_steps.iter().map(|s| view! { <li>{*s}</li> }).collect_view()}</ol>
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
