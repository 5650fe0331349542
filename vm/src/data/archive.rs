//! The rkyv archive of [`InterpreterData`], laid out as the reference lays it out.
//!
//! The reference keeps peer ids of `RequestSentBy` states as `Rc<String>`, which rkyv archives as
//! a shared pointer to an archived `String`, not as a shared `str`. The in-memory model uses
//! `Rc<str>`, so the trace goes through mirror types here; everything else (stores, signatures,
//! the other states) is archived directly. Equal peer ids are interned both ways, so each is
//! stored once in the archive and once in memory.

use super::buffer::ArchiveBuffer;
use super::cid::Cid;
use super::model::{
    ApResult, CallResult, CanonResult, ExecutedState, FoldResult, InterpreterData, ParResult,
    Sender, ValueRef,
};
use super::signatures::SignatureStore;
use super::store::{CidInfo, CidStore};

use rkyv::boxed::{ArchivedBox, BoxResolver};
use rkyv::bytecheck::CheckBytes;
use rkyv::de::{SharedDeserializeRegistry, SharedPointer};
use rkyv::ser::serializers::{AllocScratch, CompositeSerializer, FallbackScratch, HeapScratch};
use rkyv::ser::{Serializer, SharedSerializeRegistry};
use rkyv::string::{ArchivedString, StringResolver};
use rkyv::validation::validators::{ArchiveError, ArchiveValidator};
use rkyv::validation::{ArchiveContext, SharedContext};
use rkyv::with::{ArchiveWith, DeserializeWith, Inline, SerializeWith};
use rkyv::{Archive, ArchiveUnsized, Deserialize as _, Fallible, RelPtr};

use std::alloc::{Layout, LayoutError};
use std::any::{Any, TypeId};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Scratch space the serializer starts with; larger archives fall back to the heap.
const SCRATCH_SIZE: usize = 4096;

// Read field by field (see `from_bytes`), so not `Deserialize` as a whole; written from the
// data's own stores and signatures, borrowed.
#[derive(rkyv::Archive, rkyv::Serialize)]
#[archive(check_bytes)]
struct DataRepr<'a> {
    trace: Vec<StateRepr>,
    last_call_request_id: u32,
    #[with(Inline)]
    cid_info: &'a CidInfo,
    #[with(Inline)]
    signatures: &'a SignatureStore,
}

#[derive(rkyv::Archive, rkyv::Serialize)]
#[archive(check_bytes)]
enum StateRepr {
    Par(ParResult),
    Call(CallRepr),
    Fold(FoldResult),
    Ap(ApResult),
    Canon(CanonRepr),
}

#[derive(rkyv::Archive, rkyv::Serialize)]
#[archive(check_bytes)]
enum CallRepr {
    RequestSentBy(SenderRepr),
    Executed(ValueRef),
    Failed(Cid),
}

#[derive(rkyv::Archive, rkyv::Serialize)]
#[archive(check_bytes)]
enum SenderRepr {
    PeerId(Rc<String>),
    PeerIdWithCallId { peer_id: Rc<String>, call_id: u32 },
}

#[derive(rkyv::Archive, rkyv::Serialize)]
#[archive(check_bytes)]
enum CanonRepr {
    RequestSentBy(Rc<String>),
    Executed(Cid),
}

/// Appends the archive of `data` to `out`, which may already hold other bytes (such as the
/// envelope's header): the archive is laid out as if it started its own buffer.
pub(crate) fn write(data: &InterpreterData, out: &mut Vec<u8>) {
    // Keyed by peer ids that data may choose: a seeded hash (and cheaper than SipHash).
    let mut peers = PeerTexts::default();
    let mut archived_peer = |peer| intern_for_archive(&mut peers, peer);
    let trace = data
        .trace
        .iter()
        .map(|state| match state {
            ExecutedState::Par(par) => StateRepr::Par(*par),
            ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerId(peer))) => {
                StateRepr::Call(CallRepr::RequestSentBy(SenderRepr::PeerId(archived_peer(
                    peer,
                ))))
            }
            ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerIdWithCallId {
                peer_id,
                call_id,
            })) => StateRepr::Call(CallRepr::RequestSentBy(SenderRepr::PeerIdWithCallId {
                peer_id: archived_peer(peer_id),
                call_id: *call_id,
            })),
            ExecutedState::Call(CallResult::Executed(value)) => {
                StateRepr::Call(CallRepr::Executed(value.clone()))
            }
            ExecutedState::Call(CallResult::Failed(cid)) => {
                StateRepr::Call(CallRepr::Failed(cid.clone()))
            }
            ExecutedState::Fold(fold) => StateRepr::Fold(fold.clone()),
            ExecutedState::Ap(ap) => StateRepr::Ap(ap.clone()),
            ExecutedState::Canon(CanonResult::RequestSentBy(peer)) => {
                StateRepr::Canon(CanonRepr::RequestSentBy(archived_peer(peer)))
            }
            ExecutedState::Canon(CanonResult::Executed(cid)) => {
                StateRepr::Canon(CanonRepr::Executed(cid.clone()))
            }
        })
        .collect();
    let repr = DataRepr {
        trace,
        last_call_request_id: data.last_call_request_id,
        cid_info: &data.cid_info,
        signatures: &data.signatures,
    };

    let mut serializer = CompositeSerializer::new(
        AppendSerializer {
            start: out.len(),
            out,
        },
        FallbackScratch::<HeapScratch<SCRATCH_SIZE>, AllocScratch>::default(),
        SharedPositions(HashMap::with_capacity_and_hasher(
            shared_pointer_count(data),
            KeyedAddressHash::default(),
        )),
    );
    serializer
        .serialize_value(&repr)
        .expect("archiving in-memory data fails only when out of memory");
}

