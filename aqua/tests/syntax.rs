//! The parser: shapes of the syntax tree, and diagnostics for broken lines.

use aqua::syntax::ast::*;
use aqua::syntax::parse;
use aqua::Code;

/// The body of the first function of `source`, which must parse cleanly.
fn body(source: &str) -> Vec<Stmt> {
    let parsed = parse(source);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    match parsed.file.items.into_iter().next() {
        Some(Item::Func(func)) => func.body.stmts,
        other => panic!("expected a function, got {other:?}"),
    }
}

/// A parenthesized rendering of an expression's structure.
fn shape(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Literal(Literal::Int(n)) => n.clone(),
        ExprKind::Literal(Literal::Str(s)) => format!("{s:?}"),
        ExprKind::Literal(other) => format!("{other:?}"),
        ExprKind::Name(name) => name.text.clone(),
        ExprKind::Infix { op, lhs, rhs, .. } => {
            format!("({} {} {})", shape(lhs), op.symbol(), shape(rhs))
        }
        ExprKind::Not(inner) => format!("!{}", shape(inner)),
        ExprKind::Paren(inner) => format!("[{}]", shape(inner)),
        ExprKind::Call { callee, args, .. } => {
            let args: Vec<String> = args.iter().map(shape).collect();
            format!("{}({})", callee.text, args.join(", "))
        }
        ExprKind::Property { base, op } => match op {
            PropertyOp::Field(f) => format!("{}.{}", shape(base), f.text),
            PropertyOp::Method { name, args, .. } => {
                let args: Vec<String> = args.iter().map(shape).collect();
                format!("{}.{}({})", shape(base), name.text, args.join(", "))
            }
            PropertyOp::Index(i) => format!("{}[{}]", shape(base), shape(i)),
            PropertyOp::Bang(n) => format!("{}!{}", shape(base), n.as_ref().map_or("", |n| &n.0)),
            PropertyOp::Copy { fields, .. } => format!("{}.copy/{}", shape(base), fields.len()),
        },
        ExprKind::Construct { ty, fields, .. } => format!("{}{{{}}}", ty.text(), fields.len()),
        ExprKind::Collection { kind, items } => format!("{kind:?}{}", items.len()),
        ExprKind::Error => "<error>".into(),
    }
}

fn assigned(source_line: &str) -> String {
    let source = format!("aqua M\n\nfunc f():\n  {source_line}\n");
    match &body(&source)[0].kind {
        StmtKind::Assign { value, .. } => shape(value),
        other => panic!("expected an assignment, got {other:?}"),
    }
}

#[test]
fn operators_follow_aqua_precedence() {
    assert_eq!(
        assigned("x = a || b && c == d + e * f ** g ** h"),
        "(a || (b && (c == (d + (e * (f ** (g ** h)))))))"
    );
    assert_eq!(assigned("x = a - b - c"), "((a - b) - c)");
    assert_eq!(assigned("x = !a && (b || c)"), "(!a && [(b || c)])");
    assert_eq!(assigned("x = a < b"), "(a < b)");
    assert_eq!(assigned("x = -1 - 2"), "(-1 - 2)");
}

#[test]
fn property_chains_calls_and_constructors() {
    assert_eq!(
        assigned("x = Srv.get(a.b[i]!, xs!2).field"),
        "Srv.get(a.b[i]!, xs!2).field"
    );
    assert_eq!(assigned("x = Point(x = 1, y)"), "Point{2}");
    assert_eq!(assigned("x = Mod.Point(x = 1)"), "Mod.Point{1}");
    assert_eq!(assigned("x = p.copy(x = 2)"), "p.copy/1");
    assert_eq!(assigned("x = ?[a]"), "Option1");
}

#[test]
fn statements_and_blocks() {
    let source = "aqua M\n\nfunc f(peers: []string) -> []string:\n  res: *string\n  for p <- peers par:\n    on p via HOST_PEER_ID:\n      res <<- Op.identity(p)\n  par co join res[0]\n  <- res\n";
    let stmts = body(source);
    assert!(matches!(stmts[0].kind, StmtKind::Declare { .. }));
    let StmtKind::For { mode, body, .. } = &stmts[1].kind else {
        panic!("{:?}", stmts[1])
    };
    assert_eq!(*mode, Some(ForMode::Par));
    let StmtKind::On { via, body, .. } = &body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(via.len(), 1);
    assert!(matches!(
        body.stmts[0].kind,
        StmtKind::Push { key: None, .. }
    ));
    let StmtKind::Par(inner) = &stmts[2].kind else {
        panic!()
    };
    assert!(
        matches!(&inner.kind, StmtKind::Co(join) if matches!(join.kind, StmtKind::Join { .. }))
    );
    assert!(matches!(stmts[3].kind, StmtKind::Return { .. }));
}

#[test]
fn keywords_are_valid_variable_names() {
    let stmts = body("aqua M\n\nfunc f(data: string):\n  on <- Srv.get(data)\n");
    let StmtKind::Call { results, .. } = &stmts[0].kind else {
        panic!()
    };
    assert_eq!(results[0].text, "on");
}

/// The codes and `line:col` positions of the diagnostics of `source`.
fn problems(source: &str) -> Vec<(Code, String)> {
    parse(source)
        .diagnostics
        .iter()
        .map(|d| {
            let (line, col) = aqua::diagnostic::line_col(source, d.span.start);
            (d.code, format!("{line}:{col}"))
        })
        .collect()
}

