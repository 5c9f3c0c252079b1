//! Bearer tokens: share links and worker jobs both carry 256 bits from the OS RNG, and only a
//! token's SHA-256 is stored, so the database alone opens nothing.

use sha2::{Digest, Sha256};

/// Hex digits in a token (32 random bytes).
pub const TOKEN_LEN: usize = 64;

/// A fresh token: 32 bytes from the operating system's RNG, hex-encoded.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    domain::hex::encode(&bytes)
}

/// What is stored of a token, and what a presented one is compared as.
pub fn hash_token(token: &str) -> String {
    domain::hex::encode(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of one we issue; anything else is answered without a lookup.
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(well_formed(&a));
        assert_ne!(a, b);
        assert_ne!(hash_token(&a), a);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert!(!well_formed("../../etc/passwd"));
        assert!(!well_formed(&a[1..]));
    }
}
