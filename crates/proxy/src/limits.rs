//! Who may spend how much of the proxy:
//!
//! * [`Clients`]: a token bucket per client. IPv6 clients are keyed by their /64 (one
//!   subscriber usually holds a whole /64, so per-address buckets would be free to multiply).
//!   The map is bounded: past [`MAX_CLIENTS`] it is swept at most once a second, and clients
//!   that still find no room share one overflow bucket, so memory stays bounded and no
//!   request scans the map under the lock.
//! * [`Hosts`]: the whole proxy's budget per exchange host (below that exchange's per-IP
//!   limit, see [`crate::exchanges`]) and the pause an exchange asked for with 429/418 and
//!   `Retry-After`, during which the proxy answers 429 itself instead of getting banned.
//! * [`client_ip`]: the client's address, taken from `X-Forwarded-For`/`Forwarded` only when
//!   the connection comes from a trusted proxy (`--trusted-proxy CIDR`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use holdix_gate::Budget;

/// Most clients tracked one by one.
pub const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    seen: Instant,
}

impl Bucket {
    fn full(budget: Budget, now: Instant) -> Self {
        Self {
            tokens: budget.burst,
            seen: now,
        }
    }

    /// Takes `cost` tokens, or says in how many whole seconds they will be there.
    fn take(&mut self, budget: Budget, cost: f64, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.seen).as_secs_f64();
        self.tokens = (self.tokens + elapsed * budget.per_second).min(budget.burst);
        // Never back: times read on other threads can arrive out of order, and a later
        // refill must not count the same moment twice.
        self.seen = self.seen.max(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            Err(((cost - self.tokens) / budget.per_second).ceil().max(1.0) as u64)
        }
    }

    /// Refilled completely by now: forgetting it changes nothing.
    fn idle(&self, budget: Budget, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.seen).as_secs_f64();
        self.tokens + elapsed * budget.per_second >= budget.burst
    }
}

/// The key a client is counted under: IPv4 as is, IPv6 by its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Per-client token buckets in a bounded map.
pub struct Clients {
    budget: Option<Budget>,
    capacity: usize,
    state: Mutex<ClientMap>,
}

struct ClientMap {
    buckets: HashMap<IpAddr, Bucket>,
    overflow: Option<Bucket>,
    next_sweep: Instant,
}

impl Clients {
    pub fn new(budget: Option<Budget>) -> Self {
        Self::with_capacity(budget, MAX_CLIENTS)
    }

    pub fn with_capacity(budget: Option<Budget>, capacity: usize) -> Self {
        Self {
            budget,
            capacity,
            state: Mutex::new(ClientMap {
                buckets: HashMap::new(),
                overflow: None,
                next_sweep: Instant::now(),
            }),
        }
    }

    /// Takes a token for `ip`; on refusal, the seconds until one is available.
    pub fn take(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        let now = Instant::now();
        let key = client_key(ip);
        let mut map = self.state.lock().expect("client limiter lock");
        if let Some(bucket) = map.buckets.get_mut(&key) {
            return bucket.take(budget, 1.0, now);
        }
        if map.buckets.len() >= self.capacity && now >= map.next_sweep {
            map.buckets.retain(|_, b| !b.idle(budget, now));
            map.next_sweep = now + Duration::from_secs(1);
        }
        if map.buckets.len() < self.capacity {
            let bucket = map
                .buckets
                .entry(key)
                .or_insert_with(|| Bucket::full(budget, now));
            return bucket.take(budget, 1.0, now);
        }
        map.overflow
            .get_or_insert_with(|| Bucket::full(budget, now))
            .take(budget, 1.0, now)
    }

    /// Clients tracked one by one now.
    pub fn tracked(&self) -> usize {
        self.state
            .lock()
            .expect("client limiter lock")
            .buckets
            .len()
    }
}

