use entity::application;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use crate::helpers::TestApp;

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

fn outcome(report: &Value, name: &str) -> i64 {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["outcome"] == name)
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
    assert_eq!(
        stage(&r, "approved"),
        count_status(&app, "waitlisted").await
    );
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
            + count_status(&app, "returned").await
            + bureau_rejected,
        "every reported case is still reported, waitlisted, returned or rejected by the bureau"
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
    assert!(text.contains("符合条件,eligible,367"), "{text}");

    // Running it again changes nothing.
    assert!(
        !anju::demo::run(&app.state, &app.clock, false)
            .await
            .unwrap()
    );
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
    assert!(numbers.contains("410104003-2026-002500") && numbers.contains("410104003-2026-000001"));
    let admin = app.admin().await;
    let r = app.get("/api/v1/reports/funnel", Some(&admin)).await;
    let r = r.expect(200).clone();
    assert_eq!(stage(&r, "submitted"), 2_500);
    assert_eq!(stage(&r, "eligible") as u64, done.eligible);
    assert_eq!(outcome(&r, "ineligible") as u64, done.ineligible);
}
