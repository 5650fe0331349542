//! What the differential tests share: running our AIR and the reference's for one function
//! of a runnable corpus and comparing what they do.

use network_sim::aqua::corpus;
use network_sim::aqua::{run_function, Observed};

/// What a run shows about the program, without the compiler's own choices.
fn behaviour(mut observed: Observed) -> Observed {
    observed
        .calls
        .retain(|c| !matches!(c.service.as_str(), "math" | "cmp" | "op"));
    observed
}

/// What [`judge`] requires of our AIR against the reference's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The same behaviour, with no more network hops.
    Behaviour,
    /// No more network hops, whatever else differs.
    Hops,
}

/// Whether our compilation of `function`'s program does what `compare` asks against the
/// reference's AIR `reference`. Behaviour is the same results, errors and service calls
/// (`math`, `cmp` and `op` left out), failed runs, and no unreachable send the reference does
/// not make too. The error says how they differ.
pub fn judge(
    compilation: &aqua::compile::Compilation,
    function: &corpus::Function,
    reference: &std::path::Path,
    compare: Compare,
) -> Result<(), String> {
    if compilation.has_errors() {
        let first = compilation
            .diagnostics()
            .first()
            .map(|(_, d)| d.message.clone());
        return Err(format!("does not compile: {}", first.unwrap_or_default()));
    }
    let compiled = compilation
        .functions
        .iter()
        .find(|f| f.name == function.name)
        .ok_or("not exported")?;
    let ours = compiled
        .air
        .as_ref()
        .map_err(|u| format!("not compiled: {}", u.0))?;
    let parsed = air::check(ours);
    if let Some(d) = parsed.diagnostics.first() {
        return Err(format!("invalid AIR: {}\n{ours}", d.message));
    }
    let reference = std::fs::read_to_string(reference).map_err(|e| e.to_string())?;
    let theirs = run_function(&reference, &function.spec).map(behaviour)?;
    let mut ours_observed = run_function(ours, &function.spec).map(behaviour)?;
    let extra_drops = ours_observed
        .dropped
        .iter()
        .any(|d| !theirs.dropped.contains(d));
    if !extra_drops {
        ours_observed.dropped = theirs.dropped.clone();
    }
    if ours_observed.sends > theirs.sends {
        return Err(format!(
            "{} network hops, the reference takes {}\n--- our AIR:\n{ours}",
            ours_observed.sends, theirs.sends
        ));
    }
    ours_observed.sends = theirs.sends;
    if compare == Compare::Hops || theirs == ours_observed {
        Ok(())
    } else {
        Err(format!(
            "--- reference:\n{}--- ours:\n{}--- our AIR:\n{ours}",
            theirs.render(),
            ours_observed.render()
        ))
    }
}
