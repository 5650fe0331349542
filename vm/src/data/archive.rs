//! The rkyv archive of [`InterpreterData`], laid out as the reference lays it out.
//!
//! The reference keeps peer ids of `RequestSentBy` states as `Rc<String>`, which rkyv archives as
//! a shared pointer to an archived `String`, not as a shared `str`. The in-memory model uses
//! `Rc<str>`, so the trace goes through mirror types here; everything else (stores, signatures,
//! the other states) is archived directly. Equal peer ids are interned both ways, so each is
//! stored once in the archive and once in memory.

use super::cid::Cid;
use super::model::{
    ApResult, CallResult, CanonResult, ExecutedState, FoldResult, InterpreterData, ParResult,
    Sender, ValueRef,
};
use super::signatures::SignatureStore;
use super::store::CidInfo;

use rkyv::de::deserializers::SharedDeserializeMap;
use rkyv::ser::serializers::{AlignedSerializer, AllocSerializer};
use rkyv::ser::Serializer as _;
use rkyv::validation::validators::{ArchiveError, ArchiveValidator};
use rkyv::validation::{ArchiveContext, SharedContext};
use rkyv::{Deserialize as _, Fallible};

use std::alloc::{Layout, LayoutError};
use std::any::TypeId;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::rc::Rc;

/// Scratch space the serializer starts with; larger archives fall back to the heap.
const SCRATCH_SIZE: usize = 4096;

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
struct DataRepr {
    trace: Vec<StateRepr>,
    last_call_request_id: u32,
    cid_info: CidInfo,
    signatures: SignatureStore,
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
enum StateRepr {
    Par(ParResult),
    Call(CallRepr),
    Fold(FoldResult),
    Ap(ApResult),
    Canon(CanonRepr),
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
enum CallRepr {
    RequestSentBy(SenderRepr),
    Executed(ValueRef),
    Failed(Cid),
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
enum SenderRepr {
    PeerId(Rc<String>),
    PeerIdWithCallId { peer_id: Rc<String>, call_id: u32 },
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
enum CanonRepr {
    RequestSentBy(Rc<String>),
    Executed(Cid),
}

/// Archives `data`.
pub(crate) fn to_bytes(data: &InterpreterData) -> rkyv::AlignedVec {
    let mut peers = HashMap::<&str, Rc<String>>::new();
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
        cid_info: data.cid_info.clone(),
        signatures: data.signatures.clone(),
    };

    // Sized up front: growing by doubling would copy a large archive several times over.
    let buffer = rkyv::AlignedVec::with_capacity(estimated_size(data));
    let mut serializer = AllocSerializer::<SCRATCH_SIZE>::new(
        AlignedSerializer::new(buffer),
        Default::default(),
        Default::default(),
    );
    serializer
        .serialize_value(&repr)
        .expect("archiving in-memory data fails only when out of memory");
    serializer.into_serializer().into_inner()
}

/// A rough size of the archive of `data`: the stored texts plus a typical size per entry and
/// per state. It only needs to be close for large data, where the values dominate.
fn estimated_size(data: &InterpreterData) -> usize {
    const PER_ENTRY: usize = 128;
    const PER_STATE: usize = 32;
    let stores = &data.cid_info;
    let values: usize = stores
        .value_store
        .iter()
        .map(|(cid, value)| cid.as_str().len() + value.as_str().len())
        .sum();
    let entries = stores.tetraplet_store.len()
        + stores.canon_element_store.len()
        + stores.canon_result_store.len()
        + stores.service_result_store.len()
        + data.signatures.len();
    values + entries * PER_ENTRY + data.trace.len() * PER_STATE
}

fn intern_for_archive<'a>(peers: &mut HashMap<&'a str, Rc<String>>, peer: &'a str) -> Rc<String> {
    Rc::clone(
        peers
            .entry(peer)
            .or_insert_with(|| Rc::new(peer.to_owned())),
    )
}

/// Validates and reads an archive; any malformed input gives an error, never a panic.
pub(crate) fn from_bytes(bytes: &[u8]) -> Result<InterpreterData, String> {
    // Archives are read in place and need the alignment of their largest field.
    let mut aligned = rkyv::AlignedVec::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    let archived = rkyv::validation::check_archived_root_with_context::<DataRepr, _>(
        &aligned,
        &mut Validator::new(&aligned),
    )
    .map_err(|e| e.to_string())?;
    let repr: DataRepr = archived
        .deserialize(&mut SharedDeserializeMap::new())
        .map_err(|e| e.to_string())?;

    let mut peers = HashMap::<Rc<String>, Rc<str>>::new();
    let mut peer = |archived: Rc<String>| -> Rc<str> {
        Rc::clone(
            peers
                .entry(Rc::clone(&archived))
                .or_insert_with(|| Rc::from(archived.as_str())),
        )
    };
    let trace = repr
        .trace
        .into_iter()
        .map(|state| match state {
            StateRepr::Par(par) => ExecutedState::Par(par),
            StateRepr::Call(CallRepr::RequestSentBy(SenderRepr::PeerId(id))) => {
                ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerId(peer(id))))
            }
            StateRepr::Call(CallRepr::RequestSentBy(SenderRepr::PeerIdWithCallId {
                peer_id,
                call_id,
            })) => ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerIdWithCallId {
                peer_id: peer(peer_id),
                call_id,
            })),
            StateRepr::Call(CallRepr::Executed(value)) => {
                ExecutedState::Call(CallResult::Executed(value))
            }
            StateRepr::Call(CallRepr::Failed(cid)) => ExecutedState::Call(CallResult::Failed(cid)),
            StateRepr::Fold(fold) => ExecutedState::Fold(fold),
            StateRepr::Ap(ap) => ExecutedState::Ap(ap),
            StateRepr::Canon(CanonRepr::RequestSentBy(id)) => {
                ExecutedState::Canon(CanonResult::RequestSentBy(peer(id)))
            }
            StateRepr::Canon(CanonRepr::Executed(cid)) => {
                ExecutedState::Canon(CanonResult::Executed(cid))
            }
        })
        .collect();
    Ok(InterpreterData {
        trace,
        last_call_request_id: repr.last_call_request_id,
        cid_info: repr.cid_info,
        signatures: repr.signatures,
    })
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
    /// Type and size of the target of each shared pointer seen, by address.
    shared: HashMap<usize, (TypeId, usize)>,
    /// The address and size of the last pointer bounds-checked: rkyv checks a shared pointer's
    /// bounds right before registering it, and the registration carries no size of its own.
    last_checked: (usize, usize),
}

impl<'a> Validator<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Validator {
            archive: ArchiveValidator::new(bytes),
            shared: HashMap::new(),
            last_checked: (0, 0),
        }
    }
}

#[derive(Debug)]
enum ValidatorError {
    Archive(ArchiveError),
    SharedTypes,
    SharedSizes { first: usize, other: usize },
    SharedUnchecked,
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
        match self.shared.entry(ptr as usize) {
            Entry::Vacant(entry) => {
                entry.insert((type_id, size));
                Ok(true)
            }
            Entry::Occupied(entry) => {
                let (first_type, first_size) = *entry.get();
                if first_type != type_id {
                    Err(ValidatorError::SharedTypes)
                } else if first_size != size {
                    Err(ValidatorError::SharedSizes {
                        first: first_size,
                        other: size,
                    })
                } else {
                    Ok(false)
                }
            }
        }
    }
}
