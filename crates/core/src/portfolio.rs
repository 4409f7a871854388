//! Portfolio math: holdings and positions from every connection and account, valued in USD
//! with exact decimals (never floats), merged per asset, totalled per connection and account.
//!
//! Valuation: the exchange's own USD value (OKX `eqUsd`) where it gives one; otherwise the
//! price from the [`PriceBook`] (every connected exchange's spot tickers, each module turning
//! its own pairs into USD prices by asset); USDT, USDC, FDUSD and USD count as 1. An asset
//! with no price keeps its amount, is shown as "no price" and is left out of the totals.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::exchange::Quote;
use serde::{Deserialize, Serialize};

/// Which account of an exchange a holding sits in: general enough for every exchange's
/// split (OKX's unified trading account; Binance's spot, funding, earn, margin and futures
/// wallets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Account {
    /// A unified trading account (OKX).
    Trading,
    Spot,
    Funding,
    Earn,
    Margin,
    /// USD(T)-margined futures.
    Futures,
    /// Coin-margined futures.
    #[serde(rename = "coin-futures")]
    CoinFutures,
    /// A derivatives (contract) wallet of its own (Bybit classic accounts).
    Derivatives,
    /// WhiteBIT's main balance (deposits and withdrawals).
    Main,
    /// WhiteBIT's collateral account (margin and futures).
    Collateral,
}

impl Account {
    pub const ALL: [Account; 10] = [
        Account::Trading,
        Account::Spot,
        Account::Funding,
        Account::Main,
        Account::Earn,
        Account::Margin,
        Account::Futures,
        Account::CoinFutures,
        Account::Derivatives,
        Account::Collateral,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Trading => "Trading",
            Self::Spot => "Spot",
            Self::Funding => "Funding",
            Self::Earn => "Earn",
            Self::Margin => "Margin",
            Self::Futures => "USDⓈ-M futures",
            Self::CoinFutures => "COIN-M futures",
            Self::Derivatives => "Derivatives",
            Self::Main => "Main",
            Self::Collateral => "Collateral",
        }
    }

    /// A short, stable name for test ids and files.
    pub fn key(self) -> &'static str {
        match self {
            Self::Trading => "trading",
            Self::Spot => "spot",
            Self::Funding => "funding",
            Self::Earn => "earn",
            Self::Margin => "margin",
            Self::Futures => "futures",
            Self::CoinFutures => "coin-futures",
            Self::Derivatives => "derivatives",
            Self::Main => "main",
            Self::Collateral => "collateral",
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

/// Spot prices in USD by asset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices(pub BTreeMap<String, Decimal>);

impl Prices {
    pub fn of(&self, asset: &str) -> Option<Decimal> {
        if crate::exchange::is_usd_stable(asset) {
            return Some(Decimal::ONE);
        }
        self.0.get(asset).copied()
    }
}

/// Every exchange's quotes, merged into one price per asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceBook {
    /// (asset, source, price, price 24 h ago), one per asset and source.
    quotes: Vec<(String, crate::records::ExchangeId, Decimal, Option<Decimal>)>,
}

/// How far apart two exchanges' prices may be before the asset row says so.
const DISAGREE_PERCENT: Decimal = Decimal::ONE;

impl PriceBook {
    pub fn add(&mut self, source: crate::records::ExchangeId, quotes: Vec<Quote>) {
        for (asset, price, open) in quotes {
            self.quotes
                .retain(|(a, s, ..)| !(*s == source && *a == asset));
            self.quotes.push((asset, source, price, open));
        }
    }

    /// The exchange whose price [`Self::resolve`] takes for `asset`.
    pub fn source_of(&self, asset: &str) -> Option<crate::records::ExchangeId> {
        self.quotes
            .iter()
            .filter(|(a, ..)| a == asset)
            .map(|(_, s, ..)| *s)
            .min()
    }

