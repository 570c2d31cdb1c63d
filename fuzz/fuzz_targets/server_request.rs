//! The HTTP front end: any method, path and body reaches a route or an AWS-shaped error,
//! never a panic.
#![no_main]

use axum::body::Body;
use axum::http::{Method, Request};
use durable_fsm::model::Timestamp;
use durable_fsm::server::{ServerConfig, router};
use durable_fsm::service::runtime::{Invokers, Runtime};
use durable_fsm::service::{Clock, EngineConfig, LocalService, VirtualClock};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    rt.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new(Timestamp::from_secs(1_800_000_000)));
        let service = LocalService::in_memory(EngineConfig::default(), clock.clone());
        let runtime = Runtime::start(service, Invokers::default(), clock);
        let app = router(runtime.clone(), ServerConfig::default());
        // First byte: method; up to the first newline: path and query; the rest: body.
        let (head, body) = data.split_at(data.iter().position(|b| *b == b'\n').unwrap_or(data.len()));
        let method = match head.first().map(|b| b % 4) {
            Some(0) => Method::GET,
            Some(1) => Method::POST,
            Some(2) => Method::PUT,
            _ => Method::DELETE,
        };
        let path = String::from_utf8_lossy(head.get(1..).unwrap_or_default()).into_owned();
        let Ok(request) = Request::builder()
            .method(method)
            .uri(format!("/{}", path.trim_start_matches('/')))
            .body(Body::from(body.to_vec()))
        else {
            return;
        };
        if let Ok(response) = app.oneshot(request).await {
            let status = response.status().as_u16();
            if status >= 400 {
                assert!(
                    response.headers().contains_key("x-amzn-errortype"),
                    "error {status} without X-Amzn-ErrorType"
                );
            }
        }
        runtime.shutdown().await;
    });
});
