//! Published Aqua packages compile: every `.aqua` file of `@fluencelabs/registry` 0.9.4,
//! `@fluencelabs/spell` 0.7.6, `@fluencelabs/trust-graph` 3.1.2 and `@fluencelabs/aqua-lib`
//! 0.10.2, and of the older versions they depend on, as npm installs them in
//! `tests/packages/node_modules` (each package sees its own nested `node_modules` first).
//!
//! Each file is compiled as a root. No compilation may give an error; the warnings, over all
//! of them, must be exactly those of `tests/packages/expected-warnings.txt` (the legacy
//! `module` header, and roots without a header); every exported function must compile to AIR
//! that `air::check` accepts.
//!
//! The packages are not in the repository: when `node_modules` is missing, the test runs
//! `npm ci` in `tests/packages` (from the committed `package-lock.json`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aqua::compile::{compile, Options};
use aqua::project::DiskFiles;

#[path = "../../tools/test-support/npm.rs"]
mod npm;
use npm::npm_ci;

fn packages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/packages")
}

/// `tests/packages/node_modules`, installed with `npm ci` if it is not there yet.
fn node_modules() -> PathBuf {
    npm_ci(
        &packages_dir(),
        "the packages to test",
        &["--ignore-scripts"],
    )
    .join("node_modules")
}

fn aqua_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            aqua_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "aqua") {
            out.push(path);
        }
    }
}

#[test]
fn published_packages_compile_with_only_the_expected_warnings() {
    let modules = node_modules();
    let mut files = Vec::new();
    aqua_files(&modules, &mut files);
    for package in ["registry", "spell", "trust-graph", "aqua-lib"] {
        let dir = modules.join("@fluencelabs").join(package);
        assert!(
            files.iter().any(|f| f.starts_with(&dir)),
            "no .aqua file in {}",
            dir.display()
        );
    }
    let expected_path = packages_dir().join("expected-warnings.txt");
    let expected: BTreeSet<String> = std::fs::read_to_string(&expected_path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();

    let mut problems = Vec::new();
    let mut warnings = BTreeSet::new();
    let mut functions = 0;
    for file in &files {
        let name = file.strip_prefix(&modules).unwrap().display().to_string();
        let compilation = compile(std::slice::from_ref(file), &DiskFiles, &Options::default());
        for (module, diagnostic) in compilation.diagnostics() {
            let module = compilation.project.module(module);
            let (line, column) = aqua::diagnostic::line_col(&module.text, diagnostic.span.start);
            let at = module.path.strip_prefix(&modules).unwrap_or(&module.path);
            let text = format!("{}:{line}:{column} {}", at.display(), diagnostic.code);
            match diagnostic.severity() {
                aqua::Severity::Error => {
                    problems.push(format!("{name}: {text}: {}", diagnostic.message))
                }
                aqua::Severity::Warning => {
                    warnings.insert(text);
                }
            }
        }
        for function in &compilation.functions {
            functions += 1;
            match &function.air {
                Ok(air) => {
                    if let Some(d) = air::check(air).diagnostics.first() {
                        problems.push(format!(
                            "{name}: `{}` gives invalid AIR: {}",
                            function.name, d.message
                        ));
                    }
                }
                Err(unsupported) => problems.push(format!(
                    "{name}: `{}` is not compiled: {}",
                    function.name, unsupported.0
                )),
            }
        }
    }
    for unexpected in warnings.difference(&expected) {
        problems.push(format!("unexpected warning {unexpected}"));
    }
    for missing in expected.difference(&warnings) {
        problems.push(format!("missing warning {missing}"));
    }
    eprintln!(
        "{} files, {functions} exported functions, {} warnings",
        files.len(),
        warnings.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
