//! Recursive-descent parser of the search part:
//!
//! ```text
//! query   := or? ('|' pipe)*            pipes: see `pipes.rs`
//! or      := and ('OR' and)*
//! and     := unary (('AND')? unary)*
//! unary   := ('NOT' | '-') unary | primary
//! primary := '(' or ')' | '"phrase"' | field ':' value | field op number | word | word '*'
//! value   := word | '"text"' | word '*' | '*' | '[' low 'TO' high ']' | '/' regex '/'
//! ```

use trawl_model::text::Phrase;

use crate::ast::{Compare, Expr, FieldTerm, Query, Regex, TimeFilter};
use crate::QueryError;

/// Parses a query; errors name the line and column.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let mut p = Parser { chars: text.chars().collect(), pos: 0, depth: 0, terms: 0 };
    p.skip_ws();
    let mut query = Query::default();
    if !p.at_end() && p.peek() != Some('|') {
        let expr = p.parse_or()?;
        p.skip_ws();
        match p.peek() {
            None | Some('|') => {}
            Some(')') => return Err(p.error_here("unmatched \")\"")),
            Some(c) => return Err(p.error_here(&format!("unexpected \"{c}\""))),
        }
        let (expr, time) = p.take_time_terms(expr)?;
        query.expr = expr;
        query.time = time;
    }
    query.pipes = p.parse_pipes()?;
    Ok(query)
}

/// A condition on the columns of a result row, as a `where` pipe takes it (`n > 100`,
/// `error_rate > 0.05 and requests >= 20`): what alert rules compare their results with. Error
/// positions count from the start of `text`.
pub fn parse_condition(text: &str) -> Result<crate::ValueExpr, QueryError> {
    const PREFIX: &str = "| where ";
    if text.trim().is_empty() {
        return Err(QueryError::Syntax { message: "the condition is empty".into(), line: 1, column: 1 });
    }
    if text.contains('|') && !text.contains(['"', '\'', '`']) {
        let column = text.chars().position(|c| c == '|').unwrap_or(0) + 1;
        return Err(QueryError::Syntax { message: "a condition cannot contain a pipe".into(), line: 1, column });
    }
    let shift = |e: QueryError| match e {
        QueryError::Syntax { message, line: 1, column } => {
            QueryError::Syntax { message, line: 1, column: column.saturating_sub(PREFIX.chars().count()).max(1) }
        }
        other => other,
    };
    let query = parse(&format!("{PREFIX}{text}")).map_err(shift)?;
    match query.pipes.as_slice() {
        [crate::Pipe::Where(expr)] => Ok(expr.clone()),
        _ => Err(QueryError::Syntax { message: "a condition cannot contain a pipe".into(), line: 1, column: 1 }),
    }
}

pub(crate) struct Parser {
    pub(crate) chars: Vec<char>,
    pub(crate) pos: usize,
    pub(crate) depth: usize,
    /// Terms of the search part so far.
    pub(crate) terms: usize,
}

/// Nesting of parentheses and `NOT`s, in the search part and in expressions.
pub const MAX_DEPTH: usize = 64;

/// Terms (words, phrases, field conditions) of the search part.
pub const MAX_SEARCH_TERMS: usize = 4_096;

/// Longest phrase or word searched for, in bytes: matching costs its length on every row, and
/// nothing longer is a search anyone means (a 1 MB phrase is a denial of service).
pub const MAX_PHRASE_BYTES: usize = 4_096;

/// Regexes compile to at most this many bytes of program; bigger ones are refused.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The field name of in-query time terms.
const TIME_FIELD: &str = "_time";

