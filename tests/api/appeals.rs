//! 复核 (reconsideration) of refusals, counted in working days on the calendar, and the
//! calendar itself.

use chrono::{TimeZone, Utc};
use entity::{application_event, outbox_message};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::batches::office;
use crate::fixtures::{COMMUNITY, id_number, set, single_household};
use crate::helpers::{TestApp, act, outcome, version};

async fn kinds(app: &TestApp, id: i64) -> Vec<(String, String)> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::ApplicationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, m.body_text))
        .collect()
}

async fn appeal_events(app: &TestApp, id: i64) -> usize {
    application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action.as_str().starts_with("appeal_"))
        .count()
}

async fn appeal(app: &TestApp, token: &str, id: i64, body: Value) -> crate::helpers::Answer {
    app.post(
        &format!("/api/v1/applications/{id}/appeal"),
        Some(token),
        &body,
    )
    .await
}

#[tokio::test]
async fn an_eligibility_refusal_appealed_before_the_spring_festival_is_due_in_working_days_and_overturned()
 {
    // Friday 13 February 2026, 10:00 in Zhengzhou: the festival runs 15-23 February, with
    // Saturdays 14 and 28 February worked instead.
    let app = TestApp::spawn_at(Utc.with_ymd_and_hms(2026, 2, 13, 2, 0, 0).unwrap(), |_| {}).await;
    let o = office(&app).await;
    let family = app.applicant("13900001111").await;
    let mut form = single_household(&id_number("410104", "19800101", 1));
    set(&mut form, "members[0].annual_income_fen", json!(90_000_000));
    let r = app.file(&family, &form).await;
    assert_eq!(r["status"], "ineligible");
    let id = r["application_id"].as_i64().unwrap();
    let v = version(&app, &family, id).await;

    let empty = appeal(&app, &family, id, json!({ "version": v, "reasons": "  " })).await;
    assert_eq!(empty.status, 422);
    assert!(
        empty.field_codes().iter().any(|(f, _)| f == "reasons"),
        "{:?}",
        empty.body
    );
    let stranger = app.applicant("13900002222").await;
    let other = appeal(&app, &stranger, id, json!({ "version": v, "reasons": "x" })).await;
    assert_eq!(other.status, 404);
    assert_eq!(
        appeal_events(&app, id).await,
        0,
        "nothing written by refused appeals"
    );

    let filed = appeal(
        &app,
        &family,
        id,
        json!({ "version": v, "reasons": "收入按月计算有误", "corrected_facts": "年收入为 30,000 元" }),
    )
    .await;
    let body = filed.expect(201);
    assert_eq!(body["answer_due_on"], "2026-03-12", "{body}");
    assert_eq!(body["working_days"], 15);
    assert_eq!(body["calendar_complete"], true);
    assert_eq!(body["application"]["status"], "appeal_eligibility");
    assert_eq!(body["application"]["appeal_due_on"], "2026-03-12");
    let sent = kinds(&app, id).await;
    let received = sent
        .iter()
        .find(|(k, _)| k == "appeal_received")
        .expect("a confirmation");
    assert!(received.1.contains("2026-03-12"), "{}", received.1);

    // The household cannot answer its own appeal; a reviewer overturns it.
    let v = version(&app, &o.reviewer, id).await;
    let own = act(
        &app,
        &family,
        id,
        json!({ "action": "overturn_appeal", "version": v, "comment": "x" }),
    )
    .await;
    assert_eq!(own.status, 403);
    let done = act(
        &app,
        &o.reviewer,
        id,
        json!({ "action": "overturn_appeal", "version": v, "comment": "核实收入证明后符合条件" }),
    )
    .await;
    let case = done.expect(200);
    assert_eq!(case["status"], "eligible");
    assert!(case.get("appeal_due_on").is_none(), "{case}");
    let sent = kinds(&app, id).await;
    assert!(
        sent.iter()
            .any(|(k, t)| k == "appeal_answered" && t.contains("撤销原决定")),
        "{sent:?}"
    );

    let report = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    let report = report.expect(200);
    assert_eq!(outcome(report, "appealed"), 1);
    assert_eq!(outcome(report, "appeal_overturned"), 1);
    assert_eq!(outcome(report, "appeal_upheld"), 0);
}