/// Where the target of each shared pointer (CIDs, peer ids, store entries) was written, by its
/// address. rkyv's own registry hashes with SipHash and grows from empty; the addresses here
/// are this process's own allocations, hashed as the reader's are.
struct SharedPositions(HashMap<usize, usize, KeyedAddressHash>);

impl Fallible for SharedPositions {
    type Error = std::convert::Infallible;
}

impl SharedSerializeRegistry for SharedPositions {
    fn get_shared_ptr(&self, value: *const u8) -> Option<usize> {
        self.0.get(&(value as usize)).copied()
    }

    fn add_shared_ptr(&mut self, value: *const u8, pos: usize) -> Result<(), Self::Error> {
        // rkyv adds a pointer only after `get_shared_ptr` did not find it.
        self.0.entry(value as usize).or_insert(pos);
        Ok(())
    }
}

/// About how many shared pointers archiving `data` meets: a CID or two per store entry and one
/// per trace state, each CID counted once as the in-memory stores share them.
fn shared_pointer_count(data: &InterpreterData) -> usize {
    let stores = &data.cid_info;
    2 * (stores.value_store.len()
        + stores.tetraplet_store.len()
        + stores.canon_element_store.len()
        + stores.canon_result_store.len()
        + stores.service_result_store.len())
        + data.trace.len()
}

/// The archive of `data` on its own.
pub(crate) fn to_vec(data: &InterpreterData) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimated_size(data));
    write(data, &mut out);
    out
}

/// Writes an archive at the end of a vector. Positions, and thus alignment padding, count from
/// where the archive starts, so the bytes are those of a standalone archive; alignment in memory
/// matters only when reading, and [`from_bytes`] copies into an aligned buffer anyway.
struct AppendSerializer<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Fallible for AppendSerializer<'_> {
    type Error = std::convert::Infallible;
}

impl Serializer for AppendSerializer<'_> {
    fn pos(&self) -> usize {
        self.out.len() - self.start
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// The size of the archive of `data`, a little over: the texts it holds (each CID once, as the
/// writer shares equal `Rc`s) and a fixed size per entry and per state for the rest. Output
/// buffers are sized with it, so it errs high: a buffer a few bytes short doubles, which for a
/// 100 MB data is 100 MB more, while one a little large costs only its unused address space.
/// The margin is on the fixed sizes, which are estimates; texts are counted exactly, so that a
/// data holding a large value gets no slack in proportion to it.
pub(crate) fn estimated_size(data: &InterpreterData) -> usize {
    // The bytes of a store's texts (keys and the `text` of each entry), and its fixed sizes.
    fn store<T>(store: &CidStore<T>, per_entry: usize, text: impl Fn(&T) -> usize) -> [usize; 2] {
        let texts = store
            .iter()
            .map(|(cid, value)| cid.as_str().len() + text(value))
            .sum();
        [texts, per_entry * store.len()]
    }
    let stores = &data.cid_info;
    let parts = [
        store(&stores.value_store, 16, |value| value.as_str().len()),
        store(&stores.tetraplet_store, 48, |t| {
            t.peer_pk.len() + t.service_id.len() + t.function_name.len() + t.lens.len()
        }),
        store(&stores.canon_element_store, 40, |_| 0),
        store(&stores.canon_result_store, 24, |canon| {
            8 * canon.values.len()
        }),
        store(&stores.service_result_store, 40, |result| {
            result.argument_hash.len()
        }),
    ];
    let texts: usize = parts.iter().map(|[texts, _]| texts).sum();
    let fixed = parts.iter().map(|[_, fixed]| fixed).sum::<usize>()
        + data.signatures.len() * 128
        + data.trace.iter().map(state_size).sum::<usize>();
    texts + fixed + fixed / 4 + 512
}

/// A trace state's part of [`estimated_size`]: its fixed part, a fold's iterations, and the
/// CID it names (which the reference does not share with the stores' keys).
fn state_size(state: &ExecutedState) -> usize {
    24 + match state {
        ExecutedState::Call(CallResult::Executed(
            ValueRef::Scalar(cid) | ValueRef::Stream { cid, .. } | ValueRef::Unused(cid),
        ))
        | ExecutedState::Call(CallResult::Failed(cid))
        | ExecutedState::Canon(CanonResult::Executed(cid)) => cid.as_str().len(),
        ExecutedState::Fold(fold) => 40 * fold.lore.len(),
        _ => 0,
    }
}

/// Peer ids as the archive keeps them, by their text.
type PeerTexts<'a> = HashMap<&'a str, Rc<String>, foldhash::fast::RandomState>;

fn intern_for_archive<'a>(peers: &mut PeerTexts<'a>, peer: &'a str) -> Rc<String> {
    Rc::clone(
        peers
            .entry(peer)
            .or_insert_with(|| Rc::new(peer.to_owned())),
    )
}

/// Validates and reads an archive; any malformed input gives an error, never a panic.
///
/// Store entries that `known` holds with the same CID and content (the previous data's, when
/// reading the current one) are taken from it: no copy is made, and they compare equal to
/// `known`'s by address.
pub(crate) fn from_bytes(bytes: &[u8], known: Option<&CidInfo>) -> Result<InterpreterData, String> {
    // Shared-pointer targets are keyed by 32-bit offsets.
    if u32::try_from(bytes.len()).is_err() {
        return Err(format!(
            "an archive of {} bytes is larger than 4 GiB",
            bytes.len()
        ));
    }
    // Archives are read in place and need the alignment of their largest field.
    let mut aligned = super::buffer::aligned(bytes.len());
    aligned.extend_from_slice(bytes);
    let aligned = Rc::new(aligned);
    // The validator keeps a table of the shared pointers' targets, sized up front (see
    // `expected_shared_pointers`), which the deserializer then reads its strings through.
    let mut validator = Validator::new(&aligned, expected_shared_pointers(bytes.len()));
    let archived =
        rkyv::check_archived_root_with_context::<DataRepr<'static>, _>(&aligned, &mut validator)
            .map_err(|e| e.to_string())?;
    let mut reader = SharedPointers::new(Rc::clone(&aligned), validator, known);
    // The stores first, so that a CID of the trace reuses the string read for its store entry:
    // `known`'s own string when the entry was taken from there.
    let Ok(cid_info) = archived.cid_info.deserialize(&mut reader);
    let trace = read_trace(&archived.trace, &mut reader);
    let Ok(last_call_request_id) = archived.last_call_request_id.deserialize(&mut reader);
    let Ok(signatures) = archived.signatures.deserialize(&mut reader);
    drop(reader);
    Ok(InterpreterData {
        trace,
        last_call_request_id,
        cid_info,
        signatures,
    })
}

