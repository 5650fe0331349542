//! Faults through Aqua on our engine (see `common::faults`; `reference_run.rs` runs the same
//! cases on the reference toolchain): a peer stopped mid-particle loses a `Peer.timeout`
//! race, and a `try`/`otherwise` takes its fallback.

mod common;

use aqua::compile::{compile, Options};
use aqua::project::DiskFiles;
use common::faults::{cases, program, serve_faults};
use common::run_ours_with;

#[test]
fn a_peer_stopped_mid_particle_loses_races_and_falls_back() {
    let compilation = compile(&[program()], &DiskFiles, &Options::default());
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics());
    for case in cases() {
        let ending = run_ours_with(&compilation, case.function, &case.spec(), serve_faults);
        assert_eq!(
            ending,
            Ok(case.expected.clone()),
            "{} with stop = {}",
            case.function,
            case.stop
        );
    }
}
