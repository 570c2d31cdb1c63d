//! Operation ids, derived exactly as the official SDKs derive them (spec/operations.md §4).
//!
//! ```text
//! hash(s)      = lowercase_hex( BLAKE2b-512( utf8(s) ) )[0..64]
//! step_id(P,n) = hash( P is None ? decimal(n) : P + "-" + decimal(n) )
//! ```
//!
//! Matching the SDK scheme byte for byte keeps our histories comparable with those of the
//! official SDKs; it is not a security property.

use blake2::{Blake2b512, Digest};

/// Number of hex characters kept from the digest (the service accepts ids of ≤ 64 chars).
const ID_LEN: usize = 64;

/// Lowercase hex digits, indexed by nibble.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Hashes a string into an operation id: the first 64 lowercase hex chars of its BLAKE2b-512.
///
/// `hash_id("1")` is the id of the first top-level operation of every execution.
pub fn hash_id(s: &str) -> String {
    let mut hasher = Blake2b512::new();
    hasher.update(s.as_bytes());
    finish(hasher)
}

/// Derives the id of the `n`-th operation of a context whose prefix is `prefix`.
///
/// A `None` or empty prefix means the root context (`hash(n)`); otherwise the id is
/// `hash(prefix + "-" + n)`. The same function gives map/parallel item ids, with the
/// map/parallel operation id as prefix and the 0-based item index as `n`.
///
/// Only the returned string is allocated: the input is fed to the hasher in pieces.
pub fn step_id(prefix: Option<&str>, n: u64) -> String {
    let mut digits = [0u8; 20];
    let decimal = write_decimal(n, &mut digits);
    let mut hasher = Blake2b512::new();
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        hasher.update(p.as_bytes());
        hasher.update(b"-");
    }
    hasher.update(decimal);
    finish(hasher)
}

/// Writes `n` in decimal into the end of `buf` and returns the written digits.
fn write_decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    // u64::MAX has 20 decimal digits, so the buffer always suffices.
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[start..]
}

/// Hex-encodes the first 32 digest bytes (= 64 hex chars) into a fresh string.
fn finish(hasher: Blake2b512) -> String {
    let digest = hasher.finalize();
    let mut out = String::with_capacity(ID_LEN);
    for &byte in digest.iter().take(ID_LEN / 2) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Mints the ids of one context's operations in program order.
///
/// Each context (the root, or the child context of an operation) has its own prefix and
/// a counter starting at 0; every durable call increments the counter first, so the first
/// id is for 1.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IdCounter {
    prefix: Option<String>,
    counter: u64,
}

impl IdCounter {
    /// Creates the counter of the root context (no prefix, nothing minted yet).
    pub fn root() -> Self {
        Self::default()
    }

    /// Creates the counter of the child context of the operation whose id is `prefix`.
    ///
    /// An empty prefix is the root context, as in the SDKs.
    pub fn child(prefix: &str) -> Self {
        Self::with_count(Some(prefix), 0)
    }

