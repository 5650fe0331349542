//! Code generation: from checked functions to AIR.
//!
//! Passes over an instruction tree (`op::Op`): inlining (`lower`) turns an exported
//! function and everything it calls into one tree, with `On` blocks where the source says
//! `on`; `gates` lets stream indexes that need not wait skip the wait; `topology` decides where each instruction runs and inserts the hops; `emit`
//! writes the tree as an [`air::Script`], which [`air::optimize()`] then makes smaller.

mod emit;
mod gates;
mod lower;
mod op;
mod topology;

use crate::sema::hir::FuncId;
use crate::sema::Program;

/// Options that change the generated AIR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// No relay: the client is reached directly (`HOST_PEER_ID` is the client).
    pub no_relay: bool,
    /// No error wrappers: errors are not brought back to the client.
    pub no_xor: bool,
    /// The AIR as generated, without [`air::optimize()`] (to see what the optimizer does).
    pub no_optimize: bool,
    /// Report entering and leaving every function, closure and service call to the client's
    /// `tracingSrv.tracingEvent`, for debugging.
    pub tracing: bool,
}

/// Why a function could not be compiled, though it checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// The AIR of function `id`, compiled as an entry point called by a client that knows it as
/// `exported_as`.
pub fn function(
    program: &Program,
    id: FuncId,
    exported_as: &str,
    options: &Options,
) -> Result<air::Script, Unsupported> {
    let mut lower = lower::Lower::new(program, options);
    let op = lower.function(id, exported_as);
    if let Some(what) = lower.unsupported {
        return Err(Unsupported(what));
    }
    let op = gates::settle(op, &lower.gates);
    let root = lower.root_location();
    let topology = topology::Topology {
        errors_come_back: !options.no_xor,
    };
    let resolved = topology.resolve(op, &root);
    let script = emit::script(&resolved);
    Ok(if options.no_optimize {
        script
    } else {
        air::optimize(&script)
    })
}
