use entity::application;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use anju::clock::Clock;

use crate::helpers::{TestApp, outcome};

fn stage(report: &Value, name: &str) -> i64 {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap()["count"]
        .as_i64()
        .unwrap()
}

async fn count_status(app: &TestApp, status: &str) -> i64 {
    application::Entity::find()
        .filter(application::Column::Status.eq(status))
        .count(&app.state.db)
        .await
        .unwrap() as i64
}

const BUREAU: &str = "bureau@nanguan.demo";

/// The funnel's overdue counts, as `login` sees them, equal a direct count of the cases
/// past their policy deadline now; returns them.
async fn overdue_agrees(app: &TestApp, login: &str, password: &str) -> [i64; 2] {
    let db = &app.state.db;
    let now = app.clock.now();
    let today = anju::clock::local_date(now);
    let mut expected = [0i64; 2];
    for p in anju::applications::form::Programme::ALL {
        let policy = anju::eligibility::service::policy_in_force(db, *p, today)
            .await
            .unwrap()
            .unwrap();
        for (i, (status, days)) in [
            ("eligible", policy.deadlines.acceptance_days),
            ("under_review", policy.deadlines.first_review_days),
        ]
        .into_iter()
        .enumerate()
        {
            expected[i] += application::Entity::find()
                .filter(application::Column::Programme.eq(p.as_str()))
                .filter(application::Column::Status.eq(status))
                .filter(
                    application::Column::StatusSince.lt(now - chrono::Duration::days(days.into())),
                )
                .count(db)
                .await
                .unwrap() as i64;
        }
    }
    // A fresh session each time: the clock may have moved past the last one's expiry.
    let token = app.token(login, password).await;
    let report = app.get("/api/v1/reports/funnel", Some(&token)).await;
    let o = &report.expect(200)["overdue"];
    assert_eq!(o[0]["count"].as_i64().unwrap(), expected[0], "{now}: {o}");
    assert_eq!(o[1]["count"].as_i64().unwrap(), expected[1], "{now}: {o}");
    expected
}

