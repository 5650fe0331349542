//! Parsed scripts shared between particles.
//!
//! A peer executes the same few scripts for many particles (every client of a service sends
//! the script its compiler produced), so a script is parsed and validated once and kept by the
//! hash of its text. The cache is bounded by the total size of the sources it keeps.

use std::convert::Infallible;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

/// A script after parsing and validation: the program, or the error a run reports (code 1).
pub(crate) type PreparedScript = Result<air::Script, String>;

/// Parsed scripts by the BLAKE3 hash of their text, least recently used evicted first.
pub(crate) struct ScriptCache {
    scripts: Cache<blake3::Hash, Arc<Cached>, SourceBytes>,
}

/// A prepared script and the size of its source, which is its weight in the cache.
pub(crate) struct Cached {
    pub(crate) script: PreparedScript,
    source_len: usize,
}

impl Cached {
    /// Parses and validates a script; the error is the message of its first error diagnostic.
    pub(crate) fn new(air: &str) -> Self {
        let parsed = air::check(air);
        let script = match parsed.diagnostics.iter().find(|d| !d.code.is_warning()) {
            Some(error) => {
                let location = air::diagnostic::location("script", air, error.primary.span);
                Err(format!("AIR parse error at {location}: {}", error.message))
            }
            None => Ok(parsed.script),
        };
        Cached {
            script,
            source_len: air.len(),
        }
    }
}

impl ScriptCache {
    /// A cache that keeps scripts whose sources total at most `max_source_bytes`.
    pub(crate) fn new(max_source_bytes: u64) -> Self {
        // The item estimate only sizes the initial tables: scripts of a few KiB are typical.
        let estimated_items = (max_source_bytes / 4096).clamp(16, 4096) as usize;
        ScriptCache {
            scripts: Cache::with_weighter(estimated_items, max_source_bytes, SourceBytes),
        }
    }

    /// The prepared script for `air`, parsed now if it is not cached.
    pub(crate) fn get(&self, air: &str) -> Arc<Cached> {
        let key = blake3::hash(air.as_bytes());
        // Threads asking for the same new script wait for one parse instead of each parsing.
        let Ok(cached) = self
            .scripts
            .get_or_insert_with(&key, || Ok::<_, Infallible>(Arc::new(Cached::new(air))));
        cached
    }

    pub(crate) fn len(&self) -> usize {
        self.scripts.len()
    }
}

/// Weighs a cached script by the size of the program it holds.
#[derive(Clone)]
struct SourceBytes;

impl Weighter<blake3::Hash, Arc<Cached>> for SourceBytes {
    fn weight(&self, _key: &blake3::Hash, cached: &Arc<Cached>) -> u64 {
        cached.source_len as u64 + 1
    }
}
