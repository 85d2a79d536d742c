use serde::{Deserialize, Serialize};

/// At most this many flattened fields per record or span; more is rejected with a reason.
pub const MAX_FIELDS: usize = 1000;

/// One attribute value after flattening. Arrays and maps below arrays are kept as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Flattened attributes in insertion order (`key.sub.key` → value).
pub type Attributes = Vec<(String, AttrValue)>;

impl AttrValue {
    /// The value as text, as a user would type it in a query.
    pub fn to_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            AttrValue::Str(s) => std::borrow::Cow::Borrowed(s),
            AttrValue::Int(i) => std::borrow::Cow::Owned(i.to_string()),
            AttrValue::Float(f) => std::borrow::Cow::Owned(f.to_string()),
            AttrValue::Bool(b) => std::borrow::Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Float(f) => Some(*f),
            AttrValue::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            AttrValue::Bool(_) => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttrValue::Str(s) => serde_json::Value::String(s.clone()),
            AttrValue::Int(i) => serde_json::Value::from(*i),
            AttrValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(f.to_string())),
            AttrValue::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    /// Converts a JSON scalar; arrays and objects become JSON text, null gives `None`.
    pub fn from_json(value: &serde_json::Value) -> Option<AttrValue> {
        Some(match value {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => AttrValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => AttrValue::Str(s.clone()),
            other => AttrValue::Str(other.to_string()),
        })
    }
}

/// Flattens `value` under `prefix` into `out`: objects recurse with dotted keys, arrays are kept
/// as JSON text, nulls are dropped. Returns false as soon as `out` would exceed [`MAX_FIELDS`].
pub fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut Attributes) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                if !flatten_json(&name, child, out) {
                    return false;
                }
            }
            true
        }
        other => {
            if let Some(v) = AttrValue::from_json(other) {
                if out.len() >= MAX_FIELDS {
                    return false;
                }
                out.push((prefix.to_string(), v));
            }
            true
        }
    }
}

/// Attributes as one flat JSON object (the stored form in segments and the API form).
pub fn attributes_to_json(attributes: &Attributes) -> serde_json::Value {
    let mut map = serde_json::Map::with_capacity(attributes.len());
    for (k, v) in attributes {
        map.insert(k.clone(), v.to_json());
    }
    serde_json::Value::Object(map)
}

/// Attributes as the text of one flat JSON object, written directly (no intermediate map).
pub fn attributes_to_json_string(attributes: &Attributes) -> String {
    use std::io::Write;
    let mut out: Vec<u8> = Vec::with_capacity(2 + attributes.len() * 32);
    out.push(b'{');
    for (i, (key, value)) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, key);
        out.push(b':');
        let _ = match value {
            AttrValue::Str(s) => serde_json::to_writer(&mut out, s),
            AttrValue::Int(n) => write!(out, "{n}").map_err(serde_json::Error::io),
            AttrValue::Float(f) if f.is_finite() => serde_json::to_writer(&mut out, f),
            AttrValue::Float(f) => serde_json::to_writer(&mut out, &f.to_string()),
            AttrValue::Bool(b) => serde_json::to_writer(&mut out, b),
        };
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_nests_with_dots_and_keeps_arrays_as_text() {
        let v = serde_json::json!({"http": {"status": 500, "path": "/pay"}, "tags": ["a", 1], "x": null});
        let mut out = Vec::new();
        assert!(flatten_json("", &v, &mut out));
        assert_eq!(
            out,
            vec![
                ("http.path".to_string(), AttrValue::Str("/pay".into())),
                ("http.status".to_string(), AttrValue::Int(500)),
                ("tags".to_string(), AttrValue::Str("[\"a\",1]".into())),
            ]
        );
    }

    #[test]
    fn json_string_matches_the_json_value() {
        let attrs: Attributes = vec![
            ("a.b".into(), AttrValue::Str("결제 \"x\"\n".into())),
            ("n".into(), AttrValue::Int(-5)),
            ("f".into(), AttrValue::Float(1.5)),
            ("inf".into(), AttrValue::Float(f64::INFINITY)),
            ("t".into(), AttrValue::Bool(true)),
        ];
        let parsed: serde_json::Value = serde_json::from_str(&attributes_to_json_string(&attrs)).unwrap();
        assert_eq!(parsed, attributes_to_json(&attrs));
        assert_eq!(attributes_to_json_string(&Vec::new()), "{}");
    }

    #[test]
    fn flatten_stops_past_the_field_limit() {
        let mut map = serde_json::Map::new();
        for i in 0..=MAX_FIELDS {
            map.insert(format!("f{i}"), serde_json::Value::from(i));
        }
        let mut out = Vec::new();
        assert!(!flatten_json("", &serde_json::Value::Object(map), &mut out));
    }
}
