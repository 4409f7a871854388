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
    if getrandom::getrandom(&mut bytes).is_err() {
        wasm_bindgen::throw_str("the browser's random number generator is unavailable");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the browser thinks it has a network (`navigator.onLine`; `true` does not mean
/// the proxy answers).
pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Asks the browser to keep this site's data (`request`), or reads whether it will;
/// `None` when the browser gives no answer.
pub async fn persistent_storage(request: bool) -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    let promise = if request {
        storage.persist()
    } else {
        storage.persisted()
    };
    wasm_bindgen_futures::JsFuture::from(promise.ok()?)
        .await
        .ok()?
        .as_bool()
}

/// Bytes this site stores on the device (vault and cached app files), as the browser
/// estimates them.
pub async fn storage_usage() -> Option<f64> {
    let storage = web_sys::window()?.navigator().storage();
    let estimate = wasm_bindgen_futures::JsFuture::from(storage.estimate().ok()?)
        .await
        .ok()?;
    js_sys::Reflect::get(&estimate, &"usage".into())
        .ok()?
        .as_f64()
}

/// Offers `bytes` as a file download named `name` (a Blob URL clicked from a detached link,
/// revoked after the click: nothing leaves the browser).
pub fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let fail = |e: wasm_bindgen::JsValue| format!("The browser refused the download: {e:?}");
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let link: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(fail)?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// The bytes of a file the user chose: the first `up_to` bytes, or all of it.
pub async fn read_file(file: &web_sys::File, up_to: Option<usize>) -> Result<Vec<u8>, String> {
    let fail = |e: wasm_bindgen::JsValue| format!("The browser could not read the file: {e:?}");
    let blob: &web_sys::Blob = file;
    let part = match up_to {
        Some(n) => blob.slice_with_f64_and_f64(0.0, n as f64).map_err(fail)?,
        None => blob.clone(),
    };
    let buffer = wasm_bindgen_futures::JsFuture::from(part.array_buffer())
        .await
        .map_err(fail)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
