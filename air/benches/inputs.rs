//! Benchmark inputs, generated deterministically in code (no files).

/// A realistic ~2 KB script in the shape the Aqua compiler emits: a quorum over peers' answers,
/// with the usual `getDataSrv` / `callbackSrv` / `errorHandlingSrv` plumbing.
pub const SMALL: &str = r#"(xor
 (seq
  (seq
   (seq
    (seq
     (seq
      (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
      (call %init_peer_id% ("getDataSrv" "topic") [] -topic-arg-)
     )
     (call %init_peer_id% ("getDataSrv" "peers") [] -peers-arg-)
    )
    (new $results
     (seq
      (seq
       (fold -peers-arg- peer-0
        (par
         (xor
          (seq
           (seq
            (call -relay- ("op" "noop") [])
            (call peer-0 ("registry" "resolve") [-topic-arg- 5] records)
           )
           (seq
            (ap records.$.[0] first-record)
            (xor
             (match first-record.$.peer_id peer-0
              (ap first-record $results)
             )
             (ap records.$.[0].value $results)
            )
           )
          )
          (seq
           (call -relay- ("op" "noop") [])
           (call %init_peer_id% ("errorHandlingSrv" "error") [:error: 1])
          )
         )
         (next peer-0)
        )
        (null)
       )
       (new $s
        (seq
         (seq
          (fold $results r-0
           (seq
            (seq
             (ap r-0 $s)
             (canon %init_peer_id% $s  #$s)
            )
            (xor
             (match #$s.length 3
              (null)
             )
             (next r-0)
            )
           )
           (never)
          )
          (canon %init_peer_id% $s  #s-result)
         )
         (ap #s-result quorum-gate)
        )
       )
      )
      (seq
       (canon %init_peer_id% $results  #results-fix-0)
       (ap #results-fix-0 results-flat-0)
      )
     )
    )
   )
   (call %init_peer_id% ("peer" "timestamp_ms") [] ts)
  )
  (xor
   (mismatch results-flat-0 []
    (call %init_peer_id% ("callbackSrv" "response") [results-flat-0 quorum-gate.$.[0] ts])
   )
   (call %init_peer_id% ("callbackSrv" "response") [[] [] ts])
  )
 )
 (seq
  (call -relay- ("op" "noop") [])
  (call %init_peer_id% ("errorHandlingSrv" "error") [:error: 0])
 )
)
"#;

/// `count` calls `(call var_i ("serv" "func") [] var_{i+1})` (names `var0..var{names-1}`
/// cycled) in a balanced binary tree of `seq`, after a leading call that defines `var0`.
/// One line, single spaces.
pub fn calls(count: usize, names: usize) -> String {
    // Each call is about 40 bytes, each `seq` 7 bytes: reserve once so that building the input
    // leaves no large garbage behind (it would blur the RSS measurements).
    let mut out = String::with_capacity(count * 48 + 64);
    out.push_str(r#"(seq (call "peer" ("serv" "func") [] var0) "#);
    tree(&mut out, 0, count, names);
    out.push(')');
    out
}

fn tree(out: &mut String, start: usize, end: usize, names: usize) {
    use std::fmt::Write;
    if end - start == 1 {
        let (from, to) = (start % names, (start + 1) % names);
        write!(out, r#"(call var{from} ("serv" "func") [] var{to})"#).unwrap();
    } else {
        let mid = start + (end - start) / 2;
        out.push_str("(seq ");
        tree(out, start, mid, names);
        out.push(' ');
        tree(out, mid, end, names);
        out.push(')');
    }
}

/// `depth` right-nested levels `(seq (call "peer" ("serv" "func") [] x_i) ...)` ending in `(null)`.
pub fn nested(depth: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(depth * 48 + 16);
    for i in 0..depth {
        write!(out, r#"(seq (call "peer" ("serv" "func") [] x{i}) "#).unwrap();
    }
    out.push_str("(null)");
    for _ in 0..depth {
        out.push(')');
    }
    out
}
