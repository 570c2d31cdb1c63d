//! `load`: every execution with its operations and events, decoded and cross-checked
//! against the key columns. Anything that does not decode is `StoreError::Corrupt` naming
//! the table and the key; nothing here panics on bad data.

use super::backend;
use crate::model::{Event, Operation};
use crate::service::store::{
    ExecutionRow, OperationMeta, OperationRow, StoreError, StoredExecution,
};
use rusqlite::types::FromSql;
use rusqlite::{Row, Rows, Transaction};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

const SELECT_EXECUTIONS: &str = "SELECT arn, row FROM executions ORDER BY created_seq, arn";
const SELECT_OPERATIONS: &str = "SELECT arn, idx, row FROM operations ORDER BY arn, idx";
const SELECT_EVENTS: &str = "SELECT arn, event_id, row FROM events ORDER BY arn, event_id";
const SELECT_CALLBACKS: &str = "SELECT callback_id, arn, op_idx FROM callbacks";

/// The JSON of an operation row (see `write::OperationJson`).
#[derive(Deserialize)]
struct OperationJson {
    operation: Operation,
    meta: OperationMeta,
}

/// Error context: the store and the table being read.
#[derive(Clone, Copy)]
struct Table<'a> {
    label: &'a str,
    name: &'a str,
}

impl Table<'_> {
    fn corrupt(self, key: &str, problem: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!(
            "SQLite store {}: table {}, {key}: {problem}",
            self.label, self.name
        ))
    }

    fn col<T: FromSql>(self, row: &Row<'_>, i: usize, key: &str) -> Result<T, StoreError> {
        row.get(i)
            .map_err(|e| self.corrupt(key, format_args!("unreadable column {i}: {e}")))
    }

    fn decode<T: DeserializeOwned>(self, json: &str, key: &str) -> Result<T, StoreError> {
        serde_json::from_str(json).map_err(|e| self.corrupt(key, format_args!("bad JSON: {e}")))
    }

    fn index(self, v: i64, key: &str) -> Result<usize, StoreError> {
        usize::try_from(v).map_err(|_| self.corrupt(key, format_args!("negative index {v}")))
    }

    /// Runs `sql` and hands each row to `f`.
    fn each(
        self,
        tx: &Transaction<'_>,
        sql: &str,
        mut f: impl FnMut(&Row<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let doing = || format!("cannot read table {}", self.name);
        let mut stmt = tx
            .prepare_cached(sql)
            .map_err(|e| backend(self.label, &doing(), e))?;
        let mut rows: Rows<'_> = stmt
            .query([])
            .map_err(|e| backend(self.label, &doing(), e))?;
        while let Some(row) = rows.next().map_err(|e| backend(self.label, &doing(), e))? {
            f(row)?;
        }
        Ok(())
    }
}

/// Reads every execution, its operations ordered by index and its events by EventId.
pub(super) fn load_all(
    tx: &Transaction<'_>,
    label: &str,
) -> Result<Vec<StoredExecution>, StoreError> {
    let mut out: Vec<StoredExecution> = Vec::new();
    let mut pos: HashMap<String, usize> = HashMap::new();

    let t = Table {
        label,
        name: "executions",
    };
    t.each(tx, SELECT_EXECUTIONS, |row| {
        let arn: String = t.col(row, 0, "a row")?;
        let key = format!("execution {arn}");
        let execution: ExecutionRow = t.decode(&t.col::<String>(row, 1, &key)?, &key)?;
        if execution.arn != arn {
            return Err(t.corrupt(&key, format_args!("JSON names {}", execution.arn)));
        }
        pos.insert(arn, out.len());
        out.push(StoredExecution {
            execution,
            operations: Vec::new(),
            events: Vec::new(),
        });
        Ok(())
    })?;

    let t = Table {
        label,
        name: "operations",
    };
    t.each(tx, SELECT_OPERATIONS, |row| {
        let arn: String = t.col(row, 0, "a row")?;
        let raw: i64 = t.col(row, 1, &format!("execution {arn}"))?;
        let key = format!("execution {arn}, index {raw}");
        let index = t.index(raw, &key)?;
        let &p = pos
            .get(&arn)
            .ok_or_else(|| t.corrupt(&key, "no such execution"))?;
        let json: OperationJson = t.decode(&t.col::<String>(row, 2, &key)?, &key)?;
        out[p].operations.push(OperationRow {
            arn,
            index,
            operation: json.operation,
            meta: json.meta,
        });
        Ok(())
    })?;

    let t = Table {
        label,
        name: "events",
    };
    t.each(tx, SELECT_EVENTS, |row| {
        let arn: String = t.col(row, 0, "a row")?;
        let id: i64 = t.col(row, 1, &format!("execution {arn}"))?;
        let key = format!("execution {arn}, event id {id}");
        let &p = pos
            .get(&arn)
            .ok_or_else(|| t.corrupt(&key, "no such execution"))?;
        let event: Event = t.decode(&t.col::<String>(row, 2, &key)?, &key)?;
        if i64::try_from(event.event_id).ok() != Some(id) {
            return Err(t.corrupt(&key, format_args!("JSON has event id {}", event.event_id)));
        }
        out[p].events.push(event);
        Ok(())
    })?;

    // The engine rebuilds its callback index from the operations; the table is an index for
    // lookups, so it must agree with them.
    let t = Table {
        label,
        name: "callbacks",
    };
    t.each(tx, SELECT_CALLBACKS, |row| {
        let id: String = t.col(row, 0, "a row")?;
        let key = format!("callback id {id}");
        let arn: String = t.col(row, 1, &key)?;
        let index = t.index(t.col(row, 2, &key)?, &key)?;
        let ops = pos.get(&arn).map(|&p| &out[p].operations);
        let op = ops.and_then(|ops| {
            ops.binary_search_by_key(&index, |o| o.index)
                .ok()
                .map(|i| &ops[i].operation)
        });
        let stored = op
            .and_then(|o| o.callback_details.as_ref())
            .and_then(|d| d.callback_id.as_deref());
        if stored != Some(id.as_str()) {
            return Err(t.corrupt(
                &key,
                format_args!("operation {index} of execution {arn} does not carry it"),
            ));
        }
        Ok(())
    })?;
    Ok(out)
}
