//! The interface of a compiled module for its clients: the types of its exported functions
//! and services, as the JSON definitions that the Fluence JS client (`@fluencelabs/js-client`,
//! its `callFunction` and `registerService`) reads to convert arguments and results.
//!
//! The JSON has the shape the reference compiler writes into its JS/TS output and returns
//! from `@fluencelabs/aqua-api`: each type is an object with a `tag` (`scalar`, `array`,
//! `option`, `struct`, `labeledProduct`, `unlabeledProduct`, `arrow`, `nil`, `topType`,
//! `bottomType`) and the fields of that kind. Parameter lists keep their order (the client
//! matches arguments by position); struct fields and service methods are sorted by name, as
//! the reference sorts them.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::sema::hir::FuncId;
use crate::sema::types::{ArrowType, NumberLiteral, Type};
use crate::sema::{Def, ModuleScope, Program};

/// A type, as the client sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeDef {
    /// A scalar by name (`u8`, `string`, ...).
    Scalar(&'static str),
    /// Arrays and streams: the client passes and receives both as arrays.
    Array(Box<TypeDef>),
    Option(Box<TypeDef>),
    /// Structs, and abilities: fields sorted by name.
    Struct {
        name: String,
        fields: Vec<(String, TypeDef)>,
    },
    /// Named parameters, in order.
    LabeledProduct(Vec<(String, TypeDef)>),
    /// Unnamed parameters or results, in order.
    UnlabeledProduct(Vec<TypeDef>),
    /// A function: its domain and codomain are products or `Nil`.
    Arrow {
        domain: Box<TypeDef>,
        codomain: Box<TypeDef>,
    },
    /// No parameters or no results.
    Nil,
    Top,
    Bottom,
}

impl TypeDef {
    /// The definition of a checked type.
    pub fn of(ty: &Type) -> TypeDef {
        match ty {
            Type::Scalar(s) => TypeDef::Scalar(s.name()),
            // Declared types never hold literal types; they are named as the reference
            // names them, for completeness.
            Type::NumberLiteral(NumberLiteral::Unsigned) => TypeDef::Scalar("unsigned"),
            Type::NumberLiteral(NumberLiteral::Signed) => TypeDef::Scalar("signed"),
            Type::NumberLiteral(NumberLiteral::Float) => TypeDef::Scalar("float"),
            // An error type exists only in programs with errors, which give no interface.
            Type::Top | Type::Error => TypeDef::Top,
            Type::Bottom => TypeDef::Bottom,
            Type::Array(t) | Type::Stream(t) | Type::StreamMap(t) => {
                TypeDef::Array(Box::new(TypeDef::of(t)))
            }
            Type::Option(t) => TypeDef::Option(Box::new(TypeDef::of(t))),
            Type::Struct(s) => struct_def(&s.name, &s.fields),
            Type::Ability(a) => struct_def(&a.name, &a.fields),
            Type::Arrow(a) => TypeDef::arrow(a),
        }
    }

    /// The definition of an arrow: named parameters make a labeled domain.
    pub fn arrow(arrow: &ArrowType) -> TypeDef {
        let domain = if arrow.params.is_empty() {
            TypeDef::Nil
        } else if arrow.params.iter().all(|(name, _)| name.is_some()) {
            TypeDef::LabeledProduct(
                arrow
                    .params
                    .iter()
                    .map(|(name, ty)| (name.clone().unwrap_or_default(), TypeDef::of(ty)))
                    .collect(),
            )
        } else {
            TypeDef::UnlabeledProduct(arrow.params.iter().map(|(_, t)| TypeDef::of(t)).collect())
        };
        TypeDef::Arrow {
            domain: Box::new(domain),
            codomain: Box::new(results(&arrow.results)),
        }
    }
}

fn struct_def(name: &str, fields: &[(String, Type)]) -> TypeDef {
    let mut fields: Vec<(String, TypeDef)> = fields
        .iter()
        .map(|(n, t)| (n.clone(), TypeDef::of(t)))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    TypeDef::Struct {
        name: name.to_string(),
        fields,
    }
}

