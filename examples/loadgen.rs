//! Load generator: drives a running anju with N concurrent clients for T seconds per
//! scenario and prints throughput and p50/p95/p99/max latency (HDR histogram).
//!
//! `cargo run --release --example loadgen -- [base-url] [clients] [seconds] [database-url]`
//!
//! Needs a server with the demo data (`anju serve --demo`): it logs in as the demo
//! reviewer and bureau. Scenarios: a trivial endpoint (`/health/live`, the HTTP
//! baseline), submit application (draft + submit, each client its own applicant), a
//! reviewer's queue page, a case detail, and the bureau's funnel report.
//!
//! Given the server's database URL, it also measures the database's own rate for a
//! submission's writes (see [`raw`]), right after the HTTP submit scenario and with the
//! same number of clients, while the server is idle.

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

/// A submission's transactions issued straight to the database: the same rows, the same
/// statements and the same two write transactions as `POST /applications` followed by
/// `POST /applications/{id}/submit` (draft insert; then idempotency check, case read,
/// number sequence, case update, submit event with its report counters, member keys and
/// duplicate look-up, receipt message, eligibility update, eligibility event with its
/// counters, stored decision, result message, idempotency record). Left out, because
/// they are not database work of the submission: HTTP, JSON parsing, authentication,
/// validation, the eligibility engine, template rendering, and the reads of places and
/// policies. The decision and the messages are copied from a real submission of the
/// same household, so the rows have their real sizes.
mod raw {
    use anju::applications::repository as repo;
    use anju::notifications::{NewMessage, enqueue, templates::Rendered};
    use anju::reports::counters::CaseFacts;
    use chrono::Utc;
    use entity::{
        application, application_event, eligibility_decision, idempotency_record, outbox_message,
        place, user_account,
    };
    use sea_orm::{
        ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
        QueryFilter, QueryOrder,
    };
    use serde_json::Value;

    pub struct Fixture {
        user_id: i64,
        community_id: i64,
        form: Value,
        decision: eligibility_decision::Model,
        messages: Vec<outbox_message::Model>,
        response: Value,
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
        let idem = idempotency_record::Entity::find()
            .filter(idempotency_record::Column::ApplicationId.eq(case.id))
            .one(db)
            .await
            .expect("read")
            .expect("its idempotency record");
        let user = user_account::Entity::find_by_id(idem.user_id)
            .one(db)
            .await
            .expect("read")
            .expect("its applicant");
        let community = place::Entity::find_by_id(case.community_id.expect("community"))
            .one(db)
            .await
            .expect("read")
            .expect("its community");
        Fixture {
            user_id: user.id,
            community_id: community.id,
            form: case.form,
            decision,
            messages,
            response: idem.response,
        }
    }

    fn message(f: &Fixture, i: usize, application_id: i64, event_id: i64) -> NewMessage {
        let m = &f.messages[i.min(f.messages.len() - 1)];
        NewMessage {
            application_id: Some(application_id),
            event_id: Some(event_id),
            kind: if i == 0 { "receipt" } else { "eligibility" },
            recipient: m.recipient.clone(),
            language: entity::enums::Language::Zh,
            rendered: Rendered {
                subject: m.subject.clone(),
                text: m.body_text.clone(),
                html: m.body_html.clone(),
            },
        }
    }

    fn event(
        id: i64,
        action: entity::enums::CaseAction,
        from: entity::enums::CaseStatus,
        to: entity::enums::CaseStatus,
        now: chrono::DateTime<Utc>,
    ) -> application_event::ActiveModel {
        application_event::ActiveModel {
            application_id: Set(id),
            actor_id: Set(None),
            action: Set(action),
            from_status: Set(Some(from)),
            to_status: Set(to),
            created_at: Set(now),
            ..Default::default()
        }
    }