#[tokio::test]
async fn the_nanguan_demo_reads_367_240_179_and_the_report_agrees_with_the_cases() {
    let app = TestApp::spawn().await;
    assert!(
        anju::demo::run(&app.state, &app.clock, false)
            .await
            .unwrap()
    );
    let bureau = app
        .token("bureau@nanguan.demo", anju::demo::DEMO_PASSWORD)
        .await;
    let report = app.get("/api/v1/reports/funnel", Some(&bureau)).await;
    let r = report.expect(200).clone();
    assert_eq!(stage(&r, "eligible"), 367);
    assert_eq!(stage(&r, "accepted"), 240);
    assert_eq!(stage(&r, "reported"), 179);
    assert_eq!(stage(&r, "submitted"), 425);
    assert_eq!(r["stages"][2]["ratio_from_previous"], 65.4);

    // Cross-check against the cases themselves.
    assert_eq!(
        outcome(&r, "ineligible"),
        count_status(&app, "ineligible").await
    );
    assert_eq!(
        outcome(&r, "withdrawn"),
        count_status(&app, "withdrawn").await
    );
    assert_eq!(
        outcome(&r, "returned"),
        count_status(&app, "returned").await
    );
    // Approved households wait, or were let a unit in the demo's lottery round.
    assert_eq!(
        stage(&r, "approved"),
        count_status(&app, "waitlisted").await + count_status(&app, "allocated").await
    );
    assert_eq!(
        stage(&r, "allocated"),
        count_status(&app, "allocated").await
    );
    assert!(stage(&r, "allocated") > 100, "{}", stage(&r, "allocated"));
    // The demo's draw verifies from its published result file alone.
    let file = app.get("/api/v1/public/rounds/1/lottery", None).await;
    let file: anju::allocation::lottery::ResultFile =
        serde_json::from_value(file.expect(200).clone()).unwrap();
    let checks = anju::allocation::lottery::verify(&file);
    assert!(anju::allocation::lottery::verified(&checks), "{checks:?}");
    let units = app.get("/api/v1/units?limit=1", Some(&bureau)).await;
    assert_eq!(units.expect(200)["total"], 497);
    // On PostgreSQL the demo leaves the planner's statistics fresh (no autovacuum here).
    if app.state.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let row = app
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_user_tables \
                 WHERE schemaname = current_schema() AND relname = 'application' \
                 AND last_analyze IS NOT NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i64>("", "n").unwrap(),
            1,
            "the demo ran ANALYZE"
        );
    }
    let waiting_or_later = [
        "eligible",
        "under_review",
        "needs_correction",
        "passed_review",
        "ready_to_report",
        "reported",
        "approved",
        "returned",
        "waitlisted",
        "allocated",
        "rejected",
    ];
    let mut reached_eligible = 0;
    for s in waiting_or_later {
        reached_eligible += count_status(&app, s).await;
    }
    // Every eligible case is in one of those statuses, or withdrew.
    assert_eq!(
        stage(&r, "eligible"),
        reached_eligible + count_status(&app, "withdrawn").await
    );
    let bureau_rejected = entity::application_event::Entity::find()
        .filter(entity::application_event::Column::Action.eq("bureau_reject"))
        .count(&app.state.db)
        .await
        .unwrap() as i64;
    assert_eq!(
        stage(&r, "reported"),
        count_status(&app, "reported").await
            + count_status(&app, "waitlisted").await
            + count_status(&app, "allocated").await
            + count_status(&app, "returned").await
            + bureau_rejected,
        "every reported case is still reported, waitlisted, allocated, returned or rejected by the bureau"
    );

    // The chart and the spreadsheet carry the same figures.
    let chart = app.get("/api/v1/reports/funnel-chart", Some(&bureau)).await;
    let svg = chart.expect(200).as_str().unwrap().to_string();
    assert!(
        svg.starts_with("<svg")
            && svg.contains("367 户")
            && svg.contains("240 户")
            && svg.contains("179 户")
    );
    let xlsx = app
        .client
        .get("/api/v1/reports/funnel/xlsx")
        .header("Authorization", format!("Bearer {bureau}"))
        .send()
        .await;
    xlsx.assert_status_is_ok();
    let bytes = xlsx.0.into_body().into_vec().await.unwrap();
    assert_eq!(&bytes[..2], b"PK");
    let csv = app
        .client
        .get("/api/v1/reports/funnel/csv")
        .header("Authorization", format!("Bearer {bureau}"))
        .send()
        .await;
    let text =
        String::from_utf8(csv.0.into_body().into_vec().await.unwrap()[3..].to_vec()).unwrap();
    assert!(text.contains("\"符合条件\",\"eligible\",\"367\""), "{text}");

    // The counters the report reads equal a recount from the event log, and rebuilding
    // them from the log gives the same report.
    use anju::lifecycle::counters;
    let db = &app.state.db;
    assert_eq!(
        counters::stored(db).await.unwrap(),
        counters::recount(db).await.unwrap()
    );
    counters::rebuild(db).await.unwrap();
    let rebuilt = app.get("/api/v1/reports/funnel", Some(&bureau)).await;
    assert_eq!(rebuilt.expect(200), &r);
    assert!(
        r["stages"][2]["median_days"].as_f64().is_some(),
        "cases left first review in the demo: {r}"
    );

    // The period is in local days, both ends included.
    let before = app
        .get("/api/v1/reports/funnel?to=2015-08-31", Some(&bureau))
        .await;
    assert_eq!(stage(before.expect(200), "submitted"), 0);
    let from_start = app
        .get(
            "/api/v1/reports/funnel?from=2015-09-01&to=2030-12-31",
            Some(&bureau),
        )
        .await;
    assert_eq!(from_start.expect(200)["stages"], r["stages"]);
    app.get("/api/v1/reports/funnel?from=2015-13-01", Some(&bureau))
        .await
        .expect(400);

    // Overdue counts agree with the cases and the policy deadlines at the demo's end,
    // at later times and a year on.
    overdue_agrees(&app, BUREAU, anju::demo::DEMO_PASSWORD).await;
    for days in [2, 5, 9, 14, 20, 365] {
        app.clock
            .advance(chrono::Duration::days(days) + chrono::Duration::hours(5));
        overdue_agrees(&app, BUREAU, anju::demo::DEMO_PASSWORD).await;
    }
    assert_eq!(
        overdue_agrees(&app, BUREAU, anju::demo::DEMO_PASSWORD).await[0],
        count_status(&app, "eligible").await
    );

    // Running it again changes nothing.
    assert!(
        !anju::demo::run(&app.state, &app.clock, false)
            .await
            .unwrap()
    );
    let bureau = app
        .token("bureau@nanguan.demo", anju::demo::DEMO_PASSWORD)
        .await;
    let again = app.get("/api/v1/reports/funnel", Some(&bureau)).await;
    assert_eq!(stage(again.expect(200), "eligible"), 367);
    assert_eq!(
        application::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        425
    );

    // Scope: a reviewer sees their communities only; applicants get no reports.
    let reviewer = app
        .token("reviewer1@nanguan.demo", anju::demo::DEMO_PASSWORD)
        .await;
    let own = app.get("/api/v1/reports/funnel", Some(&reviewer)).await;
    let own = own.expect(200).clone();
    assert!(stage(&own, "eligible") < 367 && stage(&own, "eligible") > 0);
    assert_eq!(own["by_community"].as_array().unwrap().len(), 4);
    let applicant = app.applicant("13900001111").await;
    app.get("/api/v1/reports/funnel", Some(&applicant))
        .await
        .expect(403);
}

