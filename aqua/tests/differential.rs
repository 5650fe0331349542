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
use common::{judge, Compare};
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
            let verdict = judge(
                &compilation,
                function,
                &function.reference_air,
                Compare::Behaviour,
            );
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

/// The same functions compiled with `--no-relay` and with `--no-xor`, against the reference's
/// AIR with the same option (`<function>.norelay.ref.air`, `<function>.noxor.ref.air`). With
/// `--no-relay` they must behave alike. With `--no-xor` only the hops are compared: the
/// reference keeps the wrapper's error handler, which calls the client from wherever an error
/// happens, and ours leaves it out, so that errors nothing catches stay where they happened
/// (book: the function wrapper).
#[test]
fn flags_take_no_more_hops_than_the_reference() {
    let programs = corpus::load(&programs_root())
        .unwrap_or_else(|problems| panic!("the corpus does not load:\n{}", problems.join("\n")));
    let flags = [
        (
            "norelay",
            aqua::codegen::Options {
                no_relay: true,
                ..Default::default()
            },
            Compare::Behaviour,
        ),
        (
            "noxor",
            aqua::codegen::Options {
                no_xor: true,
                ..Default::default()
            },
            Compare::Hops,
        ),
    ];
    let mut failures = Vec::new();
    let mut total = 0;
    for (variant, codegen, compare) in flags {
        let options = Options {
            codegen,
            ..Default::default()
        };
        for program in &programs {
            let compilation = compile(std::slice::from_ref(&program.source), &DiskFiles, &options);
            for function in &program.functions {
                total += 1;
                if let Err(why) = judge(
                    &compilation,
                    function,
                    &function.variant_air(variant),
                    compare,
                ) {
                    failures.push(format!("{} ({variant}): {why}", program.id()));
                }
            }
        }
    }
    assert!(total >= 300, "only {total} functions compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
