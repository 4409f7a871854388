//! Where the money sits: a [`Valuation`] split by asset (the largest and "Other"), by
//! exchange and by kind of account, each part with its USD value and its percentage of the
//! total — the numbers behind the dashboard's allocation bars and table.

use rust_decimal::Decimal;

use crate::portfolio::{Account, Valuation};
use crate::records::ExchangeId;

/// Assets shown by name; the rest together are "Other".
pub const TOP_ASSETS: usize = 8;

/// One part of an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub label: String,
    pub usd: Decimal,
    /// Percent of the total, two decimals (0 when the total is 0).
    pub percent: Decimal,
}

/// The kinds of account, across exchanges' names for them.
pub fn kind(account: Account) -> &'static str {
    match account {
        Account::Trading | Account::Spot => "Spot & trading",
        Account::Funding | Account::Main => "Funding",
        Account::Earn => "Earn",
        Account::Margin | Account::Collateral => "Margin",
        Account::Futures | Account::CoinFutures | Account::Derivatives => "Futures",
    }
}

/// Parts with their share of `total`, largest first (equal ones in the order given; "Other"
/// always last), empty parts left out. (A few parts: picked largest first rather than
/// sorted, which would add a sort routine to the bundle for every caller's closure.)
fn slices(mut parts: Vec<(&str, Decimal)>, other: Decimal, total: Decimal) -> Vec<Slice> {
    let slice = |label: &str, usd: Decimal| Slice {
        label: label.to_string(),
        usd,
        percent: if total.is_zero() {
            Decimal::ZERO
        } else {
            (usd * Decimal::ONE_HUNDRED / total).round_dp(2)
        },
    };
    parts.retain(|(_, usd)| !usd.is_zero());
    let mut out = Vec::with_capacity(parts.len() + 1);
    while !parts.is_empty() {
        let mut largest = 0;
        for (i, (_, usd)) in parts.iter().enumerate() {
            if *usd > parts[largest].1 {
                largest = i;
            }
        }
        let (label, usd) = parts.remove(largest);
        out.push(slice(label, usd));
    }
    if !other.is_zero() {
        out.push(slice("Other", other));
    }
    out
}

/// By asset: the [`TOP_ASSETS`] largest, then "Other" for the rest (unpriced assets are not
/// in the total, so not here). The valuation's assets come largest first already.
pub fn by_asset(v: &Valuation) -> Vec<Slice> {
    let mut priced: Vec<(&str, Decimal)> = v
        .assets
        .iter()
        .filter_map(|a| Some((a.asset.as_str(), a.value?)))
        .collect();
    let rest = priced.split_off(priced.len().min(TOP_ASSETS));
    slices(priced, rest.iter().map(|(_, usd)| *usd).sum(), v.total)
}

/// Adds `usd` to the part named `label` (a new part at the end).
fn add<'a>(parts: &mut Vec<(&'a str, Decimal)>, label: &'a str, usd: Decimal) {
    match parts.iter_mut().find(|(l, _)| *l == label) {
        Some(part) => part.1 += usd,
        None => parts.push((label, usd)),
    }
}

/// By exchange; `exchange_of` names a connection's exchange.
pub fn by_exchange(v: &Valuation, exchange_of: &dyn Fn(&str) -> Option<ExchangeId>) -> Vec<Slice> {
    let mut parts = Vec::new();
    for (conn, usd) in &v.by_connection {
        if let Some(ex) = exchange_of(conn) {
            add(&mut parts, ex.name(), *usd);
        }
    }
    slices(parts, Decimal::ZERO, v.total)
}

/// By kind of account ([`kind`]).
pub fn by_account(v: &Valuation) -> Vec<Slice> {
    let mut parts = Vec::new();
    for ((_, account), usd) in &v.by_account {
        add(&mut parts, kind(*account), *usd);
    }
    slices(parts, Decimal::ZERO, v.total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::{value, Holding, Prices};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn h(conn: &str, account: Account, asset: &str, amount: &str) -> Holding {
        Holding {
            connection: conn.into(),
            account,
            asset: asset.into(),
            amount: d(amount),
            usd: None,
        }
    }

    /// Eleven priced assets and one without a price, on two connections of two exchanges.
    fn valuation() -> Valuation {
        let prices = Prices(
            [("BTC", "100"), ("ETH", "10")]
                .into_iter()
                .map(|(a, p)| (a.to_string(), d(p)))
                .collect(),
        );
        let mut holdings = vec![
            h("okx-1", Account::Trading, "BTC", "2"),
            h("okx-1", Account::Funding, "ETH", "3"),
            h("wb-1", Account::Main, "ETH", "1"),
            h("wb-1", Account::Collateral, "USDT", "25"),
            h("wb-1", Account::Earn, "USDC", "15"),
            h("wb-1", Account::Spot, "NOPRICE", "5"),
        ];
        // Seven more, valued by the exchange itself at $1 to $7.
        for (i, asset) in ["A", "B", "C", "D", "E", "F", "G"].iter().enumerate() {
            let mut x = h("okx-1", Account::Spot, asset, "1");
            x.usd = Some(d(&(1 + i).to_string()));
            holdings.push(x);
        }
        value(&holdings, &prices)
    }

    fn table(slices: &[Slice]) -> Vec<(&str, String, String)> {
        slices
            .iter()
            .map(|s| (s.label.as_str(), s.usd.to_string(), s.percent.to_string()))
            .collect()
    }

    #[test]
    fn by_asset_names_the_eight_largest_then_other() {
        let v = valuation();
        // 200 + 40 + 25 + 15 + (1 + … + 7 = 28) = 308.
        assert_eq!(v.total, d("308"));
        assert_eq!(
            table(&by_asset(&v)),
            vec![
                ("BTC", "200".into(), "64.94".into()),
                ("ETH", "40".into(), "12.99".into()),
                ("USDT", "25".into(), "8.12".into()),
                ("USDC", "15".into(), "4.87".into()),
                ("G", "7".into(), "2.27".into()),
                ("F", "6".into(), "1.95".into()),
                ("E", "5".into(), "1.62".into()),
                ("D", "4".into(), "1.30".into()),
                // C, B and A: 3 + 2 + 1.
                ("Other", "6".into(), "1.95".into()),
            ]
        );
        let sum: Decimal = by_asset(&v).iter().map(|s| s.usd).sum();
        assert_eq!(sum, v.total, "the parts add up to the total");
    }

    #[test]
    fn by_exchange_and_by_kind_of_account() {
        let v = valuation();
        let exchange_of = |conn: &str| match conn {
            "okx-1" => Some(ExchangeId::Okx),
            "wb-1" => Some(ExchangeId::Whitebit),
            _ => None,
        };
        assert_eq!(
            table(&by_exchange(&v, &exchange_of)),
            vec![
                ("OKX", "258".into(), "83.77".into()),
                ("WhiteBIT", "50".into(), "16.23".into()),
            ]
        );
        // Trading + Spot 228; Funding + Main 40; Margin (WhiteBIT's Collateral) 25; Earn 15.
        assert_eq!(
            table(&by_account(&v)),
            vec![
                ("Spot & trading", "228".into(), "74.03".into()),
                ("Funding", "40".into(), "12.99".into()),
                ("Margin", "25".into(), "8.12".into()),
                ("Earn", "15".into(), "4.87".into()),
            ]
        );
        assert!(by_asset(&Valuation::default()).is_empty());
    }
}
