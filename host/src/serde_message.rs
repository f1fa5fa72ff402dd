//! serde's error messages, reworded for the people who write requests and configurations.

/// serde's message with Rust type names replaced by words: `expected u64` becomes
/// `expected a non-negative integer`, `expected a sequence` becomes `expected a list`.
pub(crate) fn plain(message: &str) -> String {
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
    plain
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
    }
}
