//! Values as the interpreter holds them: a JSON value with its security tetraplet, its position
//! in the trace and its provenance (where it came from, by CID).

use std::cell::{OnceCell, RefCell};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use foldhash::fast::RandomState;
use serde_json::Value;

use crate::data::{Cid, Provenance, RawValue, Tetraplet};

use super::cids::{self, ServiceInfo};
use super::errors::ExecResult;

/// A value in a variable or a stream.
#[derive(Debug, Clone)]
pub struct ValueAggregate {
    pub value: Rc<Value>,
    pub tetraplet: Rc<Tetraplet>,
    /// The trace position of the state that produced the value (streams need it to rewrite
    /// generations and to match fold iterations across peers).
    pub trace_pos: u32,
    pub provenance: Provenance,
}

impl ValueAggregate {
    /// A value with a provenance. Like the reference, a literal keeps only the peer of its
    /// tetraplet and a canon value only the peer and the lens: these tetraplets describe where
    /// the value comes from, not the path it took.
    pub fn new(
        value: Rc<Value>,
        tetraplet: Rc<Tetraplet>,
        trace_pos: u32,
        provenance: Provenance,
    ) -> Self {
        let peer_only = |t: &Tetraplet| t.service_id.is_empty() && t.function_name.is_empty();
        let tetraplet = match &provenance {
            // Most literals come with the tetraplet of constants already: it is shared.
            Provenance::Literal if peer_only(&tetraplet) && tetraplet.lens.is_empty() => tetraplet,
            Provenance::Literal => Rc::new(Tetraplet::peer_only(Arc::clone(&tetraplet.peer_pk))),
            Provenance::Canon { .. } if peer_only(&tetraplet) => tetraplet,
            Provenance::Canon { .. } => Rc::new(Tetraplet {
                lens: tetraplet.lens.clone(),
                ..Tetraplet::peer_only(Arc::clone(&tetraplet.peer_pk))
            }),
            Provenance::ServiceResult { .. } => tetraplet,
        };
        ValueAggregate {
            value,
            tetraplet,
            trace_pos,
            provenance,
        }
    }

    /// A constant of the script, with the tetraplet of constants (the particle's initiator).
    pub fn literal(value: Rc<Value>, tetraplet: Rc<Tetraplet>, trace_pos: u32) -> Self {
        ValueAggregate {
            value,
            tetraplet,
            trace_pos,
            provenance: Provenance::Literal,
        }
    }

    pub fn service_result(
        value: Rc<Value>,
        tetraplet: Rc<Tetraplet>,
        trace_pos: u32,
        cid: Cid,
    ) -> Self {
        ValueAggregate {
            value,
            tetraplet,
            trace_pos,
            provenance: Provenance::ServiceResult { cid },
        }
    }
}

/// A canonicalized stream: frozen values and the tetraplet of the peer that froze them.
#[derive(Debug, Clone)]
pub struct CanonStream {
    pub values: Vec<ValueAggregate>,
    pub tetraplet: Rc<Tetraplet>,
    /// CID of the canon result aggregate.
    pub cid: Cid,
}

impl CanonStream {
    pub fn to_json(&self) -> Value {
        Value::Array(self.values.iter().map(|v| (*v.value).clone()).collect())
    }
}

/// The current element of a fold.
#[derive(Debug, Clone)]
pub struct IterItem {
    pub value: Rc<Value>,
    pub tetraplet: Rc<Tetraplet>,
    pub trace_pos: u32,
    pub provenance: Provenance,
}

impl IterItem {
    /// The element as a value of a variable (`ap i x`, a fold over `i`).
    pub fn to_aggregate(&self) -> ValueAggregate {
        ValueAggregate::new(
            self.value.clone(),
            self.tetraplet.clone(),
            self.trace_pos,
            self.provenance.clone(),
        )
    }
}

/// A scalar's or a stream's value. A call result replayed from the data, or a canonical JSON
/// result from the host, is parsed from its stored text on first read: scripts often never read
/// one (the outputs of a fold's iterations, results gathered in a stream that is only passed
/// on), and parsing is most of the cost of taking it in.
#[derive(Debug, Clone)]
pub enum LazyAggregate {
    Ready(ValueAggregate),
    Recorded(RecordedResult),
}

/// A call result in the value store, not parsed yet.
#[derive(Debug, Clone)]
pub struct RecordedResult {
    text: Rc<RawValue>,
    value_cid: Cid,
    tetraplet: Rc<Tetraplet>,
    trace_pos: u32,
    /// The service result's CID: the value's provenance.
    cid: Cid,
    parsed: OnceCell<ValueAggregate>,
}

