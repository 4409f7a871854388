//! Settings: auto-lock, small balances, proxy address, storage, change password, erase vault;
//! and the one way any screen changes the stored settings ([`change_settings`]).

use holdix_core::password::{self, Strength};
use holdix_core::records::Settings;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::portfolio::went_offline;
use super::vault::{EraseVault, PasswordField};
use super::{use_ctx, Ctx};
use crate::browser::{origin, persistent_storage, storage_usage};
use crate::session::SessionError;

/// Changes the settings and keeps them in the vault, then says `saved` in `status` if
/// given; on failure the old ones stay, `status` says why, and every control shows the old
/// ones again (see [`shown_again`]).
/// (Boxed: one copy of the save in the bundle, whoever calls.)
pub fn change_settings(
    ctx: Ctx,
    change: Box<dyn FnOnce(&mut Settings)>,
    status: RwSignal<Option<String>>,
    saved: Option<&'static str>,
) {
    ctx.spawn(async move {
        let Some(session) = ctx.session() else { return };
        let mut settings = session.settings.clone();
        change(&mut settings);
        match session.save_settings(settings).await {
            Ok(next) => {
                ctx.set_session(next);
                if let Some(saved) = saved {
                    status.set(Some(saved.into()));
                }
            }
            Err(e) => {
                status.set(Some(ctx.report(e)));
                shown_again(ctx);
            }
        }
    });
}

/// After a failed save: a select still shows what the user picked, not what is stored.
/// Every select's `prop:value` reads the settings, so telling their readers they changed
/// sets each select back to the stored value.
fn shown_again(ctx: Ctx) {
    ctx.settings.notify();
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <h1>"Settings"</h1>
        <AutoLock />
        <DashboardSettings />
        <Proxy />
        <StorageStatus />
        <super::backup::BackupCard />
        <ChangePassword />
        <EraseVault />
    }
}