#[tokio::test]
async fn bulk_households_go_through_the_same_rules_once() {
    let app = TestApp::spawn().await;
    let done = anju::demo::generate(&app.state, 2_500, false)
        .await
        .unwrap()
        .expect("first run generates");
    assert_eq!(done.invalid, 0, "the generator makes valid forms");
    assert_eq!(done.eligible + done.ineligible, 2_500);
    assert!(
        done.ineligible >= 2 * 2_500 / 20,
        "too-rich and home-owning households fail: {done:?}"
    );
    assert!(
        anju::demo::generate(&app.state, 2_500, false)
            .await
            .unwrap()
            .is_none(),
        "once per database"
    );
    assert_eq!(
        application::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        2_500
    );
    let numbers: std::collections::HashSet<String> = application::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|a| a.number)
        .collect();
    assert_eq!(numbers.len(), 2_500);
    assert_eq!(
        anju::lifecycle::counters::stored(&app.state.db)
            .await
            .unwrap(),
        anju::lifecycle::counters::recount(&app.state.db)
            .await
            .unwrap(),
        "bulk intake keeps the report counters in step"
    );
    assert!(numbers.contains("410104003-2026-002500") && numbers.contains("410104003-2026-000001"));
    let admin = app.admin().await;
    let r = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    let r = r.expect(200).clone();
    assert_eq!(stage(&r, "submitted"), 2_500);
    assert_eq!(stage(&r, "eligible") as u64, done.eligible);
    assert_eq!(outcome(&r, "ineligible") as u64, done.ineligible);
}

#[tokio::test]
async fn a_case_is_overdue_from_the_minute_its_deadline_passes() {
    use crate::fixtures::household;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
        .await;
    let applicant = app.applicant("13900002222").await;
    let receipt = app.file(&applicant, &household()).await;
    assert_eq!(receipt["status"], "eligible", "{receipt}");
    let today = anju::clock::local_date(app.clock.now());
    let policy = anju::eligibility::service::policy_in_force(
        &app.state.db,
        anju::applications::form::Programme::PublicRental,
        today,
    )
    .await
    .unwrap()
    .unwrap();
    let days = i64::from(policy.deadlines.acceptance_days);
    let overdue_now = async || {
        let sup = app.token("s@nanguan.test", crate::helpers::PASSWORD).await;
        let r = app.get("/api/v1/reports/funnel", Some(&sup)).await;
        r.expect(200)["overdue"][0]["count"].as_i64().unwrap()
    };
    app.clock
        .advance(chrono::Duration::days(days) - chrono::Duration::minutes(1));
    assert_eq!(overdue_now().await, 0, "a minute before the deadline");
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(overdue_now().await, 1, "a minute after the deadline");
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(overdue_now().await, 1, "a day after, from the counters");
    assert_eq!(
        overdue_agrees(&app, "s@nanguan.test", crate::helpers::PASSWORD).await,
        [1, 0]
    );
}

#[tokio::test]
async fn a_report_is_reused_for_the_same_scope_filters_and_minute_only() {
    use crate::fixtures::household;
    let app = TestApp::spawn_with(|s| s.report_cache_secs = 600).await;
    let admin = app.admin().await;
    let sup = app
        .staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
        .await;
    let submitted = |r: &Value| stage(r, "submitted");
    let before = app.get("/api/v1/reports/funnel", Some(&sup)).await;
    assert_eq!(submitted(before.expect(200)), 0);
    let applicant = app.applicant("13900003333").await;
    app.file(&applicant, &household()).await;
    let cached = app.get("/api/v1/reports/funnel", Some(&sup)).await;
    assert_eq!(
        submitted(cached.expect(200)),
        0,
        "same scope, filters and minute: the computed report is reused"
    );
    let other_filter = app
        .get("/api/v1/reports/funnel?programme=public_rental", Some(&sup))
        .await;
    assert_eq!(submitted(other_filter.expect(200)), 1);
    app.clock.advance(chrono::Duration::minutes(1));
    let next_minute = app.get("/api/v1/reports/funnel", Some(&sup)).await;
    assert_eq!(submitted(next_minute.expect(200)), 1);
    // Another caller's scope never reads this one's report.
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &["410104003-02"])
        .await;
    let theirs = app.get("/api/v1/reports/funnel", Some(&reviewer)).await;
    assert_eq!(submitted(theirs.expect(200)), 0, "the case is in -01");
}

/// Rows in the folded counter tables (the ones every submission used to update).
async fn folded_rows(app: &TestApp) -> u64 {
    app.count(entity::funnel_count::Entity).await
        + app.count(entity::funnel_duration::Entity).await
        + app.count(entity::status_count::Entity).await
}

