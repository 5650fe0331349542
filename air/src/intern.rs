//! The string table of a script: each distinct string once, named by a dense symbol.
//!
//! Every name and literal of a script is interned, so this is on the parser's hot path and holds
//! much of a parsed script's memory. Two things set it apart from a general-purpose interner:
//! string ends are 32-bit (a script is far below 4 GiB), and strings of up to 16 bytes, which
//! most names are, are hashed and compared as one 128-bit key read with two overlapping loads
//! rather than byte by byte.
//!
//! Scripts arrive in particles from anyone, so the hash is seeded per table (foldhash's random
//! state): colliding names cannot be prepared in advance.
//!
//! While a parser fills the table, a small direct-mapped cache sits in front of it: scripts
//! repeat a few names many times, and a hit costs one comparison of the 128-bit key, with no
//! probe and no string comparison. Collisions in the cache only cost misses.

use std::hash::BuildHasher;
use std::num::NonZeroU32;

use hashbrown::HashTable;

/// A table of distinct strings; symbol `i` is the `i`-th string added.
#[derive(Clone, Default)]
pub(crate) struct Interner {
    // The strings, one after another.
    text: String,
    // `ends[i]` is where string `i` ends in `text`; it starts where string `i - 1` ends.
    ends: Vec<u32>,
    // Symbols (index + 1), found by the hash of their string.
    table: HashTable<NonZeroU32>,
    hasher: foldhash::fast::RandomState,
    // The front cache, a power of two in length, while it is on.
    cache: Option<Box<[CacheEntry]>>,
}

// A cached string: its short key and length, and its symbol. Packed to 8-byte alignment, so
// that an entry takes 24 bytes rather than the 32 that the key's alignment would give it.
#[derive(Clone, Copy, Default)]
#[repr(C, packed(8))]
struct CacheEntry {
    key: u128,
    len: u8,
    symbol: Option<NonZeroU32>,
}

// The cache's size bounds: a small table does not repay a cache, in time or in memory.
const MIN_CACHE: usize = 64;
const MAX_CACHE: usize = 1024;

// The bytes of a string of up to 16 bytes, packed so that the key and the length determine the
// string: overlapping reads from both ends cover every byte, without copying.
#[inline]
fn short_key(bytes: &[u8]) -> Option<u128> {
    let n = bytes.len();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    Some(match n {
        0 => 0,
        1..=3 => {
            u128::from(bytes[0]) | u128::from(bytes[n / 2]) << 8 | u128::from(bytes[n - 1]) << 16
        }
        4..=7 => u128::from(half(0)) | u128::from(half(n - 4)) << 32,
        8..=16 => u128::from(word(0)) | u128::from(word(n - 8)) << 64,
        _ => return None,
    })
}

// String `index` of a table.
#[inline]
fn string_at<'a>(text: &'a str, ends: &[u32], index: usize) -> &'a str {
    let start = match index {
        0 => 0,
        _ => ends[index - 1] as usize,
    };
    &text[start..ends[index] as usize]
}

#[inline]
fn hash_of(hasher: &foldhash::fast::RandomState, bytes: &[u8], key: Option<u128>) -> u64 {
    match key {
        // At most 17 strings (one per length) share a key, so leaving the length out of the
        // hash costs little.
        Some(key) => hasher.hash_one(key),
        None => hasher.hash_one(bytes),
    }
}

// The index of a symbol in the table.
#[inline]
fn index_of(symbol: NonZeroU32) -> usize {
    symbol.get() as usize - 1
}

impl Interner {
    /// An empty table with room for about `strings` strings.
    pub(crate) fn with_capacity(strings: usize) -> Self {
        Interner {
            // Names in scripts are short: five bytes is the usual average.
            text: String::with_capacity(strings * 5),
            ends: Vec::with_capacity(strings),
            table: HashTable::with_capacity(strings),
            hasher: foldhash::fast::RandomState::default(),
            cache: None,
        }
    }

    /// Turns the front cache on, sized for about `expected_interns` calls of
    /// [`Interner::intern`], or off with 0 (or a number too small to repay it).
    pub(crate) fn set_cache(&mut self, expected_interns: usize) {
        let size = (expected_interns / 4).next_power_of_two().min(MAX_CACHE);
        self.cache =
            (size >= MIN_CACHE).then(|| vec![CacheEntry::default(); size].into_boxed_slice());
    }

