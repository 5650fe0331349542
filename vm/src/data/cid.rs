//! Content identifiers: how a value of the particle data is named by its hash.
//!
//! Every CID in the data is a CIDv1 string with the JSON multicodec (`0x0200`) over a BLAKE3-256
//! multihash, printed in the default multibase (base32, so it starts with `b`). What gets hashed is
//! the compact JSON text of the value: for service results and canon elements the stored text
//! itself, for tetraplets and aggregates the serde JSON of the struct (fields in declaration order).
//! Peers only produce BLAKE3 CIDs, but verification also accepts SHA2-256 ones, as the reference
//! does.

use serde::Serialize;
use serde_json::Value;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::rc::Rc;

use super::archive::SharedStr;
use super::record_json::JsonRecord;

/// The multicodec code of JSON; multicodec crates do not export it.
const JSON_CODEC: u64 = 0x0200;
/// Multihash code of BLAKE3 with a 256-bit digest, the hash peers use.
const BLAKE3_256: u64 = 0x1e;
/// Multihash code of SHA2-256, accepted when verifying.
const SHA2_256: u64 = 0x12;

/// A content identifier in its string form (`"bagaaihra..."`).
///
/// It is a cheap-to-clone shared string: the same CID is referenced from the trace, the stores and
/// other aggregates. A `Cid` is only a name; whether it matches any content is checked by
/// [`verify_cid`] (and by [`crate::data::verify`] for a whole data).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub struct Cid(#[with(super::archive::SharedStrInArchive)] SharedStr);

impl Cid {
    /// Wraps a CID string without checking it; use it for CIDs that come from elsewhere.
    pub fn new(cid: impl Into<Rc<str>>) -> Self {
        Self(SharedStr::from(cid.into()))
    }

    /// The CID string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The CID string as kept, for reading a later archive's equal CIDs as this one.
    pub(crate) fn as_shared(&self) -> &SharedStr {
        &self.0
    }
}

/// Hashes the CID's bytes in one write: a CID is never part of a longer key whose fields could
/// run into each other, so `str`'s end marker is not needed.
impl std::hash::Hash for Cid {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::hash::Hash::hash(&CidText(&self.0), state);
    }
}

/// A CID's text not made into a [`Cid`], to look one up by (in an archive, for example): hashes
/// like the `Cid` it equals.
#[derive(Clone, Copy)]
pub(crate) struct CidText<'a>(pub(crate) &'a str);

impl std::hash::Hash for CidText<'_> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

impl indexmap::Equivalent<Cid> for CidText<'_> {
    fn equivalent(&self, cid: &Cid) -> bool {
        self.0 == cid.as_str()
    }
}

impl ArchivedCid {
    /// The CID string, in the archive.
    pub(crate) fn as_str(&self) -> &str {
        self.0.get()
    }
}

