//! Peer keys on the command line: base64 of the 32-byte Ed25519 secret key.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Serialize;
use vm::data::KeyPair;

/// Length of an Ed25519 secret key.
const SECRET_KEY_LEN: usize = 32;

/// The key-format byte of Ed25519 in `RunParameters`.
const ED25519_KEY_FORMAT: u8 = 0;

/// `air keygen`'s output line; field order as documented.
#[derive(Serialize)]
struct GeneratedKey {
    secret_key: String,
    peer_id: String,
}

/// `air keygen`: prints a new random key and its peer id.
pub fn keygen() -> bool {
    let mut secret = [0u8; SECRET_KEY_LEN];
    if let Err(error) = getrandom::getrandom(&mut secret) {
        eprintln!("error: cannot get random bytes for the key: {error}");
        return false;
    }
    let keypair = match KeyPair::from_secret_key(&secret, ED25519_KEY_FORMAT) {
        Ok(keypair) => keypair,
        Err(error) => {
            eprintln!("error: cannot make a key: {error}");
            return false;
        }
    };
    let line = GeneratedKey {
        secret_key: BASE64.encode(secret),
        peer_id: keypair.peer_id().to_string(),
    };
    println!(
        "{}",
        serde_json::to_string(&line).expect("two strings serialize")
    );
    true
}

/// Decodes `--secret-key` and checks that it is the key of `peer_id`; returns the raw secret.
pub fn secret_key_of(base64: &str, peer_id: &str) -> Result<Vec<u8>, String> {
    let secret = BASE64
        .decode(base64.trim())
        .map_err(|error| format!("--secret-key is not valid base64: {error}"))?;
    if secret.len() != SECRET_KEY_LEN {
        return Err(format!(
            "--secret-key must be {SECRET_KEY_LEN} bytes (an Ed25519 secret key), got {}",
            secret.len()
        ));
    }
    let keypair = KeyPair::from_secret_key(&secret, ED25519_KEY_FORMAT)
        .map_err(|error| format!("--secret-key: {error}"))?;
    if **keypair.peer_id() != *peer_id {
        return Err(format!(
            "--secret-key is the key of peer {}, not of --current-peer-id {peer_id}",
            keypair.peer_id()
        ));
    }
    Ok(secret)
}
