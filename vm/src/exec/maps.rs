//! Stream maps (`%map`) and canon maps (`#%map`).
//!
//! A stream map is a stream whose values are `{"key": K, "value": V}` objects: `ap (K V) %map`
//! appends one, with the generation and trace state of a stream `ap`, and a fold over the map
//! walks those objects as a fold over a stream does. `canon` freezes the objects into a canon
//! map (the data format stores it as a canon stream of the objects), or into one object with
//! the first value of each key (`canon peer %map scalar`). A canon map is read whole (an object
//! from keys to arrays of values), by key (`#%map.$.key`, `#%map.$.key.[i]...`) or counted
//! (`#%map.length`, the number of values), with the reference's tetraplets for each form.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use air::ast::{Accessor, Lens, LensId};
use air::{Sym, Value as AirValue, ValueId};
use serde_json::Value;
use smallvec::smallvec;

use crate::data::{Provenance, Tetraplet};

use super::errors::{Catchable, ExecResult, LensError, Uncatchable};
use super::scalars::found;
use super::streams::Generation;
use super::text;
use super::values::{CanonStream, LazyAggregate, ValueAggregate};
use super::{Exec, Resolved, ScalarRef};

const KEY_FIELD: &str = "key";
const VALUE_FIELD: &str = "value";

/// A key of a stream map. Like the reference, integers that fit `i64` and larger unsigned ones
/// are different kinds of keys, and a string never equals a number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapKey {
    Str(Rc<str>),
    Int(i64),
    Uint(u64),
}

impl MapKey {
    /// Whether `value` is a key: [`MapKey::from_value`] without making it.
    fn is_key(value: &Value) -> bool {
        match value {
            Value::String(_) => true,
            Value::Number(n) => n.is_i64() || n.is_u64(),
            _ => false,
        }
    }

    /// Strings and integers are keys; anything else (floats included) is not.
    pub fn from_value(value: &Value) -> Option<MapKey> {
        match value {
            Value::String(s) => Some(MapKey::Str(Rc::from(s.as_str()))),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Some(MapKey::Int(i)),
                (None, Some(u)) => Some(MapKey::Uint(u)),
                (None, None) => None,
            },
            _ => None,
        }
    }

    /// The key as an object field name: numbers in decimal, so `7` and `"7"` name one field.
    fn field_name(&self) -> String {
        match self {
            MapKey::Str(s) => s.to_string(),
            MapKey::Int(i) => i.to_string(),
            MapKey::Uint(u) => u.to_string(),
        }
    }

    /// The key of a `{"key": .., "value": ..}` object.
    fn of_entry(entry: &Value) -> Option<MapKey> {
        MapKey::from_value(entry.as_object()?.get(KEY_FIELD)?)
    }
}

/// The value a stream map holds for one `ap (key value) %map`; `key` is a key (see
/// [`MapKey::is_key`]), kept as it is.
fn entry(key: &Value, value: &Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert(KEY_FIELD.into(), key.clone());
    object.insert(VALUE_FIELD.into(), value.clone());
    Value::Object(object)
}

/// An object from field names to values, with fields in name order whatever the JSON map
/// implementation keeps.
fn object(fields: BTreeMap<String, Value>) -> Value {
    Value::Object(fields.into_iter().collect())
}

/// A canonicalized stream map: its entries in canon order, and the values of each key.
#[derive(Debug)]
pub struct CanonMap {
    /// The canon stream of the entries, as the data stores it.
    pub canon: CanonStream,
    /// For each key, its values (with the metadata of their entries) in canon order. Built on
    /// first use: many canon maps are only stored or passed on, never read by key.
    by_key: OnceCell<BTreeMap<MapKey, Vec<ValueAggregate>>>,
}

impl CanonMap {
    /// Checks the entries of a canon stream. Entries that are not key/value objects can only
    /// come from forged data and abort the run.
    pub fn new(canon: CanonStream) -> ExecResult<CanonMap> {
        for element in &canon.values {
            let object = element.value.as_object();
            if !object
                .and_then(|o| o.get(KEY_FIELD))
                .is_some_and(MapKey::is_key)
            {
                return Err(Uncatchable::StreamMapKey(
                    "unsupported kvpair object or map key type".into(),
                )
                .into());
            }
            if object.and_then(|o| o.get(VALUE_FIELD)).is_none() {
                return Err(Uncatchable::StreamMapKey(
                    "there must be a \"value\" field in kvpair object".into(),
                )
                .into());
            }
        }
        Ok(CanonMap {
            canon,
            by_key: OnceCell::new(),
        })
    }

