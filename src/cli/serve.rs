//! `durable-fsm serve`: the local service, its runtime and the HTTP API, until Ctrl-C/SIGTERM.

use super::args::ServeArgs;
use super::{CliError, emit, note};
use crate::server::{ServerConfig, serve as serve_http};
use crate::service::runtime::{DEFAULT_INVOCATION_TIMEOUT, HttpInvoker, Invokers, Runtime};
use crate::service::{EngineConfig, LocalService, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long open HTTP requests (a `start --wait`, say) may take to finish after a stop signal.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Checks `--region` and `--account`, which end up in every ARN.
pub fn check_arn_parts(region: &str, account: &str) -> Result<(), CliError> {
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(CliError::Usage(format!(
            "invalid --region {region:?}: expected something like us-east-1"
        )));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CliError::Usage(format!(
            "invalid --account {account:?}: expected 12 digits"
        )));
    }
    Ok(())
}

/// The lines printed once the service listens.
pub fn banner(addr: SocketAddr, database: &str, lambda_endpoint: Option<&str>) -> Vec<String> {
    let url = format!("http://{addr}");
    let mut lines = vec![
        format!(
            "durable-fsm: serving the Lambda durable execution API on {url} (database {database})"
        ),
        format!(
            "durable-fsm: point AWS clients at it with AWS_ENDPOINT_URL_LAMBDA={url} \
             (durable-fsm commands: --endpoint {url})"
        ),
    ];
    lines.push(match lambda_endpoint {
        Some(endpoint) => format!("durable-fsm: durable functions are invoked at {endpoint}"),
        None => "durable-fsm: no --lambda-endpoint: starting an execution of a function fails \
                 until one is given (e.g. http://127.0.0.1:9000 for `cargo lambda watch`)"
            .to_string(),
    });
    if addr.ip().is_loopback() {
        lines.push(format!(
            "durable-fsm: listening on loopback {} only: other machines cannot connect; \
             Ctrl-C stops",
            addr.ip()
        ));
    }
    lines
}

/// The warning printed when other machines can connect.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "durable-fsm: WARNING: listening on {addr}, reachable from other machines; the API \
             has no authentication, so anyone who can connect can start, read and stop \
             executions (use --addr 127.0.0.1:PORT to keep it local)"
        )
    })
}

/// Runs the service until a stop signal, then shuts it down.
pub async fn serve(args: ServeArgs) -> Result<(), CliError> {
    check_arn_parts(&args.region, &args.account)?;
    let mut invokers = Invokers::default();
    if let Some(endpoint) = &args.lambda_endpoint {
        HttpInvoker::new(endpoint.clone(), DEFAULT_INVOCATION_TIMEOUT)
            .map_err(|e| CliError::Usage(format!("--lambda-endpoint: {e}")))?;
        invokers = invokers.with_lambda_endpoint(endpoint.clone());
    }
    let config = EngineConfig {
        region: args.region.clone(),
        account_id: args.account.clone(),
        ..EngineConfig::default()
    };
    let (service, database) = if args.memory {
        let service = LocalService::in_memory(config, Arc::new(SystemClock));
        (service, "in memory, lost on exit".to_string())
    } else {
        let service =
            LocalService::open(&args.db, config).map_err(|e| CliError::Failed(e.to_string()))?;
        (service, args.db.display().to_string())
    };
    let listener = TcpListener::bind(&args.addr)
        .await
        .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", args.addr)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", args.addr)))?;

    let runtime = Runtime::start(service, invokers, Arc::new(SystemClock));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut server = tokio::spawn(serve_http(
        runtime.clone(),
        listener,
        ServerConfig::default(),
        async {
            let _ = stop_rx.await;
        },
    ));
    let lines = banner(addr, &database, args.lambda_endpoint.as_deref());
    emit(&lines.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    if let Some(warning) = exposure_warning(addr) {
        note(&warning);
    }

    let outcome = tokio::select! {
        signal = stop_signal() => match signal {
            Ok(name) => {
                note(&format!("durable-fsm: {name} received, shutting down"));
                Ok(())
            }
            Err(e) => Err(CliError::Failed(format!("cannot wait for Ctrl-C/SIGTERM: {e}"))),
        },
        ended = &mut server => Err(CliError::Failed(match ended {
            Ok(Ok(())) => "the HTTP server stopped unexpectedly".to_string(),
            Ok(Err(e)) => format!("the HTTP server failed: {e}"),
            Err(e) => format!("the HTTP server task failed: {e}"),
        })),
    };
    let _ = stop_tx.send(());
    if !server.is_finished() {
        match tokio::time::timeout(DRAIN_GRACE, &mut server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP server failed while draining"),
            Ok(_) => {}
            Err(_) => {
                note(&format!(
                    "durable-fsm: requests still open after {} s were cut off",
                    DRAIN_GRACE.as_secs()
                ));
                server.abort();
            }
        }
    }
    runtime.shutdown().await;
    if outcome.is_ok() {
        note("durable-fsm: stopped");
    }
    outcome
}

/// Waits for Ctrl-C or (on Unix) SIGTERM; names the one that came.
async fn stop_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "Ctrl-C"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parts_are_checked() {
        assert!(check_arn_parts("us-east-1", "123456789012").is_ok());
        assert!(check_arn_parts("US East", "123456789012").is_err());
        assert!(check_arn_parts("", "123456789012").is_err());
        let err = check_arn_parts("eu-west-1", "42").err();
        assert_eq!(err.as_ref().map(CliError::exit_code), Some(2));
        assert!(err.is_some_and(|e| e.to_string().contains("12 digits")));
    }

    #[test]
    fn banner_says_where_and_how() {
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let lines = banner(addr, "./durable-fsm.db", Some("http://127.0.0.1:9000"));
        assert_eq!(
            lines[0],
            "durable-fsm: serving the Lambda durable execution API on http://127.0.0.1:5000 \
             (database ./durable-fsm.db)"
        );
        assert!(lines[1].contains("AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:5000"));
        assert!(lines[2].contains("http://127.0.0.1:9000"));
        assert!(lines[3].contains("loopback"));
        assert_eq!(exposure_warning(addr), None);
        let open: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        assert!(
            banner(open, "x", None)
                .iter()
                .all(|l| !l.contains("loopback"))
        );
        let warning = exposure_warning(open).unwrap();
        assert!(warning.starts_with("durable-fsm: WARNING: listening on 0.0.0.0:5000"));
        assert!(warning.contains("no authentication"));
    }
}
