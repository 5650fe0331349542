//! The bundled files as the compiler will see them: found by import path, with the module
//! headers and services that aqua-lib code expects. The signatures themselves are compared with
//! aqua-lib by `tools/aqua-corpus/check-stdlib.mjs`.

use aqua_stdlib::{get, File, AQUA_LIB_VERSION, FILES, IMPORT_PREFIX};

/// Each file's name and the module name its header must declare.
const MODULES: &[(&str, &str)] = &[
    ("builtin.aqua", "Builtin"),
    ("math.aqua", "MathLib"),
    ("workers.aqua", "WorkersLib"),
    ("subnet.aqua", "SubnetLib"),
];

/// Every service of aqua-lib: name, default id, and the file that declares it.
const SERVICES: &[(&str, &str, &str)] = &[
    ("Op", "op", "builtin.aqua"),
    ("Peer", "peer", "builtin.aqua"),
    ("Kademlia", "kad", "builtin.aqua"),
    ("Srv", "srv", "builtin.aqua"),
    ("Dist", "dist", "builtin.aqua"),
    ("Sig", "sig", "builtin.aqua"),
    ("Stat", "stat", "builtin.aqua"),
    ("Debug", "debug", "builtin.aqua"),
    ("Console", "run-console", "builtin.aqua"),
    ("Vault", "vault", "builtin.aqua"),
    ("Math", "math", "math.aqua"),
    ("Compare", "cmp", "math.aqua"),
    ("Array", "array", "math.aqua"),
    ("Subnet", "subnet", "subnet.aqua"),
    ("Worker", "worker", "workers.aqua"),
];

fn file_name(file: &File) -> &'static str {
    file.import_path
        .strip_prefix(IMPORT_PREFIX)
        .unwrap_or_else(|| panic!("{} lacks the prefix {IMPORT_PREFIX}", file.import_path))
}

/// Lines outside comments, without their comments; indented lines keep their indentation.
fn code_lines(source: &str) -> impl Iterator<Item = &str> {
    source
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default().trim_end())
        .filter(|line| !line.is_empty())
}

/// `service Name("id"):` lines of a file, as (name, id).
fn declared_services(source: &str) -> Vec<(&str, &str)> {
    code_lines(source)
        .filter_map(|line| line.strip_prefix("service "))
        .map(|rest| {
            let (name, rest) = rest.split_once("(\"").expect("a service has a default id");
            let (id, _) = rest
                .split_once("\")")
                .expect("a default id is a closed string");
            (name.trim(), id)
        })
        .collect()
}

#[test]
fn every_file_is_found_by_its_import_path() {
    let names: Vec<_> = FILES.iter().map(file_name).collect();
    let expected: Vec<_> = MODULES.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected);
    for file in FILES {
        assert_eq!(get(file.import_path), Some(file));
    }
}

#[test]
fn lookup_needs_the_exact_import_path() {
    assert_eq!(get("builtin.aqua"), None);
    assert_eq!(get("@fluencelabs/aqua-lib/builtin"), None);
    assert_eq!(get("@fluencelabs/aqua-lib/binary.aqua"), None);
    assert_eq!(get("@fluencelabs/aqua-lib/./builtin.aqua"), None);
}

#[test]
fn every_header_names_its_module() {
    for (file, module) in MODULES {
        let source = get(&format!("{IMPORT_PREFIX}{file}")).unwrap().source;
        let header = code_lines(source).next();
        assert_eq!(
            header,
            Some(format!("aqua {module} declares *").as_str()),
            "{file}"
        );
    }
}

#[test]
fn every_service_is_declared_once_with_its_default_id() {
    let mut declared: Vec<(&str, &str, &str)> = FILES
        .iter()
        .flat_map(|file| {
            declared_services(file.source)
                .into_iter()
                .map(move |(name, id)| (name, id, file_name(file)))
        })
        .collect();
    declared.sort();
    let mut expected = SERVICES.to_vec();
    expected.sort();
    assert_eq!(declared, expected);
}

#[test]
fn relative_imports_resolve_to_bundled_files() {
    let mut n_imports = 0;
    for file in FILES {
        for line in code_lines(file.source).filter(|line| line.starts_with("import ")) {
            let (_, quoted) = line
                .split_once(" from \"")
                .expect("an import names its file");
            let relative = quoted
                .strip_suffix('"')
                .expect("the file name is a closed string");
            let name = relative
                .strip_prefix("./")
                .unwrap_or_else(|| panic!("{}: `{relative}` is not ./<name>", file.import_path));
            assert!(get(&format!("{IMPORT_PREFIX}{name}")).is_some(), "{line}");
            n_imports += 1;
        }
    }
    // workers.aqua takes `PeerId` from builtin.aqua, as aqua-lib's does.
    assert_eq!(n_imports, 1);
}

#[test]
fn every_file_names_the_mirrored_version() {
    let line = format!("-- Mirrors the interface of aqua-lib {AQUA_LIB_VERSION}.");
    for file in FILES {
        assert!(
            file.source.lines().any(|l| l == line),
            "{}",
            file.import_path
        );
    }
}
