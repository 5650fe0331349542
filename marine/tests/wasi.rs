//! What a module reaches through WASI: the directories its config maps and nothing around
//! them, the environment its config gives and nothing of the host's.
//!
//! The module below calls WASI itself (as compiled code does through its libc): `open` tries
//! `path_open` on a directory descriptor and returns the errno, `read` returns a file's
//! contents, `environ` returns the environment block (`KEY=value`, each ending in NUL).

// Shared with runtime.rs, which uses all of it.
#[allow(dead_code)]
mod common;

use std::path::Path;

use common::Describe;
use marine::{CallParameters, IType, ModuleConfig, Runtime, Service, ServiceConfig};
use serde_json::json;

const WASI: &str = r#"
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))

  ;; Opens `path` under descriptor `dir` for reading, following symlinks; the new descriptor
  ;; lands at address 16. Returns the errno.
  (func $open_at (param $dir i32) (param $path i32) (param $len i32) (result i32)
    (call $path_open (local.get $dir) (i32.const 1) (local.get $path) (local.get $len)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))

  (func (export "open") (param $dir i32) (param $path i32) (param $len i32) (result i32)
    (local $errno i32)
    (local.set $errno (call $open_at (local.get $dir) (local.get $path) (local.get $len)))
    (if (i32.eqz (local.get $errno))
      (then (drop (call $fd_close (i32.load (i32.const 16))))))
    (local.get $errno))

  (func (export "read") (param $dir i32) (param $path i32) (param $len i32)
    (local $fd i32) (local $buffer i32)
    (if (call $open_at (local.get $dir) (local.get $path) (local.get $len)) (then unreachable))
    (local.set $fd (i32.load (i32.const 16)))
    (local.set $buffer (call $allocate (i32.const 4096) (i32.const 1)))
    ;; One iovec at 24 (buffer, capacity); the count read lands at 32.
    (i32.store (i32.const 24) (local.get $buffer))
    (i32.store (i32.const 28) (i32.const 4096))
    (if (call $fd_read (local.get $fd) (i32.const 24) (i32.const 1) (i32.const 32))
      (then unreachable))
    (drop (call $fd_close (local.get $fd)))
    (global.set $result_ptr (local.get $buffer))
    (global.set $result_size (i32.load (i32.const 32))))

  (func (export "environ")
    (local $pointers i32) (local $block i32)
    ;; The variable count lands at 16, the block's size at 20.
    (if (call $environ_sizes_get (i32.const 16) (i32.const 20)) (then unreachable))
    (local.set $pointers
      (call $allocate (i32.mul (i32.load (i32.const 16)) (i32.const 4)) (i32.const 1)))
    (local.set $block (call $allocate (i32.load (i32.const 20)) (i32.const 1)))
    (if (call $environ_get (local.get $pointers) (local.get $block)) (then unreachable))
    (global.set $result_ptr (local.get $block))
    (global.set $result_size (i32.load (i32.const 20))))
"#;

/// The first preopened directory: descriptors 0 to 2 are the standard streams.
const MAPPED: i32 = 3;

fn module() -> Vec<u8> {
    let mut d = Describe::new();
    let at = [("dir", IType::S32), ("path", IType::String)];
    d.export("open", &at, Some(IType::S32));
    d.export("read", &at, Some(IType::String));
    d.export("environ", &[], Some(IType::String));
    d.module(WASI)
}

/// The module with `mapped` (if any) as `/data` and `envs`.
fn service(mapped: Option<&Path>, envs: &[(&str, &str)]) -> Service {
    let runtime = Runtime::new(Default::default()).unwrap();
    let mut config = ModuleConfig::new(runtime.load_module("wasi", &module()).unwrap());
    config.mapped_dirs = mapped
        .map(|dir| ("/data".to_owned(), dir.to_owned()))
        .into_iter()
        .collect();
    config.envs = envs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Service::new(&runtime, ServiceConfig::new(vec![config])).unwrap()
}

fn open(service: &Service, dir: i32, path: &str) -> i64 {
    let errno = service
        .call_json("open", &json!([dir, path]), CallParameters::default())
        .unwrap();
    errno.as_i64().unwrap()
}

