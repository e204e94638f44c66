//! Tests that need a real TCP server (the one `anju serve` runs): per-client limits keyed
//! by address (a new connection is not a new client), `X-Forwarded-For` from a trusted
//! proxy only, sign-ins arriving all at once, and clients that are slow on purpose.

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{PASSWORD, TestApp};

/// The app served on a real port by the server loop `anju serve` uses, with the app's
/// settings; returns its base URL.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = &app.state.settings;
    let limits = anju::http::server::ConnectionLimits {
        header_timeout: std::time::Duration::from_secs(settings.header_timeout_secs),
        max_connections: anju::http::server::connection_cap(
            settings.max_connections,
            settings.db_pool_size,
        ),
    };
    let ep = anju::startup::build_app(app.state.clone());
    tokio::spawn(anju::http::server::serve(
        listener,
        ep,
        limits,
        std::future::pending(),
        std::time::Duration::from_secs(1),
    ));
    format!("http://{addr}")
}

/// One request on a fresh connection (the client is dropped after it).
async fn post(base: &str, path: &str, body: &Value, forwarded_for: Option<&str>) -> (u16, Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req =
        hyper::Request::post(format!("{base}{path}")).header("content-type", "application/json");
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn objection(i: usize) -> Value {
    json!({ "name": "孙", "contact": format!("139{:08}", i), "content": format!("疑问 {i}") })
}

#[tokio::test]
async fn a_new_connection_is_not_a_new_client_for_the_objection_limit() {
    let app = TestApp::spawn().await;
    let number = crate::review::number_on_notice(&app).await;
    let base = serve(&app).await;
    let path = format!("/api/v1/public/notices/{number}/objections");
    let mut accepted = 0;
    for i in 0..10 {
        let (status, body) = post(&base, &path, &objection(i), None).await;
        match status {
            201 => accepted += 1,
            429 => assert_eq!(body["code"], "too_many_objections"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        accepted, 5,
        "five an hour from one address, however many connections"
    );
    // Claiming another address is not believed from a peer that is not a trusted proxy.
    let (status, _) = post(&base, &path, &objection(99), Some("198.51.100.7")).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".into()).await;
    let number = crate::review::number_on_notice(&app).await;
    let base = serve(&app).await;
    let path = format!("/api/v1/public/notices/{number}/objections");
    for i in 0..5 {
        assert_eq!(
            post(&base, &path, &objection(i), Some("203.0.113.1"))
                .await
                .0,
            201
        );
    }
    assert_eq!(
        post(&base, &path, &objection(5), Some("203.0.113.1"))
            .await
            .0,
        429
    );
    assert_eq!(
        post(&base, &path, &objection(6), Some("203.0.113.2"))
            .await
            .0,
        201,
        "another client behind the same proxy has its own limit"
    );
}

#[tokio::test]
async fn registration_is_limited_per_client_address() {
    let app = TestApp::spawn_with(|s| s.register_per_hour = 3).await;
    let base = serve(&app).await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let body = json!({ "mobile": format!("1380000{:04}", i), "password": PASSWORD, "display_name": "王" });
        codes.push(post(&base, "/api/v1/auth/register", &body, None).await.0);
    }
    assert_eq!(codes, [201, 201, 201, 429, 429]);
    assert_eq!(app.count(entity::user_account::Entity).await, 3);
}

async fn login(base: &str, password: &str, from: &str) -> u16 {
    let body = json!({ "login": "13800001111", "password": password });
    post(base, "/api/v1/auth/login", &body, Some(from)).await.0
}

#[tokio::test]
async fn forty_sign_ins_at_once_check_at_most_five_passwords() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = "127.0.0.1".into()).await;
    app.register("mobile", "13800001111", PASSWORD)
        .await
        .expect(201);
    let base = Arc::new(serve(&app).await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let base = base.clone();
        let password = if i == 39 { PASSWORD } else { "wrong-password" };
        tasks.push(tokio::spawn(async move {
            login(&base, password, "203.0.113.9").await
        }));
    }
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 | 401 => checked += 1,
            429 | 503 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(checked <= 5, "{checked} passwords were checked");
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let app = TestApp::spawn_with(|s| {
        s.trusted_proxies = "127.0.0.1".into();
        s.login_account_max_failures = 20;
    })
    .await;
    app.register("mobile", "13800001111", PASSWORD)
        .await
        .expect(201);
    let base = serve(&app).await;
    // The owner has signed in from home before.
    assert_eq!(login(&base, PASSWORD, "192.0.2.10").await, 200);
    // One guesser is locked out of this account after five tries...
    for _ in 0..5 {
        assert_eq!(login(&base, "guess", "198.51.100.1").await, 401);
    }
    assert_eq!(login(&base, "guess", "198.51.100.1").await, 429);
    // ... while the owner, from another address, still gets in.
    assert_eq!(login(&base, PASSWORD, "192.0.2.20").await, 200);
    // A guesser spread over many addresses reaches the account-wide limit (20 failures,
    // the first guesser's five included) ...
    for i in 0..15 {
        let from = format!("198.51.100.{}", 100 + i);
        assert_eq!(login(&base, "guess", &from).await, 401, "try {i}");
    }
    assert_eq!(login(&base, "guess", "198.51.100.200").await, 429);
    assert_eq!(
        login(&base, PASSWORD, "198.51.100.201").await,
        429,
        "a new address waits too, even with the right password"
    );
    // ... but the owner, from an address that signed in before, is not shut out.
    assert_eq!(login(&base, PASSWORD, "192.0.2.10").await, 200);
}

