//! Masking of sensitive values in what alerts show and send (sample lines, reasons): card
//! numbers (Luhn-valid), Korean resident registration numbers, e-mail addresses, bearer tokens
//! and secrets in `key=value` form. Ingest masks records before they are stored
//! (`trawl-privacy`, unless `[privacy]` turns it off); evidence leaves the server, so it is
//! masked here again.

use std::sync::LazyLock;

use regex::Regex;

static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").expect("card regex"));
static RRN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{2})(\d{2})(\d{2})(-?)([1-8]\d{6})\b").expect("rrn regex"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b").expect("email regex"));
static BEARER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}").expect("bearer regex"));
static SECRET_KV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization)(["']?\s*[:=]\s*["']?)((?:bearer\s+|basic\s+)?[^\s"',;&]+)"#)
        .expect("secret regex")
});

use trawl_privacy::luhn as luhn_valid;

/// A Korean resident (or alien) registration number: a plausible birth date, and with the
/// hyphen left out, a valid check digit (numbers issued since October 2020 have none, so the
/// written form with its hyphen is masked on the date alone).
fn resident_number(c: &regex::Captures<'_>) -> bool {
    let month: u32 = c[2].parse().unwrap_or(0);
    let day: u32 = c[3].parse().unwrap_or(0);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    if &c[4] == "-" {
        return true;
    }
    let digits: Vec<u32> = c[0].bytes().filter(u8::is_ascii_digit).map(|b| u32::from(b - b'0')).collect();
    let weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    digits.len() == 13 && (11 - sum % 11) % 10 == digits[12]
}

/// `text` with sensitive values replaced: cards keep their last four digits.
pub fn mask_sensitive(text: &str) -> String {
    let text = CARD.replace_all(text, |c: &regex::Captures<'_>| {
        let m = &c[0];
        let digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
        if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
            let last: String = digits[digits.len() - 4..].iter().map(|d| (b'0' + d) as char).collect();
            format!("****-****-****-{last}")
        } else {
            m.to_string()
        }
    });
    let text = RRN.replace_all(&text, |c: &regex::Captures<'_>| {
        if resident_number(c) {
            "******-*******".to_string()
        } else {
            c[0].to_string()
        }
    });
    let text = EMAIL.replace_all(&text, "<email>");
    let text = SECRET_KV.replace_all(&text, "$1$2<redacted>");
    let text = BEARER.replace_all(&text, "$1 <redacted>");
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cards_ids_emails_and_secrets() {
        assert_eq!(mask_sensitive("card 4111 1111 1111 1111 declined"), "card ****-****-****-1111 declined");
        // Not Luhn-valid: an order number stays.
        assert_eq!(mask_sensitive("order 1234567890123"), "order 1234567890123");
        assert_eq!(mask_sensitive("주민번호 900101-1234567 확인"), "주민번호 ******-******* 확인");
        // Without the hyphen only with a valid check digit: 900101123456 → 8.
        assert_eq!(mask_sensitive("rrn 9001011234568"), "rrn ******-*******");
        assert_eq!(mask_sensitive("id 9001011234567"), "id 9001011234567");
        assert_eq!(mask_sensitive("user kim@example.co.kr failed"), "user <email> failed");
        assert_eq!(mask_sensitive("Authorization: Bearer abcdefghijkl"), "Authorization: <redacted>");
        assert_eq!(mask_sensitive("password=hunter22 retry"), "password=<redacted> retry");
        assert_eq!(mask_sensitive("결제 실패: 카드 승인 거절 order_id=42"), "결제 실패: 카드 승인 거절 order_id=42");
    }
}
