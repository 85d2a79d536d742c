//! Name patterns of configuration (services, environments, label values): `*` matches any run
//! of bytes, `?` one byte, everything else itself.

/// Whether `text` matches `pattern`; iterative with one backtrack point (linear enough for names,
/// and never recursive).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Whether `pattern` names one name rather than a pattern.
pub fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, t, yes) in [
            ("payments-*", "payments-api", true),
            ("payments-*", "payments-", true),
            ("payments-*", "payment-api", false),
            ("*-db", "orders-db", true),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
            ("결제-*", "결제-서비스", true),
        ] {
            assert_eq!(glob_match(p, t), yes, "{p} ~ {t}");
        }
        // Many stars and a long text: still quick (no exponential backtracking).
        assert!(!glob_match(&"*a".repeat(50), &"a".repeat(10_000).replace("aa", "ab")));
    }
}
