//! The AIR syntax tree.
//!
//! A [`Script`] is an arena: instructions, values, lenses and names live in flat vectors and refer
//! to each other by 32-bit ids. Names and string literals are interned, so a script holds each
//! distinct string once. This layout keeps parsing fast and memory small (a few bytes per value),
//! makes dropping and cloning cheap at any nesting depth, and lets a virtual machine keep parsed
//! scripts in a cache and execute them many times, comparing variables by [`Sym`].
//!
//! Every instruction and value carries its byte [`Span`] in the source it was parsed from; nodes
//! built by hand (a compiler's output) carry [`Span::DUMMY`].

use std::cell::Cell;
use std::num::NonZeroU32;

use crate::intern::Interner;

/// A byte range `start..end` in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// The span of nodes that were not parsed from text.
    pub const DUMMY: Span = Span { start: 0, end: 0 };

    /// A span from byte offsets.
    pub fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }

    /// The span as a `usize` range, for slicing the source.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    pub fn len(self) -> u32 {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// Whether `other` lies inside this span.
    pub fn contains(self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(NonZeroU32);

        impl $name {
            pub(crate) fn from_index(index: usize) -> Self {
                let raw = u32::try_from(index + 1).expect("AIR arena exceeds u32::MAX entries");
                $name(NonZeroU32::new(raw).expect("index + 1 is never zero"))
            }

            /// Position of the node in its arena.
            pub fn index(self) -> usize {
                self.0.get() as usize - 1
            }
        }
    };
}

id_type!(
    /// Refers to an instruction of a [`Script`].
    InstrId
);
id_type!(
    /// Refers to a value of a [`Script`].
    ValueId
);
id_type!(
    /// Refers to a lens of a [`Script`].
    LensId
);

impl ValueId {
    /// The id `n` places after this one: values pushed together have consecutive ids.
    pub(crate) fn offset(self, n: usize) -> Self {
        ValueId::from_index(self.index() + n)
    }
}

/// An interned string: a variable name (with its sigil, e.g. `$s` or `#$s`), a string literal's
/// content, a lens field or a comment. Two symbols of one script are equal exactly when their
/// strings are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sym(NonZeroU32);

impl Sym {
    /// A dense index, below [`Script::n_strings`]: tables indexed by symbol need no hashing.
    pub fn index(self) -> usize {
        self.0.get() as usize - 1
    }

    // The symbol of interner index `index`.
    fn from_index(index: usize) -> Sym {
        let value = u32::try_from(index + 1).expect("a symbol index fits 32 bits");
        Sym(NonZeroU32::new(value).expect("index + 1 is not zero"))
    }
}

/// A contiguous run of values, e.g. the arguments of a `call`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueRange {
    start: u32,
    len: u32,
}

impl ValueRange {
    /// The empty range.
    pub const EMPTY: ValueRange = ValueRange { start: 0, len: 0 };

    /// Number of values.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether the range is empty.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The ids in order.
    pub fn iter(self) -> impl ExactSizeIterator<Item = ValueId> {
        (self.start..self.start + self.len).map(|i| ValueId::from_index(i as usize))
    }
}

/// A value: an argument, operand or target of an instruction.
///
/// Variables keep their sigil in the name: `$s` is a stream, `%m` a stream map, `#s` or `#$s` a
/// canonicalized stream (the two spellings are different variables, as in the reference VM) and
/// `#%m` a canonicalized stream map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// `%init_peer_id%`: the peer that started the particle.
    InitPeerId,
    /// `%timestamp%`: the particle's creation time in milliseconds.
    Timestamp,
    /// `%ttl%`: the particle's time to live in milliseconds.
    Ttl,
    /// `[]`: the empty array, the only array literal of AIR.
    EmptyArray,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit signed integer literal.
    Int(i64),
    /// A float literal (at most 11 characters long, for determinism).
    Float(f64),
    /// A string literal, without its quotes. AIR strings have no escapes.
    String(Sym),
    /// `%last_error%`, optionally with a lens.
    LastError(Option<LensId>),
    /// `:error:`, optionally with a lens.
    Error(Option<LensId>),
    /// A scalar variable, optionally with a lens.
    Scalar(Sym, Option<LensId>),
    /// A stream variable `$name`.
    Stream(Sym),
    /// A stream map variable `%name`.
    StreamMap(Sym),
    /// A canonicalized stream `#name` or `#$name`, optionally with a lens.
    Canon(Sym, Option<LensId>),
    /// A canonicalized stream map `#%name`, optionally with a lens.
    CanonMap(Sym, Option<LensId>),
}

impl Value {
    /// The variable name, for values that are variables.
    pub fn variable(self) -> Option<Sym> {
        match self {
            Value::Scalar(name, _)
            | Value::Stream(name)
            | Value::StreamMap(name)
            | Value::Canon(name, _)
            | Value::CanonMap(name, _) => Some(name),
            _ => None,
        }
    }

    /// The lens applied to the value, if any.
    pub fn lens(self) -> Option<LensId> {
        match self {
            Value::LastError(lens)
            | Value::Error(lens)
            | Value::Scalar(_, lens)
            | Value::Canon(_, lens)
            | Value::CanonMap(_, lens) => lens,
            _ => None,
        }
    }

    /// What kind of value this is, in words, for messages ("a stream", "a string literal").
    pub fn describe(self) -> &'static str {
        match self {
            Value::InitPeerId => "`%init_peer_id%`",
            Value::Timestamp => "`%timestamp%`",
            Value::Ttl => "`%ttl%`",
            Value::EmptyArray => "the empty array `[]`",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string literal",
            Value::LastError(_) => "`%last_error%`",
            Value::Error(_) => "`:error:`",
            Value::Scalar(_, None) => "a scalar",
            Value::Scalar(_, Some(_)) => "a scalar with a lens",
            Value::Stream(_) => "a stream",
            Value::StreamMap(_) => "a stream map",
            Value::Canon(_, None) => "a canonicalized stream",
            Value::Canon(_, Some(_)) => "a canonicalized stream with a lens",
            Value::CanonMap(_, None) => "a canonicalized stream map",
            Value::CanonMap(_, Some(_)) => "a canonicalized stream map with a lens",
        }
    }
}

