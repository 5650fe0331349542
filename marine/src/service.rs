//! Services: modules instantiated and linked shared-nothing, the last one the facade.
//!
//! Each module gets its own store (and so its own WASI context and memory); a call from one
//! module into another lifts the arguments out of the caller's memory, calls the callee's
//! export as any outside caller would, and lowers the result back into the caller. The stores
//! of a service share a memory budget, call parameters and a call deadline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use marine_it::{Function, IType, IValue, ModuleInterface};
use wasmtime::{
    Caller, Func, InstancePre, Linker, Memory, ResourceLimiter, Store, Trap, TypedFunc, Val,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{AbiError, CallFailure, Error, Result};
use crate::host::{run_binary, CallParameters};
use crate::lilo::{is_complex, Allocate, Guest, Lifter};
use crate::module::{CompiledModule, CALL_PARAMETERS_IMPORT, HOST_NAMESPACES, LOGGER_IMPORT};
use crate::runtime::{Runtime, TICK};

/// How one module of a service runs.
#[derive(Clone)]
pub struct ModuleConfig {
    pub module: CompiledModule,
    /// Whether the module's log lines reach the host's log (`tracing`, target `marine`).
    pub logger_enabled: bool,
    /// Log lines with a non-zero target are kept only if `target & logging_mask != 0`.
    pub logging_mask: i32,
    /// Environment variables the module sees, besides one per mapped directory.
    pub envs: Vec<(String, String)>,
    /// Directories the module sees: (path in the module, host directory). Paths cannot leave
    /// them, neither by `..` nor by symlinks. Each is also an environment variable named by
    /// its path in the module, set to the host directory, as Marine does: modules that hand
    /// paths to mounted binaries translate them with it.
    pub mapped_dirs: Vec<(String, PathBuf)>,
    /// Host programs the module may run by name: (import name, host path).
    pub mounted_binaries: Vec<(String, PathBuf)>,
}

impl ModuleConfig {
    /// A module with the logger on, no mask, and no environment, directories or binaries.
    pub fn new(module: CompiledModule) -> Self {
        ModuleConfig {
            module,
            logger_enabled: true,
            logging_mask: i32::MAX,
            envs: Vec::new(),
            mapped_dirs: Vec::new(),
            mounted_binaries: Vec::new(),
        }
    }
}

/// How a service runs.
#[derive(Clone)]
pub struct ServiceConfig {
    /// The modules in load order: a module may import only from modules before it, and the
    /// last is the facade whose functions the service offers.
    pub modules: Vec<ModuleConfig>,
    /// The most linear memory all modules together may have, in bytes; `None` for no limit.
    pub total_memory_limit: Option<u64>,
    /// The longest one call may run before it is stopped (default 60 s).
    pub call_timeout: Duration,
}

impl ServiceConfig {
    /// A service of `modules` with no memory limit and the default call timeout.
    pub fn new(modules: Vec<ModuleConfig>) -> Self {
        ServiceConfig {
            modules,
            total_memory_limit: None,
            call_timeout: Duration::from_secs(60),
        }
    }
}

/// A running service. Its calls are serialized; different services run in parallel.
pub struct Service {
    facade: Arc<Mutex<Instance>>,
    /// Every module's instance, in load order (the facade last).
    instances: Vec<(String, Arc<Mutex<Instance>>)>,
    facade_module: CompiledModule,
    shared: Arc<Shared>,
    startup: Startup,
}

/// Where the start of a service went: making its instances, or running the modules' own
/// start-up code. The second is the modules' business: the spell's `main`, for one, creates its
/// database tables and waits for the disk to confirm each write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// Instantiating and linking every module (WASI contexts, imports, memories), the
    /// runtime's own part.
    pub instantiation: Duration,
    /// The modules' `_initialize` and `_start` functions (static constructors and `main`).
    pub start_code: Duration,
}

/// What the stores of one service share.
struct Shared {
    call_parameters: Mutex<Arc<CallParameters>>,
    deadline: Mutex<Instant>,
    call_timeout: Duration,
    memory_limit: Option<u64>,
    memory_used: AtomicU64,
    memory_refused: AtomicBool,
}

