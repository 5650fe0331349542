//! Readable rendering of particle data.
//!
//! Data is decoded with the reference's own reader (`to_human_readable_data`), so any
//! engine's data can be shown the same way, provided the reference can read it; hence this
//! module needs the `reference` feature. Each trace
//! state becomes one line with its CIDs resolved to the values, tetraplets and canon
//! elements they name. CIDs themselves are not shown: a digest of the whole data (trace,
//! CID stores, signatures and last call id as canonical JSON, SHA-256) stands for them, so a
//! difference in hashing or signing still shows up as a changed digest line. The data and
//! interpreter versions are left out.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::engine::Tetraplet;
use crate::peers::Peers;

/// The parts of decoded data that matter: everything but the version fields.
fn content(data: &Value) -> Value {
    serde_json::json!({
        "trace": data["trace"],
        "cid_info": data["cid_info"],
        "signatures": data["signatures"],
        "lcid": data["lcid"],
    })
}

/// Renders particle data as lines, peer ids left as they are.
pub fn render_data(data: &[u8], peers: &Peers) -> Vec<String> {
    if data.is_empty() {
        return vec!["(empty data)".to_owned()];
    }
    let json = match reference_air::to_human_readable_data(data.to_vec()) {
        Ok(json) => json,
        Err(e) => return vec![format!("(data the reference cannot read: {e})")],
    };
    let json: Value = serde_json::from_str(&json).expect("the reference writes JSON");
    let data = &json["data"];
    let stores = Stores(&data["cid_info"]);
    let mut lines = Vec::new();
    let trace = data["trace"].as_array().cloned().unwrap_or_default();
    for (pos, state) in trace.iter().enumerate() {
        lines.push(format!("{pos}: {}", stores.state(state)));
    }
    let mut signers: Vec<String> = data["signatures"]
        .as_object()
        .map(|signatures| {
            signatures
                .keys()
                .map(|key| match peers.by_public_key(key) {
                    Some(peer) => format!("@{}", peer.name),
                    None => key.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    signers.sort();
    lines.push(format!(
        "last call id {}, signed by [{}]",
        data["lcid"],
        signers.join(" ")
    ));
    let digest = Sha256::digest(canonical(&content(data)));
    let digest: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    lines.push(format!("digest {digest}"));
    lines
}

/// The CID stores of one data, for resolving CIDs.
struct Stores<'a>(&'a Value);

impl Stores<'_> {
    fn get(&self, store: &str, cid: &Value) -> Option<&Value> {
        self.0[store].get(cid.as_str()?)
    }

    /// A value from the value store, as compact JSON text.
    fn value(&self, cid: &Value) -> String {
        match self.get("value_store", cid).and_then(Value::as_str) {
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => canonical(&value),
                Err(_) => text.to_owned(),
            },
            None => format!("<missing value {cid}>"),
        }
    }

    fn tetraplet(&self, cid: &Value) -> String {
        match self.get("tetraplet_store", cid) {
            Some(t) => tetraplet(t),
            None => format!("<missing tetraplet {cid}>"),
        }
    }

    fn service_result(&self, cid: &Value) -> String {
        match self.get("service_result_store", cid) {
            Some(result) => format!(
                "{} from {}",
                self.value(&result["value_cid"]),
                self.tetraplet(&result["tetraplet_cid"])
            ),
            None => format!("<missing service result {cid}>"),
        }
    }

    fn canon_element(&self, cid: &Value) -> String {
        let Some(element) = self.get("canon_element_store", cid) else {
            return format!("<missing canon element {cid}>");
        };
        let provenance = match element["provenance"]["type"].as_str() {
            Some("service_result") => "call".to_owned(),
            Some(other) => other.to_owned(),
            None => canonical(&element["provenance"]),
        };
        format!(
            "{} from {} via {provenance}",
            self.value(&element["value"]),
            self.tetraplet(&element["tetraplet"])
        )
    }

    fn state(&self, state: &Value) -> String {
        let Some((kind, body)) = state.as_object().and_then(|o| o.iter().next()) else {
            return canonical(state);
        };
        match (kind.as_str(), body) {
            ("par", Value::Array(sizes)) if sizes.len() == 2 => {
                format!("par {} {}", sizes[0], sizes[1])
            }
            ("call", Value::Object(call)) => match call.iter().next() {
                Some((status, value)) => self.call(status, value),
                None => canonical(state),
            },
            ("fold", fold) => {
                let lore = fold["lore"].as_array().cloned().unwrap_or_default();
                let iterations: Vec<String> = lore
                    .iter()
                    .map(|iteration| {
                        let descs: Vec<String> = iteration["desc"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|d| format!("{}+{}", d["pos"], d["len"]))
                            .collect();
                        format!("value@{} [{}]", iteration["pos"], descs.join(" "))
                    })
                    .collect();
                format!("fold {}", iterations.join(", "))
            }
            ("ap", ap) => format!("ap gens {}", canonical(&ap["gens"])),
            ("canon", Value::Object(canon)) => match canon.iter().next() {
                Some((status, value)) if status == "sent_by" => {
                    format!("canon sent by {}", value.as_str().unwrap_or_default())
                }
                Some((status, cid)) if status == "executed" => {
                    match self.get("canon_result_store", cid) {
                        Some(result) => {
                            let elements: Vec<String> = result["values"]
                                .as_array()
                                .cloned()
                                .unwrap_or_default()
                                .iter()
                                .map(|element| self.canon_element(element))
                                .collect();
                            format!(
                                "canon at {} [{}]",
                                self.tetraplet(&result["tetraplet"]),
                                elements.join(", ")
                            )
                        }
                        None => format!("canon <missing canon result {cid}>"),
                    }
                }
                _ => canonical(state),
            },
            _ => canonical(state),
        }
    }

    fn call(&self, status: &str, value: &Value) -> String {
        match status {
            "sent_by" => match value.as_object().and_then(|o| o.iter().next()) {
                Some((_, Value::String(peer))) => format!("call sent by {peer}"),
                Some((_, Value::Object(with_id))) => format!(
                    "call sent by {} with call id {}",
                    with_id["peer_id"].as_str().unwrap_or_default(),
                    with_id["call_id"]
                ),
                _ => format!("call sent by {}", canonical(value)),
            },
            "executed" => match value.as_object().and_then(|o| o.iter().next()) {
                Some((kind, cid)) if kind == "scalar" => {
                    format!("call scalar {}", self.service_result(cid))
                }
                Some((kind, stream)) if kind == "stream" => format!(
                    "call stream gen {} {}",
                    stream["generation"],
                    self.service_result(&stream["cid"])
                ),
                // The value of an unused result is not stored; the digest covers its CID.
                Some((kind, _)) if kind == "unused" => "call unused".to_owned(),
                _ => format!("call executed {}", canonical(value)),
            },
            "failed" => format!("call failed {}", self.service_result(value)),
            _ => format!("call {status} {}", canonical(value)),
        }
    }
}

fn tetraplet(t: &Value) -> String {
    let field = |name: &str| t[name].as_str().unwrap_or_default().to_owned();
    crate::report::tetraplet(&Tetraplet {
        peer_pk: field("peer_pk"),
        service_id: field("service_id"),
        function_name: field("function_name"),
        lens: field("lens"),
    })
}
