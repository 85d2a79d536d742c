//! Built-in detection of variables inside one word, with no configuration.
//!
//! A *word* is a run of non-whitespace (see `tokens.rs`). Its *outer punctuation* (brackets,
//! quotes, commas, a final colon or period) is kept; its *core* is masked. Whole-core variables:
//! quoted strings, URLs, paths, e-mail addresses, and anything made of digits and punctuation
//! only (numbers, IPs, ports, times, dates, `1/3`, `-0700`). A core with digits and letters is
//! cut into *segments* at delimiters (`=`, `:`, `,`, brackets, ...) and at Hangul/non-Hangul
//! boundaries, and every segment holding a digit is a variable (`ORD-7`, `3f2a…`, `12ms`,
//! `user42`), unless it is a well-known constant such as `HTTP/1.1` or `sha256`. The value of
//! `key=value` is a variable whatever it holds, except under `msg`/`message`, whose value is the
//! message itself. A core whose segments are all variables becomes one `<*>`.
//!
//! The result keeps constants and punctuation verbatim: `(order_id=ORD-7),` → `(order_id=<*>),`,
//! `12345번이` → `<*>번이`, `"GET` → `"GET`.

/// The text that stands for a variable in masked words and templates.
pub const WILDCARD: &str = "<*>";

/// Constant segments longer than this are treated as data (blobs, tokens), not words.
pub(crate) const MAX_CONST_BYTES: usize = 64;

/// Words longer than this are one variable, whatever they hold.
pub(crate) const MAX_WORD_BYTES: usize = 1024;

/// What a masked word is, for the clustering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WordKind {
    /// The whole word is one variable.
    Wildcard,
    /// Letters only (any script; inner `-` and `'`), maybe wrapped in outer punctuation:
    /// `in`, `"GET`, `결제가`, `(java)`. Such words may be constants or names; the miner asks
    /// for more evidence before it generalises them.
    Plain,
    /// Any other constant: identifiers (`tasks.send_email`), partial masks (`order_id=<*>`),
    /// symbols (`->`).
    Ident,
    /// A month or weekday name (`Jan`, `Mon`): part of a timestamp when next to a variable.
    Calendar,
}

