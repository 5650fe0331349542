//! The language guide's examples (`book/src/aqua/guide/*.md`) compile, run and show what the
//! guide says they show.
//!
//! The conventions, which the guide's introduction explains to readers:
//! - a ```` ```aqua ```` block is a whole module. It compiles with no diagnostics, is in
//!   `aquac fmt`'s layout, and every exported function compiles to valid AIR. Attributes after
//!   the language, comma-separated: `file=<path>` (the block is that file among the chapter's
//!   files, `main.aqua` by default; every other block of the chapter can import it, and it
//!   needs no run), `check` (only compiled, not run), `error=<code>` (the compilation fails,
//!   and every error has that code), `warn=<code>` (it compiles with exactly that warning).
//!   A block with exported functions is run by at least one run block, unless it is a `check`
//!   or `file=` block.
//! - a ```` ```text,run ```` block runs a function of the `aqua` block before it on the
//!   simulated network (`network_sim::aqua`). It starts with directives, then lists what the
//!   run shows, in the lines of [`Observed::render`]:
//!
//!   ```text
//!   run: greet {"name": "Ann"}           the function and its arguments (JSON, optional)
//!   peers: a b                           peers besides `client` and `relay`
//!   service a greeter.hello: ok "hi"     a test service: <peer or *> <id>.<function or *>
//!   const: GREETING = "Hi"               aquac --const GREETING='"Hi"'
//!   flags: no-relay no-xor               aquac --no-relay --no-xor
//!   import-dir: vendor                   aquac -I vendor (relative to the chapter's files)
//!   max-steps: 100                       a cap on interpreter runs
//!   response ["Hi, Ann"]                 what the run must show
//!   route @client @relay @a @relay @client
//!   ```
//!
//!   Responses, errors, failed runs, dropped sends and the step cap must be exactly those
//!   shown; calls are compared for the services that the shown `call` lines name (so a block
//!   shows only the calls it talks about). A `route` line, when shown, is the peers the
//!   particle visits in order (runs in a row on one peer count once). The `aqua` block itself is checked with the
//!   options of its first run.
//! - a ```` ```text,diagnostics ```` block after an `aqua` block is exactly what `aquac check`
//!   prints for it, without colors (trailing spaces aside).
//! - an ```` ```air,function=<name> ```` block after an `aqua` block is exactly the AIR that
//!   `aquac build` writes for that function (with the options of the first run).
//!
//! Blocks are named by their chapter and module name (`types.md Maps`) in [`KNOWN_FAILING`].
//! `AQUA_GUIDE=<text>` checks only the chapters whose file name contains it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use aqua::compile::{compile, Compilation, Options};
use aqua::project::MemoryFiles;
use aqua::Severity;
use network_sim::aqua::{run_function_on, Observed, RunSpec};
use network_sim::services::ServiceRule;
use network_sim::VmEngine;

/// Examples that show what the language means but that this compiler does not handle yet:
/// `(chapter, module name, why)`. A listed example that works fails the test, so that the list
/// only shrinks.
const KNOWN_FAILING: &[(&str, &str, &str)] = &[];

fn guide_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/aqua/guide")
}

/// A fenced code block of a Markdown file.
#[derive(Debug)]
struct Fence {
    /// The info string split at commas: the language, then attributes.
    info: Vec<String>,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
}

/// The fenced blocks of `markdown`. A fence closes at a line of at least as many backticks as
/// opened it, so a block can show a fenced block.
fn fences(markdown: &str) -> Result<Vec<Fence>, String> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Fence)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
        match open.as_mut() {
            Some((width, _)) if ticks >= *width && trimmed[ticks..].trim().is_empty() => {
                out.push(open.take().expect("a block is open").1);
            }
            Some((_, fence)) => {
                fence.text.push_str(line);
                fence.text.push('\n');
            }
            None if ticks >= 3 => {
                let info = trimmed[ticks..]
                    .split(',')
                    .map(|part| part.trim().to_string())
                    .collect();
                open = Some((
                    ticks,
                    Fence {
                        info,
                        line: index + 1,
                        text: String::new(),
                    },
                ));
            }
            None => {}
        }
    }
    match open {
        Some((_, fence)) => Err(format!("the block at line {} is never closed", fence.line)),
        None => Ok(out),
    }
}

