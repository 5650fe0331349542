//! Calls into small modules written here: values through every kind of type, linking,
//! host API, and the failures a service must survive.

mod common;

use std::time::Duration;

use common::{Describe, ECHO};
use marine::{
    CallFailure, CallParameters, Error, IType, ModuleConfig, Runtime, RuntimeConfig, Service,
    ServiceConfig,
};
use serde_json::json;

fn runtime() -> Runtime {
    Runtime::new(Default::default()).unwrap()
}

fn service(runtime: &Runtime, modules: &[(&str, Vec<u8>)]) -> Service {
    let modules = modules
        .iter()
        .map(|(name, bytes)| ModuleConfig::new(runtime.load_module(name, bytes).unwrap()))
        .collect();
    Service::new(runtime, ServiceConfig::new(modules)).unwrap()
}

fn echo_module(ty: IType) -> Vec<u8> {
    let mut d = Describe::new();
    d.export("echo", &[("value", ty.clone())], Some(ty));
    d.module(&format!(r#"{ECHO} (export "echo" (func $echo))"#))
}

#[test]
fn strings_bytes_and_arrays_round_trip() {
    let runtime = runtime();
    let cases = [
        (IType::String, json!("héllo, world")),
        (IType::String, json!("")),
        (IType::ByteArray, json!([0, 1, 255])),
        (
            IType::Array(Box::new(IType::U64)),
            json!([1, 18446744073709551615u64]),
        ),
        (
            IType::Array(Box::new(IType::String)),
            json!(["a", "", "ccc"]),
        ),
        (
            IType::Array(Box::new(IType::Array(Box::new(IType::S16)))),
            json!([[-1, 2], [], [32767]]),
        ),
        (IType::Array(Box::new(IType::F64)), json!([1.5, -0.25])),
        (
            IType::Array(Box::new(IType::Boolean)),
            json!([true, false, true]),
        ),
    ];
    for (ty, value) in cases {
        let service = service(&runtime, &[("echo", echo_module(ty.clone()))]);
        let out = service
            .call_json("echo", &json!([value.clone()]), CallParameters::default())
            .unwrap();
        assert_eq!(out, value, "{ty}");
    }
}

#[test]
fn scalars_are_converted_both_ways() {
    let mut d = Describe::new();
    d.export("neg", &[("x", IType::S8)], Some(IType::S8));
    d.export("inc", &[("x", IType::U32)], Some(IType::U32));
    d.export("not", &[("x", IType::Boolean)], Some(IType::Boolean));
    d.export("half", &[("x", IType::F64)], Some(IType::F64));
    let module = d.module(
        r#"
        (func (export "neg") (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
        (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (func (export "not") (param i32) (result i32) (i32.eqz (local.get 0)))
        (func (export "half") (param f64) (result f64) (f64.div (local.get 0) (f64.const 2)))"#,
    );
    let runtime = runtime();
    let s = service(&runtime, &[("scalars", module)]);
    let call = |f: &str, v| {
        s.call_json(f, &json!([v]), CallParameters::default())
            .unwrap()
    };
    assert_eq!(call("neg", json!(-128)), json!(-128), "wraps as an s8");
    assert_eq!(call("neg", json!(5)), json!(-5));
    assert_eq!(
        call("inc", json!(4294967295u64)),
        json!(0),
        "wraps as a u32"
    );
    assert_eq!(call("not", json!(false)), json!(true));
    assert_eq!(call("half", json!(3.0)), json!(1.5));

    let err = s
        .call_json("neg", &json!([300]), CallParameters::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "`neg`: x: 300 is out of range for s8");
    let err = s
        .call_json("inc", &json!(["1"]), CallParameters::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "`inc`: x: expected u32, got a string");
    let err = s
        .call_json("inc", &json!([1, 2]), CallParameters::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "`inc`: it takes 1 arguments, 2 were given");
    let err = s
        .call_json("dec", &json!([1]), CallParameters::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the service has no function `dec`; it has: neg, inc, not, half"
    );
}

#[test]
fn records_use_the_packed_layout() {
    let mut d = Describe::new();
    let inner = d.record("Inner", &[("flag", IType::Boolean)]);
    let pair = d.record(
        "Pair",
        &[
            ("small", IType::U8),
            ("text", IType::String),
            ("big", IType::U64),
            ("inner", IType::Record(inner)),
        ],
    );
    d.export(
        "same",
        &[("pair", IType::Record(pair))],
        Some(IType::Record(pair)),
    );
    d.export(
        "text_len",
        &[("pair", IType::Record(pair))],
        Some(IType::U32),
    );
    d.export("big", &[("pair", IType::Record(pair))], Some(IType::U64));
    // Packed: small at 0, text (pointer, length) at 1 and 5, big at 9, inner pointer at 17.
    let module = d.module(
        r#"
        (func (export "same") (param $p i32) (global.set $result_ptr (local.get $p)))
        (func (export "text_len") (param $p i32) (result i32) (i32.load offset=5 (local.get $p)))
        (func (export "big") (param $p i32) (result i64) (i64.load offset=9 (local.get $p)))"#,
    );
    let runtime = runtime();
    let s = service(&runtime, &[("records", module)]);
    let pair = json!({"small": 7, "text": "four", "big": 1u64 << 40, "inner": {"flag": true}});
    let cp = CallParameters::default;
    assert_eq!(
        s.call_json("same", &json!([pair.clone()]), cp()).unwrap(),
        pair
    );
    assert_eq!(
        s.call_json("text_len", &json!([pair.clone()]), cp())
            .unwrap(),
        json!(4)
    );
    assert_eq!(
        s.call_json("big", &json!([pair]), cp()).unwrap(),
        json!(1u64 << 40)
    );
    let err = s
        .call_json("same", &json!([{"small": 7, "text": "x", "big": 1}]), cp())
        .unwrap_err();
    assert_eq!(err.to_string(), "`same`: pair: Pair has no field `inner`");
}

#[test]
fn a_facade_calls_the_module_it_imports() {
    let runtime = runtime();
    let echo = echo_module(IType::String);
    let mut d = Describe::new();
    d.import(
        "echo",
        "echo",
        &[("value", IType::String)],
        Some(IType::String),
    );
    d.export("relay", &[("value", IType::String)], Some(IType::String));
    // `relay` forwards to `echo.echo`; the host leaves the answer in relay's result registers.
    let facade = d.module(
        r#"
        (import "echo" "echo" (func $echo (param i32 i32)))
        (func (export "relay") (param $p i32) (param $len i32) (call $echo (local.get $p) (local.get $len)))"#,
    );
    let s = service(&runtime, &[("echo", echo), ("facade", facade.clone())]);
    let out = s.call_json(
        "relay",
        &json!(["through two modules"]),
        CallParameters::default(),
    );
    assert_eq!(out.unwrap(), json!("through two modules"));
    assert_eq!(
        s.interface().functions.len(),
        1,
        "only the facade's functions are offered"
    );

    // Loaded alone, the facade's import has nothing to link to.
    let module = runtime.load_module("facade", &facade).unwrap();
    let err = Service::new(
        &runtime,
        ServiceConfig::new(vec![ModuleConfig::new(module)]),
    )
    .err();
    assert_eq!(
        err.unwrap().to_string(),
        "module `facade`: it imports `echo.echo`, but no module named `echo` is loaded before it"
    );
}

#[test]
fn call_parameters_reach_the_module_in_the_sdk_layout() {
    let mut d = Describe::new();
    let particle = d.record(
        "ParticleParameters",
        &[
            ("id", IType::String),
            ("init_peer_id", IType::String),
            ("timestamp", IType::U64),
            ("ttl", IType::U32),
            ("script", IType::String),
            ("signature", IType::ByteArray),
            ("token", IType::String),
        ],
    );
    let tetraplet = d.record(
        "SecurityTetraplet",
        &[
            ("peer_pk", IType::String),
            ("service_id", IType::String),
            ("function_name", IType::String),
            ("lens", IType::String),
        ],
    );
    let tetraplets = IType::Array(Box::new(IType::Array(Box::new(IType::Record(tetraplet)))));
    let cp = d.record(
        "CallParameters",
        &[
            ("particle", IType::Record(particle)),
            ("service_id", IType::String),
            ("service_creator_peer_id", IType::String),
            ("host_id", IType::String),
            ("worker_id", IType::String),
            ("tetraplets", tetraplets),
        ],
    );
    d.export("whoami", &[], Some(IType::Record(cp)));
    let module = d.module(
        r#"
        (import "__marine_host_api_v3" "get_call_parameters" (func $get))
        (func (export "whoami") (call $get))"#,
    );
    let runtime = runtime();
    let s = service(&runtime, &[("whoami", module)]);
    let mut parameters = CallParameters {
        service_id: "svc".into(),
        service_creator_peer_id: "creator".into(),
        host_id: "host".into(),
        worker_id: "worker".into(),
        tetraplets: vec![vec![marine::SecurityTetraplet {
            peer_pk: "peer".into(),
            service_id: "s".into(),
            function_name: "f".into(),
            lens: ".$.a".into(),
        }]],
        ..Default::default()
    };
    parameters.particle.id = "particle".into();
    parameters.particle.timestamp = 1_700_000_000_000;
    parameters.particle.ttl = 7000;
    parameters.particle.signature = vec![1, 2, 3];
    let out = s.call_json("whoami", &json!([]), parameters).unwrap();
    assert_eq!(
        out,
        json!({
            "particle": {"id": "particle", "init_peer_id": "", "timestamp": 1_700_000_000_000u64,
                         "ttl": 7000, "script": "", "signature": [1, 2, 3], "token": ""},
            "service_id": "svc", "service_creator_peer_id": "creator", "host_id": "host",
            "worker_id": "worker",
            "tetraplets": [[{"peer_pk": "peer", "service_id": "s", "function_name": "f", "lens": ".$.a"}]]
        })
    );
}

#[test]
fn a_runaway_call_is_stopped_and_the_service_stays_usable() {
    let mut d = Describe::new();
    d.export("spin", &[], None);
    d.export("ping", &[], Some(IType::S32));
    let module = d.module(
        r#"
        (func (export "spin") (loop (br 0)))
        (func (export "ping") (result i32) (i32.const 42))"#,
    );
    let runtime = runtime();
    let loaded = runtime.load_module("spinner", &module).unwrap();
    let mut config = ServiceConfig::new(vec![ModuleConfig::new(loaded)]);
    config.call_timeout = Duration::from_millis(100);
    let s = Service::new(&runtime, config).unwrap();
    let err = s
        .call_json("spin", &json!([]), CallParameters::default())
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Call {
                failure: CallFailure::Timeout { ms: 100 },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "`spinner.spin` failed: it ran longer than the 100 ms a call may take and was stopped"
    );
    assert_eq!(
        s.call_json("ping", &json!([]), CallParameters::default())
            .unwrap(),
        json!(42)
    );
}

#[test]
fn the_memory_limit_holds_for_the_whole_service() {
    let mut d = Describe::new();
    d.export("hog", &[], None);
    d.export("ping", &[], Some(IType::S32));
    // Grows until refused, then traps as a module out of memory would.
    let module = d.module(
        r#"
        (func (export "hog")
          (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
          unreachable)
        (func (export "ping") (result i32) (i32.const 42))"#,
    );
    let runtime = runtime();
    let loaded = runtime.load_module("hog", &module).unwrap();
    let mut config = ServiceConfig::new(vec![ModuleConfig::new(loaded)]);
    config.total_memory_limit = Some(4 << 20);
    let s = Service::new(&runtime, config).unwrap();
    let err = s
        .call_json("hog", &json!([]), CallParameters::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`hog.hog` failed: the service's memory limit of 4194304 bytes was reached"
    );
    assert!(s.memory_used() <= 4 << 20);
    assert_eq!(
        s.call_json("ping", &json!([]), CallParameters::default())
            .unwrap(),
        json!(42)
    );
}

#[test]
fn memory_is_counted_without_a_limit_too() {
    let mut d = Describe::new();
    d.export("grow", &[], None);
    let module = d.module(r#"(func (export "grow") (drop (memory.grow (i32.const 2))))"#);
    let runtime = runtime();
    let s = service(&runtime, &[("grow", module)]);
    // The SDK API's memory starts with one page.
    assert_eq!(s.memory_used(), 1 << 16);
    s.call_json("grow", &json!([]), CallParameters::default())
        .unwrap();
    assert_eq!(s.memory_used(), 3 << 16);
}

#[test]
fn a_trap_fails_only_its_call() {
    let mut d = Describe::new();
    d.export("boom", &[], None);
    d.export("ping", &[], Some(IType::S32));
    let module = d.module(
        r#"
        (func (export "boom") unreachable)
        (func (export "ping") (result i32) (i32.const 42))"#,
    );
    let runtime = runtime();
    let s = service(&runtime, &[("boom", module)]);
    let err = s
        .call_json("boom", &json!([]), CallParameters::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`boom.boom` failed: wasm trap: wasm `unreachable` instruction executed"
    );
    assert_eq!(
        s.call_json("ping", &json!([]), CallParameters::default())
            .unwrap(),
        json!(42)
    );
}

#[test]
fn a_lying_result_is_refused() {
    // The registers point far outside memory.
    let mut d = Describe::new();
    d.export("liar", &[], Some(IType::String));
    let module = d.module(
        r#"(func (export "liar") (global.set $result_ptr (i32.const 65000)) (global.set $result_size (i32.const 100000)))"#,
    );
    let runtime = runtime();
    let s = service(&runtime, &[("liar", module)]);
    let err = s
        .call_json("liar", &json!([]), CallParameters::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`liar.liar` failed: 100000 bytes at 65000 lie outside the module's memory"
    );
}

#[test]
fn mounted_binaries_run_without_a_shell() {
    let mut d = Describe::new();
    let result = d.record(
        "MountedBinaryResult",
        &[
            ("ret_code", IType::S32),
            ("error", IType::String),
            ("stdout", IType::ByteArray),
            ("stderr", IType::ByteArray),
        ],
    );
    d.export(
        "run",
        &[("args", IType::Array(Box::new(IType::String)))],
        Some(IType::Record(result)),
    );
    let module = d.module(
        r#"
        (import "__marine_host_api_v3" "echo" (func $echo (param i32 i32)))
        (func (export "run") (param $p i32) (param $n i32) (call $echo (local.get $p) (local.get $n)))"#,
    );
    let runtime = runtime();
    let loaded = runtime.load_module("runner", &module).unwrap();

    let err = Service::new(
        &runtime,
        ServiceConfig::new(vec![ModuleConfig::new(loaded.clone())]),
    )
    .err();
    assert_eq!(
        err.unwrap().to_string(),
        "module `runner`: it imports host function `__marine_host_api_v3.echo`, which is neither part of the host API nor a binary mounted in its config"
    );

    let mut module_config = ModuleConfig::new(loaded);
    module_config.mounted_binaries = vec![("echo".into(), "/bin/echo".into())];
    let s = Service::new(&runtime, ServiceConfig::new(vec![module_config])).unwrap();
    let out = s
        .call_json(
            "run",
            &json!([["a b", "$HOME;", "c"]]),
            CallParameters::default(),
        )
        .unwrap();
    assert_eq!(out["ret_code"], json!(0));
    assert_eq!(out["stdout"], json!(b"a b $HOME; c\n".to_vec()));

    // The module is linked once and the link is shared, but each service's own config still
    // decides whether its binary is mounted.
    let err = Service::new(
        &runtime,
        ServiceConfig::new(vec![ModuleConfig::new(
            runtime.load_module("runner", &module).unwrap(),
        )]),
    )
    .err();
    assert!(err
        .unwrap()
        .to_string()
        .contains("neither part of the host API"));
}

#[test]
fn services_of_one_module_have_their_own_state_and_report_their_start() {
    let mut d = Describe::new();
    d.export("count", &[], Some(IType::S32));
    // `_start` runs a long loop and leaves its count in a global; `count` adds one to it.
    let module = d.module(
        r#"
        (global $n (mut i32) (i32.const 0))
        (func (export "_start")
          (loop $l
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (br_if $l (i32.lt_u (global.get $n) (i32.const 3000000)))))
        (func (export "count") (result i32)
          (global.set $n (i32.add (global.get $n) (i32.const 1)))
          (global.get $n))"#,
    );
    let runtime = runtime();
    let loaded = runtime.load_module("counter", &module).unwrap();
    let start = || {
        let began = std::time::Instant::now();
        let service = Service::new(
            &runtime,
            ServiceConfig::new(vec![ModuleConfig::new(loaded.clone())]),
        )
        .unwrap();
        (service, began.elapsed())
    };
    let (first, first_took) = start();
    let (second, _) = start();
    let count = |s: &Service| {
        s.call_json("count", &json!([]), CallParameters::default())
            .unwrap()
    };
    assert_eq!(count(&first), json!(3_000_001));
    assert_eq!(count(&first), json!(3_000_002));
    assert_eq!(count(&second), json!(3_000_001));

    let startup = first.startup();
    assert!(startup.start_code > Duration::ZERO, "{startup:?}");
    assert!(
        startup.instantiation + startup.start_code <= first_took,
        "{startup:?}"
    );

    // A module without start-up code spends nothing there.
    let echo = service(&runtime, &[("echo", echo_module(IType::String))]);
    assert_eq!(echo.startup().start_code, Duration::ZERO);
    assert!(echo.startup().instantiation > Duration::ZERO);
}

#[test]
fn a_section_that_lies_about_the_code_is_refused_at_load() {
    let mut d = Describe::new();
    d.export("greet", &[("name", IType::String)], Some(IType::String));
    let module = d.module(r#"(func (export "greet") (param i32) (result i32) (local.get 0))"#);
    let err = runtime().load_module("m", &module).err().unwrap();
    assert_eq!(
        err.to_string(),
        "module `m`: function `greet`: its interface type needs the Wasm signature (i32, i32) -> (), but the code has (i32) -> (i32)"
    );

    let err = runtime()
        .load_module("m", b"\0asm\x01\0\0\0")
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "module `m`: it has no `interface-types` section: it was not built for Marine (build it with `marine build`)"
    );
    let err = runtime().load_module("m", b"not wasm").err().unwrap();
    assert!(
        err.to_string()
            .starts_with("module `m`: not a valid Wasm module: "),
        "{err}"
    );
}

#[test]
fn modules_load_together_and_the_first_failure_in_order_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let echo = dir.path().join("echo.wasm");
    let broken = dir.path().join("broken.wasm");
    let missing = dir.path().join("missing.wasm");
    std::fs::write(&echo, echo_module(IType::String)).unwrap();
    std::fs::write(&broken, b"not wasm").unwrap();
    let runtime = runtime();

    let loaded = runtime
        .load_module_files(&[("first", &echo), ("second", &echo)])
        .unwrap();
    let names: Vec<&str> = loaded.iter().map(|module| module.name()).collect();
    assert_eq!(names, ["first", "second"]);
    let service = Service::new(
        &runtime,
        ServiceConfig::new(vec![ModuleConfig::new(loaded[1].clone())]),
    )
    .unwrap();
    let echoed = service
        .call_json("echo", &json!(["hi"]), CallParameters::default())
        .unwrap();
    assert_eq!(echoed, json!("hi"));

    let err = runtime
        .load_module_files(&[("ok", &echo), ("gone", &missing), ("bad", &broken)])
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Io { path, .. } if path == &missing),
        "{err}"
    );
    let err = runtime
        .load_module_files(&[("bad", &broken), ("gone", &missing)])
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("module `bad`: not a valid Wasm module"),
        "{err}"
    );
}

#[test]
fn a_module_file_changed_in_place_is_loaded_as_it_is_now() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
    })
    .unwrap();
    let file = dir.path().join("echo.wasm");
    let cached = |extension: &str| {
        std::fs::read_dir(cache.path())
            .unwrap()
            .filter(|entry| {
                let path = entry.as_ref().unwrap().path();
                path.extension().is_some_and(|e| e == extension)
            })
            .count()
    };
    let echoes = |argument: serde_json::Value| {
        let module = runtime.load_module_file("echo", &file).unwrap();
        let service = Service::new(
            &runtime,
            ServiceConfig::new(vec![ModuleConfig::new(module)]),
        )
        .unwrap();
        service
            .call_json(
                "echo",
                &json!([argument.clone()]),
                CallParameters::default(),
            )
            .is_ok_and(|echoed| echoed == argument)
    };
    // The cache remembers a file's content hash only once the file has stopped changing.
    let settle = || std::thread::sleep(Duration::from_millis(3100));

    std::fs::write(&file, echo_module(IType::String)).unwrap();
    assert!(echoes(json!("hi")));
    assert_eq!((cached("cwasm"), cached("source")), (1, 0));
    settle();
    assert!(echoes(json!("hi")));
    assert!(echoes(json!("hi")));
    assert_eq!((cached("cwasm"), cached("source")), (1, 1));

    std::fs::write(&file, echo_module(IType::ByteArray)).unwrap();
    assert!(echoes(json!([1, 2, 3])));
    assert!(!echoes(json!("hi")));
    settle();
    assert!(echoes(json!([1, 2, 3])));
    assert_eq!((cached("cwasm"), cached("source")), (2, 2));
}

