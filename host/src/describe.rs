//! Quantities the way people write them, for messages.

use std::time::Duration;

/// A duration: `2 s`, `5 ms`, `1.5 ms`, `250 µs`.
pub(crate) fn describe_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros >= 1_000_000 && micros.is_multiple_of(1_000_000) {
        format!("{} s", micros / 1_000_000)
    } else if micros.is_multiple_of(1000) {
        format!("{} ms", micros / 1000)
    } else if micros >= 1000 {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    } else {
        format!("{micros} µs")
    }
}

/// A size: `16 MiB`, `32.5 MiB`, `64 KiB`, `12 bytes`.
pub(crate) fn describe_bytes(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    if bytes >= MIB {
        if bytes.is_multiple_of(MIB) {
            format!("{} MiB", bytes / MIB)
        } else {
            format!("{:.1} MiB", bytes as f64 / MIB as f64)
        }
    } else if bytes >= 1024 {
        format!("{} KiB", bytes.div_ceil(1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// An error and its causes (its [`source`](std::error::Error::source) chain) in one line,
/// `error: cause: cause`, for places that keep an error as text.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        // A message that already ends with its cause's text is not repeated.
        if !text.ends_with(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe_duration(Duration::from_secs(2)), "2 s");
        assert_eq!(describe_duration(Duration::from_millis(2500)), "2500 ms");
        assert_eq!(describe_duration(Duration::from_millis(5)), "5 ms");
        assert_eq!(describe_duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(describe_duration(Duration::from_micros(250)), "250 µs");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(describe_bytes(16 << 20), "16 MiB");
        assert_eq!(describe_bytes((32 << 20) + (1 << 19)), "32.5 MiB");
        assert_eq!(describe_bytes(65_536), "64 KiB");
        assert_eq!(describe_bytes(12), "12 bytes");
    }
}
