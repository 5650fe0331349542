//! The `interface-types` section as data: what the binary form holds, item by item.

/// A type at the interface level.
///
/// `I32` and `I64` are the raw Wasm integers that adapters use; the others are what functions
/// take and return. A record is named by its index in [`Interfaces::types`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IType {
    Boolean,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    String,
    ByteArray,
    Array(Box<IType>),
    I32,
    I64,
    Record(u32),
}

/// One entry of the types list: a function type or a record type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeDef {
    Function {
        arguments: Vec<Argument>,
        outputs: Vec<IType>,
    },
    Record {
        name: String,
        fields: Vec<Field>,
    },
}

/// A named function argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    pub name: String,
    pub ty: IType,
}

/// A named record field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub name: String,
    pub ty: IType,
}

/// A function the module imports, with the index of its function type.
///
/// Modules built by the SDK list each imported function twice under the same name: once with
/// its interface-level type and once with its raw core type.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub namespace: String,
    pub name: String,
    pub function_type: u32,
}

/// A stack program run for the function type `function_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    pub function_type: u32,
    pub instructions: Vec<Instruction>,
}

/// An exported function, with the index of its function type.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub name: String,
    pub function_type: u32,
}

/// Says that the function of type `core_function_type` is implemented by the adapter of type
/// `adapter_function_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct Implementation {
    pub core_function_type: u32,
    pub adapter_function_type: u32,
}

/// A whole `interface-types` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interfaces {
    /// The version of the IT format (the generator's version, e.g. `0.27.0`).
    pub version: String,
    pub types: Vec<TypeDef>,
    pub imports: Vec<Import>,
    pub adapters: Vec<Adapter>,
    pub exports: Vec<Export>,
    pub implementations: Vec<Implementation>,
}

/// Declares [`Instruction`] with its operand-free instructions given once, as
/// `opcode Variant "mnemonic"`, so that the codec and the text form read the same table.
macro_rules! instructions {
    ($($opcode:literal $variant:ident $mnemonic:literal,)*) => {
        /// An adapter instruction.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Instruction {
            /// Pushes argument `index`.
            ArgumentGet { index: u32 },
            /// Calls function `function_index` of the core index space: the exports in order,
            /// then the adapted imports.
            CallCore { function_index: u32 },
            ArrayLiftMemory { value_type: IType },
            ArrayLowerMemory { value_type: IType },
            RecordLiftMemory { record_type: u32 },
            RecordLowerMemory { record_type: u32 },
            PushI32 { value: i32 },
            PushI64 { value: i64 },
            $(#[doc = $mnemonic] $variant,)*
        }

        impl Instruction {
            /// The instruction without operands that `opcode` stands for.
            pub(crate) fn from_plain_opcode(opcode: u8) -> Option<Self> {
                match opcode {
                    $($opcode => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// The opcode and mnemonic of an instruction without operands.
            pub(crate) fn plain(&self) -> Option<(u8, &'static str)> {
                match self {
                    $(Self::$variant => Some(($opcode, $mnemonic)),)*
                    _ => None,
                }
            }
        }
    };
}

instructions! {
    0x02 S8FromI32 "s8.from_i32",
    0x03 S8FromI64 "s8.from_i64",
    0x04 S16FromI32 "s16.from_i32",
    0x05 S16FromI64 "s16.from_i64",
    0x06 S32FromI32 "s32.from_i32",
    0x07 S32FromI64 "s32.from_i64",
    0x08 S64FromI32 "s64.from_i32",
    0x09 S64FromI64 "s64.from_i64",
    0x0a I32FromS8 "i32.from_s8",
    0x0b I32FromS16 "i32.from_s16",
    0x0c I32FromS32 "i32.from_s32",
    0x0d I32FromS64 "i32.from_s64",
    0x0e I64FromS8 "i64.from_s8",
    0x0f I64FromS16 "i64.from_s16",
    0x10 I64FromS32 "i64.from_s32",
    0x11 I64FromS64 "i64.from_s64",
    0x12 U8FromI32 "u8.from_i32",
    0x13 U8FromI64 "u8.from_i64",
    0x14 U16FromI32 "u16.from_i32",
    0x15 U16FromI64 "u16.from_i64",
    0x16 U32FromI32 "u32.from_i32",
    0x17 U32FromI64 "u32.from_i64",
    0x18 U64FromI32 "u64.from_i32",
    0x19 U64FromI64 "u64.from_i64",
    0x1a I32FromU8 "i32.from_u8",
    0x1b I32FromU16 "i32.from_u16",
    0x1c I32FromU32 "i32.from_u32",
    0x1d I32FromU64 "i32.from_u64",
    0x1e I64FromU8 "i64.from_u8",
    0x1f I64FromU16 "i64.from_u16",
    0x20 I64FromU32 "i64.from_u32",
    0x21 I64FromU64 "i64.from_u64",
    0x22 StringLiftMemory "string.lift_memory",
    0x23 StringLowerMemory "string.lower_memory",
    0x24 StringSize "string.size",
    0x34 Dup "dup",
    0x35 Swap2 "swap2",
    0x3e BoolFromI32 "bool.from_i32",
    0x3f I32FromBool "i32.from_bool",
    0x43 ByteArrayLiftMemory "byte_array.lift_memory",
    0x44 ByteArrayLowerMemory "byte_array.lower_memory",
    0x45 ByteArraySize "byte_array.size",
}

/// Opcodes of the instructions with operands.
pub(crate) mod opcode {
    pub const ARGUMENT_GET: u8 = 0x00;
    pub const CALL_CORE: u8 = 0x01;
    pub const ARRAY_LIFT_MEMORY: u8 = 0x37;
    pub const ARRAY_LOWER_MEMORY: u8 = 0x38;
    pub const RECORD_LIFT_MEMORY: u8 = 0x3a;
    pub const RECORD_LOWER_MEMORY: u8 = 0x3b;
    pub const PUSH_I32: u8 = 0x40;
    pub const PUSH_I64: u8 = 0x41;
}

impl Interfaces {
    /// The function type at `index`, if there is one.
    pub fn function_type(&self, index: u32) -> Option<(&[Argument], &[IType])> {
        match self.types.get(index as usize)? {
            TypeDef::Function { arguments, outputs } => Some((arguments, outputs)),
            TypeDef::Record { .. } => None,
        }
    }

    /// The record type at `index`, if there is one.
    pub fn record_type(&self, index: u32) -> Option<(&str, &[Field])> {
        match self.types.get(index as usize)? {
            TypeDef::Record { name, fields } => Some((name, fields)),
            TypeDef::Function { .. } => None,
        }
    }
}
