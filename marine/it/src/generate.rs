//! Writing a module's section from what the Marine Rust SDK left in it.
//!
//! The SDK's `#[marine]` macro describes every item it expands in a custom section of its own,
//! named `__m_generated_section__<item>`, holding JSON such as
//!
//! ```json
//! {"ast_type":"Function","signature":{"name":"greet","arguments":[{"name":"name",
//!  "ty":{"Utf8String":"ByValue"}}],"output_types":[{"Utf8String":"ByValue"}]}}
//! ```
//!
//! for an exported function, `"Record"` for a record and `"ExternMod"` for a block of
//! functions imported from another module. [`generate`] turns those descriptions into the
//! `interface-types` section that `marine build` writes, item for item and instruction for
//! instruction, so that a regenerated section equals the one the reference tool embedded.
//!
//! The layout it follows:
//! - types 0–5 and the first six exports are the SDK's own API (`allocate`,
//!   `release_objects`, the four result registers), which have no adapters;
//! - the records come next, in the order their descriptions appear; a record used before its
//!   own description gets its index at the first use;
//! - each exported function adds its type twice (the adapter's, then the core function's), an
//!   export of the second and an implementation of it by the first;
//! - each function imported from another module adds its interface type and its raw core type
//!   twice, two imports under the same name (interface type, raw core type) and an
//!   implementation of the raw type by the adapter. Host imports get nothing: the runtime
//!   provides them directly.

use std::collections::{BTreeMap, HashMap};

use serde::de::IgnoredAny;
use serde::Deserialize;
use thiserror::Error;

use crate::interface::{InterfaceError, ModuleInterface};
use crate::model::{
    Adapter, Argument, Export, Field, IType, Implementation, Import, Instruction, Interfaces,
    TypeDef,
};

/// Name prefixes of the sections the SDK writes: current SDKs use the first, the ones from
/// before the Marine rename the second.
pub const GENERATED_SECTION_PREFIXES: [&str; 2] =
    ["__m_generated_section__", "__fce_generated_section__"];

/// Why the SDK's descriptions give no section.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GenerateError {
    #[error("section `{section}` is not an SDK item description: {message}")]
    Description { section: String, message: String },
    #[error("record `{0}` is described twice")]
    DuplicateRecord(String),
    #[error("record `{0}` has no fields; Marine records need at least one")]
    EmptyRecord(String),
    #[error("{user} uses record `{record}`, which no `#[marine]` item describes")]
    UnknownRecord { user: String, record: String },
    #[error("the generated section is not valid: {0}")]
    Invalid(#[from] InterfaceError),
}

/// The `interface-types` section for a module whose generated sections are `sections` (name
/// and contents, in module order), with format version `version`.
pub fn generate(sections: &[(&str, &[u8])], version: &str) -> Result<Interfaces, GenerateError> {
    let mut records = Vec::new();
    let mut functions = Vec::new();
    let mut extern_blocks = Vec::new();
    for &(section, bytes) in sections {
        let item = serde_json::from_slice(bytes).map_err(|e| GenerateError::Description {
            section: section.to_owned(),
            message: e.to_string(),
        })?;
        match item {
            Item::Record(record) => records.push(record),
            Item::Function { signature } => functions.push(signature),
            Item::ExternMod(block) => extern_blocks.push(block),
        }
    }

    let mut generator = Generator::new(version);
    for record in &records {
        generator.record(record)?;
    }
    if let Some((record, user)) = generator.pending.iter().next() {
        return Err(GenerateError::UnknownRecord {
            user: user.clone(),
            record: record.clone(),
        });
    }
    for function in &functions {
        generator.export(function)?;
    }
    for block in extern_blocks
        .iter()
        .filter(|block| !is_host_namespace(&block.namespace))
    {
        for import in &block.imports {
            generator.import(&block.namespace, import)?;
        }
    }
    ModuleInterface::new(&generator.interfaces)?;
    Ok(generator.interfaces)
}

/// Namespaces of functions the runtime itself provides, which need no adapters.
fn is_host_namespace(namespace: &str) -> bool {
    namespace == "host" || namespace.starts_with("__marine_host_api_v")
}

// The SDK's descriptions. How a value is passed (by value or by reference) does not change
// its interface type, so it is read and dropped.

#[derive(Deserialize)]
#[serde(tag = "ast_type")]
enum Item {
    Function { signature: Signature },
    Record(RecordItem),
    ExternMod(ExternBlock),
}

