//! `aquac fmt` run as a program.

use std::path::PathBuf;
use std::process::{Command, Output};

fn aquac(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aquac"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn temp_file(name: &str, text: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aquac-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const MESSY: &str = "aqua M\nfunc f(x:u32)->u32:\n  y=x+1 -- add\n  <- y\n";
const TIDY: &str = "aqua M\n\nfunc f(x: u32) -> u32:\n    y = x + 1 -- add\n    <- y\n";

#[test]
fn formats_standard_input_to_standard_output() {
    let out = aquac(&["fmt", "-"], Some(MESSY));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), TIDY);
}

#[test]
fn rewrites_files_in_place_and_check_reports_untidy_ones() {
    let path = temp_file("messy.aqua", MESSY.as_bytes());
    let file = path.to_str().unwrap();
    let checked = aquac(&["fmt", "--check", file], None);
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&checked.stdout).trim(), file);
    assert!(aquac(&["fmt", file], None).status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), TIDY);
    assert!(aquac(&["fmt", "--check", file], None).status.success());
}

#[test]
fn files_with_errors_are_left_untouched_and_reported() {
    let broken = "aqua M\n\nfunc f():\n  x <- (1\n";
    let path = temp_file("broken.aqua", broken.as_bytes());
    let out = aquac(&["fmt", "--color", "never", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[E0104]") && stderr.contains("broken.aqua:4:8"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn invalid_utf8_is_a_diagnostic_at_the_bad_byte() {
    let path = temp_file("bytes.aqua", b"aqua M\n\nfunc f():\n  x = \"\xff\"\n");
    let out = aquac(&["fmt", "--color", "never", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[E0111]") && stderr.contains("byte 25"),
        "{stderr}"
    );
}
