//! Times: whole Unix seconds inside patrol, RFC 3339 text at its edges.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in whole seconds since 1970-01-01T00:00:00Z; the WIT contract's
/// `timestamp`.
pub type Timestamp = i64;

/// The current time.
pub fn now() -> Timestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Parses an RFC 3339 time such as `2026-11-28T12:00:00Z`; fractions of a second are dropped.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Formats a time as RFC 3339 in UTC, for example `2027-02-26T12:00:00Z`.
pub fn format_rfc3339(timestamp: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{timestamp}"))
}

/// Serde helpers for RFC 3339 fields (`#[serde(with = ...)]`, `serialize_with`,
/// `deserialize_with`).
pub mod rfc3339 {
    use serde::Serializer;

    use super::{Timestamp, format_rfc3339};

    /// A required time as RFC 3339 text.
    pub mod required {
        use serde::{Deserialize, Deserializer, Serializer};

        use super::super::{Timestamp, format_rfc3339, parse_rfc3339};

        /// Writes the time as RFC 3339 text.
        pub fn serialize<S: Serializer>(
            value: &Timestamp,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&format_rfc3339(*value))
        }

        /// Reads RFC 3339 text.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Timestamp, D::Error> {
            let text = String::deserialize(deserializer)?;
            parse_rfc3339(&text).ok_or_else(|| {
                serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time"))
            })
        }
    }

    /// Writes an optional time as RFC 3339 text, or nothing.
    pub fn serialize_option<S: Serializer>(
        value: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(timestamp) => serializer.serialize_str(&format_rfc3339(*timestamp)),
            None => serializer.serialize_none(),
        }
    }

    /// An optional time as RFC 3339 text (use with `#[serde(default)]`).
    pub fn deserialize_option<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        match <Option<String> as serde::Deserialize>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => super::parse_rfc3339(&text).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_at_second_precision() {
        let t = parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
        assert_eq!(t, 1_795_867_200);
        assert_eq!(format_rfc3339(t), "2026-11-28T12:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-28T13:00:00.75+01:00"), Some(t));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }
}
