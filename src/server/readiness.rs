//! Whether the node may serve API traffic yet, and why not.

use std::sync::{Arc, RwLock};

/// Start-up state, shown by `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyState {
    /// Migrations (and later, model verification) are running.
    Starting,
    /// Serving.
    Ready,
    /// Start-up failed; the reason is shown to operators.
    Failed(String),
}

/// Shared, cheaply cloned readiness flag.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<RwLock<ReadyState>>);

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(ReadyState::Starting)))
    }
}

impl Readiness {
    pub fn get(&self) -> ReadyState {
        match self.0.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, state: ReadyState) {
        match self.0.write() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }
}
