//! The token format: recognisable, checksummed, and all but impossible to guess.
//!
//! ```text
//! ptl_ 7Hb0...(43 characters)... Xq91aZ
//! └┬─┘ └────────┬─────────────┘ └──┬──┘
//! prefix   256 random bits,      CRC-32 of prefix and body,
//!          base62, fixed width   base62, 6 characters
//! ```
//!
//! - The prefix `ptl_` lets a secret scanner (or a person) recognise a patrol token.
//! - The body is 32 bytes from the operating system's CSPRNG, in base62: 256 bits.
//! - The checksum, CRC-32 over prefix and body, in the spirit of GitHub's token checksums,
//!   lets a scanner reject a random look-alike without a database lookup. It protects against
//!   typos and false positives, not forgery: the secret's strength is its 256 random bits.
//!
//! A token is 53 ASCII letters, digits and `_`, so it survives copying, URLs, and HTTP headers.
//! patrol stores only its SHA-256, never the token: the token is shown once, when it is created
//! or regenerated.

use std::fmt;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Every patrol token starts with this.
pub const PREFIX: &str = "ptl_";
/// Every API credential (a tenant's administrator, auditor or provisioning client) starts with
/// this; otherwise it has the token format.
pub const CREDENTIAL_PREFIX: &str = "ptc_";
/// Characters in the random body.
const BODY_LEN: usize = 43;
/// Characters in the checksum.
const CHECKSUM_LEN: usize = 6;
/// Characters in a whole token.
pub const TOKEN_LEN: usize = PREFIX.len() + BODY_LEN + CHECKSUM_LEN;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token's secret. Its `Debug` and `Display` never show it; use [`Secret::expose`] where the
/// secret must be handed out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// The SHA-256 of a secret: what patrol stores and looks tokens up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    /// Compares in constant time.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// Why a string is not a patrol token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Not `ptl_` followed by 49 letters and digits.
    #[error("not a patrol token (expected `ptl_` and 49 letters and digits)")]
    Malformed,
    /// The shape is right but the checksum is not: a typo, or not a patrol token at all.
    #[error("the token's checksum does not match: it was mistyped or is not a patrol token")]
    Checksum,
}

impl Secret {
    /// A new secret, from the operating system's random number generator.
    pub fn generate() -> Result<Secret, getrandom::Error> {
        Secret::generate_with(PREFIX)
    }

    /// A new API credential's secret: the token format with the prefix
    /// [`CREDENTIAL_PREFIX`], so that neither can be mistaken for the other.
    pub fn generate_credential() -> Result<Secret, getrandom::Error> {
        Secret::generate_with(CREDENTIAL_PREFIX)
    }

    fn generate_with(prefix: &str) -> Result<Secret, getrandom::Error> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)?;
        let mut token = String::with_capacity(TOKEN_LEN);
        token.push_str(prefix);
        token.push_str(&base62(&random, BODY_LEN));
        let checksum = crc32fast::hash(token.as_bytes());
        token.push_str(&base62(&checksum.to_be_bytes(), CHECKSUM_LEN));
        Ok(Secret(token))
    }

    /// Checks that `text` is a well-formed patrol token with a valid checksum.
    pub fn parse(text: &str) -> Result<Secret, FormatError> {
        Secret::parse_with(PREFIX, text)
    }

    /// Checks that `text` is a well-formed API credential with a valid checksum.
    pub fn parse_credential(text: &str) -> Result<Secret, FormatError> {
        Secret::parse_with(CREDENTIAL_PREFIX, text)
    }

    fn parse_with(prefix: &str, text: &str) -> Result<Secret, FormatError> {
        let text = text.trim();
        let body = text.strip_prefix(prefix).ok_or(FormatError::Malformed)?;
        if text.len() != TOKEN_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FormatError::Malformed);
        }
        let (head, checksum) = text.split_at(TOKEN_LEN - CHECKSUM_LEN);
        let expected = base62(
            &crc32fast::hash(head.as_bytes()).to_be_bytes(),
            CHECKSUM_LEN,
        );
        if checksum != expected {
            return Err(FormatError::Checksum);
        }
        Ok(Secret(text.to_string()))
    }

    /// The secret itself, to hand to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256.
    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The first characters, enough for a person to tell tokens apart in a report, far too few
    /// to use: `ptl_7Hb0…`.
    pub fn hint(&self) -> String {
        format!("{}…", &self.0[..PREFIX.len() + 4])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.hint())
    }
}

