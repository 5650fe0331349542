//! Loading a module: its custom sections, its interface checked against its Wasm code, and the
//! compiled code.

use std::sync::{Arc, OnceLock};

use marine_it::{Function, Interfaces, ModuleInterface};
use wasmparser::{Parser, Payload};
use wasmtime::{ExternType, FuncType, InstancePre, ValType};

use crate::error::{Error, Result};
use crate::lilo::{flatten, is_complex};
use crate::service::StoreData;

/// The oldest SDK whose modules this runtime can call.
const MIN_SDK_VERSION: (u64, u64, u64) = (0, 6, 0);
/// The oldest IT format this runtime reads.
const MIN_IT_VERSION: (u64, u64, u64) = (0, 20, 0);

/// The namespaces that offer the host API; the SDK's version decides which one a module imports.
pub(crate) const HOST_NAMESPACES: [&str; 4] = [
    "host",
    "__marine_host_api_v1",
    "__marine_host_api_v2",
    "__marine_host_api_v3",
];

/// The host API's functions; any other host import is a mounted binary.
pub(crate) const CALL_PARAMETERS_IMPORT: &str = "get_call_parameters";
pub(crate) const LOGGER_IMPORT: &str = "log_utf8_string";
const HOST_API_FUNCTIONS: [&str; 2] = [CALL_PARAMETERS_IMPORT, LOGGER_IMPORT];

pub(crate) const WASI_NAMESPACE: &str = "wasi_snapshot_preview1";

/// A compiled module with its checked interface; cheap to clone.
#[derive(Clone)]
pub struct CompiledModule {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub name: String,
    pub module: wasmtime::Module,
    pub interface: ModuleInterface,
    pub sdk_version: String,
    /// Whether `allocate` takes a type tag besides the size.
    pub allocate_takes_tag: bool,
    /// The module linked to the host, made on its first instantiation.
    pub linked: OnceLock<InstancePre<StoreData>>,
}

impl CompiledModule {
    /// The name the module was loaded under (its import namespace for other modules).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The module's interface: its callable functions, imports and records.
    pub fn interface(&self) -> &ModuleInterface {
        &self.inner.interface
    }

    /// The SDK version from the module's `__fluence_sdk_version` section.
    pub fn sdk_version(&self) -> &str {
        &self.inner.sdk_version
    }

    /// Whether the module writes to the host's log (imports `log_utf8_string`).
    pub fn uses_logger(&self) -> bool {
        self.host_imports()
            .any(|(_, name, _)| name == LOGGER_IMPORT)
    }

    /// The host binaries the module calls by name: its host imports that are not part of the
    /// host API, which a service must mount for it to link.
    pub fn mounted_binary_imports(&self) -> Vec<String> {
        self.binary_imports().map(|(_, name)| name).collect()
    }

    /// The host imports that name binaries, by namespace and name.
    pub(crate) fn binary_imports(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.host_imports()
            .map(|(namespace, name, _)| (namespace, name))
            .filter(|(_, name)| !HOST_API_FUNCTIONS.contains(&name.as_str()))
    }

    /// The functions this module imports from the host API, by namespace and name.
    pub(crate) fn host_imports(&self) -> impl Iterator<Item = (String, String, FuncType)> + '_ {
        self.inner.module.imports().filter_map(|import| {
            let ExternType::Func(ty) = import.ty() else {
                return None;
            };
            HOST_NAMESPACES
                .contains(&import.module())
                .then(|| (import.module().to_owned(), import.name().to_owned(), ty))
        })
    }
}

/// The custom sections of a module that Marine reads.
pub struct Sections<'a> {
    pub interface_types: &'a [u8],
    pub sdk_version: &'a str,
}