/// An archived CID equals the CID of the same text.
impl PartialEq<Cid> for ArchivedCid {
    fn eq(&self, cid: &Cid) -> bool {
        self.as_str() == cid.as_str()
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CID").field(&&*self.0).finish()
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Cid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The CID of a JSON text, hashed as is.
///
/// This is how the value store names its entries: the text is already the canonical compact JSON
/// of the value (see [`crate::data::RawValue`]).
pub fn json_text_cid(text: &str) -> Cid {
    blake3_cid(&blake3::hash(text.as_bytes()))
}

/// The CID of a JSON value: compact JSON with object keys sorted, the text the reference hashes.
pub fn value_cid(value: &Value) -> Cid {
    serde_cid(value)
}

/// The CID of any serializable data item (tetraplet, aggregate), hashed over its serde JSON.
///
/// The JSON is hashed as it is written, so a large item is never held as text.
pub fn serde_cid<T: Serialize + ?Sized>(item: &T) -> Cid {
    blake3_cid(&serde_digest(item))
}

/// The CID of a store record, hashed over its JSON: the same as [`serde_cid`], faster.
pub(crate) fn record_cid<T: JsonRecord>(record: &T) -> Cid {
    blake3_cid(&record_digest(record))
}

/// Checks that `cid` names the JSON of `record`.
pub(crate) fn verify_record_cid<T: JsonRecord>(cid: &Cid, record: &T) -> Result<(), CidMismatch> {
    verify_content(cid, record_digest(record), || {
        let mut text = Vec::new();
        record.write_json(&mut text);
        Cow::Owned(String::from_utf8(text).expect("records are written as UTF-8"))
    })
}

fn record_digest<T: JsonRecord>(record: &T) -> blake3::Hash {
    with_scratch(|text| {
        record.write_json(text);
        blake3::hash(text)
    })
}

/// The BLAKE3 hash of the serde JSON of `item`.
fn serde_digest<T: Serialize + ?Sized>(item: &T) -> blake3::Hash {
    streamed_digest(|writer| write_json(writer, item))
}

/// The BLAKE3 hash of the bytes `write` writes.
fn streamed_digest(write: impl FnOnce(&mut HashingWriter)) -> blake3::Hash {
    with_scratch(|pending| {
        let mut writer = HashingWriter {
            hasher: None,
            pending,
        };
        write(&mut writer);
        match &mut writer.hasher {
            // Most items fit in one batch: hashed at once, without an incremental hasher.
            None => blake3::hash(writer.pending),
            Some(hasher) => hasher.update(writer.pending).finalize(),
        }
    })
}

/// Runs `f` on the thread's empty buffer for text being hashed. It is kept between items: most
/// are small, and an allocation each would cost more than their hashing; a large one (a canon
/// result of many elements) is not kept.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let mut buffer = SCRATCH.take();
    let result = f(&mut buffer);
    if buffer.capacity() > HashingWriter::BATCH {
        buffer = Vec::new();
    }
    buffer.clear();
    SCRATCH.set(buffer);
    result
}

/// The bytes of a BLAKE3-256 JSON CIDv1 before the digest: version 1, codec 0x0200, multihash
/// code 0x1e and digest length 32, as unsigned varints.
const BLAKE3_CID_HEADER: [u8; 5] = [0x01, 0x80, 0x04, 0x1e, 0x20];

/// Length of the string of a BLAKE3 CID: the multibase prefix and 37 bytes in base32.
const BLAKE3_CID_LEN: usize = 1 + (37 * 8usize).div_ceil(5);

/// The CID string of a BLAKE3 digest, as [`cid::Cid`] prints it (multibase `b`: RFC 4648
/// base32, lower case, no padding), written directly: CIDs are made for every stored item.
fn blake3_cid_chars(digest: &blake3::Hash) -> [u8; BLAKE3_CID_LEN] {
    let mut bytes = [0u8; 40];
    bytes[..5].copy_from_slice(&BLAKE3_CID_HEADER);
    bytes[5..37].copy_from_slice(digest.as_bytes());
    // Five bytes make eight characters; the last group, two bytes padded with zero bits, makes
    // four. Each group's eight 5-bit fields are spread into the bytes of a word and mapped to
    // the alphabet all at once: a CID is encoded for every one checked or made.
    let mut text = [0u8; 1 + 8 * 8];
    text[0] = b'b';
    for (chars, group) in text[1..].chunks_exact_mut(8).zip(bytes.chunks_exact(5)) {
        let mut word = [0u8; 8];
        word[3..].copy_from_slice(group);
        chars.copy_from_slice(&base32_chars(u64::from_be_bytes(word)).to_be_bytes());
    }
    let mut cid = [0u8; BLAKE3_CID_LEN];
    cid.copy_from_slice(&text[..BLAKE3_CID_LEN]);
    cid
}

/// The eight base32 characters (RFC 4648, lower case) of the low 40 bits of `bits`, the first
/// one in the word's highest byte.
#[inline]
fn base32_chars(bits: u64) -> u64 {
    // Field `j` (from the lowest) moves from bit 5j to bit 8j: halves, then quarters, then
    // eighths, each shifted into place at once.
    let mut x = (bits & 0x0F_FFFF) | ((bits & 0xFF_FFF0_0000) << 12);
    x = (x & 0x0000_03FF_0000_03FF) | ((x & 0x000F_FC00_000F_FC00) << 6);
    x = (x & 0x001F_001F_001F_001F) | ((x & 0x03E0_03E0_03E0_03E0) << 3);
    // 0..=25 are `a`..`z` (add 97), 26..=31 are `2`..`7` (add 24): a byte of 26 or more
    // reaches its high bit when 102 is added. No byte carries into the next.
    let high = ((x + 0x6666_6666_6666_6666) & 0x8080_8080_8080_8080) >> 7;
    x + 0x6161_6161_6161_6161 - high * 73
}

fn blake3_cid_str(chars: &[u8; BLAKE3_CID_LEN]) -> &str {
    std::str::from_utf8(chars).expect("the base32 alphabet is ASCII")
}

/// The CID of a BLAKE3 digest, made in one allocation.
fn blake3_cid(digest: &blake3::Hash) -> Cid {
    Cid::new(blake3_cid_str(&blake3_cid_chars(digest)))
}

/// The hash the reference stores as `argument_hash`: the CID string of the JSON array of a call's
/// arguments.
pub fn argument_hash(arguments: &[Value]) -> SharedStr {
    ArgumentHash::of(arguments).to_shared()
}

/// A call's argument hash (see [`argument_hash`]) before it is made a string: checking a
/// recorded result compares it with the stored string without making one.
#[derive(Clone, Copy)]
pub struct ArgumentHash(blake3::Hash);

impl ArgumentHash {
    /// The hash of a call's arguments: `arguments` serializes as their JSON array.
    pub fn of<T: Serialize + ?Sized>(arguments: &T) -> Self {
        Self(serde_digest(arguments))
    }