/// What an `aqua` block must do when compiled with default options.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Compile, with exactly these warnings.
    Compiles { warnings: BTreeSet<String> },
    /// Fail with errors of this code only.
    Error(String),
}

/// One `aqua` block with the blocks that follow it.
struct Example {
    line: usize,
    /// The module name of its header, or `line N` for a block without one.
    name: String,
    /// Its path among the chapter's files.
    path: PathBuf,
    text: String,
    /// Given a `file=` path: a module other blocks import.
    library: bool,
    check_only: bool,
    expect: Expect,
    runs: Vec<Run>,
    /// A `text,diagnostics` block: its line and text.
    diagnostics: Option<(usize, String)>,
    /// `air,function=<name>` blocks: line, function, text.
    air: Vec<(usize, String, String)>,
}

/// A `text,run` block.
struct Run {
    line: usize,
    function: String,
    spec: RunSpec,
    options: Options,
    expected: Expected,
}

/// What a run block shows, in [`Observed`] terms.
#[derive(Default)]
struct Expected {
    responses: Vec<String>,
    errors: Vec<String>,
    calls: Vec<String>,
    failed_runs: Vec<String>,
    dropped: Vec<String>,
    step_cap_reached: bool,
    route: Option<String>,
}

/// The module name of an Aqua header (`aqua Name ...` or the legacy `module Name ...`).
fn module_name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line
            .strip_prefix("aqua ")
            .or_else(|| line.strip_prefix("module "))?;
        rest.split_whitespace().next().map(str::to_string)
    })
}

fn parse_example(fence: Fence) -> Result<Example, String> {
    let mut example = Example {
        line: fence.line,
        name: module_name(&fence.text).unwrap_or_else(|| format!("line {}", fence.line)),
        path: PathBuf::from("main.aqua"),
        text: fence.text,
        library: false,
        check_only: false,
        expect: Expect::Compiles {
            warnings: BTreeSet::new(),
        },
        runs: Vec::new(),
        diagnostics: None,
        air: Vec::new(),
    };
    for attribute in &fence.info[1..] {
        let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
        match (key, &mut example.expect) {
            ("check", _) if value.is_empty() => example.check_only = true,
            ("file", _) if value.ends_with(".aqua") => {
                example.path = PathBuf::from(value);
                example.library = true;
            }
            ("error", Expect::Compiles { warnings }) if warnings.is_empty() => {
                example.expect = Expect::Error(code(value)?);
            }
            ("warn", Expect::Compiles { warnings }) => {
                warnings.insert(code(value)?);
            }
            _ => return Err(format!("unknown or conflicting attribute `{attribute}`")),
        }
    }
    Ok(example)
}

fn code(text: &str) -> Result<String, String> {
    aqua::Code::ALL
        .iter()
        .find(|c| c.as_str() == text)
        .map(|c| c.as_str().to_string())
        .ok_or_else(|| format!("`{text}` is not a diagnostic code"))
}