/// The SDK's exports that lifting, lowering and the result registers need. Shared behind an
/// `Arc`: a typed function holds its type, which is costly to clone on every call.
struct Api {
    memory: Memory,
    allocate: Allocate,
    release_objects: TypedFunc<(), ()>,
    get_result_ptr: TypedFunc<(), i32>,
    get_result_size: TypedFunc<(), i32>,
    set_result_ptr: TypedFunc<i32, ()>,
    set_result_size: TypedFunc<i32, ()>,
}

pub(crate) struct StoreData {
    wasi: WasiP1Ctx,
    shared: Arc<Shared>,
    module: CompiledModule,
    links: HashMap<String, Arc<Mutex<Instance>>>,
    api: Option<Arc<Api>>,
    logging_mask: Option<i32>,
    mounted: HashMap<String, PathBuf>,
}

struct Instance {
    store: Store<StoreData>,
    api: Arc<Api>,
    /// The module's interface functions, in the interface's order: the export and how many
    /// Wasm results it has.
    exports: Vec<(Func, usize)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ResourceLimiter for StoreData {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let delta = (desired - current) as u64;
        let limit = self.shared.memory_limit.unwrap_or(u64::MAX);
        let granted = self
            .shared
            .memory_used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(delta).filter(|total| *total <= limit)
            })
            .is_ok();
        if !granted {
            self.shared.memory_refused.store(true, Ordering::SeqCst);
        }
        Ok(granted)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        const MAX_TABLE_ELEMENTS: usize = 1 << 20;
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl Shared {
    /// The epoch ticks left until the current call's deadline, at least one.
    fn ticks_left(&self) -> u64 {
        let left = lock(&self.deadline).saturating_duration_since(Instant::now());
        (left.as_micros() / TICK.as_micros()) as u64 + 1
    }
}

impl Service {
    /// Instantiates and links the modules of `config`.
    pub fn new(runtime: &Runtime, config: ServiceConfig) -> Result<Service> {
        let Some(facade_config) = config.modules.last() else {
            return Err(Error::Link("a service needs at least one module".into()));
        };
        let facade_module = facade_config.module.clone();
        let shared = Arc::new(Shared {
            call_parameters: Mutex::new(Arc::new(CallParameters::default())),
            deadline: Mutex::new(Instant::now() + config.call_timeout),
            call_timeout: config.call_timeout,
            memory_limit: config.total_memory_limit,
            memory_used: AtomicU64::new(0),
            memory_refused: AtomicBool::new(false),
        });
        let started = Instant::now();
        let mut start_code = Duration::ZERO;
        let mut loaded: HashMap<String, Arc<Mutex<Instance>>> = HashMap::new();
        let mut instances = Vec::with_capacity(config.modules.len());
        for module_config in &config.modules {
            let name = module_config.module.name().to_owned();
            if loaded.contains_key(&name) {
                return Err(Error::Link(format!("two modules are named `{name}`")));
            }
            let (instance, own_start) = instantiate(runtime, module_config, &shared, &loaded)?;
            start_code += own_start;
            let instance = Arc::new(Mutex::new(instance));
            loaded.insert(name.clone(), instance.clone());
            instances.push((name, instance));
        }
        let facade = instances
            .last()
            .expect("a service has at least one module")
            .1
            .clone();
        let startup = Startup {
            instantiation: started.elapsed().saturating_sub(start_code),
            start_code,
        };
        Ok(Service {
            facade,
            instances,
            facade_module,
            shared,
            startup,
        })
    }

    /// How long [`Service::new`] took, and how much of it was the modules' own code.
    pub fn startup(&self) -> Startup {
        self.startup
    }

    /// The facade module's interface: the functions this service offers.
    pub fn interface(&self) -> &ModuleInterface {
        self.facade_module.interface()
    }

    /// Calls a facade function with interface values.
    pub fn call(
        &self,
        function: &str,
        arguments: &[IValue],
        call_parameters: CallParameters,
    ) -> Result<Option<IValue>> {
        self.call_function(self.function(function)?, arguments, call_parameters)
    }

    /// Calls the facade function at `index` in the interface's list.
    fn call_function(
        &self,
        index: usize,
        arguments: &[IValue],
        call_parameters: CallParameters,
    ) -> Result<Option<IValue>> {
        let mut facade = lock(&self.facade);
        *lock(&self.shared.call_parameters) = Arc::new(call_parameters);
        *lock(&self.shared.deadline) = Instant::now() + self.shared.call_timeout;
        facade.call(index, arguments)
    }