    /// The hash of a call's arguments given as parts of their JSON array: the same as
    /// [`ArgumentHash::of`] the values, without writing again the values that come as text.
    pub fn of_parts<'a>(parts: impl IntoIterator<Item = JsonPart<'a>>) -> Self {
        Self(streamed_digest(|writer| {
            let mut separator = b"[".as_slice();
            for part in parts {
                writer.push(separator);
                separator = b",";
                match part {
                    JsonPart::Text(text) => writer.push(text.as_bytes()),
                    JsonPart::Value(value) => write_json(&mut *writer, value),
                }
            }
            writer.push(if separator == b"[" { b"[]" } else { b"]" });
        }))
    }

    /// Whether `stored` is this hash.
    pub fn is(&self, stored: &str) -> bool {
        stored.as_bytes() == blake3_cid_chars(&self.0)
    }

    /// The hash as stored in a service result aggregate.
    pub fn to_shared(&self) -> SharedStr {
        SharedStr::from(blake3_cid_str(&blake3_cid_chars(&self.0)))
    }
}

/// A part of a JSON text being hashed.
pub enum JsonPart<'a> {
    /// A value's canonical JSON text (compact, object keys sorted: the text a value is stored
    /// and hashed as), hashed as it is.
    Text(&'a str),
    Value(&'a Value),
}

/// Feeds written bytes to BLAKE3 in batches: the serializer writes a few bytes at a time, and
/// BLAKE3 hashes several 1 KiB chunks in parallel only when it gets them in one update.
struct HashingWriter<'a> {
    /// Made only for an item larger than one batch (the hasher is about 2 KB).
    hasher: Option<Box<blake3::Hasher>>,
    pending: &'a mut Vec<u8>,
}

impl HashingWriter<'_> {
    const BATCH: usize = 64 * 1024;

    fn push(&mut self, bytes: &[u8]) {
        std::io::Write::write_all(self, bytes).expect("hashing does not fail");
    }
}

