//! E-mail delivery against a real SMTP server over TCP (mailin-embedded, in this test
//! process), parsed back with mailparse.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use anju::clock::Clock;
use anju::notifications::worker::{Delivery, deliver_due};
use chrono::Duration;
use entity::outbox_message;
use mailin_embedded::{Handler, Response, Server, SslConfig, response};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::TestApp;

/// A message as the SMTP server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).expect("a parseable message")
    }

    fn header(&self, name: &str) -> String {
        use mailparse::MailHeaderMap;
        self.parsed()
            .headers
            .get_first_value(name)
            .unwrap_or_default()
    }

    /// The text/plain and text/html parts, decoded.
    fn bodies(&self) -> (String, String) {
        let mail = self.parsed();
        let mut text = String::new();
        let mut html = String::new();
        for part in mail.subparts.iter().chain(std::iter::once(&mail)) {
            match part.ctype.mimetype.as_str() {
                "text/plain" => text = part.get_body().unwrap(),
                "text/html" => html = part.get_body().unwrap(),
                _ => {}
            }
        }
        (text, html)
    }
}

#[derive(Clone, Default)]
struct Sink {
    inbox: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Sink {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.lock().unwrap().push(Received {
            to: self.to.clone(),
            raw: self.data.clone(),
        });
        response::OK
    }
}

/// Starts an SMTP server on `listener` in a thread; returns its inbox.
fn serve_on(listener: TcpListener) -> Arc<Mutex<Vec<Received>>> {
    let sink = Sink::default();
    let inbox = sink.inbox.clone();
    std::thread::spawn(move || {
        let mut server = Server::new(sink);
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_num_threads(16)
            .with_tcp_listener(listener);
        let _ = server.serve();
    });
    inbox
}

fn smtp_server() -> (SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, serve_on(listener))
}

async fn app_sending_to(addr: SocketAddr) -> (TestApp, Delivery) {
    let app = TestApp::spawn_with(|s| {
        s.smtp_host = Some(addr.ip().to_string());
        s.smtp_port = Some(addr.port());
        s.smtp_tls = "none".into();
        s.smtp_from = "南关街道住房保障 <housing@nanguan.test>".into();
        s.smtp_timeout_secs = 5;
        s.outbox_max_attempts = 3;
    })
    .await;
    let delivery = Delivery::from_settings(&app.state.settings).unwrap();
    (app, delivery)
}

