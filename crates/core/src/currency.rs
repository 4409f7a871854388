//! Display currencies: values are USD everywhere (snapshots, history, exports); a display
//! currency converts them when shown, at a rate from the exchanges' own tickers — USDT priced
//! in that currency (`USDT-EUR`: EUR per USD, used exactly as quoted), else the currency
//! priced in USDT (`EURUSDT`: its inverse, to 8 decimal places).

use rust_decimal::Decimal;

use crate::portfolio::{group_thousands, Prices};

/// The currencies besides USD that Holdix can show values in, where an exchange quotes them.
pub const FIATS: [&str; 9] = [
    "EUR", "GBP", "CHF", "JPY", "TRY", "UAH", "PLN", "BRL", "AUD",
];

/// The price-book key of USDT priced in `fiat` (`fiat` per USD).
pub fn fx_key(fiat: &str) -> String {
    format!("USD→{fiat}")
}

/// A display currency's rate: how many units one USD is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub code: &'static str,
    pub per_usd: Decimal,
}

/// The rate of `code` from the price book (`None` for USD, or when no exchange quotes it).
pub fn rate(prices: &Prices, code: &str) -> Option<Rate> {
    let code = FIATS.into_iter().find(|f| *f == code)?;
    let per_usd = match prices.0.get(&fx_key(code)) {
        Some(direct) => *direct,
        None => {
            let usd = prices.0.get(code).filter(|p| !p.is_zero())?;
            (Decimal::ONE / usd).round_dp(8).normalize()
        }
    };
    Some(Rate { code, per_usd })
}

impl Rate {
    /// A USD value in this currency, exactly: `usd × per_usd`.
    pub fn convert(&self, usd: Decimal) -> Decimal {
        usd * self.per_usd
    }
}

/// A USD value as shown in `rate`'s currency (USD without one): `$1,234.56`, `€1,142.00`,
/// `¥185,000`, `1,234.56 PLN`. Rounded to the currency's minor unit half to even, as every
/// amount in Holdix is shown.
pub fn format_money(usd: Decimal, rate: Option<&Rate>) -> String {
    let (value, code) = match rate {
        Some(r) => (r.convert(usd), r.code),
        None => (usd, "USD"),
    };
    let places = if code == "JPY" { 0 } else { 2 };
    let rounded = value.round_dp(places);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    let text = rounded.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut frac = frac.to_string();
    while frac.len() < places as usize {
        frac.push('0');
    }
    let number = if places == 0 {
        group_thousands(int)
    } else {
        format!("{}.{frac}", group_thousands(int))
    };
    match code {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        "JPY" => format!("{sign}¥{number}"),
        "TRY" => format!("{sign}₺{number}"),
        "UAH" => format!("{sign}₴{number}"),
        other => format!("{sign}{number} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn prices(rows: &[(&str, &str)]) -> Prices {
        Prices(rows.iter().map(|(k, v)| (k.to_string(), d(v))).collect())
    }

    #[test]
    fn rates_from_either_direction_of_the_pair() {
        // USDT-EUR 0.92: exactly 0.92 EUR per USD.
        let p = prices(&[("USD→EUR", "0.92"), ("EUR", "1.08"), ("GBP", "1.25")]);
        assert_eq!(
            rate(&p, "EUR").unwrap().per_usd,
            d("0.92"),
            "the direct quote first"
        );
        // GBPUSDT 1.25: 1 / 1.25 = 0.8.
        assert_eq!(rate(&p, "GBP").unwrap().per_usd, d("0.8"));
        // 1 / 1.08 to 8 places.
        let only = prices(&[("EUR", "1.08")]);
        assert_eq!(rate(&only, "EUR").unwrap().per_usd, d("0.92592593"));
        assert_eq!(rate(&p, "USD"), None);
        assert_eq!(rate(&p, "PLN"), None, "no exchange quotes it");
        assert_eq!(rate(&prices(&[("CHF", "0")]), "CHF"), None);
    }

    #[test]
    fn money_is_the_usd_value_times_the_rate_exactly() {
        let eur = Rate {
            code: "EUR",
            per_usd: d("0.92"),
        };
        assert_eq!(eur.convert(d("60286.50")), d("55463.58"));
        assert_eq!(format_money(d("60286.50"), Some(&eur)), "€55,463.58");
        assert_eq!(format_money(d("60286.50"), None), "$60,286.50");
        assert_eq!(format_money(d("-0.015"), None), "-$0.02");
        assert_eq!(
            format_money(d("14619.785"), None),
            "$14,619.78",
            "half to even"
        );
        let jpy = Rate {
            code: "JPY",
            per_usd: d("155.5"),
        };
        assert_eq!(format_money(d("1234.5"), Some(&jpy)), "¥191,965");
        let pln = Rate {
            code: "PLN",
            per_usd: d("4.01"),
        };
        assert_eq!(format_money(d("1000"), Some(&pln)), "4,010.00 PLN");
        let uah = Rate {
            code: "UAH",
            per_usd: d("41.3"),
        };
        assert_eq!(format_money(d("0.1"), Some(&uah)), "₴4.13");
    }
}