impl Parser {
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    pub(crate) fn error_at(&self, pos: usize, message: &str) -> QueryError {
        let mut line = 1;
        let mut column = 1;
        for c in &self.chars[..pos.min(self.chars.len())] {
            if *c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        QueryError::Syntax { message: message.to_string(), line, column }
    }

    pub(crate) fn error_here(&self, message: &str) -> QueryError {
        self.error_at(self.pos, message)
    }

    /// The keyword `kw` (uppercase only) followed by a separator.
    pub(crate) fn at_keyword(&self, kw: &str) -> bool {
        let n = kw.chars().count();
        let matches = self.chars[self.pos..].iter().take(n).copied().eq(kw.chars());
        matches && self.chars.get(self.pos + n).is_none_or(|c| c.is_whitespace() || *c == '(' || *c == '"')
    }

    fn parse_or(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.parse_and()?];
        loop {
            self.skip_ws();
            if self.at_keyword("OR") {
                self.pos += 2;
                self.skip_ws();
                if self.at_end() || matches!(self.peek(), Some(')' | '|')) {
                    return Err(self.error_here("expected a term after \"OR\""));
                }
                items.push(self.parse_and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Expr::Or(items) })
    }

    fn parse_and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.parse_unary()?];
        loop {
            self.skip_ws();
            if self.at_end() || matches!(self.peek(), Some(')' | '|')) || self.at_keyword("OR") {
                break;
            }
            if self.at_keyword("AND") {
                self.pos += 3;
                self.skip_ws();
                if self.at_end() || matches!(self.peek(), Some(')' | '|')) {
                    return Err(self.error_here("expected a term after \"AND\""));
                }
            }
            items.push(self.parse_unary()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Expr::And(items) })
    }

    fn parse_unary(&mut self) -> Result<Expr, QueryError> {
        self.skip_ws();
        if self.at_keyword("NOT") {
            self.pos += 3;
            self.skip_ws();
            if self.at_end() {
                return Err(self.error_here("expected a term after \"NOT\""));
            }
            return Ok(Expr::Not(Box::new(self.nested(|p| p.parse_unary())?)));
        }
        if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| !c.is_whitespace()) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.nested(|p| p.parse_unary())?)));
        }
        self.parse_primary()
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Parser) -> Result<T, QueryError>) -> Result<T, QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(&format!("query nests deeper than {MAX_DEPTH} levels")));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn parse_primary(&mut self) -> Result<Expr, QueryError> {
        self.skip_ws();
        self.terms += 1;
        if self.terms > MAX_SEARCH_TERMS {
            return Err(self.error_here(&format!("the search has more than {MAX_SEARCH_TERMS} terms")));
        }
        match self.peek() {
            None => Err(self.error_here("expected a term")),
            Some('(') => {
                let open = self.pos;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.error_here("expected a term inside \"()\""));
                }
                let e = self.nested(|p| p.parse_or())?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error_at(open, "unclosed \"(\""));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(')') => Err(self.error_here("unexpected \")\"")),
            Some('"') => {
                let s = self.parse_quoted()?;
                Ok(Expr::Text(Phrase::new(&s)))
            }
            Some(_) => {
                let at = self.pos;
                let e = self.parse_word_or_field()?;
                let len: usize = self.chars[at..self.pos].iter().map(|c| c.len_utf8()).sum();
                if len > MAX_PHRASE_BYTES {
                    return Err(self.error_at(at, &format!("a term of {len} bytes is longer than the limit of {MAX_PHRASE_BYTES} bytes")));
                }
                Ok(e)
            }
        }
    }

    pub(crate) fn parse_quoted(&mut self) -> Result<String, QueryError> {
        self.quoted('"')
    }

    /// A run of characters up to whitespace, a parenthesis or a quote.
    pub(crate) fn read_word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"' | '|')) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn parse_word_or_field(&mut self) -> Result<Expr, QueryError> {
        let start = self.pos;
        // A field name: letters, digits, `_`, `.`, `-`, `@`.
        let mut i = self.pos;
        while self.chars.get(i).is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@')) {
            i += 1;
        }
        let name: String = self.chars[start..i].iter().collect();
        let is_name = !name.is_empty() && !name.starts_with('-');
        if is_name {
            let op_text: String = self.chars[i..].iter().take(2).collect();
            let op = if op_text.starts_with(">=") {
                Some((Compare::Ge, 2))
            } else if op_text.starts_with("<=") {
                Some((Compare::Le, 2))
            } else if op_text.starts_with('>') {
                Some((Compare::Gt, 1))
            } else if op_text.starts_with('<') {
                Some((Compare::Lt, 1))
            } else {
                None
            };
            if let Some((op, len)) = op {
                self.pos = i + len;
                let value_pos = self.pos;
                let v = self.read_word();
                let op_str: String = self.chars[i..i + len].iter().collect();
                if v.is_empty() {
                    return Err(self.error_at(value_pos, &format!("expected a value after \"{name}{op_str}\"")));
                }
                let value = v.parse::<f64>().map_err(|_| {
                    self.error_at(value_pos, &format!("expected a number after \"{name}{op_str}\", found \"{v}\""))
                })?;
                return Ok(Expr::Field(FieldTerm::Compare { field: name.to_ascii_lowercase_if_core(), op, value }));
            }
            if self.chars.get(i) == Some(&':') {
                self.pos = i + 1;
                let field = name.to_ascii_lowercase_if_core();
                return match self.peek() {
                    Some('"') => {
                        let value = self.parse_quoted()?;
                        Ok(Expr::Field(equals(field, value)))
                    }
                    None => Err(self.error_here(&format!("expected a value after \"{name}:\""))),
                    Some(c) if c.is_whitespace() || c == ')' => {
                        Err(self.error_here(&format!("expected a value after \"{name}:\"")))
                    }
                    Some('[') => self.parse_range(field),
                    Some('(') => self.parse_field_group(field, &name),
                    Some(_) => {
                        let value_pos = self.pos;
                        if let Some(source) = self.read_regex() {
                            return self.regex_term(field, &source, value_pos);
                        }
                        let value = self.read_word();
                        if field == TIME_FIELD {
                            return self.time_last(&value, value_pos);
                        }
                        if value == "*" {
                            Ok(Expr::Field(FieldTerm::Exists { field }))
                        } else if let Some(prefix) = value.strip_suffix('*').filter(|p| !p.is_empty()) {
                            Ok(Expr::Field(FieldTerm::Prefix { field, prefix: prefix.to_string() }))
                        } else {
                            Ok(Expr::Field(equals(field, value)))
                        }
                    }
                };
            }
        }
        let word = self.read_word();
        if word.is_empty() {
            return Err(self.error_here("expected a term"));
        }
        if let Some(prefix) = word.strip_suffix('*') {
            let words = Phrase::new(prefix);
            if let [w] = words.words() {
                return Ok(Expr::Field(FieldTerm::TextPrefix { prefix: w.clone() }));
            }
            if !prefix.is_empty() {
                return Err(self.error_at(start, &format!("a prefix \"{word}\" must be one word")));
            }
        }
        let phrase = Phrase::new(&word);
        if phrase.is_empty() {
            return Err(self.error_at(start, &format!("\"{word}\" has no letters or digits to search for")));
        }
        Ok(Expr::Text(phrase))
    }
}

