//! Property tests over every exchange response parser (all four exchanges, every endpoint a
//! connection or a refresh reads): the simulator's documented answers, mutated, cut and
//! replaced by arbitrary bytes, must give a typed error or a value, never a panic; and every
//! number an exchange sends is read exactly or refused, never rounded.
//!
//! Cases per property: `HOLDIX_PROPTEST_CASES` (1,000 by default; `cargo xtask fuzz` runs
//! many more).

use holdix_core::exchange::{json, Exchange, HttpRequest, HttpResponse, Parsed, Part, EXCHANGES};
use holdix_core::records::{Connection, ConnectionOptions, ExchangeId, Secret};
use holdix_sim::{Fixture, Sim};
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use serde_json::Value;

fn cases() -> u32 {
    std::env::var("HOLDIX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The demo fixture's first key of each exchange, as a connection.
fn connection(id: ExchangeId, fixture: &Fixture) -> Connection {
    let (key, secret, passphrase) = match id {
        ExchangeId::Okx => {
            let k = &fixture.okx.keys[0];
            (
                &k.api_key,
                &k.secret,
                Some(Secret::new(k.passphrase.clone())),
            )
        }
        ExchangeId::Binance => (
            &fixture.binance.keys[0].api_key,
            &fixture.binance.keys[0].secret,
            None,
        ),
        ExchangeId::Bybit => (
            &fixture.bybit.keys[0].api_key,
            &fixture.bybit.keys[0].secret,
            None,
        ),
        ExchangeId::Whitebit => (
            &fixture.whitebit.keys[0].api_key,
            &fixture.whitebit.keys[0].secret,
            None,
        ),
    };
    Connection {
        id: format!("c-{}", id.name()),
        exchange: id,
        label: id.name().to_string(),
        api_key: key.clone(),
        secret: Secret::new(secret.clone()),
        passphrase,
        options: ConnectionOptions::default(),
        key_expires_ms: None,
        saved_ms: 0,
    }
}

/// The simulator's answer, asked as the proxy would send it (every host of an exchange
/// family is played under the family's prefix, each Bybit and WhiteBIT site under its own).
fn ask(sim: &Sim, req: &HttpRequest) -> HttpResponse {
    let site = match req.upstream {
        u if u.starts_with("okx") => "okx",
        u if u.starts_with("binance") => "binance",
        u => u,
    };
    let (status, body) = holdix_sim::answer(
        sim,
        site,
        req.method,
        &req.path_and_query,
        &req.headers,
        req.body.as_bytes(),
    )
    .unwrap_or_else(|| panic!("the simulator plays {}", req.upstream));
    HttpResponse::new(status, body)
}

/// Everything one exchange reads for a connection and a refresh, as documented.
struct Documented {
    exchange: &'static dyn Exchange,
    conn: Connection,
    time: HttpResponse,
    permission: HttpResponse,
    parts: Vec<(Part, HttpResponse)>,
    prices: Vec<HttpResponse>,
}

impl Documented {
    /// Every answer, by position: time, permission, the refresh's parts, the prices.
    fn len(&self) -> usize {
        2 + self.parts.len() + self.prices.len()
    }

    fn body(&self, i: usize) -> &str {
        match i {
            0 => &self.time.body,
            1 => &self.permission.body,
            i if i < 2 + self.parts.len() => &self.parts[i - 2].1.body,
            i => &self.prices[i - 2 - self.parts.len()].body,
        }
    }

    /// Runs the parser that reads answer `i`, with that answer's body replaced; `true` when
    /// it gave a value, `false` for a typed error. (A panic fails the property.)
    fn parse_with(&self, i: usize, body: &str) -> bool {
        let ex = self.exchange;
        match i {
            0 => {
                let mut r = self.time.clone();
                r.body = body.to_string();
                ex.parse_time(&r).is_ok()
            }
            1 => {
                let mut r = self.permission.clone();
                r.body = body.to_string();
                ex.verdict(&self.conn, &r).is_ok()
            }
            i if i < 2 + self.parts.len() => {
                let mut answers = self.parts.clone();
                answers[i - 2].1.body = body.to_string();
                // Only the pages up to the changed one: the parser may ask for more.
                answers.truncate(i - 1);
                ex.parse(&self.conn, &answers).is_ok()
            }
            i => {
                let mut prices = self.prices.clone();
                prices[i - 2 - self.parts.len()].body = body.to_string();
                ex.parse_prices(&prices).is_ok()
            }
        }
    }
}

fn documented() -> &'static [Documented] {
    static ALL: std::sync::OnceLock<Vec<Documented>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let fixture = Fixture::demo();
        let sim = Sim::new(fixture.clone());
        EXCHANGES
            .iter()
            .map(|ex| {
                let conn = connection(ex.id(), &fixture);
                // WhiteBIT wants a larger nonce (the time) on every request.
                let mut now = now_ms();
                let time = ask(&sim, &ex.time_request(ex.upstream(&conn)));
                let permission = ask(&sim, &ex.permission_request(&conn, now).unwrap());
                let mut parts = Vec::new();
                let mut next = ex.parts(&conn);
                loop {
                    for part in next {
                        now += 1;
                        let answer = ask(&sim, &ex.request(&conn, &part, now).unwrap());
                        parts.push((part, answer));
                    }
                    match ex
                        .parse(&conn, &parts)
                        .expect("the documented answers parse")
                    {
                        Parsed::Done(_) => break,
                        Parsed::More(more) => next = more,
                    }
                }
                let prices: Vec<_> = ex.price_requests().iter().map(|r| ask(&sim, r)).collect();
                Documented {
                    exchange: *ex,
                    conn,
                    time,
                    permission,
                    parts,
                    prices,
                }
            })
            .collect()
    })
}

