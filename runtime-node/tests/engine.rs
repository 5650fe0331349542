//! The particle engine on the embedded network, driven by compiled Aqua.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aqua::project::MemoryFiles;
use runtime_node::client::{CallError, Client};
use runtime_node::network::{LocalNetwork, PeerSetup};
use runtime_node::service::{FnService, Outcome, Reply};
use runtime_node::{KeyPair, PeerId};
use serde_json::{json, Value};

/// The AIR of the exported function `name` of `source`.
fn compile(source: &str, name: &str) -> String {
    let files: MemoryFiles = [("main.aqua", source)].into_iter().collect();
    let compilation = aqua::compile::compile(
        &["main.aqua".into()],
        &files,
        &aqua::compile::Options::default(),
    );
    let errors: Vec<_> = compilation.diagnostics();
    assert!(!compilation.has_errors(), "{errors:?}");
    let function = compilation
        .functions
        .iter()
        .find(|f| f.name == name)
        .expect("the function is exported");
    function.air.clone().expect("the function compiles")
}

struct Net {
    network: LocalNetwork,
    servers: Vec<PeerId>,
    client: Client,
}

/// `n` servers, each serving `greeting.hello(name)` as "Hi, <name> from <index>", and a
/// client on server 0.
fn network(n: u32) -> Net {
    let network = LocalNetwork::new();
    let mut servers = Vec::new();
    for index in 0..n {
        let setup = PeerSetup::new(KeyPair::from_seed(7, index));
        let peer = network.add_server(setup);
        let service = FnService(move |call: runtime_node::service::Call, _: &_| {
            let name = call.arguments.first().cloned().unwrap_or(Value::Null);
            let name = name.as_str().unwrap_or("?").to_owned();
            Reply::Ready(Outcome::Value(json!(format!("Hi, {name} from {index}"))))
        });
        peer.services()
            .register("greeting", Arc::new(service), peer.peer_id())
            .unwrap();
        servers.push(peer.peer_id());
    }
    let client = Client::join(
        &network,
        PeerSetup::new(KeyPair::from_seed(7, u32::MAX)),
        servers[0],
    );
    Net {
        network,
        servers,
        client,
    }
}

const GREET: &str = r#"
aqua Main
export greetAll

service Greeting("greeting"):
  hello(name: string) -> string

func greetAll(peers: []string, name: string) -> []string:
  answers: *string
  for p <- peers:
    on p:
      answers <- Greeting.hello(name)
  <- answers
"#;

