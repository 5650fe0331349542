//! Call requests (interpreter → host) and call results (host → interpreter) on the wire.
//!
//! Both are MessagePack maps with structs as maps (field names included, for JavaScript hosts),
//! prefixed by the unsigned-varint multicodec code of MessagePack (`0x0201`). Inside a request, the
//! arguments and the tetraplets are each a nested MessagePack byte string (without the prefix).
//! Result maps are keyed by the call id as a decimal string, and each result is JSON text: hosts
//! written in JavaScript cannot key binary maps by numbers, and a result that is not JSON must reach
//! the interpreter to be reported as the service's failure.

use super::model::Tetraplet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::collections::BTreeMap;
use std::fmt;

/// The multicodec code of MessagePack.
const MSGPACK_CODEC: u32 = 0x0201;

/// A service call the host has to make for the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The service to call.
    pub service_id: String,
    /// The function of the service.
    pub function_name: String,
    /// The arguments.
    pub arguments: Vec<Value>,
    /// The origin of each argument: one list per argument (an array argument built from several
    /// values has one tetraplet per element).
    pub tetraplets: Vec<Vec<Tetraplet>>,
}

/// Call requests by call id.
pub type CallRequests = BTreeMap<u32, CallRequest>;

/// What a service returned, as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallServiceResult {
    /// 0 for success, anything else is a service error.
    pub ret_code: i32,
    /// The result (or error) value as JSON text. It is kept as text because its size is limited as
    /// text and because text that is not JSON is itself a service failure to report.
    pub result: String,
}

impl CallServiceResult {
    /// A successful result.
    pub fn ok(result: &Value) -> Self {
        Self::err(0, result)
    }

    /// A service error with code `ret_code` (non-zero) and the error value.
    pub fn err(ret_code: i32, result: &Value) -> Self {
        Self {
            ret_code,
            result: result.to_string(),
        }
    }

    /// The result value.
    pub fn parse_result(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.result)
    }
}

impl fmt::Display for CallServiceResult {
    /// The reference's wording, which ends up in error messages stored in the data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ret_code: {}, result: '{}'", self.ret_code, self.result)
    }
}

/// Call results by call id.
pub type CallResults = BTreeMap<u32, CallServiceResult>;

#[derive(Serialize, Deserialize)]
struct CallRequestWire {
    service_id: String,
    function_name: String,
    #[serde(with = "serde_bytes")]
    arguments: Vec<u8>,
    #[serde(with = "serde_bytes")]
    tetraplets: Vec<u8>,
}

/// [`CallRequestWire`] borrowing its parts, for encoding.
#[derive(Serialize)]
struct CallRequestWireRef<'a> {
    service_id: &'a str,
    function_name: &'a str,
    #[serde(with = "serde_bytes")]
    arguments: &'a [u8],
    #[serde(with = "serde_bytes")]
    tetraplets: &'a [u8],
}

/// Encodes call requests for the host.
pub fn encode_call_requests(requests: &CallRequests) -> Vec<u8> {
    // The nested encodings of all requests share one buffer, and the wire form borrows from
    // it: a request costs no allocation of its own, which matters for hundreds of requests.
    let mut nested = Vec::new();
    let mut ends = Vec::with_capacity(requests.len());
    for request in requests.values() {
        write_msgpack_seq(&mut nested, &request.arguments);
        let arguments_end = nested.len();
        write_msgpack_seq(&mut nested, &request.tetraplets);
        ends.push((arguments_end, nested.len()));
    }
    let mut start = 0;
    let wire: Vec<(u32, CallRequestWireRef<'_>)> = requests
        .iter()
        .zip(ends)
        .map(|((&id, request), (arguments_end, end))| {
            let wire = CallRequestWireRef {
                service_id: &request.service_id,
                function_name: &request.function_name,
                arguments: &nested[start..arguments_end],
                tetraplets: &nested[arguments_end..end],
            };
            start = end;
            (id, wire)
        })
        .collect();
    with_codec_prefix(&WireMap(&wire))
}

/// Pairs serialized as a map, in their order (call ids ascending, as a `BTreeMap` would be).
struct WireMap<'a, K, V>(&'a [(K, V)]);

impl<K: Serialize, V: Serialize> Serialize for WireMap<'_, K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
    }
}

/// Decodes call requests, as a host does.
pub fn decode_call_requests(bytes: &[u8]) -> Result<CallRequests, CallSedeError> {
    let wire: BTreeMap<u32, CallRequestWire> = rmp_serde::from_slice(strip_codec_prefix(bytes)?)?;
    wire.into_iter()
        .map(|(id, request)| {
            let request = CallRequest {
                service_id: request.service_id,
                function_name: request.function_name,
                arguments: rmp_serde::from_slice(&request.arguments)?,
                tetraplets: rmp_serde::from_slice(&request.tetraplets)?,
            };
            Ok((id, request))
        })
        .collect()
}