/// The SHA-256 of any text, in hex: how GitHub's secret-scanning partner format names a token
/// in answers without repeating it.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Bytes in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Every patrol token with a valid checksum in `text`, in order, without repeats: what a secret
/// scanner finds in a file or a paste.
pub fn find_tokens(text: &str) -> Vec<Secret> {
    let bytes = text.as_bytes();
    let mut found: Vec<Secret> = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find(PREFIX) {
        let start = from + offset;
        from = start + PREFIX.len();
        let preceded_by_word = start > 0 && is_token_char(bytes[start - 1]);
        let end = start + TOKEN_LEN;
        if preceded_by_word || end > bytes.len() {
            continue;
        }
        let followed_by_word = bytes.get(end).is_some_and(|b| is_token_char(*b));
        if followed_by_word {
            continue;
        }
        if let Ok(secret) = Secret::parse(&text[start..end])
            && !found.contains(&secret)
        {
            found.push(secret);
        }
    }
    found
}

fn is_token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// `bytes` as a big-endian number in base62, left-padded with `0` to `width` characters.
fn base62(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_have_the_documented_shape() {
        for _ in 0..200 {
            let secret = Secret::generate().unwrap();
            let text = secret.expose();
            assert_eq!(text.len(), TOKEN_LEN);
            assert!(text.starts_with("ptl_"));
            assert_eq!(Secret::parse(text).unwrap(), secret);
        }
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        assert!(!a.hash().matches(&b.hash()));
        assert!(a.hash().matches(&a.hash()));
    }

    #[test]
    fn typos_and_look_alikes_are_rejected_without_a_lookup() {
        let secret = Secret::generate().unwrap();
        let text = secret.expose().to_string();
        let mut typo = text.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(Secret::parse(&typo), Err(FormatError::Checksum));
        assert_eq!(
            Secret::parse(&text[..TOKEN_LEN - 1]),
            Err(FormatError::Malformed)
        );
        assert_eq!(
            Secret::parse(&text.replace("ptl_", "ghp_")),
            Err(FormatError::Malformed)
        );
        assert_eq!(Secret::parse("ptl_!"), Err(FormatError::Malformed));
        // A random string of the right shape passes the checksum about once in four billion.
        assert_eq!(
            Secret::parse(&format!("ptl_{}", "A".repeat(49))),
            Err(FormatError::Checksum)
        );
    }

    #[test]
    fn base62_is_fixed_width_and_big_endian() {
        assert_eq!(base62(&[0, 0], 4), "0000");
        assert_eq!(base62(&[0, 61], 2), "0z");
        assert_eq!(base62(&[0, 62], 2), "10");
        assert_eq!(base62(&[255; 32], 43).len(), 43);
    }

    #[test]
    fn scanners_find_tokens_in_text_but_not_inside_longer_words() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        let text = format!(
            "export TOKEN={}\nurl=https://x/?t={}&y=1\nagain {}\nxptl_{} {}9",
            a.expose(),
            b.expose(),
            a.expose(),
            &b.expose()[4..],
            b.expose()
        );
        assert_eq!(find_tokens(&text), vec![a, b]);
        assert!(find_tokens("ptl_ nothing here").is_empty());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = Secret::generate().unwrap();
        let shown = format!("{secret:?} {:?}", secret.hash());
        assert!(!shown.contains(&secret.expose()[8..]), "{shown}");
    }
}
