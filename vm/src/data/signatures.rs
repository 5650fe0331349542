//! Peer keys and the signatures peers put on the results they produced.
//!
//! A peer signs the sorted list of the CIDs it produced in a particle (service result aggregates
//! of its calls and canon result aggregates of its canons) together with the particle id as salt.
//! The signed bytes are the borsh encoding of `(Vec<cid string>, salt)`. Keys and signatures are
//! stored in the `fluence-keypair` encoding: one key-format byte (0 = Ed25519) followed by the raw
//! key or signature. Only Ed25519 is accepted.

use super::cid::Cid;

use serde::{Deserialize, Serialize};

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;

/// The key-format byte of Ed25519 in the `fluence-keypair` encoding.
const ED25519_FORMAT: u8 = 0;
/// The key-format byte of RSA, known to `fluence-keypair` but not accepted here.
const RSA_FORMAT: u8 = 1;
/// The key-format byte of secp256k1, known to `fluence-keypair` but not accepted here.
const SECP256K1_FORMAT: u8 = 2;

/// A peer's public key in the `fluence-keypair` encoding (format byte, then the key).
///
/// Decoded data may hold anything here; [`PublicKey::peer_id`] checks it.
#[derive(
    Clone, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[archive(check_bytes)]
pub struct PublicKey(Box<[u8]>);

impl PublicKey {
    /// The encoded key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The peer id of this key (`12D3KooW...`), if it is a valid Ed25519 key.
    pub fn peer_id(&self) -> Result<String, KeyError> {
        Ok(peer_id_of(&self.ed25519()?))
    }

    fn ed25519(&self) -> Result<libp2p_identity::ed25519::PublicKey, KeyError> {
        match self.0.split_first() {
            Some((&ED25519_FORMAT, key)) => {
                libp2p_identity::ed25519::PublicKey::try_from_bytes(key)
                    .map_err(|error| KeyError::InvalidKeyData(error.to_string()))
            }
            Some((&format, _)) => Err(KeyError::from_format(format)),
            None => Err(KeyError::InvalidKeyData("empty key".to_owned())),
        }
    }
}

/// Checks `signature` by `key` over `cids` (in any order) salted with `salt`.
fn verify(
    key: &libp2p_identity::ed25519::PublicKey,
    cids: &[&str],
    salt: &str,
    signature: &Signature,
) -> Result<(), String> {
    // Like the reference, the signature's format byte must be known but is not compared to the
    // key's: the key decides the algorithm.
    let raw = match signature.0.split_first() {
        Some((&(ED25519_FORMAT | RSA_FORMAT | SECP256K1_FORMAT), raw)) => raw,
        Some((format, _)) => return Err(format!("unknown signature format {format}")),
        None => return Err("empty signature".to_owned()),
    };
    let message = signed_bytes(cids, salt);
    let checked = verified_key(&key.to_bytes(), raw, &message);
    if verified().get(&checked).is_some() {
        return Ok(());
    }
    if key.verify(&message, raw) {
        verified().insert(checked, ());
        Ok(())
    } else {
        Err("Ed25519 signature does not verify".to_owned())
    }
}

/// Signatures known to be valid, by [`verified_key`], in the whole process: a signature that
/// verified once verifies again, and peers of one process (an embedded network) or copies of a
/// particle carry the same signatures over the same CIDs. Signatures made here are valid by
/// construction and enter it when made.
fn verified() -> &'static quick_cache::sync::Cache<[u8; 32], ()> {
    static VERIFIED: std::sync::OnceLock<quick_cache::sync::Cache<[u8; 32], ()>> =
        std::sync::OnceLock::new();
    VERIFIED.get_or_init(|| quick_cache::sync::Cache::new(1 << 16))
}

/// Forgets the signatures this process made and verified. A peer keeps them because the same
/// signatures come back hop after hop; a benchmark that runs one step again and again forgets
/// them between runs, so that each run signs and verifies as a step on new data does.
pub fn forget_signatures() {
    verified().clear();
    signed_before().clear();
}

/// BLAKE3 of a key, a raw signature and the signed message.
fn verified_key(key: &[u8], raw_signature: &[u8], message: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(key);
    hasher.update(raw_signature);
    hasher.update(message);
    hasher.finalize().into()
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", bs58::encode(&self.0).into_string())
    }
}

/// A signature in the `fluence-keypair` encoding (format byte, then the signature).
#[derive(Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub struct Signature(Box<[u8]>);

impl Signature {
    /// The encoded signature bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", bs58::encode(&self.0).into_string())
    }
}