impl RecordedResult {
    pub fn new(info: ServiceInfo, tetraplet: Rc<Tetraplet>, trace_pos: u32, cid: Cid) -> Self {
        RecordedResult {
            text: info.value,
            value_cid: info.aggregate.value_cid.clone(),
            tetraplet,
            trace_pos,
            cid,
            parsed: OnceCell::new(),
        }
    }

    /// What a fold over this result walks without parsing it first: its elements, each parsed
    /// when the fold uses it, when it is a large array in canonical text (see
    /// [`RawValue::unparsed_array_elements`]). A fold often uses a few elements, or only passes
    /// them on, and a large result parsed whole would be a second copy of it. `None` when it
    /// is parsed instead.
    pub fn unparsed_elements(&self, known: &ArrayElements) -> Option<Iterable> {
        if self.parsed.get().is_some() {
            return None;
        }
        let key = Rc::as_ptr(&self.text) as usize;
        let cached = known
            .0
            .borrow()
            .get(&key)
            .map(|(_, elements)| elements.clone());
        let elements = match cached {
            Some(elements) => elements?,
            None => {
                let found = self.text.unparsed_array_elements().map(Rc::from);
                known
                    .0
                    .borrow_mut()
                    .insert(key, (Rc::clone(&self.text), found.clone()));
                found?
            }
        };
        Some(Iterable::Elements {
            text: Rc::clone(&self.text),
            elements,
            tetraplet: Rc::clone(&self.tetraplet),
            trace_pos: self.trace_pos,
            cid: self.cid.clone(),
            cursor: 0,
        })
    }
}

/// The element ranges of the recorded arrays that folds walked unparsed in a run (`None` for
/// a text that is not a canonical array), by the address of the stored value, which the entry
/// keeps alive.
#[derive(Default)]
pub struct ArrayElements(RefCell<HashMap<usize, KnownElements, RandomState>>);

/// A stored value and its element ranges, if it has them.
type KnownElements = (Rc<RawValue>, Option<Rc<[Range<usize>]>>);

impl From<ValueAggregate> for LazyAggregate {
    fn from(value: ValueAggregate) -> Self {
        LazyAggregate::Ready(value)
    }
}

impl LazyAggregate {
    /// The trace position of the state that produced the value, known without parsing it.
    pub fn trace_pos(&self) -> u32 {
        match self {
            LazyAggregate::Ready(value) => value.trace_pos,
            LazyAggregate::Recorded(recorded) => recorded.trace_pos,
        }
    }

    /// The value; a recorded result whose text is not JSON (only forged data has one) fails
    /// the run when it is first read.
    pub fn get(&self) -> ExecResult<&ValueAggregate> {
        match self {
            LazyAggregate::Ready(value) => Ok(value),
            LazyAggregate::Recorded(recorded) => {
                if let Some(value) = recorded.parsed.get() {
                    return Ok(value);
                }
                let value = cids::parsed(&recorded.text, &recorded.value_cid)?;
                Ok(recorded.parsed.get_or_init(|| {
                    ValueAggregate::service_result(
                        value,
                        Rc::clone(&recorded.tetraplet),
                        recorded.trace_pos,
                        recorded.cid.clone(),
                    )
                }))
            }
        }
    }
}

/// The elements of arrays that folds walked, by the addresses of the array and its tetraplet:
/// a fold that runs again over the same array (the inner fold of nested folds, most often)
/// shares the elements and their tetraplets made the first time it ran again, instead of copying
/// each element once more.
///
/// The first fold over an array only notes its addresses and holds nothing, so that an array
/// folded once is neither kept alive nor held twice. From the second fold on, the entry keeps
/// the array and its tetraplet, so that their addresses cannot name another array while its
/// elements are shared; an address noted by a first fold and reused by another array only
/// starts sharing for that array, made from it.
#[derive(Default)]
pub struct FoldedArrays(RefCell<HashMap<(usize, usize), Option<FoldedArray>, RandomState>>);

struct FoldedArray {
    /// The array and tetraplet the elements are of (see above).
    _aggregate: (Rc<Value>, Rc<Tetraplet>),
    items: ArrayItems,
}

/// The elements of an array with their tetraplets, each made on first use.
type ArrayItems = Rc<[OnceCell<(Rc<Value>, Rc<Tetraplet>)>]>;

