//! Blueprints: a name and the modules a service is made of, the facade last.
//!
//! Clients send a blueprint as a DAG-JSON document, `{"dependencies":[{"/":"<cid>"},...],
//! "name":"<name>"}`, and its id is the content id of exactly those bytes; since DAG-JSON has
//! one canonical form (keys sorted, no spaces), the same blueprint has the same id on every
//! peer.

use cid::Cid;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::cid::file_cid;

/// A stored blueprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blueprint {
    pub id: String,
    pub name: String,
    /// Module ids (CIDs) in load order; the last is the facade.
    pub dependencies: Vec<String>,
}

/// Why a blueprint document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlueprintError {
    #[error("the blueprint is not JSON: {0}")]
    NotJson(String),
    #[error("the blueprint's `{0}` field is missing")]
    Missing(&'static str),
    #[error("the blueprint's `name` is not a string")]
    NameNotString,
    #[error("the blueprint's `dependencies` is not a list")]
    DependenciesNotList,
    #[error("dependency {index} of the blueprint is not a link `{{\"/\": \"<cid>\"}}`")]
    NotLink { index: usize },
    #[error("dependency {index} of the blueprint, `{text}`, is not a CID: {reason}")]
    BadCid {
        index: usize,
        text: String,
        reason: String,
    },
    #[error("the blueprint `{0}` lists no modules")]
    NoModules(String),
}

impl Blueprint {
    /// The blueprint of `name` and `dependencies`, with its id.
    pub fn new(name: String, dependencies: Vec<Cid>) -> Blueprint {
        let id = file_cid(document(&name, &dependencies).as_bytes()).to_string();
        Blueprint {
            id,
            name,
            dependencies: dependencies.iter().map(Cid::to_string).collect(),
        }
    }

    /// Reads a blueprint document; the id comes from its canonical form, so documents that
    /// differ only in spacing or key order name the same blueprint.
    pub fn from_document(text: &str) -> Result<Blueprint, BlueprintError> {
        let (name, dependencies) = parse_document(text)?;
        if dependencies.is_empty() {
            return Err(BlueprintError::NoModules(name));
        }
        Ok(Blueprint::new(name, dependencies))
    }

    /// The facade module's id.
    pub fn facade(&self) -> Option<&str> {
        self.dependencies.last().map(String::as_str)
    }
}

/// The canonical document of a blueprint.
pub fn document(name: &str, dependencies: &[Cid]) -> String {
    let links: Vec<Value> = dependencies
        .iter()
        .map(|cid| json!({ "/": cid.to_string() }))
        .collect();
    // serde_json keeps object keys sorted, which is DAG-JSON's order, and writes no spaces.
    json!({ "dependencies": links, "name": name }).to_string()
}

/// The name and module ids of a blueprint document.
pub fn parse_document(text: &str) -> Result<(String, Vec<Cid>), BlueprintError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| BlueprintError::NotJson(e.to_string()))?;
    let name = match value.get("name") {
        None => return Err(BlueprintError::Missing("name")),
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(BlueprintError::NameNotString),
    };
    let links = match value.get("dependencies") {
        None => return Err(BlueprintError::Missing("dependencies")),
        Some(Value::Array(links)) => links,
        Some(_) => return Err(BlueprintError::DependenciesNotList),
    };
    let dependencies = links
        .iter()
        .enumerate()
        .map(|(index, link)| {
            let text = link
                .as_object()
                .filter(|link| link.len() == 1)
                .and_then(|link| link.get("/"))
                .and_then(Value::as_str)
                .ok_or(BlueprintError::NotLink { index })?;
            parse_cid(text).map_err(|reason| BlueprintError::BadCid {
                index,
                text: text.to_owned(),
                reason,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((name, dependencies))
}

/// A CID from its text.
pub fn parse_cid(text: &str) -> Result<Cid, String> {
    text.parse::<Cid>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_reference_peers() {
        // A blueprint and its id as a Fluence peer computes them.
        let dependencies = [
            "bafybeiey4i2vtj7uu7tlvdoc2o52uuuwxa4ahcx5g4lpqzk4qtd5klniuq",
            "bafybeibuvzascfzi5ikyzhjxdkridgytg4z26ujtnx7xrejq7gxq54ssdm",
        ]
        .map(|text| parse_cid(text).unwrap());
        let blueprint = Blueprint::new("trust-graph".into(), dependencies.to_vec());
        assert_eq!(
            blueprint.id,
            "bafkreifdehdwcppttfsqaju4kodgn5wgbefrarbzc72k4sore2bwpeq2fa"
        );
        let spaced = document("trust-graph", &dependencies).replace(',', " ,\n ");
        assert_eq!(Blueprint::from_document(&spaced).unwrap(), blueprint);
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        let error = |text: &str| Blueprint::from_document(text).unwrap_err().to_string();
        assert_eq!(
            error("{"),
            "the blueprint is not JSON: EOF while parsing an object at line 1 column 1"
        );
        assert_eq!(
            error(r#"{"name":"x"}"#),
            "the blueprint's `dependencies` field is missing"
        );
        assert_eq!(
            error(r#"{"name":"x","dependencies":["bafk"]}"#),
            "dependency 0 of the blueprint is not a link `{\"/\": \"<cid>\"}`"
        );
        assert!(error(r#"{"name":"x","dependencies":[{"/":"nope"}]}"#)
            .starts_with("dependency 0 of the blueprint, `nope`, is not a CID"));
        assert_eq!(
            error(r#"{"name":"x","dependencies":[]}"#),
            "the blueprint `x` lists no modules"
        );
    }
}