/// Appends the masked form of `word` to `out` and says what it is. `word` is not empty and holds
/// whitespace only inside a quoted string joined by the tokeniser (then `spaced` is true).
pub(crate) fn mask_word(word: &str, spaced: bool, out: &mut String) -> WordKind {
    if word == WILDCARD || word.len() > MAX_WORD_BYTES {
        out.push_str(WILDCARD);
        return WordKind::Wildcard;
    }
    let start = out.len();
    let (lead, core, trail) = split_outer(word);
    if core.is_empty() {
        out.push_str(word);
        return WordKind::Ident;
    }
    out.push_str(lead);
    let core_kind = if trail.starts_with(':') && is_quoted(core) && is_quoted_key(core) {
        out.push_str(core);
        CoreKind::Ident
    } else {
        mask_core(core, out)
    };
    out.push_str(trail);
    // Tokens never hold whitespace (templates join tokens with one space) and never grow big.
    let masked = &out[start..];
    if masked.len() > 4 * MAX_CONST_BYTES || (spaced && masked.contains(char::is_whitespace)) {
        out.truncate(start);
        out.push_str(WILDCARD);
        return WordKind::Wildcard;
    }
    match core_kind {
        CoreKind::Variable if lead.is_empty() && trail.is_empty() => WordKind::Wildcard,
        CoreKind::Variable | CoreKind::Ident => WordKind::Ident,
        CoreKind::Plain => WordKind::Plain,
        CoreKind::Calendar => WordKind::Calendar,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CoreKind {
    Variable,
    Plain,
    Ident,
    Calendar,
}

fn is_lead(b: u8) -> bool {
    matches!(b, b'(' | b'[' | b'{' | b'<' | b'#' | b'$' | b'*')
}

fn is_trail(b: u8) -> bool {
    matches!(b, b')' | b']' | b'}' | b'>' | b',' | b';' | b':' | b'.' | b'!' | b'?')
}

pub(crate) fn is_quote(b: u8) -> bool {
    b == b'"' || b == b'\''
}

fn opener_of(closer: u8) -> Option<u8> {
    match closer {
        b')' => Some(b'('),
        b']' => Some(b'['),
        b'}' => Some(b'{'),
        b'>' => Some(b'<'),
        _ => None,
    }
}

/// Splits `word` into outer punctuation and core: `("main"),` → `(`, `"main"`, `),`.
///
/// A closing bracket is outer only when the core does not open it (`charge(Foo.java:42)` keeps
/// its parenthesis), a quote only when it is not one end of a quoted core, and the `<` and `>`
/// of a `<*>` are never outer.
pub(crate) fn split_outer(word: &str) -> (&str, &str, &str) {
    let b = word.as_bytes();
    let (mut a, mut z) = (0, b.len());
    // Counts of brackets and quotes in `b[a..z]`, taken when first needed and kept up to date,
    // so that long words cost linear time.
    let mut counts: Option<BracketCounts> = None;
    loop {
        while a < z && is_lead(b[a]) && !b[a..z].starts_with(b"<*>") {
            if let Some(c) = &mut counts {
                c.remove(b[a]);
            }
            a += 1;
        }
        while z > a && is_trail(b[z - 1]) && !b[a..z].ends_with(b"<*>") {
            let closer = b[z - 1];
            if let Some(open) = opener_of(closer) {
                let c = counts.get_or_insert_with(|| BracketCounts::of(&b[a..z]));
                if c.get(open) >= c.get(closer) {
                    break;
                }
            }
            if let Some(c) = &mut counts {
                c.remove(closer);
            }
            z -= 1;
        }
        if is_quoted(&word[a..z]) {
            break;
        }
        // A quote at one end is outer when the core holds no partner for it.
        if a < z && is_quote(b[a]) && counts.get_or_insert_with(|| BracketCounts::of(&b[a..z])).get(b[a]) % 2 == 1 {
            if let Some(c) = &mut counts {
                c.remove(b[a]);
            }
            a += 1;
            continue;
        }
        if z > a
            && is_quote(b[z - 1])
            && counts.get_or_insert_with(|| BracketCounts::of(&b[a..z])).get(b[z - 1]) % 2 == 1
        {
            if let Some(c) = &mut counts {
                c.remove(b[z - 1]);
            }
            z -= 1;
            continue;
        }
        break;
    }
    (&word[..a], &word[a..z], &word[z..])
}

/// How many of each bracket and quote a text holds.
struct BracketCounts([u32; 10]);

impl BracketCounts {
    const CHARS: &'static [u8; 10] = b"()[]{}<>\"'";

    fn of(text: &[u8]) -> BracketCounts {
        let mut counts = BracketCounts([0; 10]);
        for &c in text {
            if let Some(i) = Self::CHARS.iter().position(|&x| x == c) {
                counts.0[i] += 1;
            }
        }
        counts
    }

    fn get(&self, c: u8) -> u32 {
        Self::CHARS.iter().position(|&x| x == c).map_or(0, |i| self.0[i])
    }

    fn remove(&mut self, c: u8) {
        if let Some(i) = Self::CHARS.iter().position(|&x| x == c) {
            self.0[i] = self.0[i].saturating_sub(1);
        }
    }
}

/// Character classes of a core, from one pass over it.
#[derive(Default)]
struct Scan {
    digit: bool,
    letter: bool,
    non_ascii: bool,
    delimiter: bool,
    at: bool,
    /// Holds `://`.
    url: bool,
    lowercase: bool,
    /// Only ASCII letters, `-` and `'`.
    letters_only: bool,
}

fn scan(core: &str) -> Scan {
    let b = core.as_bytes();
    let mut s = Scan { letters_only: true, ..Scan::default() };
    for (i, &c) in b.iter().enumerate() {
        s.letters_only &= c.is_ascii_alphabetic() || c == b'-' || c == b'\'';
        match c {
            b'0'..=b'9' => s.digit = true,
            b'a'..=b'z' => {
                s.letter = true;
                s.lowercase = true;
            }
            b'A'..=b'Z' => s.letter = true,
            0x80.. => s.non_ascii = true,
            b'@' => s.at = true,
            b':' => {
                s.delimiter = true;
                s.url |= b[i + 1..].starts_with(b"//");
            }
            _ if is_delimiter(c) => s.delimiter = true,
            _ => {}
        }
    }
    s
}

/// `char::is_alphabetic`, quick for ASCII and Hangul syllables.
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(c as u32, 0xAC00..=0xD7A3) || c.is_alphabetic()
}

/// Characters that cut a core into segments.
pub(crate) fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':'
            | b','
            | b';'
            | b'|'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b'&'
            | b'?'
            | b'"'
            | b'\''
    )
}