fn args(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_visits_every_peer_and_returns() {
    let net = network(3);
    let peers: Vec<String> = net.servers.iter().map(|p| p.to_base58()).collect();
    let result = net
        .client
        .call(
            compile(GREET, "greetAll"),
            args(&[("peers", json!(peers)), ("name", json!("Ann"))]),
            true,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        result,
        json!(["Hi, Ann from 0", "Hi, Ann from 1", "Hi, Ann from 2"])
    );
    let _ = net.network;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_is_an_aqua_error_naming_it() {
    let net = network(2);
    let source = r#"
aqua Main
export f

service Missing("missing"):
  get() -> string

func f() -> string:
  on HOST_PEER_ID:
    x <- Missing.get()
  <- x
"#;
    let error = net
        .client
        .call(
            compile(source, "f"),
            HashMap::new(),
            true,
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
    let CallError::Aqua(value) = &error else {
        panic!("{error:?}")
    };
    let message = error.to_string();
    assert!(
        message.contains("Service with id 'missing' not found (function get)"),
        "{message}"
    );
    assert_eq!(value["peer_id"], json!(net.servers[0].to_base58()));
}

const RACE: &str = r#"
aqua Race
export race

import "@fluencelabs/aqua-lib/builtin.aqua"

func race(p: string) -> string:
  answers: *string
  on p:
    answers <- Op.concat_strings("answer from ", p)
  par answers <- Peer.timeout(300, "too slow")
  <- answers!
"#;

/// A stopped peer never answers: the `Peer.timeout` branch of the race wins; a running one
/// wins against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_peer_loses_a_race_against_peer_timeout() {
    use runtime_node::embedded::{Embedded, EmbeddedOptions};
    let embedded = Embedded::start(&EmbeddedOptions::default()).unwrap();
    let air = compile(RACE, "race");
    let race = |peer: PeerId| {
        let air = air.clone();
        let client = embedded.client.clone();
        async move {
            client
                .call(
                    air,
                    args(&[("p", json!(peer.to_base58()))]),
                    true,
                    Duration::from_secs(5),
                )
                .await
                .unwrap()
        }
    };
    let running = embedded.peers[1];
    assert_eq!(
        race(running).await,
        json!(format!("answer from {}", running.to_base58()))
    );
    let stopped = embedded.peers[2];
    embedded.network.stop(stopped);
    assert_eq!(race(stopped).await, json!("too slow"));
    embedded.network.restart(stopped);
    assert_eq!(
        race(stopped).await,
        json!(format!("answer from {}", stopped.to_base58()))
    );
}

/// A link slower than the race's timeout loses it; the particle still arrives late, and a
/// dropped link loses the answer altogether.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_and_dropped_links_lose_races() {
    use runtime_node::embedded::{Embedded, EmbeddedOptions};
    let embedded = Embedded::start(&EmbeddedOptions::default()).unwrap();
    let air = compile(RACE, "race");
    let (relay, peer) = (embedded.peers[0], embedded.peers[1]);
    let call = || {
        embedded.client.call(
            air.clone(),
            args(&[("p", json!(peer.to_base58()))]),
            true,
            Duration::from_secs(5),
        )
    };
    embedded
        .network
        .delay_link(relay, peer, Duration::from_millis(600));
    assert_eq!(call().await.unwrap(), json!("too slow"));
    embedded.network.heal_link(relay, peer);
    embedded.network.drop_link(peer, relay);
    assert_eq!(call().await.unwrap(), json!("too slow"));
    embedded.network.heal_link(peer, relay);
    assert_eq!(
        call().await.unwrap(),
        json!(format!("answer from {}", peer.to_base58()))
    );
}

const CALLBACK: &str = r#"
aqua Callback
export ask

service Store("store"):
  get(key: string) -> string

func ask(key: string, show: string -> string) -> string, []string:
  values: *string
  errors: *string
  on HOST_PEER_ID:
    try:
      values <- Store.get(key)
    catch e:
      values <<- "missing"
      errors <<- e.message
  shown <- show(values!)
  <- shown, errors
"#;

/// Host services registered on an embedded peer answer the script, with their own error
/// codes; the client's callbacks answer its arrow arguments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_services_and_callbacks_answer_a_function() {
    use runtime_node::client::FunctionCall;
    use runtime_node::embedded::{Embedded, EmbeddedOptions, RegisterError};
    use runtime_node::service::Service;
    let embedded = Embedded::start(&EmbeddedOptions::default()).unwrap();
    let store = FnService(|call: runtime_node::service::Call, _: &_| {
        match call.arguments.first().and_then(Value::as_str) {
            Some("k") => Reply::Ready(Outcome::Value(json!("value of k"))),
            _ => Reply::Ready(Outcome::Fail(7, json!("no such key"))),
        }
    });
    let relay = embedded.peers[0];
    embedded
        .register_service(&relay, "store", Arc::new(store))
        .unwrap();
    let elsewhere = KeyPair::from_seed(99, 0).peer_id();
    let refused = embedded.register_service(
        &elsewhere,
        "store",
        Arc::new(FnService(|_, _: &_| Reply::Ready(Outcome::Empty))),
    );
    assert_eq!(refused, Err(RegisterError::UnknownPeer(elsewhere)));
    let show: Arc<dyn Service> = Arc::new(FnService(|call: runtime_node::service::Call, _: &_| {
        Reply::Ready(Outcome::Value(json!(format!(
            "shown: {}",
            call.arguments[0]
        ))))
    }));
    let air = compile(CALLBACK, "ask");
    let ask = |key: &str| FunctionCall {
        script: air.clone(),
        arguments: args(&[("key", json!(key))]),
        callbacks: HashMap::from([("show".to_owned(), show.clone())]),
        returns: true,
        ttl: Duration::from_secs(5),
    };
    let found = embedded.client.call_function(ask("k")).await.unwrap();
    assert_eq!(found, json!(["shown: \"value of k\"", []]));
    let missing = embedded.client.call_function(ask("x")).await.unwrap();
    let failure = "Local service error, ret_code is 7, error message is '\"no such key\"'";
    assert_eq!(missing, json!(["shown: \"missing\"", [failure]]));
}
