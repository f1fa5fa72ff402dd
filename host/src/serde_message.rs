//! serde's error messages, reworded for the people who write requests and configurations.

/// serde's message with Rust type names replaced by words: `expected u64` becomes
/// `expected a non-negative integer`, `expected a sequence` becomes `expected a list`, and
/// `expected struct RawActor` becomes `expected an object`.
pub fn plain(message: &str) -> String {
    const WORDS: [(&str, &str); 7] = [
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a table"),
    ];
    let mut plain = message.to_string();
    for (rust, words) in WORDS {
        plain = plain.replace(rust, words);
    }
    for (rust, words) in [
        ("expected struct ", "expected an object"),
        ("expected tuple struct ", "expected a list"),
        ("expected unit struct ", "expected null"),
        ("expected enum ", "expected one of the allowed values"),
    ] {
        plain = replace_type_name(&plain, rust, words);
    }
    plain
}

/// Replaces every `prefix` followed by a Rust type name with `words`.
fn replace_type_name(text: &str, prefix: &str, words: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        out.push_str(words);
        let after = &rest[at + prefix.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_type_names_become_words() {
        assert_eq!(
            super::plain("invalid type: string \"x\", expected u64 at line 1 column 3"),
            "invalid type: string \"x\", expected a non-negative integer at line 1 column 3"
        );
        assert_eq!(
            super::plain("invalid type: integer `3`, expected a sequence"),
            "invalid type: integer `3`, expected a list"
        );
        assert_eq!(
            super::plain("invalid type: string \"x\", expected struct RawActor at line 1"),
            "invalid type: string \"x\", expected an object at line 1"
        );
    }
}
