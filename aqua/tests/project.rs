//! The project loader: import resolution order, each module loaded once, and the diagnostics
//! for imports that fail (positions, messages, the paths tried) and for import cycles.

use std::io;
use std::path::{Path, PathBuf};

use aqua::diagnostic::line_col;
use aqua::project::{
    load, resolve, DiskFiles, FileSource, ImportConfig, MemoryFiles, Module, ModuleId, Project,
    Resolved, MAX_MODULES,
};
use aqua::Code;

fn memory(files: &[(&str, &str)]) -> MemoryFiles {
    files.iter().copied().collect()
}

fn config(import_dirs: &[&str]) -> ImportConfig {
    ImportConfig {
        import_dirs: import_dirs.iter().map(PathBuf::from).collect(),
    }
}

fn load_roots(files: &dyn FileSource, roots: &[&str], import_dirs: &[&str]) -> Project {
    let roots: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    load(&roots, &config(import_dirs), files)
}

fn module<'a>(project: &'a Project, path: &str) -> &'a Module {
    project
        .modules
        .iter()
        .find(|m| m.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path} is not loaded: {:?}", paths(project)))
}

fn paths(project: &Project) -> Vec<String> {
    let paths = project.modules.iter().map(|m| m.path.display().to_string());
    paths.collect()
}

/// The path of the module each import of `path` resolved to, in header order.
fn imports_of(project: &Project, path: &str) -> Vec<String> {
    let imports = module(project, path).imports.iter();
    imports
        .map(|&(_, id)| project.module(id).path.display().to_string())
        .collect()
}

/// Every project diagnostic as `path:line:col CODE message`.
fn diagnostics(project: &Project) -> Vec<String> {
    project
        .diagnostics
        .iter()
        .map(|(id, d)| {
            let module = project.module(*id);
            let (line, col) = line_col(&module.text, d.span.start);
            format!(
                "{}:{line}:{col} {} {}",
                module.path.display(),
                d.code,
                d.message
            )
        })
        .collect()
}

fn assert_clean(project: &Project) {
    assert_eq!(diagnostics(project), Vec::<String>::new());
    for module in &project.modules {
        let parse = &module.parsed.diagnostics;
        assert!(parse.is_empty(), "{}: {parse:?}", module.path.display());
    }
}

#[test]
fn relative_imports_and_uses_are_followed() {
    let files = memory(&[
        (
            "/p/src/main.aqua",
            "aqua Main\n\nimport \"./lib/a.aqua\"\nuse \"../shared.aqua\" as S\n",
        ),
        ("/p/src/lib/a.aqua", "aqua A\n\nimport f from \"b.aqua\"\n"),
        ("/p/src/lib/b.aqua", "aqua B\n"),
        ("/p/shared.aqua", "aqua Shared\n"),
    ]);
    let project = load_roots(&files, &["/p/src/main.aqua"], &[]);
    assert_clean(&project);
    assert_eq!(
        imports_of(&project, "/p/src/main.aqua"),
        ["/p/src/lib/a.aqua", "/p/shared.aqua"]
    );
    assert_eq!(
        imports_of(&project, "/p/src/lib/a.aqua"),
        ["/p/src/lib/b.aqua"]
    );
    // The header index of each import: `aqua` is item 0.
    let main = module(&project, "/p/src/main.aqua");
    let items: Vec<usize> = main.imports.iter().map(|&(item, _)| item).collect();
    assert_eq!(items, [1, 2]);
    assert_eq!(project.roots, [ModuleId(0)]);
    assert_eq!(main.id, ModuleId(0));
}

#[test]
fn import_dirs_come_after_the_importing_folder_and_in_order() {
    let files = memory(&[
        (
            "/p/main.aqua",
            "aqua Main\n\nimport \"x.aqua\"\nimport \"y.aqua\"\nimport \"z.aqua\"\n",
        ),
        ("/i1/x.aqua", "aqua X1\n"),
        ("/i2/x.aqua", "aqua X2\n"),
        ("/i2/y.aqua", "aqua Y2\n"),
        ("/p/z.aqua", "aqua Z\n"),
        ("/i1/z.aqua", "aqua Z1\n"),
    ]);
    let project = load_roots(&files, &["/p/main.aqua"], &["/i1", "/i2"]);
    assert_clean(&project);
    assert_eq!(
        imports_of(&project, "/p/main.aqua"),
        ["/i1/x.aqua", "/i2/y.aqua", "/p/z.aqua"]
    );
}

