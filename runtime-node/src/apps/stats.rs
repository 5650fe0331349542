//! Call statistics of a Marine service, in the shape of `Stat.service_stat`.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

/// How many recent measurements a series keeps.
const RECENT: usize = 10;

/// Recent and overall measurements of one quantity.
#[derive(Debug, Default, Clone)]
struct Series {
    total: f64,
    count: u64,
    recent: VecDeque<f64>,
}

impl Series {
    fn add(&mut self, value: f64) {
        self.total += value;
        self.count += 1;
        push_bounded(&mut self.recent, value);
    }

    fn to_json(&self) -> Value {
        let average = if self.count == 0 {
            0.0
        } else {
            self.total / self.count as f64
        };
        json!({ "avg": average, "series": self.recent, "total": self.total })
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, value: T) {
    if queue.len() == RECENT {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// Statistics of a set of calls.
#[derive(Debug, Default, Clone)]
struct Stats {
    success: u64,
    failed: u64,
    call_time_sec: Series,
    memory_delta_bytes: Series,
    /// When each recent call ended, ms since the Unix epoch.
    timestamps: VecDeque<u64>,
}

impl Stats {
    fn add(&mut self, call: &CallRecord) {
        if call.succeeded {
            self.success += 1;
        } else {
            self.failed += 1;
        }
        self.call_time_sec.add(call.seconds);
        self.memory_delta_bytes.add(call.memory_delta as f64);
        push_bounded(&mut self.timestamps, call.timestamp);
    }

    fn to_json(&self) -> Value {
        json!({
            "success_req_count": self.success,
            "failed_req_count": self.failed,
            "call_time_sec": self.call_time_sec.to_json(),
            "memory_deltas_bytes": self.memory_delta_bytes.to_json(),
            "timestamps": self.timestamps,
        })
    }
}

/// One finished call.
pub(crate) struct CallRecord {
    pub succeeded: bool,
    pub seconds: f64,
    /// How much the service's memory grew during the call.
    pub memory_delta: u64,
    /// When the call ended, ms since the Unix epoch.
    pub timestamp: u64,
}

/// A service's statistics: over all calls and per function.
#[derive(Debug, Default)]
pub(crate) struct ServiceStats {
    total: Stats,
    functions: BTreeMap<String, Stats>,
}

impl ServiceStats {
    pub fn record(&mut self, function: &str, call: &CallRecord) {
        self.total.add(call);
        self.functions
            .entry(function.to_owned())
            .or_default()
            .add(call);
    }

    /// `Stat.service_stat`'s result: `status` false, with the reason, before the first call.
    pub fn to_json(&self, service_id: &str) -> Value {
        if self.functions.is_empty() {
            return json!({
                "status": false,
                "error": format!("no calls of service `{service_id}` were measured yet"),
                "result": [],
            });
        }
        let functions: Vec<Value> = self
            .functions
            .iter()
            .map(|(name, stats)| json!({ "name": name, "stats": stats.to_json() }))
            .collect();
        json!({
            "status": true,
            "error": "",
            "result": [{ "total_stats": self.total.to_json(), "functions_stats": functions }],
        })
    }
}
