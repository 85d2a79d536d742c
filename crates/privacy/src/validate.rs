//! Checks that turn a shape into a finding: the Luhn digit of a card, the check digits of
//! Korean resident and business registration numbers, the JSON header of a JWT.

use base64::Engine;

/// The digits of `text`, ignoring separators.
pub(crate) fn digits(text: &str) -> Vec<u8> {
    text.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect()
}

/// Luhn check digit valid (`d`: one digit, 0–9, per byte).
pub fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = x as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// A payment card: 13 to 19 digits, a known issuer prefix, and a valid Luhn digit.
pub(crate) fn card(text: &str) -> bool {
    let d = digits(text);
    if !(13..=19).contains(&d.len()) || !luhn(&d) {
        return false;
    }
    // Unseparated runs of 13 or 17-19 digits are far more often ids (order numbers, snowflake
    // ids in URL paths) than the rare cards of those lengths; written in groups they are cards.
    let separated = d.len() != text.len();
    if !separated && !(14..=16).contains(&d.len()) {
        return false;
    }
    let prefix = |n: usize| d.iter().take(n).fold(0u32, |a, &x| a * 10 + x as u32);
    let (p1, p2, p4) = (prefix(1), prefix(2), prefix(4));
    let p3 = prefix(3);
    match p1 {
        4 => matches!(d.len(), 13 | 16 | 19),                                        // Visa
        5 => (51..=55).contains(&p2) && d.len() == 16,                               // Mastercard
        2 => (2221..=2720).contains(&p4) && d.len() == 16,                           // Mastercard 2-series
        3 => {
            ((p2 == 34 || p2 == 37) && d.len() == 15)                                // American Express
                || ((3528..=3589).contains(&p4) && d.len() >= 16)                    // JCB
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && d.len() >= 14 // Diners
        }
        6 => (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) || p2 == 62) && d.len() >= 16, // Discover, UnionPay
        // Korean domestic cards (BC and others issue 9-prefixed 16-digit numbers).
        9 => d.len() == 16,
        _ => false,
    }
}

/// A Korean resident (or alien) registration number: a plausible birth date, a gender and
/// century digit 1–8, and the check digit. (Numbers issued since October 2020 have a random
/// last digit; they are found only when it happens to check, see docs/privacy.md.)
pub(crate) fn resident_number(text: &str) -> bool {
    let d = digits(text);
    if d.len() != 13 {
        return false;
    }
    let month = d[2] * 10 + d[3];
    let day = d[4] * 10 + d[5];
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !(1..=8).contains(&d[6]) {
        return false;
    }
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = d[..12].iter().zip(W).map(|(&x, w)| x as u32 * w).sum();
    let citizen = (11 - sum % 11) % 10;
    // Alien registration numbers used a check of (13 - sum % 11) % 10.
    let alien = (13 - sum % 11) % 10;
    let last = d[12] as u32;
    last == citizen || (d[6] >= 5 && last == alien)
}

/// A Korean business registration number (사업자등록번호, 10 digits) with its check digit.
pub(crate) fn business_number(text: &str) -> bool {
    let d = digits(text);
    if d.len() != 10 {
        return false;
    }
    const W: [u32; 9] = [1, 3, 7, 1, 3, 7, 1, 3, 5];
    let mut sum: u32 = d[..9].iter().zip(W).map(|(&x, w)| x as u32 * w).sum();
    sum += (d[8] as u32 * 5) / 10;
    (10 - sum % 10) % 10 == d[9] as u32
}

/// A JWT: the first part decodes (base64url) to a JSON object naming its algorithm.
pub(crate) fn jwt(text: &str) -> bool {
    let Some(header) = text.split('.').next() else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')) else { return false };
    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.get("alg").is_some() || v.get("typ").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(card("4111 1111 1111 1111"));
        assert!(card("5555-5555-5555-4444"));
        assert!(card("378282246310005"));
        assert!(!card("4111 1111 1111 1112"));
        assert!(!card("1234567812345678"));
        assert!(resident_number("900101-1234568") == (resident_number("9001011234568")));
        assert!(business_number("220-81-62517"));
        assert!(!business_number("220-81-62518"));
        assert!(jwt("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.abc"));
        assert!(!jwt("eyJub3Rqc29u.eyJzdWIiOiIxIn0.abc"));
    }
}
