//! Reads back the estimates criterion wrote in this run, for the comparison tables the
//! benchmarks print after their groups. Included by `vm/benches/execute/main.rs`,
//! `aqua/benches/compile.rs` and `marine/benches/service.rs` (needs `serde_json`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where criterion writes its estimates (its own default, made explicit so that the tables can
/// read them back): `$CRITERION_HOME`, else `criterion/` in the target directory.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&target).join("criterion");
    }
    // The bench executable is `<target>/<profile>/deps/<name>`.
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// The median time of one iteration, in nanoseconds, if criterion measured it since `since`
/// (an estimate left by an earlier run does not count).
pub fn median_ns(dir: &Path, group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(function).join("new/estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// A time in nanoseconds, in the unit that reads best in a table.
pub fn duration(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}
