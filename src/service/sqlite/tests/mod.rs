//! SqliteStore tests: round trips through a file, atomicity, schema versions, corrupt rows,
//! path handling; `engine` drives a real engine across a restart.

mod engine;

use super::schema::{APPLICATION_ID, literal_path};
use super::*;
use crate::model::*;
use crate::service::store::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "durable-fsm-sqlite-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ts(micros: i64) -> Timestamp {
    // 2025-01-01T00:00:00Z plus odd microseconds, so fractions must survive.
    Timestamp::from_micros(1_735_689_600_000_000 + micros)
}

/// An execution row with every optional field set.
fn execution(arn: &str, seq: u64) -> ExecutionRow {
    let mut held = Event::new(EventType::InvocationCompleted, 7, ts(5));
    held.name = Some("held".into());
    ExecutionRow {
        arn: arn.into(),
        function_name: "fn".into(),
        version: "$LATEST".into(),
        name: format!("name-{seq}"),
        execution_op_id: format!("op-{seq}"),
        created_seq: seq,
        input: Some("{\"text\":\"grüße ✓\"}".into()),
        status: ExecutionStatus::Running,
        result: None,
        error: Some(ErrorObject::new("E", "boom")),
        start: ts(123_457),
        end: None,
        execution_timeout: Some(3600),
        retention_days: Some(7),
        tenant_id: Some("tenant".into()),
        parent: Some(ParentLink {
            arn: "arn:parent".into(),
            op_index: 3,
        }),
        invocation: Some(RunningInvocation {
            id: "inv-1".into(),
            input_token: "tok-0".into(),
            token: Some("tok-1".into()),
            seen_seq: 4,
            input_seq: 3,
            began: ts(999_999),
        }),
        needs_invocation: true,
        retry_at: Some(ts(1)),
        consecutive_failures: 2,
        empty_pendings: 1,
        change_seq: 9,
        token_seq: 11,
        service_updated: BTreeSet::from([1, 4]),
        held_events: vec![held],
    }
}

fn operation(arn: &str, index: usize, op_type: OperationType) -> OperationRow {
    let mut op = Operation::new(
        format!("op-{index}"),
        op_type,
        OperationStatus::Started,
        ts(10 + index as i64),
    );
    op.name = Some(format!("name-{index}"));
    if op_type == OperationType::Callback {
        op.parent_id = Some("op-0".into());
        op.callback_details = Some(CallbackDetails {
            callback_id: Some(format!("cb-{arn}-{index}")),
            ..Default::default()
        });
    }
    OperationRow {
        arn: arn.into(),
        index,
        operation: op,
        meta: OperationMeta {
            seq: index as u64 + 1,
            callback_timeout: Some(30),
            callback_timeout_at: Some(ts(30_000_001)),
            ..Default::default()
        },
    }
}

fn event(arn: &str, id: u64) -> EventRow {
    let mut event = Event::new(EventType::StepStarted, id, ts(100 + id as i64));
    event.id = Some(format!("op-{id}"));
    event.sub_type = Some("Step".into());
    EventRow {
        arn: arn.into(),
        event,
    }
}

fn callback(arn: &str, op_index: usize) -> CallbackRow {
    CallbackRow {
        callback_id: format!("cb-{arn}-{op_index}"),
        arn: arn.into(),
        op_index,
    }
}