/// Reads the trace straight from its archive into the model. A peer id, archived as the
/// reference's `Rc<String>`, becomes one `Rc<str>` per distinct text: an archive may hold one id
/// many times (the reference's does).
fn read_trace(
    archived: &rkyv::vec::ArchivedVec<ArchivedStateRepr>,
    reader: &mut SharedPointers<'_>,
) -> Vec<ExecutedState> {
    let mut peers = Texts::<Rc<str>>::default();
    let mut peer = |archived: &ArchivedPeerId| interned(&mut peers, archived.get().as_str());
    archived
        .iter()
        .map(|state| match state {
            ArchivedStateRepr::Par(par) => {
                let Ok(par) = par.deserialize(reader);
                ExecutedState::Par(par)
            }
            ArchivedStateRepr::Call(ArchivedCallRepr::RequestSentBy(sender)) => {
                let sender = match sender {
                    ArchivedSenderRepr::PeerId(id) => Sender::PeerId(peer(id)),
                    ArchivedSenderRepr::PeerIdWithCallId { peer_id, call_id } => {
                        let Ok(call_id) = call_id.deserialize(reader);
                        Sender::PeerIdWithCallId {
                            peer_id: peer(peer_id),
                            call_id,
                        }
                    }
                };
                ExecutedState::Call(CallResult::RequestSentBy(sender))
            }
            ArchivedStateRepr::Call(ArchivedCallRepr::Executed(value)) => {
                let Ok(value) = value.deserialize(reader);
                ExecutedState::Call(CallResult::Executed(value))
            }
            ArchivedStateRepr::Call(ArchivedCallRepr::Failed(cid)) => {
                let Ok(cid) = cid.deserialize(reader);
                ExecutedState::Call(CallResult::Failed(cid))
            }
            ArchivedStateRepr::Fold(fold) => {
                let Ok(fold) = fold.deserialize(reader);
                ExecutedState::Fold(fold)
            }
            ArchivedStateRepr::Ap(ap) => {
                let Ok(ap) = ap.deserialize(reader);
                ExecutedState::Ap(ap)
            }
            ArchivedStateRepr::Canon(ArchivedCanonRepr::RequestSentBy(id)) => {
                ExecutedState::Canon(CanonResult::RequestSentBy(peer(id)))
            }
            ArchivedStateRepr::Canon(ArchivedCanonRepr::Executed(cid)) => {
                let Ok(cid) = cid.deserialize(reader);
                ExecutedState::Canon(CanonResult::Executed(cid))
            }
        })
        .collect()
}

/// A peer id of the trace as archived.
type ArchivedPeerId = <Rc<String> as Archive>::Archived;

/// Texts read so far, each kept once. Seeded: they are the data's.
type Texts<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// The text read before that equals `text`, or `text` made shared and kept.
fn interned<T>(texts: &mut Texts<T>, text: &str) -> T
where
    T: std::borrow::Borrow<str> + std::hash::Hash + Eq + Clone + for<'t> From<&'t str>,
{
    if let Some(known) = texts.get(text) {
        return known.clone();
    }
    let read = T::from(text);
    texts.insert(read.clone());
    read
}

/// Room for the shared pointers of an archive of `len` bytes, so that the validator's map
/// seldom grows by doubling: CIDs make most of them, one per 80 bytes or so of a typical data.
/// A data made of a few large values has far fewer, and a map sized for it would be as large as
/// a good part of the archive, hence the bound, which a typical data meets at about 5 MB.
fn expected_shared_pointers(len: usize) -> usize {
    (len / 80).min(1 << 16)
}

/// rkyv's validator, plus one rule for shared pointers: all pointers to one address must agree
/// on the size of what they point to.
///
/// rkyv 0.7 checks the target of a shared pointer only the first time it meets its address, and
/// its deserializer reuses the first allocation with the length of each later pointer. Two
/// `Rc<str>` of a crafted archive that point at one address with different lengths would read as
/// a string that is not UTF-8 or reaches past its allocation (found by the `vm_data` fuzz
/// target). With this rule every pointer names exactly the bytes that were checked, so rkyv's
/// own shared deserialization is sound on what passes.
struct Validator<'a> {
    archive: ArchiveValidator<'a>,
    /// Where the archive starts: targets are keyed by their offset from here.
    base: usize,
    /// What is known of each shared pointer's target, by offset.
    targets: TargetTable,
    /// The types of the targets met, indexed by [`Target::type_index`].
    types: Vec<TypeId>,
    /// The index of the last type other than strings met.
    last_other_type: u8,
    /// The address and size of the last pointer bounds-checked: rkyv checks a shared pointer's
    /// bounds right before registering it, and the registration carries no size of its own.
    last_checked: (usize, usize),
    /// The types of the shared pointers whose target another pointer of the archive shares.
    repeated: Vec<TypeId>,
}

