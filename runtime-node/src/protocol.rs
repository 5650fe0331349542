//! The particle protocol's encoding, as Fluence peers and clients speak it
//! (`/fluence/particle/2.0.0`).
//!
//! Each particle travels on a stream of its own, as one frame: an unsigned-varint length, then
//! the message. A message is the multicodec varint `0x0201` (msgpack), then a msgpack map
//! tagged by `action`: `{"action": "Particle", "id", "init_peer_id", "timestamp", "ttl",
//! "script", "signature", "data"}`. Byte fields are written as msgpack `bin`; JavaScript
//! clients write them as arrays of integers, which are read too.

use serde::{Deserialize, Serialize};

use crate::particle::Particle;

/// The protocol id that peers announce and open streams with.
pub const PROTOCOL: &str = "/fluence/particle/2.0.0";

/// The multicodec code of msgpack, the only encoding of the protocol's messages.
pub const MSGPACK: u64 = 0x0201;

/// The largest frame Fluence peers accept: 100 MiB.
pub const MAX_FRAME: usize = 100 * 1024 * 1024;

/// A message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum Message {
    Particle(Particle),
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the message is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the frame ends after {available} of its {expected} bytes")]
    Truncated { expected: usize, available: usize },
    #[error("the frame ends inside its length prefix")]
    IncompleteLength,
    #[error("the frame has no valid length prefix")]
    BadLength,
    #[error("the message has no valid multicodec prefix")]
    BadCodec,
    #[error(
        "the message is encoded with multicodec {0:#x}; the protocol uses msgpack ({MSGPACK:#x})"
    )]
    UnknownCodec(u64),
    #[error("the message is not a valid particle message: {0}")]
    Malformed(String),
}

/// The message's bytes: the msgpack prefix, then the msgpack map.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut buffer = unsigned_varint::encode::u64_buffer();
    let mut bytes = unsigned_varint::encode::u64(MSGPACK, &mut buffer).to_vec();
    rmp_serde::encode::write_named(&mut bytes, message)
        .expect("a particle message always encodes to msgpack");
    bytes
}

/// The message in `bytes` (a whole message, no frame), if it is at most `limit` bytes.
pub fn decode(bytes: &[u8], limit: usize) -> Result<Message, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let (codec, body) = unsigned_varint::decode::u64(bytes).map_err(|_| DecodeError::BadCodec)?;
    if codec != MSGPACK {
        return Err(DecodeError::UnknownCodec(codec));
    }
    rmp_serde::from_slice(body).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// The message as a frame: its length as an unsigned varint, then the message.
pub fn encode_frame(message: &Message) -> Vec<u8> {
    let body = encode(message);
    let mut buffer = unsigned_varint::encode::usize_buffer();
    let mut frame = unsigned_varint::encode::usize(body.len(), &mut buffer).to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// The message of the frame at the start of `bytes`, and the number of bytes the frame takes.
/// The length prefix is checked against `limit` before anything else is read.
pub fn decode_frame(bytes: &[u8], limit: usize) -> Result<(Message, usize), DecodeError> {
    let (size, rest) = match unsigned_varint::decode::usize(bytes) {
        Ok(decoded) => decoded,
        Err(unsigned_varint::decode::Error::Insufficient) => {
            return Err(DecodeError::IncompleteLength)
        }
        Err(_) => return Err(DecodeError::BadLength),
    };
    if size > limit {
        return Err(DecodeError::TooLarge { size, limit });
    }
    if rest.len() < size {
        return Err(DecodeError::Truncated {
            expected: size,
            available: rest.len(),
        });
    }
    let prefix = bytes.len() - rest.len();
    let message = decode(&rest[..size], limit)?;
    Ok((message, prefix + size))
}
