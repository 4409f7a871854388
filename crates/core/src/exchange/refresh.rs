//! The refresh and the key check as a state machine the app drives (the core decides, the
//! shell performs effects, as in crux): [`Run::next`] says what to do — measure clocks, send
//! a batch, wait — and the app reports back with [`Run::clock_answer`] and [`Run::answered`].
//! Tested natively with canned answers; the app's `exchange.rs` only moves bytes.
//!
//! Rules:
//! * Every exchange host has its own clock offset ([`Clocks`], keyed by exchange and proxy
//!   route), measured before its first signed request and kept between runs.
//! * One batch carries every connection's requests and every exchange's price requests.
//! * A clock error re-measures that host's clock and retries that connection once; a rate
//!   limit pauses (as long as the exchange asked, at most [`MAX_PAUSE_MS`]) and retries, at
//!   most twice; anything else ends that connection with its error. One connection failing
//!   never stops the others.
//! * A parser may ask for more parts (pages); they go in the next batch.

use super::{exchange, Exchange, ExchangeError, Fetched, HttpRequest, HttpResponse, Parsed};
use super::{ErrorKind, Part, Verdict};
use crate::portfolio::PriceBook;
use crate::records::{Connection, ExchangeId};

/// Pauses before the first and second retry of a rate-limited connection, when the exchange
/// does not say how long.
pub const BACKOFF_MS: [u32; 2] = [500, 1_500];
/// Longest pause a refresh waits for; a longer `Retry-After` ends the connection with the
/// rate-limit message instead.
pub const MAX_PAUSE_MS: u64 = 10_000;

/// An exchange host's clock: exchange and proxy route.
pub type ClockKey = (ExchangeId, &'static str);

/// Clock offsets (exchange time − local time, ms) per host, and the last exchange time
/// handed to a signed request on each host. (A few hosts: lists, which cost the wasm bundle
/// less than maps.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clocks(Vec<(ClockKey, i64)>, Vec<(ClockKey, i64)>);

/// How far ahead of a host's clock the times handed out may run to stay unique.
const AHEAD_MS: i64 = 5_000;

impl Clocks {
    pub fn offset(&self, key: ClockKey) -> Option<i64> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, o)| *o)
    }

    /// The exchange time for the next signed request on a host: `now` on its clock, or just
    /// after the last one handed out there — so every request of a host gets its own,
    /// increasing millisecond even when a new measurement moves the clock back (WhiteBIT
    /// takes it as a nonce that must be unique). Never more than [`AHEAD_MS`] ahead.
    pub fn next_time(&mut self, key: ClockKey, now: i64) -> i64 {
        let last = self.1.iter().find(|(k, _)| *k == key).map(|(_, t)| *t);
        let time = match last {
            Some(t) if t >= now && t - now < AHEAD_MS => t + 1,
            _ => now,
        };
        self.1.retain(|(k, _)| *k != key);
        self.1.push((key, time));
        time
    }

    /// Records a measurement: the server's time against the local time halfway through the
    /// round trip.
    pub fn record(&mut self, key: ClockKey, before_ms: i64, after_ms: i64, server_ms: i64) {
        self.forget(key);
        self.0.push((key, server_ms - (before_ms + after_ms) / 2));
    }

    fn forget(&mut self, key: ClockKey) {
        self.0.retain(|(k, _)| *k != key);
    }
}

/// What the app does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// For each host: send its `time_request` (noting the local time before and after) and
    /// report with [`Run::clock_answer`].
    MeasureClocks(Vec<ClockKey>),
    /// Send these (one batch) and report the answers, in order, with [`Run::answered`].
    Send(Vec<HttpRequest>),
    /// Pause this long, then ask again.
    Wait(u32),
    Done,
}

/// What a job ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Fetched(Fetched),
    Verdict(Verdict),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    Holdings,
    Permission,
}

const PERMISSION: Part = Part::first("permission");

struct Job<'a> {
    conn: &'a Connection,
    exchange: &'static dyn Exchange,
    clock: ClockKey,
    goal: Goal,
    todo: Vec<Part>,
    answers: Vec<(Part, HttpResponse)>,
    round: Vec<(Part, HttpResponse)>,
    clock_retried: bool,
    pauses: usize,
    pause_ms: Option<u32>,
    outcome: Option<Result<Outcome, ExchangeError>>,
}

enum Slot {
    Job(usize, Part),
    Prices(usize),
}

