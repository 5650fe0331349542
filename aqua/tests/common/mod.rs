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

/// Whether our compilation of `function`'s program behaves like the reference's AIR for it: same
/// results, errors and service calls (`math`, `cmp` and `op` left out), failed runs, no
/// unreachable send the reference does not make too, and no more network hops. The error
/// says how they differ.
pub fn judge(
    compilation: &aqua::compile::Compilation,
    function: &corpus::Function,
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
    let reference = std::fs::read_to_string(&function.reference_air).map_err(|e| e.to_string())?;
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
    if theirs == ours_observed {
        Ok(())
    } else {
        Err(format!(
            "--- reference:\n{}--- ours:\n{}--- our AIR:\n{ours}",
            theirs.render(),
            ours_observed.render()
        ))
    }
}