    /// One submission's two write transactions.
    pub async fn submission(
        db: &DatabaseConnection,
        f: &Fixture,
        seq: u64,
        tag: u64,
    ) -> Result<(), DbErr> {
        let now = Utc::now();
        let txn = anju::db::begin_write(db).await?;
        let draft = repo::insert(
            &txn,
            application::ActiveModel {
                applicant_id: Set(Some(f.user_id)),
                source: Set(entity::enums::Source::Online),
                programme: Set(Some(entity::enums::Programme::PublicRental)),
                applicant_class: Set(Some(entity::enums::ApplicantClass::Local)),
                community_id: Set(Some(f.community_id)),
                status: Set(entity::enums::CaseStatus::Draft),
                form: Set(f.form.clone()),
                warnings: Set(serde_json::json!([])),
                household_size: Set(1),
                language: Set(entity::enums::Language::Zh),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                status_since: Set(now),
                ..Default::default()
            },
        )
        .await?;
        txn.commit().await?;

        let txn = anju::db::begin_write(db).await?;
        let key = format!("raw-{tag}-{seq}");
        repo::find_idempotency(&txn, f.user_id, &key).await?;
        let case = repo::find(&txn, draft.id)
            .await?
            .ok_or(DbErr::RecordNotFound("case".into()))?;
        let year = chrono::Datelike::year(&now);
        let n = repo::next_in_sequence(&txn, &format!("application:410104003:{year}")).await?;
        let facts = CaseFacts::of(&case);
        repo::update_guarded(
            &txn,
            case.id,
            case.version,
            application::ActiveModel {
                number: Set(Some(format!("410104003-{year}-{n:06}"))),
                form: Set(f.form.clone()),
                status: Set(entity::enums::CaseStatus::Submitted),
                submitted_at: Set(Some(now)),
                status_since: Set(now),
                ..Default::default()
            },
        )
        .await?;
        let submitted = repo::insert_event(
            &txn,
            &facts,
            event(
                case.id,
                entity::enums::CaseAction::Submit,
                entity::enums::CaseStatus::Draft,
                entity::enums::CaseStatus::Submitted,
                now,
            ),
        )
        .await?;
        let hash = format!("{:064x}", u128::from(tag as u32) << 64 | u128::from(seq));
        repo::replace_member_keys(&txn, case.id, std::slice::from_ref(&hash)).await?;
        repo::keys_matching(&txn, std::slice::from_ref(&hash), case.id).await?;
        enqueue(&txn, message(f, 0, case.id, submitted.id), now).await?;
        repo::update_guarded(
            &txn,
            case.id,
            case.version + 1,
            application::ActiveModel {
                status: Set(entity::enums::CaseStatus::Eligible),
                status_since: Set(now),
                policy_version: Set(Some(f.decision.policy_version.clone())),
                warnings: Set(serde_json::json!([])),
                ..Default::default()
            },
        )
        .await?;
        let facts = CaseFacts {
            status_since: now,
            ..facts
        };
        let checked = repo::insert_event(
            &txn,
            &facts,
            event(
                case.id,
                entity::enums::CaseAction::PassEligibility,
                entity::enums::CaseStatus::Submitted,
                entity::enums::CaseStatus::Eligible,
                now,
            ),
        )
        .await?;
        eligibility_decision::ActiveModel {
            application_id: Set(case.id),
            event_id: Set(checked.id),
            policy_version: Set(f.decision.policy_version.clone()),
            eligible: Set(true),
            flagged: Set(false),
            decision: Set(f.decision.decision.clone()),
            evaluated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        enqueue(&txn, message(f, 1, case.id, checked.id), now).await?;
        repo::insert_idempotency(
            &txn,
            idempotency_record::Model {
                user_id: f.user_id,
                key,
                request_hash: "0".repeat(64),
                application_id: case.id,
                status_code: 201,
                response: f.response.clone(),
                created_at: now,
            },
        )
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
) -> (u16, Value) {
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
        return (0, Value::Null);
    };
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn login(http: &Http, base: &str, login: &str, password: &str) -> String {
    let (s, b) = call(
        http,
        Method::POST,
        &format!("{base}/api/v1/auth/login"),
        None,
        Some(&json!({ "login": login, "password": password })),
        &[],
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

async fn scenario<F, Fut>(name: &str, clients: usize, seconds: u64, make: F)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
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
    let (_, queue) = call(
        &http,
        Method::GET,
        &format!("{base}/api/v1/review/queue?status=eligible&limit=20"),
        Some(&reviewer),
        None,
        &[],
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
                let (s, d) = call(
                    &h,
                    Method::POST,
                    &format!("{b}/api/v1/applications"),
                    Some(&token),
                    Some(&household(offset + n)),
                    &[],
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
    if let Some(url) = args.get(4) {
        let db = anju::db::connect(url, 8)
            .await
            .expect("connect to the database");
        let fixture = Arc::new(raw::fixture(&db).await);
        let tag = u64::from(run);
        scenario(
            "raw database: a submission's two transactions (no HTTP)",
            clients,
            seconds,
            move |_, n| {
                let (db, f) = (db.clone(), fixture.clone());
                async move { raw::submission(&db, &f, n, tag).await.is_ok() }
            },
        )
        .await;
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
}
