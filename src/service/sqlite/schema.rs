//! The schema, the connection settings and the schema-version check.

use super::backend;
use crate::service::store::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The schema version this build writes and reads (`PRAGMA user_version`).
///
/// Bump it, and add a migration in `init`, whenever the tables or the JSON shape of a stored
/// row change incompatibly; an older build then refuses the file instead of misreading it.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a durable-fsm store: "DFSM" in ASCII.
pub(super) const APPLICATION_ID: i64 = 0x4446_534D;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements kept prepared: the four of `commit`, the four of `load`, and headroom.
const STATEMENT_CACHE: usize = 32;

/// Schema version 1. `row` holds the whole row as JSON; the other columns are copies kept
/// for keys, indexes and inspection.
const SCHEMA_V1: &str = "
CREATE TABLE executions (
    arn           TEXT    NOT NULL PRIMARY KEY,
    function_name TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    created_seq   INTEGER NOT NULL,
    start_us      INTEGER NOT NULL,
    end_us        INTEGER,
    row           TEXT    NOT NULL
);
CREATE INDEX executions_by_created  ON executions (created_seq);
CREATE INDEX executions_by_function ON executions (function_name, created_seq);
CREATE INDEX executions_by_name     ON executions (function_name, name);
CREATE INDEX executions_by_status   ON executions (status, created_seq);

CREATE TABLE operations (
    arn     TEXT    NOT NULL,
    idx     INTEGER NOT NULL,
    op_id   TEXT    NOT NULL,
    type    TEXT    NOT NULL,
    status  TEXT    NOT NULL,
    row     TEXT    NOT NULL,
    PRIMARY KEY (arn, idx)
);
CREATE INDEX operations_by_id ON operations (arn, op_id);

CREATE TABLE events (
    arn          TEXT    NOT NULL,
    event_id     INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    timestamp_us INTEGER NOT NULL,
    row          TEXT    NOT NULL,
    PRIMARY KEY (arn, event_id)
);

CREATE TABLE callbacks (
    callback_id TEXT    NOT NULL PRIMARY KEY,
    arn         TEXT    NOT NULL,
    op_idx      INTEGER NOT NULL
);
CREATE INDEX callbacks_by_operation ON callbacks (arn, op_idx);
";

/// The path SQLite must be given so that it opens exactly `path`: relative paths get a `./`
/// prefix so names SQLite treats specially (`:memory:`, `file:` URIs, which the bundled
/// build honours even without `SQLITE_OPEN_URI`) stay plain file names. `None` for an empty
/// path, which SQLite would turn into a temporary database.
pub(super) fn literal_path(path: &Path) -> Option<PathBuf> {
    if path.as_os_str().is_empty() {
        None
    } else if path.is_relative() {
        Some(Path::new(".").join(path))
    } else {
        Some(path.to_path_buf())
    }
}

/// Applies the connection settings and makes sure the database holds the current schema.
pub(super) fn init(conn: &mut Connection, label: &str, file: bool) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| backend(label, "cannot set busy_timeout", e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Check the version before anything writes to the file (journal_mode=WAL does), so a
    // refused file is left as it was.
    ensure_schema(conn, label)?;
    if file {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| backend(label, "cannot switch to WAL mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Still durable with synchronous=FULL, only slower; some file systems lack the
            // shared memory WAL needs.
            tracing::warn!(store = label, journal_mode = %mode, "SQLite store is not in WAL mode");
        }
    }
    // Per connection, not stored in the file: every commit syncs the WAL before returning.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| backend(label, "cannot set synchronous=FULL", e))?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(|e| backend(label, "cannot set foreign_keys", e))?;
    Ok(())
}

/// Creates the schema in an empty database, accepts the current one, refuses the rest.
fn ensure_schema(conn: &mut Connection, label: &str) -> Result<(), StoreError> {
    // IMMEDIATE: two processes opening the same new file cannot both create the schema.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend(label, "cannot begin the schema check", e))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| backend(label, "cannot read the schema version", e))?;
    let app_id: i64 = tx
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| backend(label, "cannot read the application id", e))?;
    if version == SCHEMA_VERSION && app_id == APPLICATION_ID {
        return Ok(());
    }
    if version > SCHEMA_VERSION && app_id == APPLICATION_ID {
        return Err(StoreError::Backend(format!(
            "SQLite store {label} has schema version {version}, newer than the version \
             {SCHEMA_VERSION} this durable-fsm understands; refusing to open it \
             (upgrade durable-fsm, or use another file)"
        )));
    }
    let objects: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(|e| backend(label, "cannot read the schema", e))?;
    if version != 0 || app_id != 0 || objects != 0 {
        return Err(StoreError::Backend(format!(
            "{label} is not a durable-fsm store (application_id {app_id:#x}, user_version \
             {version}, {objects} schema objects); refusing to open it"
        )));
    }
    tx.execute_batch(SCHEMA_V1)
        .map_err(|e| backend(label, "cannot create the schema", e))?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(|e| backend(label, "cannot set the application id", e))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| backend(label, "cannot set the schema version", e))?;
    tx.commit()
        .map_err(|e| backend(label, "cannot commit the schema", e))
}
