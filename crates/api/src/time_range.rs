//! Time bounds of requests: parsed in the model so the query language reads them the same way.

pub use trawl_model::{parse_duration_ns, parse_time_bound};
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
