//! Reading exchange JSON the same way for every exchange that answers in plain objects
//! (Binance, Bybit): numbers as exact decimals whether sent as strings or numbers (exponent
//! notation included), a missing or empty field as "none", anything else unreadable as a
//! [`ErrorKind::Malformed`] error naming the exchange — never a panic, never a rounded value.

use rust_decimal::Decimal;
use serde_json::Value;

use super::{ErrorKind, ExchangeError, HttpResponse};

/// An exact decimal from an exchange's text: plain (`0.1`) or exponent notation (`1E-8`).
/// A value a `Decimal` cannot hold exactly (more than 28 digits after the point, or too
/// large) is `None`, never rounded: a property test found that `"1000…0.000001"` (30
/// digits) used to read as `1000…0.00000`.
pub fn number(text: &str) -> Option<Decimal> {
    match text.find(['e', 'E']) {
        None => Decimal::from_str_exact(text).ok(),
        Some(at) => plain(&text[..at], text[at + 1..].parse::<i32>().ok()?)
            .and_then(|p| Decimal::from_str_exact(&p).ok()),
    }
}

/// `mantissa × 10^exp` written out without an exponent, trailing fraction zeros dropped;
/// `None` far outside what a `Decimal` holds.
fn plain(mantissa: &str, exp: i32) -> Option<String> {
    let (sign, digits) = match mantissa.as_bytes().first()? {
        b'-' => ("-", &mantissa[1..]),
        b'+' => ("", &mantissa[1..]),
        _ => ("", mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all = format!("{int}{frac}");
    if all.is_empty() || !all.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if all.bytes().all(|b| b == b'0') {
        return Some("0".into());
    }
    if exp.unsigned_abs() > 64 {
        return None;
    }
    // Where the point goes, counted in `all`'s digits.
    let point = int.len() as i64 + i64::from(exp);
    let (int, frac) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{all}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= all.len() {
        (
            format!("{all}{}", "0".repeat(point as usize - all.len())),
            String::new(),
        )
    } else {
        (
            all[..point as usize].to_string(),
            all[point as usize..].to_string(),
        )
    };
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// A reader whose errors name its exchange.
#[derive(Debug, Clone, Copy)]
pub struct Json(pub &'static str);

impl Json {
    /// An answer that is not what the exchange documents.
    pub fn malformed(self) -> ExchangeError {
        ExchangeError::general(
            ErrorKind::Malformed,
            format!(
                "{} sent an answer Holdix could not read. Try Refresh; if it keeps happening, the exchange may be having problems.",
                self.0
            ),
        )
    }

    /// An answer without the exchange's own error: a proxy refusal (`{"error": …}`), an
    /// HTTP failure (an HTML page from the exchange's edge), or an unreadable body.
    pub fn http_failure(self, resp: &HttpResponse, value: Option<Value>) -> ExchangeError {
        if let Some(detail) = value.as_ref().and_then(|v| v.get("error")?.as_str()) {
            return ExchangeError::general(
                if resp.status == 429 {
                    ErrorKind::RateLimit
                } else {
                    ErrorKind::Proxy
                },
                format!("The proxy refused the request: {detail}."),
            );
        }
        if resp.status >= 400 {
            return ExchangeError::general(
                ErrorKind::Unavailable,
                format!(
                    "{} is unavailable right now (HTTP {}). Your last snapshot stays on screen; try Refresh in a minute.",
                    self.0, resp.status
                ),
            );
        }
        self.malformed()
    }

    /// A string or number field as text (empty when missing, null or another type).
    pub fn text(v: &Value, field: &str) -> String {
        match v.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    /// An exact decimal; `None` when the field is missing or empty.
    pub fn decimal(self, v: &Value, field: &str) -> Result<Option<Decimal>, ExchangeError> {
        let t = Self::text(v, field);
        if t.is_empty() {
            return Ok(None);
        }
        number(&t).map(Some).ok_or_else(|| {
                ExchangeError::general(
                    ErrorKind::Malformed,
                    format!("{} sent a value Holdix could not read ({field} = {t:?}). Try Refresh; if it keeps happening, the exchange may be having problems.", self.0),
                )
            })
    }

    /// The sum of these fields (missing ones count as zero).
    pub fn amount(self, v: &Value, fields: &[&str]) -> Result<Decimal, ExchangeError> {
        let mut sum = Decimal::ZERO;
        for f in fields {
            sum = sum
                .checked_add(self.decimal(v, f)?.unwrap_or_default())
                .ok_or_else(|| self.malformed())?;
        }
        Ok(sum)
    }

    /// The array `v[field]` (`v` itself without a field); a missing or null field is empty.
    pub fn list<'v>(self, v: &'v Value, field: Option<&str>) -> Result<&'v [Value], ExchangeError> {
        let target = match field {
            Some(f) => v.get(f).unwrap_or(&Value::Null),
            None => v,
        };
        match target {
            Value::Array(items) => Ok(items),
            Value::Null if field.is_some() => Ok(&[]),
            _ => Err(self.malformed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const J: Json = Json("Test");

    #[test]
    fn numbers_are_exact_in_every_spelling() {
        let v = json!({"a": "0.1", "b": 0.2, "c": "1E-8", "d": "", "e": null, "f": "-0"});
        assert_eq!(J.decimal(&v, "a"), Ok(Some("0.1".parse().unwrap())));
        assert_eq!(J.decimal(&v, "b"), Ok(Some("0.2".parse().unwrap())));
        assert_eq!(J.decimal(&v, "c"), Ok(Some("0.00000001".parse().unwrap())));
        assert_eq!(J.decimal(&v, "d"), Ok(None));
        assert_eq!(J.decimal(&v, "e"), Ok(None));
        assert_eq!(J.decimal(&v, "missing"), Ok(None));
        assert!(J.decimal(&v, "f").unwrap().unwrap().is_zero());
        assert_eq!(
            J.amount(&v, &["a", "b", "d"]),
            Ok("0.3".parse().unwrap()),
            "0.1 + 0.2 is exactly 0.3 in decimals"
        );
    }

    #[test]
    fn unreadable_values_are_errors_that_name_the_exchange() {
        let v = json!({"x": "12abc", "huge": "1e400", "list": {"not": "a list"}});
        let e = J.decimal(&v, "x").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.message().starts_with("Test sent a value"), "{e}");
        assert!(J.decimal(&v, "huge").is_err());
        assert!(J.list(&v, Some("list")).is_err());
        assert_eq!(J.list(&v, Some("none")).unwrap().len(), 0);
        assert!(J.list(&v, None).is_err());
        let max = json!({"a": "79228162514264337593543950335", "b": "1"});
        assert!(
            J.amount(&max, &["a", "b"]).is_err(),
            "an overflow is an error, not a panic"
        );
    }
}