/// Shared-pointer targets by offset in the archive: 12 bytes a bucket, a few per CID.
type TargetTable = HashMap<u32, Target, KeyedAddressHash>;

/// A shared pointer's target, as the first pointer to it names it.
#[derive(Clone, Copy)]
struct Target {
    size: u32,
    type_index: u8,
}

impl<'a> Validator<'a> {
    /// A validator of `bytes`, an archive of at most `u32::MAX` bytes (see [`from_bytes`]).
    fn new(bytes: &'a [u8], shared_pointers: usize) -> Self {
        Validator {
            archive: ArchiveValidator::new(bytes),
            base: bytes.as_ptr() as usize,
            targets: HashMap::with_capacity_and_hasher(
                shared_pointers,
                KeyedAddressHash::default(),
            ),
            // The string type first: most targets are CIDs.
            types: vec![TypeId::of::<ArchivedSharedStr>()],
            last_other_type: STR_TYPE_INDEX,
            last_checked: (0, 0),
            repeated: Vec::new(),
        }
    }

    fn type_index(&mut self, type_id: TypeId) -> Result<u8, ValidatorError> {
        // A store's entries alternate between a CID (a string) and a value of the store's type,
        // so checking the last other type first saves most scans.
        if type_id == self.types[usize::from(STR_TYPE_INDEX)] {
            return Ok(STR_TYPE_INDEX);
        }
        let last = usize::from(self.last_other_type);
        if self.types.get(last) == Some(&type_id) {
            return Ok(self.last_other_type);
        }
        let index = match self.types.iter().position(|&known| known == type_id) {
            Some(index) => index,
            None => {
                self.types.push(type_id);
                self.types.len() - 1
            }
        };
        // The archive's types are a few fixed ones; this only guards the packing.
        self.last_other_type = u8::try_from(index).map_err(|_| ValidatorError::SharedTypes)?;
        Ok(self.last_other_type)
    }
}

#[derive(Debug)]
enum ValidatorError {
    Archive(ArchiveError),
    SharedTypes,
    SharedSizes { first: usize, other: usize },
    SharedUnchecked,
    Text,
}

impl std::fmt::Display for ValidatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidatorError::Archive(e) => e.fmt(f),
            ValidatorError::SharedTypes => {
                f.write_str("two shared pointers to one place disagree on its type")
            }
            ValidatorError::SharedSizes { first, other } => write!(
                f,
                "two shared pointers to one place disagree on its size ({first} and {other} bytes)"
            ),
            ValidatorError::SharedUnchecked => {
                f.write_str("a shared pointer was registered before its bounds were checked")
            }
            ValidatorError::Text => f.write_str("a string is not UTF-8"),
        }
    }
}

impl std::error::Error for ValidatorError {}

impl Fallible for Validator<'_> {
    type Error = ValidatorError;
}

// Everything but `bounds_check_layout` delegates to rkyv's validator unchanged; the `unsafe`
// contracts are rkyv's, passed through as they are.
impl<'a> ArchiveContext for Validator<'a> {
    type PrefixRange = <ArchiveValidator<'a> as ArchiveContext>::PrefixRange;
    type SuffixRange = <ArchiveValidator<'a> as ArchiveContext>::SuffixRange;

    unsafe fn bounds_check_ptr(
        &mut self,
        base: *const u8,
        offset: isize,
    ) -> Result<*const u8, Self::Error> {
        self.archive
            .bounds_check_ptr(base, offset)
            .map_err(ValidatorError::Archive)
    }

    unsafe fn bounds_check_layout(
        &mut self,
        data_address: *const u8,
        layout: &Layout,
    ) -> Result<(), Self::Error> {
        self.last_checked = (data_address as usize, layout.size());
        self.archive
            .bounds_check_layout(data_address, layout)
            .map_err(ValidatorError::Archive)
    }

    unsafe fn bounds_check_subtree_ptr_layout(
        &mut self,
        data_address: *const u8,
        layout: &Layout,
    ) -> Result<(), Self::Error> {
        self.archive
            .bounds_check_subtree_ptr_layout(data_address, layout)
            .map_err(ValidatorError::Archive)
    }

    unsafe fn push_prefix_subtree_range(
        &mut self,
        root: *const u8,
        end: *const u8,
    ) -> Result<Self::PrefixRange, Self::Error> {
        self.archive
            .push_prefix_subtree_range(root, end)
            .map_err(ValidatorError::Archive)
    }

    fn pop_prefix_range(&mut self, range: Self::PrefixRange) -> Result<(), Self::Error> {
        self.archive
            .pop_prefix_range(range)
            .map_err(ValidatorError::Archive)
    }

    unsafe fn push_suffix_subtree_range(
        &mut self,
        start: *const u8,
        root: *const u8,
    ) -> Result<Self::SuffixRange, Self::Error> {
        self.archive
            .push_suffix_subtree_range(start, root)
            .map_err(ValidatorError::Archive)
    }

    fn pop_suffix_range(&mut self, range: Self::SuffixRange) -> Result<(), Self::Error> {
        self.archive
            .pop_suffix_range(range)
            .map_err(ValidatorError::Archive)
    }

    fn finish(&mut self) -> Result<(), Self::Error> {
        self.archive.finish().map_err(ValidatorError::Archive)
    }

    fn wrap_layout_error(error: LayoutError) -> Self::Error {
        ValidatorError::Archive(ArchiveValidator::wrap_layout_error(error))
    }
}

