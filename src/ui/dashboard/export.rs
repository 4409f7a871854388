//! CSV export of what the dashboard shows: holdings, positions, history (see
//! `holdix_core::export`), downloaded straight from the browser.

use holdix_core::export;
use leptos::prelude::*;

use crate::browser::{download, unix_ms};

#[derive(Clone, Copy)]
enum What {
    Holdings,
    Positions,
    History,
}

#[component]
pub fn Export() -> impl IntoView {
    let ctx = crate::ui::use_ctx();
    let p = ctx.portfolio;
    let status = RwSignal::new(None::<String>);
    let save = move |what: What| {
        let labels: Vec<(String, String)> = p
            .connections
            .with_untracked(|c| c.iter().map(|c| (c.id.clone(), c.label.clone())).collect());
        let snapshot = p.snapshot.get_untracked().unwrap_or_default();
        let (name, bytes) = match what {
            What::Holdings => {
                let code = ctx.settings.with_untracked(|s| s.currency.clone());
                let rate = holdix_core::currency::rate(&snapshot.prices, &code);
                (
                    "holdings",
                    export::holdings(&snapshot, &labels, rate.as_ref()),
                )
            }
            What::Positions => ("positions", export::positions(&snapshot, &labels)),
            What::History => (
                "history",
                p.history.with_untracked(|h| export::history(h, &labels)),
            ),
        };
        let file = export::file_name(name, unix_ms().max(0) as u64);
        status.set(download(&file, "text/csv", &bytes).err());
    };
    let button = move |label: &'static str, testid: &'static str, what: What| {
        view! {
            <button type="button" class="secondary" data-testid=testid on:click=move |_| save(what)>{label}</button>
        }
    };
    view! {
        <section class="card">
            <h2>"Export"</h2>
            <p class="muted">"CSV files (USD, exact decimals, times in UTC) made in this browser: nothing is uploaded."</p>
            <div class="ranges">
                {button("Holdings", "export-holdings", What::Holdings)}
                {button("Positions", "export-positions", What::Positions)}
                {button("History", "export-history", What::History)}
            </div>
            <p class="form-error" role="alert">{move || status.get()}</p>
        </section>
    }
}
