//! The real IPFS adapter of `aqua-ipfs-distro` (an effector module that runs the mounted `ipfs`
//! binary, and a pure facade), unmodified, with its own Config.toml pointed at a stub `ipfs`.
//! As on a node, the particle vault is mapped at `/tmp/vault`: files go in and out of IPFS
//! through it, named to the binary by their host paths.

#[path = "common/distro.rs"]
mod distro;

use std::os::unix::fs::PermissionsExt;

use distro::Deployed;
use marine::CallParameters;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The IPFS node's peer id that the stub reports.
const NODE: &str = "12D3KooWDbxHJHYxRM3Un3AVTHEwHm6MjnvAqjZTn7iwYmBrJqEg";

/// A stub `ipfs`: `id` answers as a node does (JSON with its peer id); a hash named `missing`
/// fails as a real lookup would; anything else is echoed, one argument a line.
const STUB: &str = r#"#!/bin/sh
case "$1" in
  id) printf '{"ID": "%s", "Addresses": []}\n' "$NODE" ;;
  *) for arg in "$@"; do
       if [ "$arg" = missing ]; then echo "Error: block not found" >&2; exit 1; fi
     done
     printf '%s\n' "$@" ;;
esac
"#;

/// A stub `ipfs` that is a content store in the directory `STORE`: `add -Q FILE ...` keeps the
/// file under its SHA-256 and prints that; `get -o OUT HASH ...` writes it back to `OUT`.
const STORE_STUB: &str = r#"#!/bin/sh
PATH=/usr/bin:/bin
case "$1" in
  add) hash=$(sha256sum "$3" | cut -d' ' -f1) && cp "$3" "STORE/$hash" && echo "$hash" ;;
  get) if [ -f "STORE/$4" ]; then cp "STORE/$4" "$3"
       else echo "Error: block not found" >&2; exit 1; fi ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

