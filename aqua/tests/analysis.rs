//! The editor queries of `aqua::analysis`: the type at a position, the definition of the
//! name there and its references, across modules.
//!
//! Each case is a set of files; `$0` in the text of `main.aqua` marks the position asked
//! about (and is removed before compiling). Answers are shown as `file:line:col text`.

use std::path::{Path, PathBuf};

use aqua::analysis::Location;
use aqua::compile::{check, Compilation, Options};
use aqua::project::MemoryFiles;

const MARK: &str = "$0";

/// Checks the files, the marked position being in `main.aqua`; gives the compilation and the
/// offset of the mark.
fn checked(files: &[(&str, &str)]) -> (Compilation, usize) {
    let mut offset = None;
    let files: MemoryFiles = files
        .iter()
        .map(|(name, text)| {
            if *name == "main.aqua" {
                offset = text.find(MARK);
            }
            (*name, text.replace(MARK, ""))
        })
        .collect();
    let compilation = check(&[PathBuf::from("main.aqua")], &files, &Options::default());
    let diagnostics: Vec<String> = compilation
        .diagnostics()
        .iter()
        .map(|(_, d)| d.message.clone())
        .collect();
    assert!(
        diagnostics.is_empty(),
        "the case has errors: {diagnostics:?}"
    );
    (compilation, offset.expect("main.aqua has a $0 mark"))
}

fn main_module(compilation: &Compilation) -> aqua::project::ModuleId {
    compilation
        .module_at(Path::new("main.aqua"))
        .expect("main.aqua is loaded")
}

/// `file:line:col text` of a location.
fn show(compilation: &Compilation, location: Location) -> String {
    let module = &compilation.project.modules[location.module.index()];
    let before = &module.text[..location.start];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!(
        "{}:{line}:{col} {}",
        module.path.display(),
        &module.text[location.start..location.end]
    )
}

fn type_at(files: &[(&str, &str)]) -> Option<String> {
    let (compilation, offset) = checked(files);
    compilation
        .type_at(main_module(&compilation), offset)
        .map(|(location, ty)| format!("{}: {ty}", show(&compilation, location)))
}

fn definition(files: &[(&str, &str)]) -> Option<String> {
    let (compilation, offset) = checked(files);
    compilation
        .definition_at(main_module(&compilation), offset)
        .map(|location| show(&compilation, location))
}

fn references(files: &[(&str, &str)]) -> Vec<String> {
    let (compilation, offset) = checked(files);
    compilation
        .references_at(main_module(&compilation), offset)
        .into_iter()
        .map(|location| show(&compilation, location))
        .collect()
}

const LIB: &str = "\
aqua Lib declares *

data Point:
    x: i64
    y: i64

func origin() -> Point:
    <- Point(x = 0, y = 0)
";

#[test]
fn types_of_locals_calls_and_members() {
    let main = |body: &str| {
        format!(
            "aqua Main\n\nimport \"lib.aqua\"\n\nservice Greeter(\"greeter\"):\n    hello(name: string) -> string\n\nfunc f(names: []string) -> string:\n{body}"
        )
    };
    let case = |body: &str| type_at(&[("main.aqua", &main(body)), ("lib.aqua", LIB)]);
    assert_eq!(
        case("    n$0ames2 = names\n    <- names2[0]\n").as_deref(),
        Some("main.aqua:9:5 names2: []string")
    );
    assert_eq!(
        case("    r <- Greeter.hello(names[0]$0)\n    <- r\n").as_deref(),
        Some("main.aqua:9:24 names[0]: string")
    );
    assert_eq!(
        case("    -- $0\n    <- \"x\"\n").as_deref(),
        None,
        "a comment has no type"
    );
    assert_eq!(
        case("    p <- origin($0)\n    <- \"x\"\n").as_deref(),
        Some("main.aqua:9:10 origin(): Point")
    );
    assert_eq!(
        case("    p <- origin()\n    q = p.x$0\n    <- \"x\"\n").as_deref(),
        Some("main.aqua:10:11 x: i64"),
        "a field read: the field's type"
    );
    assert_eq!(
        case("    p <- origin()\n    q = p$0.x\n    <- \"x\"\n").as_deref(),
        Some("main.aqua:10:9 p: Point")
    );
}