    /// Calls a facade function with JSON arguments (an array in order, or an object by
    /// argument name) and returns its result as JSON (`null` when it returns nothing).
    pub fn call_json(
        &self,
        function: &str,
        arguments: &serde_json::Value,
        call_parameters: CallParameters,
    ) -> Result<serde_json::Value> {
        let interface = self.facade_module.interface();
        let index = self.function(function)?;
        let signature = &interface.functions[index];
        let values = json_arguments(signature, arguments, interface)?;
        let output = self.call_function(index, &values, call_parameters)?;
        Ok(match (output, &signature.output) {
            (Some(value), Some(ty)) => value.to_json(ty, interface),
            _ => serde_json::Value::Null,
        })
    }

    /// The index of the facade function called `name`, or an error listing the ones there are.
    fn function(&self, name: &str) -> Result<usize> {
        let interface = self.facade_module.interface();
        let found = interface.functions.iter().position(|f| f.name == name);
        found.ok_or_else(|| {
            let available: Vec<&str> = interface
                .functions
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            Error::NoSuchFunction {
                function: name.to_owned(),
                available: available.join(", "),
            }
        })
    }

    /// The bytes of linear memory the service's modules hold together.
    pub fn memory_used(&self) -> u64 {
        self.shared.memory_used.load(Ordering::SeqCst)
    }

    /// Each module's name and the bytes of linear memory it holds, in load order.
    pub fn memory_by_module(&self) -> Vec<(String, u64)> {
        self.instances
            .iter()
            .map(|(name, instance)| {
                let instance = lock(instance);
                (
                    name.clone(),
                    instance.api.memory.data_size(&instance.store) as u64,
                )
            })
            .collect()
    }

    /// The most memory the service may hold, in bytes, if it is limited.
    pub fn memory_limit(&self) -> Option<u64> {
        self.shared.memory_limit
    }
}

fn json_arguments(
    function: &Function,
    arguments: &serde_json::Value,
    interface: &ModuleInterface,
) -> Result<Vec<IValue>> {
    let error = |message: String| Error::Arguments {
        function: function.name.clone(),
        message,
    };
    let expected = function.arguments.len();
    let values: Vec<&serde_json::Value> = match arguments {
        serde_json::Value::Array(items) if items.len() == expected => items.iter().collect(),
        serde_json::Value::Array(items) => {
            return Err(error(format!(
                "it takes {expected} arguments, {} were given",
                items.len()
            )))
        }
        serde_json::Value::Object(map) => {
            let by_name = function.arguments.iter().map(|a| {
                map.get(&a.name)
                    .ok_or_else(|| error(format!("argument `{}` is missing", a.name)))
            });
            by_name.collect::<Result<_>>()?
        }
        // A function of one argument may be given the bare value.
        other if expected == 1 => vec![other],
        other => {
            return Err(error(format!(
                "arguments must be an array or an object, not {other}"
            )))
        }
    };
    function
        .arguments
        .iter()
        .zip(values)
        .map(|(argument, json)| {
            IValue::from_json(json, &argument.ty, interface, &argument.name)
                .map_err(|e| error(e.to_string()))
        })
        .collect()
}

fn host_error(module: &CompiledModule, function: &str, failure: CallFailure) -> wasmtime::Error {
    wasmtime::Error::new(Error::Call {
        module: module.name().to_owned(),
        function: function.to_owned(),
        failure,
    })
}