/// The module of the call benchmarks (`benches/service.rs`), also run by the reference
/// runtime for JS: `echo_string`, and `echo_bytes` on `(array u8)`, the type the SDK gives a
/// `Vec<u8>`.
fn bench_echo_module() -> Vec<u8> {
    let mut d = Describe::new();
    d.export(
        "echo_string",
        &[("value", IType::String)],
        Some(IType::String),
    );
    let bytes = IType::Array(Box::new(IType::U8));
    d.export("echo_bytes", &[("value", bytes.clone())], Some(bytes));
    d.module(&format!(
        r#"{ECHO} (export "echo_string" (func $echo)) (export "echo_bytes" (func $echo))"#
    ))
}

#[test]
fn the_benchmark_module_is_current_and_echoes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/echo.wasm");
    let made = bench_echo_module();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &made).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == made,
        "{} is not what this test makes; rewrite it with UPDATE_EXPECT=1",
        path.display()
    );

    let s = service(&runtime(), &[("echo", committed)]);
    let call = |f: &str, v: serde_json::Value| {
        s.call_json(f, &json!([v]), CallParameters::default())
            .unwrap()
    };
    assert_eq!(call("echo_string", json!("héllo")), json!("héllo"));
    assert_eq!(call("echo_bytes", json!([0, 7, 255])), json!([0, 7, 255]));
}
