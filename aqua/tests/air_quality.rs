//! The quality of the generated AIR, against the reference compiler's for the same functions
//! (the runnable corpus `tests/programs`), and the soundness of the AIR optimizer.
//!
//! Size is counted in instructions and in bytes of the canonical layout (`air::print`), so
//! that both compilers' AIR is measured the same way. That our AIR never takes more network
//! hops is checked by the differential test, which runs both.

use std::path::Path;

use aqua::compile::{compile, Options};
use aqua::project::{DiskFiles, MemoryFiles};
use network_sim::aqua::{corpus, run_function, Observed};

/// The most our AIR may weigh, as a share of the reference's, in instructions and in bytes.
const MAX_SHARE: f64 = 0.80;

fn programs() -> Vec<corpus::Program> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    corpus::load(&root)
        .unwrap_or_else(|problems| panic!("the corpus does not load:\n{}", problems.join("\n")))
}

/// Instructions and bytes of a script in the canonical layout.
fn size(script: &air::Script) -> (usize, usize) {
    (
        air::stats::stats(script).instructions,
        air::print(script).len(),
    )
}

fn parse(text: &str, what: &str) -> air::Script {
    let parsed = air::check(text);
    assert!(
        !parsed.has_errors(),
        "{what} is not valid AIR: {:?}",
        parsed.diagnostics
    );
    parsed.script
}

#[test]
fn generated_air_is_smaller_than_the_references() {
    let (mut ours, mut theirs) = ((0, 0), (0, 0));
    let mut rows = Vec::new();
    for program in programs() {
        let compilation = compile(
            std::slice::from_ref(&program.source),
            &DiskFiles,
            &Options::default(),
        );
        for function in &program.functions {
            let id = format!("{}.{}", program.id(), function.name);
            let Some(Ok(air)) = compilation
                .functions
                .iter()
                .find(|f| f.name == function.name)
                .map(|f| f.air.as_ref())
            else {
                continue;
            };
            let reference = std::fs::read_to_string(&function.reference_air).unwrap();
            let (o, t) = (
                size(&parse(air, &id)),
                size(&parse(
                    &reference,
                    &function.reference_air.display().to_string(),
                )),
            );
            ours = (ours.0 + o.0, ours.1 + o.1);
            theirs = (theirs.0 + t.0, theirs.1 + t.1);
            rows.push((o.0 as f64 / t.0 as f64, id, o, t));
        }
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    eprintln!("the largest against the reference (instructions, bytes):");
    for (_, id, o, t) in rows.iter().take(10) {
        eprintln!("  {id}: {}/{} {}/{}", o.0, t.0, o.1, t.1);
    }
    let share = |a: usize, b: usize| a as f64 / b as f64;
    let (instructions, bytes) = (share(ours.0, theirs.0), share(ours.1, theirs.1));
    eprintln!(
        "{} functions: {} instructions against {} ({:.1}%), {} bytes against {} ({:.1}%)",
        rows.len(),
        ours.0,
        theirs.0,
        100.0 * instructions,
        ours.1,
        theirs.1,
        100.0 * bytes
    );
    assert!(rows.len() >= 150, "only {} functions compared", rows.len());
    assert!(
        instructions <= MAX_SHARE && bytes <= MAX_SHARE,
        "the AIR is larger than {:.0}% of the reference's",
        100.0 * MAX_SHARE
    );
}

/// The optimizer must keep the behaviour of any AIR, not only ours: the reference's AIR,
/// optimized, must do what it did, with no more hops.
#[test]
fn optimized_reference_air_behaves_the_same() {
    let mut checked = 0;
    let mut smaller = 0;
    for program in programs() {
        for function in &program.functions {
            let reference = std::fs::read_to_string(&function.reference_air).unwrap();
            let script = parse(&reference, &function.reference_air.display().to_string());
            let optimized = air::optimize(&script);
            let optimized_text = air::print(&optimized);
            parse(&optimized_text, "the optimized AIR");
            let before: Observed = run_function(&reference, &function.spec).unwrap();
            let mut after = run_function(&optimized_text, &function.spec).unwrap();
            let id = format!("{}.{}", program.id(), function.name);
            assert!(
                after.sends <= before.sends,
                "{id}: {} hops after optimizing, {} before:\n{optimized_text}",
                after.sends,
                before.sends
            );
            assert!(
                after.dropped.iter().all(|d| before.dropped.contains(d)),
                "{id}: new unreachable sends: {:?}",
                after.dropped
            );
            after.sends = before.sends;
            after.dropped = before.dropped.clone();
            assert_eq!(
                before.render(),
                after.render(),
                "{id} behaves differently once optimized:\n{optimized_text}"
            );
            checked += 1;
            if size(&optimized).0 < size(&script).0 {
                smaller += 1;
            }
        }
    }
    eprintln!("{checked} reference functions optimized, {smaller} of them smaller");
    assert!(checked >= 150 && smaller >= checked / 4);
}

fn compiled(source: &str, function: &str) -> String {
    let files: MemoryFiles = [("main.aqua", source)].into_iter().collect();
    let compilation = compile(&["main.aqua".into()], &files, &Options::default());
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics());
    let function = compilation
        .functions
        .iter()
        .find(|f| f.name == function)
        .expect("the function is exported");
    function.air.clone().expect("the function compiles")
}

/// `s[n]` waits for the stream only when values may still arrive.
#[test]
fn stream_indexes_wait_only_for_parallel_writes() {
    let program = r#"
aqua Main
export sequential, parallel

service Node("node"):
    name() -> string

func sequential() -> string:
    s: *string
    s <- Node.name()
    s <<- "more"
    <- s[1]

func parallel(peers: []string) -> string:
    s: *string
    for p <- peers par:
        on p:
            s <- Node.name()
    <- s[1]
"#;
    let sequential = compiled(program, "sequential");
    assert!(!sequential.contains("(fold $s"), "{sequential}");
    assert!(
        sequential.contains("(canon %init_peer_id% $s "),
        "{sequential}"
    );
    let parallel = compiled(program, "parallel");
    assert!(parallel.contains("(fold $s"), "{parallel}");
}
