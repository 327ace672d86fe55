//! The processor's open/closed gate: calls are admitted until `close`, and `close` waits
//! for every admitted call before the pool goes away.
//!
//! Admission is synchronous so that the napi layer can admit a call on the JavaScript
//! thread, at the moment `process()` is called: a call made before `close()` is in flight
//! even if its future has not been polled yet when `close` starts waiting.

use crate::error::{ProcessingError, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

/// Proof that a call was admitted; `close` waits until every one is dropped.
pub struct Admission {
    _call: OwnedRwLockReadGuard<()>,
}

/// Admits calls until closed (see the module doc).
#[derive(Default)]
pub(crate) struct CallGate {
    closing: AtomicBool,
    calls: Arc<RwLock<()>>,
}

impl CallGate {
    /// Admits a call, or `PROCESSOR_CLOSED` once `close` has begun.
    pub(crate) fn admit(&self) -> Result<Admission> {
        if self.closing.load(Ordering::Acquire) {
            return Err(ProcessingError::ProcessorClosed);
        }
        // Fails only while a `close` is waiting or done: tokio's lock is write-preferring.
        self.calls
            .clone()
            .try_read_owned()
            .map(|call| Admission { _call: call })
            .map_err(|_| ProcessingError::ProcessorClosed)
    }

    /// Whether `close` has begun.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Stops admitting calls, waits for the admitted ones, then runs `shutdown`; only the
    /// first close runs it, later ones return once it is done.
    pub(crate) async fn close<F: std::future::Future<Output = ()>>(&self, shutdown: F) {
        let first = !self.closing.swap(true, Ordering::AcqRel);
        let _exclusive = self.calls.write().await;
        if first {
            shutdown.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_waits_for_admitted_calls_and_refuses_later_ones() {
        let gate = Arc::new(CallGate::default());
        let call = gate.admit().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let closing = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.close(async {
                    tx.send(()).unwrap();
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        assert!(matches!(
            gate.admit(),
            Err(ProcessingError::ProcessorClosed)
        ));
        drop(call);
        rx.await.unwrap();
        closing.await.unwrap();
        assert!(gate.admit().is_err());
        // A second close returns without running its shutdown again.
        gate.close(async { panic!("shutdown ran twice") }).await;
    }
}