impl std::io::Write for HashingWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.pending.len() + bytes.len() > Self::BATCH {
            let hasher = self.hasher.get_or_insert_with(Default::default);
            hasher.update(self.pending);
            self.pending.clear();
            if bytes.len() >= Self::BATCH {
                hasher.update(bytes);
                return Ok(bytes.len());
            }
        }
        self.pending.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serializes a data item to compact JSON.
///
/// Data items are plain structs of strings, numbers and JSON values, which serde_json always
/// serializes; an error here would be a bug in a `Serialize` impl of this module.
pub(crate) fn to_json_text<T: Serialize + ?Sized>(item: &T) -> Box<str> {
    with_scratch(|text| {
        write_json(&mut *text, item);
        // A text that the scratch buffer keeps is copied into an allocation of its size; a larger
        // one takes the buffer (shrunk), as a copy would hold it twice.
        if text.len() <= HashingWriter::BATCH {
            Box::from(std::str::from_utf8(text).expect("serde_json writes UTF-8"))
        } else {
            String::from_utf8(std::mem::take(text))
                .expect("serde_json writes UTF-8")
                .into_boxed_str()
        }
    })
}

/// The most arrays and objects [`is_canonical_json`] accepts around a value (an innermost empty
/// one adds a level: 101 in all), well within serde_json's limit of 127 levels.
const MAX_CANONICAL_DEPTH: usize = 100;

/// Whether `text` is exactly what [`to_json_text`] writes for the value it parses to, so that it
/// can be stored and hashed as it is instead of written again. Raw control characters inside
/// strings are not looked for: the text must be known to have none (parsed as JSON, or checked).
/// Such a text is JSON that serde_json parses.
///
/// That is: no whitespace, object keys in increasing order with none repeated, serde_json's
/// string escapes (`\"`, `\\`, the short control escapes, `\u00xx` for the other control
/// characters) and integers in their shortest form. It errs on the side of `false`: numbers
/// with a fraction or an exponent and keys with escapes are refused, which only costs writing
/// the text again. Nesting deeper than [`MAX_CANONICAL_DEPTH`] is refused too, so that a
/// canonical text is always within serde_json's depth limit for parsing.
pub(crate) fn is_canonical_json(text: &str) -> bool {
    scan_canonical(text, |_| {})
}

/// The byte ranges of the elements of `text` when it is a canonical array (see
/// [`is_canonical_json`]), so that each element can be parsed on its own.
pub(crate) fn canonical_array_elements(text: &str) -> Option<Vec<Range<usize>>> {
    if !text.starts_with('[') {
        return None;
    }
    let mut elements = Vec::new();
    scan_canonical(text, |element| elements.push(element)).then_some(elements)
}

/// [`is_canonical_json`], telling `on_element` the range of each element of a top-level array.
fn scan_canonical(text: &str, mut on_element: impl FnMut(Range<usize>)) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    // The open arrays (`None`) and objects (their last key) around `at`.
    let mut open: Vec<Option<&[u8]>> = Vec::new();
    let mut element_start = 0;
    loop {
        // A value starts at `at`.
        if let [None] = open[..] {
            element_start = at;
        }
        match bytes.get(at) {
            Some(b'{') => {
                at += 1;
                if bytes.get(at) == Some(&b'}') {
                    at += 1;
                } else {
                    let Some(key) = object_key(bytes, &mut at) else {
                        return false;
                    };
                    if open.len() == MAX_CANONICAL_DEPTH {
                        return false;
                    }
                    open.push(Some(key));
                    continue;
                }
            }
            Some(b'[') => {
                at += 1;
                if bytes.get(at) == Some(&b']') {
                    at += 1;
                } else {
                    if open.len() == MAX_CANONICAL_DEPTH {
                        return false;
                    }
                    open.push(None);
                    continue;
                }
            }
            Some(b'"') => {
                if !canonical_string(bytes, &mut at) {
                    return false;
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                if !canonical_integer(bytes, &mut at) {
                    return false;
                }
            }
            _ => {
                let Some(literal) = [&b"null"[..], b"true", b"false"]
                    .into_iter()
                    .find(|literal| bytes[at..].starts_with(literal))
                else {
                    return false;
                };
                at += literal.len();
            }
        }
        // A value ended at `at`: close what it ends, up to the next value.
        loop {
            if let [None] = open[..] {
                on_element(element_start..at);
            }
            match (open.last_mut(), bytes.get(at)) {
                (None, next) => return next.is_none(),
                (Some(container), Some(b',')) => {
                    at += 1;
                    if let Some(last) = container {
                        match object_key(bytes, &mut at) {
                            Some(key) if key > *last => *last = key,
                            _ => return false,
                        }
                    }
                    break;
                }
                (Some(None), Some(b']')) | (Some(Some(_)), Some(b'}')) => {
                    at += 1;
                    open.pop();
                }
                _ => return false,
            }
        }
    }
}

