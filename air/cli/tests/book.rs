//! Runs the shell sessions of the book's chapters that use the `air` command and compares their
//! output with the book.
//!
//! Every ```` ```console ```` block of a chapter is a session: `$ ` starts a command (a line
//! ending with `\` continues it), the lines after it are its output, standard output and
//! standard error together. All blocks of a chapter run in order in one `sh`, in an empty
//! directory, with the built `air` first on `PATH`, so later blocks use the files and variables
//! of earlier ones. `UPDATE_EXPECT=1` rewrites the outputs in the book.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{text, TempDir};

/// Separates the outputs of the commands; no command prints it.
const MARKER: char = '\u{1e}';

/// The chapters with sessions, relative to `book/src`.
const CHAPTERS: &[&str] = &["air/tools.md", "vm/execution.md"];

fn chapter(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../book/src")
        .join(name)
}

/// A command of a session and the output the book shows for it.
struct Step {
    /// The command's lines, without the `$ `.
    command: Vec<String>,
    /// Index in the chapter's lines of the command's last line; the output follows it.
    last_line: usize,
    expected: Vec<String>,
}

fn steps(markdown: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    let mut continued = false;
    for (index, line) in markdown.lines().enumerate() {
        if line.starts_with("```") {
            in_console = !in_console && line.trim_start_matches('`') == "console";
            continue;
        }
        if !in_console {
            continue;
        }
        if continued {
            let step = steps.last_mut().expect("a continued command");
            step.command.push(line.to_owned());
            step.last_line = index;
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: vec![command.to_owned()],
                last_line: index,
                expected: Vec::new(),
            });
        } else {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("line {}: output before any command", index + 1));
            step.expected.push(line.to_owned());
        }
        continued = line.ends_with('\\');
    }
    steps
}

/// Runs all the commands in one shell; returns each one's output lines.
fn run(steps: &[Step]) -> Vec<Vec<String>> {
    let mut script = String::from("exec 2>&1\n");
    for step in steps {
        script.push_str(&format!("printf '\\036'\n{}\n", step.command.join("\n")));
    }
    let air = Path::new(env!("CARGO_BIN_EXE_air"));
    let mut path = std::ffi::OsString::from(air.parent().expect("a directory"));
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let dir = TempDir::new("book");
    let output = Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir.path(""))
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .expect("run sh");
    let output = text(&output.stdout);
    let mut outputs: Vec<Vec<String>> = output
        .split(MARKER)
        .map(|chunk| chunk.lines().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        outputs.remove(0),
        Vec::<String>::new(),
        "nothing before the first marker"
    );
    assert_eq!(
        outputs.len(),
        steps.len(),
        "one output per command:\n{output}"
    );
    outputs
}

#[test]
fn console_sessions_print_what_the_book_shows() {
    for name in CHAPTERS {
        check_chapter(name);
    }
}

fn check_chapter(name: &str) {
    let path = chapter(name);
    let markdown = std::fs::read_to_string(&path).expect("read the chapter");
    let steps = steps(&markdown);
    assert!(steps.len() >= 5, "{name} has sessions");
    let outputs = run(&steps);

    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let mut lines: Vec<&str> = markdown.lines().collect();
        // From the end, so that the earlier line indices stay valid.
        for (step, output) in steps.iter().zip(&outputs).rev() {
            let start = step.last_line + 1;
            lines.splice(
                start..start + step.expected.len(),
                output.iter().map(String::as_str),
            );
        }
        std::fs::write(&path, lines.join("\n") + "\n").expect("write the chapter");
        return;
    }
    for (step, output) in steps.iter().zip(&outputs) {
        assert_eq!(
            output,
            &step.expected,
            "{name}: the output of `{}` differs from the book (UPDATE_EXPECT=1 rewrites the book)",
            step.command.join("\n")
        );
    }
}
