//! Small helpers over the browser that several screens need.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// High-resolution milliseconds since page load.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Resolves after the browser had a chance to paint what is on screen now: after the next
/// animation frame plus a task, or after 100 ms when frames are throttled (hidden tab).
/// Used before CPU-heavy work such as key derivation so "Unlocking…" is visible first.
pub async fn next_paint() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let Some(window) = web_sys::window() else {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            return;
        };
        let after_frame = resolve.clone();
        let on_frame = Closure::once_into_js(move || {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    after_frame.unchecked_ref(),
                    0,
                );
            }
        });
        let _ = window.request_animation_frame(on_frame.unchecked_ref());
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), 100);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Resolves after `ms` milliseconds.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(w) = web_sys::window() {
            let _ = w
                .set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Wall-clock Unix milliseconds (the device's clock, uncorrected).
pub fn unix_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// The page's own origin, e.g. `http://127.0.0.1:8080`.
pub fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// A random id (16 hex characters) for new records.
pub fn random_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("the browser's random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
