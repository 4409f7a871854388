//! The market-move control (`Faults::price_move_percent`): every exchange's public ticker
//! moves by exactly that percentage, and back.

use std::net::SocketAddr;

use holdix_sim::{Fixture, Sim};
use serde_json::{json, Value};

#[tokio::test]
async fn every_ticker_moves_by_the_percentage_set() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(holdix_sim::serve(
        listener,
        Sim::new(Fixture::demo()),
        std::future::pending(),
    ));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let req = client.get(format!("{base}{path}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let prices = || async {
        let okx = get("/okx/api/v5/market/tickers?instType=SPOT").await;
        let binance = get("/binance/api/v3/ticker/price").await;
        let bybit = get("/bybit/v5/market/tickers?category=spot").await;
        let whitebit = get("/whitebit/api/v4/public/ticker").await;
        let okx_btc = okx["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["instId"] == "BTC-USDT")
            .unwrap()["last"]
            .clone();
        let binance_btc = binance
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["symbol"] == "BTCUSDT")
            .unwrap()["price"]
            .clone();
        let bybit_btc = bybit["result"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["symbol"] == "BTCUSDT")
            .unwrap()["lastPrice"]
            .clone();
        [
            okx_btc,
            binance_btc,
            bybit_btc,
            whitebit["BTC_USDT"]["last_price"].clone(),
        ]
    };
    // The fixture's BTC prices (see fixtures/demo.json).
    assert_eq!(
        prices().await,
        [
            json!("97000.5"),
            json!("97100.00000000"),
            json!("97050"),
            json!("97100")
        ]
    );
    let set = |percent: i64| {
        let req = client
            .put(format!("{base}/__sim/faults"))
            .json(&json!({"price_move_percent": percent}));
        async move { assert!(req.send().await.unwrap().status().is_success()) }
    };
    set(10).await;
    // × 1.10, exactly.
    assert_eq!(
        prices().await,
        [
            json!("106700.55"),
            json!("106810"),
            json!("106755"),
            json!("106810")
        ]
    );
    // Binance's 24 h ticker: the last price moved, the price 24 hours ago did not.
    let day = get("/binance/api/v3/ticker/24hr?type=MINI").await;
    let btc = day
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == "BTCUSDT")
        .unwrap()
        .clone();
    assert_eq!(
        (btc["lastPrice"].clone(), btc["openPrice"].clone()),
        (json!("106810"), json!("95100.00000000"))
    );
    assert!(
        btc.get("bidPrice").is_none(),
        "type=MINI leaves out bid and ask"
    );
    set(-4).await;
    assert_eq!(
        prices().await,
        [
            json!("93120.48"),
            json!("93216"),
            json!("93168"),
            json!("93216")
        ]
    );
    set(0).await;
    assert_eq!(prices().await[0], json!("97000.5"));
}
