//! Helpers shared by the integration tests.

/// Asserts that the parser's fast path and its general path read `source` the same way: the
/// same tree, the same spans and the same diagnostics.
pub fn assert_paths_agree(source: &str) {
    let fast = air::parse(source);
    let general = air::parse_without_fast_path(source);
    assert_eq!(
        fast.diagnostics, general.diagnostics,
        "diagnostics differ for {source:?}"
    );
    assert!(fast.script == general.script, "trees differ for {source:?}");
    let spans = |parsed: &air::Parsed| -> Vec<air::Span> {
        let script = &parsed.script;
        script
            .preorder()
            .flat_map(|id| {
                let mut spans = vec![script.instr_span(id)];
                if let air::Instr::Call(call) = script.instr(id) {
                    spans.extend(
                        [call.peer, call.service, call.function]
                            .into_iter()
                            .chain(call.args.iter())
                            .chain(call.output)
                            .map(|v| script.value_span(v)),
                    );
                }
                spans
            })
            .collect()
    };
    assert_eq!(spans(&fast), spans(&general), "spans differ for {source:?}");
}