/// An object key without escapes at `at`, and the `:` after it; its bytes are then its text,
/// compared as serde_json orders keys.
fn object_key<'t>(bytes: &'t [u8], at: &mut usize) -> Option<&'t [u8]> {
    let rest = bytes.get(*at..)?.strip_prefix(b"\"")?;
    let end = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if rest[end] != b'"' || rest.get(end + 1) != Some(&b':') {
        return None;
    }
    *at += end + 3;
    Some(&rest[..end])
}

/// Moves `at` past a string written with serde_json's escapes.
// Inlined into each instance of `scan_canonical`, as it was into the one function before
// there were two: called out of line it costs a fifth more on short strings.
#[inline(always)]
fn canonical_string(bytes: &[u8], at: &mut usize) -> bool {
    let mut i = *at + 1;
    loop {
        // The text parsed as JSON, so its strings hold no raw control characters: only quotes
        // and escapes need a look, and the bytes between are skipped in vectorized steps.
        let Some(skip) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
            return false;
        };
        i += skip;
        if bytes[i] == b'"' {
            *at = i + 1;
            return true;
        }
        match bytes.get(i + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
            Some(b'u') => {
                let Some(&[b'0', b'0', high, low]) = bytes.get(i + 2..i + 6) else {
                    return false;
                };
                let code = match (high, low) {
                    (b'0' | b'1', b'0'..=b'9') => (high - b'0') * 16 + (low - b'0'),
                    (b'0' | b'1', b'a'..=b'f') => (high - b'0') * 16 + (low - b'a' + 10),
                    _ => return false,
                };
                // These have short escapes, which serde_json writes instead.
                if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    return false;
                }
                i += 6;
            }
            _ => return false,
        }
    }
}

/// Moves `at` past an integer in the form serde_json writes it: no leading zeros, no `-0`,
/// within `i64` when negative and `u64` otherwise (larger ones are parsed as floats).
fn canonical_integer(bytes: &[u8], at: &mut usize) -> bool {
    let start = *at;
    let negative = bytes[start] == b'-';
    let digits_start = start + usize::from(negative);
    let digits = bytes[digits_start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let end = digits_start + digits;
    if digits == 0 || matches!(bytes.get(end), Some(b'.' | b'e' | b'E')) {
        return false;
    }
    if bytes[digits_start] == b'0' && (digits > 1 || negative) {
        return false;
    }
    // ASCII digits, so the slice is a `str`.
    let number = std::str::from_utf8(&bytes[start..end]).unwrap_or("");
    let fits = if negative {
        number.parse::<i64>().is_ok()
    } else {
        number.parse::<u64>().is_ok()
    };
    *at = end;
    fits
}

/// Writes the compact JSON of a data item, with floats as deployed AquaVM writes them.
fn write_json<T: Serialize + ?Sized>(writer: impl std::io::Write, item: &T) {
    let mut serializer = serde_json::Serializer::with_formatter(writer, ReferenceFloats);
    item.serialize(&mut serializer)
        .expect("data items serialize to JSON infallibly");
}

/// Compact JSON whose floats are the shortest round-trip text of `ryu` (`1e300`, `1e-7`, `0.5`).
///
/// The text of a value is hashed into its CID, so it must be the same on every peer. Deployed
/// AquaVM 0.62 formats floats with `ryu`; serde_json 1.0.146 and later use another formatter that
/// writes exponents with a sign (`1e+300`), which would give such values other CIDs.
struct ReferenceFloats;

impl serde_json::ser::Formatter for ReferenceFloats {
    fn write_f64<W: std::io::Write + ?Sized>(
        &mut self,
        writer: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        // serde_json writes non-finite floats as `null` before reaching the formatter. Data
        // items hold no `f32`.
        writer.write_all(ryu::Buffer::new().format_finite(value).as_bytes())
    }
}

/// Why a CID does not name the content it is stored with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidMismatch {
    /// The string is not a CID at all.
    #[error("malformed CID: {0}")]
    Malformed(String),
    /// A CID of a codec other than JSON.
    #[error("unsupported CID codec {0:#x}, only JSON (0x200) is accepted")]
    UnsupportedCodec(u64),
    /// A hash other than BLAKE3-256 or SHA2-256.
    #[error("unsupported multihash code {0:#x}, only BLAKE3-256 and SHA2-256 are accepted")]
    UnsupportedHash(u64),
    /// The hash of the content differs (truncated digests are rejected too).
    #[error("content hash differs")]
    HashMismatch,
}