/// The control: every documented answer reads, and the refresh has holdings.
#[test]
fn documented_answers_all_read() {
    for d in documented() {
        for i in 0..d.len() {
            assert!(
                d.parse_with(i, d.body(i)),
                "{} answer {i}",
                d.exchange.name()
            );
        }
        let Parsed::Done(fetched) = d.exchange.parse(&d.conn, &d.parts).unwrap() else {
            panic!("more pages after the last");
        };
        assert!(!fetched.holdings.is_empty(), "{}", d.exchange.name());
        assert!(d.len() >= 4, "{}: {} answers", d.exchange.name(), d.len());
    }
}

/// A documented answer cut at every byte: a typed error for the cut-off server time (never
/// a time from half an answer), and never a panic anywhere.
#[test]
fn answers_cut_at_every_byte() {
    let mut cuts = 0;
    for d in documented() {
        for i in 0..d.len() {
            let body = d.body(i);
            for end in 0..body.len() {
                if !body.is_char_boundary(end) {
                    continue;
                }
                let cut = &body[..end];
                let read = d.parse_with(i, cut);
                if i == 0 && cut.trim().len() < body.trim().len() {
                    assert!(!read, "{}: time read from {cut:?}", d.exchange.name());
                }
                cuts += 1;
            }
        }
    }
    assert!(cuts > 10_000, "{cuts} cuts");
}

/// A place in a JSON value: the path of keys and indexes to it.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                at.push(Step::Key(k.clone()));
                out.push(at.clone());
                paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                out.push(at.clone());
                paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// What happens to the field at a place.
#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Rename,
    Set(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let huge = "123456789012345678901234567890123456789";
    prop_oneof![
        Just(Mutation::Remove),
        Just(Mutation::Rename),
        Just(Mutation::Set(Value::String(String::new()))),
        Just(Mutation::Set(Value::Null)),
        Just(Mutation::Set(Value::Bool(true))),
        Just(Mutation::Set(Value::Array(vec![]))),
        Just(Mutation::Set(Value::Object(Default::default()))),
        Just(Mutation::Set(Value::String(huge.into()))),
        Just(Mutation::Set(Value::String(format!("-{huge}.{huge}")))),
        Just(Mutation::Set(serde_json::json!(1e300))),
        Just(Mutation::Set(serde_json::json!(-0.0))),
        Just(Mutation::Set(Value::String("-0".into()))),
        Just(Mutation::Set(Value::String("1.5E+3".into()))),
        Just(Mutation::Set(Value::String("1e-40".into()))),
        Just(Mutation::Set(Value::String("NaN".into()))),
        Just(Mutation::Set(serde_json::json!(u64::MAX))),
        Just(Mutation::Set(serde_json::json!(i64::MIN))),
        "\\PC{0,12}".prop_map(|s| Mutation::Set(Value::String(s))),
        any::<i64>().prop_map(|n| Mutation::Set(serde_json::json!(n))),
        any::<f64>().prop_map(|n| Mutation::Set(serde_json::json!(n))),
    ]
}

