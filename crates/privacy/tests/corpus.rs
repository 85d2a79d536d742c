//! Recall and precision of the default detectors over a labelled corpus: the hand-written lines
//! of `corpus/handwritten.tsv` and lines generated here (seeded), in Korean and English, with
//! positives of every detector and hard negatives (order ids, timestamps, trace ids, durations,
//! phone-like product codes, Luhn-invalid card-shaped numbers, registration numbers with a
//! wrong check digit). A positive counts as found when its detector found it and the secret is
//! gone from the output; any other finding is a false positive of its detector. The figures
//! are printed (`cargo test -p trawl-privacy --test corpus -- --nocapture`) and written down in
//! docs/privacy.md.

use std::collections::BTreeMap;

use trawl_privacy::{Findings, Masker, PrivacyConfig};

struct Line {
    detector: String,
    secret: String,
    text: String,
}

/// xorshift64*: the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn alnum(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| char::from(alphabet[self.below(alphabet.len() as u64) as usize])).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn luhn_complete(prefix: &str) -> String {
    let d: Vec<u32> = prefix.bytes().map(|b| (b - b'0') as u32).collect();
    let mut sum = 0;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = x;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

fn rrn_check(first12: &str) -> u32 {
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = first12.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    (11 - sum % 11) % 10
}

fn business_check(first9: &str) -> u32 {
    const W: [u32; 9] = [1, 3, 7, 1, 3, 7, 1, 3, 5];
    let d: Vec<u32> = first9.bytes().map(|b| (b - b'0') as u32).collect();
    let mut sum: u32 = d.iter().zip(W).map(|(x, w)| x * w).sum();
    sum += d[8] * 5 / 10;
    (10 - sum % 10) % 10
}

fn card(rng: &mut Rng) -> String {
    let (prefix, len) = match rng.below(6) {
        0 => ("4", 16),
        1 => (["51", "52", "53", "54", "55"][rng.below(5) as usize], 16),
        2 => (["34", "37"][rng.below(2) as usize], 15),
        3 => ("6011", 16),
        4 => ("3540", 16),
        _ => ("2221", 16),
    };
    let body = format!("{prefix}{}", rng.digits(len - prefix.len() - 1));
    let number = luhn_complete(&body);
    match rng.below(3) {
        0 => number,
        1 if len == 16 => number.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("-"),
        _ if len == 16 => number.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" "),
        _ => number,
    }
}

fn rrn(rng: &mut Rng, valid: bool) -> String {
    let yy = rng.digits(2);
    let mm = format!("{:02}", 1 + rng.below(12));
    let dd = format!("{:02}", 1 + rng.below(28));
    let g = (1 + rng.below(4)).to_string();
    let first12 = format!("{yy}{mm}{dd}{g}{}", rng.digits(5));
    let check = (rrn_check(&first12) + if valid { 0 } else { 1 + rng.below(8) as u32 }) % 10;
    format!("{}-{}{check}", &first12[..6], &first12[6..])
}

