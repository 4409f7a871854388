//! Key derivation off the page's thread.
//!
//! Argon2id with the vault's parameters (64 MiB, about a quarter of a second) would stop the
//! page from painting or reacting while it runs. So every derivation — create, unlock, change
//! of password, opening a backup — runs in a dedicated Web Worker (`pwa/kdf-worker.js`) that
//! instantiates this same wasm module (start.js hands it the module it compiled, so nothing is
//! fetched or compiled twice) and calls [`crate::kdf_derive`]. The page meanwhile shows
//! "Unlocking…" with a spinner and answers input.
//!
//! What crosses the thread boundary: the password's UTF-8 bytes go to the worker in a
//! transferred buffer (gone from the page's side once sent, zeroed by the worker after use)
//! with the public header (salt and parameters); the 32 key bytes come back the same way and
//! the page zeroes the buffer once they are copied into a [`VaultKey`]. A worker serves one
//! derivation and is then terminated, so its 64 MiB of Argon2 memory and its copies of the
//! password and key are gone with it.
//!
//! Why the key comes back instead of the whole vault cipher moving into the worker: the vault
//! is AES-256-GCM in Rust (not WebCrypto), so there is no non-extractable key object to hand
//! over, and the page must see every record's plaintext to show it anyway — the key in the
//! page's memory is where it was before this worker existed, and sealing and opening records
//! (microseconds each) stay synchronous. A worker that also held the key would add a message
//! round trip to every record read and write for no gain in what a script on the page could
//! reach.
//!
//! Where no worker can run (the wasm-bindgen test runner has no start.js; a browser that
//! refuses module workers), the derivation runs in place, as it did before, and says so on the
//! console.

use std::cell::RefCell;

use holdix_core::vault::{derive_key, VaultError, VaultHeader, VaultKey};
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Worker, WorkerOptions, WorkerType};

/// A started worker and the promise of its first message (ready, or why not).
struct Helper {
    worker: Worker,
    ready: Promise,
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

thread_local! {
    /// A worker started ahead of need (see [`warm_up`]), so unlocking does not wait for it.
    static SPARE: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// Starts a worker for the next derivation if none is waiting (the unlock and create screens
/// call this when they appear).
pub fn warm_up() {
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.is_none() {
            *spare = spawn();
        }
    });
}

/// Derives the vault key for `password` and `header`, in a worker when one can run.
pub async fn derive(password: &str, header: &VaultHeader) -> Result<VaultKey, VaultError> {
    header.kdf.check()?;
    let helper = SPARE.with(|spare| spare.borrow_mut().take()).or_else(spawn);
    if let Some(helper) = helper {
        match in_worker(helper, password, header).await {
            Ok(key) => return Ok(key),
            Err(why) => web_sys::console::warn_1(
                &format!("Holdix derives the key on the page: the worker failed ({why})").into(),
            ),
        }
    }
    crate::browser::next_paint().await;
    derive_key(password.as_bytes(), header)
}

/// One derivation in `helper`, which is terminated afterwards (dropped).
async fn in_worker(
    helper: Helper,
    password: &str,
    header: &VaultHeader,
) -> Result<VaultKey, String> {
    reply(helper.ready.clone(), "ready").await?;
    let answer = next_message(&helper.worker);
    let secret = Uint8Array::from(password.as_bytes());
    let job = Object::new();
    set(&job, "password", &secret);
    set(&job, "header", &Uint8Array::from(&header.to_bytes()[..]));
    helper
        .worker
        .post_message_with_transfer(&job, &Array::of1(&secret.buffer()))
        .map_err(|_| "the password could not be handed to it".to_string())?;
    let key = reply(answer, "key").await?;
    let key: Uint8Array = key.dyn_into().map_err(|_| "it answered no key")?;
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    let copied = key.length() as usize == bytes.len();
    if copied {
        key.copy_to(&mut bytes[..]);
    }
    key.fill(0, 0, key.length());
    if !copied {
        return Err("it answered a key of the wrong length".into());
    }
    Ok(VaultKey::from_bytes(*bytes))
}

/// The worker's next message event (resolved) or error event (rejected).
fn next_message(worker: &Worker) -> Promise {
    Promise::new(&mut |resolve, reject| {
        worker.set_onmessage(Some(&resolve));
        worker.set_onerror(Some(&reject));
    })
}

/// The `field` of the message `event` resolves to, or why the worker failed.
async fn reply(event: Promise, field: &str) -> Result<JsValue, String> {
    let get = |v: &JsValue, name: &str| Reflect::get(v, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let data = match JsFuture::from(event).await {
        Ok(event) => get(&event, "data"),
        Err(error) => {
            return Err(get(&error, "message")
                .as_string()
                .unwrap_or_else(|| "it stopped".into()))
        }
    };
    if let Some(error) = get(&data, "error").as_string() {
        return Err(error);
    }
    Some(get(&data, field))
        .filter(|v| !v.is_undefined())
        .ok_or_else(|| format!("it answered without \"{field}\""))
}

fn set(object: &Object, field: &str, value: &JsValue) {
    let _ = Reflect::set(object, &field.into(), value);
}

/// A new worker given the app's module, or `None` where none can run.
fn spawn() -> Option<Helper> {
    let window = web_sys::window()?;
    // Set by start.js; absent under the wasm-bindgen test runner.
    let module = Reflect::get(&window, &"holdixModule".into())
        .ok()
        .filter(|m| m.is_instance_of::<js_sys::WebAssembly::Module>())?;
    let document = window.document()?;
    let script = document.query_selector("script[data-app-js]").ok()??;
    let js = script.get_attribute("data-app-js")?;
    // Absolute, so the worker's import does not depend on where the worker script lives.
    let js = web_sys::Url::new_with_base(&js, &document.base_uri().ok()??)
        .ok()?
        .href();
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = Worker::new_with_options("kdf-worker.js", &options).ok()?;
    let ready = next_message(&worker);
    let init = Object::new();
    set(&init, "js", &js.into());
    set(&init, "module", &module);
    worker.post_message(&init).ok()?;
    Some(Helper { worker, ready })
}
