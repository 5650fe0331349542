//! Marine services on the embedded network, deployed and called through Aqua as a client of a
//! Fluence peer would: `dist` stores the real spell service's modules, `srv.create` makes a
//! service of their blueprint, particles call it, `stat` measures it, and a network started
//! again on the same directory has it back.

use std::time::Duration;

use aqua::project::MemoryFiles;
use base64::Engine as _;
use runtime_node::embedded::{Embedded, EmbeddedOptions};
use serde_json::{json, Value};

const DEPLOY: &str = r#"
aqua Deploy
export deploy, describe, set_script, get_script, missing, measure

import "@fluencelabs/aqua-lib/builtin.aqua"

-- Dist.add_module declares the module as bytes; peers read a base64 string.
func deploy(peer: string, sqlite: []u8, spell: []u8) -> string, string, []string:
  on peer:
    sqlite_config <- Dist.default_module_config("sqlite3")
    sqlite_hash <- Dist.add_module(sqlite, sqlite_config)
    spell_config <- Dist.make_module_config("spell", nil, nil, ?[true], nil, nil, nil, nil, nil)
    spell_hash <- Dist.add_module(spell, spell_config)
    document <- Dist.make_blueprint("spell", [sqlite_hash, spell_hash])
    blueprint <- Dist.add_blueprint(document)
    id <- Srv.create(blueprint)
    Srv.add_alias("kv", id)
  <- blueprint, id, [sqlite_hash, spell_hash]

func describe(peer: string, id: string, hash: string) -> Interface, Interface, []Service, []Module, []Blueprint:
  on peer:
    service <- Srv.get_interface(id)
    module <- Dist.get_module_interface(hash)
    services <- Srv.list()
    modules <- Dist.list_modules()
    blueprints <- Dist.list_blueprints()
  <- service, module, services, modules, blueprints

data UnitValue:
  success: bool
  error: string

data ScriptValue:
  value: string
  success: bool
  error: string

service Spell("kv"):
  set_script(script: string) -> UnitValue
  get_script() -> ScriptValue
  no_such_function() -> UnitValue

func set_script(peer: string, script: string) -> UnitValue:
  on peer:
    result <- Spell.set_script(script)
  <- result

func get_script(peer: string) -> ScriptValue:
  on peer:
    result <- Spell.get_script()
  <- result

func missing(peer: string) -> string:
  results: *string
  on peer:
    try:
      Spell.no_such_function()
      results <<- "called"
    catch e:
      results <<- e.message
  <- results!

func measure(peer: string) -> []MemoryStat, StatResult:
  on peer:
    memory <- Stat.service_memory("kv")
    stat <- Stat.service_stat("kv")
  <- memory, stat
"#;

/// The AIR of every exported function of [`DEPLOY`], by name.
fn compile() -> std::collections::HashMap<String, String> {
    let files: MemoryFiles = [("main.aqua", DEPLOY)].into_iter().collect();
    let compilation = aqua::compile::compile(
        &["main.aqua".into()],
        &files,
        &aqua::compile::Options::default(),
    );
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics());
    compilation
        .functions
        .iter()
        .map(|f| (f.name.clone(), f.air.clone().expect("compiles")))
        .collect()
}