fn instantiate(
    runtime: &Runtime,
    config: &ModuleConfig,
    shared: &Arc<Shared>,
    loaded: &HashMap<String, Arc<Mutex<Instance>>>,
) -> Result<(Instance, Duration)> {
    let module = &config.module;
    let name = module.name();
    let fail = |message: String| Error::Module {
        module: name.to_owned(),
        message,
    };

    let unmounted = module
        .binary_imports()
        .find(|(_, name)| !config.mounted_binaries.iter().any(|(b, _)| b == name));
    if let Some((namespace, name)) = unmounted {
        return Err(fail(format!(
            "it imports host function `{namespace}.{name}`, which is neither part of the host API nor a binary mounted in its config"
        )));
    }

    let mut wasi = WasiCtxBuilder::new();
    // Calls are synchronous, so file operations may block the calling thread: otherwise each
    // one is handed to a thread pool and waited for (sqlite's start-up does hundreds). Set
    // before the directories are opened, which take the setting when they are.
    wasi.allow_blocking_current_thread(true);
    wasi.envs(&config.envs);
    for (guest, host) in &config.mapped_dirs {
        wasi.env(guest, host.to_string_lossy());
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| {
                fail(format!(
                    "cannot map directory {} as `{guest}`: {e:#}",
                    host.display()
                ))
            })?;
    }
    // Modules print to the host's standard error, never into the host's own output.
    wasi.stdout(wasmtime_wasi::cli::stderr()).inherit_stderr();

    let mut links = HashMap::new();
    for import in &module.interface().imports {
        let target = loaded.get(&import.namespace).ok_or_else(|| {
            fail(format!(
                "it imports `{}.{}`, but no module named `{}` is loaded before it",
                import.namespace, import.function.name, import.namespace
            ))
        })?;
        links.insert(import.namespace.clone(), target.clone());
    }

    let mut store = Store::new(
        &runtime.engine,
        StoreData {
            wasi: wasi.build_p1(),
            shared: shared.clone(),
            module: module.clone(),
            links,
            api: None,
            logging_mask: config.logger_enabled.then_some(config.logging_mask),
            mounted: config.mounted_binaries.iter().cloned().collect(),
        },
    );
    store.limiter(|data| data);
    store.set_epoch_deadline(shared.ticks_left());

    let instance = linked(runtime, module)?
        .instantiate(&mut store)
        .map_err(|e| fail(format!("cannot instantiate: {}", trap_text(&e))))?;

    let typed = |store: &mut Store<StoreData>, export: &str| {
        instance
            .get_func(&mut *store, export)
            .ok_or_else(|| fail(format!("no `{export}` export")))
    };
    let allocate_func = typed(&mut store, "allocate")?;
    let allocate = if module.inner.allocate_takes_tag {
        Allocate::SizeAndTag(
            allocate_func
                .typed(&store)
                .map_err(|e| fail(e.to_string()))?,
        )
    } else {
        Allocate::Size(
            allocate_func
                .typed(&store)
                .map_err(|e| fail(e.to_string()))?,
        )
    };
    macro_rules! api_func {
        ($name:literal) => {
            typed(&mut store, $name)?
                .typed(&store)
                .map_err(|e| fail(format!("`{}`: {e}", $name)))?
        };
    }
    let api = Arc::new(Api {
        memory: instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| fail("no `memory` export".into()))?,
        allocate,
        release_objects: api_func!("release_objects"),
        get_result_ptr: api_func!("get_result_ptr"),
        get_result_size: api_func!("get_result_size"),
        set_result_ptr: api_func!("set_result_ptr"),
        set_result_size: api_func!("set_result_size"),
    });
    store.data_mut().api = Some(api.clone());

    // The SDK runs static constructors in `_initialize`; a command module's `_start` runs main.
    let mut start_code = Duration::ZERO;
    for start in ["_initialize", "_start"] {
        if let Ok(func) = instance.get_typed_func::<(), ()>(&mut store, start) {
            let began = Instant::now();
            let called = func.call(&mut store, ());
            start_code += began.elapsed();
            if let Err(e) = called {
                let exited_cleanly = e
                    .downcast_ref::<wasmtime_wasi::I32Exit>()
                    .is_some_and(|exit| exit.0 == 0);
                if !exited_cleanly {
                    return Err(fail(format!("`{start}` failed: {}", trap_text(&e))));
                }
            }
        }
    }

    // Looked up once: a call then goes straight to its function.
    let mut exports = Vec::new();
    for function in &module.interface().functions {
        let func = typed(&mut store, &function.name)?;
        let results = func.ty(&store).results().len();
        exports.push((func, results));
    }
    Ok((
        Instance {
            store,
            api,
            exports,
        },
        start_code,
    ))
}

/// The text of a failure inside Wasm: the trap or the host error, without the backtrace.
fn trap_text(error: &wasmtime::Error) -> String {
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    error.root_cause().to_string()
}

