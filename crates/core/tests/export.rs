//! CSV export against golden files written by hand from RFC 4180 (fields with a comma or a
//! quote are quoted, quotes doubled, CRLF line ends) and the fixture below.

use holdix_core::currency::Rate;
use holdix_core::export::{self, file_name, iso_time};
use holdix_core::history::Point;
use holdix_core::portfolio::{Account, Holding, Position, Prices, Side};
use holdix_core::records::Snapshot;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn labels() -> Vec<(String, String)> {
    vec![
        ("okx-1".into(), "Main, \"OKX\"".into()),
        ("bybit-1".into(), "Bybit".into()),
    ]
}

fn snapshot() -> Snapshot {
    let h = |conn: &str, account, asset: &str, amount: &str, usd: Option<&str>| Holding {
        connection: conn.into(),
        account,
        asset: asset.into(),
        amount: d(amount),
        usd: usd.map(d),
    };
    Snapshot {
        as_of_ms: 1_795_877_100_000,
        holdings: vec![
            h("okx-1", Account::Trading, "BTC", "0.50000000", None),
            h("okx-1", Account::Funding, "USDT", "100.10", None),
            h("bybit-1", Account::Earn, "ETH", "1.25", Some("3000.123")),
            h("bybit-1", Account::Spot, "NOPRICE", "7", None),
        ],
        positions: vec![Position {
            connection: "bybit-1".into(),
            kind: "SWAP".into(),
            instrument: "BTC-USDT-SWAP".into(),
            side: Side::Short,
            size: d("0.010"),
            entry: Some(d("44000.5")),
            mark: Some(d("45000.5")),
            pnl: Some(d("-10")),
            leverage: Some(d("5")),
            liquidation: None,
            margin_mode: "cross".into(),
        }],
        prices: Prices(
            [
                ("BTC".to_string(), d("45000.5")),
                ("ETH".to_string(), d("2400")),
            ]
            .into(),
        ),
        ..Snapshot::default()
    }
}

fn golden(name: &str) -> String {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn holdings_csv_matches_the_golden_file() {
    let csv = String::from_utf8(export::holdings(&snapshot(), &labels(), None)).unwrap();
    assert_eq!(csv, golden("holdings.csv"));
}

/// With a display currency: one more column, the USD value × the rate, exactly.
#[test]
fn holdings_csv_in_a_display_currency_matches_the_golden_file() {
    let eur = Rate {
        code: "EUR",
        per_usd: d("0.92"),
    };
    let csv = String::from_utf8(export::holdings(&snapshot(), &labels(), Some(&eur))).unwrap();
    assert_eq!(csv, golden("holdings-eur.csv"));
}

#[test]
fn positions_csv_matches_the_golden_file() {
    let csv = String::from_utf8(export::positions(&snapshot(), &labels())).unwrap();
    assert_eq!(csv, golden("positions.csv"));
}

#[test]
fn history_csv_matches_the_golden_file() {
    let points = vec![
        Point {
            at_ms: 1_795_824_000_000,
            total: d("22600.35"),
            connections: vec![("okx-1".into(), d("22600.35"))],
            assets: vec![("BTC".into(), d("0.5"), d("22500.25"))],
        },
        Point {
            at_ms: 1_795_877_100_000,
            total: d("-1.5"),
            connections: vec![],
            assets: vec![],
        },
    ];
    let csv = String::from_utf8(export::history(&points, &labels())).unwrap();
    assert_eq!(csv, golden("history.csv"));
}

#[test]
fn times_are_utc_iso_8601_and_names_carry_the_date() {
    assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(iso_time(1_795_877_100_999), "2026-11-28T14:45:00Z");
    assert_eq!(iso_time(4_102_444_799_000), "2099-12-31T23:59:59Z");
    assert_eq!(
        file_name("holdings", 1_795_877_100_000),
        "holdix-holdings-2026-11-28.csv"
    );
}

/// The csv crate, an independent RFC 4180 reader, reads every export back field for field
/// (labels with commas, quotes and line breaks included).
#[test]
fn the_csv_crate_reads_the_exports_back() {
    let mut labels = labels();
    labels[1].1 = "Line\r\nbreak, \"and\" quotes".into();
    let files = [
        export::holdings(&snapshot(), &labels, None),
        export::positions(&snapshot(), &labels),
    ];
    for bytes in files {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert!(!rows.is_empty());
        for row in &rows {
            let connection = &row[0];
            assert!(
                connection == labels[0].1 || connection == labels[1].1,
                "{connection:?}"
            );
        }
    }
    let holdings = export::holdings(&snapshot(), &labels, None);
    let mut reader = csv::Reader::from_reader(holdings.as_slice());
    let last = reader.records().last().unwrap().unwrap();
    assert_eq!(
        last.iter().collect::<Vec<_>>(),
        [labels[1].1.as_str(), "Spot", "NOPRICE", "7", "", ""]
    );
}
