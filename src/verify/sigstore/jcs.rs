//! The JSON Canonicalization Scheme (RFC 8785), which a Rekor SET is signed over: members sorted
//! by their UTF-16 code units, no whitespace, strings with only the mandatory escapes, and
//! numbers as ECMAScript prints an IEEE double. As the canonicalizer containers/image uses
//! (`webpki.org/jsoncanonicalizer`), a duplicate member name is an error and the document must
//! be an object or an array.

use crate::json::Value;

/// The canonical form of `v`.
pub fn canonicalize(v: &Value) -> Result<String, String> {
    match v {
        Value::Object(_) | Value::Array(_) => {
            let mut out = String::new();
            write(v, &mut out)?;
            Ok(out)
        }
        _ => Err("Expected '{' but got something else".into()),
    }
}

fn write(v: &Value, out: &mut String) -> Result<(), String> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)?),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(Vec<u16>, &String, &Value)> = members
                .iter()
                .map(|(k, v)| (k.encode_utf16().collect(), k, v))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(format!("Duplicate key: {}", w[0].1));
            }
            out.push('{');
            for (i, (_, k, v)) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, out);
                out.push(':');
                write(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as ECMAScript's `Number.prototype.toString` prints the nearest double.
fn number(n: &serde_json::Number) -> Result<String, String> {
    // Integers go through a double too, as every JSON number does in the canonicalizer.
    #[allow(clippy::cast_precision_loss)]
    let f = if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().ok_or("Invalid JSON number")?
    };
    Ok(es6(f))
}

/// ECMAScript's shortest round-trip form: plain notation from 1e-6 up to 1e21, exponent
/// notation (`1e+21`, `1.5e-7`) outside it, `0` for both zeros.
fn es6(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let (sign, a) = if f < 0.0 { ("-", -f) } else { ("", f) };
    if (1e-6..1e21).contains(&a) {
        // Rust prints the shortest digits that round-trip, never with an exponent.
        format!("{sign}{a}")
    } else {
        let e = format!("{a:e}");
        match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{sign}{m}e+{x}"),
            _ => format!("{sign}{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(json: &str) -> Result<String, String> {
        canonicalize(&Value::parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn sorts_members_by_utf16_and_drops_whitespace() {
        let cases = [
            (
                r#"{ "b" : 1, "a" : [ true, null ] }"#,
                r#"{"a":[true,null],"b":1}"#,
            ),
            // U+20AC (0x20ac) sorts before U+1F600 (0xd83d...) by UTF-16, not by code point.
            (
                "{\"\u{1F600}\":1,\"\u{20AC}\":2}",
                "{\"\u{20AC}\":2,\"\u{1F600}\":1}",
            ),
            (
                r#"{"s":"\u0041\/\u001f\n\u00e9"}"#,
                "{\"s\":\"A/\\u001f\\n\u{e9}\"}",
            ),
            (r#"[{"z":{}, "y":[]}]"#, r#"[{"y":[],"z":{}}]"#),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn prints_numbers_as_ecmascript() {
        let cases = [
            ("1700000000", "1700000000"),
            ("1.0", "1"),
            ("-0", "0"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1.5e-7", "1.5e-7"),
            ("123.456", "123.456"),
            ("9007199254740993", "9007199254740992"),
            ("-1.25e+30", "-1.25e+30"),
            ("333333333.33333329", "333333333.3333333"),
        ];
        for (input, want) in cases {
            assert_eq!(
                canon(&format!("[{input}]")).unwrap(),
                format!("[{want}]"),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_duplicates_and_scalars() {
        assert!(canon(r#"{"a":1,"a":1}"#)
            .unwrap_err()
            .contains("Duplicate key"));
        assert!(canon(r#"{"x":{"a":1,"a":2}}"#).is_err());
        assert!(canon("1").is_err());
        assert!(canon("null").is_err());
    }
}
