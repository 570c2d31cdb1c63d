//! Interop with AWS's own tools: the interop example (`examples/interop`), built as a real
//! `lambda_runtime` binary and served by `cargo lambda watch`, is driven
//!
//! * by AWS's emulator `dex-local-runner` (aws-durable-execution-sdk-python-testing 1.4.0, with
//!   its skip-time clock), started with its `POST /start-durable-execution` route, and
//! * by `durable-fsm serve --lambda-endpoint`, started with the Lambda Invoke API (real time),
//!
//! and every execution's result and history are checked: against what the emulator produces
//! (its deviations from AWS, spec/local-runner.md §8, are asserted as such and listed in the
//! book's "Interop" chapter) and against what AWS produces (spec/history-and-conformance.md
//! §1) for `durable-fsm serve`. A third test sends malformed invocation events straight to the
//! function.
//!
//! cargo lambda serves an example only as its default function `_`, so each workflow runs in a
//! `cargo lambda watch` of its own (`INTEROP_WORKFLOW` picks it) and is invoked as `_`.
//! `cargo lambda watch` builds the example with exactly this test's features, so it reuses
//! what `cargo test` compiled. The tools come from PyPI into `<target>/interop-venv`
//! (see `interop/tools.rs`: skipped without Python, except in CI).
#![cfg(all(feature = "lambda", feature = "cli"))]

#[path = "interop/http.rs"]
mod http;
#[path = "interop/procs.rs"]
mod procs;
#[path = "interop/scenarios.rs"]
mod scenarios;
#[path = "interop/tools.rs"]
mod tools;

use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use http::{
    Http, encode_segment, history, wait_suspended_on_callback, wait_terminal,
    wait_terminal_or_stalled,
};
use procs::{
    Procs, invoke_url, start_dex_local_runner, start_serve, start_watch, wait_function_ready,
    wait_listening,
};
use scenarios::{CALLBACK_BODY, Driver, Finished, WORKFLOWS, check, input};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tools::{free_port, tools};

/// The longest an execution may take to end.
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(180);
/// How long an execution under the emulator may sit RUNNING with nothing in flight and no new
/// event before it counts as stalled (with skip-time nothing there waits in real time).
const STALL: Duration = Duration::from_secs(30);
/// The longest the callback workflow may take to create its callback.
const CALLBACK_WAIT: Duration = Duration::from_secs(60);
/// The region of `durable-fsm serve` (its default) and of the emulator (its default).
const SERVE_REGION: &str = "us-east-1";
const RUNNER_REGION: &str = "us-west-2";

/// Where an execution is started and how its callbacks are completed.
#[derive(Clone)]
enum Target {
    DexLocalRunner {
        base: String,
        watch: String,
    },
    Serve {
        base: String,
        client: aws_sdk_lambda::Client,
    },
}

impl Target {
    fn base(&self) -> &str {
        match self {
            Target::DexLocalRunner { base, .. } | Target::Serve { base, .. } => base,
        }
    }

