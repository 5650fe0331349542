//! The particle data envelope: versions in MessagePack around the rkyv archive.

use super::model::InterpreterData;
use super::signatures::SignatureCheckError;
use super::store::{CidInfo, CidStoreError};
use super::{archive, buffer};

use semver::Version;
use serde::{Deserialize, Serialize};

use std::borrow::Cow;

/// The data format version this crate writes: the one of the reference's `air-interpreter-data`.
pub const DATA_FORMAT_VERSION: Version = Version::new(0, 17, 2);
/// The interpreter version this crate writes into the envelope: the reference release it is
/// compatible with.
pub const INTERPRETER_VERSION: Version = Version::new(0, 62, 0);
/// Data written by an interpreter older than this is rejected.
pub const MIN_SUPPORTED_INTERPRETER_VERSION: Version = Version::new(0, 61, 0);

/// Which format version a data has and which interpreter wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// The data format version (named `version` on the wire, as in the first formats).
    #[serde(rename = "version")]
    pub data_version: Version,
    /// The version of the interpreter that wrote the data.
    pub interpreter_version: Version,
}

impl Versions {
    /// The versions this crate writes.
    pub fn current() -> Self {
        Self {
            data_version: DATA_FORMAT_VERSION,
            interpreter_version: INTERPRETER_VERSION,
        }
    }
}

/// The outer layer of the data: a MessagePack map with the versions and the archived data.
///
/// The versions are flattened into the map like the reference does, so that they can be read on
/// their own (see [`decode_envelope`]) even when the rest is unreadable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// Versions of the format and of the writer.
    #[serde(flatten)]
    pub versions: Versions,
    /// The rkyv archive of [`InterpreterData`].
    #[serde(with = "serde_bytes", borrow)]
    pub inner_data: Cow<'a, [u8]>,
}

/// Reads the envelope of a particle data.
///
/// Empty bytes stand for empty data, written by the oldest supported interpreter. When the
/// envelope is unreadable but its versions can still be read, the error carries them.
pub fn decode_envelope(bytes: &[u8]) -> Result<Envelope<'_>, DataError> {
    if bytes.is_empty() {
        return Ok(Envelope {
            versions: Versions {
                data_version: DATA_FORMAT_VERSION,
                interpreter_version: MIN_SUPPORTED_INTERPRETER_VERSION,
            },
            inner_data: archive::to_vec(&InterpreterData::default()).into(),
        });
    }
    rmp_serde::from_slice(bytes).map_err(|source| match rmp_serde::from_slice::<Versions>(bytes) {
        Ok(versions) => DataError::EnvelopeDeFailedWithVersions {
            source,
            versions: Box::new(versions),
        },
        Err(_) => DataError::EnvelopeDeFailed { source },
    })
}

/// Rejects data written by an interpreter older than [`MIN_SUPPORTED_INTERPRETER_VERSION`].
///
/// The reference checks only the current (received) data this way, not the previous one.
pub fn check_version(versions: &Versions) -> Result<(), DataError> {
    if versions.interpreter_version < MIN_SUPPORTED_INTERPRETER_VERSION {
        return Err(DataError::UnsupportedInterpreterVersion {
            actual: versions.interpreter_version.clone(),
            required: MIN_SUPPORTED_INTERPRETER_VERSION,
        });
    }
    Ok(())
}

/// Validates and reads the archived data of an envelope.
pub fn decode_inner(inner_data: &[u8]) -> Result<InterpreterData, DataError> {
    read_archive(inner_data, None)
}

fn read_archive(inner_data: &[u8], known: Option<&CidInfo>) -> Result<InterpreterData, DataError> {
    archive::from_bytes(inner_data, known).map_err(|reason| DataError::DataDeFailed { reason })
}

/// Reads a whole particle data: envelope, version check, archive.
///
/// The result is well-formed but not yet trustworthy: check it with [`crate::data::verify`].
pub fn decode(bytes: &[u8]) -> Result<(Versions, InterpreterData), DataError> {
    decode_with(bytes, None)
}

/// [`decode`] for a data received along with `prev`, this peer's previous data: the store
/// entries that `prev` holds with the same CID and content are shared with it rather than read
/// again. The result is the same, and so are the errors.
pub fn decode_received(
    bytes: &[u8],
    prev: &InterpreterData,
) -> Result<(Versions, InterpreterData), DataError> {
    decode_with(bytes, Some(&prev.cid_info))
}

fn decode_with(
    bytes: &[u8],
    known: Option<&CidInfo>,
) -> Result<(Versions, InterpreterData), DataError> {
    let envelope = decode_envelope(bytes)?;
    check_version(&envelope.versions)?;
    let data = read_archive(&envelope.inner_data, known)?;
    Ok((envelope.versions, data))
}