#[test]
fn node_modules_are_searched_nearest_first_up_to_the_root() {
    let registry = "/p/node_modules/@fluencelabs/registry";
    let files = memory(&[
        (
            "/p/src/app/main.aqua",
            "aqua Main\n\nimport \"@fluencelabs/registry/api.aqua\"\nimport \"@fluencelabs/aqua-lib/builtin.aqua\"\n",
        ),
        (
            "/p/node_modules/@fluencelabs/registry/api.aqua",
            "aqua Api\n\nimport \"@fluencelabs/aqua-lib/builtin.aqua\"\nimport \"@fluencelabs/trust-graph/tg.aqua\"\n",
        ),
        (
            "/p/node_modules/@fluencelabs/registry/node_modules/@fluencelabs/aqua-lib/builtin.aqua",
            "aqua Builtin\n",
        ),
        ("/p/node_modules/@fluencelabs/aqua-lib/builtin.aqua", "aqua Builtin\n"),
        ("/p/node_modules/@fluencelabs/trust-graph/tg.aqua", "aqua Tg\n"),
    ]);
    let project = load_roots(&files, &["/p/src/app/main.aqua"], &[]);
    assert_clean(&project);
    assert_eq!(
        imports_of(&project, "/p/src/app/main.aqua"),
        [
            format!("{registry}/api.aqua"),
            "/p/node_modules/@fluencelabs/aqua-lib/builtin.aqua".into()
        ]
    );
    assert_eq!(
        imports_of(&project, &format!("{registry}/api.aqua")),
        [
            format!("{registry}/node_modules/@fluencelabs/aqua-lib/builtin.aqua"),
            "/p/node_modules/@fluencelabs/trust-graph/tg.aqua".into()
        ]
    );
}

#[test]
fn resolution_reports_every_candidate_in_order() {
    let files = MemoryFiles::new();
    let from = Resolved::File("/p/node_modules/pkg/src/a.aqua".into());
    let import_dirs = config(&["/i1", "/p/node_modules"]);
    let tried = resolve(&from, "lib/b.aqua", &import_dirs, &files).unwrap_err();
    let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    // Each path once; no `node_modules/node_modules`.
    assert_eq!(
        tried,
        [
            "/p/node_modules/pkg/src/lib/b.aqua",
            "/i1/lib/b.aqua",
            "/p/node_modules/lib/b.aqua",
            "/p/node_modules/pkg/src/node_modules/lib/b.aqua",
            "/p/node_modules/pkg/node_modules/lib/b.aqua",
            "/node_modules/lib/b.aqua",
        ]
    );
    // `.` and `..` are applied to every candidate.
    let tried = resolve(&from, "../lib/./b.aqua", &config(&[]), &files).unwrap_err();
    assert_eq!(tried[0], Path::new("/p/node_modules/pkg/lib/b.aqua"));
}

