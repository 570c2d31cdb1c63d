//! Opening a [`LocalService`] over its SQLite file.

use crate::service::{Engine, EngineConfig, LocalService, SqliteStore, StoreError, SystemClock};
use std::path::Path;
use std::sync::Arc;

impl LocalService {
    /// A service on the wall clock whose state lives in the SQLite file at `path` (created if
    /// missing). Invocations that were running when the previous process died are recorded
    /// as failed with `Runtime.ExitError` and retried after the engine's retry delay.
    pub fn open(path: &Path, config: EngineConfig) -> Result<LocalService, StoreError> {
        let store = SqliteStore::open(path)?;
        let engine = Engine::open(config, Arc::new(SystemClock), Box::new(store))?;
        Ok(LocalService::new(engine))
    }
}
