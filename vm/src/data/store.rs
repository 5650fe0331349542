//! Content-addressed stores: CID → value maps, and their integrity check.

use super::archive::{read_shared, SharedPointers, SharedStr};
use super::cid::{self, ArchivedCid, Cid, CidMismatch, CidText};
use super::model::{
    CanonCidAggregate, CanonResultCidAggregate, Provenance, RawValue, ServiceResultCidAggregate,
    StoredValue, Tetraplet,
};

use indexmap::IndexMap;
use rkyv::collections::util::Entry;
use rkyv::ser::{ScratchSpace, Serializer};
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::with::{ArchiveWith, AsVec, DeserializeWith, SerializeWith};
use rkyv::{Archive, Deserialize as _, Fallible};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::rc::Rc;

/// A map from CID to the value it names.
///
/// Entries keep the order they were added in: a decoded store the order of its archive, then
/// whatever merging and execution added. Encoding is thus deterministic without sorting (the
/// reference writes its hash maps' order, so sorting would be needed on every read). A store
/// built with [`CidStore::insert`] is consistent by construction; a decoded one is only
/// trustworthy after [`CidInfo::verify`].
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub struct CidStore<T>(#[with(StoreEntries)] StoreMap<T>);

/// CIDs of a decoded store are chosen by the sender until verified, so they are hashed with a
/// randomly keyed hash.
type StoreMap<T> = IndexMap<Cid, Rc<T>, foldhash::fast::RandomState>;

/// A store as archived: a vector of CID and value entries.
type ArchivedStore<T> =
    ArchivedVec<Entry<<Cid as Archive>::Archived, <Rc<T> as Archive>::Archived>>;

/// Archives a store as the reference does (rkyv's `AsVec`: a vector of entries) and reads it
/// back in archive order, each value with one allocation (see [`read_shared`]). Duplicate keys
/// (possible only in a crafted archive) keep the last value.
pub(crate) struct StoreEntries;

impl<T: Archive> ArchiveWith<StoreMap<T>> for StoreEntries {
    type Archived = ArchivedStore<T>;
    type Resolver = VecResolver;

    unsafe fn resolve_with(
        field: &StoreMap<T>,
        pos: usize,
        resolver: VecResolver,
        out: *mut Self::Archived,
    ) {
        // SAFETY: the caller's guarantees are passed on to rkyv's vector archiving, which
        // `AsVec` uses for maps too.
        unsafe { ArchivedVec::resolve_from_len(field.len(), pos, resolver, out) }
    }
}

impl<T, S> SerializeWith<StoreMap<T>, S> for StoreEntries
where
    T: Archive,
    Cid: rkyv::Serialize<S>,
    Rc<T>: rkyv::Serialize<S>,
    S: ScratchSpace + Serializer + ?Sized,
{
    fn serialize_with(field: &StoreMap<T>, serializer: &mut S) -> Result<VecResolver, S::Error> {
        ArchivedVec::serialize_from_iter(
            field.iter().map(|(key, value)| Entry { key, value }),
            serializer,
        )
    }
}

impl<'k, T> DeserializeWith<ArchivedStore<T>, StoreMap<T>, SharedPointers<'k>> for StoreEntries
where
    T: KnownEntry + 'static,
    T::Archived: rkyv::Deserialize<T, SharedPointers<'k>>,
{
    fn deserialize_with(
        field: &ArchivedStore<T>,
        deserializer: &mut SharedPointers<'k>,
    ) -> Result<StoreMap<T>, Infallible> {
        let known = deserializer
            .known
            .map(T::store_of)
            .filter(|store| !store.is_empty());
        let mut map = StoreMap::with_capacity_and_hasher(field.len(), Default::default());
        for entry in field.iter() {
            let archived = entry.value.get();
            if let Some((cid, value)) = known.and_then(|known| known.alike(&entry.key, archived)) {
                deserializer.share_str(entry.key.as_str(), cid.as_shared());
                map.insert(cid.clone(), Rc::clone(value));
                continue;
            }
            let cid = entry.key.deserialize(deserializer)?;
            map.insert(cid, read_shared(&entry.value, deserializer));
        }
        Ok(map)
    }
}

/// A store item that reading an archive can take from stores already read instead of reading
/// it again: it knows its store among them and compares with its archived form.
pub(crate) trait KnownEntry: Archive + Sized {
    /// This item's store among `stores`.
    fn store_of(stores: &CidInfo) -> &CidStore<Self>;

    /// Whether `archived` is an archive of this item.
    fn is_archived_as(&self, archived: &Self::Archived) -> bool;
}

/// Archives a `BTreeMap` as rkyv's `AsVec` does (a vector of its entries in key order) but
/// reads it back in one pass: rkyv inserts entries one by one, a lookup each, while collecting
/// them sorts them, in linear time when they come in order as this VM writes them. Duplicate
/// keys (possible only in a crafted archive) keep the last value either way.
pub(crate) struct EntryVec;

impl<K: Archive, V: Archive> ArchiveWith<BTreeMap<K, V>> for EntryVec {
    type Archived = <AsVec as ArchiveWith<BTreeMap<K, V>>>::Archived;
    type Resolver = <AsVec as ArchiveWith<BTreeMap<K, V>>>::Resolver;

    unsafe fn resolve_with(
        field: &BTreeMap<K, V>,
        pos: usize,
        resolver: Self::Resolver,
        out: *mut Self::Archived,
    ) {
        // SAFETY: the caller's guarantees are passed on to the same operation of `AsVec`, whose
        // archived form this is.
        unsafe { AsVec::resolve_with(field, pos, resolver, out) }
    }
}

impl<K: Archive, V: Archive, S: Fallible + ?Sized> SerializeWith<BTreeMap<K, V>, S> for EntryVec
where
    AsVec: SerializeWith<BTreeMap<K, V>, S>,
{
    fn serialize_with(
        field: &BTreeMap<K, V>,
        serializer: &mut S,
    ) -> Result<Self::Resolver, S::Error> {
        AsVec::serialize_with(field, serializer)
    }
}

impl<K, V, D> DeserializeWith<ArchivedVec<Entry<K::Archived, V::Archived>>, BTreeMap<K, V>, D>
    for EntryVec
where
    K: Archive + Ord,
    V: Archive,
    K::Archived: rkyv::Deserialize<K, D>,
    V::Archived: rkyv::Deserialize<V, D>,
    D: Fallible + ?Sized,
{
    fn deserialize_with(
        field: &ArchivedVec<Entry<K::Archived, V::Archived>>,
        deserializer: &mut D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        let mut entries = Vec::with_capacity(field.len());
        for entry in field.iter() {
            entries.push((
                entry.key.deserialize(deserializer)?,
                entry.value.deserialize(deserializer)?,
            ));
        }
        Ok(entries.into_iter().collect())
    }
}

impl<T> Default for CidStore<T> {
    fn default() -> Self {
        Self(StoreMap::default())
    }
}

impl<T> CidStore<T> {
    /// The value named by `cid`.
    pub fn get(&self, cid: &Cid) -> Option<&Rc<T>> {
        self.0.get(cid)
    }

    /// Whether `cid` names a value of this store.
    pub fn contains(&self, cid: &Cid) -> bool {
        self.0.contains_key(cid)
    }

    /// Entries in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Cid, &Rc<T>)> + '_ {
        self.0.iter()
    }

    /// The entry of `cid` when its value is `archived`.
    fn alike(&self, cid: &ArchivedCid, archived: &T::Archived) -> Option<(&Cid, &Rc<T>)>
    where
        T: KnownEntry,
    {
        let (cid, value) = self.0.get_key_value(&CidText(cid.as_str()))?;
        value.is_archived_as(archived).then_some((cid, value))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every entry of `other` that this store lacks, such as the current data's entries to
    /// the previous data's when merging, in `other`'s order. Of an entry present in both, this
    /// store's is kept: equal CIDs name equal values in verified stores.
    pub fn merge(&mut self, other: CidStore<T>) {
        if self.0.is_empty() {
            *self = other;
            return;
        }
        // No reservation for all of `other`: merged datas share most of their entries, and
        // a map grown to hold both in full would be twice the size it needs.
        for (cid, value) in other.0 {
            self.0.entry(cid).or_insert(value);
        }
    }
}

/// Builds a store from entries whose CIDs were computed elsewhere (for example a store the
/// interpreter kept in another shape); like decoded stores, it is only trustworthy after
/// [`CidInfo::verify`].
impl<T> FromIterator<(Cid, Rc<T>)> for CidStore<T> {
    fn from_iter<I: IntoIterator<Item = (Cid, Rc<T>)>>(entries: I) -> Self {
        Self(entries.into_iter().collect())
    }
}

impl<T: StoreItem> CidStore<T> {
    /// Stores `value` and returns its CID; storing an equal value again returns the same CID.
    pub fn insert(&mut self, value: impl Into<Rc<T>>) -> Cid {
        let value = value.into();
        let cid = value.cid();
        self.0.entry(cid.clone()).or_insert(value);
        cid
    }

    /// Checks every entry against its CID. An entry that `trusted` holds with equal content
    /// (the previous data's, which this peer wrote) is not rehashed: its content is known to hash
    /// to its CID, and comparing costs a fraction of hashing.
    fn verify_entries(&self, trusted: &Self) -> Result<(), CidStoreError> {
        let known = self.entries_also_in(trusted);
        for (index, (cid, value)) in self.iter().enumerate() {
            if known.get(index).is_some_and(|known| *known) {
                continue;
            }
            value
                .verify_cid(cid)
                .map_err(|reason| CidStoreError::ValueMismatch {
                    store: Self::name(),
                    cid: cid.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    /// Marks, by index, the entries that `other` holds with equal content. The smaller store is
    /// walked, so that a large store received beside a small one costs no lookup per entry.
    fn entries_also_in(&self, other: &Self) -> Vec<bool> {
        if other.is_empty() {
            return Vec::new();
        }
        let mut known = vec![false; self.len()];
        if other.len() < self.len() {
            for (cid, value) in other.iter() {
                if let Some((index, _, ours)) = self.0.get_full(cid) {
                    known[index] = ours == value;
                }
            }
        } else {
            for ((cid, value), known) in self.iter().zip(&mut known) {
                *known = other.get(cid).is_some_and(|theirs| theirs == value);
            }
        }
        known
    }

    fn name() -> &'static str {
        T::STORE_NAME
    }

    fn check_reference(&self, target: &Cid, from: Location<'_>) -> Result<(), CidStoreError> {
        if self.contains(target) {
            Ok(())
        } else {
            Err(CidStoreError::MissingReference {
                from_store: from.store,
                from_cid: from.cid.clone(),
                to_store: Self::name(),
                to_cid: target.clone(),
            })
        }
    }
}

/// A value that can live in a [`CidStore`]: knows how its CID is computed. Equal values have
/// equal CIDs.
pub trait StoreItem: PartialEq {
    /// Name of the store, for error messages.
    const STORE_NAME: &'static str;

    /// The CID of this value.
    fn cid(&self) -> Cid;

    /// Checks that `cid` names this value.
    fn verify_cid(&self, cid: &Cid) -> Result<(), CidMismatch>;
}

impl StoreItem for RawValue {
    const STORE_NAME: &'static str = "value";

    fn cid(&self) -> Cid {
        RawValue::cid(self)
    }

    fn verify_cid(&self, cid: &Cid) -> Result<(), CidMismatch> {
        // The text is hashed as stored; like the reference, it is not required to be valid JSON.
        cid::verify_cid(cid, self.as_str())
    }
}

/// Records hashed over their JSON.
macro_rules! record_store_item {
    ($($item:ty => $name:literal),* $(,)?) => {$(
        impl StoreItem for $item {
            const STORE_NAME: &'static str = $name;

            fn cid(&self) -> Cid {
                cid::record_cid(self)
            }

            fn verify_cid(&self, cid: &Cid) -> Result<(), CidMismatch> {
                cid::verify_record_cid(cid, self)
            }
        }
    )*};
}

record_store_item! {
    Tetraplet => "tetraplet",
    CanonCidAggregate => "canon element",
    CanonResultCidAggregate => "canon result",
    ServiceResultCidAggregate => "service result",
}

/// All stores of a particle data.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct CidInfo {
    /// Call results and canon element values.
    pub value_store: CidStore<RawValue>,
    /// Tetraplets of call results, canon elements and canons.
    pub tetraplet_store: CidStore<Tetraplet>,
    /// Canon stream elements.
    pub canon_element_store: CidStore<CanonCidAggregate>,
    /// Canon results, referred to by the trace's canon states.
    pub canon_result_store: CidStore<CanonResultCidAggregate>,
    /// Call results, referred to by the trace's call states.
    pub service_result_store: CidStore<ServiceResultCidAggregate>,
}

impl CidInfo {
    /// Stores a call result (value, tetraplet and the aggregate tying them together) and returns
    /// the aggregate's CID, the one the trace refers to.
    pub fn insert_service_result<V: StoredValue + ?Sized>(
        &mut self,
        value: &V,
        tetraplet: impl Into<Rc<Tetraplet>>,
        argument_hash: SharedStr,
    ) -> Cid {
        let tetraplet_cid = self.tetraplet_store.insert(tetraplet);
        self.insert_service_result_of(value, tetraplet_cid, argument_hash)
    }

    /// [`CidInfo::insert_service_result`] with a tetraplet already stored, by its CID.
    pub(crate) fn insert_service_result_of<V: StoredValue + ?Sized>(
        &mut self,
        value: &V,
        tetraplet_cid: Cid,
        argument_hash: SharedStr,
    ) -> Cid {
        self.insert_service_result_raw(RawValue::from_value(value), tetraplet_cid, argument_hash)
    }

    /// [`CidInfo::insert_service_result_of`] with the value's stored form already made.
    pub(crate) fn insert_service_result_raw(
        &mut self,
        value: RawValue,
        tetraplet_cid: Cid,
        argument_hash: SharedStr,
    ) -> Cid {
        let value_cid = self.value_store.insert(value);
        self.service_result_store.insert(ServiceResultCidAggregate {
            value_cid,
            argument_hash,
            tetraplet_cid,
        })
    }

    /// Stores a canon stream element and returns its CID.
    pub fn insert_canon_element<V: StoredValue + ?Sized>(
        &mut self,
        value: &V,
        tetraplet: impl Into<Rc<Tetraplet>>,
        provenance: Provenance,
    ) -> Cid {
        let tetraplet = self.tetraplet_store.insert(tetraplet);
        self.insert_canon_element_of(value, tetraplet, provenance)
    }

    /// [`CidInfo::insert_canon_element`] with a tetraplet already stored, by its CID.
    pub(crate) fn insert_canon_element_of<V: StoredValue + ?Sized>(
        &mut self,
        value: &V,
        tetraplet: Cid,
        provenance: Provenance,
    ) -> Cid {
        let value = self.value_store.insert(RawValue::from_value(value));
        self.canon_element_store.insert(CanonCidAggregate {
            value,
            tetraplet,
            provenance,
        })
    }

    /// Stores a canon result (the canon's tetraplet and the CIDs of its elements) and returns
    /// its CID, the one the trace refers to.
    pub fn insert_canon_result(
        &mut self,
        tetraplet: impl Into<Rc<Tetraplet>>,
        values: Vec<Cid>,
    ) -> Cid {
        let tetraplet = self.tetraplet_store.insert(tetraplet);
        self.canon_result_store
            .insert(CanonResultCidAggregate { tetraplet, values })
    }

    /// Adds the entries of `other` that are missing here (see [`CidStore::merge`]).
    pub fn merge(&mut self, other: CidInfo) {
        self.value_store.merge(other.value_store);
        self.tetraplet_store.merge(other.tetraplet_store);
        self.canon_element_store.merge(other.canon_element_store);
        self.canon_result_store.merge(other.canon_result_store);
        self.service_result_store.merge(other.service_result_store);
    }

    /// Lets go of the values parsed from stored texts, which only the interpreter reads:
    /// written data holds the texts, and a parsed value as large as its text would otherwise
    /// stay alive while the new data is written (a third copy of a 100 MB result).
    pub fn forget_parsed_values(&mut self) {
        for value in self.value_store.0.values_mut() {
            if let Some(value) = Rc::get_mut(value) {
                value.forget_parsed();
            }
        }
    }

    /// Rehashes every entry and checks that every CID an entry refers to is stored.
    ///
    /// The checks and their order follow the reference, so the first error reported is the same:
    /// values, tetraplets, canon elements and results (hashes, then references), service results
    /// (hashes, then references). References from the trace are checked by
    /// [`crate::data::verify`], which needs them to attribute CIDs to peers.
    pub fn verify(&self) -> Result<(), CidStoreError> {
        self.verify_against(&CidInfo::default())
    }

    /// [`CidInfo::verify`] for stores received along with `trusted` ones (this peer's previous
    /// data): an entry that `trusted` holds with the same content is not rehashed. The outcome,
    /// and the first error, are those of [`CidInfo::verify`].
    pub fn verify_against(&self, trusted: &CidInfo) -> Result<(), CidStoreError> {
        self.value_store.verify_entries(&trusted.value_store)?;
        self.tetraplet_store
            .verify_entries(&trusted.tetraplet_store)?;
        self.verify_canon_stores(trusted)?;
        self.verify_service_result_store(trusted)
    }

    fn verify_canon_stores(&self, trusted: &CidInfo) -> Result<(), CidStoreError> {
        self.canon_element_store
            .verify_entries(&trusted.canon_element_store)?;
        self.canon_result_store
            .verify_entries(&trusted.canon_result_store)?;

        for (cid, canon) in self.canon_result_store.iter() {
            let from = Location::of::<CanonResultCidAggregate>(cid);
            for element in &canon.values {
                self.canon_element_store.check_reference(element, from)?;
            }
            self.tetraplet_store
                .check_reference(&canon.tetraplet, from)?;
        }

        for (cid, element) in self.canon_element_store.iter() {
            let from = Location::of::<CanonCidAggregate>(cid);
            self.tetraplet_store
                .check_reference(&element.tetraplet, from)?;
            self.value_store.check_reference(&element.value, from)?;
            match &element.provenance {
                Provenance::Literal => {}
                Provenance::ServiceResult { cid } => {
                    self.service_result_store.check_reference(cid, from)?;
                }
                Provenance::Canon { cid } => {
                    self.canon_result_store.check_reference(cid, from)?;
                }
            }
        }
        Ok(())
    }

    fn verify_service_result_store(&self, trusted: &CidInfo) -> Result<(), CidStoreError> {
        self.service_result_store
            .verify_entries(&trusted.service_result_store)?;
        for (cid, result) in self.service_result_store.iter() {
            let from = Location::of::<ServiceResultCidAggregate>(cid);
            self.tetraplet_store
                .check_reference(&result.tetraplet_cid, from)?;
            self.value_store.check_reference(&result.value_cid, from)?;
        }
        Ok(())
    }
}

/// The entry a reference is made from, for error messages.
#[derive(Clone, Copy)]
struct Location<'a> {
    store: &'static str,
    cid: &'a Cid,
}

impl<'a> Location<'a> {
    fn of<T: StoreItem>(cid: &'a Cid) -> Self {
        Self {
            store: T::STORE_NAME,
            cid,
        }
    }
}

/// The stores of a data are inconsistent: an entry does not match its CID, or a CID refers to
/// nothing. The reference reports these as `CidStoreVerificationError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidStoreError {
    /// An entry's content does not hash to its CID.
    #[error("{store} store entry {cid} does not match its CID: {reason}")]
    ValueMismatch {
        /// The store holding the entry.
        store: &'static str,
        /// The entry's CID.
        cid: Cid,
        /// What is wrong.
        reason: CidMismatch,
    },
    /// An entry refers to a CID that its target store does not hold.
    #[error("{from_store} store entry {from_cid} refers to {to_cid}, which is not in the {to_store} store")]
    MissingReference {
        /// The store of the referring entry.
        from_store: &'static str,
        /// The referring entry.
        from_cid: Cid,
        /// The store that should hold the target.
        to_store: &'static str,
        /// The missing CID.
        to_cid: Cid,
    },
    /// A trace state refers to a CID that its store does not hold.
    #[error("trace state {position} refers to {cid}, which is not in the {store} store")]
    MissingTraceReference {
        /// Position of the state in the trace.
        position: usize,
        /// The store that should hold the target.
        store: &'static str,
        /// The missing CID.
        cid: Cid,
    },
}

impl CidStoreError {
    pub(crate) fn missing_in_trace<T: StoreItem>(position: usize, cid: &Cid) -> Self {
        Self::MissingTraceReference {
            position,
            store: T::STORE_NAME,
            cid: cid.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{archive, CallResult, ExecutedState, InterpreterData, ValueRef};
    use serde_json::json;

    fn value(text: &str) -> Rc<RawValue> {
        Rc::new(RawValue::from_value(&json!(text)))
    }

    fn texts(store: &CidStore<RawValue>) -> Vec<(&str, &str)> {
        store
            .iter()
            .map(|(cid, value)| (cid.as_str(), value.as_str()))
            .collect()
    }

    #[test]
    fn merging_keeps_entries_present_and_appends_the_others_in_order() {
        let mut ours: CidStore<RawValue> = [("x", "1"), ("y", "2")]
            .into_iter()
            .map(|(cid, text)| (Cid::new(cid), value(text)))
            .collect();
        let theirs: CidStore<RawValue> = [("z", "3"), ("y", "other"), ("w", "4")]
            .into_iter()
            .map(|(cid, text)| (Cid::new(cid), value(text)))
            .collect();
        ours.merge(theirs);
        assert_eq!(
            texts(&ours),
            [
                ("x", "\"1\""),
                ("y", "\"2\""),
                ("z", "\"3\""),
                ("w", "\"4\"")
            ]
        );
    }

    #[test]
    fn decoding_keeps_the_archive_order() {
        let mut data = InterpreterData::default();
        let inserted: Vec<Cid> = ["c", "a", "d", "b"]
            .into_iter()
            .map(|text| data.cid_info.value_store.insert(value(text)))
            .collect();
        let decoded = archive::from_bytes(&archive::to_vec(&data), None).expect("decodes");
        let cids: Vec<&Cid> = decoded
            .cid_info
            .value_store
            .iter()
            .map(|(cid, _)| cid)
            .collect();
        assert_eq!(cids, inserted.iter().collect::<Vec<_>>());
        assert_eq!(decoded.cid_info, data.cid_info);
    }

    /// Stores whose value store maps each CID to a text, as given (not necessarily matching).
    fn stores(entries: &[(&str, &str)]) -> CidInfo {
        CidInfo {
            value_store: entries
                .iter()
                .map(|(cid, text)| (Cid::new(*cid), value(text)))
                .collect(),
            ..CidInfo::default()
        }
    }

    #[test]
    fn verifying_against_trusted_stores_rehashes_only_what_they_lack_alike() {
        let mut consistent = CidInfo::default();
        let good = consistent.value_store.insert(value("good"));
        let good = (good.as_str(), "good");
        // An entry trusted as it is: the received copy is equal, so it is not rehashed (which
        // would fail, since "x" is not the CID of "1").
        let trusted = stores(&[("x", "1"), good]);
        let received = stores(&[good, ("x", "1")]);
        assert!(received.verify().is_err());
        assert_eq!(received.verify_against(&trusted), Ok(()));

        // A received entry that differs from the trusted one under the same CID is rehashed, and
        // fails as it does without trusted stores; the trusted store is walked when it is the
        // smaller one, and the received one otherwise.
        for trusted in [
            stores(&[("x", "1")]),
            stores(&[("x", "1"), good, ("y", "2")]),
        ] {
            let tampered = stores(&[good, ("x", "2")]);
            let error = tampered.verify().expect_err("x is not the CID of 2");
            assert_eq!(tampered.verify_against(&trusted), Err(error));
        }
    }

    #[test]
    fn decoding_against_known_stores_takes_the_entries_they_hold_alike() {
        let mut known = InterpreterData::default();
        let tetraplet = Tetraplet::peer_only("peer");
        let kept = known.cid_info.insert_service_result(
            &json!("kept"),
            tetraplet.clone(),
            SharedStr::from("hash"),
        );
        known
            .trace
            .push(ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(
                kept.clone(),
            ))));

        // The received data holds the same entries and one more, and a tampered copy of a
        // known value under its CID.
        let mut received = known.clone();
        received
            .cid_info
            .insert_service_result(&json!("new"), tetraplet, SharedStr::from("hash"));
        let (tampered_cid, _) = known.cid_info.value_store.iter().next().expect("a value");
        let mut tampered = received.clone();
        tampered.cid_info.value_store = tampered
            .cid_info
            .value_store
            .iter()
            .map(|(cid, value)| match cid == tampered_cid {
                true => (cid.clone(), self::value("forged")),
                false => (cid.clone(), Rc::clone(value)),
            })
            .collect();

        let bytes = archive::to_vec(&received);
        let decoded = archive::from_bytes(&bytes, Some(&known.cid_info)).expect("decodes");
        assert_eq!(decoded, received);
        // Shared: the known entries, and the CID strings of the trace too (`kept` is the
        // known store's key).
        let known_entry = |store: &CidStore<Tetraplet>| Rc::clone(store.iter().next().unwrap().1);
        assert!(Rc::ptr_eq(
            &known_entry(&decoded.cid_info.tetraplet_store),
            &known_entry(&known.cid_info.tetraplet_store),
        ));
        let results = [&decoded.cid_info, &known.cid_info]
            .map(|stores| Rc::clone(stores.service_result_store.get(&kept).expect("kept")));
        assert!(Rc::ptr_eq(&results[0], &results[1]));
        let ExecutedState::Call(CallResult::Executed(ValueRef::Scalar(cid))) = &decoded.trace[0]
        else {
            panic!("a call state")
        };
        assert_eq!(cid.as_str().as_ptr(), kept.as_str().as_ptr());

        // The tampered value is read as it is, and the check finds it.
        let decoded = archive::from_bytes(&archive::to_vec(&tampered), Some(&known.cid_info))
            .expect("decodes");
        assert_eq!(decoded, tampered);
        let forged = decoded
            .cid_info
            .value_store
            .get(tampered_cid)
            .expect("forged");
        assert_eq!(forged.as_str(), "\"forged\"");
        assert!(decoded.cid_info.verify_against(&known.cid_info).is_err());
    }

    #[test]
    fn entries_sharing_one_target_are_read_as_one() {
        // Two entries of one store pointing at the same value (only a forged archive has
        // them), beside entries of their own: the shared one is read once, not once per entry.
        let shared = value("shared");
        let mut data = InterpreterData::default();
        data.cid_info.value_store = [
            (Cid::new("first"), Rc::clone(&shared)),
            (Cid::new("own"), value("own")),
            (Cid::new("second"), Rc::clone(&shared)),
        ]
        .into_iter()
        .collect();
        let decoded = archive::from_bytes(&archive::to_vec(&data), None).expect("decodes");
        assert_eq!(decoded, data);
        let entry =
            |cid: &str| Rc::clone(decoded.cid_info.value_store.get(&Cid::new(cid)).unwrap());
        assert!(Rc::ptr_eq(&entry("first"), &entry("second")));
        assert!(!Rc::ptr_eq(&entry("first"), &entry("own")));
        assert_eq!(entry("second").as_str(), "\"shared\"");
    }
}