#[tokio::test]
async fn a_submission_appends_counter_deltas_and_the_report_counts_them_before_and_after_the_fold()
{
    use anju::lifecycle::counters;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let applicant = app.applicant("13900005555").await;
    app.file(&applicant, &crate::fixtures::household()).await;
    assert_eq!(
        folded_rows(&app).await,
        0,
        "a submission updates no shared counter row"
    );
    assert!(app.count(entity::counter_delta::Entity).await > 0);
    let before = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    let before = before.expect(200).clone();
    assert_eq!(stage(&before, "submitted"), 1, "{before}");
    assert_eq!(stage(&before, "eligible"), 1, "{before}");
    let as_of: chrono::DateTime<chrono::Utc> = before["as_of"].as_str().unwrap().parse().unwrap();
    assert_eq!(as_of, app.clock.now(), "the report says when it was read");

    let folded = counters::fold_all(&app.state.db).await.unwrap();
    assert!(folded > 0);
    assert_eq!(app.count(entity::counter_delta::Entity).await, 0);
    assert!(folded_rows(&app).await > 0);
    let after = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    let after = after.expect(200).clone();
    for key in [
        "stages",
        "outcomes",
        "overdue",
        "by_programme",
        "by_community",
    ] {
        assert_eq!(after[key], before[key], "{key} changed with the fold");
    }
    assert_eq!(
        counters::stored(&app.state.db).await.unwrap(),
        counters::recount(&app.state.db).await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn folds_racing_submissions_fold_every_delta_exactly_once() {
    use anju::lifecycle::counters;
    use std::sync::Arc;
    let app = Arc::new(TestApp::spawn().await);
    let mut applicants = Vec::new();
    for i in 0..24 {
        applicants.push(app.applicant(&format!("1390001{i:04}")).await);
    }
    let filing = applicants.into_iter().map(|token| {
        let app = app.clone();
        tokio::spawn(async move {
            app.file(&token, &crate::fixtures::household()).await;
        })
    });
    let filing: Vec<_> = filing.collect();
    // Two folders at once, as two instances would run them, while the cases are filed.
    let folders: Vec<_> = (0..2)
        .map(|_| {
            let db = app.state.db.clone();
            tokio::spawn(async move {
                let mut total = 0;
                for _ in 0..20 {
                    total += counters::fold(&db).await.unwrap();
                    tokio::task::yield_now().await;
                }
                total
            })
        })
        .collect();
    for f in filing {
        f.await.unwrap();
    }
    for f in folders {
        f.await.unwrap();
    }
    counters::fold_all(&app.state.db).await.unwrap();
    assert_eq!(app.count(entity::counter_delta::Entity).await, 0);
    assert_eq!(
        counters::stored(&app.state.db).await.unwrap(),
        counters::recount(&app.state.db).await.unwrap(),
        "a delta folded twice or lost shows here"
    );
    let admin = app.admin().await;
    let r = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    assert_eq!(stage(r.expect(200), "submitted"), 24);
}

#[tokio::test]
async fn the_fold_takes_its_deltas_as_one_range_whatever_the_statistics_say() {
    use anju::lifecycle::counters;
    use sea_orm::{DbBackend, Statement};
    let app = TestApp::spawn().await;
    let applicant = app.applicant("13900006666").await;
    app.file(&applicant, &crate::fixtures::household()).await;
    // The statistics of a folded, empty delta table (the demo's ANALYZE after its last
    // fold; no autovacuum), then deltas arriving.
    counters::fold_all(&app.state.db).await.unwrap();
    anju::db::analyze(&app.state.db).await.unwrap();
    let t = app.applicant("13900006667").await;
    app.file(
        &t,
        &crate::fixtures::single_household(&crate::fixtures::spouse_id()),
    )
    .await;
    let backend = app.state.db.get_database_backend();
    let explain = match backend {
        DbBackend::Postgres => "EXPLAIN",
        _ => "EXPLAIN QUERY PLAN",
    };
    let sql = format!("{explain} {}", counters::take_oldest_deltas());
    let plan: Vec<String> = app
        .state
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.try_get_by_index::<String>(match backend {
                DbBackend::Postgres => 0,
                _ => 3,
            })
            .unwrap()
        })
        .collect();
    let plan = plan.join("\n");
    // A semi-join compares each delta with each taken one: quadratic in the backlog.
    assert!(
        !plan.contains("Nested Loop") && !plan.contains("Join"),
        "the fold joins the deltas with themselves:\n{plan}"
    );
    if backend == DbBackend::Sqlite {
        assert!(plan.contains("rowid<"), "a range on the key:\n{plan}");
    }
    assert!(counters::fold(&app.state.db).await.unwrap() > 0);
    assert_eq!(app.count(entity::counter_delta::Entity).await, 0);
}
