// Deterministic peer identities, derived the way runtime-node's `KeyPair::from_seed` derives
// them, so that the reference network and `aquac run` give the same peer ids for a seed.
//
// Peer ids are computed here with node's own crypto, independently of js-client: the ephemeral
// network refuses a peer whose given id does not match its secret key, so every run cross-checks
// this derivation against libp2p's.

import { createHash, createPrivateKey, createPublicKey } from "node:crypto";

/** The key index of the client; peers are 0, 1, 2, ... */
export const CLIENT_INDEX = 0xffff_ffff;

const U64_MAX = (1n << 64n) - 1n;

/**
 * The 32-byte Ed25519 secret key of peer `index` for `seed`:
 * sha256("aqua peer key" || seed as u64 LE || index as u32 LE).
 */
export function secretKey(seed, index) {
  if (typeof seed !== "bigint" || seed < 0n || seed > U64_MAX) {
    throw new RangeError(`a seed is an unsigned 64-bit integer, got ${seed}`);
  }
  if (!Number.isInteger(index) || index < 0 || index > CLIENT_INDEX) {
    throw new RangeError(`a key index is an unsigned 32-bit integer, got ${index}`);
  }
  const seedBytes = Buffer.alloc(8);
  seedBytes.writeBigUInt64LE(seed);
  const indexBytes = Buffer.alloc(4);
  indexBytes.writeUInt32LE(index);
  return createHash("sha256")
    .update("aqua peer key")
    .update(seedBytes)
    .update(indexBytes)
    .digest();
}

// Node reads raw Ed25519 secret keys only wrapped in PKCS#8; this is the fixed DER header that
// precedes the 32 key bytes.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The 32-byte Ed25519 public key of a 32-byte secret key. */
export function publicKey(secret) {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, secret]),
    format: "der",
    type: "pkcs8",
  });
  // An SPKI document of an Ed25519 key ends with the 32 raw key bytes.
  return createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(-32);
}

/**
 * The libp2p peer id (base58) of an Ed25519 public key: the protobuf `PublicKey { Type: Ed25519,
 * Data: key }` is short enough to be inlined in an identity multihash (code 0).
 */
export function peerIdOf(publicKeyBytes) {
  const protobuf = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 0x20]), publicKeyBytes]);
  const multihash = Buffer.concat([Buffer.from([0x00, protobuf.length]), protobuf]);
  return base58(multihash);
}

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Bitcoin-alphabet base58, as libp2p writes peer ids. */
function base58(bytes) {
  let n = BigInt("0x" + (Buffer.from(bytes).toString("hex") || "0"));
  let text = "";
  while (n > 0n) {
    text = BASE58_ALPHABET[Number(n % 58n)] + text;
    n /= 58n;
  }
  // Each leading zero byte is written as a leading "1".
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = "1" + text;
  }
  return text;
}

/** Secret key (base64, as js-client takes it) and peer id of key `index` for `seed`. */
export function identity(seed, index) {
  const secret = secretKey(seed, index);
  return { sk: secret.toString("base64"), peerId: peerIdOf(publicKey(secret)) };
}