/// One step of a lens path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accessor {
    /// `.name`: a field of an object.
    Field(Sym),
    /// `.[N]` (or `[N]`): an element of an array.
    Index(u32),
    /// `.[name]`: a field or an element chosen by the value of the scalar `name`.
    Var(Sym),
}

/// A lens: what is taken out of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lens<'s> {
    /// `.$` followed by accessors, e.g. `.$.peers.[0]`. `flatten` records a trailing `!`, which the
    /// reference parses and ignores.
    Path {
        /// The accessors, at least one.
        accessors: &'s [Accessor],
        /// Whether the lens ends with `!`.
        flatten: bool,
    },
    /// `.length`: the length of an array or canonicalized stream.
    Length,
}

#[derive(Clone, Copy, Debug)]
enum LensDef {
    Path { start: u32, len: u32, flatten: bool },
    Length,
}

/// An instruction. Operands are ids into the owning [`Script`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    /// `(call PEER (SERVICE FUNCTION) [ARGS...] OUTPUT?)`.
    Call(Call),
    /// `(canon PEER STREAM TARGET)` in one of its three forms.
    Canon(Canon),
    /// `(ap VALUE TARGET)`: put a value into a scalar or a stream.
    Ap {
        /// The value.
        value: ValueId,
        /// A scalar or a stream.
        target: ValueId,
    },
    /// `(ap (KEY VALUE) %map)`: put a key and a value into a stream map.
    ApMap {
        /// A string, an integer, a scalar (with or without lens) or a canon stream with a lens.
        key: ValueId,
        /// The value.
        value: ValueId,
        /// The stream map.
        map: ValueId,
    },
    /// `(seq A B)`: A, then B once A completed.
    Seq(InstrId, InstrId),
    /// `(par A B)`: A and B in parallel.
    Par(InstrId, InstrId),
    /// `(xor A B)`: A; B if A failed.
    Xor(InstrId, InstrId),
    /// `(new VARIABLE BODY)`: a fresh variable for the scope of BODY.
    New {
        /// A scalar, stream, stream map, canon stream or canon stream map.
        variable: ValueId,
        /// The scope.
        body: InstrId,
    },
    /// `(fold ITERABLE ITERATOR BODY LAST?)`.
    Fold(Fold),
    /// `(next ITERATOR)`: continue with the next element of the fold over ITERATOR.
    Next(ValueId),
    /// `(match A B BODY)`: BODY if A equals B.
    Match {
        /// Left operand.
        left: ValueId,
        /// Right operand.
        right: ValueId,
        /// Runs when the operands are equal.
        body: InstrId,
    },
    /// `(mismatch A B BODY)`: BODY if A differs from B.
    Mismatch {
        /// Left operand.
        left: ValueId,
        /// Right operand.
        right: ValueId,
        /// Runs when the operands differ.
        body: InstrId,
    },
    /// `(fail ...)` in one of its forms.
    Fail(Fail),
    /// `(never)`: never completes.
    Never,
    /// `(null)`: does nothing.
    Null,
    /// Stands for an instruction that did not parse. Only scripts with parse errors contain it.
    Error,
}

/// The parts of a `call`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    /// Where the call runs: `%init_peer_id%`, a string, a scalar (lens allowed) or a canon
    /// stream or canon map with a lens.
    pub peer: ValueId,
    /// The service id: a string, a scalar (lens allowed), or a canon with a lens.
    pub service: ValueId,
    /// The function name, with the same forms as the service.
    pub function: ValueId,
    /// The arguments.
    pub args: ValueRange,
    /// Where the result goes: a scalar or a stream, or nowhere.
    pub output: Option<ValueId>,
}

/// The three forms of `canon`, told apart by their operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CanonForm {
    /// `(canon PEER $stream #canon)`.
    Stream,
    /// `(canon PEER %map #%canon_map)`.
    StreamMap,
    /// `(canon PEER %map scalar)`: the map as a JSON object.
    StreamMapToScalar,
}

/// The parts of a `canon`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Canon {
    /// Which of the three forms.
    pub form: CanonForm,
    /// The peer where the stream is fixed.
    pub peer: ValueId,
    /// The stream or stream map.
    pub source: ValueId,
    /// The canon stream, canon map or scalar that receives the snapshot.
    pub target: ValueId,
}

/// What a `fold` iterates over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FoldForm {
    /// A scalar (lens allowed), a canon stream, a canon map (lens allowed) or `[]`.
    Scalar,
    /// A stream; iterations follow the stream as it grows.
    Stream,
    /// A stream map; the iterator is `{"key": .., "value": ..}`.
    StreamMap,
}

/// The parts of a `fold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fold {
    /// What is iterated over.
    pub form: FoldForm,
    /// The iterable.
    pub iterable: ValueId,
    /// The iterator: a scalar name.
    pub iterator: ValueId,
    /// Runs for each element.
    pub body: InstrId,
    /// Runs after the last element; the reference defaults it to `null` for `seq` bodies and
    /// `never` for `par` bodies when absent.
    pub last: Option<InstrId>,
}

/// The forms of `fail`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fail {
    /// `(fail VALUE)`: a scalar (lens allowed), a canon stream with a lens, `%last_error%` or
    /// `:error:` (both without lens).
    Value(ValueId),
    /// `(fail CODE "message")`: a literal error; CODE is a non-zero integer.
    Literal {
        /// The integer error code.
        code: ValueId,
        /// The string message.
        message: ValueId,
    },
}