impl Parser {
    /// `(a OR b OR "c d")` after `field:`: any of the values (as Kibana and Lucene read it).
    fn parse_field_group(&mut self, field: String, name: &str) -> Result<Expr, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut terms = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.error_at(open, "unclosed \"(\"")),
                Some(')') if terms.is_empty() => return Err(self.error_here(&format!("expected a value inside \"{name}:( )\""))),
                Some(')') => {
                    self.pos += 1;
                    break;
                }
                Some('"') => {
                    let value = self.parse_quoted()?;
                    terms.push(Expr::Field(equals(field.clone(), value)));
                }
                Some(_) => {
                    let at = self.pos;
                    let value = self.read_word();
                    if value.is_empty() {
                        return Err(self.error_here(&format!("expected a value inside \"{name}:( )\"")));
                    }
                    if value == "OR" && !terms.is_empty() {
                        continue;
                    }
                    if matches!(value.as_str(), "AND" | "NOT" | "OR") {
                        return Err(self.error_at(at, &format!("inside \"{name}:( )\" only values separated by OR are taken")));
                    }
                    if terms.len() >= 1_000 {
                        return Err(self.error_at(at, "more than 1,000 values in a group"));
                    }
                    terms.push(Expr::Field(match value.strip_suffix('*') {
                        Some("") => FieldTerm::Exists { field: field.clone() },
                        Some(prefix) => FieldTerm::Prefix { field: field.clone(), prefix: prefix.to_string() },
                        None => equals(field.clone(), value),
                    }));
                }
            }
        }
        Ok(if terms.len() == 1 { terms.pop().expect("one term") } else { Expr::Or(terms) })
    }

    /// `[low TO high]` after `field:`; `*` leaves a side open.
    fn parse_range(&mut self, field: String) -> Result<Expr, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut parts = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.error_at(open, "unclosed \"[\"")),
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                Some('"') => parts.push(self.parse_quoted()?),
                Some(_) => {
                    let begin = self.pos;
                    while self.peek().is_some_and(|c| !c.is_whitespace() && c != ']') {
                        self.pos += 1;
                    }
                    parts.push(self.chars[begin..self.pos].iter().collect());
                }
            }
        }
        let [low, to, high] = <[String; 3]>::try_from(parts).map_err(|_| self.error_at(open, "expected \"[low TO high]\""))?;
        if !to.eq_ignore_ascii_case("to") {
            return Err(self.error_at(open, "expected \"[low TO high]\""));
        }
        if field == TIME_FIELD {
            let now = trawl_model::now_ns();
            let bound = |text: &str, open_value: i64| -> Result<i64, QueryError> {
                if text == "*" {
                    return Ok(open_value);
                }
                trawl_model::parse_time_bound(text, now).ok_or_else(|| {
                    self.error_at(open, &format!("expected a time (RFC 3339, epoch or a duration such as 15m), found \"{text}\""))
                })
            };
            let (a, b) = (bound(&low, i64::MIN)?, bound(&high, i64::MAX)?);
            return Ok(time_term(TimeFilter::Range(a, b)));
        }
        Ok(Expr::Field(FieldTerm::Range { field, low, high }))
    }

    /// `/source/` up to the next unescaped `/` that ends the term (followed by whitespace, `)`,
    /// `|` or the end); None, consuming nothing, when the value is not such a regex.
    fn read_regex(&mut self) -> Option<String> {
        if self.peek() != Some('/') {
            return None;
        }
        let mut i = self.pos + 1;
        while let Some(&c) = self.chars.get(i) {
            match c {
                '\\' => i += 2,
                '/' => {
                    let ends = self.chars.get(i + 1).is_none_or(|n| n.is_whitespace() || matches!(n, ')' | '|'));
                    if !ends || i == self.pos + 1 {
                        return None;
                    }
                    let source: String = self.chars[self.pos + 1..i].iter().collect();
                    self.pos = i + 1;
                    return Some(source);
                }
                c if c.is_whitespace() => return None,
                _ => i += 1,
            }
        }
        None
    }

    fn regex_term(&self, field: String, source: &str, at: usize) -> Result<Expr, QueryError> {
        let compiled = regex::RegexBuilder::new(source)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => self.error_at(at, &format!("regex is too large (limit {REGEX_SIZE_LIMIT} bytes compiled)")),
                other => {
                    let text = other.to_string();
                    let last = text.lines().last().unwrap_or("syntax error").trim();
                    self.error_at(at, &format!("invalid regex: {}", last.strip_prefix("error: ").unwrap_or(last)))
                }
            })?;
        Ok(Expr::Field(FieldTerm::Regex { field, regex: Regex { source: source.to_string(), compiled } }))
    }

    /// `_time:15m`: the last 15 minutes.
    fn time_last(&self, value: &str, at: usize) -> Result<Expr, QueryError> {
        let d = trawl_model::parse_duration_ns(value)
            .ok_or_else(|| self.error_at(at, &format!("expected a duration such as 15m or a range [A TO B] after \"_time:\", found \"{value}\"")))?;
        Ok(time_term(TimeFilter::Last(d)))
    }

    /// Lifts `_time` terms out of the top-level AND; anywhere else they are an error.
    fn take_time_terms(&self, expr: Expr) -> Result<(Option<Expr>, Option<TimeFilter>), QueryError> {
        let items = match expr {
            Expr::And(items) => items,
            other => vec![other],
        };
        let mut time: Option<TimeFilter> = None;
        let mut rest = Vec::new();
        for item in items {
            match as_time_term(&item) {
                Some(t) => time = Some(intersect_time(time, t)),
                None => {
                    if contains_time_term(&item) {
                        let at = self.chars.iter().collect::<String>().find(TIME_FIELD).map(|b| self.char_index(b)).unwrap_or(0);
                        return Err(self.error_at(at, "_time must be a condition of the whole query, not inside OR or NOT"));
                    }
                    rest.push(item)
                }
            }
        }
        let expr = match rest.len() {
            0 => None,
            1 => rest.pop(),
            _ => Some(Expr::And(rest)),
        };
        Ok((expr, time))
    }

    fn char_index(&self, byte: usize) -> usize {
        self.chars.iter().collect::<String>()[..byte].chars().count()
    }
}

