//! CSV export (RFC 4180: quoting where needed, quotes doubled, CRLF line ends): holdings,
//! positions and history. Numbers are exact decimals with `.` as the separator and no
//! thousands grouping; times are UTC, ISO 8601. Values are USD.

use rust_decimal::Decimal;

use crate::currency::Rate;
use crate::history::Point;
use crate::portfolio::{holding_value, Side};
use crate::records::Snapshot;

/// A decimal as exact text: `0.5`, `-12.25`, `45000`.
fn num(v: Decimal) -> String {
    v.normalize().to_string()
}

fn opt(v: Option<Decimal>) -> String {
    v.map(num).unwrap_or_default()
}

/// Unix milliseconds as `2026-11-28T14:05:00Z` (days to civil date: H. Hinnant's algorithm).
pub fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The file name of an export made at `ms`: `holdix-holdings-2026-11-28.csv`.
pub fn file_name(what: &str, ms: u64) -> String {
    format!("holdix-{what}-{}.csv", &iso_time(ms)[..10])
}

/// One RFC 4180 field: quoted when it holds a comma, a quote or a line break, its quotes
/// doubled.
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn write(header: &[&str], rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut out = String::new();
    let header = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(header).chain(rows) {
        for (i, field) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, field);
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// A connection's label by id (the id itself when unknown).
fn label<'a>(labels: &'a [(String, String)], id: &'a str) -> &'a str {
    labels
        .iter()
        .find(|(i, _)| i == id)
        .map_or(id, |(_, l)| l.as_str())
}

/// Every holding: connection, account, asset, amount, USD price and value, and with a
/// display currency's `rate` the value in it too (`value_eur`: USD value × rate, exactly).
pub fn holdings(snapshot: &Snapshot, labels: &[(String, String)], rate: Option<&Rate>) -> Vec<u8> {
    let rows = snapshot
        .holdings
        .iter()
        .map(|h| {
            let value = holding_value(h, &snapshot.prices);
            let mut row = vec![
                label(labels, &h.connection).to_string(),
                h.account.label().to_string(),
                h.asset.clone(),
                num(h.amount),
                opt(snapshot.prices.of(&h.asset)),
                opt(value),
            ];
            if let Some(rate) = rate {
                row.push(opt(value.map(|v| rate.convert(v))));
            }
            row
        })
        .collect();
    let other = rate.map(|r| format!("value_{}", r.code.to_ascii_lowercase()));
    let mut header = vec![
        "connection",
        "account",
        "asset",
        "amount",
        "price_usd",
        "value_usd",
    ];
    header.extend(other.as_deref());
    write(&header, rows)
}

/// Every derivatives and margin position.
pub fn positions(snapshot: &Snapshot, labels: &[(String, String)]) -> Vec<u8> {
    let rows = snapshot
        .positions
        .iter()
        .map(|p| {
            vec![
                label(labels, &p.connection).to_string(),
                p.kind.clone(),
                p.instrument.clone(),
                match p.side {
                    Side::Long => "long",
                    Side::Short => "short",
                }
                .to_string(),
                num(p.size),
                opt(p.entry),
                opt(p.mark),
                opt(p.pnl),
                opt(p.leverage),
                opt(p.liquidation),
                p.margin_mode.clone(),
            ]
        })
        .collect();
    write(
        &[
            "connection",
            "kind",
            "instrument",
            "side",
            "size",
            "entry",
            "mark",
            "unrealized_pnl",
            "leverage",
            "liquidation",
            "margin_mode",
        ],
        rows,
    )
}

/// History, one row per value at each point: the total, each connection, each asset (with
/// its amount; per-asset values are kept to the cent).
pub fn history(points: &[Point], labels: &[(String, String)]) -> Vec<u8> {
    let mut rows = Vec::new();
    for p in points {
        let time = iso_time(p.at_ms);
        rows.push(vec![
            time.clone(),
            "total".into(),
            String::new(),
            String::new(),
            num(p.total),
        ]);
        for (id, v) in &p.connections {
            let name = label(labels, id).to_string();
            rows.push(vec![
                time.clone(),
                "connection".into(),
                name,
                String::new(),
                num(*v),
            ]);
        }
        for (asset, amount, v) in &p.assets {
            rows.push(vec![
                time.clone(),
                "asset".into(),
                asset.clone(),
                num(*amount),
                num(*v),
            ]);
        }
    }
    write(&["time_utc", "kind", "name", "amount", "value_usd"], rows)
}