/// The service with `stub` as its `ipfs` binary, its store in `store/` and the vault in
/// `vault/` of the service's directory.
fn deploy(stub: &str) -> Deployed {
    let dir = tempfile::tempdir().unwrap();
    let (store, vault) = (dir.path().join("store"), dir.path().join("vault"));
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&vault).unwrap();
    let stub_path = dir.path().join("ipfs-stub");
    let stub = stub
        .replace("$NODE", NODE)
        .replace("STORE", store.to_str().unwrap());
    std::fs::write(&stub_path, stub).unwrap();
    std::fs::set_permissions(&stub_path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = std::str::from_utf8(aqua_ipfs_distro::CONFIG).unwrap();
    assert!(config.contains(r#"ipfs = "/usr/bin/ipfs""#), "{config}");
    let config = config.replace("/usr/bin/ipfs", stub_path.to_str().unwrap());
    distro::deploy(
        dir,
        &[
            ("ipfs_effector.wasm", aqua_ipfs_distro::IPFS_EFFECTOR),
            ("ipfs_pure.wasm", aqua_ipfs_distro::IPFS_FACADE),
            ("Config.toml", config.as_bytes()),
        ],
        &[("/tmp/vault", &vault)],
    )
}

/// A call from the service's creator.
fn by_owner() -> CallParameters {
    let mut parameters = CallParameters {
        service_id: "aqua-ipfs".into(),
        service_creator_peer_id: "owner".into(),
        host_id: "host".into(),
        worker_id: "host".into(),
        ..Default::default()
    };
    parameters.particle.id = "particle".into();
    parameters.particle.init_peer_id = "owner".into();
    parameters
}

#[test]
fn the_mounted_binary_answers_through_both_modules() {
    let ipfs = deploy(STUB);
    // Nothing runs before the node's API address is known.
    let unset = ipfs.call("cat", json!(["bafyhash"]), by_owner());
    assert_eq!(unset["success"], json!(false), "{unset}");

    let set = ipfs.call(
        "set_local_api_multiaddr",
        json!(["/ip4/127.0.0.1/tcp/5001"]),
        by_owner(),
    );
    assert_eq!(set["success"], json!(true), "{set}");
    assert!(
        ipfs.dir.path().join("tmp/multiaddr_config").exists(),
        "the facade keeps its settings in the service's /tmp"
    );
    let timeout = ipfs.call("set_timeout", json!([7]), by_owner());
    assert_eq!(timeout, json!(null));

    // The facade passes the hash and its settings to the effector, which runs the binary.
    let cat = ipfs.call("cat", json!(["bafyhash"]), by_owner());
    assert_eq!(cat["success"], json!(true), "{cat}");
    assert_eq!(
        cat["contents"],
        json!("cat\nbafyhash\n--timeout\n7s\n--api\n/ip4/127.0.0.1/tcp/5001\n")
    );

    // The binary's JSON answer is parsed by the effector and its peer id used by the facade.
    let external = ipfs.call(
        "set_external_api_multiaddr",
        json!(["/ip4/203.0.113.5/tcp/5001"]),
        by_owner(),
    );
    assert_eq!(external["success"], json!(true), "{external}");
    let got = ipfs.call("get_external_api_multiaddr", json!([]), by_owner());
    assert_eq!(
        got["multiaddr"],
        json!(format!("/ip4/203.0.113.5/tcp/5001/p2p/{NODE}"))
    );
}

#[test]
fn failures_of_the_binary_and_of_callers_are_reported() {
    let ipfs = deploy(STUB);
    let set = ipfs.call(
        "set_local_api_multiaddr",
        json!(["/ip4/127.0.0.1/tcp/5001"]),
        by_owner(),
    );
    assert_eq!(set["success"], json!(true), "{set}");

    let failed = ipfs.call("cat", json!(["missing"]), by_owner());
    assert_eq!(failed["success"], json!(false), "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("block not found"), "{error}");

    let mut stranger = by_owner();
    stranger.particle.init_peer_id = "stranger".into();
    let refused = ipfs.call(
        "set_local_api_multiaddr",
        json!(["/ip4/1.1.1.1/tcp/1"]),
        stranger,
    );
    assert_eq!(refused["success"], json!(false), "{refused}");
    let invalid = ipfs.call(
        "set_local_api_multiaddr",
        json!(["not an address"]),
        by_owner(),
    );
    assert_eq!(invalid["success"], json!(false), "{invalid}");
    let kept = ipfs.call("get_local_api_multiaddr", json!([]), by_owner());
    assert_eq!(kept["multiaddr"], json!("/ip4/127.0.0.1/tcp/5001"));
}

#[test]
fn files_go_through_the_particle_vault() {
    let ipfs = deploy(STORE_STUB);
    let set = ipfs.call(
        "set_local_api_multiaddr",
        json!(["/ip4/127.0.0.1/tcp/5001"]),
        by_owner(),
    );
    assert_eq!(set["success"], json!(true), "{set}");
    let mut call = by_owner();
    call.particle.token = "token".into();
    // The particle's own directory of the vault, as the facade names it.
    let particle_vault = ipfs.dir.path().join("vault/particle-token");
    std::fs::create_dir_all(&particle_vault).unwrap();
    let contents = "stored through the vault\n";
    std::fs::write(particle_vault.join("upload.txt"), contents).unwrap();

    let put = ipfs.call(
        "put",
        json!(["/tmp/vault/particle-token/upload.txt"]),
        call.clone(),
    );
    assert_eq!(put["success"], json!(true), "{put}");
    let hash = put["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash, format!("{:x}", Sha256::digest(contents)));

    let got = ipfs.call("get", json!([hash]), call.clone());
    assert_eq!(got["success"], json!(true), "{got}");
    assert_eq!(
        got["path"],
        json!(format!("/tmp/vault/particle-token/{hash}"))
    );
    let fetched = std::fs::read_to_string(particle_vault.join(&hash)).unwrap();
    assert_eq!(fetched, contents);

    // The effector looks for the file itself first, inside the module: what is neither in the
    // vault nor anywhere it maps does not exist there, whatever the host has.
    for missing in ["/tmp/vault/particle-token/nothing.txt", "/etc/passwd"] {
        let refused = ipfs.call("put", json!([missing]), call.clone());
        assert_eq!(refused["success"], json!(false), "{refused}");
        let error = refused["error"].as_str().unwrap();
        assert!(error.contains("doesn't exist"), "{error}");
    }
    let unknown = ipfs.call("get", json!(["0".repeat(64)]), call);
    assert_eq!(unknown["success"], json!(false), "{unknown}");
    let error = unknown["error"].as_str().unwrap();
    assert!(error.contains("block not found"), "{error}");
}
