//! The real IPFS adapter of `aqua-ipfs-distro` (an effector module that runs the mounted `ipfs`
//! binary, and a pure facade), unmodified, with its own Config.toml pointed at a stub `ipfs`.

#[path = "common/distro.rs"]
mod distro;

use std::os::unix::fs::PermissionsExt;

use distro::Deployed;
use marine::CallParameters;
use serde_json::json;

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

fn deploy() -> Deployed {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("ipfs-stub");
    std::fs::write(&stub, STUB.replace("$NODE", NODE)).unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = std::str::from_utf8(aqua_ipfs_distro::CONFIG).unwrap();
    assert!(config.contains(r#"ipfs = "/usr/bin/ipfs""#), "{config}");
    let config = config.replace("/usr/bin/ipfs", stub.to_str().unwrap());
    distro::deploy(
        dir,
        &[
            ("ipfs_effector.wasm", aqua_ipfs_distro::IPFS_EFFECTOR),
            ("ipfs_pure.wasm", aqua_ipfs_distro::IPFS_FACADE),
            ("Config.toml", config.as_bytes()),
        ],
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
    let ipfs = deploy();
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
    let ipfs = deploy();
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