impl SharedContext for Validator<'_> {
    fn register_shared_ptr(
        &mut self,
        ptr: *const u8,
        type_id: TypeId,
    ) -> Result<bool, Self::Error> {
        let (checked_address, size) = self.last_checked;
        if checked_address != ptr as usize {
            return Err(ValidatorError::SharedUnchecked);
        }
        // Bounds-checked, so within the archive, whose length fits in 32 bits.
        let offset = offset_in(self.base, ptr).ok_or(ValidatorError::SharedUnchecked)?;
        let size = u32::try_from(size).map_err(|_| ValidatorError::SharedUnchecked)?;
        let type_index = self.type_index(type_id)?;
        match self.targets.entry(offset) {
            Entry::Vacant(entry) => {
                entry.insert(Target { size, type_index });
                Ok(true)
            }
            Entry::Occupied(entry) => {
                let first = *entry.get();
                if first.type_index != type_index {
                    Err(ValidatorError::SharedTypes)
                } else if first.size != size {
                    Err(ValidatorError::SharedSizes {
                        first: first.size as usize,
                        other: size as usize,
                    })
                } else {
                    if !self.repeated.contains(&type_id) {
                        self.repeated.push(type_id);
                    }
                    Ok(false)
                }
            }
        }
    }
}

/// [`Validator::types`] starts with the shared string type.
const STR_TYPE_INDEX: u8 = 0;

/// The offset of `address` in the archive that starts at `base`, the key of [`TargetTable`].
fn offset_in(base: usize, address: *const u8) -> Option<u32> {
    u32::try_from((address as usize).checked_sub(base)?).ok()
}

/// Deserializes each shared pointer of a validated archive once, as rkyv's own
/// `SharedDeserializeMap` does, and keeps the archive for the [`Text`]s that refer to it.
///
/// rkyv reuses the first allocation made for an address for every later pointer to it, with
/// the later pointer's length; [`Validator`] has made sure that all pointers to one address agree
/// on the type and size of their target, so that reuse is exactly right.
pub(crate) struct SharedPointers<'k> {
    pointers: HashMap<usize, Box<dyn SharedPointer>, KeyedAddressHash>,
    /// Strings to read as another string equal to them (see [`SharedPointers::share_str`]),
    /// by offset.
    shared_strs: HashMap<u32, SharedStr, KeyedAddressHash>,
    /// The texts of tetraplets read so far.
    tetraplet_texts: Texts<Arc<str>>,
    /// Values read through [`read_shared`] (store entries), by archived address, for the types
    /// in `repeated`.
    values: HashMap<usize, Rc<dyn Any>, KeyedAddressHash>,
    /// The types of shared pointers of which the archive has some that share a target (see
    /// [`Validator`]). Data written by a VM has none but strings: a store entry is pointed to by
    /// its store only, so each is read without being registered.
    repeated: Vec<TypeId>,
    /// The validated archive being read, which [`Text`]s and [`SharedStr`]s refer to.
    archive: Rc<ArchiveBuffer>,
    /// Stores already read (the previous data's, when reading the current one), whose entries
    /// are taken instead of reading equal ones again (see [`crate::data::store`]).
    pub(crate) known: Option<&'k CidInfo>,
}

impl<'k> SharedPointers<'k> {
    /// A reader of `archive`, which `validator` has validated.
    fn new(
        archive: Rc<ArchiveBuffer>,
        validator: Validator<'_>,
        known: Option<&'k CidInfo>,
    ) -> Self {
        let Validator {
            targets, repeated, ..
        } = validator;
        let values_repeat = repeated
            .iter()
            .any(|&type_id| type_id != TypeId::of::<ArchivedSharedStr>());
        SharedPointers {
            pointers: HashMap::default(),
            shared_strs: HashMap::default(),
            tetraplet_texts: Default::default(),
            values: HashMap::with_capacity_and_hasher(
                if values_repeat { targets.len() / 2 } else { 0 },
                KeyedAddressHash::default(),
            ),
            repeated,
            archive,
            known,
        }
    }

    /// Reads the archived string `archived` as `shared` from now on, a string equal to it read
    /// before (from the previous data, say), so that writing them out again stores one copy.
    pub(crate) fn share_str(&mut self, archived: &str, shared: &SharedStr) {
        if let Some(offset) = offset_in(self.archive.as_ptr() as usize, archived.as_ptr()) {
            self.shared_strs.insert(offset, shared.clone());
        }
    }
}

impl Fallible for SharedPointers<'_> {
    type Error = std::convert::Infallible;
}

impl SharedDeserializeRegistry for SharedPointers<'_> {
    fn get_shared_ptr(&mut self, ptr: *const u8) -> Option<&dyn SharedPointer> {
        self.pointers.get(&(ptr as usize)).map(|shared| &**shared)
    }

    fn add_shared_ptr(
        &mut self,
        ptr: *const u8,
        shared: Box<dyn SharedPointer>,
    ) -> Result<(), Self::Error> {
        self.pointers.insert(ptr as usize, shared);
        Ok(())
    }
}

/// Archives an `Arc<str>` as a `String` (the layout of the reference's tetraplets).
pub(crate) struct StringInArchive;

impl ArchiveWith<Arc<str>> for StringInArchive {
    type Archived = ArchivedString;
    type Resolver = StringResolver;

    unsafe fn resolve_with(
        field: &Arc<str>,
        pos: usize,
        resolver: StringResolver,
        out: *mut ArchivedString,
    ) {
        // SAFETY: the caller's guarantees are passed on to rkyv's own string archiving.
        unsafe { ArchivedString::resolve_from_str(field, pos, resolver, out) }
    }
}

impl<S: Serializer + ?Sized> SerializeWith<Arc<str>, S> for StringInArchive {
    fn serialize_with(field: &Arc<str>, serializer: &mut S) -> Result<StringResolver, S::Error> {
        ArchivedString::serialize_from_str(field, serializer)
    }
}

