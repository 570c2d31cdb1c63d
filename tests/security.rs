//! Security of the local service: what `durable-fsm serve` says about where it listens,
//! callback ids that cannot be guessed, and no file touched because of a name in a request.
//! (Body size limits and `../` in ids are checked in `src/server/tests` and `tests/aws_sdk.rs`;
//! the default address in `src/cli/args.rs`.)
#![cfg(feature = "local")]

use durable_fsm::DurableApi;
use durable_fsm::model::*;
use durable_fsm::service::{EngineConfig, LocalService, StartExecution, SystemClock};
use std::collections::HashSet;
use std::sync::Arc;

/// Callback ids minted for one execution in one checkpoint.
const CALLBACKS: usize = 200;

#[tokio::test]
async fn callback_ids_are_random_not_sequential() {
    let service = LocalService::in_memory(EngineConfig::default(), Arc::new(SystemClock));
    let started = service
        .with_engine(|e| e.start_execution(StartExecution::new("desk", "{}")))
        .and_then(|r| r)
        .expect("start an execution");
    let input = service
        .with_engine(|e| e.begin_invocation(&started.arn))
        .and_then(|r| r)
        .expect("begin an invocation")
        .expect("an invocation input");
    let updates = (0..CALLBACKS)
        .map(|i| {
            let mut u = OperationUpdate::new(
                format!("cb-{i}"),
                OperationType::Callback,
                OperationAction::Start,
            );
            u.name = Some(format!("approve-{i}"));
            u
        })
        .collect();
    let resp = service
        .checkpoint(CheckpointDurableExecutionRequest {
            durable_execution_arn: started.arn.clone(),
            checkpoint_token: input.checkpoint_token,
            updates: Some(updates),
            client_token: None,
        })
        .await
        .expect("open the callbacks");
    let ops = resp.new_execution_state.operations.unwrap_or_default();
    let ids: Vec<String> = ops
        .iter()
        .filter_map(|o| o.callback_details.as_ref()?.callback_id.clone())
        .collect();
    assert_eq!(ids.len(), CALLBACKS, "every callback has an id");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        CALLBACKS,
        "distinct"
    );
    for id in &ids {
        // At least 128 random bits: 32 hex digits of a v4 UUID (version nibble 4).
        assert!(id.len() >= 32, "{id}");
        assert!(id[..32].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(&id[12..13], "4", "a v4 UUID: {id}");
        // Nothing of the execution's ARN or the operation's id in it.
        assert!(!id.contains("cb-"), "{id}");
    }
    // Ids minted one after the other share no telling prefix and differ in about half of
    // their bits: no counter, no timestamp to step from one to the next.
    let bits = |a: &str, b: &str| -> u32 {
        let (x, y) = (
            u128::from_str_radix(&a[..32], 16).unwrap_or(0),
            u128::from_str_radix(&b[..32], 16).unwrap_or(0),
        );
        (x ^ y).count_ones()
    };
    let mut total = 0u32;
    for pair in ids.windows(2) {
        let shared = pair[0]
            .chars()
            .zip(pair[1].chars())
            .take_while(|(a, b)| a == b)
            .count();
        assert!(
            shared < 8,
            "consecutive ids share {shared} characters: {pair:?}"
        );
        total += bits(&pair[0], &pair[1]);
    }
    let mean = f64::from(total) / (CALLBACKS - 1) as f64;
    // 122 random bits of 128: about 61 differ; a counter or a clock would give a handful.
    assert!((45.0..=75.0).contains(&mean), "mean differing bits {mean}");
}

#[test]
fn names_in_requests_never_become_file_paths() {
    let root = std::env::temp_dir().join(format!("dfsm-security-{}", std::process::id()));
    let dir = root.join("inner");
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let db = dir.join("service.db");
    let service = LocalService::open(&db, EngineConfig::default()).expect("open the database");
    let hostile = [
        "../escape",
        "../../escape",
        "/tmp/escape",
        "..\\escape",
        "a/../../escape",
        "escape.db",
        "%2e%2e%2fescape",
    ];
    for name in hostile {
        // Accepted or refused with an error, never a file.
        let _ = service
            .with_engine(|e| {
                e.start_execution(StartExecution::new(name, "{}").named(name.to_string()))
            })
            .and_then(|r| r);
        let _ = service.with_engine(|e| {
            e.start_execution(StartExecution::new("fn", "{}").named(name.to_string()))
        });
    }
    drop(service);
    let listing = |d: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        listing(&root),
        ["inner"],
        "nothing beside the database's directory"
    );
    for name in listing(&dir) {
        assert!(
            name.starts_with("service.db"),
            "only the database's own files: {name}"
        );
    }
    assert!(!std::path::Path::new("/tmp/escape").exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[cfg(feature = "cli")]
mod serve {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Starts `durable-fsm serve --memory --addr ADDR`, returns the lines it printed until it
    /// said where it listens (and a little after), then kills it.
    fn banner(addr: &str) -> String {
        let mut child = Command::new(env!("CARGO_BIN_EXE_durable-fsm"))
            .args(["serve", "--memory", "--addr", addr])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn durable-fsm serve");
        let (tx, rx) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut text = String::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
            text.push_str(&line);
            text.push('\n');
            if line.contains("serving the Lambda durable execution API") {
                // The other lines follow at once.
                while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
                    text.push_str(&line);
                    text.push('\n');
                }
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        text
    }

    #[test]
    fn serve_on_loopback_says_so_and_warns_of_nothing() {
        let text = banner("127.0.0.1:0");
        assert!(
            text.contains("listening on loopback 127.0.0.1 only"),
            "{text}"
        );
        assert!(!text.contains("WARNING"), "{text}");
    }

    #[test]
    fn serve_on_every_interface_warns_clearly() {
        let text = banner("0.0.0.0:0");
        assert!(
            text.contains("WARNING: listening on 0.0.0.0:"),
            "a warning naming the address: {text}"
        );
        assert!(text.contains("no authentication"), "{text}");
        assert!(!text.contains("listening on loopback"), "{text}");
    }
}
