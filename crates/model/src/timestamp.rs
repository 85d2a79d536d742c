use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_ns() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}

/// An epoch number whose unit is guessed from its magnitude: seconds, milliseconds,
/// microseconds or nanoseconds (the ranges do not overlap for dates after 1973).
fn epoch_to_ns(x: f64) -> Option<i64> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let ns = if x < 1e11 {
        x * 1e9
    } else if x < 1e14 {
        x * 1e6
    } else if x < 1e17 {
        x * 1e3
    } else {
        x
    };
    if ns > i64::MAX as f64 {
        return None;
    }
    Some(ns as i64)
}

/// [`epoch_to_ns`] for integers, exact (no rounding through floating point).
fn epoch_int_to_ns(n: i64) -> Option<i64> {
    if n < 0 {
        return None;
    }
    if n < 100_000_000_000 {
        n.checked_mul(1_000_000_000)
    } else if n < 100_000_000_000_000 {
        n.checked_mul(1_000_000)
    } else if n < 100_000_000_000_000_000 {
        n.checked_mul(1_000)
    } else {
        Some(n)
    }
}

/// Parses RFC 3339 (also with a space instead of `T`, or without an offset, taken as UTC) or an
/// epoch number in s/ms/us/ns written as text.
pub fn parse_time_str(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Ok(n) = t.parse::<i64>() {
            return epoch_int_to_ns(n);
        }
        return epoch_to_ns(t.parse::<f64>().ok()?);
    }
    let mut s = t.to_string();
    if s.len() > 10 && s.as_bytes()[10] == b' ' {
        s.replace_range(10..11, "T");
    }
    if let Ok(dt) = OffsetDateTime::parse(&s, &Rfc3339) {
        return i64::try_from(dt.unix_timestamp_nanos()).ok();
    }
    // No offset: UTC.
    let with_z = format!("{s}Z");
    OffsetDateTime::parse(&with_z, &Rfc3339)
        .ok()
        .and_then(|dt| i64::try_from(dt.unix_timestamp_nanos()).ok())
}

/// A timestamp from a JSON number or string.
pub fn parse_time_value(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => epoch_int_to_ns(i),
            None => epoch_to_ns(n.as_f64()?),
        },
        serde_json::Value::String(s) => parse_time_str(s),
        _ => None,
    }
}

pub fn format_rfc3339(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .ok()
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| ns.to_string())
}

/// What [`sanity_check_time`] decided about an event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeCheck {
    Ok,
    /// More than an hour ahead of the server clock.
    Future,
    /// Before 2000-01-01: almost always a missing or zero timestamp.
    Ancient,
}

const YEAR_2000_NS: i64 = 946_684_800 * 1_000_000_000;
const FUTURE_SLACK_NS: i64 = 3600 * 1_000_000_000;

/// Timestamps far off are accepted with the observed time instead; the caller records the
/// original value in the `trawl.time_adjusted` attribute (documented in ARCHITECTURE.md).
pub fn sanity_check_time(time_ns: i64, now_ns: i64) -> TimeCheck {
    if time_ns > now_ns.saturating_add(FUTURE_SLACK_NS) {
        TimeCheck::Future
    } else if time_ns < YEAR_2000_NS {
        TimeCheck::Ancient
    } else {
        TimeCheck::Ok
    }
}

/// Lowercases a hex id and removes dashes (UUID-style request ids); an all-zero id is absent.
pub fn normalize_id(id: &str) -> String {
    let s: String = id.trim().chars().filter(|c| *c != '-').flat_map(|c| c.to_lowercase()).collect();
    if !s.is_empty() && s.bytes().all(|b| b == b'0') {
        String::new()
    } else {
        s
    }
}

/// Parses a time bound: RFC 3339, epoch s/ms/us/ns, `now`, or a duration before now such as
/// `15m`, `1h`, `7d`, `now-1h`.
pub fn parse_time_bound(text: &str, now: i64) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t == "now" {
        return Some(now);
    }
    let ago = t.strip_prefix("now-").unwrap_or(t);
    if let Some(d) = parse_duration_ns(ago) {
        return Some(now.saturating_sub(d));
    }
    parse_time_str(t)
}

/// `500ms`, `30s`, `15m`, `2h`, `7d`, `1w`.
pub fn parse_duration_ns(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 7 * 86_400_000_000_000,
        _ => return None,
    };
    n.checked_mul(unit_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_units_are_guessed_by_magnitude() {
        let ns = 1_764_000_000_000_000_000i64;
        assert_eq!(parse_time_str("1764000000"), Some(ns));
        assert_eq!(parse_time_str("1764000000000"), Some(ns));
        assert_eq!(parse_time_str("1764000000000000"), Some(ns));
        assert_eq!(parse_time_str("1764000000000000123"), Some(ns + 123));
        assert_eq!(parse_time_value(&serde_json::json!(1764000000.5)), Some(ns + 500_000_000));
        assert_eq!(parse_time_value(&serde_json::json!(1764000000000000123i64)), Some(ns + 123));
        assert_eq!(parse_time_value(&serde_json::json!(1795700026007i64)), Some(1_795_700_026_007_000_000));
        assert_eq!(parse_time_str("1795700026007123"), Some(1_795_700_026_007_123_000));
    }

    #[test]
    fn rfc3339_variants_parse() {
        let ns = 1_764_000_000_000_000_000i64; // 2025-11-24T16:00:00Z
        assert_eq!(parse_time_str("2025-11-24T16:00:00Z"), Some(ns));
        assert_eq!(parse_time_str("2025-11-24T16:00:00.000Z"), Some(ns));
        assert_eq!(parse_time_str("2025-11-24 16:00:00Z"), Some(ns));
        assert_eq!(parse_time_str("2025-11-24T16:00:00"), Some(ns));
        assert_eq!(parse_time_str("2025-11-25T01:00:00+09:00"), Some(ns));
        assert_eq!(parse_time_str("yesterday"), None);
        assert_eq!(format_rfc3339(ns), "2025-11-24T16:00:00Z");
    }

    #[test]
    fn ids_normalise() {
        assert_eq!(normalize_id("ABCD-ef01"), "abcdef01");
        assert_eq!(normalize_id("0000"), "");
    }
}
