//! Parser of the pipes after the search part:
//!
//! ```text
//! pipe    := 'where' expr
//!          | 'fields' name (',' name)*
//!          | 'sort' 'by'? name ('asc'|'desc')? (',' name ('asc'|'desc')?)*
//!          | 'limit' N | 'head' N
//!          | 'stats' agg ('as' name)? (',' agg ('as' name)?)* ('by' key (',' key)*)?
//!          | 'top' N? name ('by' name)?
//!          | 'traces' N?
//!          | 'patterns'
//! agg     := count() | count_if(expr) | sum(expr) | avg(expr) | min(expr) | max(expr)
//!          | pNN(expr) | uniq(expr) | rate()
//! key     := name ('as' name)? | bin(time, DURATION) ('as' name)?
//! expr    := or;  or := and ('or' and)*;  and := not ('and' not)*;  not := 'not' not | cmp
//! cmp     := sum (('='|'=='|'!='|'<'|'<='|'>'|'>='|'contains') sum | 'not'? 'in' '(' expr, ... ')')?
//! sum     := product (('+'|'-') product)*;  product := unary (('*'|'/'|'%') unary)*
//! unary   := '-' unary | number | "text" | 'text' | true | false | null | name | '(' expr ')'
//! name    := letters, digits, '_', '.', '@' | `any text in backticks`
//! ```
//! Keywords are case-insensitive. A pipe ends at the next `|` outside quotes.

use crate::ast::{AggFunc, Aggregate, BinOp, GroupKey, Pipe, SortKey, ValueExpr};
use crate::parser::{Parser, MAX_DEPTH};
use crate::QueryError;

/// `| traces` follows at most this many traces unless told otherwise.
pub const DEFAULT_MAX_TRACES: usize = 20;
/// And never more than this.
pub const MAX_TRACES: usize = 1000;
/// `| in (...)` lists and aggregate lists longer than this are refused.
const MAX_LIST: usize = 10_000;
/// Operands (fields and values) of one expression, outside `in` lists.
pub const MAX_TERMS: usize = 10_000;
/// Height of an expression's tree.
pub const MAX_EXPR_HEIGHT: usize = 256;

const PIPE_NAMES: &str = "where, fields, sort, limit, stats, top, traces, patterns";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Number(f64),
    Text(String),
    Op(&'static str),
}

struct Tokens {
    toks: Vec<(Tok, usize)>,
    i: usize,
    /// Position just after the pipe's text, for errors at its end.
    end: usize,
}

impl Tokens {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(_, p)| *p)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|(t, _)| t.clone());
        self.i += 1;
        t
    }
    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n.eq_ignore_ascii_case(kw))
    }
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let yes = self.at_keyword(kw);
        if yes {
            self.i += 1;
        }
        yes
    }
    fn at_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        let yes = self.at_op(op);
        if yes {
            self.i += 1;
        }
        yes
    }
    fn done(&self) -> bool {
        self.i >= self.toks.len()
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the pipe".to_string(),
        Some(Tok::Name(n)) => format!("\"{n}\""),
        Some(Tok::Number(n)) => format!("\"{n}\""),
        Some(Tok::Text(s)) => format!("\"{s}\""),
        Some(Tok::Op(o)) => format!("\"{o}\""),
    }
}