#[test]
fn the_bundled_standard_library_is_the_last_resort() {
    let main = "aqua Main\n\nimport \"@fluencelabs/aqua-lib/workers.aqua\"\nimport \"@fluencelabs/aqua-lib/builtin.aqua\"\n";
    let files = memory(&[("/p/main.aqua", main)]);
    let project = load_roots(&files, &["/p/main.aqua"], &[]);
    assert_clean(&project);
    let workers = "<bundled>/@fluencelabs/aqua-lib/workers.aqua";
    let builtin = "<bundled>/@fluencelabs/aqua-lib/builtin.aqua";
    assert_eq!(imports_of(&project, "/p/main.aqua"), [workers, builtin]);
    // The bundled workers.aqua imports `./builtin.aqua`: the same bundled module.
    assert_eq!(imports_of(&project, workers), [builtin]);
    assert_eq!(project.modules.len(), 3);
    let bundled = aqua_stdlib::get("@fluencelabs/aqua-lib/builtin.aqua").unwrap();
    let builtin = module(&project, builtin);
    assert_eq!(builtin.origin, Resolved::Bundled(bundled));
    assert_eq!(builtin.text, bundled.source);

    // An installed aqua-lib wins, also over an import directory's absence.
    let files = memory(&[
        ("/p/main.aqua", main),
        (
            "/p/node_modules/@fluencelabs/aqua-lib/builtin.aqua",
            "aqua Builtin\n",
        ),
    ]);
    let project = load_roots(&files, &["/p/main.aqua"], &[]);
    assert_clean(&project);
    assert_eq!(
        imports_of(&project, "/p/main.aqua"),
        [
            workers,
            "/p/node_modules/@fluencelabs/aqua-lib/builtin.aqua"
        ]
    );
    // The bundled workers.aqua keeps to the bundle.
    assert_eq!(
        imports_of(&project, workers),
        ["<bundled>/@fluencelabs/aqua-lib/builtin.aqua"]
    );
}

#[test]
fn an_unresolved_import_is_reported_at_its_path_with_every_path_tried() {
    let files = memory(&[
        (
            "/p/src/main.aqua",
            "aqua Main\n\nimport \"./ok.aqua\"\nuse \"lib/missing.aqua\" as L\n",
        ),
        ("/p/src/ok.aqua", "aqua Ok\n"),
    ]);
    let project = load_roots(&files, &["/p/src/main.aqua"], &["/inc"]);
    assert_eq!(
        diagnostics(&project),
        ["/p/src/main.aqua:4:5 E0201 cannot find `lib/missing.aqua`"]
    );
    let (_, diagnostic) = &project.diagnostics[0];
    let main = module(&project, "/p/src/main.aqua");
    assert_eq!(
        &main.text[diagnostic.span.into_range()],
        "\"lib/missing.aqua\""
    );
    assert_eq!(
        diagnostic.help.as_deref(),
        Some(
            "looked for, in order:\n  /p/src/lib/missing.aqua\n  /inc/lib/missing.aqua\n  \
             /p/src/node_modules/lib/missing.aqua\n  /p/node_modules/lib/missing.aqua\n  \
             /node_modules/lib/missing.aqua"
        )
    );
    // The import that failed has no entry; the other one has.
    assert_eq!(main.imports.len(), 1);
    assert_eq!(main.imports[0].0, 1);
}

#[test]
fn a_missing_standard_library_file_lists_the_bundled_ones() {
    let files = memory(&[(
        "/p/main.aqua",
        "aqua Main\n\nimport \"@fluencelabs/aqua-lib/binary.aqua\"\n",
    )]);
    let project = load_roots(&files, &["/p/main.aqua"], &[]);
    assert_eq!(
        diagnostics(&project),
        ["/p/main.aqua:3:8 E0201 cannot find `@fluencelabs/aqua-lib/binary.aqua`"]
    );
    let help = project.diagnostics[0].1.help.as_deref().unwrap();
    assert!(
        help.ends_with(
            "\n  /node_modules/@fluencelabs/aqua-lib/binary.aqua\nthe bundled \
             @fluencelabs/aqua-lib has no `binary.aqua`; it has builtin.aqua, math.aqua, \
             workers.aqua, subnet.aqua"
        ),
        "{help}"
    );
}

