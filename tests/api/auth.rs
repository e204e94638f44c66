use chrono::Duration;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn an_applicant_registers_logs_in_reads_their_account_and_logs_out() {
    let app = TestApp::spawn().await;
    let created = app.register("mobile", "+86 138-0000-1111", PASSWORD).await;
    let user = created.expect(201);
    assert_eq!(user["role"], "applicant");
    assert_eq!(user["mobile"], "13800001111");
    assert!(user.get("password_hash").is_none());
    assert!(
        user.get("id").is_none(),
        "nothing that tells a new account from a taken one"
    );

    let login = app.login("13800001111", PASSWORD).await;
    let token = login.expect(200)["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("anju_"));
    assert_eq!(login.body["token_type"], "Bearer");

    let me = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.expect(200)["mobile"], "13800001111");

    app.post("/api/v1/auth/logout", Some(&token), &json!({}))
        .await
        .expect(204);
    let after = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(after.expect(401)["code"], "unauthorized");
}

#[tokio::test]
async fn the_database_holds_only_a_hash_of_the_token_and_password() {
    use sea_orm::EntityTrait;
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let sessions = entity::session_token::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].token_hash, token);
    assert!(!sessions[0].token_hash.contains(&token[5..]));
    let users = entity::user_account::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(users[0].password_hash.starts_with("$argon2id$"));
    assert!(!users[0].password_hash.contains(PASSWORD));
}

#[tokio::test]
async fn a_token_stops_working_when_it_expires() {
    let app = TestApp::spawn_with(|s| s.token_ttl_minutes = 60).await;
    let token = app.applicant("13800001111").await;
    app.clock.advance(Duration::minutes(59));
    app.get("/api/v1/auth/me", Some(&token)).await.expect(200);
    app.clock.advance(Duration::minutes(2));
    app.get("/api/v1/auth/me", Some(&token)).await.expect(401);
}

#[tokio::test]
async fn logging_out_revokes_only_that_token() {
    let app = TestApp::spawn().await;
    let first = app.applicant("13800001111").await;
    let second = app.token("13800001111", PASSWORD).await;
    app.post("/api/v1/auth/logout", Some(&first), &json!({}))
        .await
        .expect(204);
    app.get("/api/v1/auth/me", Some(&first)).await.expect(401);
    app.get("/api/v1/auth/me", Some(&second)).await.expect(200);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("email", "a@example.com", PASSWORD)
        .await
        .expect(201);
    let wrong = app.login("a@example.com", "not-the-password").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    let malformed = app.login("not a login name", PASSWORD).await;
    for a in [&wrong, &unknown, &malformed] {
        assert_eq!(a.expect(401)["code"], "invalid_credentials");
        assert_eq!(a.body["message"], wrong.body["message"]);
        assert_eq!(a.body["fields"], json!([]));
    }
}

#[tokio::test]
async fn repeated_failures_lock_a_login_name_whether_or_not_it_exists() {
    let app = TestApp::spawn_with(|s| {
        s.login_max_failures = 3;
        s.login_lockout_minutes = 10;
    })
    .await;
    app.register("mobile", "13800001111", PASSWORD)
        .await
        .expect(201);
    for login in ["13800001111", "13900002222"] {
        for _ in 0..3 {
            app.login(login, "wrong-password").await.expect(401);
        }
        // Locked now: even the right password is refused, and the answer is the same
        // for the account that exists and the one that does not.
        let locked = app.login(login, PASSWORD).await;
        assert_eq!(locked.expect(429)["code"], "too_many_attempts");
    }
    app.clock.advance(Duration::minutes(11));
    app.login("13800001111", PASSWORD).await.expect(200);
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = TestApp::spawn_with(|s| s.login_max_failures = 3).await;
    app.register("mobile", "13800001111", PASSWORD)
        .await
        .expect(201);
    for _ in 0..2 {
        app.login("13800001111", "wrong-password").await.expect(401);
    }
    app.login("13800001111", PASSWORD).await.expect(200);
    for _ in 0..2 {
        app.login("13800001111", "wrong-password").await.expect(401);
    }
    app.login("13800001111", PASSWORD).await.expect(200);
}

#[tokio::test]
async fn registration_lists_every_bad_field_at_once_and_writes_nothing() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "mobile": "12345", "email": "nope", "password": "long-enough", "display_name": "   " }),
        )
        .await;
    a.expect(422);
    assert_eq!(a.body["code"], "validation_failed");
    let mut fields = a.field_codes();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("display_name".into(), "required".into()),
            ("email".into(), "invalid_email".into()),
            ("mobile".into(), "invalid_mobile".into()),
        ]
    );
    // The limits the spec declares are checked first, all at once.
    let short = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "mobile": "12345", "password": "short", "display_name": "" }),
        )
        .await;
    let mut fields = short.field_codes();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("display_name".into(), "too_short".into()),
            ("password".into(), "too_short".into()),
        ]
    );
    let count = entity::user_account::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn registration_needs_a_mobile_or_an_email() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "password": PASSWORD, "display_name": "王" }),
        )
        .await;
    a.expect(422);
    assert_eq!(
        a.field_codes(),
        vec![("mobile".into(), "mobile_or_email_required".into())]
    );
}

#[tokio::test]
async fn registering_a_taken_mobile_answers_as_for_a_new_one_and_tells_the_owner() {
    use entity::outbox_message;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn().await;
    let first = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "mobile": "13800001111", "email": "owner@example.com", "password": PASSWORD, "display_name": "王小明" }),
        )
        .await;
    let again = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "mobile": "+8613800001111", "email": "owner@example.com", "password": "another-password", "display_name": "王小明" }),
        )
        .await;
    assert_eq!(first.status, again.status);
    assert_eq!(first.expect(201), again.expect(201), "the same answer");
    let told = outbox_message::Entity::find()
        .filter(outbox_message::Column::Kind.eq("registration_attempt"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].recipient.as_deref(), Some("owner@example.com"));
    assert_eq!(
        app.count(entity::user_account::Entity).await,
        1,
        "no second account"
    );
    // The first password still works; the second never became one.
    app.login("13800001111", PASSWORD).await.expect(200);
    app.login("13800001111", "another-password")
        .await
        .expect(401);
}

#[tokio::test]
async fn self_registration_cannot_choose_a_role() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "mobile": "13800001111", "password": PASSWORD, "display_name": "王", "role": "admin" }),
        )
        .await;
    a.expect(422);
    assert_eq!(a.field_codes()[0].1, "invalid_type");
    app.login("13800001111", PASSWORD).await.expect(401);
}