    /// Each asset's price 24 hours ago, from the source [`Self::resolve`] takes its price
    /// from (`None` where that exchange gives none).
    pub fn opens(&self) -> Vec<(String, Option<Decimal>)> {
        let mut out: Vec<(String, crate::records::ExchangeId, Option<Decimal>)> = Vec::new();
        for (asset, source, _, open) in &self.quotes {
            match out.iter_mut().find(|(a, ..)| a == asset) {
                Some(entry) if *source < entry.1 => *entry = (asset.clone(), *source, *open),
                Some(_) => {}
                None => out.push((asset.clone(), *source, *open)),
            }
        }
        out.into_iter().map(|(a, _, o)| (a, o)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.quotes.is_empty()
    }

    /// One price per asset — the first exchange in Holdix's order that quotes it — and, where
    /// the sources disagree by more than 1 %, a note for the asset row.
    pub fn resolve(&self) -> (Prices, BTreeMap<String, String>) {
        let mut prices = BTreeMap::new();
        let mut notes = BTreeMap::new();
        let mut sorted = self.quotes.clone();
        crate::sort::by(&mut sorted, &|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        for group in sorted.chunk_by(|a, b| a.0 == b.0) {
            let asset = &group[0].0;
            let quotes: Vec<(crate::records::ExchangeId, Decimal)> =
                group.iter().map(|(_, s, p, _)| (*s, *p)).collect();
            let (source, chosen) = quotes[0];
            prices.insert(asset.clone(), chosen);
            let (lo, hi) = quotes.iter().fold((chosen, chosen), |(lo, hi), (_, p)| {
                (lo.min(*p), hi.max(*p))
            });
            if !lo.is_zero() && (hi - lo) * Decimal::ONE_HUNDRED / lo > DISAGREE_PERCENT {
                let others: Vec<String> = quotes[1..]
                    .iter()
                    .map(|(s, p)| format!("{} ${}", s.name(), format_amount(*p)))
                    .collect();
                notes.insert(
                    asset.clone(),
                    format!(
                        "Priced by {} (${}); {} differs by more than 1 %",
                        source.name(),
                        format_amount(chosen),
                        others.join(", ")
                    ),
                );
            }
        }
        (Prices(prices), notes)
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
    crate::sort::by(&mut v.assets, &|a, b| {
        b.value.cmp(&a.value).then(a.asset.cmp(&b.asset))
    });
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
        Prices(
            [("BTC", "97000.5"), ("DOT", "6.5"), ("SOL", "180.4")]
                .into_iter()
                .map(|(a, p)| (a.to_string(), d(p)))
                .collect(),
        )
    }

    #[test]
    fn stables_are_one_and_unknown_assets_unpriced() {
        let p = prices();
        assert_eq!(p.of("BTC"), Some(d("97000.5")));
        for stable in ["USDT", "USDC", "USD", "FDUSD"] {
            assert_eq!(p.of(stable), Some(Decimal::ONE));
        }
        assert_eq!(p.of("XYZ"), None);
    }

    /// One price per asset, OKX's before Binance's; a note when they are more than 1 % apart.
    #[test]
    fn price_book_prefers_the_first_exchange_and_notes_disagreement() {
        use crate::records::ExchangeId::{Binance, Okx};
        let mut book = PriceBook::default();
        book.add(
            Binance,
            vec![
                ("BTC".into(), d("97100"), None),
                ("BNB".into(), d("610"), None),
            ],
        );
        book.add(
            Okx,
            vec![
                ("BTC".into(), d("97000.5"), Some(d("95000"))),
                ("DOT".into(), d("6.5"), None),
            ],
        );
        book.add(
            Binance,
            vec![
                ("DOT".into(), d("6.6"), Some(d("6"))),
                ("BTC".into(), d("97100"), None),
            ],
        );
        let (prices, notes) = book.resolve();
        assert_eq!(prices.of("BTC"), Some(d("97000.5")), "OKX first");
        assert_eq!(prices.of("BNB"), Some(d("610")), "only Binance quotes it");
        assert_eq!(prices.of("DOT"), Some(d("6.5")));
        // BTC: 0.1 % apart, no note; DOT: 1.5 % apart.
        assert_eq!(notes.keys().collect::<Vec<_>>(), vec!["DOT"]);
        assert_eq!(
            notes["DOT"],
            "Priced by OKX ($6.5); Binance $6.6 differs by more than 1 %"
        );
        // The past price comes from the exchange that gave the price, or none: DOT's from
        // OKX (which has none), never Binance's 6 beside OKX's 6.5.
        let mut opens = book.opens();
        opens.sort();
        assert_eq!(
            opens,
            vec![
                ("BNB".into(), None),
                ("BTC".into(), Some(d("95000"))),
                ("DOT".into(), None)
            ]
        );
    }

    /// 24 hours: BTC 95,000 → 97,000.5 with 0.5 BTC is +1,000.25; ETH without a past price
    /// and USDT count as unchanged; the percentage is of the portfolio then.
    #[test]
    fn day_change_is_amount_times_the_price_move() {
        let holdings = vec![
            h("a", Account::Trading, "BTC", "0.5", None),
            h("a", Account::Trading, "ETH", "2", None),
            h("a", Account::Funding, "USDT", "1000", None),
        ];
        let prices = Prices(
            [
                ("BTC".to_string(), d("97000.5")),
                ("ETH".to_string(), d("3000")),
            ]
            .into(),
        );
        let v = value(&holdings, &prices);
        let opens = [
            ("BTC".to_string(), d("95000")),
            ("USDT".to_string(), d("2")),
        ]
        .into();
        // Then: 47,500 + 6,000 + 1,000 = 54,500; now 55,500.25.
        assert_eq!(
            day_change(&v.assets, &opens),
            Some((d("1000.25"), Some(d("1.84"))))
        );
        assert_eq!(day_change(&v.assets, &BTreeMap::new()), None);
        assert_eq!(
            day_percent("BTC", d("97000.5"), Some(d("95000"))),
            Some(d("2.11"))
        );
        assert_eq!(
            day_percent("BTC", d("90250"), Some(d("95000"))),
            Some(d("-5"))
        );
        assert_eq!(day_percent("ETH", d("3000"), None), None);
        assert_eq!(day_percent("USDC", d("1"), None), Some(d("0")));
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
/// An asset's 24-hour change in percent, from its price and its price 24 hours ago (to two
/// decimals; `None` without a past price, or from zero). Stablecoins at 1 USD: 0.
pub fn day_percent(asset: &str, price: Decimal, open: Option<Decimal>) -> Option<Decimal> {
    if crate::exchange::is_usd_stable(asset) {
        return Some(Decimal::ZERO);
    }
    let open = open.filter(|o| !o.is_zero())?;
    Some(((price - open) * Decimal::ONE_HUNDRED / open).round_dp(2))
}

/// The portfolio's 24-hour change from price moves: Σ amount × (price − price 24 h ago) over
/// the assets with a past price, in USD, and as a percentage of the portfolio 24 hours ago
/// (assets without a past price, stablecoins included, counted as unchanged). `None` when no
/// asset has a past price.
pub fn day_change(
    rows: &[AssetRow],
    opens: &BTreeMap<String, Decimal>,
) -> Option<(Decimal, Option<Decimal>)> {
    let (mut change, mut before, mut any) = (Decimal::ZERO, Decimal::ZERO, false);
    for r in rows {
        let Some(value) = r.value else { continue };
        match (r.price, opens.get(&r.asset)) {
            (Some(price), Some(open)) if !crate::exchange::is_usd_stable(&r.asset) => {
                any = true;
                let moved = r.amount * (price - open);
                change += moved;
                before += value - moved;
            }
            _ => before += value,
        }
    }
    let percent = (!before.is_zero()).then(|| (change * Decimal::ONE_HUNDRED / before).round_dp(2));
    any.then_some((change, percent))
}

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

pub(crate) fn group_thousands(int: &str) -> String {
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
