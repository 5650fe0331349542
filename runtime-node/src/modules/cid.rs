//! Content ids of modules and blueprints, computed as Fluence peers compute them, so that a
//! module or blueprint has the same id here as on any Fluence peer.
//!
//! The scheme is IPFS's for a file added with `--cid-version 1 --raw-leaves`: the bytes are cut
//! into 256 KiB chunks; one chunk is its own id (CIDv1, codec `raw`, SHA-256); more chunks are
//! linked from one UnixFS `File` node in DAG-PB, whose id (codec `dag-pb`) is the file's. Fluence
//! peers always link every chunk from one node, where IPFS would start a second level past 174
//! chunks (44 MiB); modules are far smaller than that.

use cid::Cid;
use multihash::Multihash;
use sha2::{Digest, Sha256};

/// The chunk size of IPFS's default chunker.
const CHUNK_SIZE: usize = 256 * 1024;

/// Multicodec codes.
const RAW: u64 = 0x55;
const DAG_PB: u64 = 0x70;
const SHA2_256: u64 = 0x12;

/// UnixFS's data type of a file.
const UNIXFS_FILE: u64 = 2;

/// The content id of `bytes` as a file.
pub fn file_cid(bytes: &[u8]) -> Cid {
    if bytes.len() <= CHUNK_SIZE {
        return sha256_cid(RAW, bytes);
    }
    let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_SIZE).collect();
    let mut node = Vec::with_capacity(chunks.len() * 48 + 16);
    // DAG-PB writes the links (field 2) before the data (field 1).
    for chunk in &chunks {
        let mut link = Vec::with_capacity(48);
        bytes_field(&mut link, 1, &sha256_cid(RAW, chunk).to_bytes());
        // An empty name is written, as IPFS does: leaving it out changes the id.
        bytes_field(&mut link, 2, b"");
        varint_field(&mut link, 3, chunk.len() as u64);
        bytes_field(&mut node, 2, &link);
    }
    let mut unixfs = Vec::with_capacity(chunks.len() * 4 + 16);
    varint_field(&mut unixfs, 1, UNIXFS_FILE);
    varint_field(&mut unixfs, 3, bytes.len() as u64);
    for chunk in &chunks {
        varint_field(&mut unixfs, 4, chunk.len() as u64);
    }
    bytes_field(&mut node, 1, &unixfs);
    sha256_cid(DAG_PB, &node)
}

fn sha256_cid(codec: u64, bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    let hash = Multihash::wrap(SHA2_256, &digest).expect("a SHA-256 digest fits a multihash");
    Cid::new_v1(codec, hash)
}

/// Protobuf wire types.
const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;

fn varint(out: &mut Vec<u8>, value: u64) {
    let mut buffer = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(value, &mut buffer));
}

fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    varint(out, field << 3 | VARINT);
    varint(out, value);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, value: &[u8]) {
    varint(out, field << 3 | LENGTH_DELIMITED);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_one_raw_block() {
        // The id of the empty file, as `ipfs add --cid-version 1 --raw-leaves` gives it.
        assert_eq!(
            file_cid(b"").to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(file_cid(&[7; CHUNK_SIZE]).codec(), RAW);
    }

    #[test]
    fn large_files_are_a_dag_pb_node() {
        let one_more = vec![7; CHUNK_SIZE + 1];
        let cid = file_cid(&one_more);
        assert_eq!(cid.codec(), DAG_PB);
        assert_ne!(cid, file_cid(&one_more[1..]));
    }
}