    fn by_key(&self) -> &BTreeMap<MapKey, Vec<ValueAggregate>> {
        self.by_key.get_or_init(|| {
            let mut by_key: BTreeMap<MapKey, Vec<ValueAggregate>> = BTreeMap::new();
            for element in &self.canon.values {
                // `new` checked every entry.
                let (Some(key), Some(value)) = (
                    MapKey::of_entry(&element.value),
                    element.value.get(VALUE_FIELD),
                ) else {
                    continue;
                };
                by_key.entry(key).or_default().push(ValueAggregate::new(
                    Rc::new(value.clone()),
                    element.tetraplet.clone(),
                    element.trace_pos,
                    element.provenance.clone(),
                ));
            }
            by_key
        })
    }

    /// The map as a JSON object from keys to arrays of values. Where a number key and a string
    /// key print alike, the number's values win (the reference leaves this to hash order).
    pub fn to_json(&self) -> Value {
        let fields = self
            .by_key()
            .iter()
            .map(|(key, values)| (key.field_name(), values_json(values)))
            .collect();
        object(fields)
    }

    pub fn values(&self) -> &[ValueAggregate] {
        &self.canon.values
    }

    fn provenance(&self) -> Provenance {
        Provenance::Canon {
            cid: self.canon.cid.clone(),
        }
    }
}

fn values_json(values: &[ValueAggregate]) -> Value {
    Value::Array(values.iter().map(|v| (*v.value).clone()).collect())
}

/// The object `canon peer %map scalar` makes: each key with its first value, keys compared by
/// their field names.
pub fn first_values(entries: &[ValueAggregate]) -> Value {
    let mut fields = BTreeMap::new();
    for entry in entries {
        let Some(key) = MapKey::of_entry(&entry.value) else {
            continue;
        };
        if let Some(value) = entry.value.get(VALUE_FIELD) {
            fields
                .entry(key.field_name())
                .or_insert_with(|| value.clone());
        }
    }
    object(fields)
}