/// Whether `s` is one quoted string: its opening quote's partner is its last character.
fn is_quoted(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 || !is_quote(b[0]) {
        return false;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            q if q == b[0] => return i == b.len() - 1,
            _ => {}
        }
        i += 1;
    }
    false
}

fn mask_core(core: &str, out: &mut String) -> CoreKind {
    let b = core.as_bytes();
    if is_quoted(core) {
        out.push(b[0] as char);
        out.push_str(WILDCARD);
        out.push(b[0] as char);
        return CoreKind::Ident;
    }
    let s = scan(core);
    if is_path(core) || (s.at && is_email(core)) || (s.url && url_start(core) == Some(0)) {
        out.push_str(WILDCARD);
        return CoreKind::Variable;
    }
    if s.digit && !s.letter && !(s.non_ascii && core.chars().any(is_letter)) {
        out.push_str(WILDCARD);
        return CoreKind::Variable;
    }
    if s.digit && is_known_constant(core) {
        out.push_str(core);
        return CoreKind::Ident;
    }
    if !s.digit && !s.delimiter {
        if core.len() > MAX_CONST_BYTES {
            out.push_str(WILDCARD);
            return CoreKind::Variable;
        }
        out.push_str(core);
        let plain = if s.non_ascii {
            is_plain(core)
        } else {
            s.letters_only && b[0].is_ascii_alphabetic() && s.lowercase && !is_value_word(core)
        };
        return if is_calendar(core) {
            CoreKind::Calendar
        } else if plain {
            CoreKind::Plain
        } else {
            CoreKind::Ident
        };
    }
    mask_segments(core, s.url, out)
}

/// Masks a core segment by segment; see the module documentation.
fn mask_segments(core: &str, url: bool, out: &mut String) -> CoreKind {
    let start = out.len();
    // A URL inside the core (`url:http://…`) runs to its end.
    let (core, url_tail) = match url.then(|| url_start(core)).flatten() {
        Some(at) => (&core[..at], true),
        None => (core, false),
    };
    let b = core.as_bytes();
    let mut all_variable = true;
    let mut any_variable = url_tail;
    let mut last_segment = (0, 0);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'=' && valid_key(b, i, last_segment) {
            out.push('=');
            let key = &core[last_segment.0..last_segment.1];
            i += 1;
            if is_message_key(key) {
                continue;
            }
            all_variable = false;
            let end = value_end(b, i);
            mask_value(&core[i..end], out);
            i = end;
            continue;
        }
        if is_quote(c) {
            if let Some(close) = b[i + 1..].iter().position(|&q| q == c) {
                let quoted = &core[i..i + close + 2];
                if b.get(i + close + 2) == Some(&b':') && is_quoted_key(quoted) {
                    out.push_str(quoted);
                    all_variable = false;
                } else {
                    out.push(c as char);
                    out.push_str(WILDCARD);
                    out.push(c as char);
                }
                i += close + 2;
                continue;
            }
        }
        if is_delimiter(c) {
            out.push(c as char);
            i += 1;
            continue;
        }
        let end = segment_end(core, i);
        let segment = &core[i..end];
        last_segment = (i, end);
        if is_variable_segment(segment) {
            any_variable = true;
            // `15,000` and `host:port` are one variable, not two.
            let masked = &out[start..];
            if masked.ends_with("<*>,") || masked.ends_with("<*>:") {
                out.pop();
            } else {
                out.push_str(WILDCARD);
            }
        } else {
            out.push_str(segment);
            all_variable = false;
        }
        i = end;
    }
    if url_tail {
        out.push_str(WILDCARD);
    }
    if all_variable && any_variable {
        out.truncate(start);
        out.push_str(WILDCARD);
        return CoreKind::Variable;
    }
    CoreKind::Ident
}