/// Per exchange host: the proxy-wide budget and a pause the exchange asked for.
pub struct Hosts {
    state: Mutex<HashMap<&'static str, HostState>>,
    /// When the last pause of any host ends, in milliseconds from `epoch` (rounded up): a
    /// route that costs nothing passes without the lock, which every event loop would
    /// otherwise take on every request, while no host is paused.
    pauses_end: AtomicU64,
    epoch: Instant,
}

impl Default for Hosts {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            pauses_end: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

struct HostState {
    bucket: Bucket,
    paused_until: Option<Instant>,
}

/// Why a request to an exchange host is answered locally with 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The proxy's own budget for the host is spent for now.
    Budget { retry_after: u64 },
    /// The exchange asked the proxy to wait (429 or 418 with `Retry-After`).
    Paused { retry_after: u64 },
}

impl Hosts {
    /// Spends `cost` of `host`'s budget, unless the host is paused or the budget is spent.
    pub fn admit(
        &self,
        host: &'static str,
        budget: Budget,
        cost: u32,
        now: Instant,
    ) -> Result<(), Held> {
        if cost == 0 {
            let end = self.pauses_end.load(Ordering::Acquire);
            if end == 0 || self.millis(now) >= end {
                return Ok(());
            }
        }
        let mut map = self.state.lock().expect("host limiter lock");
        let state = map.entry(host).or_insert_with(|| HostState {
            bucket: Bucket::full(budget, now),
            paused_until: None,
        });
        if let Some(until) = state.paused_until {
            if until > now {
                let left = until.duration_since(now).as_secs_f64().ceil().max(1.0);
                return Err(Held::Paused {
                    retry_after: left as u64,
                });
            }
            state.paused_until = None;
        }
        if cost == 0 {
            return Ok(());
        }
        state
            .bucket
            .take(budget, f64::from(cost), now)
            .map_err(|retry_after| Held::Budget { retry_after })
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Records an exchange's answer: 429 or 418 with `Retry-After` (seconds), or 418 alone
    /// (an IP ban; Binance's last at least two minutes), pauses the host.
    pub fn observe(&self, host: &'static str, budget: Budget, status: u16, headers: &HeaderMap) {
        if status != 429 && status != 418 {
            return;
        }
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let seconds = match (status, retry_after) {
            (_, Some(s)) => s,
            (418, None) => 120,
            // A 429 without Retry-After is the exchange's per-account limit (OKX 50011):
            // one user's problem, not the proxy's.
            _ => return,
        };
        let until = Instant::now() + Duration::from_secs(seconds.min(3 * 24 * 3600));
        let mut map = self.state.lock().expect("host limiter lock");
        self.pauses_end
            .fetch_max(self.millis(until) + 1, Ordering::AcqRel);
        let state = map.entry(host).or_insert_with(|| HostState {
            bucket: Bucket::full(budget, Instant::now()),
            paused_until: None,
        });
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }
}

/// An address block such as `10.0.0.0/8` or `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { net, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The client's address. Forwarding headers are believed only when `peer` is a trusted
/// proxy; then the address is the right-most one in the chain that is not itself trusted
/// (the left-most entries are whatever the client chose to send). `Forwarded` wins over
/// `X-Forwarded-For` when both are present.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let forwarded: Vec<Option<IpAddr>> = values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(v.trim()))
            })
        })
        .collect();
    let chain = if forwarded.is_empty() {
        values("x-forwarded-for")
            .iter()
            .map(|v| parse_node(v))
            .collect()
    } else {
        forwarded
    };
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip,
            // An unreadable hop (`unknown`, an obfuscated name): the last trusted one is
            // the best we know.
            None => return client,
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:443"`, `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let t = text.trim_matches('"');
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    if let Some(rest) = t.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = t.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok()
}

/// Upstream requests in flight, at most `max`. Taking and giving back a slot is one atomic
/// operation while slots are free: tokio's semaphore locks a mutex, shared by every event
/// loop, on each release. Only when every slot is taken does a request wait.
pub struct Slots {
    used: AtomicUsize,
    max: usize,
    /// Requests waiting for a slot: a slot given back wakes one only when there is one
    /// (waking nobody would still write to the notifier, shared by every event loop).
    waiting: AtomicUsize,
    freed: tokio::sync::Notify,
}

