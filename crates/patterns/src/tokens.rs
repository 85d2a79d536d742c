//! Tokenisation: a message's first line as masked words.
//!
//! Words are runs of non-whitespace (any Unicode whitespace separates), except that a quoted
//! string with spaces inside (`"GET /a HTTP/1.1"`, `key="a b"`) is one word, so it masks as one
//! variable whatever its length. Only the first line counts: the rest of a multi-line message
//! (a stack trace's frames) is not part of its pattern. After `max_tokens - 1` words, the rest of
//! the line is one final variable, so a very long line costs no more than a short one.

use crate::variable::{mask_word, WordKind, WILDCARD};

/// How far a quoted string may reach for its closing quote.
const MAX_QUOTED_BYTES: usize = 1024;

/// Bytes one message may spend looking for closing quotes; past it, quotes join nothing. This
/// keeps adversarial lines (`="x="x="x…`) linear.
const QUOTE_BUDGET: usize = 64 * 1024;

/// One masked word: its place in [`Tokens::text`] and what it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub start: u32,
    pub end: u32,
    pub kind: WordKind,
}

/// The masked words of one message, reused from message to message to spare allocations.
#[derive(Default, Debug, Clone)]
pub(crate) struct Tokens {
    /// The masked words joined by single spaces: the message's shape.
    pub text: String,
    pub tokens: Vec<Token>,
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn get(&self, i: usize) -> &str {
        let t = self.tokens[i];
        &self.text[t.start as usize..t.end as usize]
    }

    pub fn kind(&self, i: usize) -> WordKind {
        self.tokens[i].kind
    }

    /// Fills `self` with the masked words of `message`; `max_tokens` is at least 1.
    pub fn tokenize(&mut self, message: &str, max_tokens: usize) {
        self.text.clear();
        self.tokens.clear();
        let mut i = skip_whitespace(message, 0);
        let mut has_calendar = false;
        let mut budget = QUOTE_BUDGET;
        while i < message.len() {
            let (end, spaced) = word_end(message, i, &mut budget);
            let next = skip_whitespace(message, end);
            if self.tokens.len() + 1 == max_tokens && next < message.len() {
                self.push(|out| {
                    out.push_str(WILDCARD);
                    WordKind::Wildcard
                });
                break;
            }
            let kind = self.push(|out| mask_word(&message[i..end], spaced, out));
            has_calendar |= kind == WordKind::Calendar;
            i = next;
        }
        if has_calendar {
            self.resolve_calendar();
        }
        if self.text.capacity() > 1 << 20 {
            self.text.shrink_to(1 << 16);
        }
    }

    fn push(&mut self, mask: impl FnOnce(&mut String) -> WordKind) -> WordKind {
        if !self.tokens.is_empty() {
            self.text.push(' ');
        }
        let start = self.text.len();
        let kind = mask(&mut self.text);
        self.tokens.push(Token { start: start as u32, end: self.text.len() as u32, kind });
        kind
    }

    /// Month and weekday names next to a variable are part of a timestamp (`Jan 15 10:23:45`,
    /// `[Mon Jan 15 …`); elsewhere they are words.
    fn resolve_calendar(&mut self) {
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..self.tokens.len() {
                if self.tokens[i].kind != WordKind::Calendar {
                    continue;
                }
                let near = |j: usize| self.tokens.get(j).is_some_and(|t| t.kind == WordKind::Wildcard);
                if (i > 0 && near(i - 1)) || near(i + 1) {
                    self.replace_calendar(i);
                    changed = true;
                }
            }
        }
        for t in &mut self.tokens {
            if t.kind == WordKind::Calendar {
                t.kind = WordKind::Plain;
            }
        }
    }

    /// Replaces the letters of calendar token `i` by `<*>`, keeping its outer punctuation.
    fn replace_calendar(&mut self, i: usize) {
        let t = self.tokens[i];
        let word = &self.text[t.start as usize..t.end as usize];
        let letters = word.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0);
        let letters_end = word.rfind(|c: char| c.is_ascii_alphabetic()).map_or(word.len(), |e| e + 1);
        let masked = format!("{}{WILDCARD}{}", &word[..letters], &word[letters_end..]);
        let kind = if masked == WILDCARD { WordKind::Wildcard } else { WordKind::Ident };
        let delta = masked.len() as i64 - (t.end - t.start) as i64;
        self.text.replace_range(t.start as usize..t.end as usize, &masked);
        self.tokens[i].end = (t.end as i64 + delta) as u32;
        self.tokens[i].kind = kind;
        for later in &mut self.tokens[i + 1..] {
            later.start = (later.start as i64 + delta) as u32;
            later.end = (later.end as i64 + delta) as u32;
        }
    }
}