    /// Starts an execution named `name` of the function behind this target; returns its ARN.
    async fn start(&self, http: &Http, name: &str, input: &Value) -> String {
        match self {
            Target::DexLocalRunner { base, watch } => {
                // The emulator's own start route; LambdaEndpoint sends this execution's
                // invocations to its workflow's `cargo lambda watch`.
                let body = json!({
                    "AccountId": "123456789012",
                    "FunctionName": "_",
                    "FunctionQualifier": "$LATEST",
                    "ExecutionName": name,
                    "ExecutionTimeoutSeconds": 300,
                    "ExecutionRetentionPeriodDays": 1,
                    "Input": input.to_string(),
                    "LambdaEndpoint": watch,
                });
                let reply = http
                    .post_json(
                        &format!("{base}/start-durable-execution"),
                        &body.to_string(),
                        http::REQUEST_TIMEOUT,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("start {name}: {e}"));
                assert_eq!(reply.status, 201, "start {name}: {reply:?}");
                reply.json()["ExecutionArn"]
                    .as_str()
                    .expect("ExecutionArn")
                    .to_string()
            }
            Target::Serve { client, .. } => {
                // What `aws lambda invoke --invocation-type Event --durable-execution-name`
                // sends.
                let out = client
                    .invoke()
                    .function_name("_")
                    .invocation_type(InvocationType::Event)
                    .durable_execution_name(name)
                    .payload(Blob::new(input.to_string()))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("Invoke {name}: {e:?}"));
                assert_eq!(out.status_code(), 202, "Invoke {name}");
                out.durable_execution_arn()
                    .expect("X-Amz-Durable-Execution-Arn")
                    .to_string()
            }
        }
    }

    /// Completes a callback successfully with `body`.
    async fn succeed_callback(&self, http: &Http, id: &str, body: &str) {
        match self {
            Target::DexLocalRunner { base, .. } => {
                let url = format!(
                    "{base}/2025-12-01/durable-execution-callbacks/{}/succeed",
                    encode_segment(id)
                );
                let reply = http
                    .post_json(&url, body, http::REQUEST_TIMEOUT)
                    .await
                    .unwrap_or_else(|e| panic!("callback success: {e}"));
                assert_eq!(reply.status, 200, "callback success: {reply:?}");
            }
            Target::Serve { client, .. } => {
                client
                    .send_durable_execution_callback_success()
                    .callback_id(id)
                    .result(Blob::new(body))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("SendDurableExecutionCallbackSuccess: {e:?}"));
            }
        }
    }
}

/// Starts `workflow` at `target`, completes its callback if it has one, waits for the end and
/// reads the history.
///
/// Under the emulator an execution is started again (once, under another name) if it
/// stalls: dex-local-runner 1.4.0 has been seen to leave a step retry without a wake-up on a
/// loaded machine, the execution RUNNING for good with nothing in flight (see the book's
/// "Interop" chapter). `durable-fsm serve` gets no second chance.
async fn run_workflow(target: Target, http: Http, workflow: String) -> Finished {
    let base = target.base().to_string();
    let names = match target {
        Target::DexLocalRunner { .. } => vec![workflow.clone(), format!("{workflow}-again")],
        Target::Serve { .. } => vec![workflow.clone()],
    };
    for name in names {
        let arn = target.start(&http, &name, &input(&workflow)).await;
        if workflow == "with-callback" {
            let id = wait_suspended_on_callback(&http, &base, &arn, CALLBACK_WAIT).await;
            target.succeed_callback(&http, &id, CALLBACK_BODY).await;
        }
        let execution = match target {
            Target::DexLocalRunner { .. } => {
                match wait_terminal_or_stalled(&http, &base, &arn, EXECUTION_TIMEOUT, STALL).await {
                    Ok(execution) => execution,
                    Err(stalled) => {
                        eprintln!(
                            "interop: KNOWN EMULATOR FLAKE, starting {workflow} again: {stalled}"
                        );
                        continue;
                    }
                }
            }
            Target::Serve { .. } => wait_terminal(&http, &base, &arn, EXECUTION_TIMEOUT).await,
        };
        let events = history(&http, &base, &arn).await;
        return Finished {
            workflow,
            name,
            arn,
            execution,
            events,
        };
    }
    panic!("{workflow} stalled under the emulator twice in a row");
}

/// Runs every workflow, each at its own target: at once, or one after another.
async fn run_all(targets: Vec<(String, Target)>, http: &Http, at_once: bool) -> Vec<Finished> {
    let mut done = Vec::new();
    if at_once {
        let mut tasks = tokio::task::JoinSet::new();
        for (workflow, target) in targets {
            tasks.spawn(run_workflow(target, http.clone(), workflow));
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(finished) => done.push(finished),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("a workflow task failed: {e}"),
            }
        }
    } else {
        for (workflow, target) in targets {
            done.push(run_workflow(target, http.clone(), workflow).await);
        }
    }
    done.sort_by_key(|f| WORKFLOWS.iter().position(|w| *w == f.workflow));
    done
}

