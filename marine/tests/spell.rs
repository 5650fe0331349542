//! The real spell service of `fluence-spell-distro` (spell + sqlite3, built by Fluence with
//! the Marine SDK), unmodified, with its own Config.toml.

#[path = "common/distro.rs"]
mod distro;

use distro::{deploy, Deployed};
use marine::CallParameters;
use serde_json::json;

fn start(dir: tempfile::TempDir) -> Deployed {
    deploy(
        dir,
        &[
            ("spell.wasm", fluence_spell_distro::SPELL_WASM),
            ("sqlite3.wasm", fluence_spell_distro::SQLITE_WASM),
            ("Config.toml", fluence_spell_distro::CONFIG),
        ],
        &[],
    )
}

/// A call made by the spell itself: its particle id names the spell and it was started by the
/// spell's creator.
fn by_spell() -> CallParameters {
    let mut parameters = CallParameters {
        service_id: "spell-1".into(),
        service_creator_peer_id: "worker".into(),
        host_id: "host".into(),
        worker_id: "worker".into(),
        ..Default::default()
    };
    parameters.particle.id = "spell_spell-1_0".into();
    parameters.particle.init_peer_id = "worker".into();
    parameters
}

fn by_host() -> CallParameters {
    let mut parameters = by_spell();
    parameters.particle.id = "some-particle".into();
    parameters.particle.init_peer_id = "host".into();
    parameters
}

#[test]
fn key_value_round_trips_and_access_rules() {
    let spell = start(tempfile::tempdir().unwrap());
    let set = spell.call("set_string", json!(["counter", "1"]), by_spell());
    assert_eq!(set["success"], json!(true), "{set}");
    let got = spell.call("get_string", json!(["counter"]), by_host());
    assert_eq!(got["value"], json!("1"));
    assert_eq!(got["absent"], json!(false));

    // Keys without a prefix belong to the spell alone; `h_` keys to the host.
    let refused = spell.call("set_string", json!(["counter", "2"]), by_host());
    assert_eq!(refused["success"], json!(false));
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.contains("forbidden for the callers with the role Host"),
        "{message}"
    );
    let host_key = spell.call("set_u32", json!(["h_visits", 7]), by_host());
    assert_eq!(host_key["success"], json!(true), "{host_key}");
    assert_eq!(
        spell.call("get_u32", json!(["h_visits"]), by_host())["value"],
        json!(7)
    );

    let absent = spell.call("get_string", json!(["nothing"]), by_host());
    assert_eq!(absent["absent"], json!(true));
}

#[test]
fn lists_and_trigger_config() {
    let spell = start(tempfile::tempdir().unwrap());
    for item in ["a", "b", "c"] {
        let pushed = spell.call("list_push_string", json!(["queue", item]), by_spell());
        assert_eq!(pushed["success"], json!(true), "{pushed}");
    }
    let list = spell.call("list_get_strings", json!(["queue"]), by_host());
    assert_eq!(list["value"], json!(["a", "b", "c"]));
    let popped = spell.call("list_pop_string", json!(["queue"]), by_spell());
    assert_eq!(popped["value"], json!("c"));

    let config = json!({
        "clock": {"start_sec": 100, "end_sec": 200, "period_sec": 10},
        "connections": {"connect": true, "disconnect": false},
        "blockchain": {"start_block": 0, "end_block": 0}
    });
    let set = spell.call("set_trigger_config", json!([config.clone()]), by_spell());
    assert_eq!(set["success"], json!(true), "{set}");
    let got = spell.call("get_trigger_config", json!([]), by_host());
    assert_eq!(got["config"], config);
}

#[test]
fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let spell = start(dir);
    spell.call("set_string", json!(["kept", "yes"]), by_spell());
    let Deployed { dir, service } = spell;
    drop(service);
    assert!(
        path.join("spell.sqlite").exists(),
        "the database is a file in the mapped dir"
    );

    let spell = start(dir);
    assert_eq!(
        spell.call("get_string", json!(["kept"]), by_host())["value"],
        json!("yes")
    );
}
