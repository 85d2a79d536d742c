use trawl_model::parse_time_str;

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
    fn bounds_parse() {
        let now = 1_000_000_000_000_000_000;
        assert_eq!(parse_time_bound("15m", now), Some(now - 900_000_000_000));
        assert_eq!(parse_time_bound("now-1h", now), Some(now - 3_600_000_000_000));
        assert_eq!(parse_time_bound("now", now), Some(now));
        assert_eq!(parse_time_bound("2001-09-09T01:46:40Z", now), Some(now));
        assert_eq!(parse_time_bound("1000000000", now), Some(now));
        assert_eq!(parse_time_bound("soon", now), None);
    }
}
