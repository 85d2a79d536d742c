//! Templates of annotations and messages, in Jinja syntax (minijinja): `{{ labels.service }}
//! logged {{ value }} errors`, with the filters `percent` (0.123 → 12.3%), `number`
//! (1234567 → 1.2M) and `ms` (a latency). Every rendering is bounded in fuel and output, and a
//! template that fails renders as its own text with the reason, never as an error.

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

/// Checks that `text` compiles as a template.
pub fn check(text: &str) -> Result<(), String> {
    let env = environment();
    env.template_from_str(text).map(|_| ()).map_err(|e| format!("template: {e}"))
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
    fn bad_or_runaway_templates_render_as_text_with_the_reason() {
        assert!(check("{{ labels.service").is_err());
        let out = render("{% for i in range(100000000) %}x{% endfor %}", &json!({}));
        assert!(out.contains("template error"), "{}", &out[..out.len().min(200)]);
        let out = render("{% for i in range(20000) %}0123456789{% endfor %}", &json!({}));
        assert!(out.len() <= MAX_OUTPUT_BYTES, "{}", out.len());
    }
}
