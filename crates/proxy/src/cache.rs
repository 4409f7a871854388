//! One answer for identical public requests in the same second.
//!
//! Server time and tickers are the same for every user; without this, each visitor's refresh
//! (or a page that embeds the route in an `<img>`) spends the proxy address's per-IP quota.
//! Only public routes (see [`crate::exchanges::Route::public`]) come here, never a signed
//! request. Concurrent identical requests wait for the first one's answer instead of going
//! upstream themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::Upstream;

/// How long a public answer is shared.
pub const TTL: Duration = Duration::from_secs(1);
/// Most distinct public requests remembered (queries are the client's choice).
const MAX_ENTRIES: usize = 512;

type Slot = Arc<OnceCell<Upstream>>;

#[derive(Default)]
pub struct PublicCache {
    entries: Mutex<HashMap<String, (Instant, Slot)>>,
}

impl PublicCache {
    /// The answer for `key`: a shared one younger than [`TTL`], or `fetch`'s (which the other
    /// requests for the same key then share).
    pub async fn get_or_fetch(
        &self,
        key: String,
        fetch: impl std::future::Future<Output = Upstream>,
    ) -> Upstream {
        let slot = {
            let now = Instant::now();
            let mut entries = self.entries.lock().expect("cache lock");
            match entries.get(&key) {
                Some((born, slot)) if now.duration_since(*born) < TTL => Some(slot.clone()),
                _ => {
                    if entries.len() >= MAX_ENTRIES {
                        entries.retain(|_, (born, _)| now.duration_since(*born) < TTL);
                    }
                    (entries.len() < MAX_ENTRIES).then(|| {
                        let slot = Slot::default();
                        entries.insert(key, (now, slot.clone()));
                        slot
                    })
                }
            }
        };
        match slot {
            Some(slot) => slot.get_or_init(|| fetch).await.clone(),
            // Too many distinct queries at once: no sharing, but no unbounded memory either.
            None => fetch.await,
        }
    }
}