/// One refresh (or key check) in progress.
pub struct Run<'a> {
    jobs: Vec<Job<'a>>,
    clocks: Clocks,
    unpriced: Vec<&'static dyn Exchange>,
    priced: Vec<(&'static dyn Exchange, Vec<HttpResponse>)>,
    slots: Vec<Slot>,
    prices: PriceBook,
    price_errors: Vec<ExchangeError>,
}

/// What a run produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per connection id, in the order given.
    pub results: Vec<(String, Result<Outcome, ExchangeError>)>,
    pub prices: PriceBook,
    pub price_errors: Vec<ExchangeError>,
    /// Offsets to keep for the next run.
    pub clocks: Clocks,
}

impl Report {
    /// The holdings of each connection (a key check's verdict counts as nothing fetched).
    pub fn fetched(self) -> Vec<(String, Result<Fetched, ExchangeError>)> {
        self.results
            .into_iter()
            .map(|(id, r)| {
                let fetched = r.map(|o| match o {
                    Outcome::Fetched(f) => f,
                    Outcome::Verdict(_) => Fetched::default(),
                });
                (id, fetched)
            })
            .collect()
    }
}

impl<'a> Run<'a> {
    fn new(connections: &'a [Connection], clocks: Clocks, goal: Goal) -> Self {
        let mut jobs = Vec::new();
        let mut unpriced: Vec<&'static dyn Exchange> = Vec::new();
        for conn in connections {
            let ex = exchange(conn.exchange);
            if goal == Goal::Holdings && !unpriced.iter().any(|e| e.id() == ex.id()) {
                unpriced.push(ex);
            }
            let todo = match goal {
                Goal::Holdings => ex.parts(conn),
                Goal::Permission => vec![PERMISSION],
            };
            jobs.push(Job {
                conn,
                exchange: ex,
                clock: (conn.exchange, ex.upstream(conn)),
                goal,
                todo,
                answers: Vec::new(),
                round: Vec::new(),
                clock_retried: false,
                pauses: 0,
                pause_ms: None,
                outcome: None,
            });
        }
        Self {
            jobs,
            clocks,
            unpriced,
            priced: Vec::new(),
            slots: Vec::new(),
            prices: PriceBook::default(),
            price_errors: Vec::new(),
        }
    }

    /// A refresh of every connection, with prices from each of their exchanges.
    pub fn refresh(connections: &'a [Connection], clocks: Clocks) -> Self {
        Self::new(connections, clocks, Goal::Holdings)
    }

    /// The key check of one connection (Connect and Re-test).
    pub fn verify(connection: &'a Connection, clocks: Clocks) -> Self {
        Self::new(std::slice::from_ref(connection), clocks, Goal::Permission)
    }

