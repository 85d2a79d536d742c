//! The built-in detectors: a name, a pattern, the part of a match that is sensitive, an
//! optional check that turns the shape into a finding, the partial mask that keeps what is
//! safe to show, and whether the detector is on by default.

use crate::validate;

/// How `mask` shows a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partial {
    /// `[REDACTED:<name>]`.
    Token,
    /// Every digit but the last four as `*`, separators kept: `****-****-****-1234`.
    LastFourDigits,
    /// The first `n` characters kept, every other digit or letter as `*`: `900101-1******`,
    /// `010-****-5678` keeps the last group too.
    KeepFirst(usize),
    /// A phone number: the middle group as `*`.
    Phone,
}

/// What a value must hold before a detector's pattern is worth running on it: a cheap test on
/// one pass over its bytes, so most values of a log never meet a regular expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A run of at least this many digits, single spaces or hyphens allowed between them.
    DigitRun(usize),
    /// At least this many digits in all.
    Digits(usize),
    /// One of these words, without ASCII case.
    Words(&'static [&'static str]),
    /// This byte.
    Byte(u8),
}

pub struct Builtin {
    pub name: &'static str,
    pub trigger: Trigger,
    pub pattern: &'static str,
    /// The capture group holding the sensitive part (0: the whole match).
    pub group: usize,
    pub check: Option<fn(&str) -> bool>,
    pub partial: Partial,
    pub default_on: bool,
    pub about: &'static str,
}

/// Digits not glued to other digits or letters on either side (`\b` treats `_` and Hangul as
/// word characters, which would hide `주민번호:900101-1234568`).
macro_rules! standalone {
    ($p:literal) => {
        concat!(r"(?:^|[^0-9A-Za-z])(", $p, r")(?:$|[^0-9A-Za-z])")
    };
}

