//! npm packages that tests need: each folder commits its package.json and package-lock.json,
//! never `node_modules`, and the first test that needs the packages installs them with
//! `npm ci`. Included by the tests with `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `dir`, with the packages of its package-lock.json installed by `npm ci` (plus `extra_args`)
/// if its `node_modules` is not there yet. `purpose` says what the packages are for.
///
/// # Panics
///
/// If npm cannot be run or `npm ci` fails: the test cannot run without the packages.
pub fn npm_ci(dir: &Path, purpose: &str, extra_args: &[&str]) -> PathBuf {
    if dir.join("node_modules/.package-lock.json").is_file() {
        return dir.to_owned();
    }
    eprintln!("installing {purpose}: `npm ci` in {}", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .args(extra_args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run npm (it installs {purpose}): {e}"));
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
    dir.to_owned()
}