impl FoldedArrays {
    /// What a fold over `array` walks. `array` is an array.
    pub fn iterable(&self, array: ValueAggregate) -> Iterable {
        let key = (
            Rc::as_ptr(&array.value) as usize,
            Rc::as_ptr(&array.tetraplet) as usize,
        );
        let items = match self.0.borrow_mut().entry(key) {
            Entry::Vacant(vacant) => {
                vacant.insert(None);
                None
            }
            // Walked before: from now on, the elements are shared.
            Entry::Occupied(mut occupied) => {
                let folded = occupied.get_mut().get_or_insert_with(|| {
                    let len = array.value.as_array().map_or(0, Vec::len);
                    FoldedArray {
                        _aggregate: (Rc::clone(&array.value), Rc::clone(&array.tetraplet)),
                        items: (0..len).map(|_| OnceCell::new()).collect(),
                    }
                });
                Some(Rc::clone(&folded.items))
            }
        };
        Iterable::Array {
            array,
            items,
            cursor: 0,
        }
    }
}

/// What a fold walks over, with its cursor.
pub enum Iterable {
    /// The elements of an array value; tetraplets get `.$.[i]`. `items` shares the elements
    /// with other folds over the same array (see [`FoldedArrays`]).
    Array {
        array: ValueAggregate,
        items: Option<ArrayItems>,
        cursor: usize,
    },
    /// The elements of an array selected by a lens: they have no trace position of their own.
    LensResult {
        values: Vec<Value>,
        tetraplet: Rc<Tetraplet>,
        provenance: Provenance,
        cursor: usize,
    },
    /// Values each with its own metadata: a stream generation or a canon stream.
    Values {
        values: Vec<ValueAggregate>,
        cursor: usize,
    },
    /// The elements of a call result's canonical array text, by their byte ranges: as `Array`,
    /// with each element parsed when it is used.
    Elements {
        text: Rc<RawValue>,
        elements: Rc<[Range<usize>]>,
        tetraplet: Rc<Tetraplet>,
        trace_pos: u32,
        /// The call result's CID: the elements' provenance.
        cid: Cid,
        cursor: usize,
    },
}

impl Iterable {
    fn cursor_mut(&mut self) -> &mut usize {
        match self {
            Iterable::Array { cursor, .. }
            | Iterable::LensResult { cursor, .. }
            | Iterable::Values { cursor, .. }
            | Iterable::Elements { cursor, .. } => cursor,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Iterable::Array { array, .. } => array.value.as_array().map_or(0, Vec::len),
            Iterable::LensResult { values, .. } => values.len(),
            Iterable::Values { values, .. } => values.len(),
            Iterable::Elements { elements, .. } => elements.len(),
        }
    }

    /// Moves to the next element; false at the end.
    pub fn next(&mut self) -> bool {
        let len = self.len();
        let cursor = self.cursor_mut();
        if *cursor + 1 < len {
            *cursor += 1;
            true
        } else {
            false
        }
    }

    /// Moves back after the iterations nested in `next` returned.
    pub fn prev(&mut self) {
        let cursor = self.cursor_mut();
        *cursor = cursor.saturating_sub(1);
    }

    /// The current element's canonical JSON text, for an element not parsed from its array's
    /// text yet.
    pub fn current_text(&self) -> Option<&str> {
        match self {
            Iterable::Elements {
                text,
                elements,
                cursor,
                ..
            } => text.as_str().get(elements.get(*cursor)?.clone()),
            _ => None,
        }
    }