#[derive(Deserialize)]
struct Signature {
    name: String,
    arguments: Vec<SdkArgument>,
    output_types: Vec<SdkType>,
}

#[derive(Deserialize)]
struct SdkArgument {
    name: String,
    ty: SdkType,
}

#[derive(Deserialize)]
struct RecordItem {
    name: String,
    fields: RecordFields,
}

#[derive(Deserialize)]
enum RecordFields {
    Named(Vec<RecordField>),
    Unnamed(Vec<RecordField>),
    Unit,
}

#[derive(Deserialize)]
struct RecordField {
    name: Option<String>,
    ty: SdkType,
}

#[derive(Deserialize)]
struct ExternBlock {
    namespace: String,
    imports: Vec<ExternFunction>,
}

#[derive(Deserialize)]
struct ExternFunction {
    link_name: Option<String>,
    signature: Signature,
}

/// A Rust type as the SDK names it.
#[derive(Deserialize)]
enum SdkType {
    I8(IgnoredAny),
    I16(IgnoredAny),
    I32(IgnoredAny),
    I64(IgnoredAny),
    U8(IgnoredAny),
    U16(IgnoredAny),
    U32(IgnoredAny),
    U64(IgnoredAny),
    F32(IgnoredAny),
    F64(IgnoredAny),
    Boolean(IgnoredAny),
    Utf8Str(IgnoredAny),
    Utf8String(IgnoredAny),
    Vector(Box<SdkType>, IgnoredAny),
    Record(String, IgnoredAny),
}

/// The shape of a type in the raw Wasm signature and in the adapters.
enum Shape {
    /// One Wasm value; the casts from the core value to the interface value and back.
    Scalar {
        lift: Option<Instruction>,
        lower: Option<Instruction>,
        core: IType,
    },
    String,
    /// A `Vec`: element type as the array instructions name it.
    Vector(IType),
    Record(u32),
}

impl Shape {
    fn is_scalar(&self) -> bool {
        matches!(self, Shape::Scalar { .. })
    }
}

// The SDK's API functions, by their fixed core indices.
const ALLOCATE: u32 = 0;
const RELEASE_OBJECTS: u32 = 1;
const GET_RESULT_SIZE: u32 = 2;
const GET_RESULT_PTR: u32 = 3;
const SET_RESULT_SIZE: u32 = 4;
const SET_RESULT_PTR: u32 = 5;

/// The type tag `allocate` gets for a string's bytes: the size of a `u8`.
const BYTE_TAG: i32 = 1;

struct Generator {
    interfaces: Interfaces,
    /// The type index of each record name met so far.
    record_indices: HashMap<String, u32>,
    /// Records used before their description: name and the first user.
    pending: BTreeMap<String, String>,
}

impl Generator {
    fn new(version: &str) -> Self {
        let mut interfaces = Interfaces {
            version: version.to_owned(),
            ..Interfaces::default()
        };
        let i32_argument = |name: &str| Argument {
            name: name.to_owned(),
            ty: IType::I32,
        };
        let api = [
            ("allocate", vec![i32_argument("size")], vec![IType::I32]),
            ("release_objects", vec![], vec![]),
            ("get_result_size", vec![], vec![IType::I32]),
            ("get_result_ptr", vec![], vec![IType::I32]),
            ("set_result_size", vec![i32_argument("result_size")], vec![]),
            ("set_result_ptr", vec![i32_argument("result_ptr")], vec![]),
        ];
        for (index, (name, arguments, outputs)) in api.into_iter().enumerate() {
            interfaces
                .types
                .push(TypeDef::Function { arguments, outputs });
            interfaces.exports.push(Export {
                name: name.to_owned(),
                function_type: index as u32,
            });
        }
        Generator {
            interfaces,
            record_indices: HashMap::new(),
            pending: BTreeMap::new(),
        }
    }

    fn next_type(&self) -> u32 {
        self.interfaces.types.len() as u32
    }

