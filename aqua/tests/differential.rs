//! The differential test: every function of the runnable corpus (`aqua/tests/programs`) is
//! compiled by this compiler and run on the simulated network next to the reference
//! compiler's AIR for it; both must show the same results, errors, service calls and
//! unreachable sends.
//!
//! Calls of the `math`, `cmp` and `op` builtins are left out of the comparison: which of
//! them run is the compilers' choice (constant folding, how operators are computed), not
//! the program's behaviour. Sends to unreachable peers may only be fewer than the
//! reference's (its AIR sometimes sends from a peer straight to the client), and so may
//! network hops: our AIR never takes more.
//!
//! `tests/programs/agreeing.txt` lists the functions known to agree. A listed function that
//! disagrees fails the test; so does an unlisted one that agrees, so that the list grows
//! (append it, never rewrite it). `AQUA_PROGRAM=<text>` runs only matching programs and
//! prints every difference.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;

use aqua::compile::{compile, Options};
use aqua::project::DiskFiles;
use common::judge;
use network_sim::aqua::corpus;

fn programs_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs")
}

#[test]
fn compiled_functions_behave_like_the_reference() {
    let filter = std::env::var("AQUA_PROGRAM").ok();
    let root = programs_root();
    let programs = corpus::load(&root)
        .unwrap_or_else(|problems| panic!("the corpus does not load:\n{}", problems.join("\n")));
    let listed_path = root.join("agreeing.txt");
    let listed: BTreeSet<String> = std::fs::read_to_string(&listed_path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let mut regressions = Vec::new();
    let mut newly_agreeing = Vec::new();
    let mut agreeing = 0;
    let mut total = 0;
    for program in &programs {
        if filter
            .as_ref()
            .is_some_and(|f| !program.id().contains(f.as_str()))
        {
            continue;
        }
        let compilation = compile(
            std::slice::from_ref(&program.source),
            &DiskFiles,
            &Options::default(),
        );
        for function in &program.functions {
            total += 1;
            let id = format!("{}.{}", program.id(), function.name);
            let verdict = judge(&compilation, function);
            match &verdict {
                Ok(()) => {
                    agreeing += 1;
                    if !listed.contains(&id) {
                        newly_agreeing.push(id.clone());
                    }
                }
                Err(why) => {
                    if listed.contains(&id) {
                        regressions.push(format!("{id}: {why}"));
                    }
                    if filter.is_some() {
                        eprintln!("== {id}\n{why}");
                    }
                }
            }
        }
    }
    eprintln!("{agreeing} of {total} functions behave like the reference");
    assert!(
        regressions.is_empty(),
        "functions that agreed no longer do:\n{}",
        regressions.join("\n")
    );
    if filter.is_none() {
        assert!(
            newly_agreeing.is_empty(),
            "these functions now agree; append them to {}:\n{}",
            listed_path.display(),
            newly_agreeing.join("\n")
        );
    }
}
