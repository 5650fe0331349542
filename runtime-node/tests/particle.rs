//! Identities, particle signatures and the protocol encoding, checked against the vectors of
//! Fluence's peer (nox) and against the `fluence-keypair` crate that Fluence peers sign with.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use proptest::prelude::*;
use runtime_node::identity::{self, KeyError, SignatureError};
use runtime_node::particle::ParticleError;
use runtime_node::protocol::{self, DecodeError, Message, MAX_FRAME};
use runtime_node::{KeyPair, Particle, PeerId};

/// The key of nox's signature vectors.
const SECRET: &str = "7h48PQ/f1rS9TxacmgODxbD42Il9B3KC117jvOPppPE=";

fn golden_key() -> KeyPair {
    KeyPair::from_secret(&BASE64.decode(SECRET).unwrap()).unwrap()
}

#[test]
fn keys_and_signatures_match_the_reference_vectors() {
    let key = golden_key();
    assert_eq!(
        key.peer_id().to_base58(),
        "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D"
    );
    assert_eq!(
        BASE64.encode(key.sign(b"message")),
        "sBW7H6/1fwAwF86ldwVm9BDu0YH3w30oFQjTWX0Tiu9yTVZHmxkV2OX4GL5jn0Iz0CrasGcOfozzkZwtJBPMBg=="
    );
    let mut particle = Particle {
        id: "2883f959-e9e7-4843-8c37-205d393ca372".into(),
        init_peer_id: key.peer_id(),
        timestamp: 1696934545662,
        ttl: 7000,
        script: "abc".into(),
        signature: Vec::new(),
        data: Vec::new(),
    };
    assert_eq!(
        BASE64.encode(particle.signed_bytes()),
        "Mjg4M2Y5NTktZTllNy00ODQzLThjMzctMjA1ZDM5M2NhMzcy/kguGYsBAABYGwAAYWJj"
    );
    particle.sign(&key).unwrap();
    assert_eq!(
        BASE64.encode(&particle.signature),
        "KceXDnOfqe0dOnAxiDsyWBIvUq6WHoT0ge+VMHXOZsjZvCNH7/10oufdlYfcPomfv28On6E87ZhDcHGBZcb7Bw=="
    );
    particle.verify().unwrap();
}

#[test]
fn a_frame_written_by_the_js_client_decodes() {
    // nox's vector: a particle frame from the JavaScript client, whose byte fields are msgpack
    // arrays of integers.
    let frame = BASE64
        .decode(concat!(
            "zwKBBIimYWN0aW9uqFBhcnRpY2xlpGRhdGGQomlk2SRkMjA1ZDE0OC00Y2YxLTRlNzYtOGY2ZS1mY",
            "2U5ODEwZjVlNmOsaW5pdF9wZWVyX2lk2TQxMkQzS29vV0xMRjdnUUtiNzd4WEhWWm4zS1hhMTR4cDNSQmlBa2JuSzJVQ",
            "lJwRGFSOEtipnNjcmlwdNk5KGNhbGwgJWluaXRfcGVlcl9pZCUgKCJnZXREYXRhU3J2IiAiLXJlbGF5LSIpIFtdIC1yZ",
            "WxheS0pqXNpZ25hdHVyZdwAQG/MtlwBTizM4UtycW3M4DzM9RPMtsyYGsyNbcy5Msy/zO/MvHoyzL9nFTV4zNgfzNUWz",
            "PDMwk7M08zwzMDMoszcFMyqeRnMyD/M9cyXEcz9zJzM8syNzIHM2czNzLXMnMznCql0aW1lc3RhbXDPAAABi/IqldOjd",
            "HRsAA=="
        ))
        .unwrap();
    let (message, used) = protocol::decode_frame(&frame, MAX_FRAME).unwrap();
    assert_eq!(used, frame.len());
    let Message::Particle(particle) = message;
    assert_eq!(particle.id, "d205d148-4cf1-4e76-8f6e-fce9810f5e6c");
    assert_eq!(
        particle.init_peer_id.to_base58(),
        "12D3KooWLLF7gQKb77xXHVZn3KXa14xp3RBiAkbnK2UBRpDaR8Kb"
    );
    assert_eq!(particle.timestamp, 1700574959059);
    assert_eq!(particle.ttl, 0);
    assert_eq!(
        particle.script,
        r#"(call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)"#
    );
    assert_eq!(particle.signature.len(), 64);
    assert_eq!(&particle.signature[..4], &[111, 182, 92, 1]);
    assert!(particle.data.is_empty());
    // The client signed it: the signature holds.
    particle.verify().unwrap();
    // Written again, byte fields become msgpack `bin`, and the frame still decodes the same.
    let ours = protocol::encode_frame(&Message::Particle(particle.clone()));
    assert_ne!(ours, frame);
    assert_eq!(
        protocol::decode_frame(&ours, MAX_FRAME).unwrap(),
        (Message::Particle(particle), ours.len())
    );
}

