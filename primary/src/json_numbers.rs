//! Integers a body may carry: the protocol's INTEGER is signed 64-bit, and JSON has no such
//! limit. A literal beyond it would otherwise be read as a lossy REAL (serde reads what does not
//! fit a u64 as a double), so the raw body is scanned for one before it is parsed.

/// The first integer literal (no fraction, no exponent) outside `i64`, outside strings.
pub fn integer_out_of_range(body: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => i = skip_string(body, i + 1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < body.len() && body[i].is_ascii_digit() {
                    i += 1;
                }
                let is_real = i < body.len() && matches!(body[i], b'.' | b'e' | b'E');
                while i < body.len()
                    && matches!(body[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let literal = std::str::from_utf8(&body[start..i]).unwrap_or_default();
                if !is_real && literal.parse::<i64>().is_err() && literal != "-" {
                    return Some(literal.chars().take(40).collect());
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The index just past the string whose content starts at `i`.
fn skip_string(body: &[u8], mut i: usize) -> usize {
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::integer_out_of_range;

    #[test]
    fn finds_integers_beyond_i64_and_nothing_else() {
        let found = |body: &str| integer_out_of_range(body.as_bytes());
        assert_eq!(
            found(r#"{"a": 9223372036854775807, "b": -9223372036854775808}"#),
            None
        );
        assert_eq!(
            found(r#"{"a": 9223372036854775808}"#).as_deref(),
            Some("9223372036854775808")
        );
        assert_eq!(
            found(r#"[-9223372036854775809]"#).as_deref(),
            Some("-9223372036854775809")
        );
        assert_eq!(
            found(r#"[18446744073709551616]"#).as_deref(),
            Some("18446744073709551616")
        );
        assert_eq!(found(r#"[1e400, 2.5, 18446744073709551616.0]"#), None);
        assert_eq!(
            found(r#"{"s": "99999999999999999999 \" 99999999999999999999"}"#),
            None
        );
    }
}
