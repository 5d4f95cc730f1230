//! Base64 (RFC 4648): the standard alphabet (SigV2 signatures, Content-MD5, POST policies) and the
//! URL-safe one (serialized access grants).
//!
//! Encoding always pads with the standard alphabet and never pads with the URL-safe one (as URLs
//! and tokens use it). Decoding takes input with or without padding but is otherwise strict: a
//! character outside the alphabet, whitespace, padding anywhere but at the end, a length no
//! encoding can have, or non-zero bits left over in the last character are all errors, so every
//! byte string has exactly one accepted encoding per alphabet (up to the optional padding).

use std::fmt;

const STANDARD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why a string is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A character outside the alphabet (or padding in the middle) at this byte offset.
    InvalidCharacter(usize),
    /// A length that no encoding has (one character left over), or padding that does not
    /// complete the last group.
    InvalidLength,
    /// The last character carries bits that the encoded bytes do not have.
    NonCanonical,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidCharacter(at) => write!(f, "invalid base64 character at offset {at}"),
            DecodeError::InvalidLength => f.write_str("invalid base64 length"),
            DecodeError::NonCanonical => f.write_str("non-canonical base64 (trailing bits set)"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Standard alphabet, padded.
pub fn encode(bytes: &[u8]) -> String {
    encode_with(bytes, STANDARD_ALPHABET, true)
}

/// URL-safe alphabet (`-` and `_`), unpadded.
pub fn encode_url_safe(bytes: &[u8]) -> String {
    encode_with(bytes, URL_SAFE_ALPHABET, false)
}

/// Standard alphabet; padding optional.
pub fn decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    decode_with(s, STANDARD_ALPHABET)
}

/// URL-safe alphabet; padding optional.
pub fn decode_url_safe(s: &str) -> Result<Vec<u8>, DecodeError> {
    decode_with(s, URL_SAFE_ALPHABET)
}

fn encode_with(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let group = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        // 2, 3 or 4 significant characters for 1, 2 or 3 bytes.
        let significant = chunk.len() + 1;
        for i in 0..4 {
            if i < significant {
                out.push(alphabet[(group >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn decode_with(s: &str, alphabet: &[u8; 64]) -> Result<Vec<u8>, DecodeError> {
    let input = s.as_bytes();
    // Padding: at most two '=' at the very end, and only if they complete a 4-character group.
    let data_len = input.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
    let padding = input.len() - data_len;
    if padding > 0 && (padding > 2 || !input.len().is_multiple_of(4)) {
        return Err(DecodeError::InvalidLength);
    }
    let data = &input[..data_len];
    if let Some(at) = data.iter().position(|c| !alphabet.contains(c)) {
        return Err(DecodeError::InvalidCharacter(at));
    }
    if data.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    if padding > 0 && (data.len() % 4) + padding != 4 {
        return Err(DecodeError::InvalidLength);
    }

    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for (chunk_index, chunk) in data.chunks(4).enumerate() {
        let mut group = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let value =
                alphabet.iter().position(|&a| a == c).ok_or(DecodeError::InvalidCharacter(chunk_index * 4 + i))?;
            group |= (value as u32) << (18 - 6 * i);
        }
        let bytes = [(group >> 16) as u8, (group >> 8) as u8, group as u8];
        let produced = chunk.len() - 1;
        // Bits below the last produced byte must be zero.
        if bytes[produced..].iter().any(|&b| b != 0) {
            return Err(DecodeError::NonCanonical);
        }
        out.extend_from_slice(&bytes[..produced]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 section 10.
    const RFC4648_VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors_encode_and_decode() {
        for (plain, encoded) in RFC4648_VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded, "{plain:?}");
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes(), "{encoded:?}");
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(decode(unpadded).unwrap(), plain.as_bytes(), "{unpadded:?}");
            assert_eq!(encode_url_safe(plain.as_bytes()), unpadded);
            assert_eq!(decode_url_safe(unpadded).unwrap(), plain.as_bytes());
            assert_eq!(decode_url_safe(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn alphabets_differ_only_in_the_last_two_characters() {
        let bytes = [0xfb, 0xff, 0xbf];
        assert_eq!(encode(&bytes), "+/+/");
        assert_eq!(encode_url_safe(&bytes), "-_-_");
        assert_eq!(decode("+/+/").unwrap(), bytes);
        assert_eq!(decode_url_safe("-_-_").unwrap(), bytes);
        assert_eq!(decode("-_-_"), Err(DecodeError::InvalidCharacter(0)));
        assert_eq!(decode_url_safe("+/+/"), Err(DecodeError::InvalidCharacter(0)));
    }

    #[test]
    fn round_trips_every_length_and_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let slice = &bytes[..len];
            assert_eq!(decode(&encode(slice)).unwrap(), slice);
            assert_eq!(decode_url_safe(&encode_url_safe(slice)).unwrap(), slice);
        }
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(decode("Zm9v!"), Err(DecodeError::InvalidCharacter(4)));
        assert_eq!(decode("Zm 9v"), Err(DecodeError::InvalidCharacter(2)));
        assert_eq!(decode("Zm9v\n"), Err(DecodeError::InvalidCharacter(4)));
        assert_eq!(decode("Zg=a"), Err(DecodeError::InvalidCharacter(2)));
        assert_eq!(decode("Z"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9vY"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zg="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zg==="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9v===="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm8=="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9v=="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zh=="), Err(DecodeError::NonCanonical));
        assert_eq!(decode("Zm9="), Err(DecodeError::NonCanonical));
        assert_eq!(decode("Zg==Zg=="), Err(DecodeError::InvalidCharacter(2)));
        assert_eq!(decode("é"), Err(DecodeError::InvalidCharacter(0)));
    }
}