#[test]
fn what_the_signature_covers() {
    let key = KeyPair::from_seed(7, 0);
    let particle = Particle::new("p1".into(), &key, 1_000, 5_000, "(null)".into());
    particle.verify().unwrap();
    // The data is not signed: peers change it on the way.
    let mut with_data = particle.clone();
    with_data.data = vec![1, 2, 3];
    with_data.verify().unwrap();
    for tamper in [
        |p: &mut Particle| p.script.push(' '),
        |p: &mut Particle| p.ttl += 1,
        |p: &mut Particle| p.timestamp -= 1,
        |p: &mut Particle| p.id.push('x'),
    ] {
        let mut tampered = particle.clone();
        tamper(&mut tampered);
        assert_eq!(
            tampered.verify(),
            Err(ParticleError::Signature {
                id: tampered.id.clone(),
                source: SignatureError::Invalid(key.peer_id().to_base58()),
            })
        );
    }
    // Only the init peer signs.
    let mut other = particle.clone();
    let err = other.sign(&KeyPair::from_seed(7, 1)).unwrap_err();
    assert!(err.to_string().contains("but its init peer is"), "{err}");
}

/// Whether fluence-keypair (ed25519-dalek's `verify`, as Fluence peers check particles) takes
/// `signature` by the raw Ed25519 key `public` over `message`.
fn fluence_accepts(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let mut encoded = vec![0u8]; // fluence-keypair's format byte for Ed25519
    encoded.extend_from_slice(public);
    let Ok(key) = fluence_keypair::PublicKey::decode(&encoded) else {
        return false;
    };
    let signature = fluence_keypair::Signature::from_bytes(
        fluence_keypair::KeyFormat::Ed25519,
        signature.to_vec(),
    );
    key.verify(message, &signature).is_ok()
}

/// The raw Ed25519 public key of `key`: its peer id inlines it after a 4-byte protobuf header.
fn public_key_of(key: &KeyPair) -> [u8; 32] {
    key.peer_id().as_ref().digest()[4..].try_into().unwrap()
}

/// The peer id of a raw Ed25519 key, if libp2p takes the key.
fn peer_of(public: &[u8; 32]) -> Option<PeerId> {
    let key = libp2p_identity::ed25519::PublicKey::try_from_bytes(public).ok()?;
    Some(libp2p_identity::PublicKey::from(key).to_peer_id())
}