    /// Number of strings.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The string with index `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        (index < self.len()).then(|| string_at(&self.text, &self.ends, index))
    }

    #[inline]
    fn find(&self, bytes: &[u8], key: Option<u128>, hash: u64) -> Option<usize> {
        let symbol = self.table.find(hash, |&symbol| {
            let candidate = string_at(&self.text, &self.ends, index_of(symbol)).as_bytes();
            candidate.len() == bytes.len()
                && match key {
                    Some(key) => short_key(candidate) == Some(key),
                    None => candidate == bytes,
                }
        })?;
        Some(index_of(*symbol))
    }

    /// The index of `text`, adding it if it is new.
    #[inline]
    pub(crate) fn intern(&mut self, text: &str) -> usize {
        let bytes = text.as_bytes();
        let key = short_key(bytes);
        let Some((cache, key)) = self.cache.as_deref_mut().zip(key) else {
            return self.intern_in_table(text, key);
        };
        // A multiplicative hash, whose top bits are the well-mixed ones.
        let mixed = ((key as u64) ^ ((key >> 64) as u64).rotate_left(29) ^ bytes.len() as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = (mixed >> (64 - cache.len().trailing_zeros())) as usize;
        let entry = cache[slot];
        if let (true, Some(symbol)) = (
            { entry.key } == key && usize::from(entry.len) == bytes.len(),
            entry.symbol,
        ) {
            return index_of(symbol);
        }
        self.intern_and_cache(text, key, slot)
    }

    // A cache miss: out of line, so that the hit path stays small.
    #[inline(never)]
    fn intern_and_cache(&mut self, text: &str, key: u128, slot: usize) -> usize {
        let index = self.intern_in_table(text, Some(key));
        if let Some(cache) = self.cache.as_deref_mut() {
            cache[slot] = CacheEntry {
                key,
                len: text.len() as u8,
                symbol: NonZeroU32::new(index as u32 + 1),
            };
        }
        index
    }

    #[inline(never)]
    fn intern_in_table(&mut self, text: &str, key: Option<u128>) -> usize {
        let bytes = text.as_bytes();
        let hash = hash_of(&self.hasher, bytes, key);
        if let Some(index) = self.find(bytes, key, hash) {
            return index;
        }
        let index = self.ends.len();
        let symbol = u32::try_from(index + 1)
            .ok()
            .and_then(NonZeroU32::new)
            .expect("fewer than 2^32 - 1 strings");
        let end = u32::try_from(self.text.len() + text.len())
            .expect("an interner holds less than 4 GiB of text");
        self.text.push_str(text);
        self.ends.push(end);
        // Growing the table rehashes the strings already in it.
        let (table, rehash) = self.table_and_rehash();
        table.insert_unique(hash, symbol, rehash);
        index
    }

    /// The index of `text`, if the table has it.
    pub(crate) fn lookup(&self, text: &str) -> Option<usize> {
        let bytes = text.as_bytes();
        let key = short_key(bytes);
        self.find(bytes, key, hash_of(&self.hasher, bytes, key))
    }

    /// The strings, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|index| string_at(&self.text, &self.ends, index))
    }

    /// Releases unused capacity.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
        let (table, rehash) = self.table_and_rehash();
        table.shrink_to_fit(rehash);
    }

    // The table, with the hash of each symbol in it, which resizing needs.
    fn table_and_rehash(
        &mut self,
    ) -> (&mut HashTable<NonZeroU32>, impl Fn(&NonZeroU32) -> u64 + '_) {
        let Interner {
            text,
            ends,
            table,
            hasher,
            ..
        } = self;
        let rehash = |&symbol: &NonZeroU32| {
            let bytes = string_at(text, ends, index_of(symbol)).as_bytes();
            hash_of(hasher, bytes, short_key(bytes))
        };
        (table, rehash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_an_index_and_distinct_ones_do_not() {
        for cache in [0, 4 * MIN_CACHE] {
            check_interning(cache);
        }
    }

    fn check_interning(cache: usize) {
        let mut interner = Interner::with_capacity(2);
        interner.set_cache(cache);
        assert_eq!(interner.cache.is_some(), cache > 0);
        // Lengths around the short-key boundaries, and strings that share a key's bytes.
        let words: Vec<String> = (0..40)
            .flat_map(|n| ["a".repeat(n), "b".repeat(n), format!("{}x", "a".repeat(n))])
            .chain(
                [
                    "",
                    "x",
                    "xy",
                    "yx",
                    "abcdefgh",
                    "abcdefghabcdefgh",
                    "é",
                    "$s",
                    "#$s",
                ]
                .map(String::from),
            )
            .collect();
        let indices: Vec<usize> = words.iter().map(|w| interner.intern(w)).collect();
        for (word, &index) in words.iter().zip(&indices) {
            assert_eq!(interner.get(index), Some(word.as_str()));
            assert_eq!(interner.intern(word), index);
            assert_eq!(interner.lookup(word), Some(index));
        }
        let distinct: std::collections::HashSet<&String> = words.iter().collect();
        assert_eq!(interner.len(), distinct.len());
        assert_eq!(interner.lookup("not there"), None);
        interner.shrink_to_fit();
        for (word, &index) in words.iter().zip(&indices) {
            assert_eq!(interner.lookup(word), Some(index));
        }
        assert_eq!(interner.iter().count(), distinct.len());
    }
}