fn parse_run(fence: &Fence) -> Result<Run, String> {
    let mut function = None;
    let mut spec = RunSpec::default();
    let mut options = Options::default();
    let mut expected = Expected::default();
    let mut args = None;
    let mut services = Vec::new();
    for line in fence.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let word = line.split_whitespace().next().unwrap_or("");
        let rest = line[word.len()..].trim();
        match word {
            "response" => expected.responses.push(rest.to_string()),
            "error" => expected.errors.push(rest.to_string()),
            "call" => expected.calls.push(rest.to_string()),
            "dropped" => expected.dropped.push(rest.to_string()),
            "failed" => expected.failed_runs.push(line.to_string()),
            "step" if line == "step cap reached" => expected.step_cap_reached = true,
            "route" => expected.route = Some(rest.to_string()),
            "run:" => {
                let (name, json) = rest.split_once(' ').unwrap_or((rest, "{}"));
                function = Some(name.to_string());
                args = Some(json.to_string());
            }
            "peers:" => spec.topology.peers = rest.split_whitespace().map(String::from).collect(),
            "service" => {
                let (target, behaviour) = rest
                    .split_once(':')
                    .ok_or_else(|| format!("`{line}`: expected `service <peer> <call>: ...`"))?;
                services.push((target.to_string(), behaviour.to_string()));
            }
            "const:" => {
                let (name, value) = rest
                    .split_once('=')
                    .ok_or_else(|| format!("`{line}`: expected `const: NAME = value`"))?;
                if aqua::sema::parse_override(value).is_none() {
                    return Err(format!("`{line}`: not a constant value"));
                }
                options
                    .sema
                    .constants
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
            "flags:" => {
                for flag in rest.split_whitespace() {
                    match flag {
                        "no-relay" => options.codegen.no_relay = true,
                        "no-xor" => options.codegen.no_xor = true,
                        _ => return Err(format!("unknown flag `{flag}`")),
                    }
                }
            }
            "import-dir:" => options.imports.import_dirs.push(PathBuf::from(rest)),
            "max-steps:" => {
                spec.max_steps = rest.parse().map_err(|e| format!("`{line}`: {e}"))?;
            }
            _ => return Err(format!("unknown line `{line}`")),
        }
    }
    let function = function.ok_or("the block has no `run:` line")?;
    let args: serde_json::Value = serde_json::from_str(args.as_deref().unwrap_or("{}"))
        .map_err(|e| format!("the arguments are not JSON: {e}"))?;
    let serde_json::Value::Object(args) = args else {
        return Err("the arguments are not a JSON object".into());
    };
    spec.args = args.into_iter().collect();
    for (target, behaviour) in services {
        let (peer, call) = target
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("service `{target}`: expected `<peer or *> <call>`"))?;
        let peer = (peer != "*").then_some(peer);
        if let Some(peer) = peer {
            if !spec.topology.names().any(|name| name == peer) {
                return Err(format!(
                    "service `{target}`: @{peer} is not a peer of the run"
                ));
            }
        }
        spec.services
            .push(ServiceRule::parse(peer, call.trim(), behaviour.trim())?);
    }
    Ok(Run {
        line: fence.line,
        function,
        spec,
        options,
        expected,
    })
}

/// A chapter's examples, with the run and diagnostics blocks attached to the `aqua` block
/// before them.
fn examples(markdown: &str) -> Result<Vec<Example>, String> {
    let mut examples: Vec<Example> = Vec::new();
    for fence in fences(markdown)? {
        let line = fence.line;
        let at = |e: String| format!("{line}: {e}");
        let info: Vec<&str> = fence.info.iter().map(String::as_str).collect();
        match info[..] {
            ["aqua", ..] => examples.push(parse_example(fence).map_err(at)?),
            ["text", "run"] => {
                let run = parse_run(&fence).map_err(at)?;
                let example = examples
                    .last_mut()
                    .ok_or_else(|| at("a run block before any aqua block".into()))?;
                example.runs.push(run);
            }
            ["text", "diagnostics"] => {
                let example = examples
                    .last_mut()
                    .ok_or_else(|| at("a diagnostics block before any aqua block".into()))?;
                example.diagnostics = Some((fence.line, fence.text));
            }
            ["air", attribute] if attribute.starts_with("function=") => {
                let example = examples
                    .last_mut()
                    .ok_or_else(|| at("an AIR block before any aqua block".into()))?;
                let function = attribute["function=".len()..].to_string();
                example.air.push((fence.line, function, fence.text));
            }
            _ => {}
        }
    }
    Ok(examples)
}

/// Compiles `example` with the chapter's library files beside it.
fn compile_example(example: &Example, libraries: &[&Example], options: &Options) -> Compilation {
    let mut files = MemoryFiles::new();
    for library in libraries {
        files.insert(&library.path, library.text.as_bytes());
    }
    files.insert(&example.path, example.text.as_bytes());
    compile(std::slice::from_ref(&example.path), &files, options)
}

/// Every diagnostic as `aquac check` prints it, without colors.
fn rendered(compilation: &Compilation) -> String {
    let mut out = String::new();
    for (module, diagnostic) in compilation.diagnostics() {
        let module = compilation.project.module(module);
        out.push_str(&aqua::diagnostic::render(
            diagnostic,
            &module.path,
            &module.text,
            false,
        ));
    }
    out
}

