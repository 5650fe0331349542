//! `op`: small operations on values, encodings and hashes.
//!
//! `sha256_string` hashes the string, as Aqua's standard library documents and the JavaScript
//! client does. The reference peer stopped hashing in 2023 (a library upgrade left it wrapping
//! the string's own bytes in a SHA-256 multihash, and failing on strings over 64 bytes); we
//! keep the documented behaviour, which every peer-independent caller expects.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::args::{kind, no_such_function, Args};
use super::collections::array_length;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "op";

/// The multihash code of SHA-256, and the length of its digest.
const SHA2_256: u8 = 0x12;
const SHA2_256_LEN: u8 = 32;

pub(crate) struct Op;

impl Service for Op {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome = match call.function_name.as_str() {
            "noop" => Outcome::Empty,
            "identity" => identity(args),
            "array" => Outcome::Value(Value::Array(args.rest())),
            "array_length" => array_length(args).into(),
            "concat" => concat(args).into(),
            "concat_strings" => concat_strings(args).into(),
            "string_to_b58" => args
                .next::<String>("string")
                .map(|s| Value::String(bs58::encode(s).into_string()))
                .into(),
            "string_from_b58" => string_from_b58(&mut args).into(),
            "bytes_to_b58" => args
                .next::<Vec<u8>>("bytes")
                .map(|bytes| Value::String(bs58::encode(bytes).into_string()))
                .into(),
            "bytes_from_b58" => args.next_b58("b58_string").map(Value::from).into(),
            "sha256_string" => sha256_string(&mut args).into(),
            other => no_such_function(SERVICE, other),
        };
        Reply::Ready(outcome)
    }
}

/// Its argument, or nothing when there is none.
fn identity(mut args: Args) -> Outcome {
    if args.count() > 1 {
        return Outcome::Error(args.error(format_args!(
            "accepts at most 1 argument, got {}",
            args.count()
        )));
    }
    match args.rest().pop() {
        Some(value) => Outcome::Value(value),
        None => Outcome::Empty,
    }
}

/// The elements of all its arguments, which must be arrays, in order.
fn concat(mut args: Args) -> Result<Value, String> {
    let mut all = Vec::new();
    for (i, value) in args.rest().into_iter().enumerate() {
        match value {
            Value::Array(items) => all.extend(items),
            other => {
                return Err(args.error(format_args!(
                    "argument {} must be an array, got {}",
                    i + 1,
                    kind(&other)
                )))
            }
        }
    }
    Ok(Value::Array(all))
}

/// All its arguments, which must be strings, joined.
fn concat_strings(mut args: Args) -> Result<Value, String> {
    let mut joined = String::new();
    for (i, value) in args.rest().into_iter().enumerate() {
        match value {
            Value::String(s) => joined.push_str(&s),
            other => {
                return Err(args.error(format_args!(
                    "argument {} must be a string, got {}",
                    i + 1,
                    kind(&other)
                )))
            }
        }
    }
    Ok(Value::String(joined))
}

fn string_from_b58(args: &mut Args) -> Result<Value, String> {
    let bytes = args.next_b58("b58_string")?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|e| args.error(format_args!("the decoded bytes are not UTF-8: {e}")))
}

/// SHA-256 of a string's UTF-8 bytes, as a multihash (or the bare digest), in base58 (or as
/// bytes).
fn sha256_string(args: &mut Args) -> Result<Value, String> {
    let text: String = args.next("string")?;
    let digest_only = args.next_opt::<bool>("digest_only")?.unwrap_or(false);
    let as_bytes = args.next_opt::<bool>("as_bytes")?.unwrap_or(false);
    let digest = Sha256::digest(text.as_bytes());
    let bytes: Vec<u8> = if digest_only {
        digest.to_vec()
    } else {
        [SHA2_256, SHA2_256_LEN].into_iter().chain(digest).collect()
    };
    Ok(if as_bytes {
        Value::from(bytes)
    } else {
        Value::String(bs58::encode(bytes).into_string())
    })
}