/// A slot held; given back when dropped.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(max: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            max,
            waiting: AtomicUsize::new(0),
            freed: tokio::sync::Notify::new(),
        }
    }

    fn try_take(&self) -> Option<Slot<'_>> {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                (u < self.max).then_some(u + 1)
            })
            .ok()
            .map(|_| Slot(self))
    }

    /// A slot, waiting at most `patience` for one to be given back.
    pub async fn take(&self, patience: Duration) -> Option<Slot<'_>> {
        if let Some(slot) = self.try_take() {
            return Some(slot);
        }
        let until = tokio::time::Instant::now() + patience;
        // Counted before the last try, so that a slot given back after it sees the count.
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(self);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(slot) = self.try_take() {
                return Some(slot);
            }
            tokio::time::timeout_at(until, freed).await.ok()?;
        }
    }
}

/// A request counted in [`Slots::waiting`]; uncounted when it stops waiting, however.
struct Waiting<'a>(&'a Slots);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::SeqCst);
        if self.0.waiting.load(Ordering::SeqCst) > 0 {
            self.0.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SLOW: Budget = Budget {
        per_second: 1.0,
        burst: 2.0,
    };

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let limiter = Clients::new(Some(SLOW));
        assert!(limiter.take(a).is_ok());
        assert!(limiter.take(b).is_ok());
        assert_eq!(limiter.take(a), Err(1), "a and b spent one bucket");
        assert!(limiter.take(c).is_ok(), "another /64 has its own");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_client_map_is_bounded_and_newcomers_share_an_overflow_bucket() {
        let limiter = Clients::with_capacity(Some(SLOW), 100);
        for i in 0..100u32 {
            assert!(limiter.take(IpAddr::from(i.to_be_bytes())).is_ok());
        }
        assert_eq!(limiter.tracked(), 100);
        // Nobody is idle yet (each spent a token just now): the map stays full and every
        // newcomer draws from one shared bucket of burst 2.
        let newcomer = |i: u32| IpAddr::from((1000 + i).to_be_bytes());
        assert!(limiter.take(newcomer(0)).is_ok());
        assert!(limiter.take(newcomer(1)).is_ok());
        assert!(limiter.take(newcomer(2)).is_err());
        assert_eq!(limiter.tracked(), 100);
    }

    #[test]
    fn idle_clients_are_swept_when_the_map_is_full() {
        let fast = Budget {
            per_second: 1000.0,
            burst: 1.0,
        };
        let limiter = Clients::with_capacity(Some(fast), 10);
        for i in 0..10u32 {
            limiter.take(IpAddr::from(i.to_be_bytes())).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5)); // everyone refills (1 ms at 1000/s)
        limiter.take(IpAddr::from(99u32.to_be_bytes())).unwrap();
        assert_eq!(limiter.tracked(), 1, "the idle ten were forgotten");
    }

    #[test]
    fn a_bucket_refills_each_moment_once_whatever_the_order_times_arrive_in() {
        let t0 = Instant::now();
        let mut bucket = Bucket::full(SLOW, t0);
        let later = t0 + Duration::from_secs(1);
        assert!(bucket.take(SLOW, 1.0, later).is_ok());
        // A time read earlier (another thread's, or a request that waited) comes after.
        assert!(bucket.take(SLOW, 1.0, t0).is_ok());
        assert_eq!(
            bucket.take(SLOW, 1.0, later),
            Err(1),
            "the second between t0 and later was counted once"
        );
    }

    #[test]
    fn host_budget_and_exchange_pause() {
        let hosts = Hosts::default();
        assert!(hosts.admit("okx", SLOW, 1, Instant::now()).is_ok());
        assert!(hosts.admit("okx", SLOW, 1, Instant::now()).is_ok());
        assert_eq!(
            hosts.admit("okx", SLOW, 1, Instant::now()),
            Err(Held::Budget { retry_after: 1 })
        );
        assert!(
            hosts.admit("okx", SLOW, 0, Instant::now()).is_ok(),
            "free routes pass"
        );
        assert!(
            hosts.admit("bybit", SLOW, 1, Instant::now()).is_ok(),
            "hosts are separate"
        );

        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("30"));
        hosts.observe("bybit", SLOW, 429, &h);
        assert!(matches!(
            hosts.admit("bybit", SLOW, 0, Instant::now()),
            Err(Held::Paused {
                retry_after: 29..=30
            })
        ));
        assert!(
            hosts.admit("okx", SLOW, 0, Instant::now()).is_ok(),
            "a pause is the host's own"
        );
        // 429 without Retry-After (an account's own limit) pauses nothing; 418 does.
        hosts.observe("whitebit", SLOW, 429, &HeaderMap::new());
        assert!(hosts.admit("whitebit", SLOW, 1, Instant::now()).is_ok());
        hosts.observe("whitebit", SLOW, 418, &HeaderMap::new());
        assert!(matches!(
            hosts.admit("whitebit", SLOW, 1, Instant::now()),
            Err(Held::Paused {
                retry_after: 119..=120
            })
        ));
    }

    #[test]
    fn cidr_blocks() {
        let v4: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(v4.contains("10.1.200.3".parse().unwrap()));
        assert!(!v4.contains("10.2.0.1".parse().unwrap()));
        assert!(v4.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one: Cidr = "192.0.2.1".parse().unwrap();
        assert!(one.contains("192.0.2.1".parse().unwrap()));
        assert!(!one.contains("192.0.2.2".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("ten/8".parse::<Cidr>().is_err());
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let lb: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 198.51.100.7, 10.0.0.3"),
        );
        // From the load balancer: the right-most untrusted hop; the spoofable 1.1.1.1 is
        // ignored.
        assert_eq!(
            client_ip(lb, &h, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // From anyone else the header is the client's own claim.
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        assert_eq!(client_ip(lb, &h, &[]), lb);

        let mut f = HeaderMap::new();
        f.insert(
            "forwarded",
            HeaderValue::from_static("for=192.0.2.60;proto=https, for=\"[2001:db8::7]:4711\""),
        );
        assert_eq!(
            client_ip(lb, &f, &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        let mut unknown = HeaderMap::new();
        unknown.insert("x-forwarded-for", HeaderValue::from_static("unknown"));
        assert_eq!(client_ip(lb, &unknown, &trusted), lb);
    }

    #[tokio::test]
    async fn upstream_slots_cap_what_is_in_flight() {
        let slots = Slots::new(2);
        let patience = Duration::from_millis(100);
        let (a, _b) = (slots.take(patience).await, slots.take(patience).await);
        assert!(a.is_some());
        let started = Instant::now();
        assert!(
            slots.take(patience).await.is_none(),
            "a third waits, then gives up"
        );
        assert!(started.elapsed() >= patience);
        // One given back while a third waits: the third gets it.
        let waiting = slots.take(Duration::from_secs(5));
        let give_back = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(a);
        };
        let (third, ()) = tokio::join!(waiting, give_back);
        assert!(third.is_some());
        assert_eq!(slots.used.load(Ordering::Acquire), 2);
        // Two waiting, both given back at once: each waiter is woken, none sleeps on while
        // a slot is free.
        drop((third, _b));
        let (c, d) = (slots.take(patience).await, slots.take(patience).await);
        let both = async {
            tokio::join!(
                slots.take(Duration::from_secs(5)),
                slots.take(Duration::from_secs(5))
            )
        };
        let give_back = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop((c, d));
        };
        let started = Instant::now();
        let ((e, f), ()) = tokio::join!(both, give_back);
        assert!(e.is_some() && f.is_some());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            slots.waiting.load(Ordering::Acquire),
            0,
            "nobody counted as waiting"
        );
    }
}
