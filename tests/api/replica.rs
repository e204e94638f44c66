//! Reports read from a real PostgreSQL streaming replica (`database_read_url`). Needs
//! `ANJU_TEST_POSTGRES_URL` naming a primary and `ANJU_TEST_REPLICA_URL` a streaming
//! replica of it (same path and user); `.ci/run` makes both with `initdb` and
//! `pg_basebackup` (tests/fault/replica.sh) and checks that this test ran. Without them
//! it returns at once, saying so.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;

use crate::fixtures::{id_number, single_household};
use crate::helpers::TestApp;

async fn one(db: &DatabaseConnection, sql: &str) -> String {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap()
}

/// Waits until the replica has replayed everything the primary has written so far.
async fn caught_up(primary: &DatabaseConnection, replica: &DatabaseConnection) {
    let target = one(primary, "SELECT pg_current_wal_lsn()::text").await;
    for _ in 0..600 {
        let sql = format!("SELECT (pg_last_wal_replay_lsn() >= '{target}'::pg_lsn)::text");
        if one(replica, &sql).await == "true" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the replica did not replay up to {target} in 30 s");
}

fn submitted(report: &Value) -> u64 {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "submitted")
        .unwrap_or_else(|| panic!("no submitted stage: {report}"))["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn the_funnel_reads_from_the_replica_and_shows_its_lag() {
    let (Ok(primary_url), Ok(replica_url)) = (
        std::env::var("ANJU_TEST_POSTGRES_URL"),
        std::env::var("ANJU_TEST_REPLICA_URL"),
    ) else {
        println!(
            "replica test not run: ANJU_TEST_POSTGRES_URL and ANJU_TEST_REPLICA_URL are not both set"
        );
        return;
    };
    let app = TestApp::spawn_with(|s| {
        s.database_read_url = Some(s.database_url.replacen(&primary_url, &replica_url, 1));
        s.metrics_token = Some("replica-metrics".into());
    })
    .await;
    let primary = Database::connect(&primary_url).await.unwrap();
    let replica = Database::connect(&replica_url).await.unwrap();
    let admin = app.admin().await;
    let mut filed = Vec::new();
    for i in 0..3u32 {
        let t = app.applicant(&format!("1350000{i:04}")).await;
        let r = app
            .file(
                &t,
                &single_household(&id_number("410104", "19800101", 2 * i + 1)),
            )
            .await;
        filed.push((r["application_id"].as_i64().unwrap(), t));
    }
    caught_up(&primary, &replica).await;
    let report = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    let report = report.expect(200);
    assert_eq!(submitted(report), 3);
    assert!(report["replica_lag_seconds"].is_number(), "{report}");

    // With replay paused, what is written now reaches the primary only: the applicant
    // reads the new case (from the primary), the funnel does not count it yet.
    replica
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    let t = app.applicant("13500009999").await;
    let late = app
        .file(&t, &single_household(&id_number("410104", "19800101", 41)))
        .await;
    let late_id = late["application_id"].as_i64().unwrap();
    app.get(&format!("/api/v1/applications/{late_id}"), Some(&t))
        .await
        .expect(200);
    let behind = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    assert_eq!(
        submitted(behind.expect(200)),
        3,
        "the funnel read the primary"
    );
    let metrics = app
        .raw(
            poem::http::Method::GET,
            "/metrics",
            &[("Authorization", "Bearer replica-metrics")],
            vec![],
        )
        .await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .contains("anju_db_replica_lag_seconds"),
        "{}",
        metrics.body
    );

    replica
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    caught_up(&primary, &replica).await;
    let after = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    assert_eq!(submitted(after.expect(200)), 4);
    println!("replica test ran: 3 read from the replica, the 4th counted once replayed");
}