#[tokio::test]
async fn a_rejection_is_answered_by_another_reviewer_once_and_only_within_the_window() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let second = app
        .staff(&o.admin, "reviewer", "r2@nanguan.test", &[COMMUNITY])
        .await;
    let rejected = |seq: u32, mobile: &'static str| {
        let (app, o) = (&app, &o);
        async move {
            let t = app.applicant(mobile).await;
            let r = app
                .file(&t, &single_household(&id_number("410104", "19800101", seq)))
                .await;
            let id = r["application_id"].as_i64().unwrap();
            let v = version(app, &o.reviewer, id).await;
            let v = act(
                app,
                &o.reviewer,
                id,
                json!({ "action": "accept", "version": v }),
            )
            .await
            .expect(200)["version"]
                .as_i64()
                .unwrap();
            act(
                app,
                &o.reviewer,
                id,
                json!({ "action": "reject", "version": v, "reason_code": "home_visit_failed", "comment": "入户调查与申报不符" }),
            )
            .await
            .expect(200);
            (id, t)
        }
    };
    let (id, family) = rejected(1, "13900003333").await;
    let v = version(&app, &family, id).await;
    let filed = appeal(
        &app,
        &family,
        id,
        json!({ "version": v, "reasons": "调查当天家中无人" }),
    )
    .await;
    let body = filed.expect(201);
    // Monday 2 November 2026 + 15 working days, no holiday between.
    assert_eq!(body["answer_due_on"], "2026-11-23");
    assert_eq!(body["application"]["status"], "appeal_review");

    // The queue and the funnel show the appeal as overdue once its day has passed.
    let overdue = "/api/v1/review/queue?status=appeal_review&overdue=true";
    let q = app.get(overdue, Some(&second)).await;
    assert_eq!(
        q.expect(200)["items"].as_array().unwrap().len(),
        0,
        "{}",
        q.body
    );
    app.clock.advance(chrono::Duration::days(22)); // Tuesday 24 November
    let q = app.get(overdue, Some(&second)).await;
    assert_eq!(q.expect(200)["items"][0]["id"], id, "{}", q.body);
    let report = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    let late: Vec<Value> = report.expect(200)["overdue"].as_array().unwrap().clone();
    assert!(
        late.iter()
            .any(|l| l["before_stage"] == "appeal_answered" && l["count"] == 1),
        "{late:?}"
    );

    let v = version(&app, &o.reviewer, id).await;
    let same = act(&app, &o.reviewer, id, json!({ "action": "uphold_appeal", "version": v, "reason_code": "home_visit_failed", "comment": "维持" })).await;
    assert_eq!(same.status, 409);
    assert_eq!(same.body["code"], "refused_by_you");
    let no_reason = act(
        &app,
        &second,
        id,
        json!({ "action": "uphold_appeal", "version": v, "comment": "维持" }),
    )
    .await;
    assert_eq!(no_reason.status, 422);
    let upheld = act(
        &app,
        &second,
        id,
        json!({ "action": "uphold_appeal", "version": v, "reason_code": "home_visit_failed", "comment": "复查仍不符" }),
    )
    .await;
    assert_eq!(upheld.expect(200)["status"], "rejected");
    assert!(
        kinds(&app, id)
            .await
            .iter()
            .any(|(k, t)| k == "appeal_answered" && t.contains("维持原决定"))
    );

    let v = version(&app, &family, id).await;
    let again = appeal(
        &app,
        &family,
        id,
        json!({ "version": v, "reasons": "再次申请" }),
    )
    .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["code"], "already_appealed");
    assert_eq!(appeal_events(&app, id).await, 1);

    // Another rejection, and a household that waits four weeks: the 15 working days
    // have passed (24 November + 28 days; the window ended on 15 December).
    let (late_id, late_family) = rejected(3, "13900004444").await;
    app.clock.advance(chrono::Duration::days(28));
    let v = version(&app, &late_family, late_id).await;
    let late = appeal(
        &app,
        &late_family,
        late_id,
        json!({ "version": v, "reasons": "迟到的复核" }),
    )
    .await;
    assert_eq!(late.status, 409);
    assert_eq!(late.body["code"], "appeal_window_closed");
    assert!(
        late.body["message"]
            .as_str()
            .unwrap()
            .contains("2026-12-15"),
        "{}",
        late.body
    );
    assert_eq!(appeal_events(&app, late_id).await, 0);
}

