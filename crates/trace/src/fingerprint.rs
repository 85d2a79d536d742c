//! Masking of the variable parts of an error message, so messages that differ only in ids,
//! numbers or addresses group together (and carry no personal data). One definition of a
//! variable for the whole product: the pattern miner's (`trawl_patterns::mask`).

/// Replaces numbers, hex and ids, UUIDs, IP addresses and ports, e-mail addresses, durations,
/// quoted strings and `key=value` values with `<*>`; words stay, in any script.
pub fn mask_message(message: &str) -> String {
    trawl_patterns::mask(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(mask_message(input), expect, "{input}");
    }

    #[test]
    fn variables_are_masked_and_words_kept() {
        check("timeout after 3000ms calling 10.0.0.12:443", "timeout after <*> calling <*>");
        check("order ORD-1234 failed for user bob@example.com", "order <*> failed for user <*>");
        check("trace 4bf92f3577b34da6a3ce929d0e0e4736 missing", "trace <*> missing");
        check("결제 실패: 카드 승인 거절 (order_id=42)", "결제 실패: 카드 승인 거절 (order_id=<*>)");
        check("key 'user:42' not found", "key '<*>' not found");
        check("connection refused", "connection refused");
        check("", "");
    }
}