/// Byte classes for the scanner.
const SPACE: u8 = 1;
const NEWLINE: u8 = 2;
const QUOTE: u8 = 4;
/// First byte of a non-ASCII whitespace character (U+0085, U+00A0, U+1680, U+2000–U+205F,
/// U+3000); Hangul and most other scripts never start with these.
const WIDE_SPACE_LEAD: u8 = 8;

static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    class[b' ' as usize] = SPACE;
    class[b'\t' as usize] = SPACE;
    class[b'\r' as usize] = SPACE;
    class[0x0b] = SPACE;
    class[0x0c] = SPACE;
    class[b'\n' as usize] = NEWLINE;
    class[b'"' as usize] = QUOTE;
    class[b'\'' as usize] = QUOTE;
    class[0xC2] = WIDE_SPACE_LEAD;
    class[0xE1] = WIDE_SPACE_LEAD;
    class[0xE2] = WIDE_SPACE_LEAD;
    class[0xE3] = WIDE_SPACE_LEAD;
    class
};

/// Length of the non-ASCII whitespace character at `i`, if there is one.
fn wide_space(text: &str, i: usize) -> Option<usize> {
    let c = text.get(i..)?.chars().next()?;
    c.is_whitespace().then(|| c.len_utf8())
}

/// Position of the next word after whitespace from `i`, or `text.len()` at the end of the first
/// line.
fn skip_whitespace(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    while i < b.len() {
        match CLASS[b[i] as usize] {
            SPACE => i += 1,
            NEWLINE => return b.len(),
            WIDE_SPACE_LEAD => match wide_space(text, i) {
                Some(n) => i += n,
                None => return i,
            },
            _ => return i,
        }
    }
    i
}

/// End of the word starting at `start` (the next whitespace outside a joined quoted string),
/// and whether the word holds whitespace.
fn word_end(text: &str, start: usize, budget: &mut usize) -> (usize, bool) {
    let b = text.as_bytes();
    let mut spaced = false;
    let mut i = start;
    while i < b.len() {
        match CLASS[b[i] as usize] {
            0 => i += 1,
            SPACE | NEWLINE => return (i, spaced),
            WIDE_SPACE_LEAD => {
                if wide_space(text, i).is_some() {
                    return (i, spaced);
                }
                i += 1;
            }
            _ => {
                if *budget > 0 && opens_quote(text, start, i) {
                    if let Some(close) = closing_quote(b, i, budget) {
                        spaced = true;
                        i = close + 1;
                        continue;
                    }
                }
                i += 1;
            }
        }
    }
    (b.len(), spaced)
}

/// A quote opens a string at the start of a word (after brackets) or right after `=` or `:`,
/// but not as the value of `msg=`/`message=`, which is the message itself and is tokenised.
fn opens_quote(line: &str, start: usize, at: usize) -> bool {
    let b = line.as_bytes();
    if b[start..at].iter().all(|&c| matches!(c, b'(' | b'[' | b'{')) {
        return true;
    }
    if !matches!(b[at - 1], b'=' | b':') {
        return false;
    }
    let key = line[start..at - 1].trim_start_matches(['(', '[', '{']);
    !(key.eq_ignore_ascii_case("msg") || key.eq_ignore_ascii_case("message"))
}

