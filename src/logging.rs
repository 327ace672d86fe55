//! Where the core's `tracing` events go: stderr, warnings and up by default, filtered by
//! `DEVMETRICS_LOG` (same syntax as `RUST_LOG`). Installed once, on first connect or
//! migrate; a host that installed its own global subscriber keeps it.

use std::sync::Once;

static INIT: Once = Once::new();

pub fn init() {
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("DEVMETRICS_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    });
}