#[test]
fn verification_agrees_with_fluence_keypair_on_edge_cases() {
    // The neutral point as the key (small order), and R = neutral, S = 0: the cofactorless
    // equation holds for every message.
    let mut neutral = [0u8; 32];
    neutral[0] = 1;
    let mut weak_signature = [0u8; 64];
    weak_signature[0] = 1;
    // The neutral point again, with y = p + 1 (a non-canonical encoding).
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xee;
    non_canonical[31] = 0x7f;
    // A real signature whose S has L added: the same point equation, but S is not reduced.
    let key = KeyPair::from_seed(3, 0);
    let public = public_key_of(&key);
    let good = key.sign(b"m");
    let mut unreduced = good.clone();
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (byte, l) in unreduced[32..].iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    let cases: [(&[u8; 32], &[u8], &[u8]); 6] = [
        (&neutral, b"m", &weak_signature),
        (&neutral, b"other", &weak_signature),
        (&non_canonical, b"m", &weak_signature),
        (&public, b"m", &good),
        (&public, b"m", &unreduced),
        (&public, b"m", &good[..63]),
    ];
    for (i, (public, message, signature)) in cases.into_iter().enumerate() {
        let theirs = fluence_accepts(public, message, signature);
        let ours =
            peer_of(public).is_some_and(|peer| identity::verify(&peer, message, signature).is_ok());
        assert_eq!(ours, theirs, "case {i}");
    }
    assert!(fluence_accepts(&public, b"m", &good));
    assert!(!fluence_accepts(&public, b"m", &unreduced));
}

#[test]
fn expiry() {
    let key = KeyPair::from_seed(1, 0);
    let particle = Particle::new("p".into(), &key, 10_000, 500, "(null)".into());
    assert!(!particle.is_expired(10_000));
    assert!(!particle.is_expired(10_500));
    assert!(particle.is_expired(10_501));
    let overflowing = Particle {
        timestamp: u64::MAX - 10,
        ..particle
    };
    assert_eq!(overflowing.deadline(), None);
    assert!(overflowing.is_expired(0));
}

#[test]
fn seeded_keys_are_stable_and_distinct() {
    assert_eq!(
        KeyPair::from_seed(0, 0).peer_id(),
        KeyPair::from_seed(0, 0).peer_id()
    );
    let ids: std::collections::BTreeSet<PeerId> = (0..4)
        .flat_map(|seed| (0..8).map(move |i| KeyPair::from_seed(seed, i).peer_id()))
        .collect();
    assert_eq!(ids.len(), 32);
}