#[test]
fn an_import_cycle_is_reported_once_at_the_import_closing_it() {
    let files = memory(&[
        ("/p/a.aqua", "aqua A\n\nimport \"b.aqua\"\n"),
        ("/p/b.aqua", "aqua B\n\nimport \"c.aqua\"\n"),
        (
            "/p/c.aqua",
            "aqua C\n\n-- back to the start\nimport \"./a.aqua\"\n",
        ),
    ]);
    // However many of its modules are roots.
    for roots in [&["/p/a.aqua"][..], &["/p/a.aqua", "/p/b.aqua", "/p/c.aqua"]] {
        let project = load_roots(&files, roots, &[]);
        assert_eq!(
            diagnostics(&project),
            ["/p/c.aqua:4:8 E0203 import cycle: a.aqua -> b.aqua -> c.aqua -> a.aqua"]
        );
        let (_, diagnostic) = &project.diagnostics[0];
        assert_eq!(diagnostic.code, Code::ImportCycle);
        let labels: Vec<(String, (usize, usize), &str)> = diagnostic
            .labels
            .iter()
            .map(|label| {
                let file = label.file.clone().unwrap();
                let text = &module(&project, file.to_str().unwrap()).text;
                let at = line_col(text, label.span.start);
                (file.display().to_string(), at, label.message.as_str())
            })
            .collect();
        assert_eq!(
            labels,
            [
                ("/p/a.aqua".to_string(), (3, 8), "imports `/p/b.aqua`"),
                ("/p/b.aqua".to_string(), (3, 8), "imports `/p/c.aqua`"),
            ]
        );
        assert_eq!(
            diagnostic.primary_label.as_deref(),
            Some("imports `/p/a.aqua`, closing the cycle")
        );
        // Each module is still loaded once, and ordered despite the cycle.
        assert_eq!(project.modules.len(), 3);
        assert_eq!(project.order().len(), 3);
    }
}

#[test]
fn a_module_importing_itself_is_a_cycle() {
    let files = memory(&[("/p/a.aqua", "aqua A\n\nimport \"a.aqua\"\n")]);
    let project = load_roots(&files, &["/p/a.aqua"], &[]);
    assert_eq!(
        diagnostics(&project),
        ["/p/a.aqua:3:8 E0203 import cycle: a.aqua -> a.aqua"]
    );
    assert!(project.diagnostics[0].1.labels.is_empty());
}

#[test]
fn importing_a_module_of_the_cycle_twice_still_reports_the_cycle_once() {
    let files = memory(&[
        ("/p/a.aqua", "aqua A\n\nimport \"b.aqua\"\n"),
        (
            "/p/b.aqua",
            "aqua B\n\nimport f from \"a.aqua\"\nuse \"./a.aqua\" as A\n",
        ),
    ]);
    let project = load_roots(&files, &["/p/a.aqua"], &[]);
    assert_eq!(
        diagnostics(&project),
        ["/p/b.aqua:3:15 E0203 import cycle: a.aqua -> b.aqua -> a.aqua"]
    );
}

#[test]
fn two_cycles_through_one_module_are_two_diagnostics() {
    let files = memory(&[
        (
            "/p/a.aqua",
            "aqua A\n\nimport \"b.aqua\"\nimport \"c.aqua\"\n",
        ),
        ("/p/b.aqua", "aqua B\n\nimport \"a.aqua\"\n"),
        ("/p/c.aqua", "aqua C\n\nimport \"a.aqua\"\n"),
    ]);
    let project = load_roots(&files, &["/p/a.aqua"], &[]);
    assert_eq!(
        diagnostics(&project),
        [
            "/p/b.aqua:3:8 E0203 import cycle: a.aqua -> b.aqua -> a.aqua",
            "/p/c.aqua:3:8 E0203 import cycle: a.aqua -> c.aqua -> a.aqua",
        ]
    );
}

#[test]
fn a_diamond_loads_the_shared_module_once_and_orders_dependencies_first() {
    let files = memory(&[
        (
            "/p/main.aqua",
            "aqua Main\n\nimport \"left/l.aqua\"\nuse \"right/r.aqua\"\n",
        ),
        ("/p/left/l.aqua", "aqua L\n\nimport \"../base.aqua\"\n"),
        (
            "/p/right/r.aqua",
            "aqua R\n\nimport \"./../left/../base.aqua\"\n",
        ),
        ("/p/base.aqua", "aqua Base\n"),
    ]);
    let project = load_roots(&files, &["/p/main.aqua"], &[]);
    assert_clean(&project);
    assert_eq!(project.modules.len(), 4);
    let base = module(&project, "/p/base.aqua").id;
    assert_eq!(module(&project, "/p/left/l.aqua").imports[0].1, base);
    assert_eq!(module(&project, "/p/right/r.aqua").imports[0].1, base);
    let order: Vec<String> = project
        .order()
        .iter()
        .map(|&id| project.module(id).path.display().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "/p/base.aqua",
            "/p/left/l.aqua",
            "/p/right/r.aqua",
            "/p/main.aqua"
        ]
    );
}