/// Equal texts (the same peers, services and functions in many tetraplets) are read as one.
impl DeserializeWith<ArchivedString, Arc<str>, SharedPointers<'_>> for StringInArchive {
    fn deserialize_with(
        field: &ArchivedString,
        deserializer: &mut SharedPointers<'_>,
    ) -> Result<Arc<str>, std::convert::Infallible> {
        Ok(interned(&mut deserializer.tetraplet_texts, field.as_str()))
    }
}

/// Reads an archived `Rc<T>` (a store entry) with a single allocation per distinct target.
pub(crate) fn read_shared<'k, T>(
    field: &<Rc<T> as Archive>::Archived,
    deserializer: &mut SharedPointers<'k>,
) -> Rc<T>
where
    T: Archive + 'static,
    T::Archived: rkyv::Deserialize<T, SharedPointers<'k>>,
{
    let archived: &T::Archived = field.get();
    // A target that no other pointer of its type shares is read once anyway. Sharing is kept
    // wherever it occurs: a forged archive could otherwise point a thousand entries at one
    // large value and have it copied a thousand times.
    let shares = deserializer
        .repeated
        .contains(&TypeId::of::<<Rc<T> as Archive>::Archived>());
    if !shares {
        let Ok(value) = archived.deserialize(deserializer);
        return Rc::new(value);
    }
    let address = archived as *const T::Archived as usize;
    if let Some(shared) = deserializer.values.get(&address) {
        // `Validator` made sure that every pointer to one address names the same type, so the
        // downcast holds; a failure would only cost a second copy.
        if let Ok(value) = Rc::clone(shared).downcast::<T>() {
            return value;
        }
    }
    let Ok(value) = archived.deserialize(deserializer);
    let value = Rc::new(value);
    deserializer
        .values
        .insert(address, Rc::clone(&value) as Rc<dyn Any>);
    value
}

type ArchivedSharedStr = <Rc<str> as Archive>::Archived;

/// A string shared with the archive it was read from (a range of it), or one made here: what
/// CIDs and argument hashes are. Reading a data allocates and copies none of them, and a CID
/// named in many places is the same bytes of the archive in all of them.
#[derive(Clone)]
pub struct SharedStr(SharedStrRepr);

#[derive(Clone)]
enum SharedStrRepr {
    Owned(Rc<str>),
    InArchive(ArchiveRange),
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr(SharedStrRepr::Owned(text.into()))
    }
}

impl From<Rc<str>> for SharedStr {
    fn from(text: Rc<str>) -> Self {
        SharedStr(SharedStrRepr::Owned(text))
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match &self.0 {
            SharedStrRepr::Owned(text) => text,
            SharedStrRepr::InArchive(range) => range.as_str(),
        }
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl serde::Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SharedStr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <Rc<str> as serde::Deserialize>::deserialize(deserializer).map(SharedStr::from)
    }
}

/// Archives a [`SharedStr`] as an `Rc<str>` (a shared pointer: one copy per distinct address)
/// and reads it back as a range of the archive.
pub(crate) struct SharedStrInArchive;

impl ArchiveWith<SharedStr> for SharedStrInArchive {
    type Archived = ArchivedSharedText;
    type Resolver = <Rc<str> as Archive>::Resolver;

    unsafe fn resolve_with(
        field: &SharedStr,
        pos: usize,
        resolver: Self::Resolver,
        out: *mut Self::Archived,
    ) {
        // SAFETY: the caller's guarantees are passed on to rkyv's own `Rc` archiving, whose
        // archived form `ArchivedSharedText` is (`repr(transparent)`).
        unsafe { ArchivedSharedStr::resolve_from_ref(&**field, pos, resolver, out.cast()) }
    }
}

impl<S> SerializeWith<SharedStr, S> for SharedStrInArchive
where
    S: Serializer + SharedSerializeRegistry + ?Sized,
{
    fn serialize_with(field: &SharedStr, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        ArchivedSharedStr::serialize_from_ref(&**field, serializer)
    }
}

impl DeserializeWith<ArchivedSharedText, SharedStr, SharedPointers<'_>> for SharedStrInArchive {
    fn deserialize_with(
        field: &ArchivedSharedText,
        deserializer: &mut SharedPointers<'_>,
    ) -> Result<SharedStr, std::convert::Infallible> {
        let text: &str = field.get();
        if !deserializer.shared_strs.is_empty() {
            let shared = offset_in(deserializer.archive.as_ptr() as usize, text.as_ptr())
                .and_then(|offset| deserializer.shared_strs.get(&offset));
            if let Some(shared) = shared {
                return Ok(shared.clone());
            }
        }
        Ok(match ArchiveRange::of(text, &deserializer.archive) {
            Some(range) => SharedStr(SharedStrRepr::InArchive(range)),
            None => SharedStr::from(Rc::from(text)),
        })
    }
}

/// A stored text (the JSON of a value): owned, or a range of the validated archive it was read
/// from, so that reading a data copies no value out of it. The archive stays alive as long as
/// one of its texts does.
#[derive(Clone)]
pub(crate) struct Text(TextRepr);

#[derive(Clone)]
enum TextRepr {
    Owned(Box<str>),
    InArchive(ArchiveRange),
}

/// A string of a validated archive, which it keeps alive.
// Private, so that only this module makes a range, and only from a validated archive.
#[derive(Clone)]
struct ArchiveRange {
    archive: Rc<ArchiveBuffer>,
    start: u32,
    len: u32,
}

impl ArchiveRange {
    /// The range of `text`, a string that validation checked inside `archive`; `None`, for a
    /// copy to be made, should it ever not be inside (strings always are).
    fn of(text: &str, archive: &Rc<ArchiveBuffer>) -> Option<Self> {
        let start = offset_in(archive.as_ptr() as usize, text.as_ptr())?;
        let end = start.checked_add(u32::try_from(text.len()).ok()?)?;
        (end as usize <= archive.len()).then(|| ArchiveRange {
            archive: Rc::clone(archive),
            start,
            len: end - start,
        })
    }

