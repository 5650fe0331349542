//! A peer's identity: an Ed25519 key pair, and the peer id that its public key gives.
//!
//! Peer ids are libp2p's: the public key inlined in an identity multihash, written in base58
//! (`12D3KooW...`). Anyone can therefore check a signature knowing only the peer id.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use libp2p_identity::ed25519;
pub use libp2p_identity::PeerId;
use sha2::{Digest, Sha256};

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the key file {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{}: the key is neither base64 nor base58 text", path.display())]
    Encoding { path: PathBuf },
    #[error("a secret key has 32 bytes (or 64: the secret, then the public key), found {0}")]
    Length(usize),
    #[error("the 64 bytes hold a public key that does not belong to the secret key")]
    Mismatch,
}

/// Why a signature was refused. Peers are named by their base58 ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("peer id {0} does not contain its public key, so its signatures cannot be checked")]
    NoInlineKey(String),
    #[error("peer id {0} holds a key that is not Ed25519")]
    UnsupportedKey(String),
    #[error("the signature is not from {0}")]
    Invalid(String),
}

/// An Ed25519 key pair.
#[derive(Clone)]
pub struct KeyPair {
    pair: ed25519::Keypair,
    /// aws-lc makes the same (deterministic) signatures as ed25519-dalek in about a third of
    /// the time, and every particle a peer starts is signed.
    signer: Arc<aws_lc_rs::signature::Ed25519KeyPair>,
    peer_id: PeerId,
}

impl fmt::Debug for KeyPair {
    /// The peer id only: secrets stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyPair").field(&self.peer_id()).finish()
    }
}

impl KeyPair {
    /// A fresh random key pair.
    pub fn generate() -> KeyPair {
        KeyPair::from_pair(ed25519::Keypair::generate())
    }

    fn from_pair(pair: ed25519::Keypair) -> KeyPair {
        let signer =
            aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(pair.secret().as_ref())
                .expect("a valid Ed25519 secret key is a valid seed");
        let public: libp2p_identity::PublicKey = pair.public().into();
        KeyPair {
            peer_id: public.to_peer_id(),
            signer: Arc::new(signer),
            pair,
        }
    }

    /// The key pair of a 32-byte secret key, or of 64 bytes holding the secret key then its
    /// public key (which must match).
    pub fn from_secret(bytes: &[u8]) -> Result<KeyPair, KeyError> {
        match bytes.len() {
            32 => {
                let mut secret = [0u8; 32];
                secret.copy_from_slice(bytes);
                let secret = ed25519::SecretKey::try_from_bytes(&mut secret)
                    .map_err(|_| KeyError::Length(32))?;
                Ok(KeyPair::from_pair(ed25519::Keypair::from(secret)))
            }
            64 => {
                let pair = KeyPair::from_secret(&bytes[..32])?;
                if pair.pair.public().to_bytes() != bytes[32..] {
                    return Err(KeyError::Mismatch);
                }
                Ok(pair)
            }
            n => Err(KeyError::Length(n)),
        }
    }

    /// The key pair that `seed` and `index` always give: the identities of a test or local
    /// network are the same from run to run.
    pub fn from_seed(seed: u64, index: u32) -> KeyPair {
        let mut hasher = Sha256::new();
        hasher.update(b"aqua peer key");
        hasher.update(seed.to_le_bytes());
        hasher.update(index.to_le_bytes());
        let secret: [u8; 32] = hasher.finalize().into();
        KeyPair::from_secret(&secret).expect("32 bytes make a secret key")
    }

    /// The 32-byte secret key.
    pub fn secret(&self) -> [u8; 32] {
        let mut secret = [0u8; 32];
        secret.copy_from_slice(self.pair.secret().as_ref());
        secret
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The 64-byte Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signer.sign(message).as_ref().to_vec()
    }

    /// Reads a key file: the secret key (32 bytes, or 64 with the public key) in base64, as
    /// Fluence peers write it, or in base58. Surrounding whitespace is ignored.
    pub fn load(path: &Path) -> Result<KeyPair, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = text.trim();
        // Base64 first, as Fluence peers write keys; a text may decode both ways, and then the
        // decoding of a key's size wins.
        let decoded: Vec<Vec<u8>> = [BASE64.decode(text).ok(), bs58::decode(text).into_vec().ok()]
            .into_iter()
            .flatten()
            .collect();
        let bytes = decoded
            .iter()
            .find(|bytes| bytes.len() == 32 || bytes.len() == 64)
            .or(decoded.first())
            .ok_or_else(|| KeyError::Encoding {
                path: path.to_path_buf(),
            })?;
        KeyPair::from_secret(bytes)
    }

    /// Writes the secret key to `path` in base64, readable by its owner only (on Unix).
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let write = || -> io::Result<()> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            io::Write::write_all(
                &mut options.open(path)?,
                BASE64.encode(self.secret()).as_bytes(),
            )
        };
        write().map_err(|source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The key pair kept at `path`, made and written there if the file does not exist. Says
    /// whether it was made.
    pub fn load_or_generate(path: &Path) -> Result<(KeyPair, bool), KeyError> {
        if path.exists() {
            return KeyPair::load(path).map(|pair| (pair, false));
        }
        let pair = KeyPair::generate();
        pair.save(path)?;
        Ok((pair, true))
    }
}

/// Checks that `signature` is `peer`'s signature of `message`, with the public key that the
/// peer id holds.
pub fn verify(peer: &PeerId, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    let multihash = peer.as_ref();
    // Code 0 is the identity multihash: the digest is the protobuf-encoded public key.
    if multihash.code() != 0 {
        return Err(SignatureError::NoInlineKey(peer.to_base58()));
    }
    let public = libp2p_identity::PublicKey::try_decode_protobuf(multihash.digest())
        .map_err(|_| SignatureError::UnsupportedKey(peer.to_base58()))?;
    let public = public
        .try_into_ed25519()
        .map_err(|_| SignatureError::UnsupportedKey(peer.to_base58()))?;
    // ed25519-dalek, as Fluence's peers: aws-lc verifies no faster, and it refuses keys whose
    // encoding is not canonical, which dalek accepts.
    if public.verify(message, signature) {
        Ok(())
    } else {
        Err(SignatureError::Invalid(peer.to_base58()))
    }
}