#[test]
fn every_broken_line_is_reported_once_and_the_rest_still_parses() {
    let source = "aqua M\n\nfunc f():\n  x <- \n  y = 1\n  z = (1 +\n\nfunc g() -> :\n  <- 1\n";
    assert_eq!(
        problems(source),
        vec![
            (Code::Syntax, "4:5".into()),
            (Code::UnclosedDelimiter, "6:7".into()),
            (Code::Syntax, "8:10".into()),
        ]
    );
    let parsed = parse(source);
    assert_eq!(parsed.file.items.len(), 2);
}

#[test]
fn block_structure_problems() {
    assert_eq!(
        problems("aqua M\n\nfunc f():\n  on p:\n  x()\n"),
        vec![(Code::MissingBlock, "4:3".into())]
    );
    assert_eq!(
        problems("aqua M\n\nfunc f():\n  x()\n    y()\n"),
        vec![(Code::UnexpectedBlock, "5:5".into())]
    );
    assert_eq!(
        problems("aqua M\n\nfunc f():\n  x()\n\nimport \"a.aqua\"\n"),
        vec![(Code::MisplacedLine, "6:1".into())]
    );
}

#[test]
fn lexical_problems_point_at_their_characters() {
    assert_eq!(
        problems("aqua M\n\nfunc f():\n  x = \"open\n  y = a @ b\n"),
        vec![
            (Code::UnterminatedString, "4:7".into()),
            (Code::UnknownCharacter, "5:9".into())
        ]
    );
}

#[test]
fn malformed_tokens_are_reported_once_with_the_aqua_spelling() {
    let cases = [
        ("x = 0xff", "0xff", "255"),
        ("x = 1_000", "1_000", "1000"),
        ("x = 1.", "1.", "1.0"),
        ("x = 'hi'", "'hi'", "\"hi\""),
        ("x := 1", ":=", "="),
        ("\u{a0}\u{a0}x = 1", "\u{a0}\u{a0}", "  "),
    ];
    for (line, wrong, right) in cases {
        let source = format!("aqua M\n\nfunc f():\n  {line}\n");
        let parsed = parse(&source);
        assert_eq!(
            parsed.diagnostics.len(),
            1,
            "{line}: {:#?}",
            parsed.diagnostics
        );
        let suggestion = parsed.diagnostics[0].suggestion.as_ref().expect(line);
        assert_eq!(
            (
                &source[suggestion.span.start..suggestion.span.end],
                suggestion.replacement.as_str()
            ),
            (wrong, right),
            "{line}"
        );
    }
}

#[test]
fn a_line_indented_between_levels_stays_in_its_block() {
    let source = "aqua M\n\nfunc f():\n    if x:\n        a()\n      b()\n        c()\n";
    let parsed = parse(source);
    assert_eq!(
        problems(source),
        vec![(Code::InconsistentIndent, "6:7".into())]
    );
    let Some(Item::Func(func)) = parsed.file.items.first() else {
        panic!("a function");
    };
    let StmtKind::If { body, .. } = &func.body.stmts[0].kind else {
        panic!("an if");
    };
    assert_eq!(body.stmts.len(), 3);
}

#[test]
fn a_misspelled_keyword_gets_a_suggestion() {
    let parsed = parse("aqua M\n\nfnc f():\n  x()\n");
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(
        parsed.diagnostics[0].help.as_deref(),
        Some("did you mean `func`?")
    );
}

#[test]
fn nesting_up_to_the_limit_parses_and_deeper_is_refused_with_a_diagnostic() {
    let parens = |depth: usize| {
        format!(
            "aqua M\n\nfunc f():\n  x = {}1{}\n",
            "(".repeat(depth),
            ")".repeat(depth)
        )
    };
    assert_eq!(problems(&parens(1000)), vec![]);
    assert_eq!(
        problems(&parens(3000)),
        vec![(Code::TooLarge, "4:1031".into())]
    );
    let blocks = |depth: usize| {
        let mut text = String::from("aqua M\n\nfunc f():\n");
        for level in 1..=depth {
            text.push_str(&" ".repeat(level));
            text.push_str("on p:\n");
        }
        text.push_str(&" ".repeat(depth + 1));
        text.push_str("x()\n");
        text
    };
    assert_eq!(problems(&blocks(1000)), vec![]);
    let found = problems(&blocks(2000));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Code::TooLarge);
}

#[test]
fn deeply_nested_files_format() {
    let mut text = String::from("aqua M\n\nfunc f():\n");
    for level in 1..=1000 {
        text.push_str(&" ".repeat(level));
        text.push_str("on p:\n");
    }
    text.push_str(&" ".repeat(1001));
    text.push_str(&format!("x = {}1{}\n", "(".repeat(1000), ")".repeat(1000)));
    let formatted = aqua::format::format(&text).unwrap();
    assert_eq!(formatted.lines().count(), 1004);
    assert_eq!(aqua::format::format(&formatted).unwrap(), formatted);
}

#[test]
fn the_legacy_module_header_is_read_with_a_warning_and_a_fix() {
    let source = "module Registry declares *\n\nfunc f():\n  Op.noop()\n";
    let parsed = parse(source);
    let [warning] = parsed.diagnostics.as_slice() else {
        panic!("{:?}", parsed.diagnostics);
    };
    assert_eq!(warning.code, Code::DeprecatedModule);
    assert_eq!(warning.severity(), aqua::Severity::Warning);
    let fix = warning.suggestion.as_ref().expect("a suggested edit");
    assert_eq!(&source[fix.span.start..fix.span.end], "module");
    assert_eq!(fix.replacement, "aqua");
    assert!(matches!(
        &parsed.file.header[0],
        HeaderItem::Module {
            legacy: true,
            declares: Some(_),
            ..
        }
    ));
    assert_eq!(parsed.file.items.len(), 1);
    assert!(parse("aqua Registry declares *\n").diagnostics.is_empty());
}