#[test]
fn definitions_of_locals_functions_types_and_imports() {
    let main = "\
aqua Main

import origin, Point from \"lib.aqua\"
use \"lib.aqua\" as L

func twice(p: Point) -> Point:
    <- p

func f() -> i64:
    p <- origin()
    q <- twice(p)
    r <- L.origin()
    <- MARKq.x
";
    let case = |mark: &str| {
        let text = main.replacen(mark, &format!("{MARK}{mark}"), 1);
        let text = text.replace("MARK", "");
        definition(&[("main.aqua", &text), ("lib.aqua", LIB)])
    };
    // A local: its binding.
    assert_eq!(case("q.x").as_deref(), Some("main.aqua:11:5 q"));
    // A function of this module.
    assert_eq!(case("twice(p)").as_deref(), Some("main.aqua:6:6 twice"));
    // A parameter, used as an argument.
    assert_eq!(case("p)\n    r").as_deref(), Some("main.aqua:10:5 p"));
    // A type in a signature, defined in the imported module.
    assert_eq!(case("Point)").as_deref(), Some("lib.aqua:3:6 Point"));
    // An imported function, named in the header and called through `use`.
    assert_eq!(
        case("origin, Point").as_deref(),
        Some("lib.aqua:7:6 origin")
    );
    assert_eq!(
        case("origin()\n    <-").as_deref(),
        Some("lib.aqua:7:6 origin")
    );
    // A definition is its own definition.
    assert_eq!(case("twice(p:").as_deref(), Some("main.aqua:6:6 twice"));
}

#[test]
fn references_across_modules() {
    let main = "\
aqua Main

import origin from \"lib.aqua\"

func f() -> i64:
    p <- or$0igin()
    q <- origin()
    <- p.x
";
    assert_eq!(
        references(&[("main.aqua", main), ("lib.aqua", LIB)]),
        [
            "main.aqua:3:8 origin",
            "main.aqua:6:10 origin",
            "main.aqua:7:10 origin",
            "lib.aqua:7:6 origin",
        ]
    );
    let local = "\
aqua Main

func first(xs: []string) -> string:
    <- xs[0]

func f(xs: []string) -> []string:
    s: *string
    for x <- xs:
        s <<- x
    s$0 <- first(xs)
    <- s
";
    assert_eq!(
        references(&[("main.aqua", local)]),
        [
            "main.aqua:7:5 s",
            "main.aqua:9:9 s",
            "main.aqua:10:5 s",
            "main.aqua:11:8 s",
        ]
    );
}

/// A module declaring a struct, an ability and a service, for the member queries.
const MEMBERS_LIB: &str = "\
aqua Lib declares *

data Point:
    x: i64
    y: i64

ability Counter:
    inc() -> u32
    step: u32

