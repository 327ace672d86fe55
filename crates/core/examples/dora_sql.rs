//! Prints doraMetrics' two statements as JSON (`{"production": [..], "environment": [..]}`),
//! for `bench/dora.ts`, which runs them under `EXPLAIN (ANALYZE, BUFFERS)` with the same
//! parameters the addon binds ($1 since, $2 until, $3 repository GitHub ids, $4 environment,
//! $5 incident labels in lower case, $6 failure window in hours, $7 team id).

fn main() {
    let json = |v: &[String; 2]| {
        let quoted: Vec<String> = v
            .iter()
            .map(|s| serde_json::to_string(s).expect("a string serialises"))
            .collect();
        format!("[{}]", quoted.join(","))
    };
    let production = devmetrics_webhook_core::dora::statements(false);
    let environment = devmetrics_webhook_core::dora::statements(true);
    println!(
        "{{\"production\":{},\"environment\":{}}}",
        json(&production),
        json(&environment)
    );
}
