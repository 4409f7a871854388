//! Portfolio math: holdings and positions from every connection and account, valued in USD
//! with exact decimals (never floats), merged per asset, totalled per connection and account.
//!
//! Valuation: the exchange's own USD value (OKX `eqUsd`) where it gives one; otherwise the
//! spot price CCY-USDT, then CCY-USDC; USDT, USDC and USD count as 1. An asset with no price
//! keeps its amount, is shown as "no price" and is left out of the totals.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which account of an exchange a holding sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Account {
    Trading,
    Funding,
    Earn,
}

impl Account {
    pub const ALL: [Account; 3] = [Account::Trading, Account::Funding, Account::Earn];

    pub fn label(self) -> &'static str {
        match self {
            Self::Trading => "Trading",
            Self::Funding => "Funding",
            Self::Earn => "Earn",
        }
    }
}

/// An amount of one asset in one account of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub connection: String,
    pub account: Account,
    pub asset: String,
    pub amount: Decimal,
    /// The exchange's own USD value of this holding, when it gives one.
    pub usd: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Long,
    Short,
}

/// A derivatives (or margin) position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub connection: String,
    /// SWAP, FUTURES, OPTION, MARGIN…
    pub kind: String,
    pub instrument: String,
    pub side: Side,
    /// Size, always positive (contracts or coins as the exchange counts them).
    pub size: Decimal,
    pub entry: Option<Decimal>,
    pub mark: Option<Decimal>,
    /// Unrealized PnL in the settlement currency.
    pub pnl: Option<Decimal>,
    pub leverage: Option<Decimal>,
    pub liquidation: Option<Decimal>,
    pub margin_mode: String,
}

/// Spot prices in USD by asset, from tickers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices(pub BTreeMap<String, Decimal>);

impl Prices {
    /// From `BASE-QUOTE` last prices: the USDT pair wins over the USDC pair.
    pub fn from_tickers(tickers: &[(String, Decimal)]) -> Self {
        let mut prices = BTreeMap::new();
        for quote in ["USDC", "USDT"] {
            for (inst, last) in tickers {
                if let Some(base) = inst.strip_suffix(&format!("-{quote}")) {
                    if !base.contains('-') {
                        prices.insert(base.to_string(), *last);
                    }
                }
            }
        }
        Self(prices)
    }

    pub fn of(&self, asset: &str) -> Option<Decimal> {
        match asset {
            "USDT" | "USDC" | "USD" => Some(Decimal::ONE),
            _ => self.0.get(asset).copied(),
        }
    }
}

/// USD value of one holding, if it can be priced.
pub fn holding_value(h: &Holding, prices: &Prices) -> Option<Decimal> {
    h.usd.or_else(|| prices.of(&h.asset).map(|p| p * h.amount))
}

/// One asset merged across every account and connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    pub asset: String,
    pub amount: Decimal,
    /// USD per unit: the spot price, else the exchange's valuation divided by the amount.
    pub price: Option<Decimal>,
    pub value: Option<Decimal>,
    /// Percent of the total value, two decimals.
    pub share: Option<Decimal>,
}

/// Everything the dashboard shows, computed from holdings and prices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Valuation {
    pub total: Decimal,
    pub by_connection: BTreeMap<String, Decimal>,
    pub by_account: BTreeMap<(String, Account), Decimal>,
    /// Sorted by value, largest first; unpriced assets last.
    pub assets: Vec<AssetRow>,
    /// Assets without a price, left out of the totals.
    pub unpriced: Vec<String>,
}

