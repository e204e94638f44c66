//! Load generator: drives a running anju with N concurrent clients for T seconds per
//! scenario and prints throughput and p50/p95/p99/max latency (HDR histogram).
//!
//! `cargo run --release --example loadgen -- [base-url] [clients] [seconds] [database-url]`
//!
//! Needs a server with the demo data (`anju serve --demo`): it logs in as the demo
//! reviewer and bureau. Scenarios: a trivial endpoint (`/health/live`, the HTTP
//! baseline), submit application (draft + submit, each client its own applicant), the
//! same in one request (`POST /api/v1/applications` with an `Idempotency-Key`), a
//! reviewer's queue page, a case detail, and the bureau's funnel report.
//!
//! Given the server's database URL, it also measures the database's own rate for a
//! submission's writes (see [`raw`]), right after the HTTP submit scenario and with the
//! same number of clients, while the server is idle.
//!
//! A measured request's body is read whole but not parsed: the clients share the
//! server's cores, and parsing every answer (a queue page is 20 cases) took CPU from the
//! server being measured. `LOADGEN_ONLY=<text>` runs only the scenarios whose name
//! contains it (to profile one), after the same sign-ins.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type Http = Client<HttpConnector, Full<Bytes>>;

/// The database's own rate for the rows one submission stores: one transaction of plain
/// inserts (the case as submitted and decided, its two events, a member key, the two
/// messages, the stored decision, the idempotency record), with no reads and no row that
/// another submission also writes. What a submission does beyond that (reads, the number
/// sequence, the report counters, HTTP, JSON, authentication, validation, the engine,
/// templates) is the service's own cost; submit ÷ this rate says how much of the
/// database's capacity the service turns into submissions. The rows are copied from a
/// real submission of the same household, so they have their real sizes.
mod raw {
    use chrono::Utc;
    use entity::enums::{CaseAction, CaseStatus};
    use entity::{
        application, application_event, counter_delta, eligibility_decision, idempotency_record,
        member_key, outbox_message,
    };
    use sea_orm::{
        ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
        QueryFilter, QueryOrder,
    };

    pub struct Fixture {
        case: application::Model,
        decision: eligibility_decision::Model,
        messages: Vec<outbox_message::Model>,
        idempotency: idempotency_record::Model,
    }

    /// Reads the rows of the newest HTTP submission to copy.
    pub async fn fixture(db: &DatabaseConnection) -> Fixture {
        let decision = eligibility_decision::Entity::find()
            .order_by_desc(eligibility_decision::Column::Id)
            .one(db)
            .await
            .expect("read")
            .expect("an HTTP submission ran first");
        let case = application::Entity::find_by_id(decision.application_id)
            .one(db)
            .await
            .expect("read")
            .expect("its case");
        let messages = outbox_message::Entity::find()
            .filter(outbox_message::Column::ApplicationId.eq(case.id))
            .all(db)
            .await
            .expect("read");
        let idempotency = idempotency_record::Entity::find()
            .filter(idempotency_record::Column::ApplicationId.eq(case.id))
            .one(db)
            .await
            .expect("read")
            .expect("its idempotency record");
        Fixture {
            case,
            decision,
            messages,
            idempotency,
        }
    }

