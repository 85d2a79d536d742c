//! Masking of the variable parts of an error message, so messages that differ only in ids,
//! numbers or addresses group together (and carry no personal data).

/// Replaces numbers, hex and ids, UUIDs, IP addresses, e-mail addresses and quoted strings with
/// `<*>`, and collapses runs of them. Words of letters stay, in any script.
pub fn mask_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(256));
    let mut token = String::new();
    let mut in_quote: Option<char> = None;
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        let variable = token.chars().any(|c| c.is_ascii_digit())
            || token.contains('@')
            || (token.len() >= 8 && token.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
        if variable {
            if !out.ends_with("<*>") {
                out.push_str("<*>");
            }
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in message.chars().take(2000) {
        if let Some(q) = in_quote {
            if c == q {
                in_quote = None;
                if !out.ends_with("<*>") {
                    out.push_str("<*>");
                }
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            flush(&mut token, &mut out);
            in_quote = Some(c);
            continue;
        }
        if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | ':' | '/') && !token.is_empty() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    if in_quote.is_some() && !out.ends_with("<*>") {
        out.push_str("<*>");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
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
        check("key 'user:42' not found", "key <*> not found");
        check("connection refused", "connection refused");
        check("", "");
    }
}