    fn record(&mut self, record: &RecordItem) -> Result<(), GenerateError> {
        let fields = match &record.fields {
            RecordFields::Named(fields) | RecordFields::Unnamed(fields) => fields,
            // A unit struct has no interface type; using it elsewhere is an unknown record.
            RecordFields::Unit => return Ok(()),
        };
        if fields.is_empty() {
            return Err(GenerateError::EmptyRecord(record.name.clone()));
        }
        let user = format!("record `{}`", record.name);
        let mut typed_fields = Vec::new();
        for field in fields {
            typed_fields.push(Field {
                // Tuple structs' fields have no names.
                name: field.name.clone().unwrap_or_default(),
                ty: self.record_field_type(&field.ty, &user)?,
            });
        }
        let def = TypeDef::Record {
            name: record.name.clone(),
            fields: typed_fields,
        };
        match self.record_indices.get(&record.name) {
            Some(&index) => {
                if self.pending.remove(&record.name).is_none() {
                    return Err(GenerateError::DuplicateRecord(record.name.clone()));
                }
                self.interfaces.types[index as usize] = def;
            }
            None => {
                self.record_indices
                    .insert(record.name.clone(), self.next_type());
                self.interfaces.types.push(def);
            }
        }
        Ok(())
    }

    /// A field's type; a record not described yet gets the next index, filled in when its
    /// description comes.
    fn record_field_type(&mut self, ty: &SdkType, user: &str) -> Result<IType, GenerateError> {
        self.itype(ty, &mut |generator, name| {
            if let Some(&index) = generator.record_indices.get(name) {
                return Ok(index);
            }
            let index = generator.next_type();
            generator.record_indices.insert(name.to_owned(), index);
            generator.pending.insert(name.to_owned(), user.to_owned());
            generator.interfaces.types.push(TypeDef::Record {
                name: name.to_owned(),
                fields: Vec::new(),
            });
            Ok(index)
        })
    }

    /// A function's type, whose records must all be described.
    fn known_type(&mut self, ty: &SdkType, user: &str) -> Result<IType, GenerateError> {
        self.itype(ty, &mut |generator, name| {
            generator.record_index(name, user)
        })
    }

    fn record_index(&self, name: &str, user: &str) -> Result<u32, GenerateError> {
        self.record_indices
            .get(name)
            .copied()
            .ok_or_else(|| GenerateError::UnknownRecord {
                user: user.to_owned(),
                record: name.to_owned(),
            })
    }

    /// The interface type of `ty`: `Vec<u8>` is a byte array, records get their index from
    /// `record`.
    fn itype(
        &mut self,
        ty: &SdkType,
        record: &mut dyn FnMut(&mut Self, &str) -> Result<u32, GenerateError>,
    ) -> Result<IType, GenerateError> {
        Ok(match ty {
            SdkType::I8(_) => IType::S8,
            SdkType::I16(_) => IType::S16,
            SdkType::I32(_) => IType::S32,
            SdkType::I64(_) => IType::S64,
            SdkType::U8(_) => IType::U8,
            SdkType::U16(_) => IType::U16,
            SdkType::U32(_) => IType::U32,
            SdkType::U64(_) => IType::U64,
            SdkType::F32(_) => IType::F32,
            SdkType::F64(_) => IType::F64,
            SdkType::Boolean(_) => IType::Boolean,
            SdkType::Utf8Str(_) | SdkType::Utf8String(_) => IType::String,
            SdkType::Vector(item, _) => match self.itype(item, record)? {
                IType::U8 => IType::ByteArray,
                item => IType::Array(Box::new(item)),
            },
            SdkType::Record(name, _) => IType::Record(record(self, name)?),
        })
    }

    fn shape(&mut self, ty: &SdkType, user: &str) -> Result<Shape, GenerateError> {
        use Instruction as I;
        let scalar = |lift, lower, core| Shape::Scalar {
            lift: Some(lift),
            lower: Some(lower),
            core,
        };
        Ok(match ty {
            SdkType::Boolean(_) => scalar(I::BoolFromI32, I::I32FromBool, IType::I32),
            SdkType::I8(_) => scalar(I::S8FromI32, I::I32FromS8, IType::I32),
            SdkType::I16(_) => scalar(I::S16FromI32, I::I32FromS16, IType::I32),
            SdkType::I32(_) => scalar(I::S32FromI32, I::I32FromS32, IType::I32),
            SdkType::I64(_) => scalar(I::S64FromI64, I::I64FromS64, IType::I64),
            SdkType::U8(_) => scalar(I::U8FromI32, I::I32FromU8, IType::I32),
            SdkType::U16(_) => scalar(I::U16FromI32, I::I32FromU16, IType::I32),
            SdkType::U32(_) => scalar(I::U32FromI32, I::I32FromU32, IType::I32),
            SdkType::U64(_) => scalar(I::U64FromI64, I::I64FromU64, IType::I64),
            SdkType::F32(_) => Shape::Scalar {
                lift: None,
                lower: None,
                core: IType::F32,
            },
            SdkType::F64(_) => Shape::Scalar {
                lift: None,
                lower: None,
                core: IType::F64,
            },
            SdkType::Utf8Str(_) | SdkType::Utf8String(_) => Shape::String,
            // The element type as written: a `Vec<u8>` moves as an array of `u8` here even
            // though its interface type is a byte array.
            SdkType::Vector(item, _) => Shape::Vector(self.known_type(item, user)?),
            SdkType::Record(name, _) => Shape::Record(self.record_index(name, user)?),
        })
    }