    fn event(
        id: i64,
        action: CaseAction,
        from: CaseStatus,
        to: CaseStatus,
    ) -> application_event::ActiveModel {
        application_event::ActiveModel {
            application_id: Set(id),
            action: Set(action),
            from_status: Set(Some(from)),
            to_status: Set(to),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
    }

    /// One submission's rows as plain inserts in one write transaction, one statement a
    /// table (the case, its two events, a member key, four counter deltas, two messages,
    /// the decision, the idempotency record): no reads and no shared row, the database's
    /// own price for what a submission stores.
    pub async fn submission(
        db: &DatabaseConnection,
        f: &Fixture,
        seq: u64,
        tag: u64,
    ) -> Result<(), DbErr> {
        let now = Utc::now();
        let txn = anju::db::begin_write(db).await?;
        let mut row: application::ActiveModel = f.case.clone().into();
        row.id = sea_orm::ActiveValue::NotSet;
        row.number = Set(Some(format!("raw-{tag}-{seq}")));
        row.status = Set(CaseStatus::Eligible);
        row.created_at = Set(now);
        let case = row.insert(&txn).await?;
        let events = application_event::Entity::insert_many([
            event(
                case.id,
                CaseAction::Submit,
                CaseStatus::Draft,
                CaseStatus::Submitted,
            ),
            event(
                case.id,
                CaseAction::PassEligibility,
                CaseStatus::Submitted,
                CaseStatus::Eligible,
            ),
        ])
        .exec_with_returning(&txn)
        .await?;
        let (submitted, decided) = (events[0].id, events[1].id);
        member_key::Entity::insert(member_key::ActiveModel {
            application_id: Set(case.id),
            member_index: Set(0),
            id_hash: Set(format!(
                "{:064x}",
                u128::from(tag as u32) << 64 | u128::from(seq)
            )),
        })
        .exec_without_returning(&txn)
        .await?;
        let community = case.community_id.unwrap_or_default();
        let delta = |kind: &str, name: &str, cases: i64| counter_delta::ActiveModel {
            kind: Set(kind.into()),
            community_id: Set(community),
            programme: Set("public_rental".into()),
            name: Set(name.into()),
            day: Set(now.date_naive()),
            tenths: Set(0),
            cases: Set(cases),
            ..Default::default()
        };
        counter_delta::Entity::insert_many([
            delta("reached", "submitted", 1),
            delta("reached", "eligible", 1),
            delta("duration", "submitted", 1),
            delta("status", "eligible", 1),
        ])
        .exec_without_returning(&txn)
        .await?;
        let messages = f
            .messages
            .iter()
            .zip([submitted, decided])
            .map(|(m, event_id)| {
                let mut msg: outbox_message::ActiveModel = m.clone().into();
                msg.id = sea_orm::ActiveValue::NotSet;
                msg.application_id = Set(Some(case.id));
                msg.event_id = Set(Some(event_id));
                msg.message_id = Set(format!("<raw-{tag}-{seq}-{event_id}@anju.local>"));
                msg
            });
        outbox_message::Entity::insert_many(messages)
            .exec_without_returning(&txn)
            .await?;
        let mut decision: eligibility_decision::ActiveModel = f.decision.clone().into();
        decision.id = sea_orm::ActiveValue::NotSet;
        decision.application_id = Set(case.id);
        decision.event_id = Set(decided);
        eligibility_decision::Entity::insert(decision)
            .exec_without_returning(&txn)
            .await?;
        let mut idem: idempotency_record::ActiveModel = f.idempotency.clone().into();
        idem.key = Set(format!("raw-{tag}-{seq}"));
        idem.application_id = Set(case.id);
        idempotency_record::Entity::insert(idem)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await
    }
}

async fn call(
    http: &Http,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    extra: &[(&str, String)],
) -> (u16, Bytes) {
    let mut req = Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(b.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let Ok(resp) = http.request(req.body(body).expect("request")).await else {
        return (0, Bytes::new());
    };
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, bytes)
}

/// [`call`], with the answer parsed (for the set-up and the answers a client uses).
async fn call_json(
    http: &Http,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, bytes) = call(http, method, url, token, body, &[]).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn login(http: &Http, base: &str, login: &str, password: &str) -> String {
    let (s, b) = call_json(
        http,
        Method::POST,
        &format!("{base}/api/v1/auth/login"),
        None,
        Some(&json!({ "login": login, "password": password })),
    )
    .await;
    assert_eq!(s, 200, "login {login}: {b}");
    b["token"].as_str().unwrap_or_default().to_string()
}

fn id_number(seq: u64) -> String {
    let body = format!(
        "4101041985{:02}{:02}{:03}",
        1 + (seq / 28 / 500) % 12,
        1 + (seq / 500) % 28,
        (seq % 500) * 2 + 1
    );
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(w)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn household(seq: u64) -> Value {
    json!({
        "programme": "public_rental", "applicant_class": "local", "community_code": "410104003-01", "filed_at": "hukou",
        "contact_mobile": "13800001111", "language": "zh", "consent_verification": true, "declaration_truthful": true,
        "members": [{ "relationship": "applicant", "name": "压测", "id_number": id_number(seq), "gender": "male",
                      "marital_status": "single", "hukou_city": "郑州", "hukou_since": "2005-01-01", "annual_income_fen": 2_400_000 }],
        "documents": ["id_card"],
    })
}

struct Outcome {
    hist: Histogram<u64>,
    ok: u64,
    failed: u64,
}

/// Runs one scenario, prints its row and returns its rate (successful requests/s).
async fn scenario<F, Fut>(name: &str, clients: usize, seconds: u64, make: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    if std::env::var("LOADGEN_ONLY").is_ok_and(|only| !name.contains(&only)) {
        return 0.0;
    }
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (make, counter) = (make.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome {
                hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
                ok: 0,
                failed: 0,
            };
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = make(c, n).await;
                let _ = out.hist.record(t.elapsed().as_micros().max(1) as u64);
                if ok { out.ok += 1 } else { out.failed += 1 }
            }
            out
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let o = t.await.expect("client");
        all.add(&o.hist).expect("merge");
        ok += o.ok;
        failed += o.failed;
    }
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "| {name} | {clients} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {failed} |",
        ok as f64 / seconds as f64,
        ms(0.5),
        ms(0.95),
        ms(0.99),
        all.max() as f64 / 1000.0
    );
    ok as f64 / seconds as f64
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let reviewer = login(&http, &base, "reviewer1@nanguan.demo", "anju-demo-2015").await;
    let bureau = login(&http, &base, "bureau@nanguan.demo", "anju-demo-2015").await;
    let (_, queue) = call_json(
        &http,
        Method::GET,
        &format!("{base}/api/v1/review/queue?status=eligible&limit=20"),
        Some(&reviewer),
        None,
    )
    .await;
    let case_id = queue["items"][0]["id"].as_i64().unwrap_or(1);
    // One applicant account per client: registration and login are not what is measured.
    let mut applicants = Vec::new();
    let run = std::process::id();
    for c in 0..clients {
        let mobile = format!("139{:04}{:04}", run % 10_000, c);
        let _ = call(&http, Method::POST, &format!("{base}/api/v1/auth/register"), None, Some(&json!({ "mobile": mobile, "password": "loadgen-password", "display_name": "压测" })), &[]).await;
        applicants.push(login(&http, &base, &mobile, "loadgen-password").await);
    }
    let applicants = Arc::new(applicants);
    let mut summary: Vec<String> = Vec::new();
    println!("| scenario | clients | requests/s | p50 ms | p95 ms | p99 ms | max ms | failed |");
    println!("|---|---|---|---|---|---|---|---|");
    let (h, b) = (http.clone(), base.clone());
    scenario(
        "GET /health/live (baseline)",
        clients,
        seconds,
        move |_, _| {
            let (h, b) = (h.clone(), b.clone());
            async move {
                call(
                    &h,
                    Method::GET,
                    &format!("{b}/health/live"),
                    None,
                    None,
                    &[],
                )
                .await
                .0 == 200
            }
        },
    )
    .await;
    let (h, b, apps) = (http.clone(), base.clone(), applicants.clone());
    let offset = u64::from(run) * 1_000_000;
    scenario(
        "submit application (draft + submit)",
        clients,
        seconds,
        move |c, n| {
            let (h, b, token) = (h.clone(), b.clone(), apps[c].clone());
            async move {
                let (s, d) = call_json(
                    &h,
                    Method::POST,
                    &format!("{b}/api/v1/applications"),
                    Some(&token),
                    Some(&household(offset + n)),
                )
                .await;
                if s != 201 {
                    return false;
                }
                let id = d["id"].as_i64().unwrap_or_default();
                let key = vec![("idempotency-key", format!("lg-{offset}-{n}"))];
                call(
                    &h,
                    Method::POST,
                    &format!("{b}/api/v1/applications/{id}/submit"),
                    Some(&token),
                    Some(&json!({})),
                    &key,
                )
                .await
                .0 == 201
            }
        },
    )
    .await;
    let (h, b, apps) = (http.clone(), base.clone(), applicants.clone());
    // Identity numbers repeat every 168,000 (see `id_number`): the one-shot filings take
    // the other half of that space, so none shares a member with a drafted case (with
    // an offset of 500,000 a fifth of them did, and went the duplicate path).
    let one_shot = offset + 84_000;
    let submitted = scenario(
        "submit application (one request)",
        clients,
        seconds,
        move |c, n| {
            let (h, b, token) = (h.clone(), b.clone(), apps[c].clone());
            async move {
                let key = vec![("idempotency-key", format!("lg1-{one_shot}-{n}"))];
                call(
                    &h,
                    Method::POST,
                    &format!("{b}/api/v1/applications"),
                    Some(&token),
                    Some(&household(one_shot + n)),
                    &key,
                )
                .await
                .0 == 201
            }
        },
    )
    .await;
    if let Some(url) = args.get(4) {
        let db = anju::db::connect(url, 8)
            .await
            .expect("connect to the database");
        let fixture = Arc::new(raw::fixture(&db).await);
        let tag = u64::from(run);
        let raw = scenario(
            "raw database: a submission's rows as plain inserts, one transaction (no HTTP)",
            clients,
            seconds,
            move |_, n| {
                let (db, f) = (db.clone(), fixture.clone());
                async move { raw::submission(&db, &f, n, tag).await.is_ok() }
            },
        )
        .await;
        let ratio = if raw > 0.0 { submitted / raw } else { 0.0 };
        summary.push(format!(
            "submit (one request) ÷ raw database: {submitted:.0} / {raw:.0} = {ratio:.2}"
        ));
    }
    let (h, b, t) = (http.clone(), base.clone(), reviewer.clone());
    scenario("reviewer queue page (20)", clients, seconds, move |_, _| {
        let (h, b, t) = (h.clone(), b.clone(), t.clone());
        async move {
            call(
                &h,
                Method::GET,
                &format!("{b}/api/v1/review/queue?status=eligible&limit=20"),
                Some(&t),
                None,
                &[],
            )
            .await
            .0 == 200
        }
    })
    .await;
    let (h, b, t) = (http.clone(), base.clone(), reviewer.clone());
    scenario("case detail", clients, seconds, move |_, _| {
        let (h, b, t) = (h.clone(), b.clone(), t.clone());
        async move {
            call(
                &h,
                Method::GET,
                &format!("{b}/api/v1/applications/{case_id}"),
                Some(&t),
                None,
                &[],
            )
            .await
            .0 == 200
        }
    })
    .await;
    let (h, b, t) = (http.clone(), base.clone(), bureau.clone());
    scenario("funnel report (bureau)", clients, seconds, move |_, _| {
        let (h, b, t) = (h.clone(), b.clone(), t.clone());
        async move {
            call(
                &h,
                Method::GET,
                &format!("{b}/api/v1/reports/funnel"),
                Some(&t),
                None,
                &[],
            )
            .await
            .0 == 200
        }
    })
    .await;
    for line in summary {
        println!("\n{line}");
    }
}