fn apply(v: &mut Value, path: &[Step], m: &Mutation) {
    let (last, parents) = path.split_last().expect("a non-empty path");
    let mut at = v;
    for step in parents {
        at = match (step, at) {
            (Step::Key(k), Value::Object(map)) => map.get_mut(k).unwrap(),
            (Step::Index(i), Value::Array(items)) => &mut items[*i],
            _ => unreachable!("paths come from this value"),
        };
    }
    match (last, at, m) {
        (Step::Key(k), Value::Object(map), Mutation::Remove) => {
            map.remove(k);
        }
        (Step::Key(k), Value::Object(map), Mutation::Rename) => {
            if let Some(child) = map.remove(k) {
                map.insert(format!("{k}_renamed"), child);
            }
        }
        (Step::Index(i), Value::Array(items), Mutation::Remove | Mutation::Rename) => {
            items.remove(*i);
        }
        (Step::Key(k), Value::Object(map), Mutation::Set(new)) => {
            map.insert(k.clone(), new.clone());
        }
        (Step::Index(i), Value::Array(items), Mutation::Set(new)) => items[*i] = new.clone(),
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A documented answer with one field removed, renamed, emptied, nulled, made huge,
    /// negative zero, exponent notation, another type: a value or a typed error.
    #[test]
    fn prop_mutated_answers_never_panic(
        which in any::<Index>(),
        answer in any::<Index>(),
        place in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let all = documented();
        let d = &all[which.index(all.len())];
        let i = answer.index(d.len());
        let mut value: Value = serde_json::from_str(d.body(i)).unwrap();
        for m in &mutations {
            let mut found = Vec::new();
            paths(&value, &mut Vec::new(), &mut found);
            if found.is_empty() {
                break;
            }
            let path = &found[place.index(found.len())];
            apply(&mut value, path, m);
        }
        d.parse_with(i, &value.to_string());
    }

    /// Arbitrary bytes (not UTF-8 either: decoded as the browser glue does, lossily) in
    /// place of any answer.
    #[test]
    fn prop_arbitrary_bytes_never_panic(
        which in any::<Index>(),
        answer in any::<Index>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let all = documented();
        let d = &all[which.index(all.len())];
        let text = String::from_utf8_lossy(&bytes);
        d.parse_with(answer.index(d.len()), &text);
    }

    /// Every exchange number goes through `json::number`: it is read exactly (the same
    /// value as the text, by an independent reading of the digits) or refused.
    #[test]
    fn prop_numbers_are_exact_or_refused(text in decimal_text()) {
        if let Some(d) = json::number(&text) {
            prop_assert_eq!(canonical(&d.to_string()), canonical(&text), "{} read as {}", text, d);
        }
    }

    /// The same, through a whole parser: a balance field set to such a number is read
    /// exactly or the answer is refused.
    #[test]
    fn prop_documented_numbers_stay_exact(text in decimal_text(), place in any::<Index>()) {
        let all = documented();
        // Binance's account answer: `balances[].free` decides the spot holdings.
        let d = all.iter().find(|d| d.exchange.id() == ExchangeId::Binance).unwrap();
        let i = d.parts.iter().position(|(p, _)| p.name == "spot").map(|i| i + 2);
        if let Some(i) = i {
            let mut value: Value = serde_json::from_str(d.body(i)).unwrap();
            let balances = value["balances"].as_array_mut().unwrap();
            let n = place.index(balances.len());
            balances[n]["free"] = Value::String(text.clone());
            balances[n]["locked"] = Value::String("0".into());
            let asset = balances[n]["asset"].as_str().unwrap().to_string();
            let mut answers = d.parts.clone();
            answers[i - 2].1.body = value.to_string();
            if let Ok(Parsed::Done(fetched)) = d.exchange.parse(&d.conn, &answers) {
                let read: Vec<Decimal> = fetched
                    .holdings
                    .iter()
                    .filter(|h| h.asset == asset && h.account == holdix_core::portfolio::Account::Spot)
                    .map(|h| h.amount)
                    .collect();
                for amount in read {
                    prop_assert_eq!(canonical(&amount.to_string()), canonical(&text));
                }
            }
        }
    }
}

/// Decimal texts: plain or exponent notation, signs, leading and trailing zeros, up to 40
/// significant digits (more than a `Decimal` holds).
fn decimal_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just(""), Just("-"), Just("+")],
        "[0-9]{0,30}",
        proptest::option::of("[0-9]{0,30}"),
        proptest::option::of((
            prop_oneof![Just("e"), Just("E")],
            prop_oneof![Just(""), Just("-"), Just("+")],
            0u32..40,
        )),
    )
        .prop_filter("some digits", |(_, int, frac, _)| {
            !int.is_empty() || frac.as_ref().is_some_and(|f| !f.is_empty())
        })
        .prop_map(|(sign, int, frac, exp)| {
            let mut s = format!("{sign}{int}");
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, es, n)) = exp {
                s.push_str(&format!("{e}{es}{n}"));
            }
            s
        })
}

/// A decimal text as (negative, significant digits, power of ten of the last digit), with
/// no leading or trailing zeros; zero is `(false, "", 0)`. Independent of `Decimal`.
fn canonical(text: &str) -> (bool, String, i64) {
    let (neg, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().unwrap()),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let mut power = exp - frac.len() as i64;
    let trimmed_end = digits.trim_end_matches('0');
    power += (digits.len() - trimmed_end.len()) as i64;
    let significant = trimmed_end.trim_start_matches('0').to_string();
    if significant.is_empty() {
        return (false, String::new(), 0);
    }
    (neg, significant, power)
}