pub fn value(holdings: &[Holding], prices: &Prices) -> Valuation {
    let mut v = Valuation::default();
    let mut merged: BTreeMap<&str, (Decimal, Option<Decimal>, bool)> = BTreeMap::new();
    for h in holdings {
        let value = holding_value(h, prices);
        let entry = merged
            .entry(&h.asset)
            .or_insert((Decimal::ZERO, None, true));
        entry.0 += h.amount;
        match value {
            Some(x) => {
                entry.1 = Some(entry.1.unwrap_or_default() + x);
                v.total += x;
                *v.by_connection.entry(h.connection.clone()).or_default() += x;
                *v.by_account
                    .entry((h.connection.clone(), h.account))
                    .or_default() += x;
            }
            None => {
                entry.2 = false;
                v.by_connection.entry(h.connection.clone()).or_default();
                v.by_account
                    .entry((h.connection.clone(), h.account))
                    .or_default();
            }
        }
    }
    for (asset, (amount, value, all_priced)) in merged {
        // An asset with any unpriced holding is named in the note; the value shown is what
        // could be priced (none at all: "no price").
        let price = prices.of(asset).or_else(|| {
            value
                .filter(|_| !amount.is_zero())
                .map(|x| (x / amount).round_dp(8))
        });
        let share = value
            .filter(|_| !v.total.is_zero())
            .map(|x| (x * Decimal::ONE_HUNDRED / v.total).round_dp(2));
        if !all_priced {
            v.unpriced.push(asset.to_string());
        }
        v.assets.push(AssetRow {
            asset: asset.to_string(),
            amount,
            price,
            value,
            share,
        });
    }
    v.assets
        .sort_by(|a, b| b.value.cmp(&a.value).then(a.asset.cmp(&b.asset)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn h(conn: &str, account: Account, asset: &str, amount: &str, usd: Option<&str>) -> Holding {
        Holding {
            connection: conn.into(),
            account,
            asset: asset.into(),
            amount: d(amount),
            usd: usd.map(d),
        }
    }

    fn prices() -> Prices {
        Prices::from_tickers(&[
            ("BTC-USDT".into(), d("97000.5")),
            ("BTC-USDC".into(), d("96990")),
            ("DOT-USDC".into(), d("6.5")),
            ("SOL-USDT".into(), d("180.4")),
            ("BTC-USDT-SWAP".into(), d("1")),
        ])
    }

    #[test]
    fn prices_prefer_usdt_then_usdc_and_stables_are_one() {
        let p = prices();
        assert_eq!(p.of("BTC"), Some(d("97000.5")));
        assert_eq!(p.of("DOT"), Some(d("6.5")));
        assert_eq!(p.of("USDT"), Some(Decimal::ONE));
        assert_eq!(p.of("USDC"), Some(Decimal::ONE));
        assert_eq!(p.of("XYZ"), None);
    }

    /// Exact decimals: 0.1 + 0.2 is 0.3 here, and sums of many small values do not drift.
    #[test]
    fn valuation_is_exact() {
        let holdings = vec![
            h("a", Account::Trading, "USDT", "0.1", None),
            h("a", Account::Funding, "USDT", "0.2", None),
        ];
        assert_eq!(value(&holdings, &Prices::default()).total, d("0.3"));
        let many: Vec<Holding> = (0..1000)
            .map(|_| h("a", Account::Earn, "USDC", "0.001", None))
            .collect();
        assert_eq!(value(&many, &Prices::default()).total, d("1.000"));
    }

    #[test]
    fn exchange_valuation_first_then_tickers_and_unpriced_excluded() {
        let holdings = vec![
            h("a", Account::Trading, "BTC", "0.5", Some("48500.25")),
            h("a", Account::Funding, "SOL", "10", None),
            h("a", Account::Earn, "DOT", "100", None),
            h("b", Account::Funding, "XYZ", "1000", None),
            h("b", Account::Trading, "BTC", "0.1", None),
        ];
        let v = value(&holdings, &prices());
        // 48500.25 + 1804 + 650 + 9700.05
        assert_eq!(v.total, d("60654.30"));
        assert_eq!(v.by_connection["a"], d("50954.25"));
        assert_eq!(v.by_connection["b"], d("9700.05"));
        assert_eq!(
            v.by_account[&("a".to_string(), Account::Funding)],
            d("1804")
        );
        assert_eq!(v.unpriced, vec!["XYZ".to_string()]);
        let btc = v.assets.iter().find(|r| r.asset == "BTC").unwrap();
        assert_eq!(
            (btc.amount, btc.value, btc.price),
            (d("0.6"), Some(d("58200.30")), Some(d("97000.5")))
        );
        assert_eq!(btc.share, Some(d("95.95")));
        assert_eq!(v.assets.first().unwrap().asset, "BTC");
        let xyz = v.assets.last().unwrap();
        assert_eq!(
            (xyz.asset.as_str(), xyz.value, xyz.price, xyz.share),
            ("XYZ", None, None, None)
        );
    }

    #[test]
    fn asset_valued_only_by_the_exchange_gets_a_derived_price() {
        let v = value(
            &[h("a", Account::Trading, "OKB", "10", Some("481"))],
            &Prices::default(),
        );
        assert_eq!(v.assets[0].price, Some(d("48.1")));
        assert_eq!(v.total, d("481"));
        assert!(v.unpriced.is_empty());
    }
}

/// `$60,286.50`: US dollars, two decimals, thousands separated; negatives as `-$1.00`.
pub fn format_usd(value: Decimal) -> String {
    let rounded = value.round_dp(2);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    let text = format!("{:.2}", rounded.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    format!("{sign}${}.{frac}", group_thousands(int))
}

/// An amount as the exchange would show it: no trailing zeros, thousands separated.
pub fn format_amount(value: Decimal) -> String {
    let text = value.normalize().to_string();
    let (sign, digits) = text
        .strip_prefix('-')
        .map(|d| ("-", d))
        .unwrap_or(("", &text));
    match digits.split_once('.') {
        Some((int, frac)) => format!("{sign}{}.{frac}", group_thousands(int)),
        None => format!("{sign}{}", group_thousands(digits)),
    }
}

fn group_thousands(int: &str) -> String {
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn usd_and_amount_formats() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(format_usd(d("60286.5")), "$60,286.50");
        assert_eq!(format_usd(d("0.004")), "$0.00");
        assert_eq!(format_usd(d("1234567.895")), "$1,234,567.90");
        assert_eq!(format_usd(d("-49.851")), "-$49.85");
        assert_eq!(format_amount(d("0.50000000")), "0.5");
        assert_eq!(format_amount(d("1250.75")), "1,250.75");
        assert_eq!(format_amount(d("-5")), "-5");
        assert_eq!(format_amount(d("1000")), "1,000");
    }
}
