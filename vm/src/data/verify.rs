//! Checking received data before executing on it: store integrity and authorship.

use super::codec::DataError;
use super::model::{
    CallResult, CanonResult, CanonResultCidAggregate, ExecutedState, InterpreterData,
    ServiceResultCidAggregate, Tetraplet, ValueRef,
};
use super::signatures::{self, GroupedCids, SignatureCheckError, SignatureStore};
use super::store::{CidInfo, CidStoreError};
use super::Cid;

/// Checks one data on its own: every store entry matches its CID, every reference resolves, and
/// every peer that produced a value signed exactly the CIDs it produced, salted with the particle
/// id.
pub fn verify(data: &InterpreterData, particle_id: &str) -> Result<(), DataError> {
    data.cid_info.verify()?;
    let groups = group_cids(data)?;
    signatures::check_signatures(&groups, &GroupedCids::new(), particle_id)?;
    Ok(())
}

/// The reference's verification step for an execution: checks `current` (received from another
/// peer) as [`verify`] does (without rehashing the entries that `prev` holds alike, see
/// [`CidInfo::verify_against`]), attributes `prev` (this peer's own stored data) the same way, and
/// checks that each peer's CIDs only grew or shrank consistently between the two (one multiset
/// contains the other).
///
/// Returns the merged signature store that the new data starts from.
pub fn verify_and_merge(
    prev: &InterpreterData,
    current: &InterpreterData,
    particle_id: &str,
) -> Result<SignatureStore, DataError> {
    current.cid_info.verify_against(&prev.cid_info)?;
    let prev_groups = group_cids(prev)?;
    let current_groups = group_cids(current)?;
    signatures::check_signatures(&current_groups, &prev_groups, particle_id)?;
    Ok(signatures::merge_signers(prev_groups, current_groups)?)
}

/// Attributes each CID-producing state of the trace to the peer of its tetraplet.
fn group_cids(data: &InterpreterData) -> Result<GroupedCids<'_>, DataError> {
    let mut groups = signatures::group_signers(&data.signatures)?;
    for (position, state) in data.trace.iter().enumerate() {
        let Some((cid, tetraplet)) = produced_cid(&data.cid_info, position, state)? else {
            continue;
        };
        let peer = groups.get_mut(&*tetraplet.peer_pk).ok_or_else(|| {
            SignatureCheckError::PeerIdNotFound {
                peer_id: tetraplet.peer_pk.to_string(),
            }
        })?;
        peer.cids.push(cid.as_str());
    }
    for peer in groups.values_mut() {
        peer.cids.sort_unstable();
    }
    Ok(groups)
}

/// The CID a state makes its author responsible for, with the tetraplet naming the author.
///
/// `Unused` call results are not covered, as in the reference.
fn produced_cid<'a>(
    cid_info: &'a CidInfo,
    position: usize,
    state: &'a ExecutedState,
) -> Result<Option<(&'a Cid, &'a Tetraplet)>, CidStoreError> {
    let tetraplet = |cid: &Cid| {
        cid_info
            .tetraplet_store
            .get(cid)
            .map(|tetraplet| &**tetraplet)
            .ok_or_else(|| CidStoreError::missing_in_trace::<Tetraplet>(position, cid))
    };
    match state {
        ExecutedState::Call(
            CallResult::Executed(ValueRef::Scalar(cid) | ValueRef::Stream { cid, .. })
            | CallResult::Failed(cid),
        ) => {
            let result = cid_info.service_result_store.get(cid).ok_or_else(|| {
                CidStoreError::missing_in_trace::<ServiceResultCidAggregate>(position, cid)
            })?;
            Ok(Some((cid, tetraplet(&result.tetraplet_cid)?)))
        }
        ExecutedState::Canon(CanonResult::Executed(cid)) => {
            let result = cid_info.canon_result_store.get(cid).ok_or_else(|| {
                CidStoreError::missing_in_trace::<CanonResultCidAggregate>(position, cid)
            })?;
            Ok(Some((cid, tetraplet(&result.tetraplet)?)))
        }
        _ => Ok(None),
    }
}