/// The closing partner of the quote at `open`, when the string holds whitespace (otherwise
/// the word ends at the next whitespace anyway): the same quote, not escaped, not followed
/// by a letter or digit, on the same line, within [`MAX_QUOTED_BYTES`].
fn closing_quote(b: &[u8], open: usize, budget: &mut usize) -> Option<usize> {
    let q = b[open];
    let limit = b.len().min(open + MAX_QUOTED_BYTES.min(*budget));
    *budget -= limit - open;
    let mut spaced = false;
    let mut j = open + 1;
    while j < limit {
        match b[j] {
            b'\\' => j += 1,
            b'\n' => return None,
            b' ' | b'\t' => spaced = true,
            c if c == q => {
                let ends = b.get(j + 1).is_none_or(|n| !n.is_ascii_alphanumeric());
                if ends {
                    return spaced.then_some(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(message: &str, expect: &str) {
        let mut tokens = Tokens::default();
        tokens.tokenize(message, 64);
        let words: Vec<&str> = (0..tokens.len()).map(|i| tokens.get(i)).collect();
        assert_eq!(words.join(" "), tokens.text, "{message}");
        assert_eq!(tokens.text, expect, "{message}");
    }

    #[test]
    fn words_are_masked_and_joined_by_one_space() {
        check(
            "payment 1234 failed:  card declined (order_id=ORD-7)",
            "payment <*> failed: card declined (order_id=<*>)",
        );
        check("  \tleading and trailing\r", "leading and trailing");
        check("", "");
        check("a\u{3000}b\u{a0}c", "a b c");
    }

    #[test]
    fn quoted_strings_with_spaces_are_one_variable() {
        check(
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "Mozilla/5.0 (X11; Linux x86_64)""#,
            r#"<*> - - [<*> <*>] "<*>" <*> <*> "<*>" "<*>""#,
        );
        check(r#"error="connection refused by peer" retry=3"#, r#"error="<*>" retry=<*>"#);
        check(
            r#"Exception in thread "main" java.lang.NullPointerException"#,
            r#"Exception in thread "<*>" java.lang.NullPointerException"#,
        );
        check(
            r#"level=info msg="payment failed for order 42" id=7"#,
            r#"level=<*> msg="payment failed for order <*>" id=<*>"#,
        );
        check("it's Bob's 'thing here", "it's Bob's 'thing here");
        check(r#"unclosed "quote here"#, r#"unclosed "quote here"#);
    }

    #[test]
    fn only_the_first_line_counts() {
        check(
            "java.lang.IllegalStateException: boom\n\tat com.example.A.b(A.java:1)",
            "java.lang.IllegalStateException: boom",
        );
    }

    #[test]
    fn long_lines_end_in_one_variable() {
        let mut tokens = Tokens::default();
        tokens.tokenize(&"word ".repeat(1000), 8);
        assert_eq!(tokens.text, "word word word word word word word <*>");
        tokens.tokenize("a b c d e f g h", 8);
        assert_eq!(tokens.text, "a b c d e f g h");
    }

    #[test]
    fn adversarial_lines_stay_linear() {
        let mut tokens = Tokens::default();
        let line = "=\"x".repeat(1 << 20);
        let start = std::time::Instant::now();
        tokens.tokenize(&line, 128);
        tokens.tokenize(&"(".repeat(1 << 20), 128);
        tokens.tokenize(&")".repeat(1 << 20), 128);
        tokens.tokenize(&"\"".repeat(1 << 20), 128);
        assert!(start.elapsed().as_secs() < 5);
        assert_eq!(tokens.text, "<*>");
    }

    #[test]
    fn calendar_names_next_to_variables_are_timestamps() {
        check("Jan 15 10:23:45 web-01 sshd[1234]: Accepted", "<*> <*> <*> <*> sshd[<*>]: Accepted");
        check("[Mon Jan 15 10:23:45 2024] [error]", "[<*> <*> <*> <*> <*>] [error]");
        check("May I help", "May I help");
    }
}
