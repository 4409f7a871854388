//! The unlocked shell: top bar (navigation, Lock) and the current page.

use leptos::prelude::*;

use super::dashboard::Dashboard;
use super::settings::SettingsPage;
use super::vault::Brand;
use super::{use_ctx, Page};

#[component]
pub fn Home() -> impl IntoView {
    let ctx = use_ctx();
    let nav = move |page: Page, label: &'static str| {
        view! {
            <button
                type="button"
                class="nav"
                aria-current=move || (ctx.page.get() == page).then_some("page")
                on:click=move |_| ctx.page.set(page)
            >
                {label}
            </button>
        }
    };
    view! {
        <header class="topbar">
            <Brand />
            <nav aria-label="Main">{nav(Page::Dashboard, "Dashboard")} {nav(Page::Settings, "Settings")}</nav>
            <button type="button" class="secondary" data-testid="lock" on:click=move |_| ctx.lock(None)>
                "Lock"
            </button>
        </header>
        <main class="page">
            {move || match ctx.page.get() {
                Page::Dashboard => view! { <Dashboard /> }.into_any(),
                Page::Settings => view! { <SettingsPage /> }.into_any(),
            }}
        </main>
    }
}
