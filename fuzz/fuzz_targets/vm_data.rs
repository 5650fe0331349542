//! Any bytes as particle data, call results and call requests: decoding never panics and
//! allocates in proportion to the input; data that decodes can be verified without panicking,
//! and re-encoding it gives data that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vm::data::{self, calls};

fuzz_target!(|bytes: &[u8]| {
    let _ = calls::decode_call_results(bytes);
    let _ = calls::decode_call_requests(bytes);
    let Ok((_, decoded)) = data::decode(bytes) else {
        return;
    };
    let _ = data::verify(&decoded, "particle");
    let _ = data::verify_and_merge(&decoded, &decoded, "particle");
    let encoded = data::encode(&decoded);
    let (_, again) = data::decode(&encoded).expect("our own encoding decodes");
    assert!(again == decoded, "re-encoding changed the data");
});