service Store(\"store\"):
    get(key: string) -> Point
    put(key: string, p: Point)

func origin() -> Point:
    <- Point(x = 0, y = 0)
";

/// Uses every kind of member: field reads, a constructor, `.copy`, service functions (also
/// through `use`), an ability's members (as a required ability and as a value), and a service
/// of this module.
const MEMBERS_MAIN: &str = "\
aqua Main

import Point, Counter, Store, origin from \"lib.aqua\"
use \"lib.aqua\" as L

service Local(\"local\"):
    hello(name: string) -> string

func bump{Counter}() -> u32:
    n <- Counter.inc()
    <- n

func f() -> i64:
    p <- origin()
    q = p.copy(y = 2)
    r = Point(x = q.x, y = p.y)
    Store.put(\"k\", r)
    s <- L.Store.get(\"k\")
    inc = () -> u32:
        <- 1
    c = Counter(inc = inc, step = 2)
    m <- bump{c}()
    k <- c.inc()
    t <- Local.hello(\"x\")
    <- s.x
";

/// `MEMBERS_MAIN` with the mark before the first occurrence of `at`.
fn marked(at: &str) -> String {
    let offset = MEMBERS_MAIN
        .find(at)
        .unwrap_or_else(|| panic!("no {at:?} in the case"));
    format!(
        "{}{MARK}{}",
        &MEMBERS_MAIN[..offset],
        &MEMBERS_MAIN[offset..]
    )
}

#[test]
fn definitions_of_fields_and_members() {
    let case = |at: &str| definition(&[("main.aqua", &marked(at)), ("lib.aqua", MEMBERS_LIB)]);
    // A field read, in this module's struct value of an imported type.
    assert_eq!(case("x\n").as_deref(), Some("lib.aqua:4:5 x"));
    assert_eq!(case("x, y = p.y").as_deref(), Some("lib.aqua:4:5 x"));
    // A constructor's field and a field read inside it.
    assert_eq!(case("x = q").as_deref(), Some("lib.aqua:4:5 x"));
    assert_eq!(case("y)").as_deref(), Some("lib.aqua:5:5 y"));
    // `.copy`.
    assert_eq!(case("y = 2").as_deref(), Some("lib.aqua:5:5 y"));
    // Service functions, imported by name and through `use`; one of this module.
    assert_eq!(case("put(").as_deref(), Some("lib.aqua:13:5 put"));
    assert_eq!(case("get(").as_deref(), Some("lib.aqua:12:5 get"));
    assert_eq!(case("hello(\"x").as_deref(), Some("main.aqua:7:5 hello"));
    // An ability's members: of the required ability, of an ability value, in its constructor.
    assert_eq!(case("inc()\n    <- n").as_deref(), Some("lib.aqua:8:5 inc"));
    assert_eq!(case("inc()\n    t").as_deref(), Some("lib.aqua:8:5 inc"));
    assert_eq!(case("step = 2").as_deref(), Some("lib.aqua:9:5 step"));
    assert_eq!(case("inc = inc").as_deref(), Some("lib.aqua:8:5 inc"));
    // The value given to a field is a local.
    assert_eq!(case("inc, step").as_deref(), Some("main.aqua:19:5 inc"));
}

#[test]
fn types_of_fields_and_members() {
    let case = |at: &str| type_at(&[("main.aqua", &marked(at)), ("lib.aqua", MEMBERS_LIB)]);
    assert_eq!(case("y = 2").as_deref(), Some("main.aqua:15:16 y: i64"));
    assert_eq!(case("x = q").as_deref(), Some("main.aqua:16:15 x: i64"));
    assert_eq!(
        case("put(").as_deref(),
        Some("main.aqua:17:11 put: (key: string, p: Point) -> ()")
    );
    assert_eq!(
        case("get(").as_deref(),
        Some("main.aqua:18:18 get: (key: string) -> Point")
    );
    assert_eq!(
        case("step = 2").as_deref(),
        Some("main.aqua:21:28 step: u32")
    );
    assert_eq!(
        case("inc()\n    t").as_deref(),
        Some("main.aqua:23:12 inc: () -> u32")
    );
}

#[test]
fn references_of_fields_and_members() {
    let case = |at: &str| references(&[("main.aqua", &marked(at)), ("lib.aqua", MEMBERS_LIB)]);
    // Field `x` of `Point`: its declaration, the constructor in `lib.aqua`, and every use here.
    assert_eq!(
        case("x\n"),
        [
            "main.aqua:16:15 x",
            "main.aqua:16:21 x",
            "main.aqua:25:10 x",
            "lib.aqua:4:5 x",
            "lib.aqua:16:14 x",
        ]
    );
    // A member of an ability: its declaration, the required ability's call, the value's
    // constructor and call.
    assert_eq!(
        case("inc()\n    <- n"),
        [
            "main.aqua:10:18 inc",
            "main.aqua:21:17 inc",
            "main.aqua:23:12 inc",
            "lib.aqua:8:5 inc",
        ]
    );
    // From the declaration: a service function used through `use`.
    let from_declaration = {
        let files = [
            ("main.aqua", MEMBERS_MAIN.to_string()),
            (
                "lib.aqua",
                MEMBERS_LIB.replacen("get(", &format!("{MARK}get("), 1),
            ),
        ];
        let mut offset = None;
        let files: MemoryFiles = files
            .iter()
            .map(|(name, text)| {
                if *name == "lib.aqua" {
                    offset = text.find(MARK);
                }
                (*name, text.replace(MARK, ""))
            })
            .collect();
        let compilation = check(&[PathBuf::from("main.aqua")], &files, &Options::default());
        let lib = compilation.module_at(Path::new("lib.aqua")).unwrap();
        compilation
            .references_at(lib, offset.unwrap())
            .into_iter()
            .map(|location| show(&compilation, location))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        from_declaration,
        ["main.aqua:18:18 get", "lib.aqua:12:5 get"]
    );
}