impl Instr {
    /// The keyword that starts the instruction (`"call"`, `"seq"`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instr::Call(_) => "call",
            Instr::Canon(_) => "canon",
            Instr::Ap { .. } | Instr::ApMap { .. } => "ap",
            Instr::Seq(..) => "seq",
            Instr::Par(..) => "par",
            Instr::Xor(..) => "xor",
            Instr::New { .. } => "new",
            Instr::Fold(_) => "fold",
            Instr::Next(_) => "next",
            Instr::Match { .. } => "match",
            Instr::Mismatch { .. } => "mismatch",
            Instr::Fail(_) => "fail",
            Instr::Never => "never",
            Instr::Null => "null",
            Instr::Error => "<error>",
        }
    }

    /// The child instructions, in source order.
    pub fn children(&self) -> Children {
        let (first, second) = match *self {
            Instr::Seq(a, b) | Instr::Par(a, b) | Instr::Xor(a, b) => (Some(a), Some(b)),
            Instr::New { body, .. } | Instr::Match { body, .. } | Instr::Mismatch { body, .. } => {
                (Some(body), None)
            }
            Instr::Fold(fold) => (Some(fold.body), fold.last),
            _ => (None, None),
        };
        Children { first, second }
    }
}

/// Iterator over the child instructions of an instruction (at most two).
#[derive(Clone, Debug)]
pub struct Children {
    first: Option<InstrId>,
    second: Option<InstrId>,
}

impl Iterator for Children {
    type Item = InstrId;

    fn next(&mut self) -> Option<InstrId> {
        self.first.take().or_else(|| self.second.take())
    }
}

impl DoubleEndedIterator for Children {
    fn next_back(&mut self) -> Option<InstrId> {
        self.second.take().or_else(|| self.first.take())
    }
}

/// A comment (`; ...` to the end of the line), kept so that formatting preserves it.
#[derive(Clone, Copy, Debug)]
pub struct Comment {
    /// The comment's text, including the leading `;`, without trailing whitespace.
    pub text: Sym,
    /// Where it was.
    pub span: Span,
}

// Storage. Instructions and values are packed rows, with operand values of one instruction
// stored next to each other, so that an instruction takes 17 bytes and a value 10 bytes.
// `Script::push_instr` copies operands that are not adjacent.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum InstrKind {
    // a: first value (peer; service and function follow, then the arguments, then the output)
    // b: number of arguments, with `OUTPUT_FLAG` set when the call has an output.
    Call,
    // a: first of the three values (peer, source, target).
    CanonStream,
    CanonStreamMap,
    CanonStreamMapToScalar,
    // a: first of the two values (value, target).
    Ap,
    // a: first of the three values (key, value, map).
    ApMap,
    // a, b: instruction ids.
    Seq,
    Par,
    Xor,
    // a: the variable, b: the body.
    New,
    // a: the iterable (the iterator follows), b: the body, or for the `*Last` kinds an index
    // into `fold_tails`.
    FoldScalar,
    FoldStream,
    FoldStreamMap,
    FoldScalarLast,
    FoldStreamLast,
    FoldStreamMapLast,
    // a: the iterator.
    Next,
    // a: the left value (the right one follows), b: the body.
    Match,
    Mismatch,
    // a: the value.
    FailValue,
    // a: the code (the message follows).
    FailLiteral,
    Never,
    Null,
    Error,
}

const OUTPUT_FLAG: u32 = 1 << 31;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum ValueKind {
    InitPeerId,
    Timestamp,
    Ttl,
    EmptyArray,
    Bool,
    Int,
    Float,
    String,
    LastError,
    LastErrorLens,
    Error,
    ErrorLens,
    Scalar,
    ScalarLens,
    Stream,
    StreamMap,
    Canon,
    CanonLens,
    CanonMap,
    CanonMapLens,
}

// A value span length that does not fit in a byte is stored in `Values::long_lens`.
const LONG_LEN: u8 = u8::MAX;

// One instruction: 17 bytes, unaligned.
#[derive(Clone, Copy)]
#[repr(C, packed)]
struct InstrRow {
    kind: InstrKind,
    a: u32,
    b: u32,
    span: Span,
}

// One value: 10 bytes, unaligned. `payload` is a symbol, a lens id, an index into `numbers` or
// `lensed`, or a boolean, by kind.
#[derive(Clone, Copy)]
#[repr(C, packed)]
struct ValueRow {
    kind: ValueKind,
    len: u8,
    payload: u32,
    start: u32,
}

#[derive(Clone, Default)]
struct Values {
    rows: Vec<ValueRow>,
    // (value index, span length) for lengths of `LONG_LEN` or more, sorted by index.
    long_lens: Vec<(u32, u32)>,
}

/// A parsed or constructed AIR script. See the [module documentation](self).
#[derive(Clone)]
pub struct Script {
    instrs: Vec<InstrRow>,
    values: Values,
    fold_tails: Vec<(InstrId, InstrId)>,
    numbers: Vec<u64>,
    lensed: Vec<(Sym, LensId)>,
    lenses: Vec<LensDef>,
    accessors: Vec<Accessor>,
    strings: Interner,
    comments: Vec<Comment>,
    root: Option<InstrId>,
}

thread_local! {
    static SPARE_INSTRS: Cell<Vec<InstrRow>> = const { Cell::new(Vec::new()) };
    static SPARE_VALUES: Cell<Vec<ValueRow>> = const { Cell::new(Vec::new()) };
}

impl Drop for Script {
    fn drop(&mut self) {
        spare::give(&SPARE_INSTRS, std::mem::take(&mut self.instrs));
        spare::give(&SPARE_VALUES, std::mem::take(&mut self.values.rows));
    }
}