async fn call(embedded: &Embedded, air: &str, arguments: Value) -> Value {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object");
    };
    embedded
        .client
        .call(
            air.to_owned(),
            arguments.into_iter().collect(),
            true,
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("the call fails: {e}"))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_deployed_called_measured_and_restored() {
    let air = compile();
    let data = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        peers: 2,
        data_dir: Some(data.path().to_owned()),
        console: std::sync::Arc::new(|_: &str| {}),
        ..EmbeddedOptions::default()
    };
    let embedded = Embedded::start(&options).unwrap();
    let peer = json!(embedded.peers[1].to_base58());

    let deployed = call(
        &embedded,
        &air["deploy"],
        json!({
            "peer": peer,
            "sqlite": base64(fluence_spell_distro::SQLITE_WASM),
            "spell": base64(fluence_spell_distro::SPELL_WASM),
        }),
    )
    .await;
    let [blueprint, id, hashes] =
        <[Value; 3]>::try_from(deployed.as_array().unwrap().clone()).expect("three results");
    // Both modules are larger than one 256 KiB chunk: their ids are DAG-PB nodes, as IPFS's
    // importer (`ipfs-unixfs-importer` 15, CIDv1, raw leaves) computes them for these files.
    assert_eq!(
        hashes,
        json!([
            "bafybeifxv46ki77vtgf3kfvxr6zwmmi4gaixzyr4vczyov6hozbyslkqaq",
            "bafybeiap6455wxt4dy3zeikbwsz4fwih2zhnudj57f2bpiih3tkb7ktsti",
        ])
    );
    assert!(
        blueprint.as_str().unwrap().starts_with("bafkrei"),
        "{blueprint}"
    );

    let described = call(
        &embedded,
        &air["describe"],
        json!({ "peer": peer, "id": id, "hash": hashes[1] }),
    )
    .await;
    let (service, module, services, modules, blueprints) = (
        &described[0],
        &described[1],
        &described[2],
        &described[3],
        &described[4],
    );
    assert_eq!(service, module, "a service offers its facade's interface");
    let set_script = service["function_signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "set_script")
        .expect("the spell has set_script");
    assert_eq!(set_script["arguments"], json!([["script", "string"]]));
    assert_eq!(set_script["output_types"], json!(["UnitValue"]));
    let unit = service["record_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "UnitValue")
        .expect("UnitValue is a record");
    assert_eq!(
        unit["fields"],
        json!([{"name": "success", "ty": "bool"}, {"name": "error", "ty": "string"}])
    );
    let listed = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .expect("srv.list shows the service");
    assert_eq!(listed["blueprint_id"], blueprint);
    assert_eq!(listed["aliases"], json!(["kv"]));
    assert_eq!(
        listed["owner_id"],
        json!(embedded.client.peer_id().to_base58())
    );
    let names: Vec<&Value> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["name"])
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&&json!("spell")) && names.contains(&&json!("sqlite3")));
    assert_eq!(blueprints[0]["dependencies"], hashes);

    // Calls reach the module with call parameters: only the service's creator may set the
    // script, and the client created it.
    let set = call(
        &embedded,
        &air["set_script"],
        json!({ "peer": peer, "script": "(null)" }),
    )
    .await;
    assert_eq!(set, json!({"success": true, "error": ""}));
    let got = call(&embedded, &air["get_script"], json!({ "peer": peer })).await;
    assert_eq!(got["value"], json!("(null)"), "{got}");
    let missing = call(&embedded, &air["missing"], json!({ "peer": peer })).await;
    assert!(
        missing.as_str().unwrap().contains("no_such_function"),
        "{missing}"
    );

    let measured = call(&embedded, &air["measure"], json!({ "peer": peer })).await;
    let memory = measured[0].as_array().unwrap();
    assert_eq!(memory.len(), 2);
    assert!(memory
        .iter()
        .all(|m| m["memory_size_bytes"].as_u64().unwrap() > 0));
    let stat = &measured[1];
    assert_eq!(stat["status"], json!(true), "{stat}");
    let total = &stat["result"][0]["total_stats"];
    assert_eq!(total["success_req_count"], json!(2), "{total}");
    assert_eq!(total["failed_req_count"], json!(1), "{total}");

    // The network again, on the same directory: the service, its alias and its data are back.
    drop(embedded);
    let embedded = Embedded::start(&options).unwrap();
    let got = call(&embedded, &air["get_script"], json!({ "peer": peer })).await;
    assert_eq!(got["value"], json!("(null)"), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_peer_and_its_manager_deploy() {
    let air = compile();
    let embedded = Embedded::start(&EmbeddedOptions {
        peers: 1,
        console: std::sync::Arc::new(|_: &str| {}),
        ..EmbeddedOptions::default()
    })
    .unwrap();
    // The client manages the embedded peers; a particle from any other peer is refused.
    let stranger = runtime_node::KeyPair::from_seed(99, 0);
    let client = runtime_node::client::Client::join(
        &embedded.network,
        runtime_node::network::PeerSetup::new(stranger),
        embedded.peers[0],
    );
    let Value::Object(arguments) = json!({
        "peer": embedded.peers[0].to_base58(),
        "sqlite": base64(b"\0asm\x01\0\0\0"),
        "spell": base64(b"\0asm\x01\0\0\0"),
    }) else {
        unreachable!()
    };
    let error = client
        .call(
            air["deploy"].clone(),
            arguments.into_iter().collect(),
            true,
            Duration::from_secs(10),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("only the peer and its management peer may store modules"),
        "{error}"
    );
}
