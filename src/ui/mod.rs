//! The screens. [`App`] owns the app-wide state ([`Ctx`]): which phase the vault is in
//! (no vault / locked / unlocked), the unlocked session, and auto-lock.

use std::time::Duration;

use holdix_core::records::Settings;
use leptos::prelude::*;

use crate::browser::now_ms;
use crate::session::Session;
use crate::store::Store;

mod connect;
mod dashboard;
mod home;
pub mod portfolio;
mod settings;
mod vault;

use portfolio::PortfolioState;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    Loading,
    /// No vault in this browser: "Create vault".
    Create,
    /// A vault exists and is locked: "Unlock". Nothing else is shown.
    Locked,
    Unlocked,
    /// IndexedDB cannot be opened.
    Unavailable,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Page {
    Dashboard,
    Settings,
}

/// App-wide state, provided as context.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub phase: RwSignal<Phase>,
    pub page: RwSignal<Page>,
    /// A one-line notice on the unlock screen (e.g. why the app locked).
    pub notice: RwSignal<Option<String>>,
    /// Why storage is unavailable, for [`Phase::Unavailable`].
    pub fatal: RwSignal<Option<String>>,
    /// The unlocked session's settings (a copy the screens can watch).
    pub settings: RwSignal<Settings>,
    pub portfolio: PortfolioState,
    /// The Connect Exchange dialog is open.
    pub connecting: RwSignal<bool>,
    /// Whether the browser keeps this site's data for good (`None`: it does not say).
    pub persisted: RwSignal<Option<bool>>,
    store: StoredValue<Option<Store>, LocalStorage>,
    session: StoredValue<Option<Session>, LocalStorage>,
    last_activity: StoredValue<f64>,
}

impl Ctx {
    fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Loading),
            page: RwSignal::new(Page::Dashboard),
            notice: RwSignal::new(None),
            fatal: RwSignal::new(None),
            settings: RwSignal::new(Settings::default()),
            portfolio: PortfolioState::new(),
            connecting: RwSignal::new(false),
            persisted: RwSignal::new(None),
            store: StoredValue::new_local(None),
            session: StoredValue::new_local(None),
            last_activity: StoredValue::new(now_ms()),
        }
    }

    pub fn store(&self) -> Option<Store> {
        self.store.with_value(Clone::clone)
    }

    pub fn session(&self) -> Option<Session> {
        self.session.with_value(Clone::clone)
    }

    /// Enters the unlocked state with `session`.
    /// Signals are only written when their value changes, so screens are not rebuilt when
    /// an unlocked session is replaced (e.g. after a password change).
    pub fn set_session(&self, session: Session) {
        if self.settings.with_untracked(|s| *s != session.settings) {
            self.settings.set(session.settings.clone());
        }
        self.session.set_value(Some(session));
        self.last_activity.set_value(now_ms());
        if self.phase.get_untracked() != Phase::Unlocked {
            self.notice.set(None);
            self.phase.set(Phase::Unlocked);
            portfolio::load_after_unlock(*self);
        }
    }

    /// Reads persistent storage (after unlocking) or requests it (after creating the vault).
    pub fn check_storage(&self, request: bool) {
        let persisted = self.persisted;
        leptos::task::spawn_local(async move {
            persisted.set(crate::browser::persistent_storage(request).await);
        });
    }

    /// Drops the session (the key is zeroized with its last reference) and shows Unlock.
    pub fn lock(&self, notice: Option<String>) {
        self.session.set_value(None);
        self.portfolio.clear();
        self.connecting.set(false);
        self.settings.set(Settings::default());
        self.page.set(Page::Dashboard);
        self.notice.set(notice);
        if self.phase.get_untracked() == Phase::Unlocked {
            self.phase.set(Phase::Locked);
        }
    }

    /// After "Erase vault": a fresh, empty database and the Create screen.
    pub async fn after_erase(&self) {
        self.lock(None);
        self.store.set_value(None);
        self.phase.set(Phase::Loading);
        self.open_store().await;
    }

    async fn open_store(&self) {
        let store = match Store::open().await {
            Ok(store) => store,
            Err(e) => {
                self.fatal.set(Some(e.to_string()));
                self.phase.set(Phase::Unavailable);
                return;
            }
        };
        let exists = store.meta().await;
        self.store.set_value(Some(store));
        match exists {
            Ok(Some(_)) => self.phase.set(Phase::Locked),
            Ok(None) => self.phase.set(Phase::Create),
            Err(e) => {
                self.fatal.set(Some(e.to_string()));
                self.phase.set(Phase::Unavailable);
            }
        }
    }
}

pub fn use_ctx() -> Ctx {
    expect_context::<Ctx>()
}

/// Lock after this much idle time.
pub fn idle_limit_ms(settings: &Settings) -> f64 {
    f64::from(settings.auto_lock_minutes) * 60_000.0
}

#[component]
pub fn App() -> impl IntoView {
    let ctx = Ctx::new();
    provide_context(ctx);
    leptos::task::spawn_local(async move { ctx.open_store().await });

    // Auto-lock: any input counts as activity; a timer compares idle time with the setting.
    for name in [
        "pointerdown",
        "pointermove",
        "keydown",
        "wheel",
        "touchstart",
    ] {
        let handle = window_event_listener_untyped(name, move |_| {
            ctx.last_activity.set_value(now_ms());
        });
        on_cleanup(move || handle.remove());
    }
    // The network went away: say so at once (it comes back through the proxy's health check).
    let handle = window_event_listener_untyped("offline", move |_| {
        if ctx.phase.get_untracked() == Phase::Unlocked {
            portfolio::went_offline(ctx);
        }
    });
    on_cleanup(move || handle.remove());
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if ctx.phase.get_untracked() != Phase::Unlocked {
                return;
            }
            let limit = ctx.settings.with_untracked(idle_limit_ms);
            if now_ms() - ctx.last_activity.get_value() >= limit {
                let minutes = ctx.settings.with_untracked(|s| s.auto_lock_minutes);
                ctx.lock(Some(format!(
                    "Locked after {minutes} minute{} without activity.",
                    if minutes == 1 { "" } else { "s" }
                )));
            }
        },
        Duration::from_secs(2),
    ) {
        on_cleanup(move || handle.clear());
    }

    view! {
        {move || match ctx.phase.get() {
            Phase::Loading => {
                view! { <main class="center" data-testid="loading"><p class="muted">"Loading…"</p></main> }
                    .into_any()
            }
            Phase::Create => view! { <vault::CreateVault /> }.into_any(),
            Phase::Locked => view! { <vault::Unlock /> }.into_any(),
            Phase::Unlocked => view! { <home::Home /> }.into_any(),
            Phase::Unavailable => {
                view! {
                    <main class="center">
                        <section class="card" role="alert" data-testid="storage-unavailable">
                            <h1>"Storage unavailable"</h1>
                            <p>{move || ctx.fatal.get()}</p>
                        </section>
                    </main>
                }
                    .into_any()
            }
        }}
    }
}