fn trim_lines(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// Checks one example; the problems, each naming the line of the block concerned.
fn check_example(example: &Example, libraries: &[&Example]) -> Vec<String> {
    let mut problems = Vec::new();
    // The options of the first run: an example that needs `-I` to compile needs it everywhere.
    let options = example
        .runs
        .first()
        .map_or_else(Options::default, |run| run.options.clone());
    let compilation = compile_example(example, libraries, &options);
    let diagnostics = compilation.diagnostics();
    let codes = |severity: Severity| -> Vec<String> {
        diagnostics
            .iter()
            .filter(|(_, d)| d.severity() == severity)
            .map(|(_, d)| d.code.as_str().to_string())
            .collect()
    };
    let (errors, warnings) = (codes(Severity::Error), codes(Severity::Warning));
    let show = || rendered(&compilation);
    match &example.expect {
        Expect::Error(code) => {
            if errors.is_empty() || errors.iter().any(|e| e != code) {
                problems.push(format!(
                    "{}: expected errors {code}, the compiler reports:\n{}",
                    example.line,
                    show()
                ));
            }
        }
        Expect::Compiles { warnings: expected } => {
            let found: BTreeSet<String> = warnings.iter().cloned().collect();
            if !errors.is_empty() || &found != expected || warnings.len() != expected.len() {
                problems.push(format!(
                    "{}: expected no errors and warnings {expected:?}, the compiler reports:\n{}",
                    example.line,
                    show()
                ));
            }
            match aqua::format::format(&example.text) {
                Ok(formatted) if formatted == example.text => {}
                Ok(formatted) => problems.push(format!(
                    "{}: not in `aquac fmt` layout; formatted:\n{formatted}",
                    example.line
                )),
                Err(_) => problems.push(format!("{}: does not format", example.line)),
            }
            for function in &compilation.functions {
                match &function.air {
                    Ok(air) => {
                        if let Some(d) = air::check(air).diagnostics.first() {
                            problems.push(format!(
                                "{}: `{}` compiles to invalid AIR: {}\n{air}",
                                example.line, function.name, d.message
                            ));
                        }
                    }
                    Err(unsupported) => problems.push(format!(
                        "{}: `{}` cannot be compiled: {}",
                        example.line, function.name, unsupported.0
                    )),
                }
            }
            let exports = !compilation.functions.is_empty();
            if exports && example.runs.is_empty() && !example.check_only && !example.library {
                problems.push(format!(
                    "{}: exports functions but no run block follows; add one or mark the block `check`",
                    example.line
                ));
            }
            if example.check_only && !example.runs.is_empty() {
                problems.push(format!(
                    "{}: marked `check` but followed by run blocks",
                    example.line
                ));
            }
        }
    }
    for (line, name, text) in &example.air {
        let air = compilation.functions.iter().find(|f| &f.name == name);
        match air.map(|f| f.air.as_ref()) {
            Some(Ok(air)) if trim_lines(air) == trim_lines(text) => {}
            Some(Ok(air)) => problems.push(format!(
                "{line}: the AIR shown for `{name}` differs; the compiler writes:\n{air}"
            )),
            _ => problems.push(format!("{line}: no AIR for a function `{name}`")),
        }
    }
    if let Some((line, text)) = &example.diagnostics {
        let shown = show();
        if trim_lines(text) != trim_lines(&shown) {
            problems.push(format!(
                "{line}: the diagnostics shown differ; the compiler prints:\n{shown}"
            ));
        }
    }
    for run in &example.runs {
        if let Err(problem) = check_run(example, libraries, run) {
            problems.push(format!("{}: {problem}", run.line));
        }
    }
    problems
}

fn check_run(example: &Example, libraries: &[&Example], run: &Run) -> Result<(), String> {
    if matches!(example.expect, Expect::Error(_)) {
        return Err("runs a block that does not compile".into());
    }
    let compilation = compile_example(example, libraries, &run.options);
    if compilation.has_errors() {
        return Err(format!("does not compile:\n{}", rendered(&compilation)));
    }
    let function = compilation
        .functions
        .iter()
        .find(|f| f.name == run.function)
        .ok_or_else(|| format!("`{}` is not an exported function", run.function))?;
    let air = function
        .air
        .as_ref()
        .map_err(|u| format!("`{}` cannot be compiled: {}", run.function, u.0))?;
    let route = RefCell::new(Vec::<String>::new());
    let observed = run_function_on(air, &run.spec, &|peer, _| {
        let mut route = route.borrow_mut();
        if route.last().is_none_or(|last| last != peer) {
            route.push(peer.to_string());
        }
        &VmEngine
    })?;
    let route: Vec<String> = route.into_inner().iter().map(|p| format!("@{p}")).collect();
    compare(&run.expected, &observed, &route.join(" "))
        .map_err(|why| format!("{why}\n--- AIR:\n{air}"))
}

/// Whether the run shows what the block says, or the difference.
fn compare(expected: &Expected, observed: &Observed, route: &str) -> Result<(), String> {
    let named: BTreeSet<&str> = expected
        .calls
        .iter()
        .filter_map(|call| call.split_whitespace().nth(1))
        .filter_map(|target| target.split_once('.').map(|(service, _)| service))
        .collect();
    let calls: Vec<String> = observed
        .calls
        .iter()
        .filter(|c| named.contains(c.service.as_str()))
        .map(|c| {
            format!(
                "{} {}.{} {} -> {}",
                c.peer, c.service, c.function, c.args, c.answer
            )
        })
        .collect();
    let mut expected_calls = expected.calls.clone();
    expected_calls.sort();
    let failed: Vec<String> = observed
        .failed_runs
        .iter()
        .map(|(peer, code)| format!("failed run {peer}: code {code}"))
        .collect();
    let dropped: Vec<String> = observed
        .dropped
        .iter()
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    let same = expected.responses == observed.responses
        && expected.errors == observed.errors
        && expected_calls == calls
        && expected.failed_runs == failed
        && expected.dropped == dropped
        && expected.step_cap_reached == observed.step_cap_reached
        && expected.route.as_ref().is_none_or(|r| r == route);
    if same {
        Ok(())
    } else {
        Err(format!(
            "the run shows something else; it shows:\n{}route {route}\n",
            observed.render()
        ))
    }
}

#[test]
fn guide_examples_compile_and_run_as_shown() {
    let filter = std::env::var("AQUA_GUIDE").ok();
    let dir = guide_dir();
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    let summary = std::fs::read_to_string(dir.join("../../SUMMARY.md")).expect("SUMMARY.md");
    let mut seen_known = BTreeSet::new();
    let mut failures = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for path in &chapters {
        let chapter = path.file_name().and_then(|n| n.to_str()).expect("a name");
        let shown = format!("book/src/aqua/guide/{chapter}");
        if !summary.contains(&format!("(aqua/guide/{chapter})")) {
            let _ = writeln!(failures, "{shown}: not linked from SUMMARY.md");
        }
        if filter
            .as_ref()
            .is_some_and(|f| !chapter.contains(f.as_str()))
        {
            continue;
        }
        let markdown = std::fs::read_to_string(path).expect("a readable chapter");
        let examples = match examples(&markdown) {
            Ok(examples) => examples,
            Err(e) => {
                let _ = writeln!(failures, "{shown}:{e}");
                continue;
            }
        };
        let libraries: Vec<&Example> = examples
            .iter()
            .filter(|e| e.library && !matches!(e.expect, Expect::Error(_)))
            .collect();
        for (index, library) in libraries.iter().enumerate() {
            if libraries[..index].iter().any(|l| l.path == library.path) {
                let _ = writeln!(
                    failures,
                    "{shown}:{}: another block is already the file {}",
                    library.line,
                    library.path.display()
                );
            }
        }
        for example in &examples {
            *counts.entry("examples").or_default() += 1;
            *counts.entry("runs").or_default() += example.runs.len();
            let problems = check_example(example, &libraries);
            let known = KNOWN_FAILING
                .iter()
                .position(|(c, name, _)| *c == chapter && *name == example.name);
            if let Some(index) = known {
                seen_known.insert(index);
            }
            match (known, problems.is_empty()) {
                (Some(_), true) => {
                    let _ = writeln!(
                        failures,
                        "{shown}:{}: {} now works; remove it from KNOWN_FAILING",
                        example.line, example.name
                    );
                }
                (Some(_), false) => {}
                (None, _) => {
                    for problem in problems {
                        let _ = writeln!(failures, "{shown}:{problem}");
                    }
                }
            }
        }
    }
    if filter.is_none() {
        for (index, (chapter, name, _)) in KNOWN_FAILING.iter().enumerate() {
            if !seen_known.contains(&index) {
                let _ = writeln!(
                    failures,
                    "KNOWN_FAILING lists {chapter} {name}, which is not in the guide"
                );
            }
        }
    }
    eprintln!("guide: {counts:?}");
    assert!(failures.is_empty(), "{failures}");
}

fn fence(info: &str, text: &str) -> Fence {
    Fence {
        info: info.split(',').map(String::from).collect(),
        line: 1,
        text: text.to_string(),
    }
}

#[test]
fn a_fence_closes_only_at_as_many_backticks_as_opened_it() {
    let markdown = "````markdown\n```aqua\nx\n```\n````\ntext\n```text,run\nrun: f\n```\n";
    let found = fences(markdown).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].text, "```aqua\nx\n```\n");
    assert_eq!(found[1].info, ["text", "run"]);
    assert_eq!(found[1].line, 7);
    assert!(fences("```aqua\nx\n").unwrap_err().contains("never closed"));
}