/// `_time` terms travel through the expression tree as this marker until lifted out.
fn time_term(t: TimeFilter) -> Expr {
    let (low, high) = match t {
        TimeFilter::Last(d) => ("last".to_string(), d.to_string()),
        TimeFilter::Range(a, b) => (a.to_string(), b.to_string()),
    };
    Expr::Field(FieldTerm::Range { field: TIME_FIELD.to_string(), low, high })
}

fn as_time_term(e: &Expr) -> Option<TimeFilter> {
    match e {
        Expr::Field(FieldTerm::Range { field, low, high }) if field == TIME_FIELD => {
            let h: i64 = high.parse().ok()?;
            if low == "last" {
                Some(TimeFilter::Last(h))
            } else {
                Some(TimeFilter::Range(low.parse().ok()?, h))
            }
        }
        _ => None,
    }
}

fn contains_time_term(e: &Expr) -> bool {
    match e {
        Expr::And(items) | Expr::Or(items) => items.iter().any(contains_time_term),
        Expr::Not(inner) => contains_time_term(inner),
        other => as_time_term(other).is_some(),
    }
}

/// Two time terms both apply: `Last` terms keep the shorter window; ranges intersect.
fn intersect_time(current: Option<TimeFilter>, new: TimeFilter) -> TimeFilter {
    match (current, new) {
        (None, t) => t,
        (Some(TimeFilter::Last(a)), TimeFilter::Last(b)) => TimeFilter::Last(a.min(b)),
        (Some(TimeFilter::Range(a, b)), TimeFilter::Range(c, d)) => TimeFilter::Range(a.max(c), b.min(d)),
        (Some(TimeFilter::Last(d)), TimeFilter::Range(a, b)) | (Some(TimeFilter::Range(a, b)), TimeFilter::Last(d)) => {
            let now = trawl_model::now_ns();
            TimeFilter::Range(a.max(now - d), b)
        }
    }
}

