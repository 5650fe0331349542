//! The serde JSON of the stores' fixed-shape records (tetraplets and aggregates), written
//! directly.
//!
//! A step hashes these records by the thousand: every stored call result and canon element makes
//! two or three, and checking received data hashes every one again. Through serde, most of that
//! time went into serde_json's escaping string writer and one small write per token. Here a
//! record is written in a few copies, with the same bytes: fields in declaration order, no
//! whitespace, and a string that needs escaping (a control character, `"` or `\`) written by
//! serde_json itself. The tests compare both writers on random records.

use super::model::{
    CanonCidAggregate, CanonResultCidAggregate, Provenance, ServiceResultCidAggregate, Tetraplet,
};

/// A record whose JSON is written here, byte for byte what serde_json writes for it.
pub(crate) trait JsonRecord: serde::Serialize {
    /// Appends the record's compact JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

/// Appends the JSON string of `text`.
fn string(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        serde_json::to_writer(&mut *out, text).expect("a string serializes to JSON infallibly");
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether serde_json escapes some byte of `bytes`: a control character, `"` or `\`.
fn needs_escape(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= 16 {
        return needs_escape_sse2(bytes);
    }
    needs_escape_words(bytes)
}

/// [`needs_escape`] sixteen bytes at a time, for texts of sixteen bytes or more: the last block
/// overlaps the one before it rather than leaving a remainder.
#[cfg(target_arch = "x86_64")]
fn needs_escape_sse2(bytes: &[u8]) -> bool {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    debug_assert!(bytes.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, and every load reads the 16 bytes of a block
    // within `bytes` (unaligned loads).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let last_control = _mm_set1_epi8(0x1f);
        let escaped = |at: usize| {
            let block = _mm_loadu_si128(bytes.as_ptr().add(at).cast::<__m128i>());
            // A byte is at most 0x1f exactly when the larger of it and 0x1f is 0x1f.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(block, last_control), last_control);
            let special = _mm_or_si128(
                _mm_cmpeq_epi8(block, quote),
                _mm_cmpeq_epi8(block, backslash),
            );
            _mm_movemask_epi8(_mm_or_si128(control, special)) != 0
        };
        let last = bytes.len() - 16;
        (0..last).step_by(16).any(escaped) || escaped(last)
    }
}

/// Eight bytes at a time (the texts are CIDs and hashes mostly, tens of bytes each), with the
/// classic word tricks: `(v - 0x01..) & !v & 0x80..` is non-zero exactly when some byte of `v`
/// is zero, and `(w - 0x20..) & !w & 0x80..` exactly when some byte of `w` is below 0x20.
fn needs_escape_words(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
        if w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A JSON object being written: fields are separated as they are added.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Writes the key of the next field (a name that needs no escaping); its value is written
    /// to the returned buffer.
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn string(&mut self, key: &'static str, value: &str) -> &mut Self {
        string(self.key(key), value);
        self
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

/// Appends an object whose fields are all strings.
fn string_object(out: &mut Vec<u8>, fields: &[(&'static str, &str)]) {
    let mut object = Object::new(out);
    for &(key, value) in fields {
        object.string(key, value);
    }
    object.end();
}

impl JsonRecord for Tetraplet {
    fn write_json(&self, out: &mut Vec<u8>) {
        let fields = [
            ("peer_pk", &*self.peer_pk),
            ("service_id", &*self.service_id),
            ("function_name", &*self.function_name),
            ("lens", &*self.lens),
        ];
        string_object(out, &fields);
    }
}

impl JsonRecord for ServiceResultCidAggregate {
    fn write_json(&self, out: &mut Vec<u8>) {
        let fields = [
            ("value_cid", self.value_cid.as_str()),
            ("argument_hash", &self.argument_hash),
            ("tetraplet_cid", self.tetraplet_cid.as_str()),
        ];
        string_object(out, &fields);
    }
}

impl JsonRecord for CanonCidAggregate {
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut object = Object::new(out);
        object
            .string("value", self.value.as_str())
            .string("tetraplet", self.tetraplet.as_str());
        // An internally tagged enum: the tag, then the variant's fields.
        let provenance = object.key("provenance");
        match &self.provenance {
            Provenance::Literal => string_object(provenance, &[("type", "literal")]),
            Provenance::ServiceResult { cid } => string_object(
                provenance,
                &[("type", "service_result"), ("cid", cid.as_str())],
            ),
            Provenance::Canon { cid } => {
                string_object(provenance, &[("type", "canon"), ("cid", cid.as_str())])
            }
        }
        object.end();
    }
}

impl JsonRecord for CanonResultCidAggregate {
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut object = Object::new(out);
        object.string("tetraplet", self.tetraplet.as_str());
        let values = object.key("values");
        values.push(b'[');
        for (i, cid) in self.values.iter().enumerate() {
            if i > 0 {
                values.push(b',');
            }
            string(values, cid.as_str());
        }
        values.push(b']');
        object.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Cid;
    use proptest::prelude::*;

    fn ours<T: JsonRecord>(record: &T) -> String {
        let mut out = Vec::new();
        record.write_json(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    fn serde(record: &impl serde::Serialize) -> String {
        serde_json::to_string(record).expect("serializes")
    }

    // Mostly CID-like text, sometimes anything (escapes, non-ASCII, empty).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "b[a-z2-7]{58}",
            any::<String>(),
            "[\"\\\\\u{0}-\u{1f}a\u{7f}é]{0,6}",
        ]
    }

    fn cid() -> impl Strategy<Value = Cid> {
        text().prop_map(|t| Cid::new(t.as_str()))
    }

    #[test]
    fn escapes_are_found_at_every_position() {
        let naive = |bytes: &[u8]| bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for background in [b'b', b' ', 0x80, 0xff] {
            for len in 0..70 {
                let plain = vec![background; len];
                assert!(!needs_escape(&plain));
                for at in 0..len {
                    for byte in 0..=u8::MAX {
                        let mut bytes = plain.clone();
                        bytes[at] = byte;
                        assert_eq!(
                            needs_escape(&bytes),
                            naive(&bytes),
                            "{len} bytes of {background:#x}, {byte:#x} at {at}"
                        );
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn tetraplets_as_serde_writes_them(
            peer_pk in text(), service_id in text(), function_name in text(), lens in text()
        ) {
            let tetraplet = Tetraplet {
                peer_pk: peer_pk.into(),
                service_id: service_id.into(),
                function_name: function_name.into(),
                lens: lens.into(),
            };
            prop_assert_eq!(ours(&tetraplet), serde(&tetraplet));
        }

        #[test]
        fn service_results_as_serde_writes_them(
            value_cid in cid(), argument_hash in text(), tetraplet_cid in cid()
        ) {
            let record = ServiceResultCidAggregate {
                value_cid,
                argument_hash: argument_hash.as_str().into(),
                tetraplet_cid,
            };
            prop_assert_eq!(ours(&record), serde(&record));
        }

        #[test]
        fn canon_elements_as_serde_writes_them(
            value in cid(), tetraplet in cid(), variant in 0..3u8, origin in cid()
        ) {
            let provenance = match variant {
                0 => Provenance::Literal,
                1 => Provenance::ServiceResult { cid: origin },
                _ => Provenance::Canon { cid: origin },
            };
            let record = CanonCidAggregate { value, tetraplet, provenance };
            prop_assert_eq!(ours(&record), serde(&record));
        }

        #[test]
        fn canon_results_as_serde_writes_them(
            tetraplet in cid(), values in proptest::collection::vec(cid(), 0..5)
        ) {
            let record = CanonResultCidAggregate { tetraplet, values };
            prop_assert_eq!(ours(&record), serde(&record));
        }
    }
}
