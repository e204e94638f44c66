//! What an operator relies on: strict settings, `anju config check`, JSON logs with the
//! request id, `/metrics`, and backups taken while the service writes. The settings and
//! logs are tested on the real binary; metrics and backups on the real app.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::fixtures::{id_number, single_household};
use crate::helpers::{PASSWORD, TestApp};

fn anju(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anju"));
    cmd.args(args).current_dir(dir).env("ANJU_LOG", "warn").env(
        "ANJU_DATABASE_URL",
        format!("sqlite://{}?mode=rwc", dir.join("anju.db").display()),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run anju");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_misspelt_key_in_the_file_or_the_environment_stops_the_start_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("anju.toml"),
        "listen = \"127.0.0.1:0\"\ndb_pool_sise = 4\n",
    )
    .unwrap();
    for args in [&["serve"][..], &["config", "check"][..]] {
        // Were the key let through, the bad address would still end the process.
        let (ok, text) = anju(dir.path(), args, &[("ANJU_LISTEN", "256.0.0.1:1")]);
        assert!(!ok, "{args:?} started with a misspelt key: {text}");
        assert!(text.contains("db_pool_sise"), "{args:?}: {text}");
    }
    std::fs::remove_file(dir.path().join("anju.toml")).unwrap();

    let (ok, text) = anju(
        dir.path(),
        &["config", "check"],
        &[("ANJU_SMTP_HOTS", "mail.example.org")],
    );
    assert!(!ok && text.contains("smtp_hots"), "{text}");

    let (ok, text) = anju(
        dir.path(),
        &["serve"],
        &[("ANJU_CONFIG", "/etc/anju/missing.toml")],
    );
    assert!(!ok && text.contains("/etc/anju/missing.toml"), "{text}");

    let (ok, text) = anju(
        dir.path(),
        &["config", "check"],
        &[("ANJU_LOG_FORMAT", "xml")],
    );
    assert!(!ok && text.contains("log_format"), "{text}");
    // Nothing was started or created by any of these.
    assert!(!dir.path().join("anju.db").exists());
}

#[test]
fn config_check_prints_every_setting_with_secrets_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = anju(
        dir.path(),
        &["config", "check"],
        &[
            ("ANJU_SMTP_PASSWORD", "hunter2-smtp"),
            ("ANJU_METRICS_TOKEN", "hunter2-metrics"),
            ("ANJU_DB_POOL_SIZE", "6"),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("smtp_password = ***"), "{text}");
    assert!(text.contains("metrics_token = ***"), "{text}");
    assert!(text.contains("db_pool_size = 6"), "{text}");
    assert!(text.contains("header_timeout_secs = 15"), "{text}");
    assert!(!text.contains("hunter2"), "a secret was printed: {text}");
    assert!(text.contains("does not exist yet"), "{text}");
    assert!(
        !dir.path().join("anju.db").exists(),
        "config check created the database"
    );
}

/// `anju serve` on a free port with `env`; returns the child, its port and its output
/// lines as they come.
fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, u16, mpsc::Receiver<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anju"));
    cmd.arg("serve")
        .current_dir(dir)
        .env("ANJU_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "ANJU_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("anju.db").display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start anju serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, port, rx)
}

/// Lines until one contains `needle` (or the output ends: the test then fails).
fn lines_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        let done = line.contains(needle);
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!("never logged {needle:?}; logged: {seen:#?}");
}