    /// The current element. Iterables are never empty: empty folds do not start.
    pub fn peek(&self) -> IterItem {
        match self {
            Iterable::Array {
                array,
                items,
                cursor,
            } => {
                let make = || {
                    let element = array
                        .value
                        .as_array()
                        .and_then(|a| a.get(*cursor))
                        .cloned()
                        .unwrap_or(Value::Null);
                    (
                        Rc::new(element),
                        Rc::new(array.tetraplet.with_element_lens(*cursor)),
                    )
                };
                let (value, tetraplet) = match items.as_ref().and_then(|items| items.get(*cursor)) {
                    Some(item) => item.get_or_init(make).clone(),
                    None => make(),
                };
                IterItem {
                    value,
                    tetraplet,
                    trace_pos: array.trace_pos,
                    provenance: array.provenance.clone(),
                }
            }
            Iterable::LensResult {
                values,
                tetraplet,
                provenance,
                cursor,
            } => IterItem {
                value: Rc::new(values[*cursor].clone()),
                tetraplet: Rc::new(tetraplet.with_element_lens(*cursor)),
                trace_pos: 0,
                provenance: provenance.clone(),
            },
            Iterable::Values { values, cursor } => {
                let v = &values[*cursor];
                IterItem {
                    value: v.value.clone(),
                    tetraplet: v.tetraplet.clone(),
                    trace_pos: v.trace_pos,
                    provenance: v.provenance.clone(),
                }
            }
            Iterable::Elements {
                text,
                elements,
                tetraplet,
                trace_pos,
                cid,
                cursor,
            } => {
                let element = &text.as_str()[elements[*cursor].clone()];
                IterItem {
                    // An element of a canonical text without control characters is canonical
                    // JSON too, which serde_json parses (see `RawValue::unparsed_array_elements`).
                    value: Rc::new(
                        serde_json::from_str(element).expect("a canonical JSON element parses"),
                    ),
                    tetraplet: Rc::new(tetraplet.with_element_lens(*cursor)),
                    trace_pos: *trace_pos,
                    provenance: Provenance::ServiceResult { cid: cid.clone() },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ServiceResultCidAggregate;
    use crate::exec::errors::{ExecError, Uncatchable};

    fn recorded(text: &str) -> LazyAggregate {
        let info = ServiceInfo {
            value: Rc::new(RawValue::stored(text)),
            tetraplet: Rc::new(Tetraplet::default()),
            aggregate: Rc::new(ServiceResultCidAggregate {
                value_cid: Cid::new("value-cid"),
                argument_hash: "hash".into(),
                tetraplet_cid: Cid::new("tetraplet-cid"),
            }),
        };
        let tetraplet = Rc::new(Tetraplet::peer_only("peer"));
        LazyAggregate::Recorded(RecordedResult::new(
            info,
            tetraplet,
            7,
            Cid::new("result-cid"),
        ))
    }

    #[test]
    fn a_recorded_result_is_parsed_on_first_read_and_only_once() {
        let scalar = recorded(r#"{"a":[1,2]}"#);
        let LazyAggregate::Recorded(result) = &scalar else {
            unreachable!("made recorded")
        };
        assert!(result.parsed.get().is_none(), "not parsed before a read");
        let first = scalar.get().expect("JSON");
        assert_eq!(*first.value, serde_json::json!({"a": [1, 2]}));
        assert_eq!(first.trace_pos, 7);
        assert_eq!(&*first.tetraplet.peer_pk, "peer");
        assert!(matches!(
            &first.provenance,
            Provenance::ServiceResult { cid } if cid.as_str() == "result-cid"
        ));
        let second = scalar.get().expect("JSON");
        assert!(Rc::ptr_eq(&first.value, &second.value), "parsed once");
    }

    #[test]
    fn a_fold_walks_a_large_recorded_array_without_parsing_it() {
        let padding = "p".repeat(RawValue::MIN_SPLIT_LEN);
        let scalar = recorded(&format!(r#"[1,{{"a":[2]}},"{padding}"]"#));
        let LazyAggregate::Recorded(result) = &scalar else {
            unreachable!("made recorded")
        };
        let known = ArrayElements::default();
        let mut elements = result.unparsed_elements(&known).expect("a canonical array");
        assert_eq!(elements.len(), 3);
        let mut seen = Vec::new();
        loop {
            let item = elements.peek();
            assert_eq!(&*item.tetraplet.peer_pk, "peer");
            assert_eq!(item.trace_pos, 7);
            assert!(matches!(
                &item.provenance,
                Provenance::ServiceResult { cid } if cid.as_str() == "result-cid"
            ));
            seen.push(((*item.value).clone(), item.tetraplet.lens.to_string()));
            if !elements.next() {
                break;
            }
        }
        assert_eq!(
            seen,
            [
                (serde_json::json!(1), ".$.[0]".to_string()),
                (serde_json::json!({"a": [2]}), ".$.[1]".to_string()),
                (serde_json::json!(padding), ".$.[2]".to_string()),
            ]
        );
        assert!(
            result.parsed.get().is_none(),
            "the whole text was not parsed"
        );

        // The next fold over it finds the ranges found by the first.
        let (
            Some(Iterable::Elements {
                elements: first, ..
            }),
            Some(Iterable::Elements {
                elements: again, ..
            }),
        ) = (
            result.unparsed_elements(&known),
            result.unparsed_elements(&known),
        )
        else {
            panic!("walked unparsed");
        };
        assert!(Rc::ptr_eq(&first, &again));

        // Once parsed, the parsed array is walked.
        scalar.get().expect("JSON");
        assert!(result
            .unparsed_elements(&ArrayElements::default())
            .is_none());
        // Small arrays, and texts that are not canonical arrays, are parsed first.
        for text in [
            "[1,2]".to_string(),
            format!(r#"["{padding}", 2]"#),
            format!(r#"{{"a":"{padding}"}}"#),
            format!(r#"["{padding}",1.5]"#),
            format!("[\"{padding}\u{1}\"]"),
            format!(r#"["{padding}""#),
        ] {
            let LazyAggregate::Recorded(result) = recorded(&text) else {
                unreachable!("made recorded")
            };
            let known = ArrayElements::default();
            assert!(result.unparsed_elements(&known).is_none(), "{text}");
            assert!(result.unparsed_elements(&known).is_none(), "{text}");
        }
    }

    #[test]
    fn an_array_folded_again_shares_its_elements() {
        fn walk(iterable: &mut Iterable) -> Vec<IterItem> {
            let mut items = vec![iterable.peek()];
            while iterable.next() {
                items.push(iterable.peek());
            }
            items
        }
        let array = ValueAggregate::literal(
            Rc::new(serde_json::json!(["a", {"b": 1}])),
            Rc::new(Tetraplet::peer_only("peer")),
            3,
        );
        let folded = FoldedArrays::default();
        let first = walk(&mut folded.iterable(array.clone()));
        let second = walk(&mut folded.iterable(array.clone()));
        let third = walk(&mut folded.iterable(array.clone()));
        for items in [&first, &second, &third] {
            let seen: Vec<_> = items
                .iter()
                .map(|item| ((*item.value).clone(), item.tetraplet.lens.to_string()))
                .collect();
            assert_eq!(
                seen,
                [
                    (serde_json::json!("a"), ".$.[0]".to_string()),
                    (serde_json::json!({"b": 1}), ".$.[1]".to_string()),
                ]
            );
            assert!(items.iter().all(|item| item.trace_pos == 3));
        }
        // The first fold makes its own elements; the folds after it share theirs.
        assert!(!Rc::ptr_eq(&first[0].value, &second[0].value));
        for (again, other) in second.iter().zip(&third) {
            assert!(Rc::ptr_eq(&again.value, &other.value));
            assert!(Rc::ptr_eq(&again.tetraplet, &other.tetraplet));
        }
        // An array folded once is not kept alive.
        let once = ValueAggregate::literal(
            Rc::new(serde_json::json!([1])),
            Rc::new(Tetraplet::peer_only("peer")),
            0,
        );
        let kept = Rc::downgrade(&once.value);
        walk(&mut folded.iterable(once));
        assert!(kept.upgrade().is_none(), "released after its only fold");
        // The same array under another tetraplet is another entry.
        let other = ValueAggregate::literal(
            Rc::clone(&array.value),
            Rc::new(Tetraplet::peer_only("other")),
            3,
        );
        let items = walk(&mut folded.iterable(other));
        assert_eq!(&*items[0].tetraplet.peer_pk, "other");
    }

    #[test]
    fn a_recorded_result_that_is_not_json_fails_when_read() {
        let scalar = recorded("not { json");
        let Err(ExecError::Uncatchable(error)) = scalar.get() else {
            panic!("expected an uncatchable error");
        };
        let Uncatchable::Cid(message) = &*error else {
            panic!("expected a CID error, got {error:?}");
        };
        assert!(message.contains("value-cid"), "{message}");
    }

    #[test]
    fn a_stream_parses_recorded_results_when_it_is_read() {
        use crate::exec::streams::{Generation, Stream};

        let mut stream = Stream::default();
        stream
            .add(recorded("not { json"), Generation::New)
            .expect("added unparsed");
        assert!(stream.values().is_err(), "the text is parsed on reading");

        let mut stream = Stream::default();
        let value = recorded("[1]");
        stream.add(value.clone(), Generation::New).expect("added");
        let LazyAggregate::Recorded(result) = &value else {
            unreachable!("made recorded")
        };
        assert!(result.parsed.get().is_none(), "not parsed when added");
        let values = stream.values().expect("JSON");
        assert_eq!(*values[0].value, serde_json::json!([1]));
    }
}
