//! Durations as rule files write them: `30s`, `5m`, `1h30m`, `28d` (or a number of seconds).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in nanoseconds, read and written as text such as `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Dur(pub i64);

const UNITS: [(&str, i64); 6] = [
    ("w", 7 * 86_400_000_000_000),
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
];

impl Dur {
    pub const fn secs(s: i64) -> Dur {
        Dur(s * 1_000_000_000)
    }
    pub const fn mins(m: i64) -> Dur {
        Dur(m * 60_000_000_000)
    }
    pub const fn hours(h: i64) -> Dur {
        Dur(h * 3_600_000_000_000)
    }
    pub const fn days(d: i64) -> Dur {
        Dur(d * 86_400_000_000_000)
    }

    pub fn ns(self) -> i64 {
        self.0
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.max(0) as u64)
    }

    /// `1h30m`, `90s`, `250ms`: one or more number-unit pairs (units ms, s, m, h, d, w).
    pub fn parse(text: &str) -> Option<Dur> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        if let Ok(n) = t.parse::<i64>() {
            return n.checked_mul(1_000_000_000).map(Dur);
        }
        let mut total: i64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return None;
            }
            let unit_len = rest[digits..].find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len() - digits);
            let part = &rest[..digits + unit_len];
            total = total.checked_add(trawl_model::parse_duration_ns(part)?)?;
            rest = &rest[digits + unit_len..];
        }
        Some(Dur(total))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        if rest < 0 {
            f.write_str("-")?;
            rest = rest.saturating_neg();
        }
        for (unit, ns) in UNITS {
            // Weeks only when whole, so `28d` stays `28d`.
            if unit == "w" && rest % ns != 0 {
                continue;
            }
            if rest >= ns {
                write!(f, "{}{unit}", rest / ns)?;
                rest %= ns;
            }
        }
        if rest > 0 {
            write!(f, "{rest}ns")?;
        }
        Ok(())
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => s.checked_mul(1_000_000_000).map(Dur).ok_or_else(|| serde::de::Error::custom("duration out of range")),
            Raw::Text(t) => Dur::parse(&t)
                .ok_or_else(|| serde::de::Error::custom(format!("{t:?} is not a duration such as 30s, 5m, 1h30m or 28d"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_compound_durations() {
        assert_eq!(Dur::parse("1h30m"), Some(Dur::mins(90)));
        assert_eq!(Dur::parse("90"), Some(Dur::secs(90)));
        assert_eq!(Dur::parse("250ms"), Some(Dur(250_000_000)));
        assert_eq!(Dur::parse("28d"), Some(Dur::days(28)));
        for bad in ["", "m", "5x", "-5m", "1h-30m"] {
            assert_eq!(Dur::parse(bad), None, "{bad}");
        }
        assert_eq!(Dur::mins(90).to_string(), "1h30m");
        assert_eq!(Dur::days(28).to_string(), "4w");
        assert_eq!(Dur::days(30).to_string(), "30d");
        assert_eq!(Dur(1_500_000_000).to_string(), "1s500ms");
        let d: Dur = serde_json::from_str("\"5m\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"5m\"");
    }
}
