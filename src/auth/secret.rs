//! Secret key material and the MACs computed from it, as types: secrets hide themselves in `Debug`,
//! have no `Display` and no `PartialEq`, and MACs are compared only in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

use crate::http::{from_hex, hex};

/// Equality of two byte strings in time independent of their contents (the lengths are not
/// secret: a MAC's length is public).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Overwrite bytes with zeros in a way the optimizer may not remove as a dead store.
///
/// Best effort only: copies made earlier (reallocations, the JSON or KV buffer the secret was read
/// from, registers, swap) are out of reach.
pub(crate) fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: `byte` is a valid, aligned, exclusive reference to a u8.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// A secret access key (the `wJalr...` half of an S3 credential).
///
/// `Debug` prints `SecretKey(<redacted>)`; there is no `Display` and no `PartialEq` (compare secrets
/// with [`constant_time_eq`] if ever needed). The bytes are overwritten on drop, best effort: see
/// [`wipe`] for what that cannot reach.
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(secret.into())
    }

    /// The key itself, for signing and for handing it to its owner once at registration.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretKey {
    fn from(secret: String) -> Self {
        SecretKey(secret)
    }
}

impl From<&str> for SecretKey {
    fn from(secret: &str) -> Self {
        SecretKey(secret.to_string())
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        SecretKey(self.0.clone())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        // SAFETY: zero bytes are valid UTF-8, so the string stays valid while it is wiped.
        wipe(unsafe { self.0.as_bytes_mut() });
    }
}

/// A SigV4 signing key: HMAC chain of the secret key over date, region, service and
/// "aws4_request". It signs any request of that day, region and service, so it is kept like the
/// secret itself: redacted in `Debug`, wiped on drop.
pub struct SigningKey([u8; 32]);

impl SigningKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SigningKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Clone for SigningKey {
    fn clone(&self) -> Self {
        SigningKey(self.0)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// A SigV4 signature (an HMAC-SHA256 output). Not secret, so `Debug` shows it, but there is no
/// `PartialEq`: the only comparison is [`Signature::matches`], in constant time, so a forger cannot
/// learn a valid signature byte by byte from response timings.
#[derive(Clone)]
pub struct Signature([u8; 32]);

impl Signature {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Signature(bytes)
    }

    /// Parse the 64 hex digits a client sends; anything else is `None`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes: [u8; 32] = from_hex(s)?.try_into().ok()?;
        Some(Signature(bytes))
    }

    /// Lower-case hex, as it appears in requests.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &Signature) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_hides_itself_in_debug() {
        let key = SecretKey::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
        assert_eq!(format!("{:?}", Some(&key)), "Some(SecretKey(<redacted>))");
        assert_eq!(key.expose_secret(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(key.clone().expose_secret(), key.expose_secret());
    }

    #[test]
    fn signing_key_hides_itself_in_debug() {
        let key = SigningKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
        assert_eq!(key.clone().as_bytes(), &[7; 32]);
    }

    #[test]
    fn wipe_zeroes_every_byte() {
        let mut bytes = *b"secret";
        wipe(&mut bytes);
        assert_eq!(bytes, [0; 6]);
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn signature_parses_hex_and_compares() {
        let hex_sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        let sig = Signature::from_hex(hex_sig).unwrap();
        assert_eq!(sig.to_hex(), hex_sig);
        assert!(sig.matches(&Signature::from_hex(&hex_sig.to_uppercase()).unwrap()));
        let mut other = *sig.as_bytes();
        other[31] ^= 1;
        assert!(!sig.matches(&Signature::from_bytes(other)));
        assert_eq!(format!("{sig:?}"), format!("Signature({hex_sig})"));
        assert!(Signature::from_hex(&hex_sig[..62]).is_none());
        assert!(Signature::from_hex(&format!("{hex_sig}00")).is_none());
        assert!(Signature::from_hex(&hex_sig.replace('f', "g")).is_none());
    }
}
