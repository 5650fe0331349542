//! The particle data format: what AquaVM reads from and writes to a particle, compatible with the
//! reference AquaVM 0.62 (data format 0.17.2) in both directions.
//!
//! # Layers
//!
//! - **Envelope** ([`encode`], [`decode`]): a MessagePack map `{version, interpreter_version,
//!   inner_data}`. The versions stay readable even when the rest is not, so errors can say which
//!   interpreter wrote a data we cannot read. Empty bytes are empty data.
//! - **Archive** (`inner_data`): an rkyv 0.7 archive of [`InterpreterData`] in the reference's
//!   layout (big-endian, 32-bit offsets, shared pointers for shared strings, maps as vectors of
//!   entries). It is fully validated before anything is read from it; malformed bytes give a
//!   [`DataError`], never a panic, and decoding allocates at most in proportion to the input.
//! - **Trace** ([`ExecutedState`]): one state per `call`, `par`, `fold`, `ap` (into a stream) and
//!   `canon`. Values are not in the trace: states name them by [`Cid`].
//! - **Stores** ([`CidInfo`]): CID → value maps for call results and canon elements (as JSON
//!   text), tetraplets, and the aggregates tying a value to its tetraplet and arguments.
//! - **Signatures** ([`SignatureStore`]): each peer's Ed25519 signature over the CIDs it
//!   produced, salted with the particle id.
//!
//! Call requests and results, exchanged with the host rather than with peers, are in [`calls`].
//! [`DataView`] shows a data to people and tools (`air data show`).
//!
//! # What a received data proves, and what it does not
//!
//! [`verify`] (one data) and [`verify_and_merge`] (the step before an execution) check that:
//! - every store entry hashes to its CID, and every CID an entry or the trace refers to is stored,
//!   so nobody can swap a value without changing the CIDs that name it;
//! - every peer that produced a call result or canon (the `peer_pk` of its tetraplet) signed the
//!   exact sorted list of those CIDs, so a peer cannot be credited with results it did not
//!   produce, and its results cannot be dropped or added without breaking its signature;
//! - between this peer's previous data and the received one, each peer's CID multiset only grew
//!   (one contains the other), so a peer's history cannot be rewritten on the way.
//!
//! Known gaps, shared with the reference: results stored into nothing (`Unused`) are not signed;
//! the salt is the particle id, so a peer's signature is valid for any data of the same particle
//! that holds the same CIDs of that peer; the trace structure (`par` sizes, fold positions,
//! request markers) is not signed and is checked only while executing.

mod archive;
mod buffer;
pub mod calls;
mod cid;
mod codec;
mod model;
mod record_json;
mod show;
mod signatures;
mod store;
mod verify;

pub use archive::SharedStr;
pub use cid::{
    argument_hash, json_text_cid, serde_cid, value_cid, verify_cid, ArgumentHash, Cid, CidMismatch,
    JsonPart,
};
pub use codec::{
    check_version, decode, decode_envelope, decode_inner, decode_received, encode, DataError,
    Envelope, Versions, DATA_FORMAT_VERSION, INTERPRETER_VERSION,
    MIN_SUPPORTED_INTERPRETER_VERSION,
};
pub use model::{
    ApResult, CallResult, CallServiceFailed, CanonCidAggregate, CanonResult,
    CanonResultCidAggregate, ExecutedState, FoldResult, FoldSubTraceLore, InterpreterData,
    ParResult, Provenance, RawValue, Sender, ServiceResultCidAggregate, StoredValue, SubTraceDesc,
    Tetraplet, ValueRef,
};
pub use show::DataView;
pub use signatures::{
    forget_signatures, KeyError, KeyPair, PublicKey, Signature, SignatureCheckError,
    SignatureStore, SignatureTracker,
};
pub use store::{CidInfo, CidStore, CidStoreError, StoreItem};
pub use verify::{verify, verify_and_merge};
