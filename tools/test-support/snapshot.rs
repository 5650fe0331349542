//! Snapshot files for tests: `tests/data/<name>` of the crate under test holds the expected
//! text, and `UPDATE_EXPECT=1` rewrites it. Included by the tests with `#[path]`.

use std::path::Path;

/// Fails unless `actual` is the text of the snapshot `name`; with `UPDATE_EXPECT` set, writes
/// it instead.
pub fn expect(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} differs (UPDATE_EXPECT=1 rewrites it):\n{actual}"
    );
}
