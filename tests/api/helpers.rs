//! `TestApp`: the real application over a fresh database, with a manual clock and one
//! method per endpoint.

use std::sync::Arc;

use anju::clock::ManualClock;
use anju::settings::Settings;
use anju::startup::{AppState, build_app};
use chrono::{TimeZone, Utc};
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use rand::Rng;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub client: TestClient<BoxEndpoint<'static>>,
    pub state: AppState,
    pub clock: ManualClock,
    pub database_url: String,
    _dir: tempfile::TempDir,
}

/// An HTTP answer: status and parsed JSON body (Null when the body is empty).
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: poem::http::HeaderMap,
}

impl Answer {
    pub fn field_codes(&self) -> Vec<(String, String)> {
        self.body["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f["field"].as_str().unwrap_or("").to_string(),
                            f["code"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }
}

/// A database URL for a fresh database: PostgreSQL (own schema) when
/// `ANJU_TEST_POSTGRES_URL` is set, else a SQLite file in `dir`.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("ANJU_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            use sea_orm::ConnectionTrait;
            let schema = format!("t_{:016x}", rand::thread_rng().r#gen::<u64>());
            let admin = sea_orm::Database::connect(&base)
                .await
                .expect("ANJU_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create test schema");
            admin.close().await.ok();
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-c%20search_path%3D{schema}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("anju.db").display()),
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tune: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_at(Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap(), tune).await
    }

    /// As `spawn_with`, with the clock starting at `start`.
    pub async fn spawn_at(
        start: chrono::DateTime<Utc>,
        tune: impl FnOnce(&mut Settings),
    ) -> TestApp {
        Self::spawn_observed(start, tune, None).await
    }

    /// As `spawn`, with the SQL of every statement the service runs from then on
    /// recorded (transaction begin and commit aside), for tests of what a request costs.
    pub async fn spawn_recording() -> (TestApp, Arc<std::sync::Mutex<Vec<String>>>) {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap();
        let app = Self::spawn_observed(start, |_| {}, Some(log.clone())).await;
        (app, log)
    }

    async fn spawn_observed(
        start: chrono::DateTime<Utc>,
        tune: impl FnOnce(&mut Settings),
        record: Option<Arc<std::sync::Mutex<Vec<String>>>>,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database_url(dir.path()).await;
        let mut settings = Settings {
            database_url: database_url.clone(),
            db_pool_size: 4,
            // Tests move the clock by weeks; tokens should outlive that unless a test
            // is about expiry.
            token_ttl_minutes: 60 * 24 * 365,
            // Reports must show each step at once; one test turns the cache on.
            report_cache_secs: 0,
            // Tests register many applicants from one (unknown) address; the limit itself
            // is tested over real connections (`network`).
            register_per_hour: 100_000,
            ..Settings::default()
        };
        tune(&mut settings);
        let clock = ManualClock::new(start);
        let mut state = anju::startup::prepare(settings, Arc::new(clock.clone()))
            .await
            .expect("prepare app");
        if let Some(log) = record {
            state.db.set_metric_callback(move |info| {
                log.lock().unwrap().push(info.statement.sql.clone());
            });
            state.reads = state.db.clone();
        }
        let client = TestClient::new(build_app(state.clone()).map_to_response().boxed());
        TestApp {
            client,
            state,
            clock,
            database_url,
            _dir: dir,
        }
    }

    async fn answer(resp: poem::test::TestResponse) -> Answer {
        let status = resp.0.status();
        let headers = resp.0.headers().clone();
        let bytes = resp.0.into_body().into_bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.client.get(path);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::answer(req.send().await).await
    }

    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Answer {
        let mut req = match method {
            "POST" => self.client.post(path),
            "PATCH" => self.client.patch(path),
            "PUT" => self.client.put(path),
            "DELETE" => self.client.delete(path),
            other => panic!("unsupported method {other}"),
        };
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::answer(req.body_json(body).send().await).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.send_json("POST", path, token, body).await
    }

