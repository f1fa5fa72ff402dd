//! Settings: parsed from JSON once, at load; handed back compactly encoded on every request.
//!
//! Parsing JSON inside a fresh instance on every request would cost more than the policy's
//! own logic, so `validate-settings` returns the parsed settings encoded with `postcard`, and
//! `evaluate` decodes that: a few hundred nanoseconds instead of a few microseconds.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PreparedSettings;

/// Settings for a policy that has none: only `{}` is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// Parses a policy's settings from the JSON object the host passes to `validate-settings`.
///
/// Errors name the field and read like ``unknown field `max_dayz`, expected `max_days` or
/// `clamp` `` or `` `max_days`: invalid type: string "ninety", expected a non-negative
/// integer``.
pub fn parse_settings<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = plain_serde_message(&error.into_inner().to_string());
        // An unknown field's path is the field itself, which the message already names.
        if path == "." || message.starts_with("unknown field") {
            message
        } else {
            format!("`{path}`: {message}")
        }
    })
}

/// serde's message without what would confuse a tenant: its line and column, which point into
/// a JSON text they never wrote (they wrote TOML), and Rust type names such as `u32`.
fn plain_serde_message(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let mut plain = message.to_string();
    for (rust, words) in [
        ("u8", "a small non-negative integer"),
        ("u16", "a non-negative integer"),
        ("u32", "a non-negative integer"),
        ("u64", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("i8", "a small integer"),
        ("i16", "an integer"),
        ("i32", "an integer"),
        ("i64", "an integer"),
        ("f32", "a number"),
        ("f64", "a number"),
    ] {
        if let Some(head) = plain.strip_suffix(&format!("expected {rust}")) {
            plain = format!("{head}expected {words}");
            break;
        }
    }
    plain
}

/// Encodes checked settings into the form `evaluate` receives, plus their JSON for people.
///
/// Fails when the settings type does not survive the round trip through the binary encoding
/// (for example with `skip_serializing_if`), so the mistake shows at load, not per request.
pub fn compile_settings<T: Serialize + DeserializeOwned>(
    settings: &T,
) -> Result<PreparedSettings, String> {
    let compiled = encode_settings(settings)?;
    let effective = serde_json::to_string(settings)
        .map_err(|error| format!("cannot show the settings as JSON: {error}"))?;
    Ok(PreparedSettings {
        effective,
        compiled,
    })
}

/// The compact binary form of checked settings, which `evaluate` receives; refused when the
/// type does not survive the round trip through it.
pub(crate) fn encode_settings<T: Serialize + DeserializeOwned>(
    settings: &T,
) -> Result<Vec<u8>, String> {
    let compiled = postcard::to_allocvec(settings)
        .map_err(|error| format!("cannot encode the settings: {error}"))?;
    let round_trips = decode_settings::<T>(&compiled)
        .ok()
        .and_then(|decoded| postcard::to_allocvec(&decoded).ok())
        .is_some_and(|again| again == compiled);
    if !round_trips {
        return Err(
            "the policy's settings type does not round-trip through its binary encoding \
                    (avoid `skip_serializing_if` and untagged enums)"
                .to_string(),
        );
    }
    Ok(compiled)
}

/// Decodes settings that [`compile_settings`] encoded.
pub fn decode_settings<T: DeserializeOwned>(compiled: &[u8]) -> Result<T, String> {
    postcard::from_bytes(compiled)
        .map_err(|error| format!("cannot decode the prepared settings: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Lifespan {
        max_days: u32,
        #[serde(default)]
        clamp: bool,
    }

    #[test]
    fn settings_round_trip_through_the_compact_form() {
        let parsed: Lifespan = parse_settings(r#"{"max_days": 90}"#).unwrap();
        let prepared = compile_settings(&parsed).unwrap();
        assert_eq!(prepared.effective, r#"{"max_days":90,"clamp":false}"#);
        assert_eq!(
            decode_settings::<Lifespan>(&prepared.compiled).unwrap(),
            parsed
        );
    }

    #[test]
    fn parse_errors_name_the_field_without_json_positions() {
        let error = parse_settings::<Lifespan>(r#"{"max_dayz": 90}"#).unwrap_err();
        assert_eq!(
            error,
            "unknown field `max_dayz`, expected `max_days` or `clamp`"
        );
        let error = parse_settings::<Lifespan>(r#"{"max_days": "ninety"}"#).unwrap_err();
        assert_eq!(
            error,
            "`max_days`: invalid type: string \"ninety\", expected a non-negative integer"
        );
        let error = parse_settings::<Lifespan>("{}").unwrap_err();
        assert_eq!(error, "missing field `max_days`");
    }

    #[test]
    fn settings_that_do_not_round_trip_are_refused() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Lossy {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            note: Option<String>,
            days: u32,
        }
        let error = compile_settings(&Lossy {
            note: None,
            days: 3,
        })
        .unwrap_err();
        assert!(error.contains("does not round-trip"), "{error}");
    }
}
