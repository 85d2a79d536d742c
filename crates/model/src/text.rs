//! What a word is, for indexing and for matching.
//!
//! A *word* is a run of Unicode letters or digits; words match whole and case-insensitively
//! (`timeout` matches `read_timeout=3s` and `Client.Timeout`, not `TimeoutError`). Words that
//! hold Hangul, kana or CJK ideographs match as substrings instead, because Korean attaches
//! particles and endings to the stem (`결제` must find `결제가`, `미결제`). For those, the index
//! keeps character unigrams and bigrams, so a substring query can still prune segments.

/// Hangul (syllables and jamo), kana and CJK ideographs: scripts searched by substring.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF
        | 0x3040..=0x30FF | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

pub fn has_cjk(text: &str) -> bool {
    !text.is_ascii() && text.chars().any(is_cjk)
}

/// The words of `text`, in order, as slices of it.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// Lowercase form used everywhere a word is compared or indexed.
pub fn fold(word: &str) -> String {
    if word.is_ascii() {
        word.to_ascii_lowercase()
    } else {
        word.to_lowercase()
    }
}

/// Case-insensitive equality of a text word with an already folded query word.
pub fn word_eq(text_word: &str, folded: &str) -> bool {
    if text_word.is_ascii() {
        text_word.eq_ignore_ascii_case(folded)
    } else {
        fold(text_word) == folded
    }
}

/// Calls `emit` with every index term of `text`: folded words without CJK characters, and the
/// character unigrams and bigrams of every CJK run. Terms may repeat.
pub fn index_terms(text: &str, mut emit: impl FnMut(&str)) {
    let mut buf = String::new();
    for word in words(text) {
        if !has_cjk(word) {
            if word.is_ascii() && !word.bytes().any(|b| b.is_ascii_uppercase()) {
                emit(word);
            } else {
                emit(&fold(word));
            }
            continue;
        }
        cjk_grams(word, |g| {
            buf.clear();
            buf.push_str(g);
            emit(&buf)
        });
    }
}

/// Unigrams and bigrams of the CJK runs of one word.
fn cjk_grams(word: &str, mut emit: impl FnMut(&str)) {
    let folded = fold(word);
    let mut prev: Option<(usize, char)> = None;
    for (i, c) in folded.char_indices() {
        if !is_cjk(c) {
            prev = None;
            continue;
        }
        emit(&folded[i..i + c.len_utf8()]);
        if let Some((start, _)) = prev {
            emit(&folded[start..i + c.len_utf8()]);
        }
        prev = Some((i, c));
    }
}

