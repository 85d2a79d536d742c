//! What each detector finds and how it is masked, the actions, and the properties every mask
//! keeps: no panic, idempotent, the rest of the text byte-identical, valid UTF-8.

use proptest::prelude::*;
use trawl_model::{AttrValue, Record};
use trawl_privacy::{Action, CustomDetector, Findings, Masker, PrivacyConfig};

fn masker() -> Masker {
    Masker::new(&PrivacyConfig::default()).unwrap()
}

fn mask(text: &str) -> String {
    masker().mask_text(text, &mut Findings::default()).unwrap_or_else(|| text.to_string())
}

#[test]
fn each_default_detector_masks_its_format() {
    let cases = [
        ("결제 카드 4111-1111-1111-1111 승인 실패", "결제 카드 ****-****-****-1111 승인 실패"),
        ("card=5555555555554444,4111111111111111", "card=************4444,************1111"),
        ("주민번호:900101-1234568 확인", "주민번호:900101-1****** 확인"),
        ("사업자 220-81-62517", "사업자 [REDACTED:kr_business_number]"),
        ("여권 M12345678 제출", "여권 [REDACTED:kr_passport] 제출"),
        ("면허 11-12-123456-12", "면허 [REDACTED:kr_driver_license]"),
        ("연락처 010-1234-5678 으로", "연락처 010-****-5678 으로"),
        ("call +82 10 1234 5678", "call +82 ** **** 5678"),
        ("대표번호 02-123-4567", "대표번호 02-***-4567"),
        ("user 김철수 <chulsoo.kim@example.co.kr> logged in", "user 김철수 <[REDACTED:email]> logged in"),
        ("Authorization: Bearer abcdefghijklmnop.qrstu", "Authorization: Bearer [REDACTED:bearer]"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws_access_key] used"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked", "token [REDACTED:github_token] leaked"),
        ("glpat-abcdefghij0123456789", "[REDACTED:gitlab_token]"),
        ("slack xoxb-1234567890-abcdefghij", "slack [REDACTED:slack_token]"),
        ("connect postgres://app:s3cr3t@db:5432/x", "connect postgres://app:[REDACTED:url_password]@db:5432/x"),
        ("login password=hunter2 ok", "login password=[REDACTED:secret_kv] ok"),
        ("api_key: \"abc123\"", "api_key: [REDACTED:secret_kv]"),
    ];
    for (input, expected) in cases {
        assert_eq!(mask(input), expected, "{input}");
    }
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(mask(&format!("jwt={jwt}")), "jwt=[REDACTED:jwt]");
    assert_eq!(mask(&format!("got {jwt} from idp")), "got [REDACTED:jwt] from idp");
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
    assert_eq!(mask(&format!("key:\n{pem}\nend")), "key:\n[REDACTED:private_key]\nend");
}

#[test]
fn hard_negatives_stay() {
    for text in [
        "order 4111111111111112 shipped",           // Luhn-invalid
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",    // trace id
        "took 1234567890123 ns",                      // a duration
        "2026-12-07T21:21:04.123456789Z",            // a timestamp
        "주민번호 900101-1234567 형식",                  // wrong check digit
        "product SKU-010-1234-56789",                 // phone-like code with a tail
        "version 10.0.2 build 20261207",
        "ip 10.1.2.3 port 8080",                      // IPv4 is off by default
        "mac 00:1a:2b:3c:4d:5e",                      // MAC is off by default
    ] {
        assert_eq!(mask(text), text, "{text}");
    }
}

