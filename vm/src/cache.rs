//! Parsed scripts shared between particles.
//!
//! A peer executes the same few scripts for many particles (every client of a service sends
//! the script its compiler produced), so a script is parsed and validated once and kept by its
//! text. The cache is bounded by the total size of the sources it keeps.

use std::convert::Infallible;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

/// A script after parsing and validation: the program, or the error a run reports (code 1).
pub(crate) type PreparedScript = Result<air::Script, String>;

/// Parsed scripts by their text, least recently used evicted first. A lookup hashes the text
/// with the cache's fast keyed hash and compares it whole: cheaper than a cryptographic hash
/// of it, which every step of every particle would pay.
pub(crate) struct ScriptCache {
    scripts: Cache<String, Arc<Cached>, SourceBytes>,
}

/// A prepared script.
pub(crate) struct Cached {
    pub(crate) script: PreparedScript,
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
        Cached { script }
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
        // Threads asking for the same new script wait for one parse instead of each parsing.
        let Ok(cached) = self
            .scripts
            .get_or_insert_with(air, || Ok::<_, Infallible>(Arc::new(Cached::new(air))));
        cached
    }

    pub(crate) fn len(&self) -> usize {
        self.scripts.len()
    }
}

/// Weighs a cached script by the size of its source.
#[derive(Clone)]
struct SourceBytes;

impl Weighter<String, Arc<Cached>> for SourceBytes {
    fn weight(&self, source: &String, _cached: &Arc<Cached>) -> u64 {
        source.len() as u64 + 1
    }
}
