//! The fixed upstream table: which exchanges exist, their hosts, the headers that carry their
//! authentication, the only routes forwarded, and what each route costs against the
//! exchange's per-IP limits (the proxy's address is shared by every user of the proxy).

use http::Method;

/// One exchange host as the proxy knows it: URL prefix, upstream, auth headers, read routes.
pub struct Exchange {
    /// First path segment, e.g. `okx` in `/okx/api/v5/account/balance`.
    pub prefix: &'static str,
    /// Default upstream origin.
    pub host: &'static str,
    /// Upstream overrides of this name also apply here (`okx` covers `okx-eea`).
    pub family: &'static str,
    /// Request headers (lower-case) forwarded besides `content-type` and `accept`.
    pub auth_headers: &'static [&'static str],
    /// The only routes forwarded.
    pub routes: &'static [Route],
    /// The whole proxy's budget for this host, in cost units, set below the exchange's
    /// per-IP limit so that no client (or many together) can get the proxy's address banned.
    pub budget: Budget,
}

/// One forwarded (method, path), what it costs against [`Exchange::budget`], and whether it
/// is a public, unsigned market-data route whose identical requests may share one answer.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// Units of the exchange's per-IP limit one call spends (Binance's request weight; 1
    /// elsewhere). 0 for routes the exchange limits per account, not per IP.
    pub cost: u32,
    pub public: bool,
}

/// A token bucket: `per_second` refill up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub per_second: f64,
    pub burst: f64,
}

const fn get(path: &'static str, cost: u32) -> Route {
    Route {
        method: Method::GET,
        path,
        cost,
        public: false,
    }
}
const fn post(path: &'static str, cost: u32) -> Route {
    Route {
        method: Method::POST,
        path,
        cost,
        public: false,
    }
}
const fn public(path: &'static str, cost: u32) -> Route {
    Route {
        method: Method::GET,
        path,
        cost,
        public: true,
    }
}

const OKX_HEADERS: &[&str] = &[
    "ok-access-key",
    "ok-access-sign",
    "ok-access-timestamp",
    "ok-access-passphrase",
    "x-simulated-trading",
];
/// OKX limits private reads per account (User ID) and public ones per IP: `public/time` 10
/// per 2 s, `market/tickers` 20 per 2 s. The budget (2.5/s, burst 4) stays under the
/// stricter one; identical public requests share one answer, so this is plenty.
const OKX_ROUTES: &[Route] = &[
    get("/api/v5/account/config", 0),
    get("/api/v5/account/balance", 0),
    get("/api/v5/account/positions", 0),
    get("/api/v5/asset/balances", 0),
    get("/api/v5/finance/savings/balance", 0),
    public("/api/v5/public/time", 1),
    public("/api/v5/market/tickers", 1),
];
const OKX_BUDGET: Budget = Budget {
    per_second: 2.5,
    burst: 4.0,
};
const BINANCE_HEADERS: &[&str] = &["x-mbx-apikey"];

/// Bybit limits private reads per account (UID, per endpoint) and everything per IP.
const BYBIT_ROUTES: &[Route] = &[
    public("/v5/market/time", 1),
    get("/v5/user/query-api", 1),
    get("/v5/account/wallet-balance", 1),
    get("/v5/asset/transfer/query-account-coins-balance", 1),
    get("/v5/earn/position", 1),
    get("/v5/position/list", 1),
];
/// The global site also gives Holdix its spot prices.
const BYBIT_GLOBAL_ROUTES: &[Route] = &[
    public("/v5/market/time", 1),
    public("/v5/market/tickers", 1),
    get("/v5/user/query-api", 1),
    get("/v5/account/wallet-balance", 1),
    get("/v5/asset/transfer/query-account-coins-balance", 1),
    get("/v5/earn/position", 1),
    get("/v5/position/list", 1),
];

/// WhiteBIT's private reads: POSTs, never an order, withdrawal or transfer.
const WHITEBIT_ROUTES: &[Route] = &[
    public("/api/v4/public/time", 1),
    post("/api/v4/main-account/balance", 1),
    post("/api/v4/trade-account/balance", 1),
    post("/api/v4/collateral-account/balance", 1),
    post("/api/v4/collateral-account/summary", 1),
    post("/api/v4/collateral-account/positions/open", 1),
    post("/api/v4/main-account/smart-flex/investments", 1),
];
/// The global site also gives Holdix its spot prices.
const WHITEBIT_GLOBAL_ROUTES: &[Route] = &[
    public("/api/v4/public/time", 1),
    public("/api/v4/public/ticker", 1),
    post("/api/v4/main-account/balance", 1),
    post("/api/v4/trade-account/balance", 1),
    post("/api/v4/collateral-account/balance", 1),
    post("/api/v4/collateral-account/summary", 1),
    post("/api/v4/collateral-account/positions/open", 1),
    post("/api/v4/main-account/smart-flex/investments", 1),
];