/// The two large arenas of a dropped script, kept by its thread for the next script of about
/// the same size. A buffer above the allocator's mmap threshold is mapped fresh when it is
/// allocated and handed back to the kernel when it is freed, so a thread parsing one script
/// after another would otherwise fault in every page of its arenas at every parse: about 8 % of
/// the time of parsing a 400 KB script.
mod spare {
    use std::cell::Cell;
    use std::thread::LocalKey;

    /// The smallest buffer worth keeping: the allocator's heap reuses smaller ones by itself.
    const MIN_BYTES: usize = 64 << 10;
    /// The largest buffer kept, so that a thread does not hold on to much memory after it has
    /// parsed a huge script.
    const MAX_BYTES: usize = 8 << 20;

    /// A buffer with room for `capacity` items: the thread's kept one if it is large enough
    /// and at most twice as large, else a new one.
    pub(super) fn take<T>(spare: &'static LocalKey<Cell<Vec<T>>>, capacity: usize) -> Vec<T> {
        let bytes = capacity * size_of::<T>();
        // A kept buffer has at least `MIN_BYTES`, so it fits only a request of half that.
        if bytes >= MIN_BYTES / 2 {
            let kept = spare.try_with(|cell| {
                let kept = cell.take();
                if (capacity..=2 * capacity).contains(&kept.capacity()) {
                    return Some(kept);
                }
                cell.set(kept);
                None
            });
            if let Ok(Some(kept)) = kept {
                return kept;
            }
        }
        let buffer: Vec<T> = Vec::with_capacity(capacity);
        // A huge script's arenas are not kept: faulting them in 4 KiB at a time took about a
        // seventh of the time of parsing a 100 MB script.
        if bytes > MAX_BYTES {
            huge_pages::prefer_huge_pages(buffer.as_ptr().cast(), bytes);
        }
        buffer
    }

    /// Keeps `buffer` for the thread's next script, in place of the one kept before, if its
    /// size is worth keeping.
    pub(super) fn give<T: Copy>(spare: &'static LocalKey<Cell<Vec<T>>>, mut buffer: Vec<T>) {
        if (MIN_BYTES..=MAX_BYTES).contains(&(buffer.capacity() * size_of::<T>())) {
            buffer.clear();
            // Fails only while the thread is exiting: the buffer is then freed.
            let _ = spare.try_with(|cell| cell.set(buffer));
        }
    }
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::print::print(self))
    }
}

impl Script {
    /// An empty script to build with the `push_*` methods; finish with [`Script::set_root`].
    pub fn new() -> Self {
        Script::with_capacity(0, 0, 0)
    }

    /// An empty script with room for about `instrs` instructions, `values` values and `strings`
    /// distinct strings.
    pub fn with_capacity(instrs: usize, values: usize, strings: usize) -> Self {
        Script {
            instrs: spare::take(&SPARE_INSTRS, instrs),
            values: Values {
                rows: spare::take(&SPARE_VALUES, values),
                long_lens: Vec::new(),
            },
            fold_tails: Vec::new(),
            numbers: Vec::new(),
            lensed: Vec::new(),
            lenses: Vec::new(),
            accessors: Vec::new(),
            strings: Interner::with_capacity(strings),
            comments: Vec::new(),
            root: None,
        }
    }

    /// Turns the interning front cache on, sized for about `expected_interns` calls of
    /// [`Script::intern`] (for bulk building, such as parsing), or off with 0.
    pub(crate) fn set_intern_cache(&mut self, expected_interns: usize) {
        self.strings.set_cache(expected_interns);
    }

    /// Reserves room for about `instrs` more instructions and `values` more values.
    pub fn reserve(&mut self, instrs: usize, values: usize) {
        self.instrs.reserve(instrs);
        self.values.rows.reserve(values);
    }

