//! The dashboard: the summary (total, refresh, status per connection, notes), then
//! accounts per connection, assets, positions and the connection list. One file per part, so
//! the history and chart views can land beside them.

mod accounts;
mod allocation;
mod assets;
mod connections;
mod export;
mod history;
mod positions;
mod summary;

pub use history::bench_mount;
pub use summary::Dashboard;

use holdix_core::currency::{self, format_money, Rate};
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

/// The display currency's rate (`None`: USD, or no exchange quotes it). Reactive.
fn rate(ctx: Ctx) -> Option<Rate> {
    let code = ctx.settings.with(|s| s.currency.clone());
    if code == "USD" {
        return None;
    }
    ctx.portfolio
        .snapshot
        .with(|s| s.as_ref().and_then(|s| currency::rate(&s.prices, &code)))
}

/// A USD value as shown: in the display currency, masked in privacy mode. Reactive.
fn money(ctx: Ctx, usd: rust_decimal::Decimal) -> String {
    shown(ctx, format_money(usd, rate(ctx).as_ref()))
}

/// A change in money and percent as text with its sign and an arrow (never colour alone),
/// and its class (`change up`, `change down`): `▲ +$1,000.25 (+1.84%)`. Masked in privacy
/// mode but for the percentage.
fn signed_change(
    ctx: Ctx,
    usd: rust_decimal::Decimal,
    percent: Option<rust_decimal::Decimal>,
) -> (&'static str, String) {
    use rust_decimal::Decimal;
    let plus = |d: Decimal| if d > Decimal::ZERO { "+" } else { "" };
    let money = format!("{}{}", plus(usd), format_money(usd, rate(ctx).as_ref()));
    let percent = percent
        .map(|p| format!(" ({}{p}%)", plus(p)))
        .unwrap_or_default();
    let (class, arrow) = match usd.cmp(&Decimal::ZERO) {
        std::cmp::Ordering::Less => ("change down", "▼"),
        std::cmp::Ordering::Equal => ("change", "■"),
        std::cmp::Ordering::Greater => ("change up", "▲"),
    };
    (class, format!("{arrow} {}{percent}", shown(ctx, money)))
}

/// A time as the person reads it, in their time zone: `28/11/2026, 14:05:00`.
pub(crate) fn time_text(ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Turns privacy mode on or off (kept in the encrypted settings).
fn toggle_privacy(ctx: Ctx) {
    change_settings(
        ctx,
        Box::new(|s| s.privacy = !s.privacy),
        ctx.portfolio.problem,
        None,
    );
}
