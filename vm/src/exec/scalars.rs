//! Scoped variables: scalars, canon streams and canon maps.
//!
//! A variable is set once per scope. Folds open scopes: each iteration body runs one level
//! deeper, values set there vanish when the iteration returns, and variables may be set again in
//! a later iteration. `new` hides a variable for the duration of its body. Outside folds, setting
//! a variable twice is an error (the reference's rule, kept for compatibility).

use air::Sym;

use super::errors::{Catchable, ExecResult, Uncatchable};
use super::hashing::IntMap;

const GLOBAL: usize = 0;

struct Cell<T> {
    depth: usize,
    /// `None` right after `new`: the variable exists but is not set yet.
    value: Option<T>,
}

pub struct ScopedValues<T> {
    cells: IntMap<Sym, Vec<Cell<T>>>,
    visible_depths: DepthSet,
    depth: usize,
}

impl<T> Default for ScopedValues<T> {
    fn default() -> Self {
        let mut visible_depths = DepthSet::default();
        visible_depths.insert(GLOBAL);
        ScopedValues {
            cells: IntMap::default(),
            visible_depths,
            depth: GLOBAL,
        }
    }
}

/// A set of depths as bits: every `next` moves the visible depth by one, and a fold of
/// thousands of elements goes thousands of levels deep, so this is a hot path.
#[derive(Default)]
struct DepthSet {
    words: Vec<u64>,
}

impl DepthSet {
    fn insert(&mut self, depth: usize) {
        let (word, bit) = (depth / 64, depth % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
    }

    fn remove(&mut self, depth: usize) {
        if let Some(word) = self.words.get_mut(depth / 64) {
            *word &= !(1 << (depth % 64));
        }
    }

    fn contains(&self, depth: usize) -> bool {
        self.words
            .get(depth / 64)
            .is_some_and(|word| word & (1 << (depth % 64)) != 0)
    }
}

/// How a lookup went.
pub enum Lookup<'a, T> {
    Found(&'a T),
    /// Hidden by `new` and not set since.
    Cleared,
    Missing,
}

impl<T> ScopedValues<T> {
    pub fn could_be_set(&self, name: Sym) -> bool {
        if self.depth != GLOBAL {
            return true;
        }
        self.cells
            .get(&name)
            .and_then(|cells| cells.last())
            .is_some_and(|cell| cell.value.is_none())
    }

    pub fn set(&mut self, name: Sym, name_text: &str, value: T) -> ExecResult<()> {
        let could_be_set = self.could_be_set(name);
        let depth = self.depth;
        match self.cells.get_mut(&name) {
            None => {
                self.cells.insert(
                    name,
                    vec![Cell {
                        depth,
                        value: Some(value),
                    }],
                );
            }
            Some(cells) => {
                if !could_be_set {
                    return Err(Uncatchable::ShadowingIsNotAllowed(name_text.to_string()).into());
                }
                match cells.last_mut() {
                    Some(last) if last.depth == depth => last.value = Some(value),
                    _ => cells.push(Cell {
                        depth,
                        value: Some(value),
                    }),
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, name: Sym) -> Lookup<'_, T> {
        let Some(last) = self.cells.get(&name).and_then(|cells| cells.last()) else {
            return Lookup::Missing;
        };
        if !self.visible_depths.contains(last.depth) {
            return Lookup::Missing;
        }
        match &last.value {
            Some(value) => Lookup::Found(value),
            None => Lookup::Cleared,
        }
    }

    pub fn fold_start(&mut self) {
        self.depth += 1;
        self.visible_depths.insert(self.depth);
    }

    pub fn next_before(&mut self) {
        self.visible_depths.remove(self.depth);
        self.depth += 1;
        self.visible_depths.insert(self.depth);
    }

    pub fn next_after(&mut self) {
        self.visible_depths.remove(self.depth);
        self.depth -= 1;
        self.visible_depths.insert(self.depth);
        self.drop_obsolete();
    }

    pub fn fold_end(&mut self) {
        self.visible_depths.remove(self.depth);
        self.depth -= 1;
        self.drop_obsolete();
    }

    fn drop_obsolete(&mut self) {
        let depth = self.depth;
        self.cells.retain(|_, cells| {
            if let Some(last) = cells.last() {
                if last.depth != GLOBAL && last.depth > depth {
                    // Dropped in place: a popped cell would be moved out first.
                    cells.truncate(cells.len() - 1);
                }
            }
            !cells.is_empty()
        });
    }

    pub fn new_start(&mut self, name: Sym) {
        let depth = self.depth;
        self.cells
            .entry(name)
            .or_default()
            .push(Cell { depth, value: None });
    }

    pub fn new_end(&mut self, name: Sym, name_text: &str) -> ExecResult<()> {
        let depth = self.depth;
        let corrupted = || -> ExecResult<()> {
            Err(Uncatchable::ScalarsStateCorrupted {
                name: name_text.to_string(),
                depth,
            }
            .into())
        };
        let Some(cells) = self.cells.get_mut(&name) else {
            return corrupted();
        };
        // The reference keeps at least one cell per name; popping the only one is allowed
        // when it belongs to this depth, and then the name goes away.
        if cells.len() > 1 {
            match cells.pop() {
                Some(cell) if cell.depth == depth => Ok(()),
                _ => corrupted(),
            }
        } else if cells.last().is_some_and(|c| c.depth == depth) {
            self.cells.remove(&name);
            Ok(())
        } else {
            corrupted()
        }
    }
}

/// Turns a lookup into the reference's errors: a missing variable is joinable (the
/// instruction waits for it), a cleared one is a plain catchable error.
pub fn found<'a, T>(lookup: Lookup<'a, T>, name_text: &str) -> ExecResult<&'a T> {
    match lookup {
        Lookup::Found(value) => Ok(value),
        Lookup::Cleared => {
            Err(Catchable::VariableWasNotInitializedAfterNew(name_text.to_string()).into())
        }
        Lookup::Missing => Err(Catchable::VariableNotFound(name_text.to_string()).into()),
    }
}