/// Encodes call results, as a host does.
pub fn encode_call_results(results: &CallResults) -> Vec<u8> {
    let wire: BTreeMap<String, &CallServiceResult> = results
        .iter()
        .map(|(id, result)| (id.to_string(), result))
        .collect();
    with_codec_prefix(&wire)
}

/// Decodes the call results the host passes in.
///
/// A key that is not a call id in canonical decimal form is an error: the reference would never
/// match it with a request and would report it as unprocessed at the end.
pub fn decode_call_results(bytes: &[u8]) -> Result<CallResults, CallSedeError> {
    let wire: BTreeMap<String, CallServiceResult> =
        rmp_serde::from_slice(strip_codec_prefix(bytes)?)?;
    wire.into_iter()
        .map(|(key, result)| match key.parse::<u32>() {
            Ok(id) if id.to_string() == key => Ok((id, result)),
            _ => Err(CallSedeError::InvalidCallId(key)),
        })
        .collect()
}

/// Appends `value` as MessagePack with structs as maps.
fn write_msgpack<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    rmp_serde::encode::write_named(out, value)
        .expect("JSON values, strings and integers always encode");
}

/// Appends `items` as a MessagePack array, the bytes `write_msgpack` would write. An item equal
/// to the one before it is copied from the bytes just written rather than serialized again:
/// the arguments of a call are often the same variable many times, with the same tetraplets.
fn write_msgpack_seq<T: Serialize + PartialEq>(out: &mut Vec<u8>, items: &[T]) {
    let len = items.len();
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(short), _) if short < 16 => out.push(0x90 | short),
        (_, Ok(medium)) => {
            out.push(0xdc);
            out.extend_from_slice(&medium.to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            let len = u32::try_from(len).expect("fewer than 2^32 arguments");
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    let mut previous: Option<(&T, std::ops::Range<usize>)> = None;
    for item in items {
        let start = out.len();
        match previous {
            Some((last, ref bytes)) if last == item => out.extend_from_within(bytes.clone()),
            _ => write_msgpack(out, item),
        }
        previous = Some((item, start..out.len()));
    }
}

fn with_codec_prefix<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut prefix = unsigned_varint::encode::u32_buffer();
    let mut bytes = unsigned_varint::encode::u32(MSGPACK_CODEC, &mut prefix).to_vec();
    write_msgpack(&mut bytes, value);
    bytes
}

fn strip_codec_prefix(bytes: &[u8]) -> Result<&[u8], CallSedeError> {
    let (codec, rest) = unsigned_varint::decode::u32(bytes)
        .map_err(|error| CallSedeError::Multiformat(error.to_string()))?;
    if codec != MSGPACK_CODEC {
        return Err(CallSedeError::UnsupportedCodec(codec));
    }
    Ok(rest)
}

/// Call requests or results cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CallSedeError {
    /// The multicodec prefix is malformed.
    #[error("malformed multicodec prefix: {0}")]
    Multiformat(String),
    /// The prefix names a codec other than MessagePack.
    #[error("unsupported codec {0:#x}, only MessagePack (0x201) is accepted")]
    UnsupportedCodec(u32),
    /// The MessagePack content does not have the expected shape.
    #[error("malformed MessagePack: {0}")]
    Msgpack(#[from] rmp_serde::decode::Error),
    /// A result key is not a call id.
    #[error("call result key {0:?} is not a call id")]
    InvalidCallId(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn tetraplet(lens: &str) -> Tetraplet {
        Tetraplet {
            peer_pk: "peer".into(),
            service_id: "service".into(),
            function_name: "function".into(),
            lens: lens.into(),
        }
    }

    #[test]
    fn sequences_are_the_serde_encoding_with_repeats_or_not() {
        let values = [json!("a"), json!({"b": [1, 2]}), json!(null)];
        let tetraplets = [
            vec![tetraplet("")],
            vec![tetraplet(".$.[0]"), tetraplet("")],
        ];
        // Lengths of every array header, items repeated, alternating and alone.
        for len in [0, 1, 2, 15, 16, 300, 70_000] {
            for stride in [1, 2, 3] {
                let arguments: Vec<Value> = (0..len)
                    .map(|i| values[i / stride % values.len()].clone())
                    .collect();
                let origins: Vec<Vec<Tetraplet>> = (0..len)
                    .map(|i| tetraplets[i / stride % tetraplets.len()].clone())
                    .collect();
                let (mut ours, mut serde) = (Vec::new(), Vec::new());
                write_msgpack_seq(&mut ours, &arguments);
                write_msgpack(&mut serde, &arguments);
                assert_eq!(ours, serde, "{len} arguments, stride {stride}");
                let (mut ours, mut serde) = (Vec::new(), Vec::new());
                write_msgpack_seq(&mut ours, &origins);
                write_msgpack(&mut serde, &origins);
                assert_eq!(ours, serde, "{len} tetraplets, stride {stride}");
            }
        }
    }
}