/// Finds the `interface-types` and `__fluence_sdk_version` sections of a module, each exactly
/// once, without decoding the code.
pub fn read_sections<'a>(bytes: &'a [u8]) -> std::result::Result<Sections<'a>, String> {
    let mut interface_types = Vec::new();
    let mut sdk_versions = Vec::new();
    let mut parser = Parser::new(0);
    let mut offset = 0;
    loop {
        let (payload, consumed) = match parser
            .parse(&bytes[offset..], true)
            .map_err(|e| format!("not a valid Wasm module: {e}"))?
        {
            wasmparser::Chunk::NeedMoreData(_) => {
                return Err("not a valid Wasm module: it ends too early".into())
            }
            wasmparser::Chunk::Parsed { payload, consumed } => (payload, consumed),
        };
        offset += consumed;
        match payload {
            Payload::CustomSection(section) if section.name() == marine_it::SECTION_NAME => {
                interface_types.push(section.data())
            }
            Payload::CustomSection(section)
                if section.name() == marine_it::SDK_VERSION_SECTION_NAME =>
            {
                sdk_versions.push(section.data())
            }
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                offset += size as usize;
            }
            Payload::End(_) => break,
            _ => {}
        }
    }
    let one = |found: Vec<&'a [u8]>, name: &str| {
        match found.len() {
        1 => Ok(found[0]),
        0 => Err(format!("it has no `{name}` section: it was not built for Marine (build it with `marine build`)")),
        n => Err(format!("it has {n} `{name}` sections; exactly one is allowed")),
    }
    };
    let interface_types = one(interface_types, marine_it::SECTION_NAME)?;
    let sdk_version = one(sdk_versions, marine_it::SDK_VERSION_SECTION_NAME)?;
    let sdk_version = std::str::from_utf8(sdk_version)
        .map_err(|_| "its SDK version section is not UTF-8".to_owned())?;
    Ok(Sections {
        interface_types,
        sdk_version: sdk_version.trim_end_matches('\0'),
    })
}

fn check_version(what: &str, text: &str, min: (u64, u64, u64)) -> std::result::Result<(), String> {
    let version = marine_it::parse_version(text)
        .ok_or_else(|| format!("its {what} `{text}` is not a version"))?;
    if version < min {
        let (a, b, c) = min;
        return Err(format!(
            "its {what} {text} is older than {a}.{b}.{c}, the oldest this runtime supports"
        ));
    }
    Ok(())
}

/// What a module's custom sections say about it.
#[derive(Debug, Clone)]
pub struct Description {
    /// The SDK version from `__fluence_sdk_version`.
    pub sdk_version: String,
    /// The `interface-types` section as written.
    pub interfaces: Interfaces,
    /// The section checked and resolved.
    pub interface: ModuleInterface,
}

/// Reads a module's custom sections into a checked interface, without compiling its code.
/// The versions are not judged here: a runtime refuses old ones when it loads a module, while
/// inspecting one still works.
pub fn describe(bytes: &[u8]) -> std::result::Result<Description, String> {
    let sections = read_sections(bytes)?;
    let interfaces = marine_it::decode(sections.interface_types).map_err(|e| e.to_string())?;
    let interface =
        ModuleInterface::new(&interfaces).map_err(|e| format!("interface-types section: {e}"))?;
    Ok(Description {
        sdk_version: sections.sdk_version.to_owned(),
        interfaces,
        interface,
    })
}

/// The Wasm signature an interface function must have.
pub(crate) fn core_signature(function: &Function) -> (Vec<ValType>, Vec<ValType>) {
    let mut params = Vec::new();
    for argument in &function.arguments {
        flatten(&argument.ty, &mut params);
    }
    let mut results = Vec::new();
    if let Some(output) = function.output.as_ref().filter(|ty| !is_complex(ty)) {
        flatten(output, &mut results);
    }
    (params, results)
}

fn same_types(a: impl ExactSizeIterator<Item = ValType>, b: &[ValType]) -> bool {
    a.len() == b.len() && a.zip(b).all(|(x, y)| ValType::eq(&x, y))
}

