//! The command line, run as a real process against a real database.

use std::process::Command;

use crate::helpers::{PASSWORD, TestApp, fresh_database_url};

#[tokio::test]
async fn anju_user_add_creates_the_first_admin_who_can_then_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let out = Command::new(env!("CARGO_BIN_EXE_anju"))
        .args([
            "user",
            "add",
            "--role",
            "admin",
            "--name",
            "首位管理员",
            "--email",
            "root@nanguan.test",
        ])
        .env("ANJU_DATABASE_URL", &url)
        .env("ANJU_USER_PASSWORD", PASSWORD)
        .env("ANJU_LOG", "warn")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin account"));

    let app = TestApp::spawn_with(|s| s.database_url = url.clone()).await;
    let token = app.token("root@nanguan.test", PASSWORD).await;
    app.get("/api/v1/admin/users", Some(&token))
        .await
        .expect(200);
}

#[tokio::test]
async fn anju_user_add_refuses_bad_input_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let out = Command::new(env!("CARGO_BIN_EXE_anju"))
        .args([
            "user",
            "add",
            "--role",
            "reviewer",
            "--name",
            "x",
            "--email",
            "r@nanguan.test",
            "--place",
            "410104003",
        ])
        .env("ANJU_DATABASE_URL", &url)
        .env("ANJU_USER_PASSWORD", "short")
        .env("ANJU_LOG", "warn")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("password"), "{stderr}");
    assert!(stderr.contains("places[0]"), "{stderr}");
    let app = TestApp::spawn_with(|s| s.database_url = url.clone()).await;
    app.login("r@nanguan.test", "short").await.expect(401);
}

#[tokio::test]
async fn the_bootstrap_settings_create_an_admin_only_once() {
    let app = TestApp::spawn_with(|s| {
        s.bootstrap_admin_login = Some("boot@nanguan.test".into());
        s.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await;
    let token = app.token("boot@nanguan.test", PASSWORD).await;
    let list = app
        .get("/api/v1/admin/users?role=admin", Some(&token))
        .await;
    assert_eq!(list.expect(200)["items"].as_array().unwrap().len(), 1);
    // A restart on the same database with the settings still present adds nobody.
    let again = TestApp::spawn_with(|s| {
        s.database_url = app.database_url.clone();
        s.bootstrap_admin_login = Some("boot2@nanguan.test".into());
        s.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await;
    again
        .login("boot2@nanguan.test", PASSWORD)
        .await
        .expect(401);
}

#[tokio::test]
async fn anju_report_counters_finds_a_counter_out_of_step_and_rebuilds_it() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let applicant = app.applicant("13900004444").await;
    app.file(&applicant, &crate::fixtures::household()).await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_anju"))
            .args(args)
            .env("ANJU_DATABASE_URL", &app.database_url)
            .env("ANJU_LOG", "warn")
            .output()
            .unwrap()
    };
    let ok = run(&["report", "counters"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("agree"));

    // Fold the pending deltas so there is a folded row to corrupt.
    assert!(
        anju::lifecycle::counters::fold_all(&app.state.db)
            .await
            .unwrap()
            > 0
    );
    assert_eq!(
        anju::lifecycle::counters::fold(&app.state.db)
            .await
            .unwrap(),
        0,
        "nothing is left to fold"
    );
    app.state
        .db
        .execute_unprepared("UPDATE funnel_count SET cases = cases + 1 WHERE stage = 'eligible'")
        .await
        .unwrap();
    let off = run(&["report", "counters"]);
    assert!(!off.status.success(), "a wrong counter must fail the check");
    let said = String::from_utf8_lossy(&off.stdout);
    assert!(
        said.contains("reached") && said.contains("stored 2, event log 1"),
        "{said}"
    );

    let rebuilt = run(&["report", "counters", "--rebuild"]);
    assert!(rebuilt.status.success());
    assert!(run(&["report", "counters"]).status.success());
}