#[tokio::test]
async fn the_calendar_is_read_by_anyone_and_edited_by_the_admin_only() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let y2026 = app.get("/api/v1/calendar/2026", None).await;
    let y2026 = y2026.expect(200);
    assert_eq!(y2026["entered"], true);
    let days = y2026["days"].as_array().unwrap();
    assert!(
        days.iter()
            .any(|d| d["day"] == "2026-02-14" && d["kind"] == "workday")
    );
    assert_eq!(
        days.iter()
            .filter(|d| d["kind"] == "holiday" && d["name"] == "春节")
            .count(),
        9
    );
    let y2027 = app.get("/api/v1/calendar/2027", None).await;
    assert_eq!(y2027.expect(200)["entered"], false);

    let body = json!({ "kind": "holiday", "name": "元旦" });
    let by_reviewer = app
        .send_json(
            "PUT",
            "/api/v1/admin/calendar/2027-01-01",
            Some(&o.reviewer),
            &body,
        )
        .await;
    assert_eq!(by_reviewer.status, 403);
    let bad = app
        .send_json(
            "PUT",
            "/api/v1/admin/calendar/2027-01-01",
            Some(&o.admin),
            &json!({ "kind": "party", "name": "" }),
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.status);
    assert_eq!(
        app.get("/api/v1/calendar/2027", None).await.expect(200)["entered"],
        false
    );
    app.send_json(
        "PUT",
        "/api/v1/admin/calendar/2027-01-01",
        Some(&o.admin),
        &body,
    )
    .await
    .expect(200);
    let y2027 = app.get("/api/v1/calendar/2027", None).await;
    assert_eq!(y2027.expect(200)["days"][0]["name"], "元旦");
    let del = app
        .send_json(
            "DELETE",
            "/api/v1/admin/calendar/2027-01-01",
            Some(&o.admin),
            &Value::Null,
        )
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(
        app.get("/api/v1/calendar/2027", None).await.expect(200)["entered"],
        false
    );
}

#[tokio::test]
async fn the_bureau_answers_an_appeal_against_its_own_refusal_and_an_overturned_case_goes_to_the_next_batch()
 {
    use crate::batches::{new_batch, ready_cases, seal_submit_ack};
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 1, 21).await;
    let batch = new_batch(&app, &o, &ids).await;
    seal_submit_ack(&app, &o, batch).await;
    let id = ids[0];
    app.post(
        &format!("/api/v1/batches/{batch}/decisions"),
        Some(&o.bureau),
        &json!({ "items": [{ "application_id": id, "decision": "reject", "reason_code": "owns_housing", "comment": "房产查询有登记" }] }),
    )
    .await
    .expect(200);
    let family = app.token("13700000021", crate::helpers::PASSWORD).await;
    let v = version(&app, &family, id).await;
    let filed = appeal(
        &app,
        &family,
        id,
        json!({ "version": v, "reasons": "该房产已于2025年出售" }),
    )
    .await;
    assert_eq!(filed.expect(201)["application"]["status"], "appeal_bureau");
    let v = version(&app, &o.reviewer, id).await;
    let by_reviewer = act(
        &app,
        &o.reviewer,
        id,
        json!({ "action": "overturn_appeal", "version": v, "comment": "x" }),
    )
    .await;
    assert_eq!(
        by_reviewer.status, 403,
        "the bureau answers for its own refusal"
    );
    let done = act(
        &app,
        &o.bureau,
        id,
        json!({ "action": "overturn_appeal", "version": v, "comment": "已核实出售合同" }),
    )
    .await;
    assert_eq!(done.expect(200)["status"], "ready_to_report");
    // It can go up again in a new batch.
    let next = new_batch(&app, &o, &[id]).await;
    assert_ne!(next, batch);
}
