//! Tracing mode (`aquac build --tracing`) against the reference compiler's: for every function
//! of the corpus `tests/tracing` (the layout of `tests/programs`, with the reference's AIR
//! compiled in tracing mode by `tools/aqua-corpus/compile-programs.mjs`), our traced AIR
//! - is valid AIR;
//! - calls `tracingSrv.tracingEvent` at the same places as the reference's: the same events,
//!   in the same order of the script, with the same labels, the `enter` and `exit` events in
//!   detached branches;
//! - behaves like the reference's on the simulated network, the tracing calls included.

mod common;

use std::path::Path;

use air::ast::{Instr, InstrId, Script, Value};
use air::visit::{walk, Visitor};
use aqua::compile::{compile, Options};
use aqua::project::DiskFiles;
use network_sim::aqua::corpus;

/// One call of the tracing service in a script.
#[derive(Debug, PartialEq)]
struct Event {
    label: String,
    /// `enter`, `exit`, or `error` for a message computed from the error.
    event: String,
    /// In the left branch of `(par ... (null))`, so that it cannot hold the script up.
    detached: bool,
}

/// The tracing calls of a script, in the order of its text.
struct Events {
    /// The instructions from the root to the current one.
    path: Vec<InstrId>,
    found: Vec<Event>,
}

impl Visitor for Events {
    fn enter(&mut self, script: &Script, id: InstrId) {
        self.path.push(id);
        let Instr::Call(call) = script.instr(id) else {
            return;
        };
        let text = |value| match script.value(value) {
            Value::String(sym) => Some(script.str(sym).to_string()),
            _ => None,
        };
        if text(call.service).as_deref() != Some("tracingSrv") {
            return;
        }
        let args: Vec<_> = call.args.iter().collect();
        let label = args.first().and_then(|&a| text(a)).unwrap_or_default();
        let event = args
            .get(1)
            .and_then(|&a| text(a))
            .unwrap_or_else(|| "error".into());
        // The nearest `par` above the call, and which of its branches holds the call.
        let detached = self
            .path
            .windows(2)
            .rev()
            .find_map(|pair| match script.instr(pair[0]) {
                Instr::Par(left, right) => {
                    Some(left == pair[1] && matches!(script.instr(right), Instr::Null))
                }
                _ => None,
            });
        self.found.push(Event {
            label,
            event,
            detached: detached.unwrap_or(false),
        });
    }

    fn exit(&mut self, _script: &Script, _id: InstrId) {
        self.path.pop();
    }
}

fn events(air: &str) -> Result<Vec<Event>, String> {
    let parsed = air::check(air);
    if let Some(d) = parsed.diagnostics.first() {
        return Err(format!("invalid AIR: {}", d.message));
    }
    let mut events = Events {
        path: Vec::new(),
        found: Vec::new(),
    };
    walk(&parsed.script, &mut events);
    Ok(events.found)
}

fn render(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| {
            let detached = if e.detached { " (detached)" } else { "" };
            format!("  {} {}{detached}\n", e.label, e.event)
        })
        .collect()
}

#[test]
fn traced_functions_call_the_tracing_service_where_the_reference_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tracing");
    let programs = corpus::load(&root)
        .unwrap_or_else(|problems| panic!("the corpus does not load:\n{}", problems.join("\n")));
    let options = Options {
        codegen: aqua::codegen::Options {
            tracing: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut failures = Vec::new();
    let mut count = 0;
    for program in &programs {
        let compilation = compile(std::slice::from_ref(&program.source), &DiskFiles, &options);
        for function in &program.functions {
            count += 1;
            let id = format!("{}.{}", program.id(), function.name);
            let Some(ours) = compilation
                .functions
                .iter()
                .find(|f| f.name == function.name)
                .and_then(|f| f.air.as_ref().ok())
            else {
                failures.push(format!("{id}: not compiled"));
                continue;
            };
            let reference = std::fs::read_to_string(&function.reference_air).unwrap();
            let theirs = events(&reference).expect("the reference's AIR is valid");
            let mine = match events(ours) {
                Ok(mine) => mine,
                Err(e) => {
                    failures.push(format!("{id}: {e}\n{ours}"));
                    continue;
                }
            };
            if theirs.is_empty() {
                failures.push(format!("{id}: the reference traces nothing"));
            }
            if mine != theirs {
                failures.push(format!(
                    "{id}: other tracing calls\n--- reference:\n{}--- ours:\n{}",
                    render(&theirs),
                    render(&mine)
                ));
            }
            if let Err(e) = common::judge(
                &compilation,
                function,
                &function.reference_air,
                common::Compare::Behaviour,
            ) {
                failures.push(format!("{id}: behaves differently\n{e}"));
            }
        }
    }
    assert!(count >= 10, "the corpus is missing");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn without_tracing_nothing_is_traced() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tracing/calls/calls.aqua");
    let compilation = compile(&[source], &DiskFiles, &Options::default());
    assert!(!compilation.functions.is_empty());
    for function in &compilation.functions {
        let air = function.air.as_ref().unwrap();
        assert_eq!(events(air).unwrap(), Vec::new(), "{air}");
    }
}