/// In serde forms (the JSON view of the data), keys and signatures are base58 strings.
macro_rules! base58_serde {
    ($($bytes:ident),*) => {$(
        impl Serialize for $bytes {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&bs58::encode(&self.0).into_string())
            }
        }

        impl<'de> Deserialize<'de> for $bytes {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                bs58::decode(&*text)
                    .into_vec()
                    .map(|bytes| Self(bytes.into()))
                    .map_err(serde::de::Error::custom)
            }
        }
    )*};
}

base58_serde!(PublicKey, Signature);

/// Public key → signature of every peer that signed the data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[archive(check_bytes)]
pub struct SignatureStore(#[with(super::store::EntryVec)] BTreeMap<PublicKey, Signature>);

impl SignatureStore {
    /// The signature made with `key`.
    pub fn get(&self, key: &PublicKey) -> Option<&Signature> {
        self.0.get(key)
    }

    /// Records (or replaces) the signature made with `key`.
    pub fn put(&mut self, key: PublicKey, signature: Signature) {
        self.0.insert(key, signature);
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, &Signature)> {
        self.0.iter()
    }

    /// Number of signatures.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no signatures.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(PublicKey, Signature)> for SignatureStore {
    fn from_iter<I: IntoIterator<Item = (PublicKey, Signature)>>(entries: I) -> Self {
        Self(entries.into_iter().collect())
    }
}

/// The key a peer signs its results with; it also determines the peer id.
#[derive(Clone)]
pub struct KeyPair {
    /// Signs with aws-lc's Ed25519, which makes the same (deterministic) signatures as
    /// ed25519-dalek in about half the time; a peer signs at every step.
    signer: Rc<aws_lc_rs::signature::Ed25519KeyPair>,
    /// The public key's 32 bytes.
    public: [u8; 32],
    peer_id: Rc<str>,
}

impl KeyPair {
    /// Builds the key pair from the secret key bytes and key format that the host passes in
    /// `RunParameters` (`secret_key_bytes`, `key_format`). Only Ed25519 (format 0, 32 bytes) is
    /// accepted.
    ///
    /// Deriving the public key is a scalar multiplication, about half the cost of a run on
    /// small data, and a peer passes the same secret key every time: the thread keeps the key
    /// pairs of the last secrets it saw (several peers may share a thread).
    pub fn from_secret_key(secret_key: &[u8], key_format: u8) -> Result<Self, KeyError> {
        if key_format != ED25519_FORMAT {
            return Err(KeyError::from_format(key_format));
        }
        if let Some(keypair) = KEY_PAIRS.with_borrow(|pairs| pairs.get(secret_key).cloned()) {
            return Ok(keypair);
        }
        let keypair = Self::derive(secret_key)?;
        KEY_PAIRS.with_borrow_mut(|pairs| pairs.insert(secret_key.into(), keypair.clone()));
        Ok(keypair)
    }

    fn derive(secret_key: &[u8]) -> Result<Self, KeyError> {
        // Checked as libp2p checks a host's key, for the same error text.
        libp2p_identity::ed25519::SecretKey::try_from_bytes(&mut secret_key.to_vec())
            .map_err(|error| KeyError::InvalidKeyData(error.to_string()))?;
        let signer = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(secret_key)
            .map_err(|error| KeyError::InvalidKeyData(error.to_string()))?;
        use aws_lc_rs::signature::KeyPair as _;
        let public: [u8; 32] = signer
            .public_key()
            .as_ref()
            .try_into()
            .expect("an Ed25519 public key is 32 bytes");
        Ok(Self {
            peer_id: encoded_public_key(&public).peer_id()?.into(),
            signer: Rc::new(signer),
            public,
        })
    }

    /// The public key, as stored in a [`SignatureStore`].
    pub fn public_key(&self) -> PublicKey {
        encoded_public_key(&self.public)
    }

    /// The peer id (`12D3KooW...`).
    pub fn peer_id(&self) -> &Rc<str> {
        &self.peer_id
    }

    /// Signs `cids` (in any order; they are sorted first) salted with `salt` (the particle id).
    ///
    /// Ed25519 signatures are deterministic, and a peer often signs the same CIDs again (a
    /// step that only asks for calls, a particle coming back): the process keeps the latest
    /// signatures by key and message.
    pub fn sign<S: AsRef<str>>(&self, cids: &[S], salt: &str) -> Signature {
        let message = signed_bytes(cids, salt);
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.public);
        hasher.update(&message);
        let signed: [u8; 32] = hasher.finalize().into();
        let raw = match signed_before().get(&signed) {
            Some(raw) => raw,
            None => {
                let raw: [u8; 64] = self
                    .signer
                    .sign(&message)
                    .as_ref()
                    .try_into()
                    .expect("an Ed25519 signature is 64 bytes");
                verified().insert(verified_key(&self.public, &raw, &message), ());
                signed_before().insert(signed, raw);
                raw
            }
        };
        let mut bytes = Vec::with_capacity(1 + raw.len());
        bytes.push(ED25519_FORMAT);
        bytes.extend_from_slice(&raw);
        Signature(bytes.into())
    }
}

