//! The in-memory particle data: the execution trace and the content-addressed values it refers to.
//!
//! Field and variant order is part of the wire format: the rkyv archive lays fields out in
//! declaration order and numbers variants in declaration order, exactly like the reference's
//! `air-interpreter-data` 0.17. Types whose archived form differs from their in-memory form (the
//! peer ids of `Sender` and `CanonResult`) are archived through mirror types in `archive.rs`.

use super::archive::{SharedStr, StringInArchive, Text, TextInArchive};
use super::cid::{self, Cid};
use super::signatures::SignatureStore;
use super::store::{CidInfo, CidStore, KnownEntry};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use smallvec::SmallVec;

use std::cell::OnceCell;
use std::fmt;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

/// Everything a particle carries between peers besides the script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterpreterData {
    /// One state per executed instruction that leaves a trace (call, par, fold, ap, canon).
    pub trace: Vec<ExecutedState>,
    /// The last call request id this peer handed out; new requests get larger ids.
    pub last_call_request_id: u32,
    /// The values the trace refers to by CID.
    pub cid_info: CidInfo,
    /// Each peer's signature over the CIDs it produced.
    pub signatures: SignatureStore,
}

/// A state of the execution trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutedState {
    /// A `par`: how many states each branch wrote.
    Par(ParResult),
    /// A `call`.
    Call(CallResult),
    /// A `fold` over a stream.
    Fold(FoldResult),
    /// An `ap` into a stream.
    Ap(ApResult),
    /// A `canon`.
    Canon(CanonResult),
}

/// Sizes of the two subtraces that follow a `par` state.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct ParResult {
    /// Number of states the left branch wrote.
    pub left_size: u32,
    /// Number of states the right branch wrote.
    pub right_size: u32,
}

/// What became of a `call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// The call was handed over (to another peer or to the host) and must not be issued again.
    RequestSentBy(Sender),
    /// The service answered; the value is in the stores.
    Executed(ValueRef),
    /// The service failed; the CID names a [`ServiceResultCidAggregate`] whose value is a
    /// [`CallServiceFailed`].
    Failed(Cid),
}

/// Who handed a call over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// A peer forwarded the particle to the call's target peer.
    PeerId(Rc<str>),
    /// A peer asked its host to run the call, as request `call_id`.
    PeerIdWithCallId {
        /// The peer that issued the request.
        peer_id: Rc<str>,
        /// The id of the call request.
        call_id: u32,
    },
}

/// Where the result of an executed call went.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub enum ValueRef {
    /// Into a scalar; the CID names a [`ServiceResultCidAggregate`].
    Scalar(Cid),
    /// Into a stream, at `generation`; the CID names a [`ServiceResultCidAggregate`].
    Stream {
        /// The service result aggregate.
        cid: Cid,
        /// The stream generation the value was added to.
        generation: u32,
    },
    /// Nowhere; the CID is the [`cid::value_cid`] of the value, which is not stored.
    Unused(Cid),
}

/// The iterations of a fold over a stream.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct FoldResult {
    /// One entry per iteration.
    pub lore: Vec<FoldSubTraceLore>,
}

/// One fold iteration: which stream value it ran on and where its states are.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct FoldSubTraceLore {
    /// Trace position of the state that produced the iterated stream value.
    pub value_pos: u32,
    /// The states before `next`, then the states after it: always two entries, so inline
    /// (archived as a vector all the same).
    pub subtraces_desc: SmallVec<[SubTraceDesc; 2]>,
}

/// A contiguous part of the trace.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct SubTraceDesc {
    /// Position of the first state.
    pub begin_pos: u32,
    /// Number of states.
    pub subtrace_len: u32,
}

/// The generation(s) an `ap` put its value in (one entry in practice).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct ApResult {
    /// Stream generations of the appended value: one in every data that AquaVM writes, so
    /// inline (archived as a vector all the same).
    pub res_generations: SmallVec<[u32; 1]>,
}

/// What became of a `canon`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonResult {
    /// The particle was forwarded to the canon's peer by this peer.
    RequestSentBy(Rc<str>),
    /// The stream was fixed; the CID names a [`CanonResultCidAggregate`].
    Executed(Cid),
}