/// In order of precedence: where two findings start at the same place, the earlier detector's
/// wins (a token is a token before it is an e-mail's local part; a resident number before a
/// card-shaped number).
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "private_key",
        trigger: Trigger::Words(&["-----BEGIN"]),
        pattern: r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)-----END [A-Z ]*PRIVATE KEY-----",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "PEM private key blocks",
    },
    Builtin {
        name: "jwt",
        trigger: Trigger::Words(&["eyJ"]),
        pattern: r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
        group: 0,
        check: Some(validate::jwt),
        partial: Partial::Token,
        default_on: true,
        about: "JSON Web Tokens (three base64url parts, a JSON header)",
    },
    Builtin {
        name: "github_token",
        trigger: Trigger::Words(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
    },
    Builtin {
        name: "gitlab_token",
        trigger: Trigger::Words(&["glpat-"]),
        pattern: r"\bglpat-[A-Za-z0-9_-]{20,}\b",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "GitLab personal access tokens (glpat-)",
    },
    Builtin {
        name: "slack_token",
        trigger: Trigger::Words(&["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"]),
        pattern: r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "Slack tokens (xoxb-, xoxp-, ...)",
    },
    Builtin {
        name: "aws_access_key",
        trigger: Trigger::Words(&["AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"]),
        pattern: r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "AWS access key ids",
    },
    Builtin {
        name: "aws_secret_key",
        trigger: Trigger::Words(&["aws"]),
        pattern: r#"(?i)aws.{0,20}(?:secret|key).{0,5}?[=:]\s*["']?([A-Za-z0-9/+]{40})\b"#,
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "AWS secret access keys next to their name",
    },
    Builtin {
        name: "bearer",
        trigger: Trigger::Words(&["bearer"]),
        pattern: r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)",
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "bearer tokens (Authorization: Bearer ...)",
    },
    Builtin {
        name: "url_password",
        trigger: Trigger::Words(&["://"]),
        pattern: r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:([^\s@/]+)@",
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "passwords in URLs (https://user:pass@host)",
    },
    Builtin {
        name: "kr_rrn",
        trigger: Trigger::DigitRun(13),
        pattern: standalone!(r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[ -]?[1-8][0-9]{6}"),
        group: 1,
        check: Some(validate::resident_number),
        partial: Partial::KeepFirst(8),
        default_on: true,
        about: "Korean resident and alien registration numbers (YYMMDD-NNNNNNN) with a valid check digit",
    },
    Builtin {
        name: "kr_business_number",
        trigger: Trigger::DigitRun(10),
        pattern: standalone!(r"[0-9]{3}-[0-9]{2}-[0-9]{5}"),
        group: 1,
        check: Some(validate::business_number),
        partial: Partial::Token,
        default_on: true,
        about: "Korean business registration numbers (NNN-NN-NNNNN) with a valid check digit",
    },
    Builtin {
        name: "kr_driver_license",
        trigger: Trigger::DigitRun(12),
        pattern: standalone!(r"(?:1[1-9]|2[0-8])-[0-9]{2}-[0-9]{6}-[0-9]{2}"),
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "Korean driver's licence numbers (RR-YY-NNNNNN-NN, region 11-28)",
    },
    Builtin {
        name: "kr_passport",
        trigger: Trigger::Digits(7),
        pattern: standalone!(r"[MSRODG][0-9]{8}|[MSRODG][0-9]{3}[A-Z][0-9]{4}"),
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "Korean passport numbers (M12345678, M123A4567)",
    },
    Builtin {
        name: "kr_phone",
        trigger: Trigger::DigitRun(9),
        pattern: standalone!(
            r"(?:\+82[ -]?0?1[016789][ -]?[0-9]{3,4}[ -]?[0-9]{4}|01[016789]-[0-9]{3,4}-[0-9]{4}|010[0-9]{8}|\+82[ -]?0?(?:2|[3-6][1-5])[ -]?[0-9]{3,4}[ -]?[0-9]{4}|0(?:2|[3-6][1-5])-[0-9]{3,4}-[0-9]{4})"
        ),
        group: 1,
        check: None,
        partial: Partial::Phone,
        default_on: true,
        about: "Korean mobile and landline numbers (010-1234-5678, +82 10 1234 5678, 02-123-4567)",
    },
    Builtin {
        name: "card",
        trigger: Trigger::DigitRun(13),
        pattern: standalone!(r"[0-9](?:[ -]?[0-9]){12,18}"),
        group: 1,
        check: Some(validate::card),
        partial: Partial::LastFourDigits,
        default_on: true,
        about: "payment card numbers: 13-19 digits, Luhn-valid, a known issuer prefix",
    },
    Builtin {
        name: "email",
        trigger: Trigger::Byte(b'@'),
        pattern: r"([A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,})(?:$|[^A-Za-z0-9-])",
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "e-mail addresses",
    },
    Builtin {
        name: "secret_kv",
        trigger: Trigger::Words(&["pass", "pwd", "secret", "key", "token", "비밀번호"]),
        pattern: r#"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|apikey|token|access[_-]?token|client[_-]?secret|비밀번호)\s*[=:]\s*("[^"\s]+"|'[^'\s]+'|[^\s"'&,;]+)"#,
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: true,
        about: "password=, secret=, api_key=, token= key-value pairs in text",
    },
    Builtin {
        name: "kr_bank_account",
        trigger: Trigger::DigitRun(8),
        pattern: standalone!(r"[0-9]{3,6}-[0-9]{2,6}-[0-9]{2,7}(?:-[0-9]{1,3})?"),
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: false,
        about: "Korean bank account numbers (off by default: the format is shared with many other numbers)",
    },
    Builtin {
        name: "ipv4",
        trigger: Trigger::Digits(4),
        pattern: standalone!(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"),
        group: 1,
        check: None,
        partial: Partial::Token,
        default_on: false,
        about: "IPv4 addresses (off by default)",
    },
    Builtin {
        name: "ipv6",
        trigger: Trigger::Byte(b':'),
        pattern: r"(?i)(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5})?",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: false,
        about: "IPv6 addresses (off by default)",
    },
    Builtin {
        name: "mac",
        trigger: Trigger::Digits(2),
        pattern: r"(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b|\b[0-9a-f]{2}(?:-[0-9a-f]{2}){5}\b",
        group: 0,
        check: None,
        partial: Partial::Token,
        default_on: false,
        about: "MAC addresses (off by default)",
    },
];

/// Attribute names whose values are masked whole, compared without ASCII case; a name matches
/// when it is one of these or ends with `.`/`_`/`-` and one of these (`http.request.header.cookie`).
pub const SENSITIVE_ATTRIBUTES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "card_number",
    "cardnumber",
    "card.number",
    "cvv",
    "cvc",
    "ssn",
    "rrn",
    "주민번호",
    "주민등록번호",
    "비밀번호",
];
