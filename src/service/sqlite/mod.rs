//! The durable [`Store`] of the local service: one SQLite file in WAL mode with
//! `synchronous=FULL`, so a batch is on disk before [`Store::commit`] returns and therefore
//! before the engine acknowledges the call that produced it.
//!
//! Each table keeps the whole row as JSON (the engine's serde types) next to a few plain
//! columns that exist only for indexes and for reading the file with the `sqlite3` shell.
//! The JSON is the source of truth: [`Store::load`] decodes it and checks that it agrees with
//! the key columns.
//!
//! The file carries `PRAGMA application_id` and a `user_version` schema number; a file written
//! by a newer schema, or an SQLite file that is not a durable-fsm store, is refused rather
//! than misread.

mod load;
mod schema;
mod write;

#[cfg(test)]
mod tests;

use super::store::{Store, StoreError, StoredExecution, WriteBatch};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};

pub use schema::SCHEMA_VERSION;

/// A [`Store`] over one SQLite database file (or an in-memory database, for tests).
///
/// The store owns its connection; the engine is its only writer. Every
/// [`commit`](Store::commit) is one `BEGIN IMMEDIATE … COMMIT` transaction, which with
/// `synchronous=FULL` in WAL mode costs one fsync of the write-ahead log;
/// [`commit_group`](Store::commit_group) writes many batches in one such transaction.
///
/// ```no_run
/// use durable_fsm::service::{Engine, EngineConfig, SqliteStore, SystemClock};
/// use std::path::Path;
/// use std::sync::Arc;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::open(Path::new("durable-fsm.db"))?;
/// let engine = Engine::open(EngineConfig::default(), Arc::new(SystemClock), Box::new(store))?;
/// # drop(engine);
/// # Ok(())
/// # }
/// ```
pub struct SqliteStore {
    conn: Connection,
    /// The path as the caller gave it; `None` for an in-memory database.
    path: Option<PathBuf>,
    /// How messages name this store: the path as given, or `:memory:`.
    label: String,
}

impl SqliteStore {
    /// Opens (creating it if needed) the store at exactly `path`.
    ///
    /// The parent directory must exist. An empty file gets the current schema; a file with a
    /// newer schema version, or one that is not a durable-fsm store, is refused. Every error
    /// names the path.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let label = path.display().to_string();
        let literal = schema::literal_path(path).ok_or_else(|| {
            StoreError::Backend("cannot open the SQLite store: the path is empty".into())
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(StoreError::Backend(format!(
                "cannot open the SQLite store {label}: directory {} does not exist",
                dir.display()
            )));
        }
        // No SQLITE_OPEN_URI: the bundled SQLite still honours `file:` URIs globally, which
        // `literal_path` neutralises, so the name is always a plain file name.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&literal, flags)
            .map_err(|e| backend(&label, "cannot open the database", e))?;
        schema::init(&mut conn, &label, true)?;
        Ok(SqliteStore {
            conn,
            path: Some(path.to_path_buf()),
            label,
        })
    }

    /// A store in a private in-memory database, for tests: same schema and SQL, no file.
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()
            .map_err(|e| backend(MEMORY, "cannot open an in-memory database", e))?;
        schema::init(&mut conn, MEMORY, false)?;
        Ok(SqliteStore {
            conn,
            path: None,
            label: MEMORY.to_string(),
        })
    }

    /// The file this store was opened on; `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store for SqliteStore {
    fn commit(&mut self, batch: &WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let label = &self.label;
        // IMMEDIATE takes the write lock up front, so a concurrent reader can never turn
        // this into a deadlocked lock upgrade; busy_timeout covers the wait.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend(label, "cannot begin a transaction", e))?;
        // On error `tx` is dropped, which rolls back everything this batch wrote.
        write::write_batch(&tx, batch, label)?;
        crate::failpoint::hit("store.commit.before");
        tx.commit()
            .map_err(|e| backend(label, "cannot commit the transaction", e))
    }

    fn commit_group(&mut self, batches: &[WriteBatch]) -> Result<(), StoreError> {
        if batches.iter().all(WriteBatch::is_empty) {
            return Ok(());
        }
        let label = &self.label;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend(label, "cannot begin a transaction", e))?;
        // Later batches overwrite the execution and operation rows of earlier ones, which is
        // what committing them one after the other would leave.
        for batch in batches {
            write::write_batch(&tx, batch, label)?;
        }
        crate::failpoint::hit("store.commit.before");
        tx.commit()
            .map_err(|e| backend(label, "cannot commit the transaction", e))
    }

    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError> {
        let label = &self.label;
        // One read transaction, so the four tables are read from the same snapshot.
        let tx = self
            .conn
            .transaction()
            .map_err(|e| backend(label, "cannot begin a read transaction", e))?;
        let loaded = load::load_all(&tx, label)?;
        tx.commit()
            .map_err(|e| backend(label, "cannot end the read transaction", e))?;
        Ok(loaded)
    }
}

/// The label of an in-memory store in messages.
const MEMORY: &str = ":memory:";

/// A backend error with the store and what was being done.
fn backend(label: &str, doing: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("SQLite store {label}: {doing}: {e}"))
}
