//! The real stack: `serve` on a loopback socket, raw HTTP/1.1 on the wire.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends raw request bytes and reads the whole response (the request asks to close).
fn exchange(addr: std::net::SocketAddr, raw: String) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_percent_encoded_arns_over_tcp_and_shuts_down() {
    let fake = Fake::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        fake.clone(),
        listener,
        ServerConfig::default().with_max_body_bytes(100),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let body = r#"{"ErrorType":"Cancelled","ErrorMessage":"operator stop"}"#;
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        exec_path("/stop"),
        body.len()
    );
    let response = tokio::task::spawn_blocking(move || exchange(addr, raw))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nx-amzn-requestid: ")
    );
    assert!(
        response.ends_with(r#"{"StopTimestamp":1795776144.856124}"#),
        "{response}"
    );
    assert_eq!(
        fake.only_call(),
        Call::Stop(
            ARN.into(),
            Some(ErrorObject::new("Cancelled", "operator stop"))
        )
    );

    // A chunked body (no Content-Length) over the limit is cut off with 413.
    let raw = "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\n\
               Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_string();
    let chunk = "a".repeat(40);
    let mut raw = raw;
    for _ in 0..3 {
        raw.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    raw.push_str("0\r\n\r\n");
    let response = tokio::task::spawn_blocking(move || exchange(addr, raw))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
    assert!(response.contains("RequestTooLargeException"), "{response}");

    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