/// One settings `<select>` of `choices` (value, label): it shows the stored value, also
/// after a failed save (see [`shown_again`]); a choice is saved through `set` (which leaves
/// the settings as they are for a value it cannot read) and `status` says how that went.
fn choice(
    id: &'static str,
    choices: Vec<(String, String)>,
    stored: fn(&Settings) -> String,
    set: fn(&mut Settings, &str),
    status: RwSignal<Option<String>>,
) -> impl IntoView {
    let ctx = use_ctx();
    let change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        status.set(None);
        change_settings(
            ctx,
            Box::new(move |s| set(s, &value)),
            status,
            Some("Saved."),
        );
    };
    view! {
        <select id=id data-testid=id on:change=change prop:value=move || ctx.settings.with(stored)>
            {choices
                .into_iter()
                .map(|(value, label)| {
                    let this = value.clone();
                    view! {
                        <option value=value selected=move || ctx.settings.with(|s| stored(s) == this)>
                            {label}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

#[component]
fn AutoLock() -> impl IntoView {
    let status = RwSignal::new(None::<String>);
    let choices = Settings::AUTO_LOCK_CHOICES
        .into_iter()
        .map(|m| {
            let label = if m < 60 {
                format!("{m} min")
            } else {
                format!("{} h", m / 60)
            };
            (m.to_string(), label)
        })
        .collect();
    view! {
        <section class="card">
            <h2>"Auto-lock"</h2>
            <div class="field">
                <label for="auto-lock">"Lock after inactivity"</label>
                {choice(
                    "auto-lock",
                    choices,
                    |s| s.auto_lock_minutes.to_string(),
                    |s, v| if let Ok(m) = v.parse() { s.auto_lock_minutes = m },
                    status,
                )}
            </div>
            <p class="muted" role="status">{move || status.get()}</p>
        </section>
    }
}

/// The dashboard's settings: the display currency, how often it refreshes by itself, and
/// the small-balance threshold (assets worth less are behind "Show small balances").
#[component]
fn DashboardSettings() -> impl IntoView {
    let status = RwSignal::new(None::<String>);
    let currencies = std::iter::once("USD")
        .chain(holdix_core::currency::FIATS)
        .map(|c| (c.to_string(), c.to_string()))
        .collect();
    let refreshes = Settings::REFRESH_CHOICES
        .into_iter()
        .map(|m| {
            let label = match m {
                0 => "Never".to_string(),
                1 => "Every minute".into(),
                m => format!("Every {m} minutes"),
            };
            (m.to_string(), label)
        })
        .collect();
    let dusts = Settings::DUST_CHOICES
        .into_iter()
        .map(|d| (d.to_string(), format!("${d}")))
        .collect();
    view! {
        <section class="card">
            <h2>"Dashboard"</h2>
            <div class="field">
                <label for="currency">"Show values in"</label>
                {choice("currency", currencies, |s| s.currency.clone(), |s, v| s.currency = v.into(), status)}
                <p class="muted">"At the rate your exchanges quote for USDT in that currency, shown under the total. History and exports are kept in USD."</p>
            </div>
            <div class="field">
                <label for="auto-refresh">"Refresh by itself"</label>
                {choice(
                    "auto-refresh",
                    refreshes,
                    |s| s.refresh_minutes.to_string(),
                    |s, v| if let Ok(m) = v.parse() { s.refresh_minutes = m },
                    status,
                )}
                <p class="muted">"Only while Holdix is open, visible and online. Each refresh adds a point to the value history."</p>
            </div>
            <div class="field">
                <label for="dust">"Hide assets worth less than"</label>
                {choice(
                    "dust",
                    dusts,
                    |s| s.dust_usd.to_string(),
                    |s, v| if let Ok(d) = v.parse() { s.dust_usd = d },
                    status,
                )}
            </div>
            <p class="muted" role="status">{move || status.get()}</p>
        </section>
    }
}

/// Where exchange requests go: this site's own address unless set (a static host needs the
/// address of its `holdix-proxy`). Saved in the vault settings.
#[component]
fn Proxy() -> impl IntoView {
    let ctx = use_ctx();
    let saved = move || {
        ctx.settings
            .with_untracked(|s| s.proxy_url.clone().unwrap_or_default())
    };
    let value = RwSignal::new(saved());
    let status = RwSignal::new(None::<(bool, String)>);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let proxy_url = match Settings::parse_proxy_url(&value.get_untracked()) {
            Ok(url) => url,
            Err(e) => return status.set(Some((false, e.into()))),
        };
        ctx.spawn(async move {
            let Some(session) = ctx.session() else { return };
            let settings = Settings {
                proxy_url,
                ..session.settings.clone()
            };
            let next = match session.save_settings(settings).await {
                Ok(next) => next,
                Err(e) => return status.set(Some((false, ctx.report(e)))),
            };
            ctx.set_session(next);
            let p = ctx.portfolio;
            let fetcher = p.fetcher(&ctx);
            value.set(saved());
            let answers = fetcher.proxy_answers().await;
            if answers {
                p.offline.set(false);
            } else {
                went_offline(ctx);
            }
            status.set(Some((answers, if answers {
                format!("Saved. The proxy at {} answers.", fetcher.proxy())
            } else {
                format!(
                    "Saved, but no answer from {}: check the address, that holdix-proxy runs there with --allow-origin {}, and that this site's Content-Security-Policy allows it.",
                    fetcher.proxy(),
                    origin()
                )
            })));
        });
    };
    view! {
        <form class="card" on:submit=submit data-testid="proxy-form">
            <h2>"Proxy"</h2>
            <div class="field">
                <label for="proxy-url">"Proxy address"</label>
                <input id="proxy-url" type="text" inputmode="url" autocomplete="off" spellcheck="false" placeholder=origin()
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                <p class="muted">"Empty: this site's own address. Requests are signed here; the proxy only forwards them."</p>
            </div>
            <button type="submit" class="secondary">"Save proxy address"</button>
            {move || status.get().map(|(ok, text)| view! {
                <p class=if ok { "success" } else { "form-error" } role="status" data-testid="proxy-status">{text}</p>
            })}
        </form>
    }
}

#[component]
fn StorageStatus() -> impl IntoView {
    let ctx = use_ctx();
    let usage = RwSignal::new(None::<f64>);
    spawn_local(async move { usage.set(storage_usage().await) });
    let ask =
        move |_| spawn_local(async move { ctx.persisted.set(persistent_storage(true).await) });
    view! {
        <section class="card">
            <h2>"Storage"</h2>
            <p data-testid="storage-status">
                {move || match ctx.persisted.get() {
                    Some(true) => "Persistent: the browser will not delete Holdix's data on its own.",
                    Some(false) => "Not persistent: the browser may delete Holdix's data, your vault included, when space runs low.",
                    None => "This browser does not say whether it keeps Holdix's data.",
                }}
            </p>
            <p class="muted" data-testid="storage-usage">
                {move || usage.get().map(|bytes| {
                    // Tenths of a megabyte in integers: float formatting would add ~15 KB of wasm.
                    let tenths = (bytes / 1e5).round() as u64;
                    format!("Holdix uses {}.{} MB on this device (the app and its encrypted vault).", tenths / 10, tenths % 10)
                })}
            </p>
            {move || (ctx.persisted.get() == Some(false)).then(|| view! {
                <button type="button" class="secondary" on:click=ask>"Ask for persistent storage"</button>
            })}
        </section>
    }
}

#[component]
fn ChangePassword() -> impl IntoView {
    let ctx = use_ctx();
    let current = RwSignal::new(String::new());
    let next = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let wrong = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let strength = Memo::new(move |_| next.with(|p| password::assess(p)));
    let mismatch = Signal::derive(move || {
        confirm
            .with(|c| !c.is_empty() && next.with(|p| p != c))
            .then(|| "The passwords do not match.".to_string())
    });
    let ready = move || {
        !busy.get()
            && current.with(|c| !c.is_empty())
            && strength.get() != Strength::TooShort
            && confirm.with(|c| next.with(|p| p == c))
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !ready() {
            return;
        }
        busy.set(true);
        wrong.set(None);
        outcome.set(None);
        let (old_pw, new_pw) = (current.get_untracked(), next.get_untracked());
        ctx.spawn(async move {
            let Some(session) = ctx.session() else { return };
            match session.change_password(&old_pw, &new_pw).await {
                Ok(session) => {
                    ctx.set_session(session);
                    ctx.tell_other_tabs_password_changed();
                    for field in [current, next, confirm] {
                        field.set(String::new());
                    }
                    outcome.set(Some((
                        true,
                        "Password changed. Use the new password from now on.".into(),
                    )));
                }
                Err(SessionError::WrongPassword) => wrong.set(Some("Wrong password".into())),
                Err(e) => outcome.set(Some((false, ctx.report(e)))),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card" on:submit=submit data-testid="change-password-form">
            <h2>"Change password"</h2>
            <p class="muted">"Everything in the vault is re-encrypted. If this is interrupted, the old password keeps working."</p>
            <PasswordField id="current-password" label="Current password" value=current error=wrong />
            <PasswordField
                id="changed-password"
                label="New password"
                value=next
                autocomplete="new-password"
                hint=view! { <span data-testid="new-strength">{move || { let s = strength.get(); format!("{}: {}", s.label(), s.hint()) }}</span> }.into_any()
            />
            <PasswordField
                id="changed-confirm"
                label="Confirm new password"
                value=confirm
                autocomplete="new-password"
                error=mismatch
            />
            <button type="submit" class="primary" disabled=move || !ready() data-testid="change-password">
                {move || if busy.get() { "Re-encrypting…" } else { "Change password" }}
            </button>
            {move || outcome.get().map(|(ok, text)| view! {
                <p class=if ok { "success" } else { "form-error" } role="status" data-testid="change-password-result">{text}</p>
            })}
        </form>
    }
}