    fn signature_types(
        &mut self,
        signature: &Signature,
        user: &str,
    ) -> Result<(Vec<Argument>, Vec<IType>), GenerateError> {
        let mut arguments = Vec::new();
        for argument in &signature.arguments {
            arguments.push(Argument {
                name: argument.name.clone(),
                ty: self.known_type(&argument.ty, user)?,
            });
        }
        let mut outputs = Vec::new();
        for output in &signature.output_types {
            outputs.push(self.known_type(output, user)?);
        }
        Ok((arguments, outputs))
    }

    /// An exported function: its adapter lowers the arguments into the module's memory, calls
    /// the core function and lifts its result.
    fn export(&mut self, signature: &Signature) -> Result<(), GenerateError> {
        use Instruction as I;
        let user = format!("function `{}`", signature.name);
        let (arguments, outputs) = self.signature_types(signature, &user)?;
        let adapter_type = self.next_type();
        let core_type = adapter_type + 1;
        for _ in 0..2 {
            self.interfaces.types.push(TypeDef::Function {
                arguments: arguments.clone(),
                outputs: outputs.clone(),
            });
        }
        self.interfaces.exports.push(Export {
            name: signature.name.clone(),
            function_type: core_type,
        });
        // Core indices start with the exports, in order.
        let core_index = self.interfaces.exports.len() as u32 - 1;

        let mut code = Vec::new();
        for (index, argument) in signature.arguments.iter().enumerate() {
            let index = index as u32;
            code.push(I::ArgumentGet { index });
            match self.shape(&argument.ty, &user)? {
                Shape::Scalar { lower, .. } => code.extend(lower),
                Shape::String => code.extend([
                    I::StringSize,
                    I::PushI32 { value: BYTE_TAG },
                    call(ALLOCATE),
                    I::ArgumentGet { index },
                    I::StringLowerMemory,
                ]),
                Shape::Vector(value_type) => code.push(I::ArrayLowerMemory { value_type }),
                Shape::Record(record_type) => code.push(I::RecordLowerMemory { record_type }),
            }
        }
        code.push(call(core_index));
        let mut releases = false;
        for output in &signature.output_types {
            let shape = self.shape(output, &user)?;
            releases |= !shape.is_scalar();
            match shape {
                Shape::Scalar { lift, .. } => code.extend(lift),
                Shape::String => code.extend([
                    call(GET_RESULT_PTR),
                    call(GET_RESULT_SIZE),
                    I::StringLiftMemory,
                ]),
                Shape::Vector(IType::U8) => code.extend([
                    call(GET_RESULT_PTR),
                    call(GET_RESULT_SIZE),
                    I::ByteArrayLiftMemory,
                ]),
                Shape::Vector(value_type) => code.extend([
                    call(GET_RESULT_PTR),
                    call(GET_RESULT_SIZE),
                    I::ArrayLiftMemory { value_type },
                ]),
                Shape::Record(record_type) => {
                    code.extend([call(GET_RESULT_PTR), I::RecordLiftMemory { record_type }])
                }
            }
        }
        if releases {
            code.push(call(RELEASE_OBJECTS));
        }
        self.add_adapter(adapter_type, code, core_type);
        Ok(())
    }