async fn drain(app: &TestApp, delivery: &Delivery) -> usize {
    let mut total = 0;
    loop {
        let n = deliver_due(&app.state, delivery).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

async fn rows(app: &TestApp) -> Vec<outbox_message::Model> {
    outbox_message::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_stage_sends_its_message_in_the_applicants_language() {
    let (addr, inbox) = smtp_server();
    let (app, delivery) = app_sending_to(addr).await;
    let admin = app.admin().await;
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let applicant = app.applicant("13800001111").await;
    let mut form = household();
    set(&mut form, "language", json!("en"));
    set(&mut form, "contact_email", json!("wang@example.com"));
    set(&mut form, "members[0].name", json!("Wang <b>Xiaoming</b>"));
    let receipt = app.file(&applicant, &form).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let number = receipt["number"].as_str().unwrap().to_string();
    let v = app
        .get(&format!("/api/v1/applications/{id}"), Some(&reviewer))
        .await
        .body["version"]
        .as_i64()
        .unwrap();
    let v = app
        .post(
            &format!("/api/v1/applications/{id}/actions"),
            Some(&reviewer),
            &json!({ "action": "accept", "version": v }),
        )
        .await
        .expect(200)["version"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/api/v1/applications/{id}/actions"),
        Some(&reviewer),
        &json!({ "action": "pass_review", "version": v, "comment": "ok" }),
    )
    .await
    .expect(200);

    assert_eq!(drain(&app, &delivery).await, 5);
    let got = inbox.lock().unwrap().clone();
    let subjects: Vec<String> = got.iter().map(|m| m.header("Subject")).collect();
    let mut expected = vec![
        format!("Application received: {number}"),
        format!("Eligibility result: {number}"),
        format!("Application accepted: {number}"),
        format!("First review passed: {number}"),
        format!("Public notice started: {number}"),
    ];
    let mut sorted = subjects.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    for m in &got {
        assert_eq!(m.to, vec!["wang@example.com".to_string()]);
        assert!(m.header("From").contains("housing@nanguan.test"));
        let (text, html) = m.bodies();
        assert!(text.contains(&number), "{text}");
        assert!(
            text.contains("Dear Wang <b>Xiaoming</b>"),
            "plain text keeps the name as typed"
        );
        assert!(
            html.contains("Wang &lt;b&gt;Xiaoming&lt;/b&gt;"),
            "html escapes it: {html}"
        );
        let raw = String::from_utf8_lossy(&m.raw);
        assert!(
            !raw.contains(APPLICANT_ID) && !text.contains(APPLICANT_ID),
            "no identity numbers in e-mail"
        );
    }
    for row in rows(&app).await {
        assert_eq!(row.status.as_str(), "sent");
        assert!(row.server_reply.as_deref().unwrap().starts_with("250"));
        assert!(
            got.iter().any(|m| m.header("Message-ID") == row.message_id),
            "the stored Message-ID is the one sent"
        );
    }
    assert_eq!(drain(&app, &delivery).await, 0, "nothing is sent twice");
}

#[tokio::test]
async fn chinese_is_the_default_language() {
    let (addr, inbox) = smtp_server();
    let (app, delivery) = app_sending_to(addr).await;
    let applicant = app.applicant("13800001111").await;
    let receipt = app.file(&applicant, &household()).await;
    drain(&app, &delivery).await;
    let got = inbox.lock().unwrap().clone();
    let receipt_mail = got
        .iter()
        .find(|m| m.header("Subject").starts_with("申请受理回执"))
        .expect("the receipt");
    let (text, _) = receipt_mail.bodies();
    assert!(text.contains(receipt["number"].as_str().unwrap()));
    assert!(text.contains("惠工街社区"));
}

#[tokio::test]
async fn failure_paths_send_nothing() {
    let (addr, inbox) = smtp_server();
    let (app, delivery) = app_sending_to(addr).await;
    let applicant = app.applicant("13800001111").await;
    let mut bad = household();
    set(
        &mut bad,
        "members[0].id_number",
        json!("410104198507150038"),
    );
    let (id, _) = app.draft(&applicant, &bad).await;
    app.submit(&applicant, id, "k", &json!({}))
        .await
        .expect(422);
    let other = app.applicant("13800002222").await;
    app.post(
        &format!("/api/v1/applications/{id}/withdraw"),
        Some(&other),
        &json!({}),
    )
    .await
    .expect(404);
    assert_eq!(drain(&app, &delivery).await, 0);
    assert!(inbox.lock().unwrap().is_empty());
    assert!(rows(&app).await.is_empty());
}

#[tokio::test]
async fn an_outage_queues_and_backs_off_then_everything_is_delivered_exactly_once() {
    // A port with nobody listening: connections are refused.
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let (app, delivery) = app_sending_to(addr).await;
    for (i, mobile) in ["13800001111", "13800002222", "13800003333"]
        .iter()
        .enumerate()
    {
        let t = app.applicant(mobile).await;
        app.file(
            &t,
            &single_household(&id_number("410104", "19800101", 11 + 2 * i as u32)),
        )
        .await;
    }
    assert_eq!(drain(&app, &delivery).await, 0);
    let after_first = rows(&app).await;
    assert_eq!(after_first.len(), 6);
    for r in &after_first {
        assert_eq!((r.status.as_str(), r.attempts), ("pending", 1));
        assert!(r.last_error.is_some());
        assert!(r.next_attempt_at > app.clock.now(), "backed off");
    }

    let inbox = serve_on(TcpListener::bind(addr).unwrap());
    assert_eq!(drain(&app, &delivery).await, 0, "not due yet");
    app.clock.advance(Duration::minutes(2));
    assert_eq!(drain(&app, &delivery).await, 6);
    let got = inbox.lock().unwrap().clone();
    let mut ids: Vec<String> = got.iter().map(|m| m.header("Message-ID")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (6, 6), "each message exactly once");
    assert!(
        rows(&app)
            .await
            .iter()
            .all(|r| r.status.as_str() == "sent" && r.attempts == 2)
    );
}

#[tokio::test]
async fn a_message_that_keeps_failing_goes_dead_and_an_admin_can_retry_it() {
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let (app, delivery) = app_sending_to(addr).await;
    let admin = app.admin().await;
    let t = app.applicant("13800001111").await;
    let r = app.file(&t, &household()).await;
    let id = r["application_id"].as_i64().unwrap();
    for _ in 0..3 {
        drain(&app, &delivery).await;
        app.clock.advance(Duration::hours(2));
    }
    let dead = app
        .get(
            &format!("/api/v1/admin/outbox?status=dead&application_id={id}"),
            Some(&admin),
        )
        .await;
    let list = dead.expect(200).as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["attempts"], 3);
    assert!(list[0]["last_error"].as_str().is_some());

    let inbox = serve_on(TcpListener::bind(addr).unwrap());
    let mid = list[0]["id"].as_i64().unwrap();
    app.get("/api/v1/admin/outbox", Some(&t)).await.expect(403);
    app.post(
        &format!("/api/v1/admin/outbox/{mid}/retry"),
        Some(&t),
        &json!({}),
    )
    .await
    .expect(403);
    let retried = app
        .post(
            &format!("/api/v1/admin/outbox/{mid}/retry"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(retried.expect(200)["status"], "pending");
    assert_eq!(drain(&app, &delivery).await, 1, "only the retried one");
    assert_eq!(inbox.lock().unwrap().len(), 1);
    let again = app
        .post(
            &format!("/api/v1/admin/outbox/{mid}/retry"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(again.expect(409)["code"], "not_dead");
}

#[tokio::test]
async fn a_crash_between_send_and_record_resends_once_with_the_same_message_id() {
    let (addr, inbox) = smtp_server();
    let (app, delivery) = app_sending_to(addr).await;
    let t = app.applicant("13800001111").await;
    app.file(&t, &household()).await;
    assert_eq!(drain(&app, &delivery).await, 2);
    // Put one row back the way a worker that sent it and died before recording would
    // have left it: still pending, claimed until its lease runs out.
    let row = rows(&app).await.into_iter().next().unwrap();
    let lease_end = app.clock.now() + Duration::seconds(app.state.settings.outbox_lease_secs);
    outbox_message::Entity::update(outbox_message::ActiveModel {
        id: Set(row.id),
        status: Set(entity::enums::OutboxStatus::Pending),
        claimed_until: Set(Some(lease_end)),
        ..Default::default()
    })
    .exec(&app.state.db)
    .await
    .unwrap();
    assert_eq!(drain(&app, &delivery).await, 0, "the lease still holds it");
    app.clock
        .advance(Duration::seconds(app.state.settings.outbox_lease_secs + 1));
    assert_eq!(drain(&app, &delivery).await, 1);
    assert_eq!(drain(&app, &delivery).await, 0);
    let got = inbox.lock().unwrap().clone();
    let copies: Vec<_> = got
        .iter()
        .filter(|m| m.header("Message-ID") == row.message_id)
        .collect();
    assert_eq!(
        copies.len(),
        2,
        "sent again at most once, recognisably the same message"
    );
}

#[tokio::test]
async fn two_workers_never_send_the_same_message() {
    let (addr, inbox) = smtp_server();
    let (app, delivery) = app_sending_to(addr).await;
    for i in 0..6u32 {
        let t = app.applicant(&format!("1380000{:04}", i)).await;
        app.file(
            &t,
            &single_household(&id_number("410104", "19800101", 11 + 2 * i)),
        )
        .await;
    }
    let (a, b) = tokio::join!(drain(&app, &delivery), drain(&app, &delivery));
    assert_eq!(a + b, 12);
    let got = inbox.lock().unwrap().clone();
    let mut ids: Vec<String> = got.iter().map(|m| m.header("Message-ID")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (12, 12));
}

#[tokio::test]
async fn a_mail_folder_receives_eml_files_when_there_is_no_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().to_string();
    let app = TestApp::spawn_with(|s| s.mail_dir = Some(path.clone())).await;
    let delivery = Delivery::from_settings(&app.state.settings).unwrap();
    let t = app.applicant("13800001111").await;
    let r = app.file(&t, &household()).await;
    assert_eq!(drain(&app, &delivery).await, 2);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 2);
    let raw = std::fs::read(files[0].as_ref().unwrap().path()).unwrap();
    let mail = Received { to: vec![], raw };
    let (text, _) = mail.bodies();
    assert!(
        text.contains(r["number"].as_str().unwrap())
            || mail
                .header("Subject")
                .contains(r["number"].as_str().unwrap())
    );
}

#[tokio::test]
async fn with_nothing_configured_messages_wait_in_the_outbox() {
    let app = TestApp::spawn().await;
    let delivery = Delivery::from_settings(&app.state.settings).unwrap();
    assert!(matches!(delivery, Delivery::Disabled));
    let t = app.applicant("13800001111").await;
    app.file(&t, &household()).await;
    assert_eq!(drain(&app, &delivery).await, 0);
    let pending = outbox_message::Entity::find()
        .filter(outbox_message::Column::Status.eq("pending"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
}

/// Delivery to an independent SMTP server that `.ci/run` starts (Python's aiosmtpd,
/// writing a Maildir): lettre's output read back by someone else's server and parser.
/// Runs when ANJU_TEST_EXTERNAL_SMTP (host:port) and ANJU_TEST_EXTERNAL_MAILDIR are set.
#[tokio::test]
async fn an_independent_smtp_server_accepts_and_stores_our_messages() {
    let (Ok(addr), Ok(maildir)) = (
        std::env::var("ANJU_TEST_EXTERNAL_SMTP"),
        std::env::var("ANJU_TEST_EXTERNAL_MAILDIR"),
    ) else {
        eprintln!("ANJU_TEST_EXTERNAL_SMTP not set: the independent-server check runs in .ci/run");
        return;
    };
    let addr: SocketAddr = addr.parse().unwrap();
    let (app, delivery) = app_sending_to(addr).await;
    let t = app.applicant("13800001111").await;
    let mut form = household();
    let marker = format!("ext{}@example.com", rand::random::<u32>());
    set(&mut form, "contact_email", json!(marker));
    let r = app.file(&t, &form).await;
    assert_eq!(drain(&app, &delivery).await, 2);
    let mut found = 0;
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(format!("{maildir}/{sub}")) else {
            continue;
        };
        for e in entries {
            let raw = std::fs::read(e.unwrap().path()).unwrap();
            let m = Received { to: vec![], raw };
            if m.header("To").contains(&marker) {
                found += 1;
                let (text, _) = m.bodies();
                assert!(text.contains(r["number"].as_str().unwrap()));
            }
        }
    }
    assert_eq!(found, 2, "both messages stored by the independent server");
}

/// A real SMTP server (raw protocol, one thread per connection) that answers the end of
/// the first message's data only after `delay`, and every message with its own
/// Message-ID in the reply. Returns (address, Message-IDs received in order, whether the
/// late reply has been written).
type LateFlag = Arc<std::sync::atomic::AtomicBool>;
fn slow_smtp_server(delay: std::time::Duration) -> (SocketAddr, Arc<Mutex<Vec<String>>>, LateFlag) {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = got.clone();
    let late: LateFlag = Arc::default();
    let late_written = late.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            let late_written = late_written.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = out.write_all(b"220 slow.test ESMTP\r\n");
                let mut line = String::new();
                let mut was_late = false;
                while lines.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply: String = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        "250 slow.test\r\n".into()
                    } else if cmd == "DATA" {
                        let _ = out.write_all(b"354 go on\r\n");
                        let mut id = String::new();
                        let mut data = String::new();
                        while lines.read_line(&mut data).map(|n| n > 0).unwrap_or(false) {
                            if data.to_ascii_lowercase().starts_with("message-id:") {
                                id = data[11..].trim().to_string();
                            }
                            if data == ".\r\n" {
                                break;
                            }
                            data.clear();
                        }
                        let first = {
                            let mut g = seen.lock().unwrap();
                            g.push(id.clone());
                            g.len() == 1
                        };
                        if first {
                            std::thread::sleep(delay);
                            was_late = true;
                        }
                        format!("250 queued {id}\r\n")
                    } else if cmd == "QUIT" {
                        let _ = out.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        "250 ok\r\n".into()
                    };
                    let written = out.write_all(reply.as_bytes());
                    if std::mem::take(&mut was_late) {
                        late_written.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    if written.is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    (addr, got, late)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_replies_late_gets_each_message_once_and_each_row_its_own_reply() {
    // The reply to the first message comes after the send timeout (1 s) but before the
    // next round: a connection kept from the first round would hold it unread.
    let (addr, got, late) = slow_smtp_server(std::time::Duration::from_secs(2));
    let app = TestApp::spawn_with(|s| {
        s.smtp_host = Some(addr.ip().to_string());
        s.smtp_port = Some(addr.port());
        s.smtp_tls = "none".into();
        s.smtp_timeout_secs = 1;
        s.outbox_max_attempts = 5;
    })
    .await;
    let delivery = Delivery::from_settings(&app.state.settings).unwrap();
    for i in 0..10u32 {
        let t = app.applicant(&format!("1380000{:04}", 100 + i)).await;
        app.file(
            &t,
            &single_household(&id_number("410104", "19800101", 11 + 2 * i)),
        )
        .await;
    }
    // Rounds until everything is sent; the late one is retried after its back-off. The
    // second round starts only once the late reply is on the wire.
    for round in 0..10 {
        drain(&app, &delivery).await;
        if round == 0 {
            for _ in 0..200 {
                if late.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert!(
                late.load(std::sync::atomic::Ordering::SeqCst),
                "the late reply was written"
            );
        }
        if rows(&app).await.iter().all(|r| r.status.as_str() == "sent") {
            break;
        }
        app.clock.advance(Duration::minutes(5));
    }
    let rows = rows(&app).await;
    assert!(rows.iter().all(|r| r.status.as_str() == "sent"), "all sent");
    for r in &rows {
        let reply = r.server_reply.as_deref().unwrap_or("");
        assert!(
            reply.contains(&r.message_id),
            "row {} was marked sent on another message's reply: {reply}",
            r.id
        );
    }
    let received = got.lock().unwrap().clone();
    for r in &rows {
        let times = received.iter().filter(|id| **id == r.message_id).count();
        let late = received.first() == Some(&r.message_id);
        assert_eq!(
            times,
            if late { 2 } else { 1 },
            "{}: only the message whose reply came too late is sent again",
            r.message_id
        );
    }
}