/// Writes a particle data, with [`Versions::current`].
///
/// The bytes are those of the [`Envelope`] in MessagePack, but the archive is written straight
/// into the output after the header, so that a large data is never held twice. Its length goes
/// into the header afterwards; as MessagePack uses the shortest header for a length, the archive
/// moves back by a few bytes when it is shorter than 64 KiB.
pub fn encode(data: &InterpreterData) -> Vec<u8> {
    const BIN8: u8 = 0xc4;
    const BIN16: u8 = 0xc5;
    const BIN32: u8 = 0xc6;
    // Every envelope this VM writes starts with the same bytes, up to the archive's length.
    static PREFIX: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let versions = Versions::current();
        let mut bytes = vec![0x83]; // a map of three entries
        for (key, version) in [
            ("version", &versions.data_version),
            ("interpreter_version", &versions.interpreter_version),
        ] {
            write_str(&mut bytes, key);
            write_str(&mut bytes, &version.to_string());
        }
        write_str(&mut bytes, "inner_data");
        bytes
    });
    let mut bytes = buffer::bytes(archive::estimated_size(data) + 128);
    bytes.extend_from_slice(prefix);
    let header = bytes.len();
    bytes.extend_from_slice(&[BIN32, 0, 0, 0, 0]);
    let start = bytes.len();
    archive::write(data, &mut bytes);
    let len = bytes.len() - start;
    let short_header: &[u8] = match (u8::try_from(len), u16::try_from(len)) {
        (Ok(len), _) => &[BIN8, len],
        (_, Ok(len)) => &[BIN16, (len >> 8) as u8, len as u8],
        _ => {
            let len =
                u32::try_from(len).expect("an archive is smaller than 4 GiB (32-bit offsets)");
            bytes[header + 1..start].copy_from_slice(&len.to_be_bytes());
            return bytes;
        }
    };
    let header_end = header + short_header.len();
    bytes[header..header_end].copy_from_slice(short_header);
    bytes.copy_within(start.., header_end);
    bytes.truncate(header_end + len);
    bytes
}

/// Appends a MessagePack string with its shortest header.
fn write_str(out: &mut Vec<u8>, text: &str) {
    let len = text.len();
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(short), _) if short < 32 => out.push(0xa0 | short),
        (Ok(short), _) => out.extend_from_slice(&[0xd9, short]),
        (_, Ok(medium)) => {
            out.push(0xda);
            out.extend_from_slice(&medium.to_be_bytes());
        }
        _ => {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(text.as_bytes());
}

/// Received particle data cannot be used. Variants follow the reference's preparation error
/// classes, so callers can report the same error codes.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The envelope is not readable at all.
    #[error("cannot read the data envelope: {source}")]
    EnvelopeDeFailed {
        /// The MessagePack error.
        source: rmp_serde::decode::Error,
    },
    /// The envelope is not readable, but its versions are.
    #[error(
        "cannot read the data envelope (data version {}, written by interpreter {}): {source}",
        versions.data_version,
        versions.interpreter_version
    )]
    EnvelopeDeFailedWithVersions {
        /// The MessagePack error.
        source: rmp_serde::decode::Error,
        /// The versions the envelope declares.
        versions: Box<Versions>,
    },
    /// The envelope is fine but the archive in it is not a valid data archive.
    #[error("cannot read the data archive: {reason}")]
    DataDeFailed {
        /// What the archive validation found.
        reason: String,
    },
    /// The data was written by an interpreter that is too old.
    #[error("data was written by interpreter {actual}, but at least {required} is required")]
    UnsupportedInterpreterVersion {
        /// The writer's version.
        actual: Version,
        /// The oldest accepted version.
        required: Version,
    },
    /// The stores are inconsistent.
    #[error(transparent)]
    CidStoreVerification(#[from] CidStoreError),
    /// The signatures do not vouch for the content.
    #[error(transparent)]
    DataSignatureCheck(#[from] SignatureCheckError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::RawValue;

    use std::rc::Rc;

    /// Data whose archive is a bit longer than `text_len`.
    fn data_with_text(text_len: usize) -> InterpreterData {
        let mut data = InterpreterData::default();
        let value = Rc::new(serde_json::Value::String("x".repeat(text_len)));
        data.cid_info
            .value_store
            .insert(RawValue::from_value(&value));
        data
    }

    #[test]
    fn envelope_bytes_are_the_serde_encoding_for_every_length_header() {
        // Archives under 256 bytes, under 64 KiB and larger take the three binary headers.
        let mut headers = std::collections::BTreeSet::new();
        for text_len in [0, 200, 300, 65_300, 65_600, 70_000] {
            let data = data_with_text(text_len);
            let encoded = encode(&data);
            let archive = archive::to_vec(&data);
            headers.insert(match archive.len() {
                0..=255 => 8,
                256..=65_535 => 16,
                _ => 32,
            });
            let mut expected = Vec::new();
            rmp_serde::encode::write_named(
                &mut expected,
                &Envelope {
                    versions: Versions::current(),
                    inner_data: Cow::Borrowed(&archive),
                },
            )
            .expect("encodes");
            assert_eq!(encoded, expected, "text of {text_len} bytes");
            let (versions, decoded) = decode(&encoded).expect("decodes");
            assert_eq!(versions, Versions::current());
            assert_eq!(decoded, data);
        }
        assert_eq!(headers.len(), 3, "lengths of every header size");
    }
}
