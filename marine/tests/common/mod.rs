//! Test modules written in WAT, with interface-types sections made by `marine-it`.
//!
//! The sections have what the SDK's generator writes for exports: the SDK's API functions as
//! the first exports, and an adapter for each function. Our runtime does not run adapters, but
//! the reference runtime for JS does, and the benchmarks' echo module runs on both.
//! Imported functions are described by their types only (no adapters).

use marine_it::{
    Adapter, Argument, Export, Field, IType, Implementation, Import, Instruction, Interfaces,
    TypeDef,
};

/// The SDK's API: memory, a bump allocator (`$allocate`, which test code may call too) and the result registers. The host's buffers are
/// the only objects on the heap, so releasing them empties it, and repeated calls (the
/// benchmarks make millions) do not grow the memory.
pub const SDK_API: &str = r#"
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (global $result_ptr (mut i32) (i32.const 0))
  (global $result_size (mut i32) (i32.const 0))
  (func $allocate (export "allocate") (param $size i32) (param $tag i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (if (i32.gt_u (i32.add (local.get $p) (local.get $size))
                  (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $size) (i32.const 65536))
                                        (i32.const 1))))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  (func (export "release_objects") (global.set $heap (i32.const 1024)))
  (func (export "get_result_ptr") (result i32) (global.get $result_ptr))
  (func (export "get_result_size") (result i32) (global.get $result_size))
  (func (export "set_result_ptr") (param i32) (global.set $result_ptr (local.get 0)))
  (func (export "set_result_size") (param i32) (global.set $result_size (local.get 0)))
"#;

/// Returns its argument: the result registers point at the buffer the host lowered. The body
/// of echo functions of any sequence type; `(export ...)` fields name it.
pub const ECHO: &str = r#"
  (func $echo (param $p i32) (param $len i32)
    (global.set $result_ptr (local.get $p))
    (global.set $result_size (local.get $len)))"#;

/// The SDK's API functions in the order its generator exports them: their export index is the
/// `call-core` index adapters use.
const API: [(&str, &[&str], bool); 6] = [
    ("allocate", &["size"], true),
    ("release_objects", &[], false),
    ("get_result_size", &[], true),
    ("get_result_ptr", &[], true),
    ("set_result_size", &["result_size"], false),
    ("set_result_ptr", &["result_ptr"], false),
];
const ALLOCATE: u32 = 0;
const RELEASE_OBJECTS: u32 = 1;
const GET_RESULT_SIZE: u32 = 2;
const GET_RESULT_PTR: u32 = 3;

/// An interface being described: records first, then functions.
#[derive(Default)]
pub struct Describe {
    pub interfaces: Interfaces,
}

impl Describe {
    pub fn new() -> Self {
        let mut d = Describe::default();
        d.interfaces.version = "0.27.0".into();
        for (name, params, returns) in API {
            let arguments: Vec<_> = params.iter().map(|p| (*p, IType::I32)).collect();
            let ty = d.function_type(&arguments, returns.then_some(IType::I32));
            d.interfaces.exports.push(Export {
                name: name.into(),
                function_type: ty,
            });
        }
        d
    }

    /// Adds a record type; returns its index.
    pub fn record(&mut self, name: &str, fields: &[(&str, IType)]) -> u32 {
        self.interfaces.types.push(TypeDef::Record {
            name: name.into(),
            fields: fields
                .iter()
                .map(|(n, ty)| Field {
                    name: (*n).into(),
                    ty: ty.clone(),
                })
                .collect(),
        });
        self.interfaces.types.len() as u32 - 1
    }

    fn function_type(&mut self, arguments: &[(&str, IType)], output: Option<IType>) -> u32 {
        self.interfaces.types.push(TypeDef::Function {
            arguments: arguments
                .iter()
                .map(|(n, ty)| Argument {
                    name: (*n).into(),
                    ty: ty.clone(),
                })
                .collect(),
            outputs: output.into_iter().collect(),
        });
        self.interfaces.types.len() as u32 - 1
    }

    /// Adds an exported function, as the SDK's generator does: an adapter type with its
    /// adapter, and the core type that it implements.
    pub fn export(
        &mut self,
        name: &str,
        arguments: &[(&str, IType)],
        output: Option<IType>,
    ) -> &mut Self {
        let adapter = self.function_type(arguments, output.clone());
        let core = self.function_type(arguments, output.clone());
        let function_index = self.interfaces.exports.len() as u32;
        self.interfaces.exports.push(Export {
            name: name.into(),
            function_type: core,
        });
        self.interfaces.implementations.push(Implementation {
            core_function_type: core,
            adapter_function_type: adapter,
        });
        let mut instructions = Vec::new();
        for (index, (_, ty)) in arguments.iter().enumerate() {
            lower_argument(index as u32, ty, &mut instructions);
        }
        instructions.push(Instruction::CallCore { function_index });
        if let Some(ty) = &output {
            lift_output(ty, &mut instructions);
        }
        self.interfaces.adapters.push(Adapter {
            function_type: adapter,
            instructions,
        });
        self
    }

