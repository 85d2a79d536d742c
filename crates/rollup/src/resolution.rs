/// The width of a rollup bucket. Rollups are computed per minute; minute buckets older than the
/// compaction age are merged into hour buckets (see `trawl-storage`'s rollup tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    pub const ALL: [Resolution; 2] = [Resolution::Minute, Resolution::Hour];

    /// Width in seconds; also the stored form.
    pub fn seconds(self) -> i64 {
        match self {
            Resolution::Minute => 60,
            Resolution::Hour => 3600,
        }
    }

    pub fn width_ns(self) -> i64 {
        self.seconds() * 1_000_000_000
    }

    /// From the stored form; None for anything else.
    pub fn from_seconds(seconds: i64) -> Option<Resolution> {
        match seconds {
            60 => Some(Resolution::Minute),
            3600 => Some(Resolution::Hour),
            _ => None,
        }
    }

    /// Start of the bucket holding `time_ns` (floor, also before 1970).
    pub fn bucket_start(self, time_ns: i64) -> i64 {
        time_ns.div_euclid(self.width_ns()) * self.width_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_floor() {
        let m = Resolution::Minute;
        assert_eq!(m.bucket_start(0), 0);
        assert_eq!(m.bucket_start(59_999_999_999), 0);
        assert_eq!(m.bucket_start(60_000_000_000), 60_000_000_000);
        assert_eq!(m.bucket_start(-1), -60_000_000_000);
        assert_eq!(Resolution::Hour.bucket_start(3_700_000_000_000), 3_600_000_000_000);
        for r in Resolution::ALL {
            assert_eq!(Resolution::from_seconds(r.seconds()), Some(r));
        }
        assert_eq!(Resolution::from_seconds(61), None);
    }
}