/// An Ed25519 public key as a [`SignatureStore`] holds it: the format byte, then the key.
fn encoded_public_key(public: &[u8; 32]) -> PublicKey {
    let mut bytes = Vec::with_capacity(1 + public.len());
    bytes.push(ED25519_FORMAT);
    bytes.extend_from_slice(public);
    PublicKey(bytes.into())
}

/// Signatures made in this process, by BLAKE3 of (public key, message). Process-wide rather
/// than per thread: a particle's next step on a peer may run on any of the runtime's threads.
fn signed_before() -> &'static quick_cache::sync::Cache<[u8; 32], [u8; 64]> {
    static SIGNED: std::sync::OnceLock<quick_cache::sync::Cache<[u8; 32], [u8; 64]>> =
        std::sync::OnceLock::new();
    SIGNED.get_or_init(|| quick_cache::sync::Cache::new(1 << 15))
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        write!(f, "KeyPair({})", self.peer_id)
    }
}

/// A peer id and the decoded key it holds, shared: a decoded point is about 200 bytes, and every
/// data names its signers again.
type DecodedKey = Rc<(Rc<str>, libp2p_identity::ed25519::PublicKey)>;

/// A map for per-thread caches of values that are costly to compute and cheap to keep. When
/// full it starts over: a bound without bookkeeping, and a refill costs only recomputation.
struct BoundedCache<K, V> {
    entries: HashMap<K, V>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq, V> BoundedCache<K, V> {
    fn new(capacity: usize) -> Self {
        BoundedCache {
            entries: HashMap::new(),
            capacity,
        }
    }

    fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    fn insert(&mut self, key: K, value: V) {
        if self.entries.len() >= self.capacity {
            self.entries.clear();
        }
        self.entries.insert(key, value);
    }
}

thread_local! {
    /// Key pairs by secret key, for [`KeyPair::from_secret_key`].
    static KEY_PAIRS: RefCell<BoundedCache<Box<[u8]>, KeyPair>> =
        RefCell::new(BoundedCache::new(64));
    /// Decoded public keys and their peer ids, by encoded key: decoding a point costs about a
    /// fifth of a verification, and the same peers sign particle after particle.
    static DECODED_KEYS: RefCell<BoundedCache<Box<[u8]>, DecodedKey>> =
        RefCell::new(BoundedCache::new(4096));
}

/// The message a peer signs: borsh of the sorted CIDs and the salt.
fn signed_bytes<S: AsRef<str>>(cids: &[S], salt: &str) -> Vec<u8> {
    let mut sorted: Vec<&str> = cids.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    borsh::to_vec(&(sorted, salt)).expect("borsh writes strings to a Vec infallibly")
}

fn peer_id_of(key: &libp2p_identity::ed25519::PublicKey) -> String {
    libp2p_identity::PublicKey::from(key.clone())
        .to_peer_id()
        .to_base58()
}

/// A key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A known algorithm other than Ed25519.
    #[error("signature algorithm {0} is not accepted, only Ed25519 is")]
    AlgorithmNotWhitelisted(&'static str),
    /// A key-format byte that names no algorithm.
    #[error("unknown key format {0}")]
    UnknownKeyFormat(u8),
    /// The bytes are not a key of the format.
    #[error("invalid key data: {0}")]
    InvalidKeyData(String),
}

impl KeyError {
    fn from_format(format: u8) -> Self {
        match format {
            RSA_FORMAT => Self::AlgorithmNotWhitelisted("RSA"),
            SECP256K1_FORMAT => Self::AlgorithmNotWhitelisted("secp256k1"),
            other => Self::UnknownKeyFormat(other),
        }
    }
}

/// Collects, per peer, the CIDs the peer produced, to sign them at the end of an execution.
///
/// Register every CID that a peer is the author of (by the `peer_pk` of the call's or canon's
/// tetraplet), including those merged from earlier data, not only the new ones: the signature
/// covers all of them.
#[derive(Debug, Clone, Default)]
pub struct SignatureTracker {
    // Keyed by the peer ids of received data: a seeded hash, as everywhere data chooses keys
    // (and cheaper than std's SipHash, for a lookup per recorded result).
    cids: HashMap<Rc<str>, Vec<Cid>, foldhash::fast::RandomState>,
}

impl SignatureTracker {
    /// Records that `peer_id` produced `cid`.
    pub fn register(&mut self, peer_id: &str, cid: &Cid) {
        match self.cids.get_mut(peer_id) {
            Some(cids) => cids.push(cid.clone()),
            None => {
                self.cids.insert(peer_id.into(), vec![cid.clone()]);
            }
        }
    }

