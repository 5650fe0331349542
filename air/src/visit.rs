//! Walking a script without recursion, at any depth.

use crate::ast::{InstrId, Script};

/// Receives the instructions of a script in depth-first order; see [`walk`].
pub trait Visitor {
    /// Called before the children of `id`.
    fn enter(&mut self, _script: &Script, _id: InstrId) {}
    /// Called after the children of `id`.
    fn exit(&mut self, _script: &Script, _id: InstrId) {}
}

/// Walks the instructions reachable from the root, children in source order, calling
/// [`Visitor::enter`] before and [`Visitor::exit`] after each instruction's children.
pub fn walk(script: &Script, visitor: &mut impl Visitor) {
    let mut stack = Vec::with_capacity(64);
    stack.push((script.root(), false));
    while let Some((id, children_done)) = stack.pop() {
        if children_done {
            visitor.exit(script, id);
            continue;
        }
        visitor.enter(script, id);
        stack.push((id, true));
        for child in script.instr(id).children().rev() {
            stack.push((child, false));
        }
    }
}