// ---- the stacks ----------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// An aws-sdk-lambda client for `durable-fsm serve`: dummy credentials, no SDK retries,
/// bounded calls.
fn serve_client(url: &str) -> aws_sdk_lambda::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(30))
        .build();
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(SERVE_REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("dummy", "dummy", None, None, "interop"))
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .timeout_config(timeouts)
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// Waits for every watched function of a stack to answer (in parallel: the first one may
/// compile the example while the others wait for cargo's lock).
async fn warm_up(http: &Http, watches: &[String]) {
    let mut tasks = tokio::task::JoinSet::new();
    for url in watches {
        let (http, url) = (http.clone(), url.clone());
        tasks.spawn(async move {
            let answer = wait_function_ready(&http, &url).await;
            assert_eq!(answer["Status"], "FAILED", "{url}: {answer}");
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[test]
fn dex_local_runner_drives_the_interop_workflows() {
    let Some(tools) = tools() else { return };
    let began = Instant::now();
    let mut procs = Procs::default();
    let runner_port = free_port();
    let runner_url = format!("http://127.0.0.1:{runner_port}");
    let watch_ports: Vec<u16> = WORKFLOWS.iter().map(|_| free_port()).collect();
    let watch_urls: Vec<String> = watch_ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    // The global endpoint serves three-steps; every execution names its own with
    // LambdaEndpoint, since cargo lambda serves one example per process.
    let runner = procs.add(start_dex_local_runner(
        tools,
        "dex",
        runner_port,
        &watch_urls[0],
    ));
    wait_listening(&mut procs.0[runner], runner_port);
    for (workflow, port) in WORKFLOWS.iter().zip(&watch_ports) {
        let watch = procs.add(start_watch(
            tools,
            "dex",
            workflow,
            *port,
            &runner_url,
            RUNNER_REGION,
        ));
        wait_listening(&mut procs.0[watch], *port);
    }
    let http = Http::default();
    let runtime = runtime();
    let finished = runtime.block_on(async {
        let health = http.get(&format!("{runner_url}/health")).await;
        assert!(
            health.is_ok_and(|r| r.status == 200),
            "the emulator is not healthy"
        );
        warm_up(&http, &watch_urls).await;
        let ready = began.elapsed();
        let targets = WORKFLOWS
            .iter()
            .zip(&watch_urls)
            .map(|(workflow, watch)| {
                let target = Target::DexLocalRunner {
                    base: runner_url.clone(),
                    watch: watch.clone(),
                };
                (workflow.to_string(), target)
            })
            .collect();
        // One at a time: the emulator's skip-time clock is shared by all its executions, so
        // concurrent ones move each other's timers.
        let finished = run_all(targets, &http, false).await;
        eprintln!(
            "interop (dex-local-runner): stack ready in {ready:.1?}, workflows done in {:.1?}",
            began.elapsed() - ready
        );
        finished
    });
    for run in &finished {
        check(Driver::DexLocalRunner, run);
    }
    // paged-state: the emulator's access log shows the executor paging the operations the
    // invocation input left out.
    let paged = finished
        .iter()
        .find(|f| f.workflow == "paged-state")
        .expect("paged-state ran");
    let log = procs.0[runner].log_text();
    let state_reads = format!("{}/state?", encode_segment(&paged.arn));
    assert!(
        log.contains(&state_reads),
        "no GetDurableExecutionState call for {} in the emulator's log",
        paged.arn
    );
    assert_eq!(
        finished[0].execution["FunctionArn"],
        json!(format!(
            "arn:aws:lambda:{RUNNER_REGION}:123456789012:function:_:$LATEST"
        ))
    );
    eprintln!("interop (dex-local-runner): {:.1?} in all", began.elapsed());
}

#[test]
fn durable_fsm_serve_drives_the_interop_workflows() {
    let Some(tools) = tools() else { return };
    let began = Instant::now();
    let mut procs = Procs::default();
    let mut targets = Vec::new();
    let mut watch_urls = Vec::new();
    for workflow in WORKFLOWS {
        // One service per workflow: `serve` has one Lambda endpoint, and cargo lambda serves
        // one example per process.
        let port = free_port();
        let watch_url = format!("http://127.0.0.1:{port}");
        let (serve, serve_url) = start_serve("serve", workflow, &watch_url);
        procs.add(serve);
        let watch = procs.add(start_watch(
            tools,
            "serve",
            workflow,
            port,
            &serve_url,
            SERVE_REGION,
        ));
        wait_listening(&mut procs.0[watch], port);
        let target = Target::Serve {
            client: serve_client(&serve_url),
            base: serve_url,
        };
        targets.push((workflow.to_string(), target));
        watch_urls.push(watch_url);
    }
    let http = Http::default();
    let runtime = runtime();
    let finished = runtime.block_on(async {
        warm_up(&http, &watch_urls).await;
        let ready = began.elapsed();
        let finished = run_all(targets, &http, true).await;
        eprintln!(
            "interop (durable-fsm serve): stack ready in {ready:.1?}, workflows done in {:.1?}",
            began.elapsed() - ready
        );
        finished
    });
    for run in &finished {
        check(Driver::Serve, run);
        assert!(
            run.arn.starts_with(&format!(
                "arn:aws:lambda:{SERVE_REGION}:123456789012:function:_:$LATEST/durable-execution/{}/",
                run.name
            )),
            "{}",
            run.arn
        );
    }
    eprintln!(
        "interop (durable-fsm serve): {:.1?} in all",
        began.elapsed()
    );
}

#[test]
fn bad_invocation_events_get_failed_envelopes_and_the_function_survives() {
    let Some(tools) = tools() else { return };
    let mut procs = Procs::default();
    let port = free_port();
    let watch_url = format!("http://127.0.0.1:{port}");
    let (serve, serve_url) = start_serve("bad-events", "three-steps", &watch_url);
    procs.add(serve);
    let watch = procs.add(start_watch(
        tools,
        "bad-events",
        "three-steps",
        port,
        &serve_url,
        SERVE_REGION,
    ));
    wait_listening(&mut procs.0[watch], port);
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:_:$LATEST/durable-execution/bad/1";
    let op = |status: &str| {
        json!({
            "Id": "1", "Type": "EXECUTION", "Status": status, "StartTimestamp": 1_732_700_000_000_i64,
            "ExecutionDetails": { "InputPayload": "5" },
        })
    };
    let cases = [
        (
            "missing CheckpointToken",
            json!({
                "DurableExecutionArn": arn,
                "InitialExecutionState": { "Operations": [op("STARTED")], "NextMarker": "" },
            }),
            "CheckpointToken",
        ),
        (
            "unknown operation Status",
            json!({
                "DurableExecutionArn": arn,
                "CheckpointToken": "token",
                "InitialExecutionState": { "Operations": [op("EXPLODED")], "NextMarker": "" },
            }),
            "EXPLODED",
        ),
        (
            "Operations not a list",
            json!({
                "DurableExecutionArn": arn,
                "CheckpointToken": "token",
                "InitialExecutionState": { "Operations": { "Id": "1" }, "NextMarker": "" },
            }),
            "Operations is not a list",
        ),
        (
            "not an object",
            json!(["DurableExecutionArn"]),
            "not a JSON object",
        ),
    ];
    let http = Http::default();
    let runtime = runtime();
    runtime.block_on(async {
        warm_up(&http, std::slice::from_ref(&watch_url)).await;
        for (what, event, hint) in &cases {
            let reply = http
                .post_json(
                    &invoke_url(&watch_url),
                    &event.to_string(),
                    http::REQUEST_TIMEOUT,
                )
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(reply.status, 200, "{what}: {reply:?}");
            let out = reply.json();
            assert_eq!(out["Status"], "FAILED", "{what}: {out}");
            assert_eq!(
                out["Error"]["ErrorType"], "InvalidInvocationEvent",
                "{what}: {out}"
            );
            let message = out["Error"]["ErrorMessage"].as_str().unwrap_or_default();
            assert!(
                message.contains(hint),
                "{what}: {hint:?} not in {message:?}"
            );
            assert!(out.get("Result").is_none(), "{what}: {out}");
        }
        // The same function process still runs a real execution.
        let target = Target::Serve {
            client: serve_client(&serve_url),
            base: serve_url.clone(),
        };
        let finished = run_workflow(target, http.clone(), "three-steps".into()).await;
        check(Driver::Serve, &finished);
    });
    // cargo lambda restarts a function process that dies; it started this one once.
    let log = procs.0[watch].log_text();
    let starts = log.matches("Running `").count();
    assert_eq!(starts, 1, "the function was started {starts} times\n{log}");
}