#[test]
fn key_files() {
    let dir = std::env::temp_dir().join(format!("runtime-node-keys-{}", std::process::id()));
    let path = dir.join("nested/secret_key.ed25519");
    let (made, created) = KeyPair::load_or_generate(&path).unwrap();
    assert!(created);
    let (again, created) = KeyPair::load_or_generate(&path).unwrap();
    assert!(!created);
    assert_eq!(made.peer_id(), again.peer_id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the secret is readable by others");
    }
    // Keys written by Fluence peers (base64), in base58, and with the public key appended.
    let golden = golden_key();
    let cases = [
        SECRET.to_string(),
        format!("  {}\n", bs58::encode(golden.secret()).into_string()),
        {
            let mut pair = golden.secret().to_vec();
            let public = golden.peer_id();
            // The public key is the last 32 bytes of an Ed25519 peer id's multihash digest.
            pair.extend_from_slice(&public.as_ref().digest()[4..]);
            BASE64.encode(pair)
        },
    ];
    for text in cases {
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            KeyPair::load(&path).unwrap().peer_id(),
            golden.peer_id(),
            "{text}"
        );
    }
    std::fs::write(&path, "not a key!").unwrap();
    assert!(matches!(
        KeyPair::load(&path),
        Err(KeyError::Encoding { .. })
    ));
    std::fs::write(&path, BASE64.encode([1u8; 20])).unwrap();
    let err = KeyPair::load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a secret key has 32 bytes (or 64: the secret, then the public key), found 20"
    );
    let mut mismatched = golden.secret().to_vec();
    mismatched.extend_from_slice(&[0u8; 32]);
    std::fs::write(&path, BASE64.encode(mismatched)).unwrap();
    assert!(matches!(KeyPair::load(&path), Err(KeyError::Mismatch)));
    let missing = KeyPair::load(&dir.join("missing")).unwrap_err();
    assert!(
        missing.to_string().starts_with("cannot read the key file"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_frames_are_refused_with_a_reason() {
    let key = KeyPair::from_seed(3, 0);
    let message = Message::Particle(Particle::new("p".into(), &key, 1, 2, "(null)".into()));
    let frame = protocol::encode_frame(&message);
    let body = protocol::encode(&message);
    let prefix = frame.len() - body.len();
    assert_eq!(
        protocol::decode_frame(&frame[..frame.len() - 1], MAX_FRAME),
        Err(DecodeError::Truncated {
            expected: body.len(),
            available: body.len() - 1,
        })
    );
    assert_eq!(&frame[prefix..], &body[..]);
    assert_eq!(
        protocol::decode_frame(&[], MAX_FRAME),
        Err(DecodeError::IncompleteLength)
    );
    assert!(matches!(
        protocol::decode_frame(&frame, 10),
        Err(DecodeError::TooLarge { limit: 10, .. })
    ));
    // A length beyond any limit is refused before anything else is read.
    assert!(matches!(
        protocol::decode_frame(&[0xff, 0xff, 0xff, 0xff, 0x7f], MAX_FRAME),
        Err(DecodeError::TooLarge { .. })
    ));
    let mut json = vec![0x80, 0x04]; // multicodec 0x0200, JSON
    json.extend_from_slice(&body[2..]);
    assert_eq!(
        protocol::decode(&json, MAX_FRAME),
        Err(DecodeError::UnknownCodec(0x0200))
    );
    let mut garbage = body[..2].to_vec();
    garbage.extend_from_slice(b"\x81\xa6action\xa4Ping");
    let err = protocol::decode(&garbage, MAX_FRAME).unwrap_err();
    assert!(matches!(err, DecodeError::Malformed(_)), "{err}");
}

proptest! {
    #[test]
    fn messages_round_trip(
        id in ".{0,40}",
        seed in any::<u64>(),
        timestamp in any::<u64>(),
        ttl in any::<u32>(),
        script in ".{0,200}",
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let key = KeyPair::from_seed(seed, 0);
        let mut particle = Particle::new(id, &key, timestamp, ttl, script);
        particle.data = data;
        let message = Message::Particle(particle);
        let frame = protocol::encode_frame(&message);
        prop_assert_eq!(protocol::decode_frame(&frame, MAX_FRAME).unwrap(), (message, frame.len()));
    }

    #[test]
    fn signatures_agree_with_fluence_keypair(seed in any::<u64>(), message in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ours = KeyPair::from_seed(seed, 0);
        let theirs = fluence_keypair::KeyPair::from_secret_key(
            ours.secret().to_vec(),
            fluence_keypair::KeyFormat::Ed25519,
        )
        .unwrap();
        prop_assert_eq!(ours.peer_id().to_base58(), theirs.get_peer_id().to_base58());
        let signature = ours.sign(&message);
        let theirs_signature = theirs.sign(&message).unwrap();
        let expected = theirs_signature.to_vec().to_owned();
        prop_assert_eq!(&signature, &expected);
        prop_assert!(identity::verify(&ours.peer_id(), &message, &signature).is_ok());
    }

    #[test]
    fn verification_agrees_with_fluence_keypair(
        seed in any::<u64>(),
        message in proptest::collection::vec(any::<u8>(), 1..200),
        corruption in proptest::option::of((any::<bool>(), any::<usize>(), 0u8..8)),
    ) {
        let key = KeyPair::from_seed(seed, 0);
        let public = public_key_of(&key);
        let mut message = message;
        let mut signature = key.sign(&message);
        if let Some((in_signature, at, bit)) = corruption {
            let bytes = if in_signature { &mut signature } else { &mut message };
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
        }
        let ours = identity::verify(&key.peer_id(), &message, &signature).is_ok();
        prop_assert_eq!(ours, fluence_accepts(&public, &message, &signature));
        prop_assert_eq!(ours, corruption.is_none());
    }
}