/// One WhiteBIT site (whitebit.com, whitebit.eu).
const fn whitebit(prefix: &'static str, host: &'static str, routes: &'static [Route]) -> Exchange {
    Exchange {
        prefix,
        host,
        family: "whitebit",
        auth_headers: &["x-txc-apikey", "x-txc-payload", "x-txc-signature"],
        routes,
        // Half of `main-account/*`'s 100 per second, with a burst for many refreshes.
        budget: Budget {
            per_second: 50.0,
            burst: 250.0,
        },
    }
}

/// One Bybit site (each has its own host, keys and per-IP limit).
const fn bybit(prefix: &'static str, host: &'static str, routes: &'static [Route]) -> Exchange {
    Exchange {
        prefix,
        host,
        family: "bybit",
        auth_headers: &[
            "x-bapi-api-key",
            "x-bapi-timestamp",
            "x-bapi-sign",
            "x-bapi-recv-window",
        ],
        routes,
        // 600 per 5 s is 120/s: the budget stays at half, with a burst for many refreshes.
        budget: Budget {
            per_second: 60.0,
            burst: 200.0,
        },
    }
}

/// The fixed upstream table.
pub const EXCHANGES: &[Exchange] = &[
    Exchange {
        prefix: "okx",
        host: "https://www.okx.com",
        family: "okx",
        auth_headers: OKX_HEADERS,
        routes: OKX_ROUTES,
        budget: OKX_BUDGET,
    },
    Exchange {
        prefix: "okx-eea",
        host: "https://eea.okx.com",
        family: "okx",
        auth_headers: OKX_HEADERS,
        routes: OKX_ROUTES,
        budget: OKX_BUDGET,
    },
    Exchange {
        prefix: "okx-us",
        host: "https://us.okx.com",
        family: "okx",
        auth_headers: OKX_HEADERS,
        routes: OKX_ROUTES,
        budget: OKX_BUDGET,
    },
    // Binance counts request weight per IP: 6,000 per minute (100/s) on api.binance.com.
    Exchange {
        prefix: "binance",
        host: "https://api.binance.com",
        family: "binance",
        auth_headers: BINANCE_HEADERS,
        routes: &[
            get("/api/v3/account", 20),
            public("/api/v3/time", 1),
            public("/api/v3/ticker/24hr", 80),
            get("/sapi/v1/account/apiRestrictions", 1),
            post("/sapi/v1/asset/get-funding-asset", 1),
            get("/sapi/v1/simple-earn/flexible/position", 150),
            get("/sapi/v1/simple-earn/locked/position", 150),
            get("/sapi/v1/margin/account", 10),
        ],
        // One Binance refresh weighs about 420 (Simple Earn pages 150 each, the 24 h tickers
        // 80): the burst allows several users' refreshes at once, the rate stays under 6,000 a
        // minute.
        budget: Budget {
            per_second: 60.0,
            burst: 2000.0,
        },
    },
    // USDⓈ-M futures: 2,400 weight per minute (40/s) per IP.
    Exchange {
        prefix: "binance-futures",
        host: "https://fapi.binance.com",
        family: "binance",
        auth_headers: BINANCE_HEADERS,
        routes: &[get("/fapi/v3/balance", 5), get("/fapi/v3/positionRisk", 5)],
        budget: Budget {
            per_second: 25.0,
            burst: 250.0,
        },
    },
    // COIN-M futures: 2,400 weight per minute (40/s) per IP.
    Exchange {
        prefix: "binance-coinm",
        host: "https://dapi.binance.com",
        family: "binance",
        auth_headers: BINANCE_HEADERS,
        routes: &[get("/dapi/v1/balance", 1), get("/dapi/v1/positionRisk", 1)],
        budget: Budget {
            per_second: 25.0,
            burst: 250.0,
        },
    },
    // Bybit: 600 requests per 5 s per IP on each site; over it, a 10-minute 403.
    bybit("bybit", "https://api.bybit.com", BYBIT_GLOBAL_ROUTES),
    bybit("bybit-nl", "https://api.bybit.nl", BYBIT_ROUTES),
    bybit("bybit-tr", "https://api.bybit.tr", BYBIT_ROUTES),
    bybit("bybit-kz", "https://api.bybit.kz", BYBIT_ROUTES),
    bybit("bybit-ge", "https://api.bybitgeorgia.ge", BYBIT_ROUTES),
    bybit("bybit-ae", "https://api.bybit.ae", BYBIT_ROUTES),
    bybit("bybit-eu", "https://api.bybit.eu", BYBIT_ROUTES),
    bybit("bybit-demo", "https://api-demo.bybit.com", BYBIT_ROUTES),
    // WhiteBIT: every private read is a POST (the body is signed); the strictest per-IP
    // scope Holdix reads is `main-account/*`, 1,000 requests per 10 s.
    whitebit("whitebit", "https://whitebit.com", WHITEBIT_GLOBAL_ROUTES),
    whitebit("whitebit-eu", "https://whitebit.eu", WHITEBIT_ROUTES),
];