/// Two executions over three batches, with upserts of rows written earlier; returns the
/// batches and what `load` must give back.
fn history() -> (Vec<WriteBatch>, Vec<StoredExecution>) {
    let a = "arn:a";
    let b = "arn:b";
    let first = WriteBatch {
        executions: vec![execution(a, 0)],
        operations: vec![
            operation(a, 0, OperationType::Execution),
            operation(a, 1, OperationType::Callback),
        ],
        events: vec![event(a, 1), event(a, 2)],
        callbacks: vec![callback(a, 1)],
    };
    let second = WriteBatch {
        executions: vec![execution(b, 1)],
        operations: vec![operation(b, 0, OperationType::Execution)],
        events: vec![event(b, 1)],
        callbacks: vec![],
    };
    let mut done = execution(a, 0);
    done.status = ExecutionStatus::Succeeded;
    done.result = Some("\"ok\"".into());
    done.end = Some(ts(5_000_000));
    done.invocation = None;
    let mut cb = operation(a, 1, OperationType::Callback);
    cb.operation.status = OperationStatus::Succeeded;
    cb.operation.end_timestamp = Some(ts(4_999_999));
    if let Some(d) = cb.operation.callback_details.as_mut() {
        d.result = Some("{\"v\":1}".into());
    }
    let third = WriteBatch {
        executions: vec![done.clone()],
        operations: vec![cb.clone(), operation(a, 2, OperationType::Step)],
        events: vec![event(a, 3)],
        callbacks: vec![],
    };
    let expected = vec![
        StoredExecution {
            execution: done,
            operations: vec![
                operation(a, 0, OperationType::Execution),
                cb,
                operation(a, 2, OperationType::Step),
            ],
            events: (1..=3).map(|i| event(a, i).event).collect(),
        },
        StoredExecution {
            execution: execution(b, 1),
            operations: vec![operation(b, 0, OperationType::Execution)],
            events: vec![event(b, 1).event],
        },
    ];
    (vec![first, second, third], expected)
}

/// A store holding the first two batches of [`history`].
fn seeded(store: &mut SqliteStore) {
    for batch in &history().0[..2] {
        store.commit(batch).unwrap();
    }
}

#[test]
fn round_trip_through_a_file() {
    let dir = TempDir::new("round-trip");
    let path = dir.file("store.db");
    let (batches, expected) = history();
    {
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.path(), Some(path.as_path()));
        assert!(store.load().unwrap().is_empty());
        for batch in &batches {
            store.commit(batch).unwrap();
        }
        store.commit(&WriteBatch::default()).unwrap();
        assert_eq!(store.load().unwrap(), expected);
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap(), expected);
    let callbacks: i64 = store
        .conn
        .query_row("SELECT count(*) FROM callbacks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(callbacks, 1);
}

#[test]
fn files_are_durable_wal_databases() {
    let dir = TempDir::new("pragmas");
    let store = SqliteStore::open(&dir.file("store.db")).unwrap();
    let pragma = |name: &str| -> String {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
    assert_eq!(pragma("user_version"), format!("Integer({SCHEMA_VERSION})"));
    assert_eq!(
        pragma("application_id"),
        format!("Integer({APPLICATION_ID})")
    );
}

#[test]
fn a_batch_that_fails_midway_leaves_nothing_behind() {
    let mut store = SqliteStore::in_memory().unwrap();
    seeded(&mut store);
    let before = store.load().unwrap();
    let (batches, _) = history();
    // Everything of the third batch is written before the duplicate event is reached.
    let mut bad = batches[2].clone();
    bad.events.push(event("arn:b", 1));
    let e = store.commit(&bad).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    let msg = e.to_string();
    for part in ["table events", "arn:b", "event 1"] {
        assert!(msg.contains(part), "{part} missing from {msg}");
    }
    assert_eq!(store.load().unwrap(), before);

    let mut bad = batches[2].clone();
    bad.callbacks.push(callback("arn:a", 1));
    let e = store.commit(&bad).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    assert!(e.to_string().contains("table callbacks"), "{e}");
    assert_eq!(store.load().unwrap(), before);

    // The store is still usable, and the good batch goes through whole.
    store.commit(&batches[2]).unwrap();
    assert_eq!(store.load().unwrap(), history().1);
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = TempDir::new("newer");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    seeded(&mut store);
    store
        .conn
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(store);
    let e = SqliteStore::open(&path).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Backend(_)), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{msg}"
    );
    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
}

