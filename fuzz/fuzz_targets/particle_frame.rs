//! Any bytes as a particle frame from the network: decoding never panics and never reads past
//! the frame's length; a particle that decodes can be checked, and encoding it again gives a
//! frame that decodes to the same particle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_node::protocol::{self, Message};

/// A small limit, so that the fuzzer also explores the size checks.
const LIMIT: usize = 64 * 1024;

fuzz_target!(|bytes: &[u8]| {
    let _ = protocol::decode(bytes, LIMIT);
    let Ok((message, used)) = protocol::decode_frame(bytes, LIMIT) else {
        return;
    };
    assert!(used <= bytes.len());
    let Message::Particle(particle) = &message;
    let _ = particle.verify();
    let _ = particle.is_expired(u64::MAX);
    let frame = protocol::encode_frame(&message);
    let (again, _) = protocol::decode_frame(&frame, usize::MAX).expect("our own frame decodes");
    assert!(again == message, "re-encoding changed the particle");
});
