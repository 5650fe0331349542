//! Conformance suite: AIR scenarios run on a simulated network of peers.
//!
//! Each `scenarios/<area>/<name>.air` is a scenario (directive syntax in
//! `network_sim::scenario`); `<name>.expected` next to it is the text snapshot of what the run
//! shows (format in `network_sim::report`). Every scenario runs in every [`Mode`]: the first
//! mode must reproduce the snapshot, every other mode must reproduce the first mode's
//! report exactly.
//!
//! Run with `UPDATE_EXPECT=1` to rewrite the snapshots after an intended change, and with
//! `SCENARIO=<text>` to run only the scenarios whose path contains `<text>`.

use std::path::{Path, PathBuf};

use network_sim::network::same_content;
use network_sim::scenario::Scenario;
use network_sim::{Engine, Observables, ReferenceEngine, VmAnsweringEngine, VmEngine};

/// How the runs of a scenario are spread over engines.
struct Mode {
    name: &'static str,
    /// Picks the engine for a run from the peer name and the run index.
    engine_for: fn(&str, usize) -> &'static dyn Engine,
}

static REFERENCE: ReferenceEngine = ReferenceEngine;

/// The modes every scenario runs in; the first one is checked against the snapshots.
///
/// Our VM's modes are in [`vm_agrees_with_reference`], against a list of the scenarios it
/// agrees on.
fn modes() -> Vec<Mode> {
    vec![Mode {
        name: REFERENCE.name(),
        engine_for: |_peer, _run| &REFERENCE,
    }]
}

/// Minimum number of scenarios, so that a lost directory does not go unnoticed.
const MIN_SCENARIOS: usize = 120;

fn scenario_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
}

/// Every scenario, by its path under `tests/scenarios`.
fn loaded_scenarios() -> impl Iterator<Item = (String, Scenario)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    scenario_files()
        .into_iter()
        .filter(|path| path.extension().and_then(|e| e.to_str()) == Some("air"))
        .map(move |path| {
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            let relative = relative.to_string_lossy().into_owned();
            let scenario = Scenario::load(&path).expect("scenario loads");
            (relative, scenario)
        })
}

