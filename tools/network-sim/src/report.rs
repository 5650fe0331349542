//! The text snapshot of [`Observables`]: what reviewers read and what modes are compared by.
//! It shows particle data, so it needs the `reference` feature (see `crate::trace`).
//!
//! ```text
//! start -> @a
//!   run 0: ok
//!     call 1 "svc" "fn" [1,"x"]
//!       tetraplets [(@a "" "")] [(@b "svc" "fn" ".$.a")]
//!       answer ok 42
//!   run 1: ok, next [@b]
//! @a -> @b
//!   run 2: error 10000: <message> (data unchanged)
//! stopped: no deliveries pending after 3 runs
//! data @a:
//!   0: call scalar 42 from (@a "svc" "fn")
//!   last call id 1, signed by [@a]
//!   digest 0123456789abcdef
//! ```
//!
//! Runs are numbered across the whole scenario, as `engine_for` sees them. The script is
//! the file without its header, so parse errors count lines from the first script line.
//! Peer ids print as `@name`. Whether data stayed unchanged is shown only for failed runs:
//! the reference's data bytes are not canonical (its CID stores are hash maps), so after a
//! successful run equal content may still give different bytes.

use crate::canonical;
use crate::engine::Tetraplet;
use crate::network::Observables;
use crate::trace::render_data;

/// The code of a script that does not parse (a preparation error).
const AIR_PARSE_ERROR: i64 = 1;

impl Observables {
    /// The text snapshot (format in the module docs).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut runs = 0;
        for delivery in &self.deliveries {
            let from = match &delivery.from {
                Some(peer) => format!("@{peer}"),
                None => "start".to_owned(),
            };
            out.push_str(&format!("{from} -> @{}\n", delivery.peer));
            for run in &delivery.runs {
                let mut line = format!("  run {runs}: ");
                runs += 1;
                if run.ret_code == 0 {
                    line.push_str("ok");
                } else {
                    // Each VM words its parse diagnostics its own way, and the message of a
                    // preparation error stays with the host: only the code is observable.
                    let message = match run.ret_code {
                        AIR_PARSE_ERROR => "the script does not parse",
                        _ => &run.error_message,
                    };
                    line.push_str(&format!("error {}: {message}", run.ret_code));
                    if run.data_unchanged {
                        line.push_str(" (data unchanged)");
                    }
                }
                if !run.next_peers.is_empty() {
                    line.push_str(&format!(", next [{}]", run.next_peers.join(" ")));
                }
                out.push_str(&line);
                out.push('\n');
                for (id, (request, answer)) in &run.calls {
                    let arguments = canonical(&serde_json::Value::Array(request.arguments.clone()));
                    out.push_str(&format!(
                        "    call {id} {:?} {:?} {arguments}\n",
                        request.service_id, request.function_name
                    ));
                    let tetraplets: Vec<String> = request
                        .tetraplets
                        .iter()
                        .map(|list| {
                            let list: Vec<String> = list.iter().map(tetraplet).collect();
                            format!("[{}]", list.join(" "))
                        })
                        .collect();
                    if !tetraplets.is_empty() {
                        out.push_str(&format!("      tetraplets {}\n", tetraplets.join(" ")));
                    }
                    // Text that is not JSON is shown quoted after `raw`.
                    let result = match serde_json::from_str(&answer.result) {
                        Ok(value) => canonical(&value),
                        Err(_) => format!("raw {:?}", answer.result),
                    };
                    if answer.ret_code == 0 {
                        out.push_str(&format!("      answer ok {result}\n"));
                    } else {
                        out.push_str(&format!("      answer err {} {result}\n", answer.ret_code));
                    }
                }
            }
        }
        if self.step_cap_reached {
            out.push_str(&format!("stopped: step cap reached after {runs} runs\n"));
        } else {
            out.push_str(&format!(
                "stopped: no deliveries pending after {runs} runs\n"
            ));
        }
        for (peer, data) in &self.final_data {
            out.push_str(&format!("data @{peer}:\n"));
            for line in render_data(data, &self.peers) {
                out.push_str(&format!("  {line}\n"));
            }
        }
        self.peers.unsubstitute(&out)
    }
}

/// A tetraplet as `(peer "service" "function" "lens")`, the lens left out when empty.
pub fn tetraplet(t: &Tetraplet) -> String {
    let mut text = format!("({} {:?} {:?}", t.peer_pk, t.service_id, t.function_name);
    if !t.lens.is_empty() {
        text.push_str(&format!(" {:?}", t.lens));
    }
    text.push(')');
    text
}