fn http(port: u16, head: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn json_logs_are_one_object_a_line_with_the_request_id_and_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, rx) = serve(
        dir.path(),
        &[("ANJU_LOG_FORMAT", "json"), ("ANJU_LOG", "info")],
    );
    let mut lines = lines_until(&rx, "listening on");
    let login = http(
        port,
        "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/json\r\nX-Request-Id: trace-me-42",
        r#"{"login":"wang.secret@example.org","password":"not-the-password"}"#,
    );
    assert!(login.starts_with("HTTP/1.1 401"), "{login}");
    assert_eq!(header(&login, "x-request-id"), Some("trace-me-42"));
    let missing = http(port, "GET /api/v1/applications/123456 HTTP/1.1", "");
    let generated = header(&missing, "x-request-id")
        .expect("a request id")
        .to_string();
    lines.extend(lines_until(&rx, &generated));
    child.kill().unwrap();
    child.wait().unwrap();

    let objects: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a log file"
    );
    let access = objects
        .iter()
        .find(|o| o["span"]["request_id"] == "trace-me-42" && o["status"] == 401)
        .unwrap_or_else(|| panic!("no access line for the login: {lines:#?}"));
    assert_eq!(access["route"], "/api/v1/auth/login");
    assert!(access["timestamp"].is_string() && access["level"].is_string());
    assert!(access.get("latency_ms").is_some(), "{access}");
    let all = lines.join("\n");
    assert!(!all.contains("wang.secret"), "a login name reached the log");
    assert!(!all.contains("not-the-password"));
    assert!(
        objects
            .iter()
            .any(|o| o["span"]["request_id"] == generated.as_str()
                && o["route"] == "/api/v1/applications/{id}"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn metrics_answer_only_with_the_token_and_count_requests_by_route() {
    let app = TestApp::spawn_with(|s| s.metrics_token = Some("scrape-secret".into())).await;
    app.get("/health/live", None).await.expect(200);
    app.login("nobody@example.org", "wrong-password")
        .await
        .expect(401);
    let get = poem::http::Method::GET;
    let refused = app.raw(get.clone(), "/metrics", &[], vec![]).await;
    assert_eq!(refused.status, 401);
    assert!(!format!("{}", refused.body).contains("anju_http_requests_total"));
    let wrong = app
        .raw(
            get.clone(),
            "/metrics",
            &[("Authorization", "Bearer guess")],
            vec![],
        )
        .await;
    assert_eq!(wrong.status, 401);

    let ok = app
        .raw(
            get,
            "/metrics",
            &[("Authorization", "Bearer scrape-secret")],
            vec![],
        )
        .await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = ok.body.as_str().expect("text").to_string();
    for needle in [
        r#"anju_http_requests_total{method="GET",route="/health/live",status="200"}"#,
        r#"anju_http_request_duration_seconds_bucket{route="/api/v1/auth/login""#,
        r#"anju_logins_refused_total{reason="invalid_credentials"}"#,
        r#"anju_outbox_messages{status="pending"}"#,
        r#"anju_outbox_messages{status="dead"}"#,
        "anju_outbox_oldest_pending_seconds",
        "anju_notice_windows_open",
        r#"anju_db_pool_connections{state="idle"}"#,
        "anju_db_begin_write_seconds",
    ] {
        assert!(text.contains(needle), "no {needle} in\n{text}");
    }

    let closed = TestApp::spawn().await;
    assert_eq!(
        closed.get("/metrics", None).await.status,
        404,
        "no token: no /metrics"
    );
}

#[tokio::test]
async fn a_backup_taken_while_writing_holds_every_acknowledged_write_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("live.db").display());
    let app = TestApp::spawn_with(|s| s.database_url = url.clone()).await;
    let mut tokens = Vec::new();
    for i in 0..80u32 {
        tokens.push(app.applicant(&format!("1390000{i:04}")).await);
    }
    let file = |i: u32| {
        let app = &app;
        let token = tokens[i as usize].clone();
        async move {
            let form = single_household(&id_number("410104", "19800101", 2 * i + 1));
            let id = app.file(&token, &form).await["application_id"]
                .as_i64()
                .unwrap();
            (id, token)
        }
    };
    let mut acknowledged = Vec::new();
    for i in 0..10 {
        acknowledged.push(file(i).await);
    }
    // The backup runs in its own process while two writers go on submitting here until
    // it has finished.
    let dest = dir.path().join("copy.db");
    let backup = {
        let (url, dest) = (url.clone(), dest.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_anju"))
                .args(["backup", dest.to_str().unwrap()])
                .env("ANJU_DATABASE_URL", url)
                .env("ANJU_LOG", "warn")
                .output()
                .unwrap()
        })
    };
    let next = std::cell::Cell::new(10u32);
    let writer = || async {
        let mut mine = Vec::new();
        while !backup.is_finished() {
            let i = next.get();
            assert!(i < 80, "the backup outlasted 70 submissions");
            next.set(i + 1);
            mine.push(file(i).await);
        }
        mine
    };
    let (a, b) = tokio::join!(writer(), writer());
    let during: Vec<(i64, String)> = a.into_iter().chain(b).collect();
    assert!(during.len() >= 2, "the writes did not overlap the backup");
    let out = backup.await.unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("integrity: ok"), "{said}");
    assert!(
        !dest.with_extension("db-wal").exists(),
        "the copy is one file"
    );

    // Refused: the live database is being served by `app`, and the copy is never
    // written over.
    let (served, refusal) = restore(&url, &dest);
    assert!(
        !served && refusal.contains("stop every instance"),
        "{refusal}"
    );
    let again = Command::new(env!("CARGO_BIN_EXE_anju"))
        .args(["backup", dest.to_str().unwrap()])
        .env("ANJU_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!again.status.success());

    // Restored in place of another database, which is kept beside it.
    let target = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("restored.db").display()
    );
    std::fs::write(dir.path().join("restored.db"), b"").unwrap();
    let (ok, said) = restore(&target, &dest);
    assert!(ok, "{said}");
    assert!(said.contains("kept as"), "{said}");
    let restored = TestApp::spawn_with(|s| s.database_url = target.clone()).await;
    // The applicants' sign-ins came with the copy.
    for (id, token) in &acknowledged {
        restored
            .get(&format!("/api/v1/applications/{id}"), Some(token))
            .await
            .expect(200);
    }
    // Whatever of the twenty was in the copy came whole: its counters agree with its
    // event log, and every case in it has its events.
    let counted = Command::new(env!("CARGO_BIN_EXE_anju"))
        .args(["report", "counters"])
        .env("ANJU_DATABASE_URL", &target)
        .env("ANJU_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        counted.status.success(),
        "{}",
        String::from_utf8_lossy(&counted.stdout)
    );
    let mut copied = 0;
    for (id, token) in &during {
        let a = restored
            .get(&format!("/api/v1/applications/{id}"), Some(token))
            .await;
        assert!(matches!(a.status.as_u16(), 200 | 404), "{id}: {}", a.status);
        copied += usize::from(a.status.as_u16() == 200);
    }
    println!(
        "backup: 10 before, {copied} of {} written during it are in the copy",
        during.len()
    );
}

fn restore(url: &str, src: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_anju"))
        .args(["restore", src.to_str().unwrap()])
        .env("ANJU_DATABASE_URL", url)
        .env("ANJU_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn on_postgresql_backup_and_restore_name_the_tools_and_hide_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pg = [(
        "ANJU_DATABASE_URL",
        "postgres://anju:s3cret@db.internal:5432/anju",
    )];
    let (ok, text) = anju(dir.path(), &["backup", "/var/backups/anju.dump"], &pg);
    assert!(!ok, "{text}");
    assert!(text.contains("pg_dump --format=custom --file=/var/backups/anju.dump 'postgres://anju:***@db.internal:5432/anju'"), "{text}");
    let (ok, text) = anju(dir.path(), &["restore", "/var/backups/anju.dump"], &pg);
    assert!(!ok && text.contains("pg_restore"), "{text}");
    assert!(!text.contains("s3cret"));
    let _ = PASSWORD;
}