    #[inline]
    fn as_str(&self) -> &str {
        let start = self.start as usize;
        // SAFETY: the range is exactly that of an archived string, which `ArchiveRange::of`
        // found inside this archive, after validation checked it to be UTF-8; the archive is
        // shared immutably and never changes afterwards. Unchecked, since CIDs are compared and
        // hashed often.
        unsafe {
            let bytes = self.archive.get_unchecked(start..start + self.len as usize);
            std::str::from_utf8_unchecked(bytes)
        }
    }
}

impl Text {
    /// A text owned by itself.
    pub(crate) fn owned(text: Box<str>) -> Self {
        Text(TextRepr::Owned(text))
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::owned(Box::default())
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            TextRepr::Owned(text) => text,
            TextRepr::InArchive(range) => range.as_str(),
        }
    }
}

/// Archives a [`Text`] as a boxed string and reads it back as a range of the archive.
pub(crate) struct TextInArchive;

/// A boxed string as rkyv archives it, the value store's layout.
type ArchivedBoxedStr = ArchivedBox<<str as ArchiveUnsized>::Archived>;
type TextResolver = BoxResolver<<str as ArchiveUnsized>::MetadataResolver>;

/// Archived text as rkyv lays it out, behind pointer `P`: a boxed `str` (a value's text) or a
/// shared one (a CID, an argument hash), owned as `K` says. It is checked as rkyv checks `P`,
/// but text all ASCII (every CID, most JSON) is recognized a word at a time: the standard UTF-8
/// check takes about 190 instructions on a 59-byte CID.
#[repr(transparent)]
pub struct ArchivedText<P, K>(P, std::marker::PhantomData<K>);

/// The archived form of a [`Text`].
type ArchivedBoxedText = ArchivedText<ArchivedBoxedStr, Owned>;

/// The archived form of a [`SharedStr`].
type ArchivedSharedText = ArchivedText<ArchivedSharedStr, Shared>;

/// Text that its one pointer owns.
pub struct Owned;

/// Text that pointers share.
pub struct Shared;

impl<P: std::ops::Deref<Target = str>, K> ArchivedText<P, K> {
    /// The text, in the archive.
    pub(crate) fn get(&self) -> &str {
        &self.0
    }
}

/// How a pointer to archived text claims its target.
trait TextOwnership {
    /// Whether the target at `target` is to be checked now: once per pointer for an owning
    /// pointer, once per target for a shared one, whose pointers must agree on it.
    ///
    /// # Safety
    ///
    /// `target` has passed `check_rel_ptr`.
    unsafe fn claim(
        context: &mut Validator<'_>,
        target: *const str,
    ) -> Result<bool, ValidatorError>;
}

impl TextOwnership for Owned {
    unsafe fn claim(
        context: &mut Validator<'_>,
        target: *const str,
    ) -> Result<bool, ValidatorError> {
        // SAFETY: as rkyv's check of an `ArchivedBox` does after `check_rel_ptr`.
        unsafe { context.bounds_check_subtree_ptr(target)? };
        Ok(true)
    }
}

impl TextOwnership for Shared {
    unsafe fn claim(
        context: &mut Validator<'_>,
        target: *const str,
    ) -> Result<bool, ValidatorError> {
        // SAFETY: as rkyv's check of an `ArchivedRc` does after `check_rel_ptr`.
        unsafe {
            let type_id = TypeId::of::<ArchivedSharedStr>();
            let first = context.register_shared_ptr(target.cast(), type_id)?;
            if first {
                context.bounds_check_subtree_ptr(target)?;
            }
            Ok(first)
        }
    }
}

impl<P, K: TextOwnership> CheckBytes<Validator<'_>> for ArchivedText<P, K> {
    type Error = ValidatorError;

    unsafe fn check_bytes<'a>(
        value: *const Self,
        context: &mut Validator<'_>,
    ) -> Result<&'a Self, ValidatorError> {
        // SAFETY: the steps of rkyv's checks of `ArchivedBox<str>` and `ArchivedRc<str>` (see
        // `rkyv::boxed` and `rkyv::rc::validation`), on the caller's guarantee that `value` is
        // aligned and in bounds: the relative pointer that is the whole of `P`, then its
        // target, claimed as `K` says.
        unsafe {
            // A length is any 32-bit number: the metadata check cannot fail.
            let Ok(rel_ptr) = RelPtr::<str>::manual_check_bytes(value.cast(), context);
            let target = context.check_rel_ptr(rel_ptr)?;
            if K::claim(context, target)? {
                let range = context.push_prefix_subtree(target)?;
                let bytes = &*(target as *const [u8]);
                if !bytes.is_ascii() && std::str::from_utf8(bytes).is_err() {
                    return Err(ValidatorError::Text);
                }
                context.pop_prefix_range(range)?;
            }
            Ok(&*value)
        }
    }
}

impl ArchiveWith<Text> for TextInArchive {
    type Archived = ArchivedBoxedText;
    type Resolver = TextResolver;

    unsafe fn resolve_with(
        field: &Text,
        pos: usize,
        resolver: TextResolver,
        out: *mut ArchivedBoxedText,
    ) {
        // SAFETY: the caller's guarantees for `pos` and `out` are passed on unchanged to rkyv's
        // boxed string, whose archived form `ArchivedBoxedText` is (`repr(transparent)`).
        unsafe { ArchivedBox::resolve_from_ref(&**field, pos, resolver, out.cast()) }
    }
}

impl<S: Serializer + ?Sized> SerializeWith<Text, S> for TextInArchive {
    fn serialize_with(field: &Text, serializer: &mut S) -> Result<TextResolver, S::Error> {
        ArchivedBox::serialize_from_ref(&**field, serializer)
    }
}