#[tokio::test]
async fn a_body_sent_to_a_post_that_takes_none_does_not_spoil_the_connection() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let base = serve(&app).await;
    // One client: its connections are kept alive and reused.
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut failed = 0;
    for i in 0..100 {
        let (path, body) = if i % 2 == 0 {
            (
                "/api/v1/auth/logout-probe",
                json!({ "a": "x".repeat(2000) }),
            )
        } else {
            ("/health/live", json!(null))
        };
        let method = if i % 2 == 0 { "POST" } else { "GET" };
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(if i % 2 == 0 {
                body.to_string()
            } else {
                String::new()
            })))
            .unwrap();
        match client.request(req).await {
            Ok(resp) if i % 2 == 1 && resp.status() != 200 => failed += 1,
            Ok(resp) => {
                let _ = resp.into_body().collect().await;
            }
            Err(_) => failed += 1,
        }
    }
    assert_eq!(
        failed, 0,
        "every request after a body nobody read was served"
    );
}

#[tokio::test]
async fn submit_takes_an_empty_body() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let (id, _) = app.draft(&token, &crate::fixtures::household()).await;
    let a = app
        .raw(
            poem::http::Method::POST,
            &format!("/api/v1/applications/{id}/submit"),
            &[
                ("authorization", &format!("Bearer {token}")),
                ("idempotency-key", "empty-body"),
            ],
            vec![],
        )
        .await;
    assert_eq!(a.expect(201)["status"], "eligible");
}

#[tokio::test]
async fn a_database_that_is_gone_answers_503_with_retry_after_not_500() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    app.state.db.clone().close().await.unwrap();
    let a = app.get("/api/v1/applications", Some(&token)).await;
    assert_eq!(a.status.as_u16(), 503, "{}", a.body);
    assert!(a.headers.get("retry-after").is_some());
    app.get("/health/ready", None).await.expect(503);
}

/// Reads until the server closes the connection; what it sent before closing.
/// (Bounded at 20 s so a server that never closes fails the test instead of hanging it.)
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut got),
    )
    .await;
    assert!(read.is_ok(), "the server kept a slow connection open");
    String::from_utf8_lossy(&got).into_owned()
}

async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap()
}

#[tokio::test]
async fn half_a_header_is_cut_off() {
    let app = TestApp::spawn_with(|s| s.header_timeout_secs = 1).await;
    let base = serve(&app).await;
    let mut slow = connect(&base).await;
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: anju\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = until_closed(&mut slow).await;
    assert!(
        !answer.contains("200 OK"),
        "a request whose head never ended was not served: {answer}"
    );
}

#[tokio::test]
async fn a_body_that_trickles_gets_a_json_408() {
    let app = TestApp::spawn_with(|s| s.body_timeout_secs = 1).await;
    let base = serve(&app).await;
    let mut slow = connect(&base).await;
    slow.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: anju\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
}

#[tokio::test]
async fn past_the_connection_cap_new_clients_wait_for_a_slot_and_are_served() {
    let app = TestApp::spawn_with(|s| {
        s.max_connections = 3;
        s.header_timeout_secs = 2;
    })
    .await;
    let base = serve(&app).await;
    // Three connections that say nothing hold every slot.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&base).await;
        c.write_all(b"GET /he").await.unwrap();
        idle.push(c);
    }
    // A fourth client is served, but only once the server has cut an idle one loose.
    let mut fresh = connect(&base).await;
    fresh
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: anju\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut fresh).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut closed = 0;
    for c in &mut idle {
        let mut buf = [0u8; 256];
        // Already closed by the server: the read returns at once (EOF or reset).
        match tokio::time::timeout(std::time::Duration::from_millis(50), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            Ok(Ok(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert!(
        closed >= 1,
        "the fourth client was served while all three slots were held"
    );
}
