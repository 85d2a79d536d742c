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

/// What [`find_attribute`] learned about one key of a stored attributes object.
#[derive(Debug, Clone, PartialEq)]
pub enum FoundAttribute {
    Value(AttrValue),
    Absent,
    /// The text is not what [`attributes_to_json_string`] writes: parse it whole instead.
    Unsure,
}

/// Looks one key up in an object written by [`attributes_to_json_string`], without parsing the
/// other keys or building anything but the value found. The answer is the one the whole object
/// parsed would give (the last of repeated keys wins); text of another shape (spaces, escapes in
/// keys, nested values) answers [`FoundAttribute::Unsure`].
pub fn find_attribute(json: &str, key: &str) -> FoundAttribute {
    let bytes = json.as_bytes();
    match bytes {
        [] => return FoundAttribute::Absent,
        [b'{', b'}'] => return FoundAttribute::Absent,
        [b'{', ..] => {}
        _ => return FoundAttribute::Unsure,
    }
    let mut found = None;
    let mut at = 1;
    loop {
        // A key: `"` then text without escapes up to `"`, then `:`.
        if bytes.get(at) != Some(&b'"') {
            return FoundAttribute::Unsure;
        }
        let Some(len) = bytes[at + 1..].iter().position(|&b| b == b'"' || b == b'\\') else { return FoundAttribute::Unsure };
        let key_end = at + 1 + len;
        if bytes[key_end] != b'"' || bytes.get(key_end + 1) != Some(&b':') {
            return FoundAttribute::Unsure;
        }
        let value_at = key_end + 2;
        // The value: a string (escapes skipped) or a scalar up to `,` or `}`.
        let value_end = match bytes.get(value_at) {
            Some(b'"') => {
                let mut i = value_at + 1;
                loop {
                    match bytes.get(i) {
                        Some(b'"') => break i + 1,
                        Some(b'\\') => i += 2,
                        Some(_) => i += 1,
                        None => return FoundAttribute::Unsure,
                    }
                }
            }
            Some(b'[' | b'{') | None => return FoundAttribute::Unsure,
            Some(_) => match bytes[value_at..].iter().position(|&b| b == b',' || b == b'}') {
                Some(n) => value_at + n,
                None => return FoundAttribute::Unsure,
            },
        };
        if &json[at + 1..key_end] == key {
            found = Some((value_at, value_end));
        }
        match bytes.get(value_end) {
            Some(b',') => at = value_end + 1,
            Some(b'}') if value_end + 1 == bytes.len() => break,
            _ => return FoundAttribute::Unsure,
        }
    }
    match found {
        None => FoundAttribute::Absent,
        Some((from, to)) => scalar_at(&json[from..to]),
    }
}

/// The JSON value `text` (one whole value), read the way [`AttrValue::from_json`] reads a parsed
/// one: the common scalars by hand, anything else through serde_json.
fn scalar_at(text: &str) -> FoundAttribute {
    let bytes = text.as_bytes();
    match bytes {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
            return FoundAttribute::Value(AttrValue::Str(text[1..text.len() - 1].to_string()))
        }
        [b'-' | b'0'..=b'9', ..] if bytes.iter().all(|b| b.is_ascii_digit() || *b == b'-') => {
            if let Ok(n) = text.parse::<i64>() {
                return FoundAttribute::Value(AttrValue::Int(n));
            }
        }
        b"true" => return FoundAttribute::Value(AttrValue::Bool(true)),
        b"false" => return FoundAttribute::Value(AttrValue::Bool(false)),
        b"null" => return FoundAttribute::Absent,
        _ => {}
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => AttrValue::from_json(&v).map_or(FoundAttribute::Absent, FoundAttribute::Value),
        Err(_) => FoundAttribute::Unsure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_attribute_agrees_with_a_whole_parse() {
        let attrs: Attributes = vec![
            ("a".into(), AttrValue::Str("x,\"b\":1}".into())),
            ("b".into(), AttrValue::Int(2)),
            ("c.d".into(), AttrValue::Float(1.5)),
            ("g".into(), AttrValue::Int(-12)),
            ("h".into(), AttrValue::Float(1e300)),
            ("i".into(), AttrValue::Bool(false)),
            ("j".into(), AttrValue::Str("tab\there\\".into())),
            ("결제".into(), AttrValue::Str("실패".into())),
        ];
        let json = attributes_to_json_string(&attrs);
        let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
        for (k, v) in &attrs {
            assert_eq!(find_attribute(&json, k), FoundAttribute::Value(v.clone()), "{k}");
            assert_eq!(AttrValue::from_json(&parsed[k.as_str()]).as_ref(), Some(v));
        }
        for absent in ["f", "d", "c", "1", ""] {
            assert_eq!(find_attribute(&json, absent), FoundAttribute::Absent, "{absent}");
        }
        assert_eq!(find_attribute("", "a"), FoundAttribute::Absent);
        assert_eq!(find_attribute("{}", "a"), FoundAttribute::Absent);
        assert_eq!(find_attribute(r#"{"a":1,"a":2}"#, "a"), FoundAttribute::Value(AttrValue::Int(2)));
        assert_eq!(find_attribute(r#"{"a":null}"#, "a"), FoundAttribute::Absent);
        assert_eq!(find_attribute(r#"{"a":18446744073709551615}"#, "a"), FoundAttribute::Value(AttrValue::Float(18446744073709551615.0)));
        // Shapes the writer does not produce are left to a whole parse.
        for other in [r#"{"e\"f":true}"#, r#"{"a":[1,2]}"#, r#"{"a":1}x"#, r#"{"a":"#, r#"{"a":"x"#, "not json", "{"] {
            assert_eq!(find_attribute(other, "a"), FoundAttribute::Unsure, "{other}");
        }
    }

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
