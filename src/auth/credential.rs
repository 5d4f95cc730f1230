//! Credential records, stored the way Storj's auth service stores them: KV holds, under a hash of
//! the access key id, the record encrypted with AES-256-GCM under a key derived from the access
//! key id. Neither the access key id nor anything that decrypts a record is stored, so a leaked
//! KV namespace reveals no usable credential.
//!
//! Stored value: `v1.` + hex(nonce (12 bytes) || ciphertext || tag), the plaintext being the JSON
//! of `CredentialRecord`. The record's KV key is the associated data, so a record copied under
//! another key does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::http::{from_hex, hex};

const KV_KEY_PREFIX: &str = "cred/";
const VALUE_VERSION_PREFIX: &str = "v1.";
const KEY_DERIVATION_LABEL: &[u8] = b"portico credential record key v1";
const ID_HASH_LABEL: &[u8] = b"portico credential id v1\0";

/// Alphabet of generated access key ids: upper-case letters and digits, like AWS's.
const ACCESS_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Length of generated access key ids: 28 characters of 5 bits = 140 bits of entropy, enough
/// that the id alone is an unguessable record-decryption key.
pub const ACCESS_KEY_ID_LEN: usize = 28;
/// Alphabet of generated secrets (base62, safe in every config file format).
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// 40 characters of base62: ~238 bits.
pub const SECRET_KEY_LEN: usize = 40;

/// What a registered credential grants: decrypted from KV only with the access key id.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialRecord {
    /// The S3 secret access key. `None` for public records (share links, websites).
    pub secret_key: Option<String>,
    /// The access grant (text form) this credential acts with; it names the project.
    pub grant: String,
    /// Public records answer anonymous requests.
    #[serde(default)]
    pub public: bool,
    /// Unix seconds after which the record is refused.
    #[serde(default)]
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("grant", &"<redacted>")
            .field("public", &self.public)
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Not a value this code wrote, or written for another access key id, or tampered with.
    Undecryptable,
    /// Decrypted, but not a record of a known shape.
    Malformed,
}

/// The KV key of an access key id's record: a hash, so KV never holds the id itself.
pub fn kv_key(access_key_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(ID_HASH_LABEL);
    hasher.update(access_key_id.as_bytes());
    format!("{KV_KEY_PREFIX}{}", hex(&hasher.finalize()))
}

fn record_cipher(access_key_id: &str) -> Aes256Gcm {
    let mut mac = <Hmac<Sha256>>::new_from_slice(access_key_id.as_bytes()).expect("HMAC takes any key length");
    mac.update(KEY_DERIVATION_LABEL);
    let key = mac.finalize().into_bytes();
    Aes256Gcm::new_from_slice(&key).expect("32-byte key")
}

/// Encrypt a record for KV. `nonce` must be fresh randomness for every write.
pub fn seal(access_key_id: &str, record: &CredentialRecord, nonce: [u8; 12]) -> String {
    let plaintext = serde_json::to_vec(record).expect("records serialize");
    let aad = kv_key(access_key_id);
    let ciphertext = record_cipher(access_key_id)
        .encrypt(&Nonce::from(nonce), Payload { msg: &plaintext, aad: aad.as_bytes() })
        .expect("AES-GCM encryption of a small record cannot fail");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&ciphertext);
    format!("{VALUE_VERSION_PREFIX}{}", hex(&bytes))
}

/// Decrypt a KV value with the access key id that the client presented.
pub fn open(access_key_id: &str, stored: &str) -> Result<CredentialRecord, RecordError> {
    let bytes = stored
        .strip_prefix(VALUE_VERSION_PREFIX)
        .and_then(from_hex)
        .filter(|b| b.len() > 12 + 16)
        .ok_or(RecordError::Undecryptable)?;
    let (nonce, ciphertext) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
    let aad = kv_key(access_key_id);
    let plaintext = record_cipher(access_key_id)
        .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
        .map_err(|_| RecordError::Undecryptable)?;
    serde_json::from_slice(&plaintext).map_err(|_| RecordError::Malformed)
}

/// Characters drawn uniformly from `alphabet` (rejection sampling, so no modulo bias).
fn random_string(alphabet: &[u8], len: usize, random: &mut impl FnMut() -> u8) -> String {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let b = random() as usize;
        if b < limit {
            out.push(alphabet[b % alphabet.len()] as char);
        }
    }
    out
}

/// A new access key id and secret from the caller's randomness source.
pub fn generate_key_pair(random: &mut impl FnMut() -> u8) -> (String, String) {
    let id = random_string(ACCESS_KEY_ALPHABET, ACCESS_KEY_ID_LEN, random);
    let secret = random_string(SECRET_ALPHABET, SECRET_KEY_LEN, random);
    (id, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CredentialRecord {
        CredentialRecord {
            secret_key: Some("s3cr3t-value".into()),
            grant: "portico1-grant-text".into(),
            public: false,
            expires_at: None,
            created_at: 1_700_000_000,
        }
    }

    #[test]
    fn sealed_records_open_only_with_their_access_key_id() {
        let sealed = seal("AKIDONE", &record(), [7; 12]);
        assert_eq!(open("AKIDONE", &sealed), Ok(record()));
        assert_eq!(open("AKIDTWO", &sealed), Err(RecordError::Undecryptable));
    }

    #[test]
    fn stored_value_and_key_reveal_neither_id_nor_secret() {
        let sealed = seal("AKIDONE", &record(), [7; 12]);
        let key = kv_key("AKIDONE");
        for text in [&sealed, &key] {
            assert!(!text.contains("AKIDONE"));
            assert!(!text.contains("s3cr3t"));
            assert!(!text.contains(&hex(b"s3cr3t")));
        }
        assert!(key.starts_with("cred/") && key.len() == 5 + 64);
    }

    #[test]
    fn tampering_is_detected() {
        let sealed = seal("AKIDONE", &record(), [7; 12]);
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(open("AKIDONE", &String::from_utf8(bytes).unwrap()), Err(RecordError::Undecryptable));
        assert_eq!(open("AKIDONE", "v1.zz"), Err(RecordError::Undecryptable));
        assert_eq!(open("AKIDONE", "garbage"), Err(RecordError::Undecryptable));
    }

    #[test]
    fn different_nonces_give_different_values() {
        assert_ne!(seal("A", &record(), [1; 12]), seal("A", &record(), [2; 12]));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", record());
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("portico1"), "{shown}");
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let mut counter = 0u8;
        let mut random = || {
            counter = counter.wrapping_add(37);
            counter
        };
        let (id, secret) = generate_key_pair(&mut random);
        assert_eq!(id.len(), ACCESS_KEY_ID_LEN);
        assert_eq!(secret.len(), SECRET_KEY_LEN);
        assert!(id.bytes().all(|b| ACCESS_KEY_ALPHABET.contains(&b)));
        assert!(secret.bytes().all(|b| SECRET_ALPHABET.contains(&b)));
    }
}