    /// Releases unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.instrs.shrink_to_fit();
        self.values.rows.shrink_to_fit();
        self.values.long_lens.shrink_to_fit();
        self.fold_tails.shrink_to_fit();
        self.numbers.shrink_to_fit();
        self.lensed.shrink_to_fit();
        self.lenses.shrink_to_fit();
        self.accessors.shrink_to_fit();
        self.strings.shrink_to_fit();
        self.comments.shrink_to_fit();
    }

    /// A copy with the same values and names but no instructions, comments or root: a new
    /// tree can be built in it from the values of this script.
    pub(crate) fn without_instrs(&self) -> Script {
        Script {
            instrs: Vec::new(),
            values: self.values.clone(),
            fold_tails: Vec::new(),
            numbers: self.numbers.clone(),
            lensed: self.lensed.clone(),
            lenses: self.lenses.clone(),
            accessors: self.accessors.clone(),
            strings: self.strings.clone(),
            comments: Vec::new(),
            root: None,
        }
    }

    pub(crate) fn shrink_strings(&mut self) {
        self.strings.shrink_to_fit();
    }

    /// Releases unused capacity where it is worth a reallocation (more than 16 KiB).
    pub(crate) fn shrink_large(&mut self) {
        fn shrink<T>(vec: &mut Vec<T>) {
            const WORTH: usize = 16 * 1024;
            if (vec.capacity() - vec.len()) * std::mem::size_of::<T>() > WORTH {
                vec.shrink_to_fit();
            }
        }
        shrink(&mut self.instrs);
        shrink(&mut self.values.rows);
        shrink(&mut self.numbers);
        shrink(&mut self.lensed);
        shrink(&mut self.lenses);
        shrink(&mut self.accessors);
        shrink(&mut self.comments);
    }

    /// The top-level instruction.
    ///
    /// # Panics
    /// If no root was set (a script from [`crate::parse`] always has one).
    pub fn root(&self) -> InstrId {
        self.root
            .expect("Script::root called on a script without a root; call set_root first")
    }

    /// Sets the top-level instruction.
    pub fn set_root(&mut self, root: InstrId) {
        self.root = Some(root);
    }

    /// Interns a string.
    #[inline]
    pub fn intern(&mut self, text: &str) -> Sym {
        Sym::from_index(self.strings.intern(text))
    }

    /// The symbol of `text`, if the script has it.
    pub fn lookup(&self, text: &str) -> Option<Sym> {
        self.strings.lookup(text).map(Sym::from_index)
    }

    /// The string of a symbol.
    pub fn str(&self, sym: Sym) -> &str {
        self.strings
            .get(sym.index())
            .expect("symbol belongs to another script")
    }

    /// The symbol with dense index `index`, if there is one.
    pub fn sym_at(&self, index: usize) -> Option<Sym> {
        self.strings.get(index).map(|_| Sym::from_index(index))
    }

    /// Number of distinct interned strings.
    pub fn n_strings(&self) -> usize {
        self.strings.len()
    }

    /// Adds an instruction. Its operand values are copied when they are not already stored
    /// next to each other in the order the instruction lists them.
    pub fn push_instr(&mut self, instr: Instr, span: Span) -> InstrId {
        let row = self.encode_instr(instr, span);
        let id = InstrId::from_index(self.instrs.len());
        self.instrs.push(row);
        id
    }

    /// Replaces instruction `id` (a placeholder that a parser reserved at an instruction's `(`,
    /// so that instructions are stored in source order).
    pub(crate) fn replace_instr(&mut self, id: InstrId, instr: Instr, span: Span) {
        let row = self.encode_instr(instr, span);
        self.instrs[id.index()] = row;
    }

    /// The three spare words of a reserved placeholder row (see [`Script::replace_instr`]),
    /// which a parser uses for its own bookkeeping while the instruction is open, so that open
    /// instructions need no memory of their own. Only the span's start is kept.
    pub(crate) fn reserved_words(&self, id: InstrId) -> [u32; 3] {
        let row = self.instrs[id.index()];
        [row.a, row.b, row.span.end]
    }

    /// Writes the spare words of a reserved placeholder row; see [`Script::reserved_words`].
    pub(crate) fn set_reserved_words(&mut self, id: InstrId, [a, b, end]: [u32; 3]) {
        let row = &mut self.instrs[id.index()];
        debug_assert!(matches!(row.kind, InstrKind::Error), "a reserved row");
        row.a = a;
        row.b = b;
        row.span.end = end;
    }

    fn encode_instr(&mut self, instr: Instr, span: Span) -> InstrRow {
        use InstrKind as K;
        let id_raw = |id: InstrId| id.0.get();
        let (kind, a, b) = match instr {
            Instr::Call(call) => {
                let peer = call.peer.0.get();
                let n_args = call.args.len() as u32;
                let in_place = call.service.0.get() == peer + 1
                    && call.function.0.get() == peer + 2
                    && (n_args == 0 || call.args.start + 1 == peer + 3)
                    && call.output.is_none_or(|o| o.0.get() == peer + 3 + n_args);
                let first = if in_place {
                    peer
                } else {
                    let mut operands = vec![call.peer, call.service, call.function];
                    operands.extend(call.args.iter());
                    operands.extend(call.output);
                    self.adjacent(&operands)
                };
                let flag = if call.output.is_some() {
                    OUTPUT_FLAG
                } else {
                    0
                };
                let n_args = u32::try_from(call.args.len()).expect("argument count fits u32");
                assert!(n_args < OUTPUT_FLAG, "too many call arguments");
                (K::Call, first, n_args | flag)
            }
            Instr::Canon(canon) => {
                let kind = match canon.form {
                    CanonForm::Stream => K::CanonStream,
                    CanonForm::StreamMap => K::CanonStreamMap,
                    CanonForm::StreamMapToScalar => K::CanonStreamMapToScalar,
                };
                (
                    kind,
                    self.adjacent(&[canon.peer, canon.source, canon.target]),
                    0,
                )
            }
            Instr::Ap { value, target } => (K::Ap, self.adjacent(&[value, target]), 0),
            Instr::ApMap { key, value, map } => (K::ApMap, self.adjacent(&[key, value, map]), 0),
            Instr::Seq(l, r) => (K::Seq, id_raw(l), id_raw(r)),
            Instr::Par(l, r) => (K::Par, id_raw(l), id_raw(r)),
            Instr::Xor(l, r) => (K::Xor, id_raw(l), id_raw(r)),
            Instr::New { variable, body } => (K::New, variable.0.get(), id_raw(body)),
            Instr::Fold(fold) => {
                let first = self.adjacent(&[fold.iterable, fold.iterator]);
                match (fold.form, fold.last) {
                    (FoldForm::Scalar, None) => (K::FoldScalar, first, id_raw(fold.body)),
                    (FoldForm::Stream, None) => (K::FoldStream, first, id_raw(fold.body)),
                    (FoldForm::StreamMap, None) => (K::FoldStreamMap, first, id_raw(fold.body)),
                    (form, Some(last)) => {
                        self.fold_tails.push((fold.body, last));
                        let tail = self.fold_tails.len() as u32 - 1;
                        let kind = match form {
                            FoldForm::Scalar => K::FoldScalarLast,
                            FoldForm::Stream => K::FoldStreamLast,
                            FoldForm::StreamMap => K::FoldStreamMapLast,
                        };
                        (kind, first, tail)
                    }
                }
            }
            Instr::Next(iterator) => (K::Next, iterator.0.get(), 0),
            Instr::Match { left, right, body } => {
                (K::Match, self.adjacent(&[left, right]), id_raw(body))
            }
            Instr::Mismatch { left, right, body } => {
                (K::Mismatch, self.adjacent(&[left, right]), id_raw(body))
            }
            Instr::Fail(Fail::Value(value)) => (K::FailValue, value.0.get(), 0),
            Instr::Fail(Fail::Literal { code, message }) => {
                (K::FailLiteral, self.adjacent(&[code, message]), 0)
            }
            Instr::Never => (K::Never, 0, 0),
            Instr::Null => (K::Null, 0, 0),
            Instr::Error => (K::Error, 0, 0),
        };
        InstrRow { kind, a, b, span }
    }

    /// Raw id of the first of `ids`, after copying them to the end of the value arena unless
    /// they already follow each other.
    fn adjacent(&mut self, ids: &[ValueId]) -> u32 {
        let first = ids[0].0.get();
        let in_place = ids
            .iter()
            .enumerate()
            .all(|(offset, id)| id.0.get() == first + offset as u32);
        if in_place {
            return first;
        }
        let copies: Vec<(Value, Span)> = ids
            .iter()
            .map(|&id| (self.value(id), self.value_span(id)))
            .collect();
        let range = self.push_values(copies);
        range.start + 1
    }

    /// The instruction `id`.
    pub fn instr(&self, id: InstrId) -> Instr {
        use InstrKind as K;
        let index = id.index();
        let row = self.instrs[index];
        let (a, b) = (row.a, row.b);
        let value = |offset: u32| ValueId(NonZeroU32::new(a + offset).expect("value id"));
        let instr_id = |raw: u32| InstrId(NonZeroU32::new(raw).expect("instruction id"));
        let fold = |form: FoldForm, with_last: bool| {
            let (body, last) = if with_last {
                let (body, last) = self.fold_tails[b as usize];
                (body, Some(last))
            } else {
                (instr_id(b), None)
            };
            Instr::Fold(Fold {
                form,
                iterable: value(0),
                iterator: value(1),
                body,
                last,
            })
        };
        let canon = |form: CanonForm| {
            Instr::Canon(Canon {
                form,
                peer: value(0),
                source: value(1),
                target: value(2),
            })
        };
        match row.kind {
            K::Call => {
                let n_args = b & !OUTPUT_FLAG;
                Instr::Call(Call {
                    peer: value(0),
                    service: value(1),
                    function: value(2),
                    args: ValueRange {
                        start: a - 1 + 3,
                        len: n_args,
                    },
                    output: (b & OUTPUT_FLAG != 0).then(|| value(3 + n_args)),
                })
            }
            K::CanonStream => canon(CanonForm::Stream),
            K::CanonStreamMap => canon(CanonForm::StreamMap),
            K::CanonStreamMapToScalar => canon(CanonForm::StreamMapToScalar),
            K::Ap => Instr::Ap {
                value: value(0),
                target: value(1),
            },
            K::ApMap => Instr::ApMap {
                key: value(0),
                value: value(1),
                map: value(2),
            },
            K::Seq => Instr::Seq(instr_id(a), instr_id(b)),
            K::Par => Instr::Par(instr_id(a), instr_id(b)),
            K::Xor => Instr::Xor(instr_id(a), instr_id(b)),
            K::New => Instr::New {
                variable: value(0),
                body: instr_id(b),
            },
            K::FoldScalar => fold(FoldForm::Scalar, false),
            K::FoldStream => fold(FoldForm::Stream, false),
            K::FoldStreamMap => fold(FoldForm::StreamMap, false),
            K::FoldScalarLast => fold(FoldForm::Scalar, true),
            K::FoldStreamLast => fold(FoldForm::Stream, true),
            K::FoldStreamMapLast => fold(FoldForm::StreamMap, true),
            K::Next => Instr::Next(value(0)),
            K::Match => Instr::Match {
                left: value(0),
                right: value(1),
                body: instr_id(b),
            },
            K::Mismatch => Instr::Mismatch {
                left: value(0),
                right: value(1),
                body: instr_id(b),
            },
            K::FailValue => Instr::Fail(Fail::Value(value(0))),
            K::FailLiteral => Instr::Fail(Fail::Literal {
                code: value(0),
                message: value(1),
            }),
            K::Never => Instr::Never,
            K::Null => Instr::Null,
            K::Error => Instr::Error,
        }
    }

    /// The span of instruction `id`.
    pub fn instr_span(&self, id: InstrId) -> Span {
        self.instrs[id.index()].span
    }

    /// Whether the arena holds a fold over a stream or a stream map.
    pub fn has_stream_folds(&self) -> bool {
        use InstrKind as K;
        self.instrs.iter().any(|row| {
            matches!(
                row.kind,
                K::FoldStream | K::FoldStreamMap | K::FoldStreamLast | K::FoldStreamMapLast
            )
        })
    }

    /// Number of instructions in the arena (including any unreachable ones).
    pub fn n_instrs(&self) -> usize {
        self.instrs.len()
    }

    /// Adds a lens path. `accessors` must not be empty.
    pub fn push_lens_path(&mut self, accessors: &[Accessor], flatten: bool) -> LensId {
        assert!(
            !accessors.is_empty(),
            "a lens path has at least one accessor"
        );
        let first = self.accessors.len();
        self.accessors.extend_from_slice(accessors);
        self.push_lens_path_from(first, flatten)
    }

    pub(crate) fn n_accessors(&self) -> usize {
        self.accessors.len()
    }

    pub(crate) fn push_accessor(&mut self, accessor: Accessor) {
        self.accessors.push(accessor);
    }

    /// A lens path of the accessors pushed since there were `first`.
    pub(crate) fn push_lens_path_from(&mut self, first: usize, flatten: bool) -> LensId {
        self.push_lens_def(LensDef::Path {
            start: first as u32,
            len: (self.accessors.len() - first) as u32,
            flatten,
        })
    }

    /// Adds the `.length` lens.
    pub fn push_lens_length(&mut self) -> LensId {
        self.push_lens_def(LensDef::Length)
    }

    fn push_lens_def(&mut self, def: LensDef) -> LensId {
        let id = LensId::from_index(self.lenses.len());
        self.lenses.push(def);
        id
    }

    /// The lens `id`.
    pub fn lens(&self, id: LensId) -> Lens<'_> {
        match self.lenses[id.index()] {
            LensDef::Path {
                start,
                len,
                flatten,
            } => Lens::Path {
                accessors: &self.accessors[start as usize..(start + len) as usize],
                flatten,
            },
            LensDef::Length => Lens::Length,
        }
    }

    /// Adds a value. Values that an instruction takes as a [`ValueRange`] must be pushed one
    /// after another (see [`Script::push_values`]).
    pub fn push_value(&mut self, value: Value, span: Span) -> ValueId {
        use ValueKind as K;
        let sym = |s: Sym| s.index() as u32;
        let (kind, payload) = match value {
            Value::InitPeerId => (K::InitPeerId, 0),
            Value::Timestamp => (K::Timestamp, 0),
            Value::Ttl => (K::Ttl, 0),
            Value::EmptyArray => (K::EmptyArray, 0),
            Value::Bool(b) => (K::Bool, b as u32),
            Value::Int(n) => (K::Int, self.push_number(n as u64)),
            Value::Float(f) => (K::Float, self.push_number(f.to_bits())),
            Value::String(s) => (K::String, sym(s)),
            Value::LastError(None) => (K::LastError, 0),
            Value::LastError(Some(lens)) => (K::LastErrorLens, lens.0.get()),
            Value::Error(None) => (K::Error, 0),
            Value::Error(Some(lens)) => (K::ErrorLens, lens.0.get()),
            Value::Scalar(name, None) => (K::Scalar, sym(name)),
            Value::Scalar(name, Some(lens)) => (K::ScalarLens, self.push_lensed(name, lens)),
            Value::Stream(name) => (K::Stream, sym(name)),
            Value::StreamMap(name) => (K::StreamMap, sym(name)),
            Value::Canon(name, None) => (K::Canon, sym(name)),
            Value::Canon(name, Some(lens)) => (K::CanonLens, self.push_lensed(name, lens)),
            Value::CanonMap(name, None) => (K::CanonMap, sym(name)),
            Value::CanonMap(name, Some(lens)) => (K::CanonMapLens, self.push_lensed(name, lens)),
        };
        let values = &mut self.values;
        let index = values.rows.len();
        let id = ValueId::from_index(index);
        let len = span.len();
        let short_len = if len < u32::from(LONG_LEN) {
            len as u8
        } else {
            values.long_lens.push((index as u32, len));
            LONG_LEN
        };
        values.rows.push(ValueRow {
            kind,
            len: short_len,
            payload,
            start: span.start,
        });
        id
    }

    fn push_number(&mut self, bits: u64) -> u32 {
        self.numbers.push(bits);
        (self.numbers.len() - 1) as u32
    }

    fn push_lensed(&mut self, name: Sym, lens: LensId) -> u32 {
        self.lensed.push((name, lens));
        (self.lensed.len() - 1) as u32
    }

    /// Adds several values one after another and returns them as a range.
    pub fn push_values(&mut self, values: impl IntoIterator<Item = (Value, Span)>) -> ValueRange {
        let start = self.values.rows.len() as u32;
        for (value, span) in values {
            self.push_value(value, span);
        }
        ValueRange {
            start,
            len: self.values.rows.len() as u32 - start,
        }
    }

    /// Forgets the values pushed after the first `len` (a parser rolling back an attempt).
    pub(crate) fn truncate_values(&mut self, len: usize) {
        let values = &mut self.values;
        values.rows.truncate(len);
        while values
            .long_lens
            .last()
            .is_some_and(|&(i, _)| i as usize >= len)
        {
            values.long_lens.pop();
        }
    }

    /// The range of the last `len` values pushed.
    pub(crate) fn last_values(&self, len: usize) -> ValueRange {
        ValueRange {
            start: (self.values.rows.len() - len) as u32,
            len: len as u32,
        }
    }

    /// The value `id`.
    pub fn value(&self, id: ValueId) -> Value {
        use ValueKind as K;
        let index = id.index();
        let row = self.values.rows[index];
        let payload = row.payload;
        let sym = || Sym::from_index(payload as usize);
        let lens = || LensId(NonZeroU32::new(payload).expect("valid lens id"));
        let lensed = || self.lensed[payload as usize];
        match row.kind {
            K::InitPeerId => Value::InitPeerId,
            K::Timestamp => Value::Timestamp,
            K::Ttl => Value::Ttl,
            K::EmptyArray => Value::EmptyArray,
            K::Bool => Value::Bool(payload != 0),
            K::Int => Value::Int(self.numbers[payload as usize] as i64),
            K::Float => Value::Float(f64::from_bits(self.numbers[payload as usize])),
            K::String => Value::String(sym()),
            K::LastError => Value::LastError(None),
            K::LastErrorLens => Value::LastError(Some(lens())),
            K::Error => Value::Error(None),
            K::ErrorLens => Value::Error(Some(lens())),
            K::Scalar => Value::Scalar(sym(), None),
            K::ScalarLens => {
                let (name, lens) = lensed();
                Value::Scalar(name, Some(lens))
            }
            K::Stream => Value::Stream(sym()),
            K::StreamMap => Value::StreamMap(sym()),
            K::Canon => Value::Canon(sym(), None),
            K::CanonLens => {
                let (name, lens) = lensed();
                Value::Canon(name, Some(lens))
            }
            K::CanonMap => Value::CanonMap(sym(), None),
            K::CanonMapLens => {
                let (name, lens) = lensed();
                Value::CanonMap(name, Some(lens))
            }
        }
    }

    /// The variable a value names and the lens applied to that variable, read straight from
    /// the value's row: what checks of variable uses need, without building the [`Value`].
    /// The lenses of `%last_error%` and `:error:` are not included: they apply to no variable.
    #[inline]
    pub fn variable_and_lens(&self, id: ValueId) -> (Option<Sym>, Option<LensId>) {
        use ValueKind as K;
        let row = self.values.rows[id.index()];
        match row.kind {
            K::Scalar | K::Stream | K::StreamMap | K::Canon | K::CanonMap => {
                (Some(Sym::from_index(row.payload as usize)), None)
            }
            K::ScalarLens | K::CanonLens | K::CanonMapLens => {
                let (name, lens) = self.lensed[row.payload as usize];
                (Some(name), Some(lens))
            }
            _ => (None, None),
        }
    }

    /// The span of value `id`.
    pub fn value_span(&self, id: ValueId) -> Span {
        let index = id.index();
        let values = &self.values;
        let row = values.rows[index];
        let start = row.start;
        let len = match row.len {
            LONG_LEN => {
                let at = values
                    .long_lens
                    .binary_search_by_key(&(index as u32), |&(i, _)| i)
                    .expect("long span recorded");
                values.long_lens[at].1
            }
            short => u32::from(short),
        };
        Span::new(start, start + len)
    }

    /// Number of values in the arena.
    pub fn n_values(&self) -> usize {
        self.values.rows.len()
    }

    /// Records a comment.
    pub fn push_comment(&mut self, text: &str, span: Span) {
        let text = self.intern(text);
        self.comments.push(Comment { text, span });
    }

    /// The comments, in source order.
    pub fn comments(&self) -> &[Comment] {
        &self.comments
    }

    /// Heap bytes in use by the script's nodes (not counting allocator slack or unused
    /// capacity).
    pub fn heap_size(&self) -> usize {
        use std::mem::size_of;
        let n_instrs = self.n_instrs();
        let n_values = self.n_values();
        n_instrs * size_of::<InstrRow>()
            + n_values * size_of::<ValueRow>()
            + self.values.long_lens.len() * 8
            + self.fold_tails.len() * 8
            + self.numbers.len() * 8
            + self.lensed.len() * 8
            + self.lenses.len() * size_of::<LensDef>()
            + self.accessors.len() * size_of::<Accessor>()
            + self.comments.len() * size_of::<Comment>()
            + self.strings.iter().map(|s| s.len() + 4).sum::<usize>()
    }

    /// All instructions reachable from the root, parents before children, in source order.
    pub fn preorder(&self) -> Preorder<'_> {
        Preorder {
            script: self,
            stack: self.root.into_iter().collect(),
        }
    }
}

