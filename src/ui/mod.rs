//! The screens. [`App`] owns the app-wide state ([`Ctx`]): which phase the vault is in
//! (no vault / locked / unlocked), the unlocked session, and auto-lock.
//!
//! Work that needs the session runs as a task of the session ([`Ctx::spawn`]): locking
//! cancels every such task, so none keeps the key alive. Tasks take the session from
//! [`Ctx::session`] right before they use it, never across a network wait, so a save after a
//! refresh uses the session as it is then (after a password change here: the new key).
//! Other tabs are heard: a password changed there (a `BroadcastChannel` message) or the vault
//! erased there (IndexedDB `versionchange`) locks this tab; any write that still finds the
//! vault changed is refused by the store and locks too.

use std::time::Duration;

use holdix_core::records::Settings;
use leptos::prelude::*;

use futures::future::{AbortHandle, Abortable};

use crate::browser::now_ms;
use crate::session::{Session, SessionError};
use crate::store::Store;

mod backup;
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
    /// Tasks of the unlocked session, cancelled by [`Ctx::lock`].
    tasks: StoredValue<Vec<AbortHandle>, LocalStorage>,
    /// This tab's end of the channel to the other tabs (a channel does not hear itself).
    tabs: StoredValue<Option<web_sys::BroadcastChannel>, LocalStorage>,
    last_activity: StoredValue<f64>,
}

/// The channel tabs of this origin tell each other about vault changes on.
const CHANNEL: &str = "holdix";
const PASSWORD_CHANGED: &str = "password-changed";

impl Ctx {
    pub(crate) fn new() -> Self {
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
            tasks: StoredValue::new_local(Vec::new()),
            tabs: StoredValue::new_local(web_sys::BroadcastChannel::new(CHANNEL).ok()),
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

    /// Keeps the session a write returned (new settings), unless the vault was locked
    /// meanwhile.
    pub fn update_session(&self, session: Session) {
        if self.session.with_value(Option::is_some) {
            self.set_session(session);
        }
    }

    /// Reads persistent storage (after unlocking) or requests it (after creating the vault).
    pub fn check_storage(&self, request: bool) {
        let persisted = self.persisted;
        leptos::task::spawn_local(async move {
            persisted.set(crate::browser::persistent_storage(request).await);
        });
    }

    /// Runs `work` as a task of the unlocked session: [`Ctx::lock`] cancels it (dropping
    /// whatever it holds) at its next await.
    pub fn spawn(&self, work: impl std::future::Future<Output = ()> + 'static) {
        self.spawn_boxed(Box::pin(work));
    }

    /// One copy of the task plumbing for every kind of task (smaller bundle).
    fn spawn_boxed(&self, work: futures::future::LocalBoxFuture<'static, ()>) {
        let (handle, registration) = AbortHandle::new_pair();
        self.tasks.update_value(|tasks| {
            tasks.retain(|t| !t.is_aborted());
            tasks.push(handle);
        });
        leptos::task::spawn_local(async move {
            let _ = Abortable::new(work, registration).await;
        });
    }

    /// The message for a failed vault operation; a vault changed by another tab locks this
    /// one (its key is retired) and the notice says why.
    pub fn report(&self, error: SessionError) -> String {
        let text = error.to_string();
        if error == SessionError::VaultChanged {
            self.lock(Some(text.clone()));
        }
        text
    }

    /// After a password change here: other tabs lock (their key is retired).
    pub fn tell_other_tabs_password_changed(&self) {
        self.tabs.with_value(|channel| {
            if let Some(channel) = channel {
                let _ = channel.post_message(&PASSWORD_CHANGED.into());
            }
        });
    }

    /// Drops the session (the key is zeroized with its last reference), cancels the
    /// session's tasks and shows Unlock.
    pub fn lock(&self, notice: Option<String>) {
        self.session.set_value(None);
        for task in self
            .tasks
            .try_update_value(std::mem::take)
            .unwrap_or_default()
        {
            task.abort();
        }
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
        let ctx = *self;
        // Another tab erases the vault: the store has closed itself; lock and start over.
        let on_closed = move || {
            ctx.lock(Some(
                "The vault was erased or Holdix was updated in another tab.".into(),
            ));
            ctx.store.set_value(None);
            ctx.phase.set(Phase::Loading);
            leptos::task::spawn_local(async move { ctx.open_store().await });
        };
        let store = match Store::open_watched(crate::store::DB_NAME, on_closed).await {
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

/// See [`crate::bench_mount_history`].
pub fn bench_mount_history() -> usize {
    dashboard::bench_mount()
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
    // A password changed in another tab retires this tab's key: lock.
    if let Some(channel) = ctx.tabs.with_value(Clone::clone) {
        let on_message = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if event.data().as_string().as_deref() == Some(PASSWORD_CHANGED)
                    && ctx.phase.get_untracked() == Phase::Unlocked
                {
                    ctx.lock(Some(
                        "The password was changed in another tab. Unlock with the new password."
                            .into(),
                    ));
                }
            },
        );
        channel.set_onmessage(Some(wasm_bindgen::JsCast::unchecked_ref(
            on_message.as_ref(),
        )));
        // The app lives as long as the page; a channel with a listener is kept alive by the
        // browser.
        on_message.forget();
    }
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
