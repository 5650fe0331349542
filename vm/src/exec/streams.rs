//! Streams: append-only collections whose values are grouped in generations.
//!
//! Values come from three places, kept apart: the previous data, the current data (each with the
//! generation recorded there) and this run (new generations). Iteration goes previous, current,
//! new. A fold over a stream walks it generation by generation and picks up generations added
//! while it runs. At the end of a run (or of a `new` scope) empty generations are dropped and the
//! remaining ones renumbered, and the trace states of the values get their final numbers.

use super::hashing::IntMap;

use air::{Span, Sym};

use super::errors::{ExecResult, Uncatchable, STREAM_MAX_SIZE};
use super::trace::{Source, TraceMerger};
use super::values::{LazyAggregate, ValueAggregate};

/// Where a stream value goes.
#[derive(Debug, Clone, Copy)]
pub enum Generation {
    /// A value merged from input data, with its recorded generation.
    Data(Source, u32),
    /// A value produced by this run.
    New,
}

#[derive(Debug, Default, Clone)]
struct Generations {
    values: Vec<Vec<LazyAggregate>>,
    size: usize,
}

impl Generations {
    fn add(&mut self, value: LazyAggregate, generation: usize) {
        if generation >= self.values.len() {
            self.values.resize_with(generation + 1, Vec::new);
        }
        self.values[generation].push(value);
        self.size += 1;
    }

    /// The non-empty generations after the first `skip` non-empty ones. The reference counts
    /// `skip` in all generations but skips only non-empty ones; both agree when no generation
    /// is empty, and following it keeps fold iterations identical.
    fn slices(&self, skip: usize) -> impl Iterator<Item = &[LazyAggregate]> {
        self.values
            .iter()
            .filter(|g| !g.is_empty())
            .skip(skip)
            .map(Vec::as_slice)
    }

    fn iter(&self) -> impl Iterator<Item = &LazyAggregate> {
        self.values.iter().flatten()
    }

    fn compact(&mut self) {
        self.values.retain(|g| !g.is_empty());
    }
}

/// Generation counts at some moment: where a fold continues from.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamCursor {
    previous: usize,
    current: usize,
    new: usize,
}

#[derive(Debug, Default, Clone)]
pub struct Stream {
    previous: Generations,
    current: Generations,
    new: Generations,
}

impl Stream {
    pub fn add(&mut self, value: LazyAggregate, generation: Generation) -> ExecResult<()> {
        match generation {
            Generation::Data(Source::Previous, g) => self.previous.add(value, g as usize),
            Generation::Data(Source::Current, g) => self.current.add(value, g as usize),
            Generation::New => {
                let last = self.new.values.len().saturating_sub(1);
                self.new.add(value, last);
            }
        }
        if self.previous.size + self.current.size + self.new.size >= STREAM_MAX_SIZE {
            return Err(Uncatchable::StreamSizeLimitExceeded.into());
        }
        Ok(())
    }

    /// The values, parsed as they are read (see [`LazyAggregate`]).
    pub fn values(&self) -> ExecResult<Vec<ValueAggregate>> {
        self.previous
            .iter()
            .chain(self.current.iter())
            .chain(self.new.iter())
            .map(|value| value.get().cloned())
            .collect()
    }

    pub fn cursor(&self) -> StreamCursor {
        StreamCursor {
            previous: self.previous.values.len(),
            current: self.current.values.len(),
            new: self.new.values.len(),
        }
    }

    /// The generations a fold has not seen yet, their values parsed.
    pub fn generations_since(&self, cursor: StreamCursor) -> ExecResult<Vec<Vec<ValueAggregate>>> {
        self.previous
            .slices(cursor.previous)
            .chain(self.current.slices(cursor.current))
            .chain(self.new.slices(cursor.new))
            .map(|values| values.iter().map(|value| value.get().cloned()).collect())
            .collect()
    }

    /// Opens a new generation: values this run adds from now on go into it.
    pub fn open_generation(&mut self) {
        self.new.values.push(Vec::new());
    }

    /// Drops the last new generation if nothing was added to it.
    pub fn drop_empty_last_generation(&mut self) {
        if self.new.values.last().is_some_and(Vec::is_empty) {
            self.new.values.pop();
        }
    }

    /// Drops empty generations, renumbers the rest and writes the numbers into the trace.
    pub fn compact(&mut self, trace: &mut TraceMerger) -> ExecResult<()> {
        self.previous.compact();
        self.current.compact();
        self.new.compact();
        let all = self
            .previous
            .values
            .iter()
            .chain(&self.current.values)
            .chain(&self.new.values);
        for (generation, values) in all.enumerate() {
            for value in values {
                trace
                    .set_generation(value.trace_pos(), generation as u32)
                    .map_err(Uncatchable::GenerationCompaction)?;
            }
        }
        Ok(())
    }
}

struct Scoped {
    /// `None` for the global stream; the span of the `new` that created a restricted one.
    scope: Option<Span>,
    stream: Stream,
}

impl Scoped {
    fn covers(&self, position: u32) -> bool {
        self.scope
            .is_none_or(|span| span.start <= position && position < span.end)
    }
}

/// All streams of a run, by name; a `new` scope shadows a stream for the instructions inside it.
#[derive(Default)]
pub struct Streams {
    by_name: IntMap<Sym, Vec<Scoped>>,
}

impl Streams {
    /// The stream `name` as seen by the instruction at byte `position` of the script.
    pub fn get(&self, name: Sym, position: u32) -> Option<&Stream> {
        let scopes = self.by_name.get(&name)?;
        scopes
            .iter()
            .rev()
            .find(|s| s.covers(position))
            .map(|s| &s.stream)
    }

    pub fn get_mut(&mut self, name: Sym, position: u32) -> Option<&mut Stream> {
        let scopes = self.by_name.get_mut(&name)?;
        scopes
            .iter_mut()
            .rev()
            .find(|s| s.covers(position))
            .map(|s| &mut s.stream)
    }

    pub fn add(
        &mut self,
        name: Sym,
        position: u32,
        value: impl Into<LazyAggregate>,
        generation: Generation,
    ) -> ExecResult<()> {
        let value = value.into();
        if let Some(stream) = self.get_mut(name, position) {
            return stream.add(value, generation);
        }
        let mut stream = Stream::default();
        stream.add(value, generation)?;
        // Like the reference, a global stream created here replaces any scopes of that name.
        self.by_name.insert(
            name,
            vec![Scoped {
                scope: None,
                stream,
            }],
        );
        Ok(())
    }

    pub fn scope_start(&mut self, name: Sym, span: Span) {
        self.by_name.entry(name).or_default().push(Scoped {
            scope: Some(span),
            stream: Stream::default(),
        });
    }

    pub fn scope_end(&mut self, name: Sym, trace: &mut TraceMerger) -> ExecResult<()> {
        let Some(scopes) = self.by_name.get_mut(&name) else {
            return Ok(());
        };
        let last = scopes.pop();
        if scopes.is_empty() {
            self.by_name.remove(&name);
        }
        match last {
            Some(mut scoped) => scoped.stream.compact(trace),
            None => Ok(()),
        }
    }

    /// Compacts every stream still alive at the end of the run.
    pub fn compact_all(&mut self, trace: &mut TraceMerger) -> ExecResult<()> {
        for scopes in self.by_name.values_mut() {
            for scoped in scopes {
                scoped.stream.compact(trace)?;
            }
        }
        Ok(())
    }
}