    /// A request with a raw body and headers, for malformed input.
    pub async fn raw(
        &self,
        method: poem::http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut req = self.client.request(method, path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::answer(req.body(body).send().await).await
    }

    pub async fn register(&self, login_field: &str, login: &str, password: &str) -> Answer {
        self.post(
            "/api/v1/auth/register",
            None,
            &json!({ login_field: login, "password": password, "display_name": "王小明" }),
        )
        .await
    }

    pub async fn login(&self, login: &str, password: &str) -> Answer {
        self.post(
            "/api/v1/auth/login",
            None,
            &json!({ "login": login, "password": password }),
        )
        .await
    }

    /// Logs in and returns the token, failing the test otherwise.
    pub async fn token(&self, login: &str, password: &str) -> String {
        let a = self.login(login, password).await;
        a.expect(200)["token"].as_str().expect("token").to_string()
    }

    /// Registers an applicant with this mobile and logs in.
    pub async fn applicant(&self, mobile: &str) -> String {
        self.register("mobile", mobile, PASSWORD).await.expect(201);
        self.token(mobile, PASSWORD).await
    }

    /// Creates an admin directly through the service (as `anju user add` does) and logs in.
    pub async fn admin(&self) -> String {
        let email = "admin@anju.test";
        anju::auth::service::create_account(
            &self.state,
            anju::auth::service::NewAccount {
                role: anju::auth::Role::Admin,
                display_name: "管理员".into(),
                mobile: None,
                email: Some(email.into()),
                password: PASSWORD.into(),
                place_codes: vec![],
                id_number: None,
            },
        )
        .await
        .expect("create admin");
        self.token(email, PASSWORD).await
    }

    /// An admin creates a staff account; returns the new account's token.
    pub async fn staff(&self, admin: &str, role: &str, email: &str, places: &[&str]) -> String {
        self.post(
            "/api/v1/admin/users",
            Some(admin),
            &json!({
                "role": role, "display_name": "工作人员", "email": email,
                "password": PASSWORD, "places": places,
            }),
        )
        .await
        .expect(201);
        self.token(email, PASSWORD).await
    }

    /// Creates a draft; returns (id, version).
    pub async fn draft(&self, token: &str, form: &Value) -> (i64, i64) {
        let a = self.post("/api/v1/applications", Some(token), form).await;
        let body = a.expect(201);
        (
            body["id"].as_i64().unwrap(),
            body["version"].as_i64().unwrap(),
        )
    }

    /// Submits a draft with an idempotency key.
    pub async fn submit(&self, token: &str, id: i64, key: &str, body: &Value) -> Answer {
        let req = self
            .client
            .post(format!("/api/v1/applications/{id}/submit"))
            .header("Authorization", format!("Bearer {token}"))
            .header("Idempotency-Key", key)
            .body_json(body);
        Self::answer(req.send().await).await
    }

    /// Drafts and submits a household; returns the receipt.
    pub async fn file(&self, token: &str, form: &Value) -> Value {
        let (id, _) = self.draft(token, form).await;
        let a = self
            .submit(token, id, &format!("file-{id}"), &json!({}))
            .await;
        a.expect(201).clone()
    }

    pub async fn patch(&self, token: &str, path: &str, version: i64, body: &Value) -> Answer {
        let req = self
            .client
            .patch(path)
            .header("Authorization", format!("Bearer {token}"))
            .header("If-Match", version.to_string())
            .body_json(body);
        Self::answer(req.send().await).await
    }

    /// Rows in a table, for asserting what was and was not written.
    pub async fn count<E>(&self, _e: E) -> u64
    where
        E: sea_orm::EntityTrait,
        E::Model: sea_orm::FromQueryResult + Sized + Send + Sync,
    {
        use sea_orm::PaginatorTrait;
        E::find().count(&self.state.db).await.unwrap()
    }
}

/// A staff action on a case.
pub async fn act(app: &TestApp, token: &str, id: i64, body: Value) -> Answer {
    app.post(
        &format!("/api/v1/applications/{id}/actions"),
        Some(token),
        &body,
    )
    .await
}

/// The case's current version, as `token` sees it.
pub async fn version(app: &TestApp, token: &str, id: i64) -> i64 {
    app.get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .expect(200)["version"]
        .as_i64()
        .unwrap()
}

/// A funnel report's count for a side exit (`ineligible`, `appealed`, `exited`, ...).
pub fn outcome(report: &Value, name: &str) -> i64 {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["outcome"] == name)
        .unwrap_or_else(|| panic!("no outcome {name}: {report}"))["count"]
        .as_i64()
        .unwrap()
}
