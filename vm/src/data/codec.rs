//! The particle data envelope: versions in MessagePack around the rkyv archive.

use super::archive;
use super::model::InterpreterData;
use super::signatures::SignatureCheckError;
use super::store::CidStoreError;

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
            inner_data: archive::to_bytes(&InterpreterData::default())
                .into_vec()
                .into(),
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
    archive::from_bytes(inner_data).map_err(|reason| DataError::DataDeFailed { reason })
}

/// Reads a whole particle data: envelope, version check, archive.
///
/// The result is well-formed but not yet trustworthy: check it with [`crate::data::verify`].
pub fn decode(bytes: &[u8]) -> Result<(Versions, InterpreterData), DataError> {
    let envelope = decode_envelope(bytes)?;
    check_version(&envelope.versions)?;
    let data = decode_inner(&envelope.inner_data)?;
    Ok((envelope.versions, data))
}

/// Writes a particle data, with [`Versions::current`].
pub fn encode(data: &InterpreterData) -> Vec<u8> {
    let archive = archive::to_bytes(data);
    let envelope = Envelope {
        versions: Versions::current(),
        inner_data: Cow::Borrowed(&archive),
    };
    // Room for the archive and the versions, so that the archive is copied only once.
    let mut bytes = Vec::with_capacity(archive.len() + 128);
    rmp_serde::encode::write_named(&mut bytes, &envelope)
        .expect("an envelope of versions and bytes always encodes");
    bytes
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