    /// A function imported from module `namespace`: its adapter lifts the arguments from this
    /// module's memory, calls the other module, and lowers the result into this module's
    /// memory, leaving it in the result registers.
    fn import(&mut self, namespace: &str, function: &ExternFunction) -> Result<(), GenerateError> {
        use Instruction as I;
        let signature = &function.signature;
        let name = function.link_name.as_ref().unwrap_or(&signature.name);
        let user = format!("imported function `{namespace}.{name}`");
        let (arguments, outputs) = self.signature_types(signature, &user)?;

        let mut raw_arguments = Vec::new();
        for argument in &signature.arguments {
            match self.shape(&argument.ty, &user)? {
                Shape::Scalar { core, .. } => raw_arguments.push(Argument {
                    name: argument.name.clone(),
                    ty: core,
                }),
                Shape::Record(_) => raw_arguments.push(Argument {
                    name: argument.name.clone(),
                    ty: IType::I32,
                }),
                // Pointer and length. The reference generator names both `<name>_ptr`; the
                // names are only informative, and keeping them makes the sections equal.
                Shape::String | Shape::Vector(_) => {
                    let half = Argument {
                        name: format!("{}_ptr", argument.name),
                        ty: IType::I32,
                    };
                    raw_arguments.extend([half.clone(), half]);
                }
            }
        }
        let mut raw_outputs = Vec::new();
        for output in &signature.output_types {
            if let Shape::Scalar { core, .. } = self.shape(output, &user)? {
                // The reference generator writes the 32- and 64-bit integer results as
                // signed interface types rather than core ones.
                raw_outputs.push(match core {
                    IType::I32 => IType::S32,
                    IType::I64 => IType::S64,
                    other => other,
                });
            }
        }

        let interface_type = self.next_type();
        let adapter_type = interface_type + 1;
        let raw_type = interface_type + 2;
        self.interfaces
            .types
            .push(TypeDef::Function { arguments, outputs });
        for _ in 0..2 {
            self.interfaces.types.push(TypeDef::Function {
                arguments: raw_arguments.clone(),
                outputs: raw_outputs.clone(),
            });
        }
        for function_type in [interface_type, raw_type] {
            self.interfaces.imports.push(Import {
                namespace: namespace.to_owned(),
                name: name.clone(),
                function_type,
            });
        }
        // Core indices go on after the exports with the adapted imports, in order.
        let core_index =
            (self.interfaces.exports.len() + self.interfaces.imports.len() / 2) as u32 - 1;

        let mut code = Vec::new();
        let mut index = 0;
        let mut releases = false;
        for argument in &signature.arguments {
            let shape = self.shape(&argument.ty, &user)?;
            releases |= !shape.is_scalar();
            code.push(I::ArgumentGet { index });
            index += 1;
            // Strings and vectors come as pointer and length: two raw arguments.
            match shape {
                Shape::Scalar { lift, .. } => code.extend(lift),
                Shape::Record(record_type) => code.push(I::RecordLiftMemory { record_type }),
                Shape::String => {
                    code.extend([I::ArgumentGet { index }, I::StringLiftMemory]);
                    index += 1;
                }
                Shape::Vector(IType::U8) => {
                    code.extend([I::ArgumentGet { index }, I::ByteArrayLiftMemory]);
                    index += 1;
                }
                Shape::Vector(value_type) => {
                    code.extend([I::ArgumentGet { index }, I::ArrayLiftMemory { value_type }]);
                    index += 1;
                }
            }
        }
        if releases {
            code.push(call(RELEASE_OBJECTS));
        }
        code.push(call(core_index));
        for output in &signature.output_types {
            match self.shape(output, &user)? {
                Shape::Scalar { lower, .. } => code.extend(lower),
                Shape::String => code.extend([
                    I::Dup,
                    I::StringSize,
                    I::PushI32 { value: BYTE_TAG },
                    call(ALLOCATE),
                    I::Swap2,
                    I::StringLowerMemory,
                    call(SET_RESULT_SIZE),
                    call(SET_RESULT_PTR),
                ]),
                Shape::Vector(value_type) => code.extend([
                    I::ArrayLowerMemory { value_type },
                    call(SET_RESULT_SIZE),
                    call(SET_RESULT_PTR),
                ]),
                Shape::Record(record_type) => {
                    code.extend([I::RecordLowerMemory { record_type }, call(SET_RESULT_PTR)])
                }
            }
        }
        self.add_adapter(adapter_type, code, raw_type);
        Ok(())
    }

    fn add_adapter(&mut self, adapter_type: u32, instructions: Vec<Instruction>, core_type: u32) {
        self.interfaces.adapters.push(Adapter {
            function_type: adapter_type,
            instructions,
        });
        self.interfaces.implementations.push(Implementation {
            core_function_type: core_type,
            adapter_function_type: adapter_type,
        });
    }
}

fn call(function_index: u32) -> Instruction {
    Instruction::CallCore { function_index }
}
