//! Hashing for the interpreter's maps keyed by script symbols and instructions, and by the
//! addresses of the run's own texts.
//!
//! These keys are integers handed out in sequence (symbols by the script's interner) or by the
//! allocator, never values a peer chooses, so the protection of the standard SipHash against
//! crafted keys buys nothing here, and its cost shows on every variable lookup. Maps keyed by
//! anything that comes from data (trace positions, tetraplets) use a seeded hash instead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hash of integer keys: distinct keys in a row stay distinct in the low bits
/// that pick a bucket, and the high bits that hash tables also use are well mixed.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

/// 2^64 divided by the golden ratio, an odd constant that spreads consecutive keys.
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SPREAD);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
