//! Every function of the runnable corpus (`aqua/tests/programs`) runs end to end as
//! `aquac run` runs it (see `common`), and ends as its snapshot `<name>.run.expected` says:
//! `== <function>`, then `ok <result JSON>` or `error <message>`, peer ids as `@name`.
//!
//! `UPDATE_EXPECT=1` rewrites the snapshots; read every change, it must be what the program
//! means. `AQUA_PROGRAM=<text>` runs only the matching programs.

mod common;

use common::{comparisons, compile_program, programs, run_ours, Comparison};

#[test]
fn corpus_functions_end_as_their_snapshots_say() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let comparisons = comparisons();
    let mut mismatches = Vec::new();
    for program in programs() {
        let compilation = compile_program(&program);
        let snapshot: String = program
            .functions
            .iter()
            .map(|function| {
                let ending = run_ours(&compilation, &function.name, &function.spec);
                let id = format!("{}.{}", program.id(), function.name);
                let comparison = comparisons.get(&id).copied().unwrap_or(Comparison::Exact);
                format!("== {}\n{}\n", function.name, comparison.view(&ending))
            })
            .collect();
        let path = program.source.with_extension("run.expected");
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if snapshot != expected {
            if update {
                std::fs::write(&path, &snapshot).unwrap();
            } else {
                mismatches.push(format!(
                    "{}:\n--- expected\n{expected}--- got\n{snapshot}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "runs differ from their snapshots (UPDATE_EXPECT=1 rewrites them):\n{}",
        mismatches.join("\n")
    );
}
