//! Generated request targets through the real holdix-proxy, over sockets, in front of the
//! simulator: a request reaches the exchange only when its path is byte-equal to an
//! allowlisted route for its method, and the exchange then sees exactly the path and query
//! the client sent (what it signed). Cases: `HOLDIX_PROPTEST_CASES` (1,000 by default).

use std::collections::BTreeMap;

use holdix_proxy::Config;
use holdix_sim::client::{raw, start_sim};
use holdix_sim::Fixture;
use proptest::test_runner::{Config as Cases, TestCaseError, TestRunner};

#[path = "../../gate/tests/common/targets.rs"]
mod targets;

fn cases() -> u32 {
    std::env::var("HOLDIX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn prop_only_allowlisted_paths_reach_the_exchange_byte_for_byte() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, proxy) = rt.block_on(async {
        let (sim, sim_url) = start_sim().await;
        let config = Config {
            upstreams: Fixture::demo()
                .upstreams
                .into_iter()
                .map(|f| (f.clone(), format!("{sim_url}/{f}")))
                .collect::<BTreeMap<_, _>>(),
            rate_limit: None,
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(holdix_proxy::serve(
            listener,
            config,
            std::future::pending(),
        ));
        (sim, addr)
    });
    let mut runner = TestRunner::new(Cases::with_cases(cases()));
    let (forwarded, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    runner
        .run(&targets::target(), |(method, path, query)| {
            let target = match &query {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            let before = sim.stats().requests;
            let (status, resp) = rt.block_on(raw(proxy, &format!("{method} {target}"), "", b""));
            let after = sim.stats();
            // What the server reads: the target without a fragment (`#…`, which no browser
            // sends; the HTTP parser drops it), and as the path, that up to its first `?`
            // (a `?` inserted into the path starts the query there).
            let sent = target.split('#').next().unwrap_or("");
            let server_path = sent.split('?').next().unwrap_or("");
            let allowed = targets::allowlisted(&method, server_path);
            if after.requests > before {
                forwarded.set(forwarded.get() + 1);
                if !allowed {
                    return Err(TestCaseError::fail(format!(
                        "{method} {target} reached the exchange"
                    )));
                }
                let prefix = path.trim_start_matches('/').split('/').next().unwrap();
                let expected = format!("{method} {}", &sent[prefix.len() + 1..]);
                if after.last_request != expected {
                    return Err(TestCaseError::fail(format!(
                        "{method} {target}: the exchange got {:?}",
                        after.last_request
                    )));
                }
            } else {
                refused.set(refused.get() + 1);
                // Identical public reads within a second share one answer, and the proxy
                // holds back (429) to stay under an exchange's per-IP budget; every other
                // allowlisted read must have gone out.
                let public = holdix_gate::EXCHANGES.iter().any(|e| {
                    e.routes
                        .iter()
                        .any(|r| r.public && format!("/{}{}", e.prefix, r.path) == path)
                });
                if allowed && !public && status != 429 {
                    return Err(TestCaseError::fail(format!(
                        "{method} {target} was allowed but not sent: {status} {resp}"
                    )));
                }
            }
            Ok(())
        })
        .unwrap();
    let (forwarded, refused) = (forwarded.get(), refused.get());
    assert!(
        forwarded > 0 && refused > 0,
        "both kinds ran: {forwarded} forwarded, {refused} refused"
    );
}