    /// Adds a function imported from module `namespace`.
    pub fn import(
        &mut self,
        namespace: &str,
        name: &str,
        arguments: &[(&str, IType)],
        output: Option<IType>,
    ) -> &mut Self {
        let ty = self.function_type(arguments, output);
        self.interfaces.imports.push(Import {
            namespace: namespace.into(),
            name: name.into(),
            function_type: ty,
        });
        self
    }

    /// The module: `body` (WAT module fields) plus the SDK API and both custom sections.
    pub fn module(&self, body: &str) -> Vec<u8> {
        let section = marine_it::encode(&self.interfaces).expect("encodable");
        let escaped: String = section.iter().map(|b| format!("\\{b:02x}")).collect();
        let text = format!(
            "(module {body} {SDK_API} (@custom \"interface-types\" \"{escaped}\") (@custom \"__fluence_sdk_version\" \"0.14.0\"))"
        );
        wat::parse_str(&text).expect("valid WAT")
    }
}

/// The adapter instructions that pass argument `index` of type `ty` to the core function.
fn lower_argument(index: u32, ty: &IType, out: &mut Vec<Instruction>) {
    use Instruction as I;
    let get = I::ArgumentGet { index };
    // Strings and byte arrays are copied into a buffer from the module's `allocate`.
    let buffered = |size, lower| {
        let tag = I::PushI32 { value: 1 };
        let allocate = I::CallCore {
            function_index: ALLOCATE,
        };
        [get.clone(), size, tag, allocate, get.clone(), lower]
    };
    match ty {
        IType::String => out.extend(buffered(I::StringSize, I::StringLowerMemory)),
        IType::ByteArray => out.extend(buffered(I::ByteArraySize, I::ByteArrayLowerMemory)),
        IType::Array(item) => out.extend([
            get,
            I::ArrayLowerMemory {
                value_type: (**item).clone(),
            },
        ]),
        IType::Record(record_type) => out.extend([
            get,
            I::RecordLowerMemory {
                record_type: *record_type,
            },
        ]),
        scalar => {
            out.push(get);
            let conversion = match scalar {
                IType::Boolean => I::I32FromBool,
                IType::S8 => I::I32FromS8,
                IType::S16 => I::I32FromS16,
                IType::S32 => I::I32FromS32,
                IType::S64 => I::I64FromS64,
                IType::U8 => I::I32FromU8,
                IType::U16 => I::I32FromU16,
                IType::U32 => I::I32FromU32,
                IType::U64 => I::I64FromU64,
                // Floats and raw integers are Wasm values already.
                _ => return,
            };
            out.push(conversion);
        }
    }
}

/// The adapter instructions that turn the core function's result into a value of `ty`.
fn lift_output(ty: &IType, out: &mut Vec<Instruction>) {
    use Instruction as I;
    let core = |function_index| I::CallCore { function_index };
    // Sequences and records come back through the result registers; the module's temporaries
    // are released once they are read.
    let lift = match ty {
        IType::String => I::StringLiftMemory,
        IType::ByteArray => I::ByteArrayLiftMemory,
        IType::Array(item) if **item == IType::U8 => I::ByteArrayLiftMemory,
        IType::Array(item) => I::ArrayLiftMemory {
            value_type: (**item).clone(),
        },
        IType::Record(record_type) => I::RecordLiftMemory {
            record_type: *record_type,
        },
        scalar => {
            let conversion = match scalar {
                IType::Boolean => I::BoolFromI32,
                IType::S8 => I::S8FromI32,
                IType::S16 => I::S16FromI32,
                IType::S32 => I::S32FromI32,
                IType::S64 => I::S64FromI64,
                IType::U8 => I::U8FromI32,
                IType::U16 => I::U16FromI32,
                IType::U32 => I::U32FromI32,
                IType::U64 => I::U64FromI64,
                _ => return,
            };
            out.push(conversion);
            return;
        }
    };
    out.push(core(GET_RESULT_PTR));
    // A record is found by its pointer alone; a sequence also needs its length.
    if !matches!(ty, IType::Record(_)) {
        out.push(core(GET_RESULT_SIZE));
    }
    out.extend([lift, core(RELEASE_OBJECTS)]);
}