impl DeserializeWith<ArchivedBoxedText, Text, SharedPointers<'_>> for TextInArchive {
    fn deserialize_with(
        field: &ArchivedBoxedText,
        deserializer: &mut SharedPointers<'_>,
    ) -> Result<Text, std::convert::Infallible> {
        let text: &str = field.get();
        Ok(match ArchiveRange::of(text, &deserializer.archive) {
            Some(range) => Text(TextRepr::InArchive(range)),
            None => Text::owned(text.into()),
        })
    }
}

/// Hashes the keys of [`Validator`], [`SharedPositions`] and [`SharedPointers`] (addresses) with
/// a multiply-xorshift mix of the address and a random key: a few multiplications instead of SipHash, for every shared pointer of an archive. When
/// reading, the addresses are offsets a peer chooses; the random key keeps it from choosing
/// offsets that collide.
#[derive(Clone)]
struct KeyedAddressHash(u64);

impl Default for KeyedAddressHash {
    fn default() -> Self {
        thread_local! {
            static KEY: u64 = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8);
        }
        KeyedAddressHash(KEY.with(|key| *key))
    }
}

impl std::hash::BuildHasher for KeyedAddressHash {
    type Hasher = AddressHasher;

    fn build_hasher(&self) -> AddressHasher {
        AddressHasher {
            key: self.0,
            hash: 0,
        }
    }
}

struct AddressHasher {
    key: u64,
    hash: u64,
}

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        // Keys are addresses (`write_usize`); anything else is mixed in word by word.
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_usize(u64::from_le_bytes(word) as usize);
        }
    }

    fn write_u32(&mut self, offset: u32) {
        self.write_usize(offset as usize);
    }

    fn write_usize(&mut self, address: usize) {
        // The finalizer of MurmurHash3: every bit of the keyed address affects every bit.
        let mut h = (address as u64 ^ self.key ^ self.hash).rotate_left(17);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        self.hash = h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cid::argument_hash;
    use crate::data::model::Tetraplet;
    use serde_json::json;

    /// Output buffers are sized by the estimate, so it must not fall short, even by a few
    /// bytes, on data of any size.
    #[test]
    fn estimates_are_never_short() {
        for (calls, text_len) in [
            (0, 0),
            (1, 10),
            (3, 1000),
            (200, 5),
            (2000, 60),
            (1, 1 << 20),
            (4, 100_000),
        ] {
            let mut data = InterpreterData::default();
            let tetraplet = Rc::new(Tetraplet {
                peer_pk: "12D3KooWPeer".into(),
                service_id: "service".into(),
                function_name: "function".into(),
                lens: ".$.[0]".into(),
            });
            for n in 0..calls {
                let value = json!(format!("{n}{}", "0".repeat(text_len)));
                let cid = data.cid_info.insert_service_result(
                    &value,
                    Rc::clone(&tetraplet),
                    argument_hash(&[json!(n)]),
                );
                data.trace.push(ExecutedState::Par(ParResult {
                    left_size: 1,
                    right_size: 0,
                }));
                data.trace
                    .push(ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(
                        cid,
                    ))));
            }
            let actual = to_vec(&data).len();
            let estimate = estimated_size(&data);
            assert!(
                actual <= estimate,
                "{calls} calls of {text_len}-byte texts: {actual} bytes, estimated {estimate}"
            );
        }
    }

    /// A data of `calls` recorded calls, all with the one result `value` of `argument_hash`.
    fn calls_of_one_result(calls: usize, value: &str, argument_hash: SharedStr) -> InterpreterData {
        let mut data = InterpreterData::default();
        let cid = data.cid_info.insert_service_result(
            &json!(value),
            Rc::new(Tetraplet::peer_only("peer")),
            argument_hash,
        );
        for _ in 0..calls {
            data.trace
                .push(ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(
                    cid.clone(),
                ))));
        }
        data
    }

    /// A string that is not UTF-8 is refused, shared (an argument hash) or not (a value's
    /// text), and one of non-ASCII UTF-8 is read.
    #[test]
    fn strings_are_checked_as_utf8() {
        let data = calls_of_one_result(1, "välue", SharedStr::from("hash-é"));
        let bytes = to_vec(&data);
        assert_eq!(from_bytes(&bytes, None).expect("decodes"), data);

        for (text, prefix) in [("hash-é", "hash-"), ("välue", "v")] {
            let at = bytes
                .windows(text.len())
                .position(|window| window == text.as_bytes())
                .expect("the text is in the archive");
            let mut broken = bytes.clone();
            broken[at + prefix.len()] = 0xff;
            let error = from_bytes(&broken, None).expect_err("not UTF-8");
            assert!(error.contains("not UTF-8"), "{text}: {error}");
        }
    }

    /// A CID is read as the archive's own bytes, not copied: its store's key and its trace
    /// states are all the one string of the archive.
    #[test]
    fn cids_are_read_in_place() {
        let data = calls_of_one_result(2, "value", argument_hash(&[]));
        let decoded = from_bytes(&to_vec(&data), None).expect("decodes");
        assert_eq!(decoded, data);
        let read = |state: &ExecutedState| match state {
            ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(cid))) => cid.clone(),
            _ => panic!("a call state"),
        };
        let (first, second) = (read(&decoded.trace[0]), read(&decoded.trace[1]));
        assert!(matches!(first.as_shared().0, SharedStrRepr::InArchive(_)));
        assert_eq!(first.as_str().as_ptr(), second.as_str().as_ptr());
        let (key, _) = decoded
            .cid_info
            .service_result_store
            .iter()
            .next()
            .expect("the stored result");
        assert_eq!(first.as_str().as_ptr(), key.as_str().as_ptr());
    }
}