/// WASI errnos: `EBADF`, `ENOENT`, `ENOTDIR`, `EPERM`, `ENOTCAPABLE`.
const EBADF: i64 = 8;
const ENOENT: i64 = 44;
const ENOTDIR: i64 = 54;
const EPERM: i64 = 63;
const ENOTCAPABLE: i64 = 76;

#[test]
fn files_outside_the_mapped_directory_cannot_be_opened() {
    let root = tempfile::tempdir().unwrap();
    let mapped = root.path().join("mapped");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(mapped.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(mapped.join("inside.txt"), "inside").unwrap();
    let secret = outside.join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, mapped.join(name));
    link(&secret, "absolute-link").unwrap();
    link(Path::new("../outside/secret.txt"), "relative-link").unwrap();
    link(Path::new("../../outside/secret.txt"), "sub/deep-link").unwrap();
    link(Path::new("inside.txt"), "inner-link").unwrap();
    link(Path::new("/"), "root-link").unwrap();
    let service = service(Some(&mapped), &[]);

    // What lies inside is reachable, also by `..` and symlinks that stay inside.
    for path in ["inside.txt", "sub/../inside.txt", "./inner-link"] {
        assert_eq!(open(&service, MAPPED, path), 0, "{path}");
        let read = service
            .call_json("read", &json!([MAPPED, path]), CallParameters::default())
            .unwrap();
        assert_eq!(read, json!("inside"), "{path}");
    }

    let escapes = [
        "../../etc/passwd".to_owned(),
        "../../../../../../../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        "../outside/secret.txt".to_owned(),
        "sub/../../outside/secret.txt".to_owned(),
        secret.to_str().unwrap().to_owned(),
        "absolute-link".into(),
        "relative-link".into(),
        "sub/deep-link".into(),
        "root-link/etc/passwd".into(),
    ];
    for path in &escapes {
        let errno = open(&service, MAPPED, path);
        assert!(
            [EPERM, ENOTCAPABLE].contains(&errno),
            "`{path}` must be refused, got errno {errno}"
        );
        let read = service.call_json("read", &json!([MAPPED, path]), CallParameters::default());
        assert!(read.is_err(), "`{path}` was read: {read:?}");
    }
    // Only preopened directories are roots for paths: not the standard streams, nor a
    // descriptor that does not exist.
    for dir in [0, 1, 2, MAPPED + 1, 1000] {
        let errno = open(&service, dir, "inside.txt");
        assert!(
            [EBADF, ENOTDIR, ENOTCAPABLE].contains(&errno),
            "descriptor {dir}: errno {errno}"
        );
    }
    assert_eq!(open(&service, MAPPED, "missing.txt"), ENOENT);
    // The service is still usable after the refusals.
    assert_eq!(open(&service, MAPPED, "inside.txt"), 0);
}

/// The environment block as `KEY=value` strings, in order.
fn environ(service: &Service) -> Vec<String> {
    let block = service
        .call_json("environ", &json!([]), CallParameters::default())
        .unwrap();
    let block = block.as_str().unwrap();
    let entries: Vec<&str> = block.split_terminator('\0').collect();
    entries.into_iter().map(str::to_owned).collect()
}

#[test]
fn only_configured_variables_are_visible() {
    let mapped = tempfile::tempdir().unwrap();
    let configured = service(Some(mapped.path()), &[("GREETING", "hello"), ("EMPTY", "")]);
    let mut seen = environ(&configured);
    seen.sort();
    // A mapped directory is also announced under its name, with its host path, which is what
    // modules that pass paths to mounted binaries rely on (Marine does the same).
    let mut expected = vec![
        "EMPTY=".to_owned(),
        "GREETING=hello".to_owned(),
        format!("/data={}", mapped.path().display()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // The host's own variables stay out, whatever the host has.
    assert!(std::env::var_os("PATH").is_some());
    assert!(!seen.iter().any(|e| e.starts_with("PATH=")));

    let bare = service(None, &[]);
    assert_eq!(environ(&bare), Vec::<String>::new());
}
