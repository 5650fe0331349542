//! The checked view of a section: the functions a module offers and imports, with every type
//! reference resolved and every rule a runtime relies on verified once.

use std::collections::{BTreeMap, HashSet};

use thiserror::Error;

use crate::model::{Argument, Field, IType, Interfaces, TypeDef};

/// A function at the interface level: named arguments and at most one output.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: String,
    pub arguments: Vec<Argument>,
    pub output: Option<IType>,
}

/// A function a module imports from another module: `namespace` is that module's name.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedFunction {
    pub namespace: String,
    pub function: Function,
}

/// A record type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub name: String,
    pub fields: Vec<Field>,
}

/// What a module offers and needs, as a runtime links and calls it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleInterface {
    /// The IT format version the section was written with.
    pub version: String,
    /// The callable exports, in section order. The runtime's own API functions (`allocate`
    /// and the result registers) have no implementation entry and are not among them.
    pub functions: Vec<Function>,
    /// The functions imported from other modules, in section order.
    pub imports: Vec<ImportedFunction>,
    /// The record types, by their index in the section's types list.
    pub records: BTreeMap<u32, Record>,
}

/// A rule of the section that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InterfaceError {
    #[error("{what} refers to type {index}, but the section has {count} types")]
    NoSuchType {
        what: String,
        index: u32,
        count: usize,
    },
    #[error("{what} refers to type {index}, which is not a {expected} type")]
    WrongTypeKind {
        what: String,
        index: u32,
        expected: &'static str,
    },
    #[error("function `{name}` returns {count} values; Marine functions return at most one")]
    TooManyOutputs { name: String, count: usize },
    #[error("record `{name}` contains itself, so it has no finite size")]
    RecursiveRecord { name: String },
}

impl ModuleInterface {
    /// Checks a section and resolves it.
    pub fn new(interfaces: &Interfaces) -> Result<Self, InterfaceError> {
        let resolver = Resolver { interfaces };
        let records = resolver.records()?;
        let implemented: HashSet<u32> = interfaces
            .implementations
            .iter()
            .map(|i| i.core_function_type)
            .collect();

        let mut functions = Vec::new();
        for export in &interfaces.exports {
            let what = || format!("export `{}`", export.name);
            let function = resolver.function(&what, &export.name, export.function_type)?;
            if implemented.contains(&export.function_type) {
                functions.push(function);
            }
        }

        // The SDK lists an imported function under its interface type and again under its raw
        // core type; the raw one is the core side of an implementation.
        let mut imports = Vec::new();
        for import in &interfaces.imports {
            let what = || format!("import `{}.{}`", import.namespace, import.name);
            let function = resolver.function(&what, &import.name, import.function_type)?;
            if !implemented.contains(&import.function_type) {
                imports.push(ImportedFunction {
                    namespace: import.namespace.clone(),
                    function,
                });
            }
        }

        Ok(ModuleInterface {
            version: interfaces.version.clone(),
            functions,
            imports,
            records,
        })
    }

    /// The exported function called `name`.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The record type at section index `index`.
    pub fn record(&self, index: u32) -> Option<&Record> {
        self.records.get(&index)
    }
}

/// What is being checked, for an error message; written only when there is an error.
type Context<'a> = &'a dyn Fn() -> String;

struct Resolver<'a> {
    interfaces: &'a Interfaces,
}

impl Resolver<'_> {
    fn records(&self) -> Result<BTreeMap<u32, Record>, InterfaceError> {
        let mut records = BTreeMap::new();
        for (index, def) in self.interfaces.types.iter().enumerate() {
            if let TypeDef::Record { name, fields } = def {
                for field in fields {
                    self.check_type(&|| format!("field `{name}.{}`", field.name), &field.ty)?;
                }
                let record = Record {
                    name: name.clone(),
                    fields: fields.clone(),
                };
                records.insert(index as u32, record);
            }
        }
        let mut acyclic = HashSet::new();
        for (&index, record) in &records {
            if reaches_cycle(&records, index, &mut Vec::new(), &mut acyclic) {
                return Err(InterfaceError::RecursiveRecord {
                    name: record.name.clone(),
                });
            }
        }
        Ok(records)
    }

    fn function(&self, what: Context, name: &str, index: u32) -> Result<Function, InterfaceError> {
        let def = self.type_def(what, index)?;
        let TypeDef::Function { arguments, outputs } = def else {
            return Err(InterfaceError::WrongTypeKind {
                what: what(),
                index,
                expected: "function",
            });
        };
        for argument in arguments {
            self.check_type(
                &|| format!("argument `{}` of {}", argument.name, what()),
                &argument.ty,
            )?;
        }
        for output in outputs {
            self.check_type(&|| format!("the output of {}", what()), output)?;
        }
        if outputs.len() > 1 {
            return Err(InterfaceError::TooManyOutputs {
                name: name.to_owned(),
                count: outputs.len(),
            });
        }
        Ok(Function {
            name: name.to_owned(),
            arguments: arguments.clone(),
            output: outputs.first().cloned(),
        })
    }

    fn type_def(&self, what: Context, index: u32) -> Result<&TypeDef, InterfaceError> {
        self.interfaces
            .types
            .get(index as usize)
            .ok_or_else(|| InterfaceError::NoSuchType {
                what: what(),
                index,
                count: self.interfaces.types.len(),
            })
    }

    fn check_type(&self, what: Context, ty: &IType) -> Result<(), InterfaceError> {
        for index in record_refs(ty) {
            if !matches!(self.type_def(what, index)?, TypeDef::Record { .. }) {
                return Err(InterfaceError::WrongTypeKind {
                    what: what(),
                    index,
                    expected: "record",
                });
            }
        }
        Ok(())
    }
}

/// Whether record `index` reaches a record already on `path` (a cycle). Records found free of
/// cycles go into `acyclic` and are not walked again: records that use one another many times
/// over would otherwise be walked once per path, exponentially many.
fn reaches_cycle(
    records: &BTreeMap<u32, Record>,
    index: u32,
    path: &mut Vec<u32>,
    acyclic: &mut HashSet<u32>,
) -> bool {
    if acyclic.contains(&index) {
        return false;
    }
    if path.contains(&index) {
        return true;
    }
    path.push(index);
    let cyclic = records[&index].fields.iter().any(|field| {
        record_refs(&field.ty).any(|inner| reaches_cycle(records, inner, path, acyclic))
    });
    path.pop();
    if !cyclic {
        acyclic.insert(index);
    }
    cyclic
}

/// The record a type refers to, through any number of arrays.
fn record_refs(ty: &IType) -> impl Iterator<Item = u32> {
    let mut ty = ty;
    while let IType::Array(item) = ty {
        ty = item;
    }
    match ty {
        IType::Record(index) => Some(*index),
        _ => None,
    }
    .into_iter()
}