impl Exec<'_> {
    /// `ap (key value) %map`. As in the reference, the value is taken first (waiting for it
    /// leaves no trace), then the trace state is met, then the key is resolved: waiting for the
    /// key or failing on it leaves the met state out of the new trace.
    pub(super) fn ap_map(
        &mut self,
        id: air::InstrId,
        key: ValueId,
        value: ValueId,
        map: ValueId,
    ) -> ExecResult<()> {
        let AirValue::StreamMap(name) = self.script.value(map) else {
            return Err(super::unexpected_form("ap into this kind of map"));
        };
        let aggregate = join!(self, self.ap_value(value, true));
        let met = self.merger.meet_ap().map_err(|e| self.trace_error(id, e))?;
        let key = join!(self, self.map_key(key, name));
        let generation = match met {
            Some(met) => Generation::Data(met.source, met.generation),
            None => Generation::New,
        };
        let entry = ValueAggregate::new(
            Rc::new(entry(&key.value, &aggregate.value)),
            aggregate.tetraplet,
            aggregate.trace_pos,
            aggregate.provenance,
        );
        let position = self.script.value_span(map).start;
        self.maps.add(name, position, entry, generation)?;
        self.merger.push_ap();
        Ok(())
    }

    // The key of `ap (key value) %map`, checked to be a key.
    fn map_key(&self, key: ValueId, map: Sym) -> ExecResult<Resolved> {
        let resolved = self.resolve(key)?;
        if !MapKey::is_key(&resolved.value) {
            return Err(Catchable::StreamMap(format!(
                "unsupported type for {} map's key",
                self.name(map)
            ))
            .into());
        }
        Ok(resolved)
    }

    /// The entries of the stream map `source` as the instruction sees it (none if it was never
    /// written).
    pub(super) fn stream_map_entries(
        &self,
        name: Sym,
        source: ValueId,
    ) -> ExecResult<Vec<ValueAggregate>> {
        let position = self.script.value_span(source).start;
        Ok(self
            .maps
            .get(name, position)
            .map(super::streams::Stream::values)
            .transpose()?
            .unwrap_or_default())
    }

    /// The single canon element of `canon peer %map scalar`: the first value of each key, as a
    /// literal of the canonicalizing peer.
    pub(super) fn first_values_element(
        &self,
        name: Sym,
        source: ValueId,
        peer: &Rc<Tetraplet>,
    ) -> ExecResult<ValueAggregate> {
        let entries = self.stream_map_entries(name, source)?;
        Ok(ValueAggregate::new(
            Rc::new(first_values(&entries)),
            peer.clone(),
            0,
            Provenance::Literal,
        ))
    }

    /// Sets the scalar of `canon peer %map scalar` from its canon stream of one object.
    pub(super) fn set_first_values(&mut self, target: Sym, canon: CanonStream) -> ExecResult<()> {
        let Some(element) = canon.values.first() else {
            return Err(Uncatchable::CanonStreamMap(
                "can not find JValue to produce scalar from".into(),
            )
            .into());
        };
        let value = ValueAggregate::new(
            element.value.clone(),
            canon.tetraplet.clone(),
            self.merger.trace_pos(),
            Provenance::Canon {
                cid: canon.cid.clone(),
            },
        );
        self.scalars
            .set(target, self.name(target), LazyAggregate::Ready(value))
    }

    pub(super) fn canon_map(&self, name: Sym) -> ExecResult<Rc<CanonMap>> {
        Ok(found(self.canon_maps.get(name), self.name(name))?.clone())
    }

    /// `#%map` as a value: the object of keys, with the tetraplets of all entries.
    pub(super) fn resolve_canon_map(
        &self,
        name: Sym,
        lens: Option<LensId>,
    ) -> ExecResult<Resolved> {
        let map = self.canon_map(name)?;
        match lens {
            None => Ok(Resolved {
                value: Rc::new(map.to_json()),
                tetraplets: map.values().iter().map(|v| v.tetraplet.clone()).collect(),
                provenance: map.provenance(),
            }),
            Some(lens) => self.canon_map_lens(&map, lens),
        }
    }

    /// A lens on a canon map. The provenance is always the map's. `.length` counts values and
    /// gets the tetraplet of the current peer with the lens `length`; `.$.key` is the array of
    /// the key's values (empty for a missing key) with the map's tetraplet and the whole lens;
    /// `.$.key.[i]` is one value with its own tetraplet, extended by any further accessors.
    pub(super) fn canon_map_lens(&self, map: &CanonMap, lens: LensId) -> ExecResult<Resolved> {
        let provenance = map.provenance();
        let (value, tetraplet) = match self.script.lens(lens) {
            Lens::Length => (
                Value::from(map.values().len()),
                Rc::new(Tetraplet {
                    peer_pk: Arc::from(&*self.current_peer_id),
                    lens: "length".into(),
                    ..Tetraplet::default()
                }),
            ),
            Lens::Path { accessors, .. } => {
                let (first, rest) = accessors.split_first().ok_or(LensError::EmptyStream)?;
                let key = self.lens_key(*first)?;
                match map.by_key().get(&key) {
                    Some(values) if !rest.is_empty() => self.select_from_key(values, rest)?,
                    found => {
                        let values = found.map(Vec::as_slice).unwrap_or_default();
                        let tetraplet = Rc::new(Tetraplet {
                            lens: text::lens(self.script, lens).into(),
                            ..(*map.canon.tetraplet).clone()
                        });
                        (values_json(values), tetraplet)
                    }
                }
            }
        };
        Ok(Resolved {
            value: Rc::new(value),
            tetraplets: smallvec![tetraplet],
            provenance,
        })
    }

    /// The key the first accessor of a lens on a canon map names.
    fn lens_key(&self, accessor: Accessor) -> ExecResult<MapKey> {
        match accessor {
            Accessor::Index(idx) => Ok(MapKey::Int(idx.into())),
            Accessor::Field(name) => Ok(MapKey::Str(Rc::from(self.name(name)))),
            Accessor::Var(name) => match self.scalar_ref(name)? {
                ScalarRef::Value(v) => MapKey::from_value(&v.value).ok_or_else(|| {
                    LensError::CanonStreamMapAccessorHasInvalidType {
                        accessor: (*v.value).clone(),
                    }
                    .into()
                }),
                ScalarRef::Item(_) => {
                    Err(LensError::CanonStreamMapAccessorMustNotBeIterable.into())
                }
            },
        }
    }

    /// `.$.key.[i]` and what follows it, on the values of one key.
    fn select_from_key(
        &self,
        values: &[ValueAggregate],
        accessors: &[Accessor],
    ) -> ExecResult<(Value, Rc<Tetraplet>)> {
        let (idx, rest) = self.stream_index(accessors)?;
        let element = values
            .get(idx)
            .ok_or(LensError::CanonStreamNotHaveEnoughValues {
                stream_size: values.len(),
                idx,
            })?;
        if rest.is_empty() {
            return Ok(((*element.value).clone(), element.tetraplet.clone()));
        }
        let value = self.apply_accessors(&element.value, rest)?;
        // The reference appends the remaining accessors without the `.$` of a lens.
        let tetraplet = element
            .tetraplet
            .with_lens_suffix(text::accessors(self.script, rest));
        Ok((value, Rc::new(tetraplet)))
    }
}