/// The index terms that every text matching the query word `word` must contain: the folded word
/// itself, or for a CJK word the bigrams (unigram for a single character) of its CJK runs.
pub fn required_terms(word: &str) -> Vec<String> {
    if !has_cjk(word) {
        return words(word).map(fold).collect();
    }
    let mut out = Vec::new();
    for w in words(word) {
        let folded = fold(w);
        let chars: Vec<(usize, char)> = folded.char_indices().collect();
        let mut run: Vec<&str> = Vec::new();
        let flush = |run: &mut Vec<&str>, out: &mut Vec<String>| {
            if run.len() == 1 {
                out.push(run[0].to_string());
            } else {
                for pair in run.windows(2) {
                    out.push(format!("{}{}", pair[0], pair[1]));
                }
            }
            run.clear();
        };
        for (i, c) in chars.iter().copied() {
            if is_cjk(c) {
                run.push(&folded[i..i + c.len_utf8()]);
            } else if !run.is_empty() {
                flush(&mut run, &mut out);
            }
        }
        if !run.is_empty() {
            flush(&mut run, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A compiled bare word or phrase: the folded query words in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    words: Vec<String>,
}

impl Phrase {
    /// Splits `text` into words. A bare word such as `read_timeout=3s` is a phrase of its words.
    pub fn new(text: &str) -> Phrase {
        Phrase { words: words(text).map(fold).collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// True when the words occur adjacent and in order in `text`. A CJK word matches inside a
    /// text word: the first one as a suffix, the last one as a prefix, a middle one whole, and
    /// a lone one anywhere. So `결제 실패` matches `미결제 실패했습니다`.
    pub fn matches(&self, text: &str) -> bool {
        match self.words.len() {
            0 => true,
            1 => {
                let q = &self.words[0];
                if has_cjk(q) {
                    contains_folded(text, q)
                } else {
                    words(text).any(|w| word_eq(w, q))
                }
            }
            n => {
                // Cheap rejection: every word must occur somewhere first.
                if self.words.iter().any(|q| !contains_folded(text, q)) {
                    return false;
                }
                let text_words: Vec<&str> = words(text).collect();
                if text_words.len() < n {
                    return false;
                }
                (0..=text_words.len() - n).any(|start| {
                    self.words.iter().enumerate().all(|(i, q)| {
                        let w = text_words[start + i];
                        if !has_cjk(q) {
                            return word_eq(w, q);
                        }
                        let fw = fold(w);
                        if i == 0 {
                            fw.ends_with(q.as_str())
                        } else if i == n - 1 {
                            fw.starts_with(q.as_str())
                        } else {
                            fw == *q
                        }
                    })
                })
            }
        }
    }
}

/// Case-insensitive substring test against an already folded needle.
pub fn contains_folded(text: &str, folded_needle: &str) -> bool {
    if text.is_ascii() && folded_needle.is_ascii() {
        let (h, n) = (text.as_bytes(), folded_needle.as_bytes());
        if n.is_empty() {
            return true;
        }
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    if !text.chars().any(|c| c.is_uppercase()) {
        return text.contains(folded_needle);
    }
    fold(text).contains(folded_needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        index_terms(text, |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn english_words_match_whole_and_case_insensitively() {
        let p = Phrase::new("timeout");
        assert!(p.matches("read_timeout=3s"));
        assert!(p.matches("net/http: Client.Timeout exceeded"));
        assert!(p.matches("TIMEOUT"));
        assert!(!p.matches("timeouts happened"));
        assert!(!p.matches("TimeoutError raised"));
    }

    #[test]
    fn korean_words_match_as_substrings() {
        let both = |q: &str, t: &str| q.split(' ').all(|w| Phrase::new(w).matches(t));
        assert!(both("결제 실패", "결제가 실패했습니다"));
        assert!(both("결제 실패", "미결제 실패"));
        assert!(!both("결제 실패", "결제 완료"));
        let phrase = Phrase::new("결제 실패");
        assert!(phrase.matches("미결제 실패가 발생"));
        assert!(phrase.matches("결제 실패: 카드 승인 거절"));
        assert!(!phrase.matches("실패 결제"));
    }

    #[test]
    fn phrases_need_adjacent_words_in_order() {
        let p = Phrase::new("card declined");
        assert!(p.matches("payment failed: Card DECLINED (code 51)"));
        assert!(!p.matches("declined card"));
        assert!(!p.matches("card was declined"));
        assert!(Phrase::new("read_timeout=3s").matches("error read_timeout=3s exceeded"));
    }

    #[test]
    fn index_terms_cover_required_terms() {
        for (text, query) in [
            ("결제가 실패했습니다", "실패"),
            ("미결제 실패", "결제"),
            ("Payment TIMEOUT after 3s", "timeout"),
            ("주문 API오류 발생", "오류"),
            ("재고 부족", "고"),
        ] {
            let have = terms(text);
            for t in required_terms(query) {
                assert!(have.contains(&t), "{text:?} lacks {t:?} of {query:?}");
            }
        }
        assert_eq!(required_terms("결제"), vec!["결제".to_string()]);
        assert_eq!(required_terms("결제가"), vec!["결제".to_string(), "제가".to_string()]);
    }
}