#[test]
fn run_blocks_reject_what_they_cannot_mean() {
    let error = |text: &str| match parse_run(&fence("text,run", text)) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    assert!(error("response [1]\n").contains("no `run:` line"));
    assert!(error("run: f\nresult [1]\n").contains("unknown line"));
    assert!(error("run: f [1]\n").contains("not a JSON object"));
    assert!(error("run: f\nservice b x.y: ok 1\n").contains("@b is not a peer"));
    assert!(error("run: f\nservice * x.y: maybe\n").contains("unknown service behaviour"));
    assert!(error("run: f\nflags: fast\n").contains("unknown flag"));
    let run = parse_run(&fence(
        "text,run",
        "run: f {\"n\": 1}\npeers: b\nservice b x.*: echo\nconst: N = 2\nresponse [1]\n",
    ))
    .unwrap();
    assert_eq!(run.function, "f");
    assert_eq!(run.spec.args["n"], 1);
    assert_eq!(run.spec.topology.peers, ["b"]);
    assert_eq!(run.options.sema.constants["N"], "2");
    assert_eq!(run.expected.responses, ["[1]"]);
}

#[test]
fn aqua_blocks_take_known_attributes_only() {
    let attributes = |info: &str| parse_example(fence(info, "aqua M\n"));
    let example = attributes("aqua,file=lib/m.aqua,warn=W0101").unwrap();
    assert!(example.library);
    assert_eq!(example.name, "M");
    assert!(matches!(example.expect, Expect::Compiles { ref warnings } if warnings.len() == 1));
    assert!(matches!(
        attributes("aqua,error=E0301").unwrap().expect,
        Expect::Error(_)
    ));
    assert!(attributes("aqua,error=E9999").is_err());
    assert!(attributes("aqua,warn=W0101,error=E0301").is_err());
    assert!(attributes("aqua,ignore").is_err());
}