fn results(types: &[Type]) -> TypeDef {
    if types.is_empty() {
        TypeDef::Nil
    } else {
        TypeDef::UnlabeledProduct(types.iter().map(TypeDef::of).collect())
    }
}

/// An exported function.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDef {
    /// The name it is exported as.
    pub name: String,
    /// Its parameters (always a labeled product, empty when there are none) and results.
    pub domain: Vec<(String, TypeDef)>,
    pub codomain: TypeDef,
}

/// An exported service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceDef {
    /// The name it is exported as.
    pub name: String,
    pub default_id: Option<String>,
    /// Its methods sorted by name (as the reference sorts them), each an arrow.
    pub functions: Vec<(String, TypeDef)>,
}

/// The exported functions and services of one module, in export order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interface {
    pub functions: Vec<FunctionDef>,
    pub services: Vec<ServiceDef>,
}

impl Interface {
    /// The interface of the module with scope `scope`.
    pub fn of_module(program: &Program, scope: &ModuleScope) -> Interface {
        let mut interface = Interface::default();
        for (name, def) in &scope.exports {
            match def {
                Def::Func(id) => interface.functions.push(function_def(program, name, *id)),
                Def::Service(id) => {
                    let service = &program.service(*id);
                    let mut functions: Vec<(String, TypeDef)> = match &service.ty {
                        Type::Ability(a) => a
                            .fields
                            .iter()
                            .filter_map(|(method, ty)| match ty {
                                Type::Arrow(arrow) => Some((method.clone(), TypeDef::arrow(arrow))),
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    functions.sort_by(|a, b| a.0.cmp(&b.0));
                    interface.services.push(ServiceDef {
                        name: name.clone(),
                        default_id: service.default_id.clone(),
                        functions,
                    });
                }
                Def::Type(_) | Def::Const(..) => {}
            }
        }
        interface
    }

    /// Whether the module exports no function and no service.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty() && self.services.is_empty()
    }

    /// The JSON text: `{"functions": {<name>: <function definition>}, "services": {<name>:
    /// <service definition>}}`, indented.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an interface is always valid JSON")
    }
}

fn function_def(program: &Program, name: &str, id: FuncId) -> FunctionDef {
    let def = &program.func(id);
    // Ability parameters come first in `params`; the arrow's own parameters are the last.
    let skip = def.params.len().saturating_sub(def.arrow.params.len());
    let domain = def.params[skip..]
        .iter()
        .zip(&def.arrow.params)
        .map(|(local, (_, ty))| {
            let local = &def.locals[local.0 as usize];
            (local.name.clone(), TypeDef::of(ty))
        })
        .collect();
    FunctionDef {
        name: name.to_string(),
        domain,
        codomain: results(&def.arrow.results),
    }
}

/// The names of the services and functions that a compiled function's AIR uses to talk to
/// the client, fixed in this compiler; the client reads them from each function definition.
const NAMES: [(&str, &str); 7] = [
    ("relay", "-relay-"),
    ("getDataSrv", "getDataSrv"),
    ("callbackSrv", "callbackSrv"),
    ("responseSrv", "callbackSrv"),
    ("responseFnName", "response"),
    ("errorHandlingSrv", "errorHandlingSrv"),
    ("errorFnName", "error"),
];

/// Serializes `(name, value)` pairs as a JSON object, in their order.
struct Fields<'a, K, T>(&'a [(K, T)]);

impl<K: Serialize, T: Serialize> Serialize for Fields<'_, K, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A labeled product by reference, for function domains.
struct Labeled<'a>(&'a [(String, TypeDef)]);

impl Serialize for Labeled<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("tag", "labeledProduct")?;
        map.serialize_entry("fields", &Fields(self.0))?;
        map.end()
    }
}