#[test]
fn a_missing_root_is_an_empty_module_with_its_diagnostic() {
    let files = memory(&[("/p/a.aqua", "aqua A\n")]);
    let project = load_roots(
        &files,
        &["/p/missing.aqua", "/p/./a.aqua", "/p/a.aqua"],
        &[],
    );
    assert_eq!(
        diagnostics(&project),
        ["/p/missing.aqua:1:1 E0202 cannot read `/p/missing.aqua`: no such file in the in-memory files"]
    );
    assert_eq!(project.roots, [ModuleId(0), ModuleId(1), ModuleId(1)]);
    assert!(project.modules[0].text.is_empty());
    assert_eq!(project.order(), [ModuleId(0), ModuleId(1)]);
}

/// Files that all exist, but some cannot be read.
struct Unreadable {
    files: MemoryFiles,
    broken: &'static str,
}

impl FileSource for Unreadable {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if path == Path::new(self.broken) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "permission denied",
            ));
        }
        self.files.read(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        path == Path::new(self.broken) || self.files.is_file(path)
    }
}

#[test]
fn unreadable_imports_and_invalid_utf8_are_reported() {
    let mut files = memory(&[(
        "/p/main.aqua",
        "aqua Main\n\nimport \"locked.aqua\"\nimport \"latin1.aqua\"\n",
    )]);
    files.insert("/p/latin1.aqua", b"aqua Latin\n\n-- caf\xe9\n".to_vec());
    let files = Unreadable {
        files,
        broken: "/p/locked.aqua",
    };
    let project = load_roots(&files, &["/p/main.aqua"], &[]);
    assert_eq!(
        diagnostics(&project),
        [
            "/p/main.aqua:3:8 E0202 cannot read `/p/locked.aqua`: permission denied",
            "/p/latin1.aqua:3:7 E0111 the file is not valid UTF-8 (byte 18)",
        ]
    );
    // The invalid byte is replaced, and the rest of the file is parsed.
    let latin1 = module(&project, "/p/latin1.aqua");
    assert!(latin1.parsed.diagnostics.is_empty());
    assert!(latin1.text.ends_with("caf\u{fffd}\n"));
}

#[test]
fn loading_stops_at_the_module_limit() {
    // A chain main -> m1 -> m2 -> ... one longer than the limit; also deep enough to show that
    // ordering does not recurse.
    let mut files = MemoryFiles::new();
    for i in 0..=MAX_MODULES {
        let text = format!("aqua M{i}\n\nimport \"m{}.aqua\"\n", i + 1);
        files.insert(format!("/p/m{i}.aqua"), text);
    }
    let project = load_roots(&files, &["/p/m0.aqua"], &[]);
    assert_eq!(project.modules.len(), MAX_MODULES);
    let last = MAX_MODULES - 1;
    assert_eq!(
        diagnostics(&project),
        [format!(
            "/p/m{last}.aqua:3:8 E0204 `/p/m{MAX_MODULES}.aqua` is not loaded: the project already has {MAX_MODULES} modules"
        )]
    );
    let order = project.order();
    assert_eq!(order.first(), Some(&ModuleId(last as u32)));
    assert_eq!(order.last(), Some(&ModuleId(0)));
    assert!(Code::TooManyModules
        .explanation()
        .contains(&MAX_MODULES.to_string()));
}

