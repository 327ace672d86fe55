//! Times the stages of reading payload files, for `bench/` (its parse table): simd-json
//! alone, building its tape without typed extraction (the least any simd-json parse of
//! those bytes can cost), the typed parse into the processors' payload structs, and the
//! planning `process()` does before the database. In-process, no napi boundary.
//!
//! Usage: `parse_profile RUNS EVENT=FILE...`; prints one JSON line per file with the median
//! microseconds of each stage over RUNS runs.

use devmetrics_webhook_core::payload::{self, EventKind};
use devmetrics_webhook_core::processors;
use std::time::Instant;

/// The addon's allocator (see the root crate's `lib.rs`): with glibc's, megabyte buffers go
/// back to the kernel between runs and page faults would be timed as parsing.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .and_then(|r| r.parse().ok())
        .expect("usage: parse_profile RUNS EVENT=FILE...");
    for arg in args {
        let (event, file) = arg.split_once('=').expect("EVENT=FILE");
        let kind = EventKind::from_name(event).expect("a tracked event type");
        let bytes = std::fs::read(file).expect("a readable file");
        let (mut tape, mut typed, mut plan) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            let mut scratch = bytes.clone();
            tape.push(micros(|| {
                simd_json::to_tape(&mut scratch).expect("valid JSON");
            }));
            let mut scratch = bytes.clone();
            let started = Instant::now();
            let parsed = payload::parse_tracked(kind, &mut scratch, &bytes).expect("parses");
            typed.push(started.elapsed().as_secs_f64() * 1e6);
            plan.push(micros(|| {
                processors::plan(&parsed).expect("plans");
            }));
        }
        println!(
            "{{\"file\":{file:?},\"bytes\":{},\"tapeMicros\":{:.2},\"typedMicros\":{:.2},\"planMicros\":{:.2}}}",
            bytes.len(),
            median(tape),
            median(typed),
            median(plan)
        );
    }
}

fn micros(f: impl FnOnce()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64() * 1e6
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