/// The record of a call result, stored in the service result store.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct ServiceResultCidAggregate {
    /// CID of the result value (value store).
    pub value_cid: Cid,
    /// [`cid::argument_hash`] of the call's arguments, so a replay with other arguments is caught.
    #[with(super::archive::SharedStrInArchive)]
    pub argument_hash: SharedStr,
    /// CID of the call's tetraplet (tetraplet store).
    pub tetraplet_cid: Cid,
}

/// The record of a canon result, stored in the canon result store.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct CanonResultCidAggregate {
    /// CID of the canon's tetraplet (`(peer, "", "", "")`).
    pub tetraplet: Cid,
    /// CIDs of the stream elements, in stream order (canon element store).
    pub values: Vec<Cid>,
}

/// One element of a canonicalized stream, stored in the canon element store.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct CanonCidAggregate {
    /// CID of the element's value (value store).
    pub value: Cid,
    /// CID of the element's tetraplet (tetraplet store).
    pub tetraplet: Cid,
    /// Where the element came from.
    pub provenance: Provenance,
}

/// The origin of a canon element; a lens applied later does not change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub enum Provenance {
    /// A literal or a variable that is not a service result.
    Literal,
    /// A service result; the CID names its [`ServiceResultCidAggregate`].
    ServiceResult {
        /// The original call result.
        cid: Cid,
    },
    /// An element of another canon stream; the CID names its [`CanonResultCidAggregate`].
    Canon {
        /// The original canon result.
        cid: Cid,
    },
}

/// The origin of a value: which peer, service and function produced it, and which lens was then
/// applied. The reference takes it from `marine-call-parameters` (`SecurityTetraplet`).
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[archive(check_bytes)]
///
/// The texts are shared: a fold hands out a tetraplet per element, which differs from the
/// array's only in its lens. (`Arc`, not `Rc`: tetraplets reach the host in call requests,
/// which may cross threads.)
pub struct Tetraplet {
    /// Peer id of the peer the value was produced on.
    #[with(StringInArchive)]
    pub peer_pk: Arc<str>,
    /// The service that produced it (empty for literals and canons).
    #[with(StringInArchive)]
    pub service_id: Arc<str>,
    /// The function that produced it (empty for literals and canons).
    #[with(StringInArchive)]
    pub function_name: Arc<str>,
    /// The lens applied to the produced value, such as `.$.[0]` (empty if none).
    #[with(StringInArchive)]
    pub lens: Arc<str>,
}

impl Tetraplet {
    /// A tetraplet of a value produced by `peer_pk` itself: a literal or a canon result.
    pub fn peer_only(peer_pk: impl Into<Arc<str>>) -> Self {
        Self {
            peer_pk: peer_pk.into(),
            ..Self::default()
        }
    }

    /// This tetraplet with `suffix` written after its lens, as applying a lens to its value
    /// does. The texts are shared, and the new lens is one allocation.
    pub fn with_lens_suffix(&self, suffix: impl fmt::Display) -> Self {
        use std::fmt::Write as _;
        self.with_lens_written(|lens| {
            write!(lens, "{suffix}").expect("writing to a String cannot fail");
        })
    }

    /// This tetraplet with `.$.[index]` after its lens: element `index` of its array value, as a
    /// fold iteration sees it. Written without the formatting machinery, as folds make one per
    /// iteration.
    pub fn with_element_lens(&self, index: usize) -> Self {
        self.with_lens_written(|lens| {
            lens.push_str(".$.[");
            lens.push_str(itoa::Buffer::new().format(index));
            lens.push(']');
        })
    }

    fn with_lens_written(&self, write_suffix: impl FnOnce(&mut String)) -> Self {
        thread_local! {
            static LENS: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let lens = LENS.with_borrow_mut(|text| {
            text.clear();
            text.push_str(&self.lens);
            write_suffix(text);
            Arc::from(text.as_str())
        });
        Tetraplet {
            peer_pk: Arc::clone(&self.peer_pk),
            service_id: Arc::clone(&self.service_id),
            function_name: Arc::clone(&self.function_name),
            lens,
        }
    }
}

/// The value stored for a failed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallServiceFailed {
    /// The service's (non-zero) return code.
    pub ret_code: i32,
    /// The service's error message: the JSON text it returned.
    pub message: Rc<str>,
}