/// `field:value`; ids are normalised here, once, so rows compare without allocating.
fn equals(field: String, value: String) -> FieldTerm {
    let value = match crate::ast::core_field(&field) {
        Some("trace_id" | "span_id") => trawl_model::normalize_id(&value),
        _ => value,
    };
    FieldTerm::Equals { field, value }
}

trait FieldName {
    fn to_ascii_lowercase_if_core(&self) -> String;
}

impl FieldName for String {
    /// Core column names are case-insensitive; attribute names are kept as written.
    fn to_ascii_lowercase_if_core(&self) -> String {
        let lower = self.to_ascii_lowercase();
        if crate::ast::core_field(&lower).is_some() {
            lower
        } else {
            self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }

    #[test]
    fn parses_fields_words_phrases_and_boolean_structure() {
        let q = parse(r#"service:payment level:error "결제 실패" status>=500 -health (a OR b)"#).unwrap();
        let Some(Expr::And(items)) = q.expr else { panic!("{q:?}") };
        assert_eq!(items.len(), 6);
        assert_eq!(items[0], Expr::Field(FieldTerm::Equals { field: "service".into(), value: "payment".into() }));
        assert_eq!(items[2], Expr::Text(Phrase::new("결제 실패")));
        assert_eq!(items[3], Expr::Field(FieldTerm::Compare { field: "status".into(), op: Compare::Ge, value: 500.0 }));
        assert!(matches!(&items[4], Expr::Not(_)));
        assert!(matches!(&items[5], Expr::Or(v) if v.len() == 2));
        assert_eq!(
            parse("user.id:\"u 1\" http.path:/api* trace:*").unwrap().expr,
            Some(Expr::And(vec![
                Expr::Field(FieldTerm::Equals { field: "user.id".into(), value: "u 1".into() }),
                Expr::Field(FieldTerm::Prefix { field: "http.path".into(), prefix: "/api".into() }),
                Expr::Field(FieldTerm::Exists { field: "trace".into() }),
            ]))
        );
        assert_eq!(parse("   ").unwrap().expr, None);
    }

    #[test]
    fn errors_name_position_and_expectation() {
        assert_eq!(err("level:error status>="), "expected a value after \"status>=\" at 1:21");
        assert_eq!(err("status>=abc"), "expected a number after \"status>=\", found \"abc\" at 1:9");
        assert_eq!(err("(a OR b"), "unclosed \"(\" at 1:1");
        assert_eq!(err("\"unclosed"), "unclosed quote at 1:1");
        assert_eq!(err("a OR"), "expected a term after \"OR\" at 1:5");
        assert_eq!(err("service:"), "expected a value after \"service:\" at 1:9");
        assert_eq!(err("a | frobnicate"), "unknown pipe \"frobnicate\": expected one of where, fields, sort, limit, stats, top, traces, patterns at 1:5");
        assert_eq!(err("a\nb)"), "unmatched \")\" at 2:2");
    }

    #[test]
    fn a_field_takes_a_group_of_values() {
        let level = |v: &str| Expr::Field(FieldTerm::Equals { field: "level".into(), value: v.into() });
        assert_eq!(parse("level:(warn OR error OR fatal)").unwrap().expr, Some(Expr::Or(vec![level("warn"), level("error"), level("fatal")])));
        assert_eq!(parse("level:(error)").unwrap().expr, Some(level("error")));
        let q = parse("service:(\"결제 서비스\" OR pay*) x").unwrap();
        let Some(Expr::And(items)) = q.expr else { panic!("{q:?}") };
        assert!(matches!(&items[0], Expr::Or(v) if v.len() == 2));
        assert_eq!(err("level:(error"), "unclosed \"(\" at 1:7");
        assert_eq!(err("level:()"), "expected a value inside \"level:( )\" at 1:8");
        assert_eq!(err("level:(error AND warn)"), "inside \"level:( )\" only values separated by OR are taken at 1:14");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let q = "(".repeat(10_000) + "a" + &")".repeat(10_000);
        assert!(err(&q).contains("nests deeper"));
        let q = "NOT ".repeat(10_000) + "a";
        assert!(err(&q).contains("nests deeper"));
    }
}
