//! The vault screens: Create, Unlock, and Erase (reached from Unlock and from Settings), plus
//! the password field they share.

use holdix_core::password::{self, Strength};
use holdix_core::vault::KdfParams;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_ctx;
use crate::session::{Session, SessionError};

/// A labelled password input with a show/hide toggle and an error line under it.
///
/// With `credential` it holds an exchange credential (API secret, passphrase) instead: a
/// masked *text* input, so that no password manager takes the form for a login and offers
/// to save an API secret as a website password (the managers that look at text fields too
/// are told to leave it alone).
#[component]
pub fn PasswordField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(default = "current-password")] autocomplete: &'static str,
    #[prop(into, optional)] error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<AnyView>,
    #[prop(optional)] autofocus: bool,
    #[prop(optional)] credential: bool,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = format!("{hint_id} {error_id}");
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <div class="password-row">
                <input
                    id=id
                    name=(!credential).then_some(id)
                    type=move || if credential || shown.get() { "text" } else { "password" }
                    class=move || (credential && !shown.get()).then_some("masked")
                    autocomplete=if credential { "off" } else { autocomplete }
                    data-1p-ignore=credential.then_some("")
                    data-lpignore=credential.then_some("true")
                    data-bwignore=credential.then_some("")
                    autofocus=autofocus
                    spellcheck="false"
                    aria-invalid=move || error.get().is_some().to_string()
                    aria-describedby=described
                    bind:value=value
                />
                <button
                    type="button"
                    class="ghost toggle"
                    aria-pressed=move || shown.get().to_string()
                    aria-label=move || if shown.get() { format!("Hide {label}") } else { format!("Show {label}") }
                    on:click=move |_| shown.update(|s| *s = !*s)
                >
                    {move || if shown.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            <div id=hint_id class="hint">{hint}</div>
            <p id=error_id class="field-error" data-testid=format!("{id}-error") role="alert">
                {move || error.get()}
            </p>
        </div>
    }
}

