use serde::{Deserialize, Serialize};

/// Normalised severity level (OpenTelemetry severity ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 6] =
        [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// From an OpenTelemetry severity number (1..=24); 0 or out of range gives `None`.
    pub fn from_severity_number(n: i32) -> Option<Level> {
        Some(match n {
            1..=4 => Level::Trace,
            5..=8 => Level::Debug,
            9..=12 => Level::Info,
            13..=16 => Level::Warn,
            17..=20 => Level::Error,
            21..=24 => Level::Fatal,
            _ => return None,
        })
    }

    /// The lowest OpenTelemetry severity number of this level.
    pub fn severity_number(self) -> i32 {
        match self {
            Level::Trace => 1,
            Level::Debug => 5,
            Level::Info => 9,
            Level::Warn => 13,
            Level::Error => 17,
            Level::Fatal => 21,
        }
    }

    /// Parses the spellings seen in the wild (`warn`, `WARNING`, `err`, `crit`, `E`, syslog
    /// names, OTel texts such as `INFO2`, numbers as OTel severity numbers).
    pub fn parse(text: &str) -> Option<Level> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i32>() {
            return Level::from_severity_number(n);
        }
        let lower = t.to_ascii_lowercase();
        // OTel severity texts may carry a digit suffix: "INFO2", "ERROR4".
        let base = lower.trim_end_matches(|c: char| c.is_ascii_digit());
        Some(match base {
            "trace" | "trc" | "t" | "finest" | "finer" => Level::Trace,
            "debug" | "dbg" | "d" | "fine" | "verbose" | "v" | "config" => Level::Debug,
            "info" | "inf" | "i" | "information" | "informational" | "notice" | "n" => Level::Info,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "e" | "severe" | "exception" => Level::Error,
            "fatal" | "critical" | "crit" | "f" | "c" | "alert" | "emerg" | "emergency" | "panic" => {
                Level::Fatal
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_spellings_normalise() {
        for (text, level) in [
            ("warn", Level::Warn),
            ("WARNING", Level::Warn),
            ("Warn", Level::Warn),
            ("err", Level::Error),
            ("fatal", Level::Fatal),
            ("critical", Level::Fatal),
            ("INFO2", Level::Info),
            ("notice", Level::Info),
            ("17", Level::Error),
            ("dbg", Level::Debug),
        ] {
            assert_eq!(Level::parse(text), Some(level), "{text}");
        }
        assert_eq!(Level::parse("banana"), None);
    }

    #[test]
    fn severity_numbers_map_to_ranges() {
        assert_eq!(Level::from_severity_number(0), None);
        assert_eq!(Level::from_severity_number(9), Some(Level::Info));
        assert_eq!(Level::from_severity_number(16), Some(Level::Warn));
        assert_eq!(Level::from_severity_number(24), Some(Level::Fatal));
        assert_eq!(Level::from_severity_number(25), None);
        for level in Level::ALL {
            assert_eq!(Level::from_severity_number(level.severity_number()), Some(level));
        }
    }
}