/// Exchanges are one per prefix.
impl PartialEq for Exchange {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exchange({})", self.prefix)
    }
}

impl Exchange {
    pub fn by_prefix(prefix: &str) -> Option<&'static Exchange> {
        EXCHANGES.iter().find(|e| e.prefix == prefix)
    }

    /// The allowed route for `method path`, if any.
    pub fn route(&self, method: &Method, path: &str) -> Option<&'static Route> {
        self.routes
            .iter()
            .find(|r| r.method == *method && r.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_a_read_route() {
        for exchange in EXCHANGES {
            for route in exchange.routes {
                let (method, path) = (&route.method, route.path);
                assert!(*method == Method::GET || *method == Method::POST);
                let last = path.rsplit('/').next().unwrap();
                let writes = [
                    "order",
                    "create",
                    "new",
                    "withdraw",
                    "withdrawal",
                    "apply",
                    "transfer",
                    "inter-transfer",
                ];
                assert!(!writes.contains(&last), "{} {path}", exchange.prefix);
                assert!(
                    !path.contains("/trade/") && !path.contains("/order"),
                    "{} {path}",
                    exchange.prefix
                );
            }
        }
    }

    /// One source for endpoints: every endpoint an exchange module of the app calls is
    /// allowed here, and nothing else is.
    #[test]
    fn the_allowlist_is_exactly_what_the_app_calls() {
        use holdix_core::exchange::EXCHANGES as MODULES;
        let mut used = std::collections::BTreeSet::new();
        for module in MODULES {
            for endpoint in module.endpoints() {
                for upstream in endpoint.upstreams {
                    let exchange = Exchange::by_prefix(upstream)
                        .unwrap_or_else(|| panic!("no proxy host for {upstream}"));
                    let method = Method::from_bytes(endpoint.method.as_bytes()).unwrap();
                    assert!(
                        exchange.route(&method, endpoint.path).is_some(),
                        "{upstream}: {} {} is not allowed",
                        endpoint.method,
                        endpoint.path
                    );
                    used.insert((*upstream, endpoint.method, endpoint.path));
                }
            }
        }
        for exchange in EXCHANGES {
            for route in exchange.routes {
                assert!(
                    used.contains(&(exchange.prefix, route.method.as_str(), route.path)),
                    "{}: {} {} is allowed but the app never calls it",
                    exchange.prefix,
                    route.method,
                    route.path
                );
            }
        }
    }

    /// A public route is shared between users, so it must be a GET that carries no signature.
    #[test]
    fn public_routes_are_unsigned_gets() {
        for exchange in EXCHANGES {
            for route in exchange.routes.iter().filter(|r| r.public) {
                assert_eq!(route.method, Method::GET, "{}", route.path);
                assert!(
                    route.path.contains("/time")
                        || route.path.contains("ticker")
                        || route.path.contains("/public/"),
                    "{}",
                    route.path
                );
            }
        }
    }

    /// The documented per-IP limits the budgets must stay under (requests or weight per
    /// second): OKX `public/time` 10 per 2 s, Binance 6,000 weight per minute, USDⓈ-M 2,400
    /// per minute, Bybit 600 per 5 s, WhiteBIT `main-account/*` 1,000 per 10 s.
    #[test]
    fn budgets_stay_below_each_exchanges_per_ip_limit() {
        let limit = |prefix: &str| match prefix {
            p if p.starts_with("okx") => 10.0 / 2.0,
            "binance" => 6000.0 / 60.0,
            "binance-futures" | "binance-coinm" => 2400.0 / 60.0,
            p if p.starts_with("bybit") => 600.0 / 5.0,
            p if p.starts_with("whitebit") => 1000.0 / 10.0,
            other => panic!("no documented limit for {other}"),
        };
        for exchange in EXCHANGES {
            let per_ip = limit(exchange.prefix);
            assert!(exchange.budget.per_second < per_ip, "{}", exchange.prefix);
            // A full burst spent at once must not exceed what the exchange allows in its
            // own window either (OKX: 2 s, Binance: 60 s, Bybit: 5 s, WhiteBIT: 10 s).
            let window = match exchange.prefix {
                p if p.starts_with("okx") => 2.0,
                p if p.starts_with("bybit") => 5.0,
                p if p.starts_with("whitebit") => 10.0,
                _ => 60.0,
            };
            assert!(
                exchange.budget.burst + exchange.budget.per_second * window <= per_ip * window,
                "{}",
                exchange.prefix
            );
        }
    }
}