    /// Resumes a counter that has already minted `count` ids under `prefix`.
    pub fn with_count(prefix: Option<&str>, count: u64) -> Self {
        Self {
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_owned),
            counter: count,
        }
    }

    /// Mints the next id: increments the counter, then derives `step_id(prefix, counter)`.
    ///
    /// The counter saturates at `u64::MAX` instead of wrapping (unreachable in practice).
    pub fn next_id(&mut self) -> String {
        self.counter = self.counter.saturating_add(1);
        step_id(self.prefix.as_deref(), self.counter)
    }

    /// Returns how many ids have been minted (the number of the last one, 0 if none).
    pub fn count(&self) -> u64 {
        self.counter
    }

    /// Returns the prefix of this context (`None` for the root context).
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1ced8f5be2db23a6513eba4d819c73806424748a7bc6fa0d792cc1c7d1775a97";
    const H2: &str = "c5faca15ac2f93578b39ef4b6bbb871bdedce4ddd584fd31f0bb66fade3947e6";
    const H3: &str = "6f760b9e9eac89f07ab0223b0f4acb04d1e355d893a1b86a83f4d4b405adee99";
    const H1_0: &str = "1712f93e2f51df042e2b933907d75accfe34a48fe4a42a24e0b08131bc72d591";
    const H1_1: &str = "974bfc6321e227b0ff101342eaf19b336f002dc6cc99c18f0941a7755cc20fc4";

    #[test]
    fn hash_id_matches_spec_vectors() {
        assert_eq!(hash_id("1"), H1);
        assert_eq!(hash_id("2"), H2);
        assert_eq!(hash_id("3"), H3);
        assert_eq!(
            hash_id("1ced8f5be2db23a6513eba4d819c73806424748a7bc6fa0d792cc1c7d1775a97-0"),
            H1_0
        );
        assert_eq!(
            hash_id("1ced8f5be2db23a6513eba4d819c73806424748a7bc6fa0d792cc1c7d1775a97-1"),
            H1_1
        );
    }

    #[test]
    fn hash_id_is_not_blake2b_256() {
        assert!(!hash_id("1").starts_with("92cdf578"));
    }

    #[test]
    fn step_id_matches_spec_vectors() {
        assert_eq!(step_id(None, 1), H1);
        assert_eq!(step_id(None, 2), H2);
        assert_eq!(step_id(None, 3), H3);
        assert_eq!(step_id(Some(H1), 0), H1_0);
        assert_eq!(step_id(Some(H1), 1), H1_1);
    }

    #[test]
    fn step_id_agrees_with_hash_id_of_the_formatted_string() {
        for n in [0, 9, 10, 99, 100, 12_345, u64::MAX] {
            assert_eq!(step_id(None, n), hash_id(&n.to_string()));
            assert_eq!(step_id(Some("p"), n), hash_id(&format!("p-{n}")));
        }
    }

    #[test]
    fn empty_prefix_is_no_prefix() {
        assert_eq!(step_id(Some(""), 1), H1);
        assert_eq!(IdCounter::child("").prefix(), None);
        assert_eq!(IdCounter::child(""), IdCounter::root());
        assert_eq!(
            IdCounter::with_count(Some(""), 4),
            IdCounter::with_count(None, 4)
        );
    }

    #[test]
    fn ids_are_64_lowercase_hex_chars() {
        for id in [
            hash_id(""),
            step_id(Some("é-ü"), 7),
            hash_id(&"x".repeat(10_000)),
        ] {
            assert_eq!(id.len(), 64);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
    }

    #[test]
    fn root_counter_numbers_from_one() {
        let mut c = IdCounter::root();
        assert_eq!(c.count(), 0);
        assert_eq!(c.next_id(), H1);
        assert_eq!(c.next_id(), H2);
        assert_eq!(c.next_id(), H3);
        assert_eq!(c.count(), 3);
    }

    #[test]
    fn child_counter_uses_parent_id_as_prefix() {
        let mut c = IdCounter::child(H1);
        assert_eq!(c.prefix(), Some(H1));
        assert_eq!(c.next_id(), H1_1);
        assert_eq!(c.count(), 1);
    }

    #[test]
    fn with_count_resumes_numbering() {
        let mut resumed = IdCounter::with_count(None, 2);
        assert_eq!(resumed.next_id(), H3);
        let mut fresh = IdCounter::child("abc");
        for _ in 0..5 {
            fresh.next_id();
        }
        let mut resumed = IdCounter::with_count(Some("abc"), 5);
        assert_eq!(resumed.next_id(), fresh.next_id());
    }

    #[test]
    fn counter_saturates_instead_of_overflowing() {
        let mut c = IdCounter::with_count(None, u64::MAX);
        assert_eq!(c.next_id(), step_id(None, u64::MAX));
        assert_eq!(c.count(), u64::MAX);
    }
}
