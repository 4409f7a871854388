//! The dashboard: the summary (total, refresh, status per connection, notes), then
//! accounts per connection, assets, positions and the connection list. One file per part, so
//! the history and chart views can land beside them.

mod accounts;
mod allocation;
mod assets;
mod connections;
mod positions;
mod summary;

pub use summary::Dashboard;

use leptos::prelude::*;

use crate::ui::settings::change_settings;
use crate::ui::Ctx;

/// What privacy mode shows instead of an amount or a value: one fixed width whatever the
/// number (a blur would keep its length). Percentages, prices and shapes stay.
const MASK: &str = "••••••";

/// Privacy mode is on (reactive).
fn private(ctx: Ctx) -> bool {
    ctx.settings.with(|s| s.privacy)
}

/// `text`, or the mask in privacy mode (reactive).
fn shown(ctx: Ctx, text: String) -> String {
    if private(ctx) {
        MASK.into()
    } else {
        text
    }
}

/// Turns privacy mode on or off (kept in the encrypted settings).
fn toggle_privacy(ctx: Ctx) {
    change_settings(
        ctx,
        Box::new(|s| s.privacy = !s.privacy),
        ctx.portfolio.problem,
    );
}