    fn open(&self) -> impl Iterator<Item = &Job<'a>> {
        self.jobs.iter().filter(|j| j.outcome.is_none())
    }

    /// What to do next; `now_ms` is the local clock.
    pub fn next(&mut self, now_ms: i64) -> Step {
        // Clocks first: every open job whose host clock is unknown.
        let mut missing: Vec<ClockKey> = Vec::new();
        for job in self.open() {
            if !job.todo.is_empty()
                && self.clocks.offset(job.clock).is_none()
                && !missing.contains(&job.clock)
            {
                missing.push(job.clock);
            }
        }
        if !missing.is_empty() {
            return Step::MeasureClocks(missing);
        }
        let mut batch = Vec::new();
        self.slots.clear();
        for (i, job) in self.jobs.iter_mut().enumerate() {
            if job.outcome.is_some() || job.pause_ms.is_some() || job.todo.is_empty() {
                continue;
            }
            let now = now_ms + self.clocks.offset(job.clock).unwrap_or_default();
            for part in std::mem::take(&mut job.todo) {
                let now = self.clocks.next_time(job.clock, now);
                let request = match job.goal {
                    Goal::Permission => job.exchange.permission_request(job.conn, now),
                    Goal::Holdings => job.exchange.request(job.conn, &part, now),
                };
                match request {
                    Ok(r) => {
                        batch.push(r);
                        self.slots.push(Slot::Job(i, part));
                    }
                    Err(e) => {
                        job.outcome = Some(Err(e));
                        break;
                    }
                }
            }
        }
        // A job that failed while signing takes back what it had queued in this batch.
        let failed: Vec<bool> = self.jobs.iter().map(|j| j.outcome.is_some()).collect();
        let mut kept = Vec::new();
        let mut slots = Vec::new();
        for (request, slot) in batch.into_iter().zip(std::mem::take(&mut self.slots)) {
            if !matches!(slot, Slot::Job(i, _) if failed[i]) {
                kept.push(request);
                slots.push(slot);
            }
        }
        self.slots = slots;
        for (n, ex) in std::mem::take(&mut self.unpriced).into_iter().enumerate() {
            for request in ex.price_requests() {
                kept.push(request);
                self.slots.push(Slot::Prices(n));
            }
            self.priced.push((ex, Vec::new()));
        }
        if !kept.is_empty() {
            return Step::Send(kept);
        }
        let pause = self
            .jobs
            .iter_mut()
            .filter(|j| j.outcome.is_none())
            .filter_map(|j| j.pause_ms.take())
            .max();
        match pause {
            Some(ms) => Step::Wait(ms),
            None => {
                // Anything still open has nothing left to do: it cannot happen with a
                // well-behaved parser, but must not loop for ever.
                for job in self.jobs.iter_mut().filter(|j| j.outcome.is_none()) {
                    job.outcome = Some(Err(ExchangeError::general(
                        ErrorKind::Malformed,
                        format!("{} sent an incomplete answer.", job.exchange.name()),
                    )));
                }
                Step::Done
            }
        }
    }

    /// A clock measurement: `before_ms`/`after_ms` local times around the request.
    pub fn clock_answer(
        &mut self,
        key: ClockKey,
        before_ms: i64,
        after_ms: i64,
        answer: Result<HttpResponse, ExchangeError>,
    ) {
        let server = answer.and_then(|resp| exchange(key.0).parse_time(&resp));
        match server {
            Ok(server) => self.clocks.record(key, before_ms, after_ms, server),
            Err(e) => {
                for job in self.jobs.iter_mut().filter(|j| j.outcome.is_none()) {
                    if job.clock == key {
                        job.outcome = Some(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// The answers to the last [`Step::Send`], in order, or why none came.
    pub fn answered(&mut self, answers: Result<Vec<HttpResponse>, ExchangeError>) {
        let slots = std::mem::take(&mut self.slots);
        let answers = match answers {
            Ok(a) if a.len() == slots.len() => a,
            Ok(_) => {
                return self.fail_all(ExchangeError::general(
                    ErrorKind::Proxy,
                    "The proxy answered a different number of requests than were sent.",
                ))
            }
            Err(e) => return self.fail_all_in(&slots, e),
        };
        let mut touched = vec![false; self.jobs.len()];
        for (slot, resp) in slots.into_iter().zip(answers) {
            match slot {
                Slot::Job(i, part) => {
                    self.jobs[i].round.push((part, resp));
                    touched[i] = true;
                }
                Slot::Prices(n) => self.priced[n].1.push(resp),
            }
        }
        for (i, touched) in touched.into_iter().enumerate() {
            if touched {
                self.settle(i);
            }
        }
        for (ex, answers) in self.priced.iter_mut() {
            if answers.is_empty() {
                continue;
            }
            match ex.parse_prices(&std::mem::take(answers)) {
                Ok(quotes) => self.prices.add(ex.id(), quotes),
                Err(e) => self.price_errors.push(e),
            }
        }
    }

    fn settle(&mut self, i: usize) {
        let job = &mut self.jobs[i];
        let round = std::mem::take(&mut job.round);
        let parsed = match job.goal {
            Goal::Permission => job
                .exchange
                .verdict(job.conn, &round[0].1)
                .map(Round::Verdict),
            Goal::Holdings => {
                let mut all = job.answers.clone();
                all.extend(round.iter().cloned());
                job.exchange.parse(job.conn, &all).map(|p| match p {
                    Parsed::Done(f) => Round::Fetched(f),
                    Parsed::More(parts) => Round::More(parts),
                })
            }
        };
        match parsed {
            Ok(Round::Verdict(v)) => job.outcome = Some(Ok(Outcome::Verdict(v))),
            Ok(Round::Fetched(f)) => job.outcome = Some(Ok(Outcome::Fetched(f))),
            Ok(Round::More(parts)) => {
                job.answers.extend(round);
                job.todo = parts;
            }
            Err(e) if e.kind == ErrorKind::Clock && !job.clock_retried => {
                job.clock_retried = true;
                job.todo = round.iter().map(|(p, _)| p.clone()).collect();
                let key = job.clock;
                self.clocks.forget(key);
            }
            Err(e)
                if e.kind == ErrorKind::RateLimit
                    && job.pauses < BACKOFF_MS.len()
                    && e.retry_after_ms.is_none_or(|ms| ms <= MAX_PAUSE_MS) =>
            {
                let wait = e
                    .retry_after_ms
                    .map_or(BACKOFF_MS[job.pauses], |ms| ms as u32);
                job.pauses += 1;
                job.pause_ms = Some(wait);
                job.todo = round.iter().map(|(p, _)| p.clone()).collect();
            }
            Err(e) => job.outcome = Some(Err(e)),
        }
    }

    fn fail_all_in(&mut self, slots: &[Slot], error: ExchangeError) {
        for slot in slots {
            match slot {
                Slot::Job(i, _) => {
                    let job = &mut self.jobs[*i];
                    if job.outcome.is_none() {
                        job.outcome = Some(Err(error.clone()));
                    }
                }
                Slot::Prices(_) => {}
            }
        }
        if slots.iter().any(|s| matches!(s, Slot::Prices(_))) {
            self.price_errors.push(error);
        }
    }

    fn fail_all(&mut self, error: ExchangeError) {
        for job in self.jobs.iter_mut().filter(|j| j.outcome.is_none()) {
            job.outcome = Some(Err(error.clone()));
        }
    }

    /// The results, once [`Run::next`] said [`Step::Done`].
    pub fn finish(self) -> Report {
        Report {
            results: self
                .jobs
                .into_iter()
                .map(|j| {
                    let outcome = j.outcome.unwrap_or_else(|| {
                        Err(ExchangeError::general(ErrorKind::Malformed, "unfinished"))
                    });
                    (j.conn.id.clone(), outcome)
                })
                .collect(),
            prices: self.prices,
            price_errors: self.price_errors,
            clocks: self.clocks,
        }
    }
}

/// What one round of answers came to.
enum Round {
    Verdict(Verdict),
    Fetched(Fetched),
    More(Vec<Part>),
}

/// Canned answers and a driver loop, for this module's tests and the exchange modules'.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::records::{ConnectionOptions, Secret};

    pub fn conn(id: &str, exchange: ExchangeId, region: Option<&str>) -> Connection {
        Connection {
            id: id.into(),
            exchange,
            label: id.into(),
            api_key: "key".into(),
            secret: Secret::new("secret"),
            passphrase: Some(Secret::new("pass")),
            options: ConnectionOptions {
                region: region.map(str::to_string),
                demo: false,
            },
            key_expires_ms: None,
            saved_ms: 0,
        }
    }

    /// A plausible OKX answer for each request, by route.
    pub fn okx_answer(req: &HttpRequest) -> HttpResponse {
        let path = req.path_and_query.split('?').next().unwrap();
        let body = match path {
            "/api/v5/market/tickers" => {
                r#"{"code":"0","msg":"","data":[{"instId":"BTC-USDT","last":"97000"}]}"#
            }
            "/api/v5/account/balance" => {
                r#"{"code":"0","msg":"","data":[{"details":[{"ccy":"BTC","eq":"1","eqUsd":""}]}]}"#
            }
            "/api/v5/account/config" => {
                r#"{"code":"0","msg":"","data":[{"perm":"read_only","uid":"1","ip":""}]}"#
            }
            _ => r#"{"code":"0","msg":"","data":[]}"#,
        };
        HttpResponse::new(200, body)
    }

    /// Server times by host: local time is 1000 ms halfway through every measurement, so the
    /// offsets are OKX +60 s, OKX EEA +30 s, anything else +1 s.
    fn server_time(key: ClockKey) -> HttpResponse {
        let body = match key {
            (ExchangeId::Okx, "okx") => r#"{"code":"0","msg":"","data":[{"ts":"61000"}]}"#,
            (ExchangeId::Okx, _) => r#"{"code":"0","msg":"","data":[{"ts":"31000"}]}"#,
            (ExchangeId::Bybit, _) => r#"{"retCode":0,"retMsg":"OK","result":{},"time":2000}"#,
            // Whole seconds: 1 s is read as 1.5 s.
            (ExchangeId::Whitebit, _) => r#"{"time":1}"#,
            _ => r#"{"serverTime":2000}"#,
        };
        HttpResponse::new(200, body)
    }

    /// Drives a run with `respond` standing in for the network; returns the steps seen.
    pub fn drive(
        run: &mut Run<'_>,
        mut respond: impl FnMut(&HttpRequest) -> HttpResponse,
    ) -> Vec<String> {
        let mut steps = Vec::new();
        for _ in 0..20 {
            match run.next(1_000) {
                Step::MeasureClocks(keys) => {
                    steps.push(format!("clocks {keys:?}"));
                    for key in keys {
                        run.clock_answer(key, 900, 1_100, Ok(server_time(key)));
                    }
                }
                Step::Send(reqs) => {
                    steps.push(format!("send {}", reqs.len()));
                    let answers = reqs.iter().map(&mut respond).collect();
                    run.answered(Ok(answers));
                }
                Step::Wait(ms) => steps.push(format!("wait {ms}")),
                Step::Done => {
                    steps.push("done".into());
                    break;
                }
            }
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{conn, drive, okx_answer};
    use super::*;

    #[test]
    fn one_batch_for_every_connection_and_price_after_each_hosts_clock() {
        let conns = [
            conn("global", ExchangeId::Okx, None),
            conn("eea", ExchangeId::Okx, Some("eea")),
        ];
        let mut run = Run::refresh(&conns, Clocks::default());
        let steps = drive(&mut run, okx_answer);
        assert_eq!(
            steps,
            vec![
                "clocks [(Okx, \"okx\"), (Okx, \"okx-eea\")]".to_string(),
                "send 9".into(), // 4 parts per connection + one price request for OKX
                "done".into()
            ]
        );
        let report = run.finish();
        assert_eq!(report.clocks.offset((ExchangeId::Okx, "okx")), Some(60_000));
        assert_eq!(
            report.clocks.offset((ExchangeId::Okx, "okx-eea")),
            Some(30_000)
        );
        let results = report.clone().fetched();
        assert_eq!(results.len(), 2);
        assert!(results
            .iter()
            .all(|(_, r)| r.as_ref().unwrap().holdings[0].asset == "BTC"));
        let (prices, _) = report.prices.resolve();
        assert_eq!(prices.of("BTC"), Some("97000".parse().unwrap()));
    }

    #[test]
    fn requests_are_signed_with_each_hosts_own_clock() {
        let conns = [
            conn("global", ExchangeId::Okx, None),
            conn("eea", ExchangeId::Okx, Some("eea")),
        ];
        let mut run = Run::refresh(&conns, Clocks::default());
        let mut stamps = std::collections::BTreeSet::new();
        drive(&mut run, |req| {
            if let Some((_, ts)) = req
                .headers
                .iter()
                .find(|(k, _)| *k == "OK-ACCESS-TIMESTAMP")
            {
                stamps.insert((req.upstream, ts.clone()));
            }
            okx_answer(req)
        });
        // Local 1000 ms: the global host +60 s, the EEA host +30 s; each request of a host a
        // millisecond of its own.
        let ms = |host: &'static str, base: &str| {
            (0..4)
                .map(|i| (host, format!("1970-01-01T00:{base}.00{i}Z")))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            stamps.into_iter().collect::<Vec<_>>(),
            [ms("okx", "01:01"), ms("okx-eea", "00:31")].concat()
        );
    }

    #[test]
    fn a_clock_error_re_measures_that_host_and_retries_once() {
        let conns = [
            conn("global", ExchangeId::Okx, None),
            conn("eea", ExchangeId::Okx, Some("eea")),
        ];
        let expired = || {
            HttpResponse::new(
                401,
                r#"{"code":"50102","msg":"Timestamp request expired","data":[]}"#,
            )
        };
        let mut run = Run::refresh(&conns, Clocks::default());
        let mut tries = 0;
        let steps = drive(&mut run, |req| {
            if req.upstream == "okx-eea" && req.path_and_query == "/api/v5/account/balance" {
                tries += 1;
                if tries == 1 {
                    return expired();
                }
            }
            okx_answer(req)
        });
        assert_eq!(
            steps,
            vec![
                "clocks [(Okx, \"okx\"), (Okx, \"okx-eea\")]".to_string(),
                "send 9".into(),
                "clocks [(Okx, \"okx-eea\")]".into(),
                "send 4".into(),
                "done".into()
            ]
        );
        assert!(run.finish().fetched().iter().all(|(_, r)| r.is_ok()));

        // Twice in a row: the second clock error is the answer, and only for that host.
        let mut run = Run::refresh(&conns, Clocks::default());
        drive(&mut run, |req| {
            if req.upstream == "okx-eea" && req.path_and_query == "/api/v5/account/balance" {
                return expired();
            }
            okx_answer(req)
        });
        let results = run.finish().fetched();
        assert!(
            results[0].1.is_ok(),
            "the global connection is not held back"
        );
        assert_eq!(results[1].1.as_ref().unwrap_err().kind, ErrorKind::Clock);
    }

    #[test]
    fn rate_limits_pause_as_asked_then_give_up() {
        let conns = [conn("o", ExchangeId::Okx, None)];
        let limited = |retry| {
            let mut r = HttpResponse::new(429, r#"{"code":"50011","msg":"Rate limit reached"}"#);
            r.retry_after_s = retry;
            r
        };
        let mut run = Run::refresh(&conns, Clocks::default());
        let mut n = 0;
        let steps = drive(&mut run, |req| {
            if req.path_and_query.starts_with("/api/v5/asset/balances") {
                n += 1;
                if n == 1 {
                    return limited(Some(3));
                }
            }
            okx_answer(req)
        });
        assert_eq!(steps[2..], ["wait 3000", "send 4", "done"]);
        assert!(run.finish().fetched()[0].1.is_ok());

        let mut run = Run::refresh(&conns, Clocks::default());
        let steps = drive(&mut run, |req| {
            if req.path_and_query.starts_with("/api/v5/asset/balances") {
                return limited(None);
            }
            okx_answer(req)
        });
        assert_eq!(
            steps[2..],
            ["wait 500", "send 4", "wait 1500", "send 4", "done"]
        );
        assert_eq!(
            run.finish().fetched()[0].1.as_ref().unwrap_err().kind,
            ErrorKind::RateLimit
        );

        // Longer than a refresh waits: the message at once.
        let mut run = Run::refresh(&conns, Clocks::default());
        let steps = drive(&mut run, |req| {
            if req.path_and_query.starts_with("/api/v5/asset/balances") {
                return limited(Some(120));
            }
            okx_answer(req)
        });
        assert_eq!(steps[2..], ["done"]);
    }

    #[test]
    fn an_unreachable_proxy_fails_every_connection() {
        let conns = [conn("o", ExchangeId::Okx, None)];
        let mut run = Run::refresh(&conns, Clocks::default());
        let Step::MeasureClocks(keys) = run.next(0) else {
            panic!()
        };
        assert_eq!(keys, vec![(ExchangeId::Okx, "okx")]);
        run.clock_answer(keys[0], 0, 0, Err(ExchangeError::unreachable("http://p")));
        assert_eq!(
            run.next(0),
            Step::Send(vec![HttpRequest::public_get(
                "okx",
                super::super::okx::TICKERS
            )])
        );
        run.answered(Err(ExchangeError::unreachable("http://p")));
        assert_eq!(run.next(0), Step::Done);
        let report = run.finish();
        assert_eq!(report.price_errors.len(), 1);
        let results = report.fetched();
        assert_eq!(
            results[0].1.as_ref().unwrap_err().kind,
            ErrorKind::Unreachable
        );
    }

    /// Each signed request of a host gets its own, increasing exchange time, also after a
    /// new measurement moved the clock back (up to 5 s); a clock far behind the last time
    /// handed out starts over from it.
    #[test]
    fn every_signed_request_of_a_host_gets_its_own_time() {
        let mut clocks = Clocks::default();
        let wb = (ExchangeId::Whitebit, "whitebit");
        let okx = (ExchangeId::Okx, "okx");
        assert_eq!(clocks.next_time(wb, 1_000), 1_000);
        assert_eq!(clocks.next_time(wb, 1_000), 1_001);
        assert_eq!(clocks.next_time(okx, 1_000), 1_000, "each host on its own");
        // Measured again, 400 ms further back.
        assert_eq!(clocks.next_time(wb, 601), 1_002);
        assert_eq!(clocks.next_time(wb, 5_000), 5_000);
        // Far behind (a clock that was 6 s ahead, corrected).
        assert_eq!(clocks.next_time(wb, -1_000), -1_000);
    }

    #[test]
    fn a_key_check_is_one_signed_request_after_the_clock() {
        let c = conn("o", ExchangeId::Okx, None);
        let mut run = Run::verify(&c, Clocks::default());
        let steps = drive(&mut run, okx_answer);
        assert_eq!(steps[1..], ["send 1", "done"]);
        let report = run.finish();
        assert_eq!(report.results[0].1, Ok(Outcome::Verdict(Verdict::ReadOnly)));
    }
}