#[test]
fn actions_hash_and_drop() {
    let config = PrivacyConfig {
        actions: [("email".to_string(), Action::Hash), ("card".to_string(), Action::DropField)].into_iter().collect(),
        hash_key: Some("k".into()),
        ..PrivacyConfig::default()
    };
    let m = Masker::new(&config).unwrap();
    let a = m.mask_text("from a@example.com", &mut Findings::default()).unwrap();
    let b = m.mask_text("to a@example.com", &mut Findings::default()).unwrap();
    assert!(a.starts_with("from [HASH:email:") && a.len() == "from [HASH:email:]".len() + 16, "{a}");
    assert_eq!(a.trim_start_matches("from "), b.trim_start_matches("to "), "the same value hashes the same");
    let mut r = Record::new(1);
    r.body = "paid with 4111 1111 1111 1111".into();
    r.attributes = vec![
        ("card".into(), AttrValue::Str("4111111111111111".into())),
        ("user.email".into(), AttrValue::Str("a@example.com".into())),
        ("http.request.header.cookie".into(), AttrValue::Str("session=abc".into())),
        ("order.id".into(), AttrValue::Int(4111111111111111)),
    ];
    let found = m.mask_record(&mut r);
    assert_eq!(r.body, "paid with **** **** **** 1111");
    let keys: Vec<&str> = r.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["user.email", "http.request.header.cookie", "trawl.masked"], "the card attributes are dropped");
    assert_eq!(r.attributes[1].1, AttrValue::Str("[REDACTED:sensitive_attribute]".into()));
    assert_eq!(found.summary(), "card:3,email:1,sensitive_attribute:1");
    assert_eq!(r.attributes[2].1, AttrValue::Str("card:3,email:1,sensitive_attribute:1".into()));
    // hash without a key is refused.
    let no_key = PrivacyConfig { actions: [("email".to_string(), Action::Hash)].into_iter().collect(), ..PrivacyConfig::default() };
    assert!(Masker::new(&no_key).is_err());
}

#[test]
fn configuration_switches_detectors_and_adds_custom_ones() {
    let config = PrivacyConfig {
        detectors: [("ipv4".to_string(), true), ("email".to_string(), false)].into_iter().collect(),
        custom: vec![CustomDetector { name: "employee_id".into(), pattern: r"EMP-[0-9]{6}".into(), action: None }],
        exclude_fields: vec!["client.address".into()],
        ..PrivacyConfig::default()
    };
    let m = Masker::new(&config).unwrap();
    let mut f = Findings::default();
    assert_eq!(m.mask_text("ip 10.1.2.3 by EMP-123456 a@b.com", &mut f).unwrap(), "ip [REDACTED:ipv4] by [REDACTED:employee_id] a@b.com");
    let mut r = Record::new(1);
    r.attributes = vec![("client.address".into(), AttrValue::Str("10.1.2.3".into()))];
    assert!(m.mask_record(&mut r).is_empty());
    let bad = PrivacyConfig { detectors: [("nope".to_string(), true)].into_iter().collect(), ..PrivacyConfig::default() };
    assert!(Masker::new(&bad).err().expect("refused").to_string().contains("unknown detector"));
}

const PIECES: &[&str] = &[
    "4111-1111-1111-1111", "900101-1234568", "010-1234-5678", "a.b@example.com", "password=x1", "Bearer abcdefgh12345",
    "AKIAIOSFODNN7EXAMPLE", "결제", "실패했습니다", " ", ",", ":", "-", "1", "0", "@", "=", "\n", "é", "🙂", "postgres://u:p@h/db",
    "220-81-62517", "M12345678", "[REDACTED:", "]",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat()),
        ".{0,200}",
    ]
}

/// Words around a secret that no detector finds.
const SAFE: &[&str] = &["결제가", "실패했습니다", "user", "ok", " ", "\n", "é", "🙂", "주문", "(", ")", "order", "id"];
const SECRETS: &[&str] = &[
    "4111-1111-1111-1111", "900101-1234568", "010-1234-5678", "a.b@example.com", "password=x1", "Bearer abcdefgh12345",
    "AKIAIOSFODNN7EXAMPLE", "220-81-62517", "M12345678", "postgres://u:p@h/db",
];

fn safe() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SAFE), 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn masking_never_panics_and_is_idempotent(t in text()) {
        let m = masker();
        let once = m.mask_text(&t, &mut Findings::default()).unwrap_or_else(|| t.clone());
        let twice = m.mask_text(&once, &mut Findings::default());
        prop_assert!(twice.is_none(), "masking {:?} again changed it", once);
    }

    #[test]
    fn the_text_around_a_secret_stays_byte_identical(a in safe(), secret in prop::sample::select(SECRETS), b in safe()) {
        let input = format!("{a} {secret} {b}");
        let out = mask(&input);
        prop_assert!(out != input, "{:?} was not masked", input);
        let prefix = format!("{a} ");
        let suffix = format!(" {b}");
        prop_assert!(out.starts_with(&prefix) && out.ends_with(&suffix), "{:?} -> {:?}", input, out);
    }
}
