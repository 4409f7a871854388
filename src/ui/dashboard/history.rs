//! Value history: the total (or one asset, chosen in the assets table) over a range, as an
//! SVG line drawn by `holdix_core::chart`, the change over the range in money and percent,
//! and a readout of the point under the pointer or keyboard focus.

use holdix_core::chart::{self, HEIGHT, WIDTH};
use holdix_core::currency::format_money;
use holdix_core::history::{change, Range};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::{money, private, rate, signed_change, time_text};
use crate::browser::unix_ms;

#[component]
pub fn History(asset: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = crate::ui::use_ctx();
    let p = ctx.portfolio;
    let range = RwSignal::new(Range::Day);
    // The readout's point (an index into the series); `None` is the latest.
    let focus = RwSignal::new(None::<usize>);
    let series = Memo::new(move |_| {
        let now = unix_ms().max(0) as u64;
        p.history
            .with(|h| chart::series(range.get().points(h, now), asset.get().as_deref()))
    });
    let line = Memo::new(move |_| series.with(|s| chart::line(s)));
    let count = move || series.with(Vec::len);
    let at = move || focus.get().unwrap_or(count().saturating_sub(1));
    let move_focus = move |to: Option<usize>| {
        if let Some(i) = to.filter(|&i| i < count()) {
            focus.set(Some(i));
        }
    };
    let on_pointer = move |ev: leptos::ev::PointerEvent| {
        let Some(svg) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let rect = svg.get_bounding_client_rect();
        if rect.width() > 0.0 {
            let x = (f64::from(ev.client_x()) - rect.left()) / rect.width();
            let tenths = (x.clamp(0.0, 1.0) * f64::from(WIDTH * 10)) as u32;
            move_focus(line.with(|l| chart::nearest(&l.xs, tenths)));
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let i = at();
        let to = match ev.key().as_str() {
            "ArrowLeft" => i.checked_sub(1),
            "ArrowRight" => Some(i + 1),
            "Home" => Some(0),
            "End" => count().checked_sub(1),
            _ => return,
        };
        ev.prevent_default();
        move_focus(to);
    };
    let title = move || match asset.get() {
        Some(a) => format!("{a} value over time"),
        None => "Value over time".to_string(),
    };
    let changed = move || match series.with(|s| change(s)) {
        None => (
            "change",
            "Not enough history for this range yet: each refresh adds a point.".to_string(),
        ),
        Some((diff, percent)) => {
            let (class, text) = signed_change(ctx, diff, percent);
            (class, format!("{text} over {}", range.get().label()))
        }
    };
    let readout = move || {
        series.with(|s| {
            s.get(at())
                .map(|(ms, v)| format!("{} at {}", money(ctx, *v), time_text(*ms)))
        })
    };
    let marker = move || line.with(|l| l.xs.get(at()).map(|x| chart::tenths(*x)));
    view! {
        <section class="card history" data-testid="history">
            <div class="section-head">
                <h2>{title}</h2>
                <div class="ranges" role="group" aria-label="Range">
                    {Range::ALL.into_iter().map(|r| view! {
                        <button type="button" class="secondary" data-testid=format!("range-{}", r.label())
                            aria-pressed=move || (range.get() == r).to_string()
                            on:click=move |_| { range.set(r); focus.set(None); }>{r.label()}</button>
                    }).collect_view()}
                    {move || asset.get().map(|_| view! {
                        <button type="button" class="secondary" data-testid="history-total" on:click=move |_| { asset.set(None); focus.set(None); }>"Total"</button>
                    })}
                </div>
            </div>
            {move || {
                let (class, text) = changed();
                view! { <p class=class data-testid="history-change">{text}</p> }
            }}
            <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" tabindex="0"
                role="img" data-testid="chart" data-points=move || count().to_string()
                aria-label=move || format!("{}, {} points; arrow keys move the readout", title(), count())
                on:pointermove=on_pointer on:keydown=on_key>
                <path class="line" d=move || line.with(|l| l.path.clone()) />
                {move || marker().map(|x| view! { <line class="marker" x1=x.clone() x2=x y1="0" y2=HEIGHT.to_string() /> })}
            </svg>
            <p class="axis muted" hidden=move || private(ctx) || count() == 0>
                {move || line.with(|l| format!("Low {} · high {}", format_money(l.low, rate(ctx).as_ref()), format_money(l.high, rate(ctx).as_ref())))}
            </p>
            <p class="readout" data-testid="readout" aria-live="polite">{readout}</p>
        </section>
    }
}

/// Benchmark hook (`cargo xtask bench`, through `holdix::bench_mount_history`): a value-history
/// card of its own — a fresh app state, nothing of the open app read or written — holding
/// five years of history as compaction leaves a refresh every 5 minutes (daily, then hourly
/// for 90 days, then every point for 48 hours), at the end of the page. Returns its points.
pub fn bench_mount() -> usize {
    let points = holdix_core::history::sample(unix_ms().max(0) as u64, 5, 0);
    let count = points.len();
    let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    else {
        return 0;
    };
    leptos::mount::mount_to(body, move || {
        let ctx = crate::ui::Ctx::new();
        ctx.portfolio.history.set(points);
        provide_context(ctx);
        view! { <div data-testid="bench-history"><History asset=RwSignal::new(None) /></div> }
    })
    .forget();
    count
}
