//! Whether a benchmark's reference side, a node script over an npm package, is wanted and can
//! run. Included by the benchmarks with `#[path]`.

use std::path::Path;
use std::process::Command;

/// Whether to run the reference in `dir` (relative to the repository root `root`), which needs
/// `package` in its `node_modules` and `node` on PATH. The variable `env` decides: `0` or empty
/// leaves it out, any other value requires it (a missing piece fails the run), unset runs it
/// when both are there. `name` labels the note printed when it is left out.
pub fn wanted(env: &str, root: &Path, dir: &str, package: &str, name: &str) -> bool {
    let required = match std::env::var_os(env) {
        Some(v) if v.is_empty() || v == "0" => return false,
        Some(_) => true,
        None => false,
    };
    let installed = root.join(dir).join("node_modules").join(package).is_dir();
    let node = Command::new("node").arg("--version").output();
    if installed && node.is_ok() {
        return true;
    }
    let why = if installed {
        "node is not on PATH".to_owned()
    } else {
        format!("{dir}/node_modules is missing (run `npm ci` there)")
    };
    assert!(!required, "{env}=1 but {why}");
    eprintln!("({name} left out: {why})");
    false
}