fn business(rng: &mut Rng, valid: bool) -> String {
    let first9 = format!("{}{}", 1 + rng.below(9), rng.digits(8));
    let check = (business_check(&first9) + if valid { 0 } else { 1 + rng.below(8) as u32 }) % 10;
    format!("{}-{}-{}{check}", &first9[..3], &first9[3..5], &first9[5..])
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One secret of `detector`.
fn secret(detector: &str, rng: &mut Rng) -> String {
    match detector {
        "card" => card(rng),
        "kr_rrn" => rrn(rng, true),
        "kr_business_number" => business(rng, true),
        "kr_passport" => match rng.below(2) {
            0 => format!("M{}", rng.digits(8)),
            _ => format!("M{}{}{}", rng.digits(3), char::from(b'A' + rng.below(26) as u8), rng.digits(4)),
        },
        "kr_driver_license" => format!("{}-{}-{}-{}", 11 + rng.below(18), rng.digits(2), rng.digits(6), rng.digits(2)),
        "kr_phone" => match rng.below(4) {
            0 => format!("010-{}-{}", rng.digits(4), rng.digits(4)),
            1 => format!("+82 10 {} {}", rng.digits(4), rng.digits(4)),
            2 => format!("010{}", rng.digits(8)),
            _ => {
                let (area, middle) = (rng.pick(&["2", "31", "51", "62"]), 3 + rng.below(2) as usize);
                format!("0{area}-{}-{}", rng.digits(middle), rng.digits(4))
            }
        },
        "email" => format!(
            "{}{}@{}.{}",
            rng.pick(&["kim", "lee", "park", "j.choi", "ops+alerts", "user_01", "hong-gd"]),
            rng.digits(2),
            rng.pick(&["example", "corp.example", "mail.test", "naver", "kakao"]),
            rng.pick(&["com", "co.kr", "io", "net"])
        ),
        "bearer" => {
            let n = 24 + rng.below(16) as usize;
            rng.alnum(n, ALNUM)
        }
        "jwt" => format!(
            "{}.{}.{}",
            base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            base64url(format!(r#"{{"sub":"u{}","exp":{}}}"#, rng.digits(5), rng.digits(10)).as_bytes()),
            rng.alnum(43, ALNUM)
        ),
        "aws_access_key" => format!("AKIA{}", rng.alnum(16, UPPER_DIGITS)),
        "aws_secret_key" => rng.alnum(40, ALNUM),
        "github_token" => format!("ghp_{}", rng.alnum(36, ALNUM)),
        "gitlab_token" => format!("glpat-{}", rng.alnum(20, ALNUM)),
        "slack_token" => format!("xoxb-{}-{}-{}", rng.digits(10), rng.digits(12), rng.alnum(24, ALNUM)),
        "private_key" => format!("-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----", rng.alnum(64, ALNUM), rng.alnum(40, ALNUM)),
        "url_password" => {
            let n = 8 + rng.below(8) as usize;
            rng.alnum(n, ALNUM)
        }
        "secret_kv" => {
            let n = 6 + rng.below(10) as usize;
            rng.alnum(n, ALNUM)
        }
        other => panic!("no generator for {other}"),
    }
}

/// A line holding `secret` the way `detector` expects to meet it.
fn line(detector: &str, secret: &str, rng: &mut Rng) -> String {
    let korean = rng.below(2) == 0;
    match detector {
        "bearer" => format!("{} Authorization: Bearer {secret} {}", rng.pick(&["GET /api/v1/me", "POST /orders"]), rng.pick(&["401", "403 권한 없음"])),
        "aws_secret_key" => format!("{}aws_secret_access_key={secret}", if korean { "설정 로드: " } else { "loaded " }),
        "url_password" => format!("{} {}://app:{secret}@{}:5432/db", if korean { "DB 연결 실패" } else { "cannot connect" }, rng.pick(&["postgres", "mysql", "redis"]), rng.pick(&["db1", "10.0.0.5"])),
        "secret_kv" => format!("{} {}={secret} user=u{}", if korean { "로그인 요청" } else { "login request" }, rng.pick(&["password", "api_key", "token", "secret", "client_secret"]), rng.digits(4)),
        "private_key" => format!("loaded key:\n{secret}\nfrom vault"),
        _ => {
            let (a, b) = if korean {
                (rng.pick(&["결제 실패: ", "회원 정보 ", "고객 ", "요청 값 "]), rng.pick(&[" 처리 중 오류", " 확인 필요", "", " (재시도 3회)"]))
            } else {
                (rng.pick(&["payment failed for ", "customer ", "value=", "lookup "]), rng.pick(&[" rejected", "", " after 3 retries", ";"]))
            };
            format!("{a}{secret}{b}")
        }
    }
}

/// A line that looks like it might hold something and holds nothing.
fn negative(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => format!("order {} shipped", rng.digits(12)),
        1 => format!("2026-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z request done", 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60), rng.below(60), rng.digits(9)),
        2 => format!("trace_id={} span_id={}", rng.alnum(32, b"0123456789abcdef"), rng.alnum(16, b"0123456789abcdef")),
        3 => format!("took {}ns", rng.digits(13)),
        4 => format!("product code 010-{}-{}{} discontinued", rng.digits(4), rng.digits(4), rng.digits(1)),
        5 => {
            // A card-shaped number failing its Luhn digit.
            let good = luhn_complete(&format!("4{}", rng.digits(14)));
            let last = (good.as_bytes()[15] - b'0' + 1 + rng.below(8) as u8) % 10;
            format!("card {}{} rejected: invalid number", &good[..15], last)
        }
        6 => format!("주민번호 형식 오류: {}", rrn(rng, false)),
        7 => format!("사업자번호 {} 조회 실패", business(rng, false)),
        8 => format!("결제 금액 {},{:03},{:03}원 승인", 1 + rng.below(9), rng.below(1000), rng.below(1000)),
        9 => format!("uuid {}-{}-{}-{}-{} not found", rng.alnum(8, b"0123456789abcdef"), rng.alnum(4, b"0123456789abcdef"), rng.alnum(4, b"0123456789abcdef"), rng.alnum(4, b"0123456789abcdef"), rng.alnum(12, b"0123456789abcdef")),
        10 => format!("GET /api/v1/orders/{} 200 {}ms", rng.digits(19), rng.below(900)),
        11 => format!("version {}.{}.{} build {}", rng.below(10), rng.below(30), rng.below(100), rng.digits(8)),
        12 => format!("pod payment-api-{}-{} restarted", rng.alnum(10, b"0123456789abcdef"), rng.alnum(5, b"abcdefghijklmnopqrstuvwxyz0123456789")),
        _ => format!("password reset requested for user u-{} (token sent)", rng.digits(6)),
    }
}

fn corpus() -> Vec<Line> {
    let mut lines = Vec::new();
    let text = include_str!("corpus/handwritten.tsv");
    for row in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut parts = row.splitn(3, '\t');
        let (detector, secret, text) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        lines.push(Line { detector: detector.into(), secret: secret.into(), text: text.into() });
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let detectors = [
        "card", "kr_rrn", "kr_business_number", "kr_passport", "kr_driver_license", "kr_phone", "email", "bearer", "jwt",
        "aws_access_key", "aws_secret_key", "github_token", "gitlab_token", "slack_token", "private_key", "url_password", "secret_kv",
    ];
    for detector in detectors {
        for _ in 0..120 {
            let s = secret(detector, &mut rng);
            let text = line(detector, &s, &mut rng);
            lines.push(Line { detector: detector.into(), secret: s, text });
        }
    }
    for _ in 0..1_000 {
        lines.push(Line { detector: "none".into(), secret: String::new(), text: negative(&mut rng) });
    }
    lines
}

#[derive(Default, Debug)]
struct Score {
    positives: u32,
    found: u32,
    false_positives: u32,
}

#[test]
fn recall_and_precision_over_the_corpus() {
    let masker = Masker::new(&PrivacyConfig::default()).unwrap();
    let lines = corpus();
    assert!(lines.len() >= 2_000, "{} lines", lines.len());
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    let mut misses = Vec::new();
    for l in &lines {
        let mut findings = Findings::default();
        let out = masker.mask_text(&l.text, &mut findings).unwrap_or_else(|| l.text.clone());
        if l.detector != "none" {
            let s = scores.entry(l.detector.clone()).or_default();
            s.positives += 1;
            if findings.0.contains_key(&l.detector) && !out.contains(&l.secret) {
                s.found += 1;
            } else {
                misses.push(format!("missed {}: {:?} -> {:?}", l.detector, l.text, out));
            }
        }
        for (name, n) in &findings.0 {
            if *name != l.detector {
                scores.entry(name.clone()).or_default().false_positives += n;
                misses.push(format!("false {name}: {:?} -> {:?}", l.text, out));
            }
        }
    }
    let (mut positives, mut found, mut false_positives) = (0, 0, 0);
    println!("{:<20} {:>9} {:>7} {:>9} {:>8} {:>10}", "detector", "positives", "found", "false pos", "recall", "precision");
    for (name, s) in &scores {
        let recall = s.found as f64 / s.positives.max(1) as f64;
        let precision = s.found as f64 / (s.found + s.false_positives).max(1) as f64;
        println!("{name:<20} {:>9} {:>7} {:>9} {:>7.1}% {:>9.1}%", s.positives, s.found, s.false_positives, recall * 100.0, precision * 100.0);
        positives += s.positives;
        found += s.found;
        false_positives += s.false_positives;
    }
    let recall = found as f64 / positives as f64;
    let precision = found as f64 / (found + false_positives) as f64;
    println!("all: {} lines, {positives} positives, recall {:.2}%, precision {:.2}%", lines.len(), recall * 100.0, precision * 100.0);
    for m in &misses {
        println!("  {m}");
    }
    assert!(recall >= 0.995, "recall {recall:.4}");
    assert!(precision >= 0.99, "precision {precision:.4}");
}