#[test]
fn foreign_files_are_refused_and_empty_files_get_the_schema() {
    let dir = TempDir::new("foreign");
    let other = dir.file("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let msg = SqliteStore::open(&other).unwrap_err().to_string();
    assert!(msg.contains("not a durable-fsm store"), "{msg}");
    assert!(msg.contains(&other.display().to_string()), "{msg}");

    let text = dir.file("notes.txt");
    std::fs::write(&text, "definitely not a database, just some text......").unwrap();
    let msg = SqliteStore::open(&text).unwrap_err().to_string();
    assert!(msg.contains(&text.display().to_string()), "{msg}");

    let empty = dir.file("empty.db");
    std::fs::File::create(&empty).unwrap();
    let mut store = SqliteStore::open(&empty).unwrap();
    seeded(&mut store);
    assert_eq!(store.load().unwrap().len(), 2);
}

#[test]
fn corrupt_rows_are_reported_with_table_and_key() {
    let cases = [
        (
            "UPDATE executions SET row = '{\"arn\":' WHERE arn = 'arn:b'",
            &["table executions", "execution arn:b", "bad JSON"][..],
        ),
        (
            "UPDATE operations SET row = 'null' WHERE arn = 'arn:a' AND idx = 1",
            &["table operations", "execution arn:a, index 1", "bad JSON"],
        ),
        (
            "UPDATE events SET row = '{}' WHERE arn = 'arn:a' AND event_id = 2",
            &["table events", "execution arn:a, event id 2", "bad JSON"],
        ),
        (
            "UPDATE events SET event_id = 5 WHERE arn = 'arn:b' AND event_id = 1",
            &["table events", "event id 5", "JSON has event id 1"],
        ),
        (
            "UPDATE executions SET arn = 'arn:z' WHERE arn = 'arn:b'",
            &["table executions", "execution arn:z", "JSON names arn:b"],
        ),
        (
            "UPDATE operations SET arn = 'arn:gone' WHERE arn = 'arn:b'",
            &["table operations", "arn:gone", "no such execution"],
        ),
        (
            "UPDATE operations SET idx = -1 WHERE arn = 'arn:b'",
            &["table operations", "index -1", "negative"],
        ),
        (
            "UPDATE callbacks SET op_idx = 0",
            &[
                "table callbacks",
                "callback id cb-arn:a-1",
                "does not carry it",
            ],
        ),
        (
            "UPDATE executions SET row = x'00ff' WHERE arn = 'arn:a'",
            &["table executions", "execution arn:a", "unreadable column"],
        ),
    ];
    for (sql, parts) in cases {
        let mut store = SqliteStore::in_memory().unwrap();
        seeded(&mut store);
        store.conn.execute_batch(sql).unwrap();
        let e = store.load().unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{sql}: {e}");
        assert_eq!(e.code(), "DFSM-STORE-CORRUPT");
        let msg = e.to_string();
        for part in parts {
            assert!(msg.contains(part), "{sql}: {part:?} missing from {msg}");
        }
    }
}

#[test]
fn a_missing_directory_is_named() {
    let dir = TempDir::new("missing");
    let path = dir.file("no-such-dir").join("store.db");
    let e = SqliteStore::open(&path).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(!dir.file("no-such-dir").exists(), "nothing is created");
    let msg = SqliteStore::open(Path::new("")).unwrap_err().to_string();
    assert!(msg.contains("empty"), "{msg}");
    // A directory is not a database file.
    let msg = SqliteStore::open(&dir.0).unwrap_err().to_string();
    assert!(msg.contains(&dir.0.display().to_string()), "{msg}");
}

#[test]
fn special_sqlite_names_stay_plain_file_names() {
    let cases = [
        ("file:x.db?mode=memory", "./file:x.db?mode=memory"),
        (":memory:", "./:memory:"),
        ("data/store.db", "./data/store.db"),
        ("/abs/store.db", "/abs/store.db"),
    ];
    for (given, opened) in cases {
        assert_eq!(
            literal_path(Path::new(given)),
            Some(PathBuf::from(opened)),
            "{given}"
        );
    }
    assert_eq!(literal_path(Path::new("")), None);
    // An absolute `file:`-looking name is opened as that very file.
    let dir = TempDir::new("uri");
    let path = dir.file("file:store.db?mode=memory");
    let mut store = SqliteStore::open(&path).unwrap();
    seeded(&mut store);
    drop(store);
    assert!(path.is_file());
    assert_eq!(SqliteStore::open(&path).unwrap().load().unwrap().len(), 2);
}

#[test]
fn debug_names_the_path() {
    let store = SqliteStore::in_memory().unwrap();
    assert_eq!(store.path(), None);
    assert!(format!("{store:?}").contains("SqliteStore"));
}