/// `module` with its imports resolved, made once per module and shared by all its instances:
/// building a linker with the whole WASI API costs more than instantiating from it.
fn linked(runtime: &Runtime, module: &CompiledModule) -> Result<InstancePre<StoreData>> {
    let cell = &module.inner.linked;
    if let Some(linked) = cell.get() {
        return Ok(linked.clone());
    }
    let linked = linker(runtime, module)
        .and_then(|linker| linker.instantiate_pre(&module.inner.module))
        .map_err(|e| Error::Module {
            module: module.name().to_owned(),
            message: format!("cannot instantiate: {}", trap_text(&e)),
        })?;
    Ok(cell.get_or_init(|| linked).clone())
}

/// The linker of `module`: WASI (defined once per runtime and copied), the host API, every
/// host import that may name a mounted binary (whether it is mounted is checked per instance),
/// and the imports from other modules.
fn linker(runtime: &Runtime, module: &CompiledModule) -> wasmtime::Result<Linker<StoreData>> {
    let mut linker = match runtime.wasi.get() {
        Some(wasi) => wasi.clone(),
        None => {
            let mut wasi = Linker::new(&runtime.engine);
            wasmtime_wasi::p1::add_to_linker_sync(&mut wasi, |data: &mut StoreData| {
                &mut data.wasi
            })?;
            runtime.wasi.get_or_init(|| wasi).clone()
        }
    };

    for (namespace, name, _) in module.host_imports() {
        let namespace_static: &'static str = HOST_NAMESPACES
            .iter()
            .find(|n| **n == namespace)
            .expect("host imports are in host namespaces");
        match name.as_str() {
            CALL_PARAMETERS_IMPORT => {
                linker.func_wrap(
                    &namespace,
                    &name,
                    move |mut caller: Caller<'_, StoreData>| {
                        let parameters = lock(&caller.data().shared.call_parameters).clone();
                        let value = parameters.to_ivalue(namespace_static);
                        let pointer = lower_record_result(&mut caller, "CallParameters", &value)
                            .map_err(|failure| {
                                host_error(&caller.data().module, "get_call_parameters", failure)
                            })?;
                        let set_result_ptr =
                            caller.data().api.as_ref().map(|a| a.set_result_ptr.clone());
                        if let Some(set) = set_result_ptr {
                            set.call(&mut caller, pointer as i32)?;
                        }
                        Ok(())
                    },
                )?;
            }
            LOGGER_IMPORT => {
                linker.func_wrap(
                    &namespace,
                    &name,
                    |mut caller: Caller<'_, StoreData>,
                     level: i32,
                     target: i32,
                     pointer: i32,
                     len: i32| {
                        log(&mut caller, level, target, pointer as u32, len as u32);
                    },
                )?;
            }
            binary => {
                let binary = binary.to_owned();
                linker.func_wrap(
                    &namespace,
                    &name,
                    move |mut caller: Caller<'_, StoreData>, pointer: i32, len: i32| {
                        run_mounted(&mut caller, &binary, pointer as u32, len as u32)
                    },
                )?;
            }
        }
    }

    for import in &module.interface().imports {
        let Some(wasmtime::ExternType::Func(ty)) = module
            .inner
            .module
            .imports()
            .find(|i| i.module() == import.namespace && i.name() == import.function.name)
            .map(|i| i.ty())
        else {
            // Described but not imported by the code: nothing to link.
            continue;
        };
        let namespace = import.namespace.clone();
        let function = import.function.clone();
        linker.func_new(
            &import.namespace,
            &import.function.name,
            ty,
            move |mut caller, params, results| {
                call_import(&mut caller, &namespace, &function, params, results)
            },
        )?;
    }
    Ok(linker)
}

/// Lowers a host-made record into the calling module, as its record type named `record_name`.
fn lower_record_result(
    caller: &mut Caller<'_, StoreData>,
    record_name: &str,
    value: &IValue,
) -> std::result::Result<u32, CallFailure> {
    let module = caller.data().module.clone();
    let interface = module.interface();
    let index = interface
        .records
        .iter()
        .find(|(_, r)| r.name == record_name)
        .map(|(index, _)| *index)
        .ok_or_else(|| {
            CallFailure::Abi(AbiError::Guest(format!(
                "the module declares no `{record_name}` record"
            )))
        })?;
    let api = caller.data().api.clone().ok_or_else(|| {
        CallFailure::Abi(AbiError::Guest(
            "the host API was called during instantiation".into(),
        ))
    })?;
    let mut guest = Guest {
        ctx: &mut *caller,
        memory: api.memory,
        allocate: &api.allocate,
        interface,
    };
    let mut out = Vec::new();
    guest.lower(&IType::Record(index), value, &mut out)?;
    Ok(out.first().and_then(Val::i32).unwrap_or(0) as u32)
}

