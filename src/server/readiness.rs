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

/// Whether the configured models passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelsState {
    Verifying,
    /// Names of the verified models.
    Verified(Vec<String>),
    /// Which file was refused and why.
    Refused(String),
}

/// Shared, cheaply cloned readiness flags.
#[derive(Debug, Clone)]
pub struct Readiness {
    state: Arc<RwLock<ReadyState>>,
    models: Arc<RwLock<ModelsState>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            state: Arc::new(RwLock::new(ReadyState::Starting)),
            models: Arc::new(RwLock::new(ModelsState::Verifying)),
        }
    }
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(s) => s.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut s) => *s = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}

impl Readiness {
    pub fn get(&self) -> ReadyState {
        read(&self.state)
    }

    pub fn set(&self, state: ReadyState) {
        write(&self.state, state);
    }

    pub fn models(&self) -> ModelsState {
        read(&self.models)
    }

    pub fn set_models(&self, state: ModelsState) {
        write(&self.models, state);
    }
}