#[test]
fn runs_compare_only_the_calls_of_the_services_they_show() {
    let observed = Observed {
        responses: vec!["[1]".into()],
        errors: Vec::new(),
        calls: vec![
            network_sim::aqua::ObservedCall {
                peer: "@a".into(),
                service: "math".into(),
                function: "add".into(),
                args: "[0,1]".into(),
                answer: "ok 1".into(),
            },
            network_sim::aqua::ObservedCall {
                peer: "@a".into(),
                service: "node".into(),
                function: "get".into(),
                args: "[]".into(),
                answer: "ok 1".into(),
            },
        ],
        failed_runs: Vec::new(),
        dropped: Vec::new(),
        step_cap_reached: false,
        sends: 4,
    };
    let expected = |text: &str| parse_run(&fence("text,run", text)).unwrap().expected;
    let route = "@client @relay @a @relay @client";
    assert!(compare(&expected("run: f\nresponse [1]\n"), &observed, route).is_ok());
    let with_call = expected("run: f\nresponse [1]\ncall @a node.get [] -> ok 1\n");
    assert!(compare(&with_call, &observed, route).is_ok());
    let wrong_call = expected("run: f\nresponse [1]\ncall @a node.get [] -> ok 2\n");
    assert!(compare(&wrong_call, &observed, route).is_err());
    assert!(compare(&expected("run: f\n"), &observed, route).is_err());
    let routed = expected("run: f\nresponse [1]\nroute @client @relay @client\n");
    assert!(compare(&routed, &observed, route).is_err());
}
