//! Numbers as people read them in alerts: `41%`, `1.2M`, `3.50s`.

/// A ratio as a percentage: `0.4123` → `41%`, `0.0123` → `1.2%`.
pub fn percent(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let p = x * 100.0;
    if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else if p.abs() >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// A count or rate: `1234567` → `1.2M`, `12.5` → `12.5`.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.1}G", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x.fract() == 0.0 || a >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Milliseconds: `3500` → `3.50s`, `12.3` → `12ms`.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x >= 10_000.0 {
        format!("{:.1}s", x / 1000.0)
    } else if x >= 1000.0 {
        format!("{:.2}s", x / 1000.0)
    } else if x >= 10.0 {
        format!("{x:.0}ms")
    } else {
        format!("{x:.1}ms")
    }
}

/// A figure in its unit (`ratio`, `ms`, `per_second`, `count`, or none).
pub fn figure(x: f64, unit: &str) -> String {
    match unit {
        "ratio" => percent(x),
        "ms" => ms(x),
        "per_second" => format!("{}/s", number(x)),
        _ => number(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(percent(0.4123), "41%");
        assert_eq!(percent(0.0123), "1.2%");
        assert_eq!(number(1_234_567.0), "1.2M");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(7.0), "7");
        assert_eq!(ms(3500.0), "3.50s");
        assert_eq!(figure(2.5, "per_second"), "2.5/s");
        assert_eq!(figure(f64::NAN, "ratio"), "-");
    }
}