impl CallServiceFailed {
    /// The JSON value stored in the value store for this failure.
    pub fn to_value(&self) -> Value {
        serde_json::json!({ "ret_code": self.ret_code, "message": &*self.message })
    }

    /// Reads a failure back from its stored value.
    pub fn from_value(value: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(value)
    }
}

/// A value as the value store holds it: its compact JSON text, object keys sorted.
///
/// The text is what the value's CID is computed over, so it is kept verbatim. The parsed value
/// is shared with whoever holds the value: the interpreter's variables and streams get the same
/// `Rc`, parsed once on first use for a value read from data.
#[derive(Clone, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub struct RawValue {
    #[with(TextInArchive)]
    text: Text,
    #[with(rkyv::with::Skip)]
    parsed: OnceCell<Rc<Value>>,
}

impl RawValue {
    /// The canonical text of `value`; a shared value is kept too (no deep copy), a borrowed
    /// one is parsed again from the text if it is ever needed.
    pub fn from_value<V: StoredValue + ?Sized>(value: &V) -> Self {
        Self {
            // Not `to_string`, which goes through `fmt::Write` and is several times slower.
            text: Text::owned(cid::to_json_text(value.json())),
            parsed: value.shared().map(OnceCell::from).unwrap_or_default(),
        }
    }

    /// `value` with `text`, its JSON as given by a host, when that is already its canonical
    /// text: kept as it is, without writing the value again.
    pub(crate) fn from_host_text(text: String, value: &Rc<Value>) -> Self {
        if !cid::is_canonical_json(&text) {
            return Self::from_value(value);
        }
        Self {
            text: Text::owned(text.into_boxed_str()),
            parsed: OnceCell::from(Rc::clone(value)),
        }
    }

    /// A stored text as it would be read from data, not parsed yet (any text: the store does
    /// not require JSON).
    #[cfg(test)]
    pub(crate) fn stored(text: &str) -> Self {
        Self {
            text: Text::owned(text.into()),
            parsed: OnceCell::new(),
        }
    }

    /// A host's result text, kept as it is and not parsed yet, when it is canonical JSON
    /// ([`cid::is_canonical_json`]) that serde_json parses: no raw control characters (a
    /// canonical text has no whitespace, so any byte below 0x20 is one in a string) and
    /// nesting within serde_json's depth limit. Any other text is given back as the error: it
    /// must be parsed now, to fail the call if it is not JSON or to be written again.
    pub(crate) fn from_canonical_text(text: String) -> Result<Self, String> {
        if has_control_bytes(&text) || !cid::is_canonical_json(&text) {
            return Err(text);
        }
        Ok(Self {
            text: Text::owned(text.into_boxed_str()),
            parsed: OnceCell::new(),
        })
    }

    /// The smallest text [`RawValue::unparsed_array_elements`] splits: a smaller array is
    /// parsed whole, once, and its parsed elements serve every fold over it.
    pub(crate) const MIN_SPLIT_LEN: usize = 64 << 10;

    /// The byte ranges of the elements of the text, when it is a canonical array of at least
    /// [`RawValue::MIN_SPLIT_LEN`] bytes not parsed yet, so that each element can be parsed on
    /// its own when it is used ([`cid::is_canonical_json`]; with no raw control characters, it
    /// parses, and so does each element). `None` for any other text, or one already parsed.
    pub(crate) fn unparsed_array_elements(&self) -> Option<Vec<Range<usize>>> {
        if self.text.len() < Self::MIN_SPLIT_LEN
            || self.parsed.get().is_some()
            || has_control_bytes(&self.text)
        {
            return None;
        }
        cid::canonical_array_elements(&self.text)
    }

    /// The JSON text, as hashed and stored.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value; fails if the stored text is not JSON (possible only in data from a faulty or
    /// hostile peer, as the store does not require it).
    pub fn value(&self) -> Result<&Value, serde_json::Error> {
        self.shared_value().map(|value| &**value)
    }

