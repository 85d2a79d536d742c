//! Templates of annotations and messages, in Jinja syntax (minijinja): `{{ labels.service }}
//! logged {{ value }} errors`, with the filters `percent` (0.123 → 12.3%), `number`
//! (1234567 → 1.2M) and `ms` (a latency). A template is text and `{{ value | filter }}`
//! substitutions only: no blocks (`{% %}`), operators or function calls, so what a rule's
//! author writes cannot loop or build large strings; every rendering is also bounded in fuel and
//! output, and a template that fails renders as its own text with the reason, never as an error.

use minijinja::{Environment, UndefinedBehavior, Value};

/// Largest output of one rendering.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024;
/// Instructions one rendering may run (a loop over a huge range stops here).
const FUEL: u64 = 50_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(32);
    env.add_filter("percent", |v: Value| -> String {
        match f64::try_from(v) {
            Ok(x) => crate::format::percent(x),
            Err(_) => String::new(),
        }
    });
    env.add_filter("number", |v: Value| -> String {
        match f64::try_from(v) {
            Ok(x) => crate::format::number(x),
            Err(_) => String::new(),
        }
    });
    env.add_filter("ms", |v: Value| -> String {
        match f64::try_from(v) {
            Ok(x) => crate::format::ms(x),
            Err(_) => String::new(),
        }
    });
    env
}

/// Filters a substitution may use, with the most arguments each takes.
const FILTERS: [(&str, usize); 17] = [
    ("percent", 0),
    ("number", 0),
    ("ms", 0),
    ("upper", 0),
    ("lower", 0),
    ("title", 0),
    ("capitalize", 0),
    ("trim", 0),
    ("round", 1),
    ("default", 1),
    ("d", 1),
    ("truncate", 1),
    ("join", 1),
    ("length", 0),
    ("abs", 0),
    ("first", 0),
    ("last", 0),
];
/// Longest literal argument of a filter.
const MAX_ARGUMENT_CHARS: usize = 100;

/// Checks that `text` is a template of text and substitutions (see the module documentation),
/// and that it compiles.
pub fn check(text: &str) -> Result<(), String> {
    if text.contains("{%") {
        return Err("template: blocks ({% … %}) are not taken: use {{ value | filter }} substitutions".into());
    }
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let after = &rest[at + 2..];
        let end = after.find("}}").ok_or_else(|| "template: unclosed {{".to_string())?;
        check_substitution(after[..end].trim())?;
        rest = &after[end + 2..];
    }
    let env = environment();
    env.template_from_str(text).map(|_| ()).map_err(|e| format!("template: {e}"))
}

/// `path (| filter (args)?)*`, a path being names with `.name` and `[0]` or `["key"]`.
fn check_substitution(expr: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("template: {{{{ {expr} }}}}: {why}"));
    let mut parts = expr.split('|');
    let path = parts.next().unwrap_or("").trim();
    let ident = |s: &str| s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut chars = path;
    let mut first = true;
    while !chars.is_empty() {
        if let Some(inner) = chars.strip_prefix('[') {
            let Some(close) = inner.find(']') else { return bad("unclosed [") };
            let key = &inner[..close];
            let quoted = (key.starts_with('"') && key.ends_with('"') || key.starts_with('\'') && key.ends_with('\'')) && key.len() >= 2;
            if !(quoted || key.chars().all(|c| c.is_ascii_digit()) && !key.is_empty()) || key[1..key.len().saturating_sub(1)].contains(['"', '\'']) {
                return bad("an index is a number or a quoted key");
            }
            chars = &inner[close + 1..];
        } else {
            let name_start = if first { chars } else if let Some(n) = chars.strip_prefix('.') { n } else { return bad("expected . or [") };
            let end = name_start.find(['.', '[']).unwrap_or(name_start.len());
            if !ident(&name_start[..end]) {
                return bad("a substitution is a name such as labels.service, then filters");
            }
            chars = &name_start[end..];
        }
        first = false;
    }
    if first {
        return bad("empty");
    }
    for filter in parts {
        let filter = filter.trim();
        let (name, args) = match filter.find('(') {
            Some(open) if filter.ends_with(')') => (filter[..open].trim(), &filter[open + 1..filter.len() - 1]),
            Some(_) => return bad("unclosed ("),
            None => (filter, ""),
        };
        let Some((_, max_args)) = FILTERS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = FILTERS.iter().map(|(n, _)| *n).collect();
            return bad(&format!("unknown filter {name:?} (use {})", names.join(", ")));
        };
        let args = args.trim();
        if args.is_empty() {
            continue;
        }
        let n_args = 1;
        let literal = (args.starts_with('"') && args.ends_with('"') || args.starts_with('\'') && args.ends_with('\'')) && args.len() >= 2
            && !args[1..args.len() - 1].contains(['"', '\''])
            || args.parse::<f64>().is_ok();
        if n_args > *max_args || !literal || args.chars().count() > MAX_ARGUMENT_CHARS {
            return bad(&format!("{name} takes at most {max_args} argument, a number or a short quoted text"));
        }
    }
    Ok(())
}

/// Renders `text` with `context`; a template error yields the raw text and the reason.
pub fn render(text: &str, context: &serde_json::Value) -> String {
    if !text.contains("{{") && !text.contains("{%") {
        return text.to_string();
    }
    let env = environment();
    let out = env
        .template_from_str(text)
        .and_then(|t| t.render(Value::from_serialize(context)))
        .unwrap_or_else(|e| format!("{text} [template error: {e}]"));
    clip(out, MAX_OUTPUT_BYTES)
}

/// `s` cut to at most `max` bytes at a character boundary, with an ellipsis when cut.
pub fn clip(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_labels_values_and_filters() {
        let ctx = json!({"labels": {"service": "payment-service"}, "value": 0.4123, "result": {"n": 1234567}});
        assert_eq!(render("{{ labels.service }}: {{ value | percent }} errors", &ctx), "payment-service: 41% errors");
        assert_eq!(render("{{ result.n | number }} records", &ctx), "1.2M records");
        assert_eq!(render("결제 실패 {{ labels.service }}", &ctx), "결제 실패 payment-service");
        assert_eq!(render("{{ 3500 | ms }}", &ctx), "3.50s");
        // Unknown names are empty, not errors.
        assert_eq!(render("[{{ labels.nope }}]", &ctx), "[]");
    }

    #[test]
    fn templates_are_substitutions_and_filters_only() {
        for good in [
            "{{ labels.service }}: {{ value | percent }}",
            "{{ labels[\"service.name\"] | default(\"?\") | upper }} {{ result.n | round(2) }}",
            "plain text, 결제 실패 {# a comment #}",
            "{{ band.high|ms }}",
        ] {
            assert!(check(good).is_ok(), "{good}: {:?}", check(good));
        }
        for bad in [
            "{% for i in range(10) %}x{% endfor %}",
            "{{ \"x\" * 100000000 }}",
            "{{ a ~ b }}",
            "{{ range(10) }}",
            "{{ value | replace(\"a\", \"b\") }}",
            "{{ labels.service | default(labels.x) }}",
            "{{ }}",
            "{{ value",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_or_runaway_templates_render_as_text_with_the_reason() {
        assert!(check("{{ labels.service").is_err());
        let out = render("{% for i in range(100000000) %}x{% endfor %}", &json!({}));
        assert!(out.contains("template error"), "{}", &out[..out.len().min(200)]);
        let out = render("{% for i in range(20000) %}0123456789{% endfor %}", &json!({}));
        assert!(out.len() <= MAX_OUTPUT_BYTES, "{}", out.len());
    }
}
