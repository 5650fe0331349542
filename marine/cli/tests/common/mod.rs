//! What the `marine` command's tests share.

// Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::Path;

/// The `CallParameters` of a call the spell makes itself: its own particle, started by its
/// creator. Only such calls may write the spell's keys.
pub const BY_SPELL: &str = r#"{"service_id": "spell-1", "service_creator_peer_id": "worker", "host_id": "host", "worker_id": "worker", "particle": {"id": "spell_spell-1_0", "init_peer_id": "worker"}}"#;

/// A directory holding the spell service of `fluence-spell-distro`: its modules and its
/// config.
pub fn spell_service() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("spell.wasm", fluence_spell_distro::SPELL_WASM),
        ("sqlite3.wasm", fluence_spell_distro::SQLITE_WASM),
        ("Config.toml", fluence_spell_distro::CONFIG),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

/// The path of the `marine` binary under test.
pub fn marine_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_marine"))
}