#[component]
pub fn CreateVault() -> impl IntoView {
    let ctx = use_ctx();
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // The key-derivation worker starts while the password is typed.
    crate::kdf::warm_up();
    let strength = Memo::new(move |_| password.with(|p| password::assess(p)));
    let mismatch = Signal::derive(move || {
        let differs = confirm.with(|c| !c.is_empty() && password.with(|p| p != c));
        differs.then(|| "The passwords do not match.".to_string())
    });
    let ready = move || {
        strength.get() != Strength::TooShort
            && confirm.with(|c| password.with(|p| p == c))
            && !busy.get()
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !ready() {
            return;
        }
        busy.set(true);
        error.set(None);
        let pw = password.get_untracked();
        spawn_local(async move {
            let Some(store) = ctx.store() else { return };
            match Session::create(store, &pw, KdfParams::DEFAULT).await {
                Ok(session) => {
                    password.set(String::new());
                    confirm.set(String::new());
                    ctx.set_session(session);
                    ctx.check_storage(true);
                }
                Err(e) => {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    let meter = move || {
        let s = strength.get();
        let level = match s {
            Strength::TooShort => "0",
            Strength::Weak => "1",
            Strength::Fair => "2",
            Strength::Strong => "3",
        };
        view! {
            <span class="meter" data-level=level aria-hidden="true"><span></span></span>
            <span data-testid="strength">{s.label()}": "{s.hint()}</span>
        }
    };
    view! {
        <main class="center">
            <form class="card auth" on:submit=submit data-testid="create-form">
                <Brand />
                <h1>"Create your vault"</h1>
                <p class="muted">
                    "Your exchange keys are encrypted in this browser with a key derived from this password. "
                    "Nobody can recover it for you — not even us."
                </p>
                <PasswordField
                    id="new-password"
                    label="Password"
                    value=password
                    autocomplete="new-password"
                    hint=view! { <span class="strength">{meter}</span> }.into_any()
                    autofocus=true
                />
                <PasswordField
                    id="confirm-password"
                    label="Confirm password"
                    value=confirm
                    autocomplete="new-password"
                    error=mismatch
                />
                <button type="submit" class="primary" disabled=move || !ready() data-testid="create-vault">
                    {move || busy.get().then(|| view! { <span class="spinner" aria-hidden="true" data-testid="spinner"></span> })}
                    {move || if busy.get() { "Creating vault…" } else { "Create vault" }}
                </button>
                <p class="form-error" role="alert">{move || error.get()}</p>
            </form>
            <details class="card auth" data-testid="restore-new">
                <summary>"Restore from a backup file"</summary>
                <p class="muted">"Made with Export backup in Holdix's Settings, on this or another device."</p>
                <super::backup::RestoreForm existing=false />
            </details>
        </main>
    }
}

#[component]
pub fn Unlock() -> impl IntoView {
    let ctx = use_ctx();
    let password = RwSignal::new(String::new());
    let wrong = RwSignal::new(None::<String>);
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let erasing = RwSignal::new(false);
    // The key-derivation worker starts while the password is typed.
    crate::kdf::warm_up();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() || password.with_untracked(String::is_empty) {
            return;
        }
        busy.set(true);
        wrong.set(None);
        failure.set(None);
        let pw = password.get_untracked();
        spawn_local(async move {
            // The key is derived in a worker (crate::kdf): "Unlocking…" paints and the page
            // answers meanwhile.
            let Some(store) = ctx.store() else { return };
            match Session::unlock(store, &pw).await {
                Ok(session) => {
                    password.set(String::new());
                    ctx.set_session(session);
                    ctx.check_storage(false);
                }
                Err(SessionError::WrongPassword) => {
                    wrong.set(Some("Wrong password".into()));
                    busy.set(false);
                }
                Err(e) => {
                    failure.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <main class="center">
            <form class="card auth" on:submit=submit data-testid="unlock-form">
                <Brand />
                <h1>"Unlock your vault"</h1>
                {move || ctx.notice.get().map(|n| view! { <p class="notice" data-testid="notice">{n}</p> })}
                <PasswordField id="unlock-password" label="Password" value=password error=wrong autofocus=true />
                <button
                    type="submit"
                    class="primary"
                    data-testid="unlock"
                    disabled=move || busy.get() || password.with(String::is_empty)
                >
                    {move || busy.get().then(|| view! { <span class="spinner" aria-hidden="true" data-testid="spinner"></span> })}
                    {move || if busy.get() { "Unlocking…" } else { "Unlock" }}
                </button>
                <p class="form-error" role="alert" data-testid="unlock-failure">{move || failure.get()}</p>
                <button type="button" class="link" on:click=move |_| erasing.update(|e| *e = !*e)>
                    "Forgot the password or the vault is damaged?"
                </button>
            </form>
            {move || erasing.get().then(|| view! { <EraseVault /> })}
        </main>
    }
}

/// Removes all Holdix data from this browser after the user types ERASE.
#[component]
pub fn EraseVault() -> impl IntoView {
    let ctx = use_ctx();
    let typed = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let armed = move || typed.with(|t| t == "ERASE") && !busy.get();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !armed() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let Some(store) = ctx.store() else { return };
            match store.erase().await {
                Ok(()) => ctx.after_erase().await,
                Err(e) => {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <form class="card danger-zone" on:submit=submit data-testid="erase-form">
            <h2>"Erase vault"</h2>
            <p>
                "This deletes every Holdix record in this browser: the vault, your exchange connections and "
                "snapshots. Your exchange accounts are not affected. It cannot be undone."
            </p>
            <div class="field">
                <label for="erase-confirm">"Type ERASE to confirm"</label>
                <input id="erase-confirm" type="text" autocomplete="off" spellcheck="false" bind:value=typed />
            </div>
            <button type="submit" class="danger" disabled=move || !armed() data-testid="erase">
                {move || if busy.get() { "Erasing…" } else { "Erase vault" }}
            </button>
            <p class="form-error" role="alert">{move || error.get()}</p>
        </form>
    }
}

#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <div class="brand">
            <span class="logo" aria-hidden="true">"◆"</span>
            <span>"Holdix"</span>
        </div>
    }
}