/// Checks that `cid` names the JSON text `text`.
pub fn verify_cid(cid: &Cid, text: &str) -> Result<(), CidMismatch> {
    verify_content(cid, blake3::hash(text.as_bytes()), || Cow::Borrowed(text))
}

/// Checks `cid` against content whose BLAKE3 hash is `digest`; `text` is the content, needed
/// only for a SHA2 CID.
fn verify_content<'a>(
    cid: &Cid,
    digest: blake3::Hash,
    text: impl FnOnce() -> Cow<'a, str>,
) -> Result<(), CidMismatch> {
    use sha2::Digest as _;

    // Peers write BLAKE3 CIDs in the default base: the common case compares two strings. Other
    // hashes and bases, malformed and mismatching CIDs are parsed to be judged.
    if cid.as_str().as_bytes() == blake3_cid_chars(&digest) {
        return Ok(());
    }
    let parsed: cid::Cid = cid
        .as_str()
        .parse()
        .map_err(|error: cid::Error| CidMismatch::Malformed(error.to_string()))?;
    if parsed.codec() != JSON_CODEC {
        return Err(CidMismatch::UnsupportedCodec(parsed.codec()));
    }
    let multihash = parsed.hash();
    let matches = match multihash.code() {
        BLAKE3_256 => digest.as_bytes() == multihash.digest(),
        SHA2_256 => sha2::Sha256::digest(text().as_bytes()).as_slice() == multihash.digest(),
        other => return Err(CidMismatch::UnsupportedHash(other)),
    };
    if matches {
        Ok(())
    } else {
        Err(CidMismatch::HashMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blake3_cid_strings_are_those_of_the_cid_crate() {
        let contents = ["", "null", "{\"a\":[1,2,3]}", &"x".repeat(5000)]
            .map(String::from)
            .into_iter()
            .chain((0..300).map(|n| n.to_string()));
        for content in &contents.collect::<Vec<_>>() {
            let digest = blake3::hash(content.as_bytes());
            let multihash = cid::multihash::Multihash::<64>::wrap(BLAKE3_256, digest.as_bytes())
                .expect("a 32-byte digest fits");
            let expected = cid::Cid::new_v1(JSON_CODEC, multihash).to_string();
            assert_eq!(blake3_cid(&digest).as_str(), expected);
            assert_eq!(json_text_cid(content).as_str(), expected);
            assert_eq!(verify_cid(&Cid::new(expected), content), Ok(()));
        }
    }

    #[test]
    fn items_are_hashed_as_their_whole_json_text_at_every_size() {
        // Below, at and well above one batch of the hashing writer, and a single string that
        // is larger than a batch by itself.
        let items = [
            serde_json::json!([]),
            serde_json::json!(["x".repeat(HashingWriter::BATCH - 4)]),
            serde_json::json!((0..40_000).collect::<Vec<_>>()),
            serde_json::json!({"a": "y".repeat(3 * HashingWriter::BATCH), "b": [1, 2]}),
        ];
        for item in &items {
            let text = to_json_text(item);
            assert_eq!(
                value_cid(item),
                json_text_cid(&text),
                "{} bytes",
                text.len()
            );
        }
    }

    #[test]
    fn floats_are_written_as_deployed_aquavm_writes_them() {
        let value = serde_json::json!([1e300, 1e-7, 0.5, -2.0, 1.5e16, 123456.789]);
        let text = "[1e300,1e-7,0.5,-2.0,1.5e16,123456.789]";
        assert_eq!(&*to_json_text(&value), text);
        // The hashed JSON is the same text.
        assert_eq!(serde_cid(&value), json_text_cid(text));
    }

    /// Writing `text` again gives `text` itself.
    fn written_again_is_itself(text: &str) -> bool {
        let value: Value = serde_json::from_str(text).expect("test texts are JSON");
        &*to_json_text(&value) == text
    }

    #[test]
    fn canonical_json_is_what_serde_writes_again() {
        let canonical = [
            "null",
            "true",
            "0",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
            r#""""#,
            r#""a\"b\\c\n\u0001\u001f é ""#,
            "[]",
            "{}",
            r#"[1,[2,[]],{"a":{}},"x"]"#,
            r#"{"":1,"a":2,"ab":[true,false],"b":{"c":null}}"#,
        ];
        for text in canonical {
            assert!(is_canonical_json(text), "{text}");
            assert!(written_again_is_itself(text), "{text}");
        }
        // Written differently, or (numbers with a fraction, keys with escapes) not worth telling.
        let refused = [
            " null",
            "null ",
            "[1, 2]",
            r#"{"a" :1}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            "-0",
            "01",
            "1.5",
            "1e3",
            "18446744073709551616",
            "-9223372036854775809",
            r#""\/""#,
            r#""\u00e9""#,
            r#""\u000a""#,
            r#""\u001F""#,
            r#""\u007f""#,
            r#"{"a\n":1}"#,
            "[1,]",
            "",
        ];
        for text in refused {
            assert!(!is_canonical_json(text), "{text}");
        }
    }

    /// Whether `value` has a float or an object key that needs an escape.
    fn has_refused_form(value: &Value) -> bool {
        match value {
            Value::Number(number) => number.is_f64(),
            Value::Array(items) => items.iter().any(has_refused_form),
            Value::Object(map) => map.iter().any(|(key, item)| {
                key.contains(|c: char| c == '"' || c == '\\' || c < ' ') || has_refused_form(item)
            }),
            _ => false,
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinities", |f| f.is_finite())
                .prop_map(Value::from),
            "(?s).{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map("(?s).{0,6}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever JSON text is taken as it is, writing it again would give the same text.
        #[test]
        fn a_text_taken_as_canonical_is_written_again_unchanged(
            value in json_value(),
            spaced in proptest::bool::ANY,
        ) {
            let text = if spaced {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            if is_canonical_json(&text) {
                proptest::prop_assert!(written_again_is_itself(&text), "{}", text);
            }
            // What this module writes is taken as it is, unless it has a refused form.
            let written = to_json_text(&value);
            if !has_refused_form(&value) {
                proptest::prop_assert!(is_canonical_json(&written), "{}", written);
            }
        }

        /// The elements of a canonical array are the texts of the values it parses to.
        #[test]
        fn the_elements_of_a_canonical_array_are_its_values_texts(
            items in proptest::collection::vec(json_value(), 0..8),
        ) {
            let text = to_json_text(&items);
            if let Some(elements) = canonical_array_elements(&text) {
                let texts: Vec<String> = items.iter().map(|item| to_json_text(item).into()).collect();
                let found: Vec<&str> = elements.into_iter().map(|range| &text[range]).collect();
                proptest::prop_assert_eq!(found, texts);
            } else {
                proptest::prop_assert!(items.iter().any(has_refused_form), "{}", text);
            }
        }

        /// Arbitrary texts that parse as JSON, including ones with whitespace, escapes and
        /// repeated or unordered keys.
        #[test]
        fn arbitrary_json_texts_are_never_taken_wrongly(
            text in r#"[\[\]{}",:\\ 0-9a-fA-Fu.eE+\-nulltrfs]{0,24}"#,
        ) {
            if serde_json::from_str::<Value>(&text).is_ok() && is_canonical_json(&text) {
                proptest::prop_assert!(written_again_is_itself(&text), "{}", text);
            }
        }

        /// Any text a host may answer: one kept unparsed is JSON that parses, and is what
        /// writing its value again gives.
        #[test]
        fn a_host_text_kept_unparsed_is_canonical_json(
            text in "[\\[\\]{}\",:\\\\ 0-9a-fu\\-nlrtse\n\t\u{1}\u{1f}é]{0,24}",
        ) {
            if crate::data::RawValue::from_canonical_text(text.clone()).is_ok() {
                proptest::prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{:?}", text);
                proptest::prop_assert!(written_again_is_itself(&text), "{:?}", text);
            }
        }
    }

    #[test]
    fn only_canonical_arrays_have_elements() {
        fn elements(text: &str) -> Option<Vec<&str>> {
            canonical_array_elements(text)
                .map(|ranges| ranges.into_iter().map(|r| &text[r]).collect())
        }
        assert_eq!(elements("[]"), Some(vec![]));
        assert_eq!(
            elements(r#"[1,[],{"a":[2,{}]},"x,]",[[3]]]"#),
            Some(vec!["1", "[]", r#"{"a":[2,{}]}"#, r#""x,]""#, "[[3]]"])
        );
        for text in [
            "{}",
            r#"{"a":[1]}"#,
            "1",
            r#""[1]""#,
            "[1, 2]",
            "[1,]",
            "[1.5]",
            "[1]x",
        ] {
            assert_eq!(elements(text), None, "{text}");
        }
    }

    #[test]
    fn a_host_text_is_kept_unparsed_only_when_serde_json_parses_it() {
        use crate::data::RawValue;
        let kept = |text: &str| RawValue::from_canonical_text(text.to_string()).is_ok();
        assert!(kept(r#"{"a":["x",1]}"#));
        // Raw control characters in a string: not JSON.
        assert!(!kept("\"a\nb\""));
        assert!(!kept("\"a\u{1}b\""));
        // Nesting: serde_json parses at most 127 levels; texts up to 101 are kept.
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(kept(&nested(101)));
        assert!(serde_json::from_str::<Value>(&nested(101)).is_ok());
        assert!(!kept(&nested(102)));
        assert!(!kept(&format!("{}1{}", "[".repeat(101), "]".repeat(101))));
        assert!(serde_json::from_str::<Value>(&nested(128)).is_err());
        assert!(!kept(&nested(128)));
    }

    #[test]
    fn argument_hashes_of_parts_are_those_of_the_values() {
        let values = [json!("text"), json!({"a": [1, 2.5]}), json!(null)];
        let expected = argument_hash(&values);
        let texts: Vec<Box<str>> = values.iter().map(to_json_text).collect();
        let mixed = [
            JsonPart::Text(&texts[0]),
            JsonPart::Value(&values[1]),
            JsonPart::Text(&texts[2]),
        ];
        assert!(ArgumentHash::of_parts(mixed).is(&expected));
        assert!(ArgumentHash::of_parts(values.iter().map(JsonPart::Value)).is(&expected));
        assert!(ArgumentHash::of_parts([]).is(&argument_hash(&[])));
        assert!(!ArgumentHash::of_parts([JsonPart::Text(&texts[0])]).is(&expected));
    }
}