#[test]
fn scenarios() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let filter = std::env::var("SCENARIO").unwrap_or_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let files = scenario_files();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in &files {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some("air") => {}
            Some("expected") if !path.with_extension("air").exists() => {
                failures.push(format!("{}: snapshot without a scenario", path.display()));
                continue;
            }
            _ => continue,
        }
        count += 1;
        let relative = path.strip_prefix(&root).unwrap_or(path);
        if !relative.to_string_lossy().contains(&filter) {
            continue;
        }
        let scenario = match Scenario::load(path) {
            Ok(scenario) => scenario,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let mut first: Option<(&str, String)> = None;
        for mode in modes() {
            let report = scenario.run(&mode.engine_for).render();
            match &first {
                None => {
                    let expected_path = path.with_extension("expected");
                    if update {
                        std::fs::write(&expected_path, &report).expect("writable snapshot");
                    } else {
                        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
                        if expected != report {
                            failures.push(format!(
                                "{} in mode {}: snapshot differs\n--- expected:\n{expected}--- actual:\n{report}",
                                relative.display(),
                                mode.name
                            ));
                        }
                    }
                    first = Some((mode.name, report));
                }
                Some((first_name, first_report)) => {
                    if *first_report != report {
                        failures.push(format!(
                            "{}: mode {} differs from mode {first_name}\n--- {first_name}:\n{first_report}--- {}:\n{report}",
                            relative.display(),
                            mode.name,
                            mode.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        count >= MIN_SCENARIOS,
        "only {count} scenarios found, expected at least {MIN_SCENARIOS}"
    );
    assert!(
        failures.is_empty(),
        "{} scenario failures (run with UPDATE_EXPECT=1 to accept new snapshots):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Our VM against the reference, scenario by scenario, in three modes: every run on our VM,
/// runs alternating between the VMs, and peers alternating between the VMs.
///
/// Our VM does not pass every scenario yet. `scenarios/vm-agreeing.txt` lists those it passes
/// in all three modes; each of them must keep passing, and a scenario that starts to pass is
/// reported so that the list grows. Set `VM_REPORT=1` to print the scenarios that differ.
#[test]
fn vm_agrees_with_reference() {
    static VM: VmEngine = VmEngine;
    let vm_modes = [
        Mode {
            name: "vm",
            engine_for: |_peer, _run| &VM,
        },
        Mode {
            name: "alternating-runs",
            engine_for: |_peer, run| if run % 2 == 1 { &VM } else { &REFERENCE },
        },
        Mode {
            name: "alternating-peers",
            engine_for: |peer, _run| {
                if peer.len() % 2 == 1 {
                    &VM
                } else {
                    &REFERENCE
                }
            },
        },
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let list_path = root.join("vm-agreeing.txt");
    let listed: Vec<String> = std::fs::read_to_string(&list_path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let mut agreeing = Vec::new();
    let mut differing = Vec::new();
    for (relative, scenario) in loaded_scenarios() {
        let expected = scenario.run(&|_, _| &REFERENCE as &dyn Engine).render();
        let mut first_difference = None;
        for mode in &vm_modes {
            let name = mode.name;
            let report = scenario.run(&mode.engine_for).render();
            if report != expected {
                first_difference = Some(format!(
                    "{relative} in mode {name}\n--- reference:\n{expected}--- {name}:\n{report}"
                ));
                break;
            }
        }
        match first_difference {
            None => agreeing.push(relative),
            Some(difference) => differing.push((relative, difference)),
        }
    }
    if std::env::var_os("VM_REPORT").is_some() {
        for (_, difference) in &differing {
            eprintln!("{difference}\n");
        }
    }
    eprintln!(
        "our VM agrees with the reference on {} of {} scenarios",
        agreeing.len(),
        agreeing.len() + differing.len()
    );
    let regressions: Vec<&(String, String)> = differing
        .iter()
        .filter(|(name, _)| listed.contains(name))
        .collect();
    assert!(
        regressions.is_empty(),
        "scenarios listed in vm-agreeing.txt now differ:\n\n{}",
        regressions
            .iter()
            .map(|(_, d)| d.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    let new: Vec<&String> = agreeing.iter().filter(|n| !listed.contains(n)).collect();
    assert!(
        new.is_empty(),
        "these scenarios now agree; add them to vm-agreeing.txt:\n{}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// What a run of a particle shows once the boundaries between a peer's steps are erased: the
/// deliveries in order, and at each the calls made (with their answers), the failures and the
/// peers sent to, in the order they happened.
fn without_step_boundaries(observables: &Observables) -> Vec<String> {
    let mut events = Vec::new();
    for delivery in &observables.deliveries {
        events.push(format!("deliver {:?} -> {}", delivery.from, delivery.peer));
        for run in &delivery.runs {
            for (id, (request, answer)) in &run.calls {
                events.push(format!("call {id}: {request:?} = {answer:?}"));
            }
            if run.ret_code != 0 {
                // Whether the failed run kept its data depends on where the step began; the
                // final data is compared below instead.
                events.push(format!("failed {} ({})", run.ret_code, run.error_message));
            }
            if !run.next_peers.is_empty() {
                events.push(format!("send to {:?}", run.next_peers));
            }
        }
    }
    events.push(format!("dropped {:?}", observables.dropped));
    events
}

/// `Vm::execute_answering`, which feeds ready results back within one step, ends every
/// scenario exactly as separate steps do: the same calls, failures, sends and final data.
#[test]
fn answering_during_a_step_matches_separate_steps() {
    static VM: VmEngine = VmEngine;
    static ANSWERING: VmAnsweringEngine = VmAnsweringEngine;
    let mut compared = 0;
    let mut fewer_runs = 0;
    let mut failures = Vec::new();
    for (relative, scenario) in loaded_scenarios() {
        let steps = scenario.run(&|_, _| &VM as &dyn Engine);
        let answering = scenario.run(&|_, _| &ANSWERING as &dyn Engine);
        // A step cap counts steps, which answering saves: such runs stop at other places.
        if steps.step_cap_reached || answering.step_cap_reached {
            continue;
        }
        compared += 1;
        let runs = |o: &Observables| o.deliveries.iter().map(|d| d.runs.len()).sum::<usize>();
        if runs(&answering) < runs(&steps) {
            fewer_runs += 1;
        }
        let (expected, actual) = (
            without_step_boundaries(&steps),
            without_step_boundaries(&answering),
        );
        if expected != actual {
            failures.push(format!(
                "{relative}: events differ\n--- steps:\n{}\n--- answering:\n{}",
                expected.join("\n"),
                actual.join("\n")
            ));
            continue;
        }
        let same_data = steps.final_data.len() == answering.final_data.len()
            && steps.final_data.iter().all(|(peer, data)| {
                answering
                    .final_data
                    .get(peer)
                    .is_some_and(|other| same_content(data, other))
            });
        if !same_data {
            failures.push(format!("{relative}: final data differs"));
        }
    }
    eprintln!("answering: {compared} scenarios compared, {fewer_runs} of them took fewer steps");
    assert!(
        failures.is_empty(),
        "{} of {compared} scenarios differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        compared >= MIN_SCENARIOS,
        "only {compared} scenarios compared"
    );
    // Most scenarios call a service somewhere: answering must save steps in many of them.
    assert!(
        fewer_runs * 2 > compared,
        "answering saved steps in only {fewer_runs} of {compared} scenarios"
    );
}
