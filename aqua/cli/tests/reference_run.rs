//! The differential test of `aquac run`: every function of the runnable corpus
//! (`aqua/tests/programs`) and the fault cases of `tests/faults` run on our toolchain (see
//! `common`) and on the reference's (`@fluencelabs/aqua-api` and js-client's network of
//! reference peers, see `common::reference`), with the same peers, peer ids and mock
//! services.
//!
//! Both must end the same way: both return, with equal results (compared as
//! `tests/programs/races.txt` says for functions whose result depends on timing), or both
//! fail. Error messages are not compared: they differ by design (see
//! tools/reference-run/README.md).
//!
//! `tests/programs/reference-differs.txt` lists the corpus functions known to end otherwise,
//! each with the reason. An unlisted function that differs fails the test, and so does a
//! listed one that no longer differs (remove its line). The fault cases must end exactly as
//! `common::faults` says on both. `AQUA_PROGRAM=<text>` runs only matching programs.

mod common;

use std::collections::BTreeMap;

use aqua::compile::{compile, Options};
use aqua::project::DiskFiles;
use aquac::run::Function;
use common::faults::{self, serve_faults};
use common::reference::{ending, request, run_batch};
use common::{
    client_arguments, comparisons, compile_program, list, programs, run_ours, run_ours_with,
    Comparison, Ending,
};
use serde_json::json;

/// `reference-differs.txt`: function id to reason.
fn known_differences() -> BTreeMap<String, String> {
    list("reference-differs.txt")
        .into_iter()
        .map(|(line, file)| {
            let (id, reason) = line
                .split_once(" -- ")
                .unwrap_or_else(|| panic!("{file}: `{line}` gives no reason"));
            (id.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

/// Whether two endings agree under `comparison`: both return equal views, or both fail.
fn agree(comparison: Comparison, ours: &Ending, reference: &Ending) -> bool {
    match (ours, reference) {
        (Err(_), Err(_)) => true,
        _ => comparison.view(ours) == comparison.view(reference),
    }
}

#[test]
fn aquac_run_ends_like_the_reference_toolchain() {
    let comparisons = comparisons();
    let known = known_differences();
    let filtered = std::env::var_os("AQUA_PROGRAM").is_some();

    let fault_program = faults::program();
    let fault_compilation = compile(
        std::slice::from_ref(&fault_program),
        &DiskFiles,
        &Options::default(),
    );
    assert!(!fault_compilation.has_errors());
    let fault_cases = faults::cases();
    let programs = programs();
    let compilations: Vec<_> = programs.iter().map(compile_program).collect();
    let mut requests = Vec::new();
    for case in &fault_cases {
        let spec = case.spec();
        let function = Function::of(&fault_compilation, case.function).expect("it compiles");
        let relay = common::reference::names(&spec).id("relay").to_owned();
        let stop = json!({"peer": relay, "service": "faults", "function": "stop",
                          "behaviour": {"stop": null}});
        let arguments = client_arguments(&function, &spec);
        requests.push(request(
            &fault_program,
            case.function,
            &arguments,
            &spec,
            vec![stop],
        ));
    }
    for (program, compilation) in programs.iter().zip(&compilations) {
        for function in &program.functions {
            let spec = &function.spec;
            let arguments = Function::of(compilation, &function.name)
                .map(|f| client_arguments(&f, spec))
                .unwrap_or_default();
            requests.push(request(
                &program.source,
                &function.name,
                &arguments,
                spec,
                vec![],
            ));
        }
    }
    // The reference runs in its node process while ours run here.
    let reference = std::thread::spawn(move || run_batch(&requests));

    let ours_faults: Vec<Ending> = fault_cases
        .iter()
        .map(|case| {
            run_ours_with(
                &fault_compilation,
                case.function,
                &case.spec(),
                serve_faults,
            )
        })
        .collect();
    let mut ours = Vec::new();
    for (program, compilation) in programs.iter().zip(&compilations) {
        for function in &program.functions {
            let id = format!("{}.{}", program.id(), function.name);
            ours.push((id, run_ours(compilation, &function.name, &function.spec)));
        }
    }
    let answers = reference.join().expect("the reference batch");
    let (fault_answers, corpus_answers) = answers.split_at(fault_cases.len());

    let mut problems = Vec::new();
    for ((case, ours), answer) in fault_cases.iter().zip(&ours_faults).zip(fault_answers) {
        let expected = Ok(case.expected.clone());
        let reference = ending(answer, &case.spec());
        if *ours != expected || reference != expected {
            problems.push(format!(
                "fault case {} (stop = {}): expected {expected:?}\n  ours:      {ours:?}\n  reference: {reference:?}",
                case.function, case.stop
            ));
        }
    }
    let specs = programs
        .iter()
        .flat_map(|program| program.functions.iter().map(|function| &function.spec));
    let mut agreeing = 0;
    for (((id, ours), answer), spec) in ours.iter().zip(corpus_answers).zip(specs) {
        let reference = ending(answer, spec);
        let comparison = comparisons.get(id).copied().unwrap_or(Comparison::Exact);
        let agrees = agree(comparison, ours, &reference);
        agreeing += usize::from(agrees);
        match (agrees, known.get(id)) {
            (false, None) => problems.push(format!(
                "{id} differs:\n  ours:      {}\n  reference: {}",
                comparison.view(ours),
                comparison.view(&reference)
            )),
            (true, Some(reason)) => problems.push(format!(
                "{id} is listed in reference-differs.txt ({reason}) but agrees now: remove it"
            )),
            _ => {}
        }
    }
    eprintln!(
        "{agreeing} of {} corpus functions end like the reference's",
        ours.len()
    );
    if !filtered {
        for id in known.keys() {
            if !ours.iter().any(|(run, _)| run == id) {
                problems.push(format!(
                    "reference-differs.txt lists {id}, which is not in the corpus"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