/// Iterator over instructions in pre-order; see [`Script::preorder`].
pub struct Preorder<'s> {
    script: &'s Script,
    stack: Vec<InstrId>,
}

impl Iterator for Preorder<'_> {
    type Item = InstrId;

    fn next(&mut self) -> Option<InstrId> {
        let id = self.stack.pop()?;
        self.stack.extend(self.script.instr(id).children().rev());
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_layout() {
        assert_eq!(std::mem::size_of::<InstrRow>(), 17);
        assert_eq!(std::mem::size_of::<ValueRow>(), 10);
        assert_eq!(std::mem::size_of::<Option<InstrId>>(), 4);
    }

    // A chain of `n` calls in `seq`s: about 2n instructions and 4n values.
    fn calls(n: usize) -> String {
        let mut source = String::new();
        for i in 0..n {
            source.push_str(&format!("(seq (call p (\"s\" \"f\") [] x{i}) "));
        }
        source.push_str("(null)");
        source.push_str(&")".repeat(n));
        source
    }

    #[test]
    fn a_thread_reuses_the_arenas_of_a_dropped_script() {
        let source = calls(5_000);
        let first = crate::parse(&source).script;
        let (instrs, values) = (first.instrs.as_ptr(), first.values.rows.as_ptr());
        drop(first);
        let second = crate::parse(&source).script;
        assert_eq!(second.instrs.as_ptr(), instrs);
        assert_eq!(second.values.rows.as_ptr(), values);
        // A script much smaller than the kept arenas does not take them: a kept (cached)
        // script would hold them.
        drop(second);
        let small = crate::parse(&calls(1_000)).script;
        assert_ne!(small.instrs.as_ptr(), instrs);
        assert!(small.instrs.capacity() < 3_000);
        // Nor do scripts from another thread.
        let other =
            std::thread::spawn(move || crate::parse(&source).script.instrs.as_ptr() as usize);
        assert_ne!(other.join().unwrap(), instrs as usize);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_arenas_of_a_huge_script_ask_for_huge_pages() {
        if !huge_pages::kernel_has_huge_pages() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        let advised = |rows: usize| {
            let arena = spare::take(&SPARE_INSTRS, rows);
            let inside = (arena.as_ptr() as usize).next_multiple_of(huge_pages::HUGE_PAGE);
            huge_pages::is_advised(inside + huge_pages::HUGE_PAGE)
        };
        // 17-byte rows: 1,000,000 of them are 16 MiB, above what a thread keeps; 400,000 are
        // 6.5 MiB, kept for reuse instead.
        assert_eq!(advised(1_000_000), Some(true));
        assert_ne!(advised(400_000), Some(true));
    }

    #[test]
    fn values_round_trip_through_slots() {
        let mut script = Script::new();
        let name = script.intern("x");
        let lens = script.push_lens_length();
        let values = [
            Value::InitPeerId,
            Value::Bool(true),
            Value::Int(-5),
            Value::Float(1.5),
            Value::String(name),
            Value::LastError(Some(lens)),
            Value::Scalar(name, Some(lens)),
            Value::Canon(name, None),
            Value::CanonMap(name, Some(lens)),
        ];
        for value in values {
            let id = script.push_value(value, Span::new(3, 9));
            assert_eq!(script.value(id), value);
            assert_eq!(script.value_span(id), Span::new(3, 9));
        }
    }
}
