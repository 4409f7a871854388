//! Date formatting the exchanges' signatures need, without a date library in the bundle.

/// Unix milliseconds → `2020-12-08T09:08:57.715Z`.
pub fn iso8601_ms(unix_ms: i64) -> String {
    let (days, ms_of_day) = (
        unix_ms.div_euclid(86_400_000),
        unix_ms.rem_euclid(86_400_000),
    );
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// `2026-12-08` for Unix milliseconds.
pub fn day(unix_ms: i64) -> String {
    iso8601_ms(unix_ms)[..10].to_string()
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm, the inverse of the one
/// above).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-12-08T09:08:57Z` (fractional seconds allowed, UTC only) → Unix milliseconds;
/// `None` for anything else, an empty string included.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|(i, c)| b.get(*i) != Some(c)) || b.last() != Some(&b'Z') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, m, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let ms = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.iter().all(u8::is_ascii_digit) => frac
            .iter()
            .chain(b"000")
            .take(3)
            .fold(0, |n, d| n * 10 + i64::from(d - b'0')),
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + h) * 60 + m) * 60_000 + s * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same known dates read back, Bybit's `expiredAt` shape, and what is refused.
    #[test]
    fn iso8601_reads_back_to_unix_milliseconds() {
        assert_eq!(
            parse_iso8601("2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(
            parse_iso8601("2026-12-31T23:59:59.999Z"),
            Some(1_798_761_599_999)
        );
        // Bybit's documented example of `expiredAt`.
        assert_eq!(
            parse_iso8601("2023-12-22T07:20:25Z"),
            Some(1_703_229_625_000)
        );
        for ms in [0, 951_782_400_000, 1_607_418_537_715, 4_102_444_800_000] {
            assert_eq!(parse_iso8601(&iso8601_ms(ms)), Some(ms));
        }
        for bad in [
            "",
            "2023-12-22",
            "2023-12-22T07:20:25",
            "2023-13-01T00:00:00Z",
            "2023-12-22T07:20:25+02:00",
            "2023-12-22T07:20:25.Z",
            "２０23-12-22T07:20:25Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    /// Known dates: the OKX reference vector's timestamp, the epoch, a leap day, a year end.
    #[test]
    fn unix_milliseconds_format_as_iso8601() {
        assert_eq!(iso8601_ms(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
    }
}