    /// The CIDs registered for `peer_id`, sorted.
    pub fn cids_of(&self, peer_id: &str) -> Vec<Cid> {
        let mut cids = self.cids.get(peer_id).cloned().unwrap_or_default();
        cids.sort_unstable();
        cids
    }

    /// Signs the CIDs registered for the key's own peer and records the signature in `store`.
    pub fn sign_into(&self, keypair: &KeyPair, salt: &str, store: &mut SignatureStore) {
        // Unsorted: signing sorts them.
        let cids = self
            .cids
            .get(&**keypair.peer_id())
            .map_or(&[][..], Vec::as_slice);
        let signature = keypair.sign(cids, salt);
        store.put(keypair.public_key(), signature);
    }
}

/// The signatures of a data do not vouch for its content. The reference reports these as
/// `DataSignatureCheckError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureCheckError {
    /// A public key of the signature store is not an Ed25519 key.
    #[error("malformed public key {key}: {reason}")]
    MalformedKey {
        /// The key, base58.
        key: String,
        /// What is wrong.
        reason: KeyError,
    },
    /// A peer produced CIDs but there is no signature with its key.
    #[error("peer {peer_id} produced values but has not signed them")]
    PeerIdNotFound {
        /// The peer (from the tetraplet of its results).
        peer_id: String,
    },
    /// A signature does not match the CIDs its peer produced.
    #[error("signature of peer {peer_id} does not match its CIDs {cids:?}: {reason}")]
    SignatureMismatch {
        /// The peer.
        peer_id: String,
        /// The peer's CIDs, sorted, as checked.
        cids: Vec<Rc<str>>,
        /// What is wrong.
        reason: String,
    },
    /// Between the previous and the current data, a peer's CIDs did not only grow.
    #[error(
        "CIDs of peer {peer_id} are inconsistent between previous and current data: \
         {smaller:?} is not contained in {larger:?}"
    )]
    MergeMismatch {
        /// The peer.
        peer_id: String,
        /// The larger of the two CID lists.
        larger: Vec<Rc<str>>,
        /// The other CID list.
        smaller: Vec<Rc<str>>,
    },
}

/// A peer's signature and the CIDs attributed to it in one data.
pub(crate) struct PeerCids<'a> {
    pub(crate) key: &'a PublicKey,
    /// `key` with its peer id, decoded once: decoding a point costs about a fifth of a
    /// verification.
    decoded: DecodedKey,
    pub(crate) signature: &'a Signature,
    pub(crate) cids: Vec<&'a str>,
}

/// Peer id → signature and CIDs, for every peer of a signature store.
pub(crate) type GroupedCids<'a> = BTreeMap<Rc<str>, PeerCids<'a>>;

/// Starts grouping: one empty entry per signing peer; fails on keys that are not Ed25519.
pub(crate) fn group_signers(
    store: &SignatureStore,
) -> Result<GroupedCids<'_>, SignatureCheckError> {
    store
        .iter()
        .map(|(key, signature)| {
            let cached = DECODED_KEYS.with_borrow(|keys| keys.get(key.as_bytes()).cloned());
            let decoded = match cached {
                Some(known) => known,
                None => {
                    let decoded =
                        key.ed25519()
                            .map_err(|reason| SignatureCheckError::MalformedKey {
                                key: bs58::encode(key.as_bytes()).into_string(),
                                reason,
                            })?;
                    let known = Rc::new((Rc::from(peer_id_of(&decoded)), decoded));
                    DECODED_KEYS
                        .with_borrow_mut(|keys| keys.insert(key.as_bytes().into(), known.clone()));
                    known
                }
            };
            let peer_id = Rc::clone(&decoded.0);
            let peer = PeerCids {
                key,
                decoded,
                signature,
                cids: Vec::new(),
            };
            Ok((peer_id, peer))
        })
        .collect()
}