/// End of the segment starting at `i`: the next delimiter or change between Hangul and
/// other characters (`12345번이` → `12345`, `번이`).
fn segment_end(core: &str, i: usize) -> usize {
    let mut hangul = None;
    for (off, ch) in core[i..].char_indices() {
        if ch.is_ascii() && is_delimiter(ch as u8) {
            return i + off;
        }
        let h = is_hangul(ch);
        match hangul {
            None => hangul = Some(h),
            Some(prev) if prev != h => return i + off,
            Some(_) => {}
        }
    }
    core.len()
}

/// A `=` starts a value when a key precedes it: a segment ending right there, or a closing
/// bracket (`(email)=(…)`).
fn valid_key(b: &[u8], i: usize, last_segment: (usize, usize)) -> bool {
    i > 0 && (last_segment.1 == i && last_segment.1 > last_segment.0 || matches!(b[i - 1], b')' | b']'))
}

fn is_message_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("msg") || key.eq_ignore_ascii_case("message")
}

/// A value runs to the next `,`, `;` or `&`, or to a closing bracket it did not open. A path
/// or URL value keeps its query string (`path=/a?x=1&y=2`).
fn value_end(b: &[u8], from: usize) -> usize {
    let url = b.get(from) == Some(&b'/') || b[from..].windows(3).take(16).any(|w| w == b"://");
    let mut depth = 0i32;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b',' if depth == 0 => return i,
            b';' | b'&' if depth == 0 && !url => return i,
            q if is_quote(q) && i == from => {
                if let Some(close) = b[i + 1..].iter().position(|&c| c == q) {
                    i += close + 2;
                    continue;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// Masks the value of a `key=value`: quotes and brackets around it stay, and so does a Hangul
/// counter after a number (`금액=15000원` → `금액=<*>원`); the rest is `<*>`.
fn mask_value(value: &str, out: &mut String) {
    let b = value.as_bytes();
    if is_quoted(value) {
        out.push(b[0] as char);
        out.push_str(WILDCARD);
        out.push(b[0] as char);
        return;
    }
    if let (Some(&first), Some(&last)) = (b.first(), b.last()) {
        if b.len() >= 2 && opener_of(last) == Some(first) {
            out.push(first as char);
            out.push_str(WILDCARD);
            out.push(last as char);
            return;
        }
    }
    let lead = b.iter().take_while(|&&c| matches!(c, b'(' | b'[' | b'{')).count();
    out.push_str(&value[..lead]);
    out.push_str(WILDCARD);
    let counter = value.char_indices().rev().take_while(|&(_, c)| is_hangul(c)).last().map_or(value.len(), |(i, _)| i);
    if counter < value.len() && value[..counter].bytes().any(|c| c.is_ascii_digit()) {
        out.push_str(&value[counter..]);
    }
}

/// A quoted name before a colon is a key, as in JSON or a Python dict (`"user_id":`).
fn is_quoted_key(quoted: &str) -> bool {
    let inner = &quoted[1..quoted.len() - 1];
    let mut chars = inner.chars();
    inner.len() <= MAX_CONST_BYTES
        && chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn is_variable_segment(segment: &str) -> bool {
    segment.len() > MAX_CONST_BYTES
        || (segment.bytes().any(|b| b.is_ascii_digit()) && !is_known_constant(segment))
        || is_path(segment)
        || is_email(segment)
}

/// `/`, `/var/log`, `~/x`, `./run.sh`, `../a`, `C:\x`.
fn is_path(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() == Some(&b'/')
        || s.starts_with("~/")
        || s.starts_with("./")
        || s.starts_with("../")
        || (b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
}

/// `local@domain.tld` with the usual characters.
fn is_email(s: &str) -> bool {
    let Some(at) = s.find('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    !local.is_empty()
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-'))
        && domain.contains('.')
        && !domain.ends_with('.')
        && domain.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

/// Where a `scheme://` starts in `s`, if anywhere.
fn url_start(s: &str) -> Option<usize> {
    let at = s.find("://")?;
    let b = s.as_bytes();
    let mut start = at;
    while start > 0 && (b[start - 1].is_ascii_alphanumeric() || matches!(b[start - 1], b'+' | b'.' | b'-')) {
        start -= 1;
    }
    (start < at && b[start].is_ascii_alphabetic()).then_some(start)
}

/// Words of a language, or names: letters (any script) with inner `-` or `'`, at least one of
/// them lowercase or caseless (Hangul). All-capital words (`GET`, `USD`, `FAILED`) and value
/// words (`true`, `null`) behave like enum values instead, and count as identifiers.
pub(crate) fn is_plain(core: &str) -> bool {
    let b = core.as_bytes();
    if core.is_ascii() {
        let letters = b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.iter().all(|&c| c.is_ascii_alphabetic() || c == b'-' || c == b'\'');
        return letters && b.iter().any(u8::is_ascii_lowercase) && !is_value_word(core);
    }
    let mut chars = core.chars();
    let letters = chars.next().is_some_and(is_letter) && chars.all(|c| is_letter(c) || c == '-' || c == '\'');
    letters && core.chars().any(|c| is_letter(c) && !c.is_uppercase())
}

fn is_value_word(core: &str) -> bool {
    let mut buf = [0u8; 9];
    matches!(lowercase(core, &mut buf), Some(b"true" | b"false" | b"null" | b"nil" | b"none" | b"undefined" | b"nan"))
}

/// `s` in ASCII lowercase in `buf`, if it fits.
fn lowercase<'a, const N: usize>(s: &str, buf: &'a mut [u8; N]) -> Option<&'a [u8]> {
    let b = s.as_bytes();
    if b.len() > N {
        return None;
    }
    for (dst, src) in buf.iter_mut().zip(b) {
        *dst = src.to_ascii_lowercase();
    }
    Some(&buf[..b.len()])
}

pub(crate) fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF)
}

/// Month and weekday names as timestamps write them: `Jan`, `JAN`, `Monday` (not `may`).
fn is_calendar(core: &str) -> bool {
    let b = core.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_uppercase() {
        return false;
    }
    let mut buf = [0u8; 9];
    matches!(
        lowercase(core, &mut buf),
        Some(
            b"jan"
                | b"feb"
                | b"mar"
                | b"apr"
                | b"may"
                | b"jun"
                | b"jul"
                | b"aug"
                | b"sep"
                | b"sept"
                | b"oct"
                | b"nov"
                | b"dec"
                | b"january"
                | b"february"
                | b"march"
                | b"april"
                | b"june"
                | b"july"
                | b"august"
                | b"september"
                | b"october"
                | b"november"
                | b"december"
                | b"mon"
                | b"tue"
                | b"wed"
                | b"thu"
                | b"fri"
                | b"sat"
                | b"sun"
                | b"monday"
                | b"tuesday"
                | b"wednesday"
                | b"thursday"
                | b"friday"
                | b"saturday"
                | b"sunday"
        )
    )
}

/// `HTTP/1.1`, `sha256`, `IPv4`: digits that are part of a name of a protocol, encoding or
/// platform rather than a value.
fn is_known_constant(s: &str) -> bool {
    let mut buf = [0u8; 12];
    let Some(lower) = lowercase(s, &mut buf) else { return false };
    if let Some(slash) = lower.iter().position(|&c| c == b'/') {
        let (proto, version) = (&lower[..slash], &lower[slash + 1..]);
        return matches!(proto, b"http" | b"https" | b"spdy" | b"rtsp" | b"sip" | b"quic")
            && (1..=3).contains(&version.len())
            && version[0].is_ascii_digit()
            && version.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    }
    matches!(
        lower,
        b"h2"
            | b"h2c"
            | b"h3"
            | b"http2"
            | b"http3"
            | b"ipv4"
            | b"ipv6"
            | b"tlsv1"
            | b"tlsv1.0"
            | b"tlsv1.1"
            | b"tlsv1.2"
            | b"tlsv1.3"
            | b"tls1.2"
            | b"tls1.3"
            | b"sslv2"
            | b"sslv3"
            | b"utf-8"
            | b"utf8"
            | b"utf-16"
            | b"utf16"
            | b"utf-32"
            | b"utf32"
            | b"utf8mb4"
            | b"iso-8859-1"
            | b"latin1"
            | b"sha1"
            | b"sha-1"
            | b"sha224"
            | b"sha256"
            | b"sha-256"
            | b"sha384"
            | b"sha512"
            | b"sha-512"
            | b"md5"
            | b"crc32"
            | b"base32"
            | b"base64"
            | b"hmac-sha256"
            | b"aes128"
            | b"aes256"
            | b"aes-256-gcm"
            | b"x509"
            | b"x.509"
            | b"oauth2"
            | b"s3"
            | b"ec2"
            | b"k8s"
            | b"i18n"
            | b"l10n"
            | b"a11y"
            | b"log4j"
            | b"log4j2"
            | b"slf4j"
            | b"x86"
            | b"x86_64"
            | b"amd64"
            | b"arm64"
            | b"aarch64"
            | b"i386"
            | b"i686"
            | b"win32"
            | b"win64"
            | b"int8"
            | b"int16"
            | b"int32"
            | b"int64"
            | b"uint8"
            | b"uint16"
            | b"uint32"
            | b"uint64"
            | b"float32"
            | b"float64"
            | b"ssh2"
            | b"e2e"
            | b"p50"
            | b"p90"
            | b"p95"
            | b"p99"
            | b"p999"
            | b"2fa"
            | b"3ds"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(word: &str, expect: &str) {
        let mut out = String::new();
        mask_word(word, word.contains(' '), &mut out);
        assert_eq!(out, expect, "{word}");
    }

    #[test]
    fn numbers_ids_and_units_are_variables() {
        check("42", "<*>");
        check("-17.5", "<*>");
        check("1,234,567", "<*>");
        check("0x1f3a", "<*>");
        check("3f2a9c1e-8b7d-4c6e-9f0a-1b2c3d4e5f60", "<*>");
        check("ORD-20240115-0001", "<*>");
        check("user42", "<*>");
        check("150ms", "<*>");
        check("12.5MiB", "<*>");
        check("42%", "<*>");
        check("1h2m3s", "<*>");
        check("a1b2c3d4e5f6", "<*>");
    }

    #[test]
    fn addresses_paths_urls_and_times_are_variables() {
        check("10.0.0.1", "<*>");
        check("10.0.0.1:8080", "<*>");
        check("fe80::1ff:fe23:4567:890a", "<*>");
        check("/api/v1/orders", "<*>");
        check("/health", "<*>");
        check("/", "<*>");
        check("~/.config/app.toml", "<*>");
        check("https://pay.example.com/v1/charge?id=7", "<*>");
        check("alice@example.com", "<*>");
        check("2024-01-15T10:23:45.123Z", "<*>");
        check("2024-01-15", "<*>");
        check("10:23:45", "<*>");
        check("+09:00", "<*>");
        check("[10/Oct/2000:13:55:36", "[<*>");
        check("-0700]", "<*>]");
    }

    #[test]
    fn outer_punctuation_stays() {
        check("42,", "<*>,");
        check("(order_id=ORD-7)", "(order_id=<*>)");
        check("\"/app/handlers.py\",", "\"<*>\",");
        check("'order_id'", "'<*>'");
        check("'name')", "'<*>')");
        check(r#"{"user_id":"#, r#"{"user_id":"#);
        check(r#"{"user_id":42,"name":"kim"}"#, r#"{"user_id":<*>,"name":"<*>"}"#);
        check(r#""http://x.example/a":"#, r#""<*>":"#);
        check("\"http://10.0.0.1:8080/healthz\":", "\"<*>\":");
        check("(110:", "(<*>:");
        check("$12.50", "$<*>");
        check("#42", "#<*>");
        check("*345", "*<*>");
        check("\"GET", "\"GET");
        check("HTTP/1.1\"", "HTTP/1.1\"");
        check("...", "...");
        check("->", "->");
    }

    #[test]
    fn segments_keep_their_constants() {
        check("PaymentService.java:142", "PaymentService.java:<*>");
        check("charge(PaymentService.java:142)", "charge(PaymentService.java:<*>)");
        check("GC(12)", "GC(<*>)");
        check("[23.456s][info][gc]", "[<*>][info][gc]");
        check("total-vm:123456kB,", "total-vm:<*>,");
        check("tasks.send_email[3f2a9c1e-8b7d-4c6e-9f0a-1b2c3d4e5f60]", "tasks.send_email[<*>]");
        check("alice(uid=1000)", "alice(uid=<*>)");
        check("user:profile:12345", "user:profile:<*>");
        check("url:http://x.example/a", "url:<*>");
    }

    #[test]
    fn key_values_are_variables_whatever_they_hold() {
        check("status=ACTIVE", "status=<*>");
        check("order_id=7,", "order_id=<*>,");
        check("id=1,amount=2", "id=<*>,amount=<*>");
        check("(email)=(bob@example.com)", "(email)=(<*>)");
        check("key=\"a b\"", "key=\"<*>\"");
        check("empty=", "empty=<*>");
        check("FetchPosition{offset=1234,", "FetchPosition{offset=<*>,");
        check("path=/api/v2/products?category=shoes&page=3", "path=<*>");
        check(r#"payload={"items":[{"sku":"A1"}],"total":12.5}"#, "payload={<*>}");
        check("금액=15000원,", "금액=<*>원,");
        check("사용자=김민수", "사용자=<*>");
        check("a=1&b=2", "a=<*>&b=<*>");
        check("msg=\"payment", "msg=\"payment");
        check("==", "==");
    }

    #[test]
    fn known_constants_with_digits_stay() {
        check("HTTP/1.1", "HTTP/1.1");
        check("HTTP/2", "HTTP/2");
        check("TLSv1.3", "TLSv1.3");
        check("IPv6", "IPv6");
        check("UTF-8", "UTF-8");
        check("SHA256:abc123", "SHA256:<*>");
        check("ssh2:", "ssh2:");
        check("curl/8.4.0", "<*>");
        check("Mozilla/5.0", "<*>");
    }

    #[test]
    fn hangul_particles_and_units_stay_outside_the_variable() {
        check("12345번이", "<*>번이");
        check("ORD-7에서", "<*>에서");
        check("3개,", "<*>개,");
        check("15,000원)", "<*>원)");
        check("결제가", "결제가");
        check("결제API", "결제API");
        check("김민수님의", "김민수님의");
    }

    #[test]
    fn words_are_classified() {
        let kind = |w: &str| mask_word(w, false, &mut String::new());
        assert_eq!(kind("42"), WordKind::Wildcard);
        assert_eq!(kind("42,"), WordKind::Ident);
        assert_eq!(kind("logged"), WordKind::Plain);
        assert_eq!(kind("\"Get"), WordKind::Plain);
        assert_eq!(kind("\"GET"), WordKind::Ident);
        assert_eq!(kind("false"), WordKind::Ident);
        assert_eq!(kind("read-only"), WordKind::Plain);
        assert_eq!(kind("결제가"), WordKind::Plain);
        assert_eq!(kind("send_email"), WordKind::Ident);
        assert_eq!(kind("Jan"), WordKind::Calendar);
        assert_eq!(kind("may"), WordKind::Plain);
        assert_eq!(kind(&"x".repeat(100)), WordKind::Wildcard);
        assert_eq!(kind(&"a=1,".repeat(300)), WordKind::Wildcard);
    }
}