impl Parser {
    /// Parses `| pipe | pipe ...` up to the end of the text.
    pub(crate) fn parse_pipes(&mut self) -> Result<Vec<Pipe>, QueryError> {
        let mut pipes = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Ok(pipes),
                Some('|') => self.pos += 1,
                Some(c) => return Err(self.error_here(&format!("expected \"|\", found \"{c}\""))),
            }
            let mut toks = self.tokenize_pipe()?;
            pipes.push(self.parse_pipe(&mut toks)?);
        }
    }

    /// Splits one pipe's text into tokens, stopping before the next top-level `|`.
    fn tokenize_pipe(&mut self) -> Result<Tokens, QueryError> {
        let mut toks = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            let Some(c) = self.peek() else { break };
            match c {
                '|' => break,
                '"' | '\'' => toks.push((Tok::Text(self.quoted(c)?), at)),
                '`' => {
                    let name = self.quoted('`')?;
                    if name.is_empty() {
                        return Err(self.error_at(at, "expected a field name inside backticks"));
                    }
                    toks.push((Tok::Name(name), at));
                }
                c if c.is_ascii_digit() || (c == '.' && self.chars.get(at + 1).is_some_and(|d| d.is_ascii_digit())) => {
                    toks.push((self.number_or_duration()?, at));
                }
                c if c.is_alphanumeric() || c == '_' || c == '@' => {
                    while self.peek().is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@')) {
                        self.pos += 1;
                    }
                    toks.push((Tok::Name(self.chars[at..self.pos].iter().collect()), at));
                }
                _ => {
                    let two: String = self.chars[at..].iter().take(2).collect();
                    let op = ["==", "!=", "<>", "<=", ">="].into_iter().find(|op| two == *op);
                    let op = match op {
                        Some(op) => op,
                        None => match c {
                            '=' => "=",
                            '<' => "<",
                            '>' => ">",
                            '+' => "+",
                            '-' => "-",
                            '*' => "*",
                            '/' => "/",
                            '%' => "%",
                            '(' => "(",
                            ')' => ")",
                            ',' => ",",
                            other => return Err(self.error_at(at, &format!("unexpected \"{other}\""))),
                        },
                    };
                    self.pos += op.len();
                    toks.push((Tok::Op(op), at));
                }
            }
        }
        Ok(Tokens { toks, i: 0, end: self.pos })
    }

    /// The text between `quote` and its closing match; a backslash keeps the next character.
    pub(crate) fn quoted(&mut self, quote: char) -> Result<String, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(open, "unclosed quote")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    if out.len() > crate::parser::MAX_PHRASE_BYTES {
                        return Err(self.error_at(open, &format!(
                            "a quoted text of {} bytes is longer than the limit of {} bytes",
                            out.len(),
                            crate::parser::MAX_PHRASE_BYTES
                        )));
                    }
                    return Ok(out);
                }
                Some('\\') if self.chars.get(self.pos + 1).is_some() => {
                    out.push(self.chars[self.pos + 1]);
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `12`, `1.5`, `1e3`, or a duration such as `1m` or `500ms` (as nanoseconds).
    fn number_or_duration(&mut self) -> Result<Tok, QueryError> {
        let at = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
            self.pos += 1;
        }
        // An exponent sign: 1e-3.
        if matches!(self.chars.get(self.pos.wrapping_sub(1)), Some('e' | 'E')) && matches!(self.peek(), Some('-' | '+')) {
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        let text: String = self.chars[at..self.pos].iter().collect();
        if let Ok(n) = text.replace('_', "").parse::<f64>() {
            return Ok(Tok::Number(n));
        }
        // Durations are numbers of nanoseconds; `bin` and comparisons read them so.
        match trawl_model::parse_duration_ns(&text) {
            Some(ns) => Ok(Tok::Number(ns as f64)),
            None => Err(self.error_at(at, &format!("\"{text}\" is not a number"))),
        }
    }

    fn parse_pipe(&self, t: &mut Tokens) -> Result<Pipe, QueryError> {
        let name_pos = t.pos();
        let name = match t.next() {
            Some(Tok::Name(n)) => n.to_ascii_lowercase(),
            other => return Err(self.error_at(name_pos, &format!("expected a pipe ({PIPE_NAMES}) after \"|\", found {}", describe(other.as_ref())))),
        };
        let pipe = match name.as_str() {
            "where" | "filter" => {
                if t.done() {
                    return Err(self.error_at(t.pos(), "expected a condition after \"where\""));
                }
                Pipe::Where(self.expr(t, 0)?)
            }
            "fields" | "select" | "project" => Pipe::Fields(self.name_list(t, "fields")?),
            "sort" | "order" => {
                t.eat_keyword("by");
                let mut keys = Vec::new();
                loop {
                    let field = self.field_name(t, "a field to sort by")?;
                    let descending = if t.eat_keyword("desc") {
                        true
                    } else {
                        t.eat_keyword("asc");
                        false
                    };
                    keys.push(SortKey { field, descending });
                    if !t.eat_op(",") {
                        break;
                    }
                }
                Pipe::Sort(keys)
            }
            "limit" | "head" => Pipe::Limit(self.count(t, &name)?),
            "stats" => self.stats(t)?,
            "top" => {
                let n = if matches!(t.peek(), Some(Tok::Number(_))) { self.count(t, "top")? } else { 10 };
                let field = self.field_name(t, "a field after \"top\"")?;
                let by = if t.eat_keyword("by") { Some(self.field_name(t, "a field after \"by\"")?) } else { None };
                Pipe::Top { n, field, by }
            }
            "traces" => {
                let max_traces = if t.done() { DEFAULT_MAX_TRACES } else { self.count(t, "traces")? };
                if max_traces > MAX_TRACES {
                    return Err(self.error_at(name_pos, &format!("traces follows at most {MAX_TRACES} traces")));
                }
                Pipe::Traces { max_traces }
            }
            "patterns" => Pipe::Patterns,
            other => return Err(self.error_at(name_pos, &format!("unknown pipe \"{other}\": expected one of {PIPE_NAMES}"))),
        };
        if !t.done() {
            return Err(self.error_at(t.pos(), &format!("unexpected {} in \"{name}\"", describe(t.peek()))));
        }
        Ok(pipe)
    }

    fn count(&self, t: &mut Tokens, after: &str) -> Result<usize, QueryError> {
        let at = t.pos();
        match t.next() {
            Some(Tok::Number(n)) if n >= 0.0 && n.fract() == 0.0 && n <= 1e9 => Ok(n as usize),
            other => Err(self.error_at(at, &format!("expected a whole number after \"{after}\", found {}", describe(other.as_ref())))),
        }
    }

    fn field_name(&self, t: &mut Tokens, what: &str) -> Result<String, QueryError> {
        let at = t.pos();
        match t.next() {
            Some(Tok::Name(n)) => Ok(n),
            other => Err(self.error_at(at, &format!("expected {what}, found {}", describe(other.as_ref())))),
        }
    }

    fn name_list(&self, t: &mut Tokens, pipe: &str) -> Result<Vec<String>, QueryError> {
        let mut names = vec![self.field_name(t, &format!("a field name after \"{pipe}\""))?];
        while t.eat_op(",") {
            names.push(self.field_name(t, "a field name after \",\"")?);
        }
        Ok(names)
    }

    fn stats(&self, t: &mut Tokens) -> Result<Pipe, QueryError> {
        let mut aggregates = Vec::new();
        loop {
            aggregates.push(self.aggregate(t)?);
            if aggregates.len() > 64 {
                return Err(self.error_at(t.pos(), "stats takes at most 64 aggregates"));
            }
            if !t.eat_op(",") {
                break;
            }
        }
        let mut by = Vec::new();
        if t.eat_keyword("by") {
            loop {
                by.push(self.group_key(t)?);
                if by.len() > 16 {
                    return Err(self.error_at(t.pos(), "stats groups by at most 16 keys"));
                }
                if !t.eat_op(",") {
                    break;
                }
            }
        }
        Ok(Pipe::Stats { aggregates, by })
    }

    fn aggregate(&self, t: &mut Tokens) -> Result<Aggregate, QueryError> {
        let at = t.pos();
        let start_tok = t.i;
        let func_name = match t.next() {
            Some(Tok::Name(n)) => n.to_ascii_lowercase(),
            other => return Err(self.error_at(at, &format!("expected an aggregate such as count() after \"stats\", found {}", describe(other.as_ref())))),
        };
        if !t.eat_op("(") {
            return Err(self.error_at(t.pos(), &format!("expected \"(\" after \"{func_name}\"")));
        }
        let quantile = func_name.strip_prefix('p').and_then(|d| d.parse::<f64>().ok()).filter(|q| *q > 0.0 && *q <= 100.0);
        let func = match func_name.as_str() {
            "count" | "rate" => {
                if !t.at_op(")") && !t.done() {
                    return Err(self.error_at(t.pos(), &format!("{func_name}() takes no argument; use count_if(condition) to count some rows")));
                }
                if func_name == "count" { AggFunc::Count } else { AggFunc::Rate }
            }
            "count_if" => AggFunc::CountIf(self.expr(t, 0)?),
            "sum" => AggFunc::Sum(self.expr(t, 0)?),
            "avg" | "mean" => AggFunc::Avg(self.expr(t, 0)?),
            "min" => AggFunc::Min(self.expr(t, 0)?),
            "max" => AggFunc::Max(self.expr(t, 0)?),
            "uniq" | "count_distinct" | "dcount" => AggFunc::Uniq(self.expr(t, 0)?),
            "median" => AggFunc::Quantile(0.5, self.expr(t, 0)?),
            _ if quantile.is_some() => AggFunc::Quantile(quantile.unwrap_or(50.0) / 100.0, self.expr(t, 0)?),
            other => {
                return Err(self.error_at(at, &format!(
                    "unknown aggregate \"{other}\": expected count, count_if, sum, avg, min, max, pNN, uniq or rate"
                )))
            }
        };
        if !t.eat_op(")") {
            return Err(self.error_at(t.pos(), &format!("expected \")\" to close \"{func_name}(\", found {}", describe(t.peek()))));
        }
        let written = self.written(t, start_tok, t.i);
        let name = if t.eat_keyword("as") { self.field_name(t, "a name after \"as\"")? } else { written };
        Ok(Aggregate { func, name })
    }

    /// The text of tokens `from..to` as the user wrote it, without spaces around punctuation.
    fn written(&self, t: &Tokens, from: usize, to: usize) -> String {
        let begin = t.toks[from].1;
        let end = t.toks.get(to).map_or(t.end, |(_, p)| *p);
        let text: String = self.chars[begin..end].iter().collect();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn group_key(&self, t: &mut Tokens) -> Result<GroupKey, QueryError> {
        let at = t.pos();
        let start_tok = t.i;
        let field = self.field_name(t, "a field after \"by\"")?;
        let key = if field.eq_ignore_ascii_case("bin") && t.eat_op("(") {
            let column = self.field_name(t, "\"time\" inside bin()")?;
            if !matches!(column.to_ascii_lowercase().as_str(), "time" | "_time" | "timestamp") {
                return Err(self.error_at(at, "bin() groups by time only: bin(time, 1m)"));
            }
            if !t.eat_op(",") {
                return Err(self.error_at(t.pos(), "expected \",\" and a width such as 1m in bin(time, 1m)"));
            }
            let width_at = t.pos();
            let width_ns = match t.next() {
                Some(Tok::Number(n)) if n >= 1e6 => n as i64,
                other => return Err(self.error_at(width_at, &format!("expected a width of at least 1ms such as 1m, found {}", describe(other.as_ref())))),
            };
            if !t.eat_op(")") {
                return Err(self.error_at(t.pos(), "expected \")\" to close bin("));
            }
            GroupKey::TimeBin { width_ns, name: self.written(t, start_tok, t.i) }
        } else {
            GroupKey::Field { name: field.clone(), field }
        };
        if t.eat_keyword("as") {
            let name = self.field_name(t, "a name after \"as\"")?;
            return Ok(match key {
                GroupKey::Field { field, .. } => GroupKey::Field { field, name },
                GroupKey::TimeBin { width_ns, .. } => GroupKey::TimeBin { width_ns, name },
            });
        }
        Ok(key)
    }

    /// A whole expression, refused when its tree would be taller than `MAX_EXPR_HEIGHT` or
    /// hold more than `MAX_TERMS` operands: evaluation, planning and dropping walk the tree
    /// recursively, so its height is what bounds their stack.
    fn expr(&self, t: &mut Tokens, depth: usize) -> Result<ValueExpr, QueryError> {
        let at = t.pos();
        let mut terms = 0;
        let (e, height) = self.or_expr(t, depth, &mut terms)?;
        if height > MAX_EXPR_HEIGHT {
            return Err(self.error_at(at, &format!(
                "expression is too deep: {height} nested operations, the limit is {MAX_EXPR_HEIGHT} (a chain such as 1+1+1... counts one level per term)"
            )));
        }
        Ok(e)
    }

    fn or_expr(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        if depth > MAX_DEPTH {
            return Err(self.error_at(t.pos(), &format!("expression nests deeper than {MAX_DEPTH} levels")));
        }
        let mut items = vec![self.and_expr(t, depth, terms)?];
        while t.eat_keyword("or") {
            items.push(self.and_expr(t, depth, terms)?);
        }
        if let Some(lookup) = as_in_list(&items) {
            return Ok((lookup, 2));
        }
        Ok(balanced(items, BinOp::Or))
    }

    fn and_expr(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        let mut items = vec![self.not_expr(t, depth, terms)?];
        while t.eat_keyword("and") {
            items.push(self.not_expr(t, depth, terms)?);
        }
        Ok(balanced(items, BinOp::And))
    }

    fn not_expr(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        if t.eat_keyword("not") {
            if depth > MAX_DEPTH {
                return Err(self.error_at(t.pos(), &format!("expression nests deeper than {MAX_DEPTH} levels")));
            }
            let (e, h) = self.not_expr(t, depth + 1, terms)?;
            return Ok((ValueExpr::Not(Box::new(e)), h + 1));
        }
        self.comparison(t, depth, terms)
    }

    fn comparison(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        let (left, lh) = self.sum(t, depth, terms)?;
        let op = match t.peek() {
            Some(Tok::Op("=" | "==")) => BinOp::Eq,
            Some(Tok::Op("!=" | "<>")) => BinOp::Ne,
            Some(Tok::Op("<")) => BinOp::Lt,
            Some(Tok::Op("<=")) => BinOp::Le,
            Some(Tok::Op(">")) => BinOp::Gt,
            Some(Tok::Op(">=")) => BinOp::Ge,
            Some(Tok::Name(n)) if n.eq_ignore_ascii_case("contains") => BinOp::Contains,
            Some(Tok::Name(n)) if n.eq_ignore_ascii_case("in") || n.eq_ignore_ascii_case("not") => {
                let negated = t.eat_keyword("not");
                if !t.eat_keyword("in") {
                    return Err(self.error_at(t.pos(), "expected \"in\" after \"not\""));
                }
                return self.in_list(t, (left, lh), negated, depth);
            }
            _ => return Ok((left, lh)),
        };
        let op_pos = t.pos();
        t.next();
        if t.done() || t.at_op(")") || t.at_op(",") {
            return Err(self.error_at(op_pos, "expected a value after the comparison"));
        }
        let (right, rh) = self.sum(t, depth, terms)?;
        Ok((ValueExpr::Binary(Box::new(left), op, Box::new(right)), lh.max(rh) + 1))
    }

    fn in_list(&self, t: &mut Tokens, (value, vh): (ValueExpr, usize), negated: bool, depth: usize) -> Result<(ValueExpr, usize), QueryError> {
        if !t.eat_op("(") {
            return Err(self.error_at(t.pos(), "expected \"(\" after \"in\""));
        }
        let mut list = Vec::new();
        let mut height = vh;
        if !t.at_op(")") {
            loop {
                // The values count apart from the expression's terms: a list is one lookup.
                let mut item_terms = 0;
                let (item, h) = self.or_expr(t, depth + 1, &mut item_terms)?;
                height = height.max(h);
                list.push(item);
                if list.len() > MAX_LIST {
                    return Err(self.error_at(t.pos(), &format!("an in (...) list takes at most {MAX_LIST} values")));
                }
                if !t.eat_op(",") {
                    break;
                }
            }
        }
        if !t.eat_op(")") {
            return Err(self.error_at(t.pos(), &format!("expected \",\" or \")\" in the in (...) list, found {}", describe(t.peek()))));
        }
        let set = crate::value::InSet::of(&list).map(std::sync::Arc::new);
        Ok((ValueExpr::In { value: Box::new(value), list, negated, set }, height + 1))
    }

    fn sum(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        let (mut left, mut height) = self.product(t, depth, terms)?;
        loop {
            let op = if t.eat_op("+") {
                BinOp::Add
            } else if t.eat_op("-") {
                BinOp::Sub
            } else {
                return Ok((left, height));
            };
            let (right, rh) = self.product(t, depth, terms)?;
            left = ValueExpr::Binary(Box::new(left), op, Box::new(right));
            height = height.max(rh) + 1;
            self.check_height(t, height)?;
        }
    }

    fn product(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        let (mut left, mut height) = self.unary(t, depth, terms)?;
        loop {
            let op = if t.eat_op("*") {
                BinOp::Mul
            } else if t.eat_op("/") {
                BinOp::Div
            } else if t.eat_op("%") {
                BinOp::Rem
            } else {
                return Ok((left, height));
            };
            let (right, rh) = self.unary(t, depth, terms)?;
            left = ValueExpr::Binary(Box::new(left), op, Box::new(right));
            height = height.max(rh) + 1;
            self.check_height(t, height)?;
        }
    }

    /// Stops a left-leaning chain as soon as it is too tall, before it is built any further.
    fn check_height(&self, t: &Tokens, height: usize) -> Result<(), QueryError> {
        if height > MAX_EXPR_HEIGHT {
            return Err(self.error_at(t.pos(), &format!(
                "expression is too deep: more than {MAX_EXPR_HEIGHT} nested operations (a chain such as 1+1+1... counts one level per term)"
            )));
        }
        Ok(())
    }

    fn unary(&self, t: &mut Tokens, depth: usize, terms: &mut usize) -> Result<(ValueExpr, usize), QueryError> {
        if depth > MAX_DEPTH {
            return Err(self.error_at(t.pos(), &format!("expression nests deeper than {MAX_DEPTH} levels")));
        }
        let at = t.pos();
        *terms += 1;
        if *terms > MAX_TERMS {
            return Err(self.error_at(at, &format!("expression has more than {MAX_TERMS} terms")));
        }
        match t.next() {
            Some(Tok::Op("-")) => {
                let (e, h) = self.unary(t, depth + 1, terms)?;
                Ok((ValueExpr::Neg(Box::new(e)), h + 1))
            }
            Some(Tok::Op("(")) => {
                let e = self.or_expr(t, depth + 1, terms)?;
                if !t.eat_op(")") {
                    return Err(self.error_at(at, "unclosed \"(\""));
                }
                Ok(e)
            }
            Some(Tok::Number(n)) => Ok((ValueExpr::Number(n), 1)),
            Some(Tok::Text(s)) => Ok((ValueExpr::Text(s), 1)),
            Some(Tok::Name(n)) => Ok((
                match n.to_ascii_lowercase().as_str() {
                    "true" => ValueExpr::Bool(true),
                    "false" => ValueExpr::Bool(false),
                    "null" => ValueExpr::Null,
                    _ => ValueExpr::Field(n),
                },
                1,
            )),
            other => Err(self.error_at(at, &format!("expected a value, found {}", describe(other.as_ref())))),
        }
    }
}

/// `f = "a" or f = "b" or ...` (one field, literals, at least 8 of them) as `f in ("a", "b", ...)`:
/// the same answer, one hash lookup per row instead of a comparison per value.
fn as_in_list(items: &[(ValueExpr, usize)]) -> Option<ValueExpr> {
    if items.len() < 8 {
        return None;
    }
    let literal = |e: &ValueExpr| matches!(e, ValueExpr::Number(_) | ValueExpr::Text(_) | ValueExpr::Bool(_) | ValueExpr::Null);
    let mut field: Option<&str> = None;
    let mut list = Vec::with_capacity(items.len());
    for (e, _) in items {
        let ValueExpr::Binary(a, BinOp::Eq, b) = e else { return None };
        let (name, value) = match (&**a, &**b) {
            (ValueExpr::Field(f), v) if literal(v) => (f.as_str(), v),
            (v, ValueExpr::Field(f)) if literal(v) => (f.as_str(), v),
            _ => return None,
        };
        if field.is_some_and(|f| f != name) {
            return None;
        }
        field = Some(name);
        list.push(value.clone());
    }
    let set = crate::value::InSet::of(&list).map(std::sync::Arc::new);
    Some(ValueExpr::In { value: Box::new(ValueExpr::Field(field?.to_string())), list, negated: false, set })
}

/// `a or b or c ...` as a balanced tree (both operators are associative and evaluated left to
/// right either way), so a long chain costs log2(n) levels of height, not n.
fn balanced(mut items: Vec<(ValueExpr, usize)>, op: BinOp) -> (ValueExpr, usize) {
    while items.len() > 1 {
        let mut next = Vec::with_capacity(items.len().div_ceil(2));
        let mut it = items.into_iter();
        while let Some((a, ha)) = it.next() {
            match it.next() {
                Some((b, hb)) => next.push((ValueExpr::Binary(Box::new(a), op, Box::new(b)), ha.max(hb) + 1)),
                None => next.push((a, ha)),
            }
        }
        items = next;
    }
    items.pop().expect("at least one operand")
}

#[cfg(test)]
mod tests {
    use crate::ast::{AggFunc, BinOp, GroupKey, Pipe, SortKey, ValueExpr};
    use crate::parse;

    fn pipes(q: &str) -> Vec<Pipe> {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).pipes
    }

    fn err(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }

    fn field(n: &str) -> Box<ValueExpr> {
        Box::new(ValueExpr::Field(n.into()))
    }

    #[test]
    fn parses_every_pipe() {
        let p = pipes("level:error | where status >= 500 and service in (\"a\", 'b') | fields time, service, body | sort by time desc, service | limit 5");
        assert_eq!(p.len(), 4);
        let Pipe::Where(ValueExpr::Binary(l, BinOp::And, r)) = &p[0] else { panic!("{:?}", p[0]) };
        assert_eq!(**l, ValueExpr::Binary(field("status"), BinOp::Ge, Box::new(ValueExpr::Number(500.0))));
        assert!(matches!(&**r, ValueExpr::In { list, negated: false, .. } if list.len() == 2));
        assert_eq!(p[1], Pipe::Fields(vec!["time".into(), "service".into(), "body".into()]));
        assert_eq!(
            p[2],
            Pipe::Sort(vec![SortKey { field: "time".into(), descending: true }, SortKey { field: "service".into(), descending: false }])
        );
        assert_eq!(p[3], Pipe::Limit(5));

        let p = pipes("| stats count() as n, p95(duration_ms), count_if(level = \"error\") by service, bin(time, 1m)");
        let Pipe::Stats { aggregates, by } = &p[0] else { panic!() };
        assert_eq!(aggregates[0].name, "n");
        assert_eq!(aggregates[0].func, AggFunc::Count);
        assert_eq!(aggregates[1].name, "p95(duration_ms)");
        assert!(matches!(aggregates[1].func, AggFunc::Quantile(q, _) if (q - 0.95).abs() < 1e-9));
        assert_eq!(aggregates[2].name, "count_if(level = \"error\")");
        assert_eq!(by[0], GroupKey::Field { field: "service".into(), name: "service".into() });
        assert_eq!(by[1], GroupKey::TimeBin { width_ns: 60_000_000_000, name: "bin(time, 1m)".into() });

        assert_eq!(pipes("| top 3 service by level"), vec![Pipe::Top { n: 3, field: "service".into(), by: Some("level".into()) }]);
        assert_eq!(pipes("| top http.route"), vec![Pipe::Top { n: 10, field: "http.route".into(), by: None }]);
        assert_eq!(pipes("x | traces"), vec![Pipe::Traces { max_traces: 20 }]);
        assert_eq!(pipes("x | traces 5 | patterns"), vec![Pipe::Traces { max_traces: 5 }, Pipe::Patterns]);
        assert_eq!(
            pipes("| where `http-status` != 200 - 1 * 2"),
            vec![Pipe::Where(ValueExpr::Binary(
                field("http-status"),
                BinOp::Ne,
                Box::new(ValueExpr::Binary(
                    Box::new(ValueExpr::Number(200.0)),
                    BinOp::Sub,
                    Box::new(ValueExpr::Binary(Box::new(ValueExpr::Number(1.0)), BinOp::Mul, Box::new(ValueExpr::Number(2.0))))
                ))
            ))]
        );
        assert_eq!(
            pipes("| where body contains \"결제\" or not user.id = null"),
            vec![Pipe::Where(ValueExpr::Binary(
                Box::new(ValueExpr::Binary(field("body"), BinOp::Contains, Box::new(ValueExpr::Text("결제".into())))),
                BinOp::Or,
                Box::new(ValueExpr::Not(Box::new(ValueExpr::Binary(field("user.id"), BinOp::Eq, Box::new(ValueExpr::Null)))))
            ))]
        );
    }

    #[test]
    fn a_pipe_ends_at_the_bar_outside_quotes() {
        let p = pipes("| where body = \"a|b\" | limit 1");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], Pipe::Where(ValueExpr::Binary(field("body"), BinOp::Eq, Box::new(ValueExpr::Text("a|b".into())))));
    }

    #[test]
    fn pipe_errors_name_position_and_expectation() {
        assert_eq!(err("a |"), "expected a pipe (where, fields, sort, limit, stats, top, traces, patterns) after \"|\", found the end of the pipe at 1:4");
        assert_eq!(err("a | where"), "expected a condition after \"where\" at 1:10");
        assert_eq!(err("a | where status >="), "expected a value after the comparison at 1:18");
        assert_eq!(err("a | limit x"), "expected a whole number after \"limit\", found \"x\" at 1:11");
        assert_eq!(err("| stats count"), "expected \"(\" after \"count\" at 1:14");
        assert_eq!(err("| stats p95(x"), "expected \")\" to close \"p95(\", found the end of the pipe at 1:14");
        assert_eq!(err("| stats median2(x)"), "unknown aggregate \"median2\": expected count, count_if, sum, avg, min, max, pNN, uniq or rate at 1:9");
        assert_eq!(err("| stats count(x)"), "count() takes no argument; use count_if(condition) to count some rows at 1:15");
        assert_eq!(err("| stats count() by bin(time, x)"), "expected a width of at least 1ms such as 1m, found \"x\" at 1:30");
        assert_eq!(err("| limit 5 6"), "unexpected \"6\" in \"limit\" at 1:11");
        assert_eq!(err("| where a = \"x"), "unclosed quote at 1:13");
        assert_eq!(err("| where a in (1, 2"), "expected \",\" or \")\" in the in (...) list, found the end of the pipe at 1:19");
        assert_eq!(err("| traces 5000"), "traces follows at most 1000 traces at 1:3");
    }

    #[test]
    fn an_or_chain_of_one_field_becomes_a_lookup() {
        let ors = (0..10).map(|i| format!("user.id = \"u{i}\"")).collect::<Vec<_>>().join(" or ");
        let p = pipes(&format!("| where {ors}"));
        assert!(matches!(&p[0], Pipe::Where(ValueExpr::In { list, set: Some(_), negated: false, .. }) if list.len() == 10), "{p:?}");
        // Mixed fields stay a tree of ors.
        let p = pipes(&format!("| where {ors} or other = 1"));
        assert!(matches!(&p[0], Pipe::Where(ValueExpr::Binary(_, BinOp::Or, _))), "{p:?}");
    }

    #[test]
    fn hostile_expressions_are_refused_not_overflowed() {
        let q = format!("| where {}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(err(&q).contains("nests deeper"));
        let q = format!("| where {}a", "not ".repeat(10_000));
        assert!(err(&q).contains("nests deeper"));
        let q = format!("| where {}a", "-".repeat(10_000));
        assert!(err(&q).contains("nests deeper"));
        let list: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        assert!(err(&format!("| where a in ({})", list.join(","))).contains("at most 10000 values"));
    }
}
