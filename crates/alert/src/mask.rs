//! Masking of sensitive values in what alerts show and send (sample lines, reasons, pattern
//! templates): ingest masks records before they are stored by the `[privacy]` rules, which a
//! server may switch off or relax for some services; evidence leaves the server, so it is
//! masked here again, always, by the built-in detectors with their default settings (the same
//! formats and checks as ingest: Luhn-valid cards, resident numbers with a valid check digit,
//! e-mail addresses, phone numbers, credentials).

use std::sync::LazyLock;

use trawl_privacy::{Findings, Masker, PrivacyConfig};

static MASKER: LazyLock<Masker> = LazyLock::new(|| Masker::new(&PrivacyConfig::default()).expect("the built-in detectors compile"));

/// `text` with sensitive values replaced (cards keep their last four digits).
pub fn mask_sensitive(text: &str) -> String {
    MASKER.mask_text(text, &mut Findings::default()).unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cards_ids_emails_and_secrets() {
        assert_eq!(mask_sensitive("card 4111 1111 1111 1111 declined"), "card **** **** **** 1111 declined");
        // Not Luhn-valid: an order number stays.
        assert_eq!(mask_sensitive("order 1234567890123"), "order 1234567890123");
        // A resident number with a valid check digit (900101-123456 → 8), with or without its
        // hyphen; with a wrong one it is some other number.
        for rrn in ["900101-1234568", "9001011234568"] {
            let masked = mask_sensitive(&format!("주민번호 {rrn} 확인"));
            assert!(!masked.contains("1234568") && masked.starts_with("주민번호 ") && masked.ends_with(" 확인"), "{masked}");
        }
        assert_eq!(mask_sensitive("id 9001011234567"), "id 9001011234567");
        assert!(!mask_sensitive("user kim@example.co.kr failed").contains("kim@example"));
        assert!(!mask_sensitive("Authorization: Bearer abcdefghijkl").contains("abcdefghijkl"));
        assert!(!mask_sensitive("password=hunter22 retry").contains("hunter22"));
        assert_eq!(mask_sensitive("결제 실패: 카드 승인 거절 order_id=42"), "결제 실패: 카드 승인 거절 order_id=42");
    }
}