impl Serialize for TypeDef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            TypeDef::Scalar(name) => {
                map.serialize_entry("tag", "scalar")?;
                map.serialize_entry("name", name)?;
            }
            TypeDef::Array(item) => {
                map.serialize_entry("tag", "array")?;
                map.serialize_entry("type", item)?;
            }
            TypeDef::Option(item) => {
                map.serialize_entry("tag", "option")?;
                map.serialize_entry("type", item)?;
            }
            TypeDef::Struct { name, fields } => {
                map.serialize_entry("tag", "struct")?;
                map.serialize_entry("name", name)?;
                map.serialize_entry("fields", &Fields(fields))?;
            }
            TypeDef::LabeledProduct(fields) => {
                map.serialize_entry("tag", "labeledProduct")?;
                map.serialize_entry("fields", &Fields(fields))?;
            }
            TypeDef::UnlabeledProduct(items) => {
                map.serialize_entry("tag", "unlabeledProduct")?;
                map.serialize_entry("items", items)?;
            }
            TypeDef::Arrow { domain, codomain } => {
                map.serialize_entry("tag", "arrow")?;
                map.serialize_entry("domain", domain)?;
                map.serialize_entry("codomain", codomain)?;
            }
            TypeDef::Nil => map.serialize_entry("tag", "nil")?,
            TypeDef::Top => map.serialize_entry("tag", "topType")?,
            TypeDef::Bottom => map.serialize_entry("tag", "bottomType")?,
        }
        map.end()
    }
}

/// The arrow of a function definition: `tag`, `domain`, `codomain`.
struct FunctionArrow<'a>(&'a FunctionDef);

impl Serialize for FunctionArrow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("tag", "arrow")?;
        map.serialize_entry("domain", &Labeled(&self.0.domain))?;
        map.serialize_entry("codomain", &self.0.codomain)?;
        map.end()
    }
}

impl Serialize for FunctionDef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("functionName", &self.name)?;
        map.serialize_entry("arrow", &FunctionArrow(self))?;
        map.serialize_entry("names", &Fields(&NAMES))?;
        map.end()
    }
}

impl Serialize for ServiceDef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        // The reference leaves the key out for a service without a default id.
        if let Some(id) = &self.default_id {
            map.serialize_entry("defaultServiceId", id)?;
        }
        map.serialize_entry("functions", &Labeled(&self.functions))?;
        map.end()
    }
}

impl Serialize for Interface {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let functions: Vec<(&str, &FunctionDef)> = self
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f))
            .collect();
        let services: Vec<(&str, &ServiceDef)> =
            self.services.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("functions", &Fields(&functions))?;
        map.serialize_entry("services", &Fields(&services))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sema::types::{Scalar, StructType};
    use std::sync::Arc;

    #[test]
    fn struct_fields_are_sorted_and_parameters_keep_their_order() {
        let point = Type::Struct(Arc::new(StructType {
            name: "Point".into(),
            fields: vec![
                ("y".into(), Type::Scalar(Scalar::I32)),
                ("x".into(), Type::Scalar(Scalar::I32)),
            ],
            origin: None,
        }));
        let arrow = ArrowType {
            abilities: Vec::new(),
            params: vec![
                (Some("z".into()), point.clone()),
                (Some("a".into()), Type::Stream(Box::new(Type::string()))),
            ],
            results: Vec::new(),
        };
        let json = serde_json::to_string(&TypeDef::arrow(&arrow)).unwrap();
        assert_eq!(
            json,
            r#"{"tag":"arrow","domain":{"tag":"labeledProduct","fields":{"z":{"tag":"struct","name":"Point","fields":{"x":{"tag":"scalar","name":"i32"},"y":{"tag":"scalar","name":"i32"}}},"a":{"tag":"array","type":{"tag":"scalar","name":"string"}}}},"codomain":{"tag":"nil"}}"#
        );
    }

    #[test]
    fn unnamed_parameters_make_an_unlabeled_domain() {
        let arrow = ArrowType {
            abilities: Vec::new(),
            params: vec![
                (None, Type::Top),
                (None, Type::Option(Box::new(Type::Bottom))),
            ],
            results: vec![Type::bool()],
        };
        let json = serde_json::to_string(&TypeDef::arrow(&arrow)).unwrap();
        assert_eq!(
            json,
            r#"{"tag":"arrow","domain":{"tag":"unlabeledProduct","items":[{"tag":"topType"},{"tag":"option","type":{"tag":"bottomType"}}]},"codomain":{"tag":"unlabeledProduct","items":[{"tag":"scalar","name":"bool"}]}}"#
        );
    }
}
