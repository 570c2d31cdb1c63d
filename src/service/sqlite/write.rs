//! `commit`: one batch written inside the caller's transaction with cached statements.

use super::backend;
use crate::model::{Operation, Timestamp};
use crate::service::store::{OperationMeta, StoreError, WriteBatch};
use rusqlite::{ErrorCode, Transaction, params};
use serde::Serialize;

const UPSERT_EXECUTION: &str = "
INSERT INTO executions (arn, function_name, name, status, created_seq, start_us, end_us, row)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (arn) DO UPDATE SET
    function_name = excluded.function_name,
    name          = excluded.name,
    status        = excluded.status,
    created_seq   = excluded.created_seq,
    start_us      = excluded.start_us,
    end_us        = excluded.end_us,
    row           = excluded.row";

const UPSERT_OPERATION: &str = "
INSERT INTO operations (arn, idx, op_id, type, status, row)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (arn, idx) DO UPDATE SET
    op_id  = excluded.op_id,
    type   = excluded.type,
    status = excluded.status,
    row    = excluded.row";

const INSERT_EVENT: &str = "
INSERT INTO events (arn, event_id, type, timestamp_us, row) VALUES (?1, ?2, ?3, ?4, ?5)";

const INSERT_CALLBACK: &str = "
INSERT INTO callbacks (callback_id, arn, op_idx) VALUES (?1, ?2, ?3)";

/// The JSON of an operation row: the operation as the API shows it and the service's
/// bookkeeping. The key (ARN, index) lives in columns only.
#[derive(Serialize)]
pub(super) struct OperationJson<'a> {
    pub operation: &'a Operation,
    pub meta: &'a OperationMeta,
}

/// Writes every row of `batch`; the caller commits, or drops `tx` to roll back.
pub(super) fn write_batch(
    tx: &Transaction<'_>,
    batch: &WriteBatch,
    label: &str,
) -> Result<(), StoreError> {
    let prepare = |sql| {
        tx.prepare_cached(sql)
            .map_err(|e| backend(label, "cannot prepare a statement", e))
    };
    if !batch.executions.is_empty() {
        let mut stmt = prepare(UPSERT_EXECUTION)?;
        for h in &batch.executions {
            let what = || format!("execution {}", h.arn);
            let json = encode(h, label, &what)?;
            stmt.execute(params![
                h.arn,
                h.function_name,
                h.name,
                h.status.as_str(),
                int(h.created_seq, label, &what)?,
                h.start.as_micros(),
                h.end.map(Timestamp::as_micros),
                json,
            ])
            .map_err(|e| backend(label, &format!("cannot write {}", what()), e))?;
        }
    }
    if !batch.operations.is_empty() {
        let mut stmt = prepare(UPSERT_OPERATION)?;
        for o in &batch.operations {
            let what = || format!("operation {} of execution {}", o.index, o.arn);
            let json = encode(
                &OperationJson {
                    operation: &o.operation,
                    meta: &o.meta,
                },
                label,
                &what,
            )?;
            stmt.execute(params![
                o.arn,
                int(o.index, label, &what)?,
                o.operation.id,
                o.operation.op_type.as_str(),
                o.operation.status.as_str(),
                json,
            ])
            .map_err(|e| backend(label, &format!("cannot write {}", what()), e))?;
        }
    }
    if !batch.events.is_empty() {
        let mut stmt = prepare(INSERT_EVENT)?;
        for ev in &batch.events {
            let what = || format!("event {} of execution {}", ev.event.event_id, ev.arn);
            let json = encode(&ev.event, label, &what)?;
            stmt.execute(params![
                ev.arn,
                int(ev.event.event_id, label, &what)?,
                ev.event.event_type.as_str(),
                ev.event.event_timestamp.as_micros(),
                json,
            ])
            .map_err(|e| insert_error(label, "events", &what(), e))?;
        }
    }
    if !batch.callbacks.is_empty() {
        let mut stmt = prepare(INSERT_CALLBACK)?;
        for c in &batch.callbacks {
            let what = || {
                format!(
                    "callback {} (operation {} of execution {})",
                    c.callback_id, c.op_index, c.arn
                )
            };
            stmt.execute(params![
                c.callback_id,
                c.arn,
                int(c.op_index, label, &what)?
            ])
            .map_err(|e| insert_error(label, "callbacks", &what(), e))?;
        }
    }
    Ok(())
}

/// Events and callback ids are only ever appended: a key that is already stored means the
/// engine produced it twice, which must not be papered over.
fn insert_error(label: &str, table: &str, what: &str, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
        StoreError::Corrupt(format!(
            "SQLite store {label}: table {table}: {what} is already stored; rows of this table \
             are only appended"
        ))
    } else {
        backend(label, &format!("cannot write {what}"), e)
    }
}

fn encode<T: Serialize>(
    row: &T,
    label: &str,
    what: &dyn Fn() -> String,
) -> Result<String, StoreError> {
    serde_json::to_string(row).map_err(|e| {
        StoreError::Backend(format!(
            "SQLite store {label}: cannot encode {} as JSON: {e}",
            what()
        ))
    })
}

/// An unsigned key or counter as an SQLite INTEGER.
fn int<T>(v: T, label: &str, what: &dyn Fn() -> String) -> Result<i64, StoreError>
where
    T: TryInto<i64> + Copy + std::fmt::Display,
{
    v.try_into().map_err(|_| {
        StoreError::Backend(format!(
            "SQLite store {label}: {}: {v} does not fit an SQLite INTEGER",
            what()
        ))
    })
}