#[test]
fn a_package_tree_on_disk_resolves_through_nested_node_modules() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/packages/app");
    let app = app.canonicalize().unwrap();
    let project = load(
        &[app.join("src/main.aqua")],
        &ImportConfig::default(),
        &DiskFiles,
    );
    assert_clean(&project);
    let name = |id: ModuleId| {
        let path = &project.module(id).path;
        let path = path.strip_prefix(&app).unwrap_or(path);
        path.display().to_string()
    };
    let mut edges: Vec<String> = Vec::new();
    for id in project.order() {
        for &(_, target) in &project.module(id).imports {
            edges.push(format!("{} -> {}", name(id), name(target)));
        }
    }
    // In post-order; each package's own nested aqua-lib comes before the project's.
    let registry = "node_modules/@fluencelabs/registry";
    let nested = format!("{registry}/node_modules/@fluencelabs");
    let bundled = "<bundled>/@fluencelabs/aqua-lib";
    assert_eq!(
        edges,
        [
            format!("{nested}/trust-graph/trust-graph.aqua -> {nested}/aqua-lib/builtin.aqua"),
            format!("{registry}/registry-api.aqua -> {registry}/misc.aqua"),
            format!("{registry}/registry-api.aqua -> {nested}/trust-graph/trust-graph.aqua"),
            format!("{registry}/registry-api.aqua -> {nested}/aqua-lib/builtin.aqua"),
            format!("{bundled}/workers.aqua -> {bundled}/builtin.aqua"),
            format!("node_modules/@fluencelabs/spell/api.aqua -> {bundled}/workers.aqua"),
            "src/main.aqua -> node_modules/@fluencelabs/aqua-lib/builtin.aqua".into(),
            format!("src/main.aqua -> {registry}/registry-api.aqua"),
            "src/main.aqua -> node_modules/@fluencelabs/spell/api.aqua".into(),
        ]
    );
}

#[cfg(unix)]
#[test]
fn on_disk_a_file_reached_through_a_link_is_loaded_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("lib")).unwrap();
    std::fs::write(
        root.join("main.aqua"),
        "aqua Main\n\nimport \"lib/a.aqua\"\nimport \"linked/a.aqua\"\nimport \"gone.aqua\"\n",
    )
    .unwrap();
    std::fs::write(root.join("lib/a.aqua"), "aqua A\n").unwrap();
    std::os::unix::fs::symlink(root.join("lib"), root.join("linked")).unwrap();
    // Relative roots are taken from the working directory; here, an absolute one with `..`.
    let main = root.join("lib/../main.aqua");
    let project = load(&[main], &ImportConfig::default(), &DiskFiles);
    assert_eq!(project.modules.len(), 2);
    let main = project.module(ModuleId(0));
    assert_eq!(main.path, root.join("main.aqua"));
    let a = project.module(ModuleId(1));
    assert_eq!(a.path, root.join("lib/a.aqua"));
    assert_eq!(main.imports, [(1, a.id), (2, a.id)]);
    let diagnostics = diagnostics(&project);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let expected = "main.aqua:5:8 E0201 cannot find `gone.aqua`";
    assert!(diagnostics[0].ends_with(expected), "{diagnostics:?}");

    let missing = root.join("missing.aqua");
    let project = load(
        std::slice::from_ref(&missing),
        &ImportConfig::default(),
        &DiskFiles,
    );
    let diagnostics = self::diagnostics(&project);
    assert_eq!(diagnostics.len(), 1);
    let expected = format!("1:1 E0202 cannot read `{}`: ", missing.display());
    assert!(diagnostics[0].contains(&expected), "{diagnostics:?}");
}

#[test]
fn a_cycle_renders_its_chain_as_notes() {
    let files = memory(&[
        ("/p/a.aqua", "aqua A\n\nimport \"b.aqua\"\n"),
        ("/p/b.aqua", "aqua B\n\nimport \"a.aqua\"\n"),
    ]);
    let project = load_roots(&files, &["/p/a.aqua"], &[]);
    let (id, diagnostic) = &project.diagnostics[0];
    let module = project.module(*id);
    let text = aqua::diagnostic::render(diagnostic, &module.path, &module.text, false);
    assert!(
        text.contains("[E0203] Error: import cycle: a.aqua -> b.aqua -> a.aqua"),
        "{text}"
    );
    assert!(text.contains("/p/b.aqua:3:8"), "{text}");
    assert!(text.contains("/p/a.aqua: imports `/p/b.aqua`"), "{text}");
}