/// Checks that Wasm function type `ty` is the one interface function `function` implies.
fn check_signature(
    what: &str,
    ty: &FuncType,
    function: &Function,
) -> std::result::Result<(), String> {
    let (params, results) = core_signature(function);
    if same_types(ty.params(), &params) && same_types(ty.results(), &results) {
        return Ok(());
    }
    Err(format!(
        "{what}: its interface type needs the Wasm signature {}, but the code has {}",
        signature_text(&params, &results),
        signature_text(
            &ty.params().collect::<Vec<_>>(),
            &ty.results().collect::<Vec<_>>()
        )
    ))
}

fn signature_text(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

/// Checks that the compiled code has what the interface promises: each interface function as
/// an export with the matching Wasm signature, the SDK's API exports, and imports of other
/// modules that match their interface.
pub(crate) fn check_code(
    module: &wasmtime::Module,
    interface: &ModuleInterface,
) -> std::result::Result<bool, String> {
    let export = |name: &str| match module.get_export(name) {
        Some(ExternType::Func(ty)) => Ok(ty),
        Some(_) => Err(format!("its export `{name}` is not a function")),
        None => Err(format!("it does not export `{name}`")),
    };
    for function in &interface.functions {
        let ty = export(&function.name)?;
        check_signature(&format!("function `{}`", function.name), &ty, function)?;
    }
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        return Err("it does not export its memory as `memory`".into());
    }
    let allocate = export("allocate")?;
    let allocate_takes_tag = match allocate.params().len() {
        2 => true,
        1 => false,
        _ => return Err("its `allocate` takes neither (size) nor (size, tag)".into()),
    };
    for (name, params, results) in [
        ("release_objects", 0, 0),
        ("get_result_ptr", 0, 1),
        ("get_result_size", 0, 1),
        ("set_result_ptr", 1, 0),
        ("set_result_size", 1, 0),
    ] {
        let ty = export(name)?;
        if ty.params().len() != params || ty.results().len() != results {
            return Err(format!("its `{name}` does not have the SDK's signature"));
        }
    }
    for import in module.imports() {
        let namespace = import.module();
        if namespace == WASI_NAMESPACE || HOST_NAMESPACES.contains(&namespace) {
            continue;
        }
        let ExternType::Func(ty) = import.ty() else {
            return Err(format!(
                "it imports `{namespace}.{}`, which is not a function; modules share nothing but calls",
                import.name()
            ));
        };
        let Some(imported) = interface
            .imports
            .iter()
            .find(|i| i.namespace == namespace && i.function.name == import.name())
        else {
            return Err(format!(
                "it imports `{namespace}.{}`, which its interface-types section does not describe",
                import.name()
            ));
        };
        let what = format!("import `{namespace}.{}`", import.name());
        check_signature(&what, &ty, &imported.function)?;
    }
    Ok(allocate_takes_tag)
}

pub(crate) fn module_error(module: &str, message: impl Into<String>) -> Error {
    Error::Module {
        module: module.to_owned(),
        message: message.into(),
    }
}

/// Loads a module from bytes: checks its sections and compiles it (or takes the compiled code
/// from the cache). `content_hash` is `blake3(bytes)` when the caller knows it already.
pub(crate) fn load(
    runtime: &crate::Runtime,
    name: &str,
    bytes: &[u8],
    content_hash: Option<blake3::Hash>,
) -> Result<CompiledModule> {
    let checked = describe(bytes).and_then(|description| {
        check_version("SDK version", &description.sdk_version, MIN_SDK_VERSION)?;
        check_version(
            "IT version",
            &description.interfaces.version,
            MIN_IT_VERSION,
        )?;
        Ok(description)
    });
    let Description {
        sdk_version,
        interface,
        ..
    } = checked.map_err(|m| module_error(name, m))?;
    let module = runtime.compile(name, bytes, content_hash)?;
    let allocate_takes_tag = check_code(&module, &interface).map_err(|m| module_error(name, m))?;
    Ok(CompiledModule {
        inner: Arc::new(ModuleInner {
            name: name.to_owned(),
            module,
            interface,
            sdk_version,
            allocate_takes_tag,
            linked: OnceLock::new(),
        }),
    })
}