    /// The value as the interpreter shares it, parsed on first use (see [`RawValue::value`]).
    pub fn shared_value(&self) -> Result<&Rc<Value>, serde_json::Error> {
        if let Some(value) = self.parsed.get() {
            return Ok(value);
        }
        let value = serde_json::from_str(&self.text)?;
        Ok(self.parsed.get_or_init(|| Rc::new(value)))
    }

    /// The CID of this value.
    pub fn cid(&self) -> Cid {
        cid::json_text_cid(&self.text)
    }

    /// Drops the parsed value, keeping the text (see [`CidInfo::forget_parsed_values`]).
    pub(crate) fn forget_parsed(&mut self) {
        self.parsed.take();
    }
}

/// Whether `text` has a byte below 0x20: in text without whitespace, a raw control character in
/// a string, which JSON does not allow.
fn has_control_bytes(text: &str) -> bool {
    // In blocks without an early exit, so that the comparison is vectorized.
    let control = |block: &[u8]| block.iter().fold(false, |found, &b| found | (b < 0x20));
    text.as_bytes().chunks(64).any(control)
}

/// A value given to the value store: a borrowed JSON value, of which the store keeps only the
/// text, or a shared one, which the store keeps as well.
pub trait StoredValue {
    /// The value.
    fn json(&self) -> &Value;
    /// The value to keep, if it is shared.
    fn shared(&self) -> Option<Rc<Value>>;
}

impl StoredValue for Value {
    fn json(&self) -> &Value {
        self
    }

    fn shared(&self) -> Option<Rc<Value>> {
        None
    }
}

impl StoredValue for Rc<Value> {
    fn json(&self) -> &Value {
        self
    }

    fn shared(&self) -> Option<Rc<Value>> {
        Some(Rc::clone(self))
    }
}

impl KnownEntry for RawValue {
    fn store_of(stores: &CidInfo) -> &CidStore<Self> {
        &stores.value_store
    }

    fn is_archived_as(&self, archived: &ArchivedRawValue) -> bool {
        *self.text == *archived.text.get()
    }
}

impl KnownEntry for Tetraplet {
    fn store_of(stores: &CidInfo) -> &CidStore<Self> {
        &stores.tetraplet_store
    }

    fn is_archived_as(&self, archived: &ArchivedTetraplet) -> bool {
        *self.peer_pk == *archived.peer_pk
            && *self.service_id == *archived.service_id
            && *self.function_name == *archived.function_name
            && *self.lens == *archived.lens
    }
}

impl KnownEntry for ServiceResultCidAggregate {
    fn store_of(stores: &CidInfo) -> &CidStore<Self> {
        &stores.service_result_store
    }

    fn is_archived_as(&self, archived: &ArchivedServiceResultCidAggregate) -> bool {
        archived.value_cid == self.value_cid
            && *self.argument_hash == *archived.argument_hash.get()
            && archived.tetraplet_cid == self.tetraplet_cid
    }
}

impl KnownEntry for CanonCidAggregate {
    fn store_of(stores: &CidInfo) -> &CidStore<Self> {
        &stores.canon_element_store
    }

    fn is_archived_as(&self, archived: &ArchivedCanonCidAggregate) -> bool {
        let provenance = match (&self.provenance, &archived.provenance) {
            (Provenance::Literal, ArchivedProvenance::Literal) => true,
            (
                Provenance::ServiceResult { cid },
                ArchivedProvenance::ServiceResult { cid: archived },
            )
            | (Provenance::Canon { cid }, ArchivedProvenance::Canon { cid: archived }) => {
                archived == cid
            }
            _ => false,
        };
        provenance && archived.value == self.value && archived.tetraplet == self.tetraplet
    }
}

impl KnownEntry for CanonResultCidAggregate {
    fn store_of(stores: &CidInfo) -> &CidStore<Self> {
        &stores.canon_result_store
    }

    fn is_archived_as(&self, archived: &ArchivedCanonResultCidAggregate) -> bool {
        archived.tetraplet == self.tetraplet && archived.values == self.values
    }
}

impl PartialEq for RawValue {
    fn eq(&self, other: &Self) -> bool {
        *self.text == *other.text
    }
}

impl Eq for RawValue {}

impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawValue({})", &*self.text)
    }
}