fn log(caller: &mut Caller<'_, StoreData>, level: i32, target: i32, pointer: u32, len: u32) {
    let Some(mask) = caller.data().logging_mask else {
        return;
    };
    if target != 0 && target & mask == 0 {
        return;
    }
    let Some(api) = caller.data().api.clone() else {
        return;
    };
    let module = caller.data().module.clone();
    let memory = api.memory.data(&*caller);
    let Ok(IValue::String(message)) =
        Lifter::new(memory, module.interface()).sequence(&IType::String, pointer, len)
    else {
        return;
    };
    let module = module.name();
    match level {
        1 => tracing::error!(target: "marine", module, "{message}"),
        2 => tracing::warn!(target: "marine", module, "{message}"),
        3 => tracing::info!(target: "marine", module, "{message}"),
        4 => tracing::debug!(target: "marine", module, "{message}"),
        _ => tracing::trace!(target: "marine", module, "{message}"),
    }
}

fn run_mounted(
    caller: &mut Caller<'_, StoreData>,
    binary: &str,
    pointer: u32,
    len: u32,
) -> wasmtime::Result<()> {
    let module = caller.data().module.clone();
    let path = caller.data().mounted.get(binary).cloned();
    let api = caller.data().api.clone();
    let (Some(path), Some(api)) = (path, api) else {
        return Err(host_error(
            &module,
            binary,
            CallFailure::Trap("the binary is not mounted".into()),
        ));
    };
    let arguments = {
        let memory = api.memory.data(&*caller);
        Lifter::new(memory, module.interface())
            .sequence(&IType::Array(Box::new(IType::String)), pointer, len)
            .map_err(|e| host_error(&module, binary, e.into()))?
    };
    let arguments = match arguments {
        IValue::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                IValue::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let result = run_binary(&path, arguments);
    let pointer = lower_record_result(caller, "MountedBinaryResult", &result)
        .map_err(|failure| host_error(&module, binary, failure))?;
    api.set_result_ptr.call(&mut *caller, pointer as i32)?;
    Ok(())
}

/// Runs an imported function of another module for the calling module.
fn call_import(
    caller: &mut Caller<'_, StoreData>,
    namespace: &str,
    function: &Function,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let module = caller.data().module.clone();
    let api = caller.data().api.clone().ok_or_else(|| {
        host_error(
            &module,
            &function.name,
            AbiError::Guest("called during instantiation".into()).into(),
        )
    })?;
    let arguments = {
        let memory = api.memory.data(&*caller);
        let mut lifter = Lifter::new(memory, module.interface());
        let mut raw = params.iter().cloned();
        function
            .arguments
            .iter()
            .map(|argument| {
                lifter
                    .lift(&argument.ty, &mut raw)
                    .map_err(|e| e.in_field(&argument.name))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| host_error(&module, &function.name, e.into()))?
    };
    // The arguments now live on the host; the caller's temporaries can go.
    api.release_objects.call(&mut *caller, ())?;

    let target = caller.data().links.get(namespace).cloned().ok_or_else(|| {
        host_error(
            &module,
            &function.name,
            CallFailure::Trap(format!("module `{namespace}` is not linked")),
        )
    })?;
    let output = {
        let mut target = lock(&target);
        let target_module = target.store.data().module.clone();
        let functions = &target_module.interface().functions;
        let Some(index) = functions.iter().position(|f| f.name == function.name) else {
            return Err(wasmtime::Error::new(Error::NoSuchFunction {
                function: format!("{namespace}.{}", function.name),
                available: String::new(),
            }));
        };
        target
            .call(index, &arguments)
            .map_err(wasmtime::Error::new)?
    };
    let (Some(value), Some(ty)) = (output, &function.output) else {
        return Ok(());
    };
    let mut raw = Vec::new();
    {
        let mut guest = Guest {
            ctx: &mut *caller,
            memory: api.memory,
            allocate: &api.allocate,
            interface: module.interface(),
        };
        guest
            .lower(ty, &value, &mut raw)
            .map_err(|e| host_error(&module, &function.name, e.into()))?;
    }
    if is_complex(ty) {
        let pointer = raw.first().and_then(Val::i32).unwrap_or(0);
        if let Some(len) = raw.get(1).and_then(Val::i32) {
            api.set_result_size.call(&mut *caller, len)?;
        }
        api.set_result_ptr.call(&mut *caller, pointer)?;
    } else if let (Some(slot), Some(value)) = (results.first_mut(), raw.into_iter().next()) {
        *slot = value;
    }
    Ok(())
}

impl Instance {
    /// Calls the function at `index` of the interface's list: lowers the arguments, runs it
    /// until the call's deadline, lifts the result and lets the module free its temporaries.
    fn call(&mut self, index: usize, arguments: &[IValue]) -> Result<Option<IValue>> {
        let module = self.store.data().module.clone();
        let function = &module.interface().functions[index];
        let call_error = |failure: CallFailure| Error::Call {
            module: module.name().to_owned(),
            function: function.name.clone(),
            failure,
        };
        if arguments.len() != function.arguments.len() {
            return Err(Error::Arguments {
                function: function.name.clone(),
                message: format!(
                    "it takes {} arguments, {} were given",
                    function.arguments.len(),
                    arguments.len()
                ),
            });
        }
        let (func, result_count) = self.exports[index];
        let ticks = self.store.data().shared.ticks_left();
        self.store.set_epoch_deadline(ticks);

        let api = self.api.clone();
        let mut raw = Vec::with_capacity(2 * arguments.len());
        {
            let mut guest = Guest {
                ctx: &mut self.store,
                memory: api.memory,
                allocate: &api.allocate,
                interface: module.interface(),
            };
            for (argument, value) in function.arguments.iter().zip(arguments) {
                guest
                    .lower(&argument.ty, value, &mut raw)
                    .map_err(|e| Error::Arguments {
                        function: function.name.clone(),
                        message: format!("argument `{}`: {e}", argument.name),
                    })?;
            }
        }
        // At most one result: the code was checked against the interface at load.
        let mut results = [Val::I32(0)];
        let results = &mut results[..result_count];
        if let Err(e) = func.call(&mut self.store, &raw, results) {
            return Err(self.failure(e, &call_error));
        }
        let output = match &function.output {
            None => None,
            Some(ty) if !is_complex(ty) => {
                let memory = api.memory.data(&self.store);
                let lifted =
                    Lifter::new(memory, module.interface()).lift(ty, &mut results.iter().cloned());
                Some(lifted.map_err(|e| call_error(e.into()))?)
            }
            Some(ty) => {
                let registers = (|| {
                    let pointer = api.get_result_ptr.call(&mut self.store, ())? as u32;
                    let size = api.get_result_size.call(&mut self.store, ())? as u32;
                    wasmtime::Result::<_>::Ok((pointer, size))
                })();
                let (pointer, size) = registers.map_err(|e| self.failure(e, &call_error))?;
                let memory = api.memory.data(&self.store);
                let mut lifter = Lifter::new(memory, module.interface());
                let lifted = match ty {
                    IType::Record(index) => lifter.record(*index, pointer),
                    _ => lifter.sequence(ty, pointer, size),
                };
                Some(lifted.map_err(|e| call_error(e.into()))?)
            }
        };
        if function.output.as_ref().is_some_and(is_complex) {
            api.release_objects
                .call(&mut self.store, ())
                .map_err(|e| self.failure(e, &call_error))?;
        }
        Ok(output)
    }

    /// Turns a failed Wasm call into the error to report: an error of a module this one
    /// called, a timeout, the memory limit, or a trap.
    fn failure(&self, error: wasmtime::Error, call_error: &dyn Fn(CallFailure) -> Error) -> Error {
        let error = match error.downcast::<Error>() {
            Ok(inner) => return inner,
            Err(error) => error,
        };
        let shared = &self.store.data().shared;
        if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return call_error(CallFailure::Timeout {
                ms: shared.call_timeout.as_millis() as u64,
            });
        }
        if let Some(limit) = shared.memory_limit {
            if shared.memory_refused.swap(false, Ordering::SeqCst) {
                return call_error(CallFailure::OutOfMemory { limit });
            }
        }
        call_error(CallFailure::Trap(trap_text(&error)))
    }
}
