//! The negative corpus (`tests/diagnostics/`, format in its README): each case must give
//! exactly one diagnostic, at the place its `-- at:` header names.
//!
//! The compiler is being built layer by layer, so `tests/diagnostics/passing.txt` lists the
//! cases that already pass: a ratchet. The test fails when a listed case stops passing, and
//! when an unlisted one starts to (append it to the list, keeping the order).
//!
//! What every case reports, code and message included, is kept in the snapshot
//! `tests/data/negative-corpus.txt`, so that a change of wording is a reviewed change
//! (`UPDATE_EXPECT=1` rewrites it).

use std::path::{Path, PathBuf};

use aqua::project::FileSource;

#[path = "../../tools/test-support/snapshot.rs"]
mod snapshot;

struct Case {
    /// Relative to `tests/diagnostics`, e.g. `syntax/foo.aqua` or `imports/cycle`.
    name: String,
    /// The file to compile.
    main: PathBuf,
    /// The file the diagnostic must be in, relative to the case (None: the main file).
    at_file: Option<String>,
    line: usize,
    col: usize,
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

fn parse_at(text: &str) -> (Option<String>, usize, usize) {
    let at = text
        .lines()
        .find_map(|l| l.strip_prefix("-- at: "))
        .expect("a `-- at:` line");
    let place = at.split(' ').next().unwrap();
    let mut parts: Vec<&str> = place.rsplitn(3, ':').collect();
    parts.reverse();
    match parts.as_slice() {
        [file, line, col] => (
            Some(file.to_string()),
            line.parse().unwrap(),
            col.parse().unwrap(),
        ),
        [line, col] => (None, line.parse().unwrap(), col.parse().unwrap()),
        _ => panic!("bad `-- at:` line: {at}"),
    }
}

fn cases(generated: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut areas: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    areas.sort();
    for area in areas {
        let area_name = area.file_name().unwrap().to_string_lossy().into_owned();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&area)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            let file_name = entry.file_name().unwrap().to_string_lossy().into_owned();
            if file_name.starts_with("gen_") && file_name.ends_with(".py") {
                let status = std::process::Command::new("python3")
                    .arg(&entry)
                    .arg(generated)
                    .status()
                    .expect("python3 runs the corpus generators");
                assert!(status.success(), "{} failed", entry.display());
                continue;
            }
            let main = if entry.is_dir() {
                entry.join("main.aqua")
            } else if file_name.ends_with(".aqua") {
                entry.clone()
            } else {
                continue;
            };
            let text = String::from_utf8_lossy(&std::fs::read(&main).unwrap()).into_owned();
            let (at_file, line, col) = parse_at(&text);
            out.push(Case {
                name: format!("{area_name}/{file_name}"),
                main,
                at_file,
                line,
                col,
            });
        }
    }
    let mut generated_files: Vec<PathBuf> = std::fs::read_dir(generated)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    generated_files.sort();
    for main in generated_files {
        let text = std::fs::read_to_string(&main).unwrap();
        let (at_file, line, col) = parse_at(&text);
        let name = format!("generated/{}", main.file_name().unwrap().to_string_lossy());
        out.push(Case {
            name,
            main,
            at_file,
            line,
            col,
        });
    }
    out
}

/// What the compiler reports for a case today: the diagnostics of every module loaded from
/// the main file, as `(file, line, col, text)` with the file relative to the case's folder.
fn diagnostics(case: &Case) -> Vec<(String, usize, usize, String)> {
    let files = aqua::project::DiskFiles;
    let compilation = aqua::compile::compile(
        std::slice::from_ref(&case.main),
        &files,
        &aqua::compile::Options::default(),
    );
    let folder = files.canonical(case.main.parent().unwrap());
    compilation
        .diagnostics()
        .into_iter()
        .map(|(id, d)| {
            let module = compilation.project.module(id);
            let file = module.path.strip_prefix(&folder).unwrap_or(&module.path);
            let (line, col) = aqua::diagnostic::line_col(&module.text, d.span.start);
            let text = format!("{} {}", d.code, d.message);
            (file.display().to_string(), line, col, text)
        })
        .collect()
}

#[test]
fn negative_corpus_ratchet() {
    let generated = std::env::temp_dir().join(format!("aqua-diag-gen-{}", std::process::id()));
    std::fs::create_dir_all(&generated).unwrap();
    let all = cases(&generated);
    assert!(all.len() >= 300, "only {} cases", all.len());
    let listed_text = std::fs::read_to_string(corpus().join("passing.txt")).unwrap_or_default();
    let listed: Vec<&str> = listed_text.lines().filter(|l| !l.is_empty()).collect();
    let mut failures = Vec::new();
    let mut newly_passing = Vec::new();
    let mut reported = String::new();
    // `AQUA_DIAGNOSTICS_SHOW=1` lists the cases that do not pass yet, with what they give.
    let show_failing = std::env::var_os("AQUA_DIAGNOSTICS_SHOW").is_some();
    for case in &all {
        let found = diagnostics(case);
        for (file, line, col, text) in &found {
            // Messages that name files (imports) would name this machine's folders.
            let text = text
                .replace(&*corpus().to_string_lossy(), "<corpus>")
                .replace(&*generated.to_string_lossy(), "<generated>");
            reported.push_str(&format!("{}: {file}:{line}:{col} {text}\n", case.name));
        }
        let main_name = case.main.file_name().unwrap().to_string_lossy();
        let file = case.at_file.as_deref().unwrap_or(&main_name);
        let passes = found.len() == 1
            && (found[0].0.as_str(), found[0].1, found[0].2) == (file, case.line, case.col);
        let is_listed = listed.contains(&case.name.as_str());
        if is_listed && !passes {
            failures.push(format!(
                "{} expects one diagnostic at {file}:{}:{}, got {found:?}",
                case.name, case.line, case.col
            ));
        }
        if passes && !is_listed {
            newly_passing.push(case.name.clone());
        }
        if !passes && show_failing {
            println!(
                "{} (expects {file}:{}:{}): {found:?}",
                case.name, case.line, case.col
            );
        }
    }
    let _ = std::fs::remove_dir_all(&generated);
    snapshot::expect("negative-corpus.txt", &reported);
    assert!(
        failures.is_empty(),
        "listed cases fail:\n{}",
        failures.join("\n")
    );
    assert!(
        newly_passing.is_empty(),
        "cases now pass; append them to tests/diagnostics/passing.txt:\n{}",
        newly_passing.join("\n")
    );
}