/// Checks every peer's signature over its (sorted) CIDs.
///
/// A peer whose key, signature and CIDs are exactly those it has in `trusted` (this peer's own
/// previous data, which the reference does not check either) is not checked again: the check
/// would verify the same message and signature with the same key as when that data was made.
pub(crate) fn check_signatures(
    groups: &GroupedCids<'_>,
    trusted: &GroupedCids<'_>,
    salt: &str,
) -> Result<(), SignatureCheckError> {
    for (peer_id, peer) in groups {
        let already_checked = trusted.get(peer_id).is_some_and(|known| {
            known.key == peer.key && known.signature == peer.signature && known.cids == peer.cids
        });
        if already_checked {
            continue;
        }
        verify(&peer.decoded.1, &peer.cids, salt, peer.signature).map_err(|reason| {
            SignatureCheckError::SignatureMismatch {
                peer_id: peer_id.to_string(),
                cids: owned(&peer.cids),
                reason,
            }
        })?;
    }
    Ok(())
}

/// Merges the signers of two datas. For each peer in both, one CID multiset must contain the
/// other (a peer's results only accumulate); the larger one's signature is kept.
pub(crate) fn merge_signers<'a>(
    mut prev: GroupedCids<'a>,
    current: GroupedCids<'a>,
) -> Result<SignatureStore, SignatureCheckError> {
    use std::collections::btree_map::Entry;

    for (peer_id, theirs) in current {
        match prev.entry(peer_id) {
            Entry::Vacant(slot) => {
                slot.insert(theirs);
            }
            Entry::Occupied(mut slot) => {
                let ours = slot.get_mut();
                let smaller = if ours.cids.len() < theirs.cids.len() {
                    std::mem::replace(ours, theirs)
                } else {
                    theirs
                };
                if !is_sorted_sub_multiset(&smaller.cids, &ours.cids) {
                    return Err(SignatureCheckError::MergeMismatch {
                        peer_id: slot.key().to_string(),
                        larger: owned(&slot.get().cids),
                        smaller: owned(&smaller.cids),
                    });
                }
            }
        }
    }
    let mut store = SignatureStore::default();
    for peer in prev.into_values() {
        store.put(peer.key.clone(), peer.signature.clone());
    }
    Ok(store)
}

/// CIDs as an error keeps them.
fn owned(cids: &[&str]) -> Vec<Rc<str>> {
    cids.iter().map(|&cid| Rc::from(cid)).collect()
}

/// Whether every element of `smaller` occurs in `larger` at least as often; both are sorted.
fn is_sorted_sub_multiset(smaller: &[&str], larger: &[&str]) -> bool {
    let mut rest = larger.iter();
    smaller
        .iter()
        .all(|needle| rest.by_ref().any(|candidate| candidate == needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouped<'a>(store: &'a SignatureStore, cids: &[&'a str]) -> GroupedCids<'a> {
        let mut groups = group_signers(store).expect("valid keys");
        for peer in groups.values_mut() {
            peer.cids = cids.to_vec();
        }
        groups
    }

    #[test]
    fn only_unchanged_signers_skip_the_check() {
        let keypair = KeyPair::from_secret_key(&[7; 32], ED25519_FORMAT).expect("key");
        let signed: SignatureStore = [(keypair.public_key(), keypair.sign(&["a"], "salt"))]
            .into_iter()
            .collect();
        let trusted = grouped(&signed, &["a"]);
        let unchanged = grouped(&signed, &["a"]);
        assert_eq!(check_signatures(&unchanged, &trusted, "salt"), Ok(()));

        // The same signature over more CIDs than it signed is checked, and fails.
        let grown = grouped(&signed, &["a", "b"]);
        assert!(check_signatures(&grown, &trusted, "salt").is_err());

        // So is another signature over the same CIDs, even though the trusted one is valid.
        let forged: SignatureStore = [(keypair.public_key(), keypair.sign(&["c"], "salt"))]
            .into_iter()
            .collect();
        let forged = grouped(&forged, &["a"]);
        assert!(check_signatures(&forged, &trusted, "salt").is_err());
    }

    #[test]
    fn the_cached_key_pair_follows_the_secret() {
        let first = KeyPair::from_secret_key(&[1; 32], ED25519_FORMAT).expect("key");
        let second = KeyPair::from_secret_key(&[2; 32], ED25519_FORMAT).expect("key");
        let first_again = KeyPair::from_secret_key(&[1; 32], ED25519_FORMAT).expect("key");
        assert_ne!(first.public_key(), second.public_key());
        assert_eq!(first.public_key(), first_again.public_key());
        assert_eq!(first.peer_id(), first_again.peer_id());
        assert!(KeyPair::from_secret_key(&[1; 31], ED25519_FORMAT).is_err());
    }
}
