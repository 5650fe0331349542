//! Reading call and canon results back out of the content-addressed stores. A CID that the
//! trace refers to but the stores lack aborts the run.

use std::rc::Rc;

use serde_json::Value;

use crate::data::{
    CanonResultCidAggregate, Cid, CidInfo, RawValue, ServiceResultCidAggregate, Tetraplet,
};

use super::errors::{ExecResult, Uncatchable};
use super::values::ValueAggregate;

/// A call result found in the data, resolved through the stores.
pub struct ServiceInfo {
    /// The stored value, not parsed yet.
    pub value: Rc<RawValue>,
    pub tetraplet: Rc<Tetraplet>,
    pub aggregate: Rc<ServiceResultCidAggregate>,
}

fn missing(kind: &'static str, cid: &Cid) -> Uncatchable {
    Uncatchable::ValueForCidNotFound {
        kind,
        cid: cid.to_string(),
    }
}

pub fn value(cids: &CidInfo, cid: &Cid) -> ExecResult<Rc<Value>> {
    parsed(stored_value(cids, cid)?, cid)
}

fn stored_value<'c>(cids: &'c CidInfo, cid: &Cid) -> ExecResult<&'c Rc<RawValue>> {
    Ok(cids
        .value_store
        .get(cid)
        .ok_or_else(|| missing("value", cid))?)
}

/// The value of a stored text (its CID is `cid`), parsed once and shared.
pub fn parsed(raw: &RawValue, cid: &Cid) -> ExecResult<Rc<Value>> {
    match raw.shared_value() {
        Ok(value) => Ok(Rc::clone(value)),
        Err(e) => Err(Uncatchable::Cid(format!("value for CID {cid} is not JSON: {e}")).into()),
    }
}

pub fn tetraplet(cids: &CidInfo, cid: &Cid) -> ExecResult<Rc<Tetraplet>> {
    Ok(cids
        .tetraplet_store
        .get(cid)
        .ok_or_else(|| missing("tetraplet", cid))?
        .clone())
}

pub fn service_info(cids: &CidInfo, cid: &Cid) -> ExecResult<ServiceInfo> {
    let aggregate = cids
        .service_result_store
        .get(cid)
        .ok_or_else(|| missing("service result aggregate", cid))?
        .clone();
    Ok(ServiceInfo {
        value: Rc::clone(stored_value(cids, &aggregate.value_cid)?),
        tetraplet: tetraplet(cids, &aggregate.tetraplet_cid)?,
        aggregate,
    })
}

pub fn canon_result(cids: &CidInfo, cid: &Cid) -> ExecResult<Rc<CanonResultCidAggregate>> {
    Ok(cids
        .canon_result_store
        .get(cid)
        .ok_or_else(|| missing("canon result aggregate", cid))?
        .clone())
}

/// A canon element as a value; elements loaded from data have no trace position.
pub fn canon_element(cids: &CidInfo, cid: &Cid) -> ExecResult<ValueAggregate> {
    let aggregate = cids
        .canon_element_store
        .get(cid)
        .ok_or_else(|| missing("canon aggregate", cid))?;
    Ok(ValueAggregate::new(
        value(cids, &aggregate.value)?,
        tetraplet(cids, &aggregate.tetraplet)?,
        0,
        aggregate.provenance.clone(),
    ))
}
