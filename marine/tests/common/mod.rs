//! Test modules written in WAT, with interface-types sections made by `marine-it`.

use marine_it::{Argument, Export, Field, IType, Implementation, Import, Interfaces, TypeDef};

/// The SDK's API: memory, a bump allocator (`$allocate`, which test code may call too) and the
/// result registers.
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
  (func (export "release_objects"))
  (func (export "get_result_ptr") (result i32) (global.get $result_ptr))
  (func (export "get_result_size") (result i32) (global.get $result_size))
  (func (export "set_result_ptr") (param i32) (global.set $result_ptr (local.get 0)))
  (func (export "set_result_size") (param i32) (global.set $result_size (local.get 0)))
"#;

/// An interface being described: records first, then functions.
#[derive(Default)]
pub struct Describe {
    pub interfaces: Interfaces,
}

impl Describe {
    pub fn new() -> Self {
        let mut d = Describe::default();
        d.interfaces.version = "0.27.0".into();
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

    /// Adds an exported function, as the SDK's generator does.
    pub fn export(
        &mut self,
        name: &str,
        arguments: &[(&str, IType)],
        output: Option<IType>,
    ) -> &mut Self {
        let adapter = self.function_type(arguments, output.clone());
        let core = self.function_type(arguments, output);
        self.interfaces.exports.push(Export {
            name: name.into(),
            function_type: core,
        });
        self.interfaces.implementations.push(Implementation {
            core_function_type: core,
            adapter_function_type: adapter,
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
