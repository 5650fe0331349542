//! The runnable Aqua corpus (`aqua/tests/programs`) compiled by the reference compiler, run on
//! the simulated network.
//!
//! Every function's reference AIR (`<name>.<function>.ref.air`) runs with its run spec on our
//! VM; the observed results, errors and calls must match the program's snapshot
//! `<name>.expected`. With the `reference` feature, each one also runs on the reference
//! AquaVM, which must observe exactly the same.
//!
//! `UPDATE_EXPECT=1` rewrites the snapshots; `AQUA_PROGRAM=<text>` runs only the programs whose
//! `<area>/<name>` contains `<text>`.

use std::path::{Path, PathBuf};

use network_sim::aqua::corpus::{self, Program};
use network_sim::aqua::{run_function, Observed};

/// The corpus must not shrink unnoticed.
const MIN_FUNCTIONS: usize = 150;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../aqua/tests/programs")
}

/// Runs `air` on the reference AquaVM and returns a difference from `ours`, if any.
#[cfg(feature = "reference")]
fn reference_differs(air: &str, function: &corpus::Function, ours: &Observed) -> Option<String> {
    use network_sim::aqua::run_function_on;
    use network_sim::ReferenceEngine;
    let theirs = match run_function_on(air, &function.spec, &|_, _| &ReferenceEngine) {
        Ok(theirs) => theirs,
        Err(e) => return Some(e),
    };
    (theirs != *ours).then(|| {
        format!(
            "--- reference VM:\n{}--- our VM:\n{}",
            theirs.render(),
            ours.render()
        )
    })
}

#[cfg(not(feature = "reference"))]
fn reference_differs(_: &str, _: &corpus::Function, _: &Observed) -> Option<String> {
    None
}

#[test]
fn programs_run_as_snapshotted() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let filter = std::env::var("AQUA_PROGRAM").unwrap_or_default();
    let programs = corpus::load(&corpus_root())
        .unwrap_or_else(|problems| panic!("the corpus does not load:\n{}", problems.join("\n")));
    let mut failures = Vec::new();
    for program in programs.iter().filter(|p| p.id().contains(&filter)) {
        if let Err(e) = check_program(program, update) {
            failures.push(format!("{}: {e}", program.id()));
        }
    }
    let total: usize = programs.iter().map(|p| p.functions.len()).sum();
    if total < MIN_FUNCTIONS {
        failures.push(format!(
            "only {total} functions in the corpus, expected at least {MIN_FUNCTIONS}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} programs fail (UPDATE_EXPECT=1 accepts new snapshots):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn check_program(program: &Program, update: bool) -> Result<(), String> {
    let mut observed = Vec::new();
    let mut differences = Vec::new();
    for function in &program.functions {
        let air = std::fs::read_to_string(&function.reference_air)
            .map_err(|e| format!("cannot read {}: {e}", function.reference_air.display()))?;
        let ours = run_function(&air, &function.spec)?;
        if let Some(difference) = reference_differs(&air, function, &ours) {
            differences.push(format!(
                "function {}: the VMs differ\n{difference}",
                function.name
            ));
        }
        observed.push((function.name.as_str(), ours));
    }
    let named: Vec<(&str, &Observed)> = observed.iter().map(|(f, o)| (*f, o)).collect();
    let snapshot = Program::render_snapshot(&named);
    let path = program.snapshot_path();
    if update {
        std::fs::write(&path, &snapshot).map_err(|e| format!("cannot write snapshot: {e}"))?;
    } else {
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != snapshot {
            differences.push(format!(
                "snapshot differs\n--- expected:\n{expected}--- actual:\n{snapshot}"
            ));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(differences.join("\n"))
    }
}
