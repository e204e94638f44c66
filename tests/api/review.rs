use std::sync::Arc;

use chrono::Duration;
use entity::{application_event, outbox_message};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::{TestApp, act, version};

/// A staff team for 惠工街社区.
struct Team {
    admin: String,
    reviewer: String,
    supervisor: String,
}

async fn team(app: &TestApp) -> Team {
    let admin = app.admin().await;
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let supervisor = app
        .staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
        .await;
    Team {
        admin,
        reviewer,
        supervisor,
    }
}

/// Files an eligible single-person case; returns its id.
async fn eligible_case(app: &TestApp, mobile: &str, seq: u32) -> i64 {
    let token = app.applicant(mobile).await;
    let r = app
        .file(
            &token,
            &single_household(&id_number("410104", "19800101", seq)),
        )
        .await;
    assert_eq!(r["status"], "eligible");
    r["application_id"].as_i64().unwrap()
}

async fn kinds(app: &TestApp, id: i64) -> Vec<String> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::ApplicationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect()
}

#[tokio::test]
async fn a_reviewer_works_a_case_from_eligible_to_ready_to_report() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let id = eligible_case(&app, "13800001111", 11).await;

    let queue = app
        .get("/api/v1/review/queue?status=eligible", Some(&t.reviewer))
        .await;
    let item = &queue.expect(200)["items"][0];
    assert_eq!(item["id"], id);
    assert_eq!(item["days_left"], 10);
    assert_eq!(item["overdue"], false);
    assert_eq!(
        item["applicant_id_number"]
            .as_str()
            .unwrap()
            .matches('*')
            .count(),
        10
    );

    let v = item["version"].as_i64().unwrap();
    let accepted = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await;
    let body = accepted.expect(200);
    assert_eq!(body["status"], "under_review");
    let me = app.get("/api/v1/auth/me", Some(&t.reviewer)).await.body["id"].clone();
    let mine = app
        .get(
            "/api/v1/review/queue?status=under_review&assigned=me",
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(mine.expect(200)["items"][0]["assigned_to"], me);

    let v = body["version"].as_i64().unwrap();
    let no_opinion = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v }),
    )
    .await;
    assert_eq!(
        no_opinion.expect(422).clone()["fields"][0]["field"],
        "comment"
    );
    let passed = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "入户核实，情况属实" }),
    )
    .await;
    let body = passed.expect(200);
    assert_eq!(body["status"], "passed_review");

    // The public notice shows masked data only.
    let notices = app.get("/api/v1/public/notices", None).await;
    assert_eq!(notices.expect(200)["total"], 1);
    let entry = &notices.body["items"][0];
    assert_eq!(entry["applicant_name"], "赵*身");
    assert!(
        entry["applicant_id_number"]
            .as_str()
            .unwrap()
            .contains("**********")
    );
    assert_eq!(entry["community"], "惠工街社区");
    assert!(
        !notices
            .body
            .to_string()
            .contains(&id_number("410104", "19800101", 11))
    );

    let closed = app
        .post(
            "/api/v1/review/notices/close-due",
            Some(&t.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(closed.expect(200)["moved"], 0, "the window is still open");
    app.clock.advance(Duration::days(10) + Duration::minutes(1));
    let closed = app
        .post(
            "/api/v1/review/notices/close-due",
            Some(&t.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(closed.expect(200)["moved"], 1);
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&t.reviewer))
        .await;
    assert_eq!(case.expect(200)["status"], "ready_to_report");
    let actions: Vec<&str> = case.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "submit",
            "pass_eligibility",
            "accept",
            "pass_review",
            "close_notice"
        ]
    );
    assert_eq!(
        kinds(&app, id).await,
        vec![
            "submission_receipt",
            "eligibility_result",
            "acceptance",
            "first_review_result",
            "notice_started"
        ]
    );
    let _ = t.admin;
}

#[tokio::test]
async fn a_correction_round_trip_lists_every_item_and_reruns_eligibility() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let applicant = app.applicant("13800001111").await;
    let r = app.file(&applicant, &household()).await;
    let id = r["application_id"].as_i64().unwrap();
    let v = version(&app, &t.reviewer, id).await;
    let v = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    let empty = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "request_correction", "version": v, "items": [] }),
    )
    .await;
    assert_eq!(empty.expect(422).clone()["fields"][0]["field"], "items");
    let items = json!([
        "补交户口簿复印件",
        "补交配偶收入证明",
        "住房面积与房产证不符"
    ]);
    let asked = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "request_correction", "version": v, "items": items }),
    )
    .await;
    assert_eq!(asked.expect(200)["status"], "needs_correction");

    let mail = outbox_message::Entity::find()
        .filter(outbox_message::Column::Kind.eq("correction_request"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    for item in items.as_array().unwrap() {
        assert!(mail.body_text.contains(item.as_str().unwrap()));
    }

    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&applicant))
        .await;
    let v = case.expect(200)["version"].as_i64().unwrap();
    // The programme and community stay what was submitted; nothing is written.
    let moved = app
        .patch(
            &applicant,
            &format!("/api/v1/applications/{id}"),
            v,
            &json!({ "community_code": crate::fixtures::OTHER_COMMUNITY, "programme": "low_rent" }),
        )
        .await;
    let fields: Vec<(String, String)> = moved.field_codes();
    assert_eq!(moved.status, 422);
    assert!(fields.contains(&("community_code".into(), "fixed_after_submission".into())));
    assert!(fields.contains(&("programme".into(), "fixed_after_submission".into())));
    assert_eq!(version(&app, &t.reviewer, id).await, v, "nothing written");
    app.patch(
        &applicant,
        &format!("/api/v1/applications/{id}"),
        v,
        &json!({ "documents": ["id_card", "hukou_book", "income_proof"], "community_code": crate::fixtures::COMMUNITY }),
    )
    .await
    .expect(200);
    let again = app.submit(&applicant, id, "resubmit-1", &json!({})).await;
    assert_eq!(again.expect(201)["status"], "eligible");
    assert_eq!(again.body["number"], r["number"], "the number stays");
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&applicant))
        .await;
    let actions: Vec<&str> = case.expect(200)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "submit",
            "pass_eligibility",
            "accept",
            "request_correction",
            "resubmit",
            "pass_eligibility"
        ]
    );
    assert_eq!(
        case.body["form"]["documents"],
        json!(["id_card", "hukou_book", "income_proof"])
    );
    assert_eq!(
        anju::lifecycle::counters::stored(&app.state.db)
            .await
            .unwrap(),
        anju::lifecycle::counters::recount(&app.state.db)
            .await
            .unwrap(),
        "a correction and resubmission keep the report counters in step"
    );
}

/// A case on public notice in a fresh office; its number.
pub async fn number_on_notice(app: &TestApp) -> String {
    let t = team(app).await;
    on_notice(app, &t, "13800009999", 91).await.1
}

async fn on_notice(app: &TestApp, t: &Team, mobile: &str, seq: u32) -> (i64, String) {
    let id = eligible_case(app, mobile, seq).await;
    let v = version(app, &t.reviewer, id).await;
    let v = act(
        app,
        &t.reviewer,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    let body = act(
        app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await;
    let number = body.expect(200)["number"].as_str().unwrap().to_string();
    (id, number)
}

#[tokio::test]
async fn an_upheld_objection_rejects_the_case_with_the_objection_as_reason() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let (id, number) = on_notice(&app, &t, "13800001111", 11).await;
    let path = format!("/api/v1/public/notices/{number}/objections");
    let bad = app
        .post(
            &path,
            None,
            &json!({ "name": " ", "contact": "12345", "content": "" }),
        )
        .await;
    bad.expect(422);
    let mut fields: Vec<String> = bad.field_codes().into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(fields, vec!["contact", "content", "name"]);
    let filed = app
        .post(&path, None, &json!({ "name": "钱邻居", "contact": "0371-6666 8888", "content": "申请人名下另有住房" }))
        .await;
    let oid = filed.expect(201)["id"].as_i64().unwrap();
    app.post(
        "/api/v1/public/notices/NO-SUCH/objections",
        None,
        &json!({ "name": "钱", "contact": "13900000000", "content": "x" }),
    )
    .await
    .expect(404);

    let list = app
        .get(
            &format!("/api/v1/applications/{id}/objections"),
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(list.expect(200)[0]["contact"], "037166668888");
    // An open objection holds the case on notice after the window ends.
    app.clock.advance(Duration::days(11));
    let closed = app
        .post(
            "/api/v1/review/notices/close-due",
            Some(&t.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(closed.expect(200)["moved"], 0);

    let v = version(&app, &t.reviewer, id).await;
    let upheld = act(&app, &t.reviewer, id, json!({
        "action": "uphold_objection", "version": v, "objection_id": oid, "comment": "经核查，申请人有房产",
    }))
    .await;
    let body = upheld.expect(200);
    assert_eq!(body["status"], "rejected");
    let last = body["events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["reason_code"], "objection_upheld");
    assert_eq!(last["comment"], "经核查，申请人有房产");
    let list = app
        .get(
            &format!("/api/v1/applications/{id}/objections"),
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(list.expect(200)[0]["status"], "upheld");
    assert!(
        kinds(&app, id)
            .await
            .ends_with(&["first_review_result".to_string()])
    );
}

#[tokio::test]
async fn a_dismissed_objection_lets_the_case_continue_and_objections_are_rate_limited() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let (id, number) = on_notice(&app, &t, "13800001111", 11).await;
    let path = format!("/api/v1/public/notices/{number}/objections");
    let mut last = None;
    for i in 0..5 {
        let a = app
            .post(
                &path,
                None,
                &json!({ "name": "孙", "contact": format!("1390000000{i}"), "content": "疑问" }),
            )
            .await;
        last = Some(a.expect(201)["id"].as_i64().unwrap());
    }
    let sixth = app
        .post(
            &path,
            None,
            &json!({ "name": "孙", "contact": "13900000009", "content": "疑问" }),
        )
        .await;
    assert_eq!(sixth.expect(429)["code"], "too_many_objections");
    let list = app
        .get(
            &format!("/api/v1/applications/{id}/objections"),
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 5);

    for o in list.body.as_array().unwrap() {
        let v = version(&app, &t.reviewer, id).await;
        act(&app, &t.reviewer, id, json!({ "action": "dismiss_objection", "version": v, "objection_id": o["id"], "comment": "查无此事" }))
            .await
            .expect(200);
    }
    let v = version(&app, &t.reviewer, id).await;
    let again = act(&app, &t.reviewer, id, json!({ "action": "dismiss_objection", "version": v, "objection_id": last, "comment": "x" })).await;
    assert_eq!(
        again.expect(422).clone()["fields"][0]["code"],
        "unknown_objection"
    );
    app.clock.advance(Duration::days(11));
    let closed = app
        .post(
            "/api/v1/review/notices/close-due",
            Some(&t.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(closed.expect(200)["moved"], 1);
    // After the window, nobody can object any more.
    app.post(
        &path,
        None,
        &json!({ "name": "孙", "contact": "13700000000", "content": "迟到" }),
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn a_hundred_racing_accepts_make_exactly_one_transition() {
    let app = Arc::new(TestApp::spawn().await);
    let t = team(&app).await;
    let second = app
        .staff(&t.admin, "reviewer", "r2@nanguan.test", &[COMMUNITY])
        .await;
    let id = eligible_case(&app, "13800001111", 11).await;
    let v = version(&app, &t.reviewer, id).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let app = app.clone();
        let token = if i % 2 == 0 {
            t.reviewer.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            act(
                &app,
                &token,
                id,
                json!({ "action": "accept", "version": v }),
            )
            .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        let a = task.await.unwrap();
        match a.status.as_u16() {
            200 => won += 1,
            409 => assert!(
                ["stale_version", "wrong_status"].contains(&a.body["code"].as_str().unwrap())
            ),
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!(won, 1);
    let accepts = application_event::Entity::find()
        .filter(application_event::Column::Action.eq("accept"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(accepts.len(), 1);
    assert_eq!(
        kinds(&app, id)
            .await
            .iter()
            .filter(|k| *k == "acceptance")
            .count(),
        1
    );
}

#[tokio::test]
async fn actions_are_refused_by_status_role_and_scope() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let elsewhere = app
        .staff(&t.admin, "reviewer", "x@nanguan.test", &[OTHER_COMMUNITY])
        .await;
    let bureau = app
        .staff(&t.admin, "bureau", "b@nanguan.test", &["410104"])
        .await;
    let applicant = app.applicant("13800001111").await;
    let r = app
        .file(
            &applicant,
            &single_household(&id_number("410104", "19800101", 11)),
        )
        .await;
    let id = r["application_id"].as_i64().unwrap();
    let v = version(&app, &t.reviewer, id).await;

    let wrong = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "x" }),
    )
    .await;
    assert_eq!(wrong.expect(409)["code"], "wrong_status");
    act(
        &app,
        &applicant,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(403);
    act(
        &app,
        &bureau,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(403);
    act(
        &app,
        &elsewhere,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(404);
    let stale = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "accept", "version": v - 1 }),
    )
    .await;
    assert_eq!(stale.expect(409)["code"], "stale_version");
    assert!(
        stale.body["message"]
            .as_str()
            .unwrap()
            .contains(&v.to_string()),
        "409 names the current version"
    );
    let reject = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "reject", "version": v }),
    )
    .await;
    reject.expect(422);
    let unknown = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "reject", "version": v, "comment": "x", "reason_code": "dislike" }),
    )
    .await;
    assert_eq!(
        unknown.expect(422).clone()["fields"][0]["code"],
        "unknown_reason"
    );
    let system = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "close_notice", "version": v }),
    )
    .await;
    system.expect(409);
    // None of that changed the case.
    assert_eq!(version(&app, &t.reviewer, id).await, v);
    let rejected = act(&app, &t.reviewer, id, json!({ "action": "reject", "version": v, "comment": "查实有房", "reason_code": "owns_housing" })).await;
    assert_eq!(rejected.expect(200)["status"], "rejected");
    let codes = app
        .get("/api/v1/review/reason-codes", Some(&t.reviewer))
        .await;
    assert!(
        codes
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "objection_upheld")
    );
}

#[tokio::test]
async fn warnings_and_duplicate_flags_must_be_resolved_before_passing() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let a = app.applicant("13800001111").await;
    let b = app.applicant("13800002222").await;
    let mut form = household();
    set(&mut form, "members[1].annual_income_fen", json!(0)); // a warning
    let first = app.file(&a, &form).await;
    app.file(&b, &single_household(&spouse_id())).await; // the spouse again: a duplicate
    let id = first["application_id"].as_i64().unwrap();

    let flagged = app
        .get(
            "/api/v1/review/queue?status=eligible&flagged_duplicate=true&has_warnings=true",
            Some(&t.reviewer),
        )
        .await;
    let ids: Vec<i64> = flagged.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![id]);

    let v = version(&app, &t.reviewer, id).await;
    let v = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    let blocked = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await;
    assert_eq!(blocked.expect(409)["code"], "unresolved_flags");

    let v = act(&app, &t.reviewer, id, json!({ "action": "confirm_warnings", "version": v, "resolution": "confirmed", "comment": "配偶全职照顾老人" }))
        .await
        .expect(200)["version"]
        .as_i64()
        .unwrap();
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&t.reviewer))
        .await;
    let flag_id = case.expect(200)["duplicates"][0]["id"]
        .as_i64()
        .expect("flag id");
    let still = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await;
    assert_eq!(still.expect(409)["code"], "unresolved_flags");
    let v = act(&app, &t.reviewer, id, json!({
        "action": "resolve_duplicate", "version": v, "flag_id": flag_id, "resolution": "not_duplicate", "comment": "配偶单独申请已撤回",
    }))
    .await
    .expect(200)["version"]
    .as_i64()
    .unwrap();
    let passed = act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await;
    assert_eq!(passed.expect(200)["status"], "passed_review");
    let dup = &passed.body["duplicates"][0];
    assert_eq!(dup["resolution"], "not_duplicate");
}

#[tokio::test]
async fn a_staff_member_cannot_act_on_their_own_household() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.post("/api/v1/admin/users", Some(&admin), &json!({
        "role": "reviewer", "display_name": "王审核", "email": "wang@nanguan.test", "password": crate::helpers::PASSWORD,
        "places": [COMMUNITY], "id_number": APPLICANT_ID,
    }))
    .await
    .expect(201);
    let own = app
        .token("wang@nanguan.test", crate::helpers::PASSWORD)
        .await;
    let applicant = app.applicant("13800001111").await;
    let r = app.file(&applicant, &household()).await;
    let id = r["application_id"].as_i64().unwrap();
    // Their own household's case does not exist for them (see `security` for reads).
    let refused = act(&app, &own, id, json!({ "action": "accept", "version": 2 })).await;
    assert_eq!(refused.expect(404)["code"], "not_found");
}

#[tokio::test]
async fn the_audit_trail_records_every_action_and_every_staff_view() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let id = eligible_case(&app, "13800001111", 11).await;
    app.get(&format!("/api/v1/applications/{id}"), Some(&t.reviewer))
        .await
        .expect(200);
    app.get(&format!("/api/v1/applications/{id}"), Some(&t.supervisor))
        .await
        .expect(200);
    let audit = app
        .get(
            &format!("/api/v1/applications/{id}/audit"),
            Some(&t.supervisor),
        )
        .await;
    let body = audit.expect(200);
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    let viewers: Vec<i64> = body["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(viewers.len(), 2);
    assert_ne!(viewers[0], viewers[1]);
    let applicant = app.applicant("13900009999").await;
    app.get(
        &format!("/api/v1/applications/{id}/audit"),
        Some(&applicant),
    )
    .await
    .expect(403);
}

#[tokio::test]
async fn a_bulk_accept_reports_per_case_and_one_bad_case_undoes_nothing() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let a = eligible_case(&app, "13800001111", 11).await;
    let b = eligible_case(&app, "13800002222", 13).await;
    let c = eligible_case(&app, "13800003333", 15).await;
    let va = version(&app, &t.reviewer, a).await;
    let vb = version(&app, &t.reviewer, b).await;
    let vc = version(&app, &t.reviewer, c).await;
    let bulk = app
        .post("/api/v1/review/bulk", Some(&t.reviewer), &json!({
            "action": "accept",
            "items": [{ "id": a, "version": va }, { "id": b, "version": vb - 1 }, { "id": c, "version": vc }],
        }))
        .await;
    let body = bulk.expect(200);
    assert_eq!(body["succeeded"], 2);
    assert_eq!(body["failed"], 1);
    assert_eq!(body["results"][1]["error_code"], "stale_version");
    assert_eq!(body["results"][0]["status"], "under_review");
    let case_b = app
        .get(&format!("/api/v1/applications/{b}"), Some(&t.reviewer))
        .await;
    assert_eq!(case_b.expect(200)["status"], "eligible");
    let case_c = app
        .get(&format!("/api/v1/applications/{c}"), Some(&t.reviewer))
        .await;
    assert_eq!(case_c.expect(200)["status"], "under_review");
    app.post(
        "/api/v1/review/bulk",
        Some(&t.reviewer),
        &json!({ "action": "withdraw", "items": [{ "id": a, "version": 1 }] }),
    )
    .await
    .expect(422);
}

#[tokio::test]
async fn queue_pages_stay_correct_while_cases_move_and_deadlines_show() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let mut ids = Vec::new();
    for i in 0..5u32 {
        ids.push(eligible_case(&app, &format!("1380000{:04}", i), 11 + 2 * i).await);
        app.clock.advance(Duration::hours(1));
    }
    let first = app
        .get(
            "/api/v1/review/queue?status=eligible&limit=2",
            Some(&t.reviewer),
        )
        .await;
    let page: Vec<i64> = first.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, ids[..2]);
    // A case on the first page moves on before the next page is read.
    let v = version(&app, &t.reviewer, ids[0]).await;
    act(
        &app,
        &t.reviewer,
        ids[0],
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let mut seen = page.clone();
    let mut cursor = Some(cursor);
    while let Some(c) = cursor {
        let next = app
            .get(
                &format!("/api/v1/review/queue?status=eligible&limit=2&cursor={c}"),
                Some(&t.reviewer),
            )
            .await;
        let body = next.expect(200);
        seen.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap()),
        );
        cursor = body["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen, ids, "every case once, none skipped, none twice");
    app.get(
        "/api/v1/review/queue?status=eligible&cursor=garbage",
        Some(&t.reviewer),
    )
    .await
    .expect(422);

    app.clock.advance(Duration::days(10) - Duration::hours(2));
    let late = app
        .get(
            "/api/v1/review/queue?status=eligible&overdue=true",
            Some(&t.reviewer),
        )
        .await;
    let late_ids: Vec<i64> = late.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(late_ids, ids[1..3], "cases waiting more than 10 days");
    assert!(late.body["items"][0]["days_left"].as_i64().unwrap() < 0);
    let on_time = app
        .get(
            "/api/v1/review/queue?status=eligible&overdue=false",
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(on_time.expect(200)["items"].as_array().unwrap().len(), 2);
    let unassigned = app
        .get(
            "/api/v1/review/queue?status=under_review&assigned=unassigned",
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(unassigned.expect(200)["items"], json!([]));
    let applicant = app.applicant("13900009999").await;
    app.get("/api/v1/review/queue", Some(&applicant))
        .await
        .expect(403);
}

#[tokio::test]
async fn a_supervisor_assigns_and_another_reviewer_cannot_claim() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let other = app
        .staff(&t.admin, "reviewer", "r2@nanguan.test", &[COMMUNITY])
        .await;
    let outsider = app
        .staff(&t.admin, "reviewer", "r3@nanguan.test", &[OTHER_COMMUNITY])
        .await;
    let reviewer_id = app.get("/api/v1/auth/me", Some(&t.reviewer)).await.body["id"]
        .as_i64()
        .unwrap();
    let outsider_id = app.get("/api/v1/auth/me", Some(&outsider)).await.body["id"]
        .as_i64()
        .unwrap();
    let id = eligible_case(&app, "13800001111", 11).await;
    let v = version(&app, &t.supervisor, id).await;
    let wrong = act(
        &app,
        &t.supervisor,
        id,
        json!({ "action": "assign", "version": v, "assignee_id": outsider_id }),
    )
    .await;
    assert_eq!(
        wrong.expect(422).clone()["fields"][0]["code"],
        "not_a_reviewer_here"
    );
    let v = act(
        &app,
        &t.supervisor,
        id,
        json!({ "action": "assign", "version": v, "assignee_id": reviewer_id }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    let claim = act(&app, &other, id, json!({ "action": "claim", "version": v })).await;
    assert_eq!(claim.expect(409)["code"], "already_assigned");
    act(
        &app,
        &t.reviewer,
        id,
        json!({ "action": "claim", "version": v }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_notice_list_pages_by_cursor_with_a_total_and_finds_a_case_by_number() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let mut numbers = Vec::new();
    for i in 0..5u32 {
        let (_, number) = on_notice(&app, &t, &format!("1380000200{i}"), 40 + 2 * i).await;
        numbers.push(number);
        app.clock.advance(Duration::minutes(1));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..3 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/public/notices?limit=2&cursor={c}"),
            None => "/api/v1/public/notices?limit=2".to_string(),
        };
        let a = app.get(&path, None).await;
        let body = a.expect(200).clone();
        assert_eq!(body["total"], 5, "page {page}");
        for item in body["items"].as_array().unwrap() {
            seen.push(item["number"].as_str().unwrap().to_string());
        }
        cursor = body["next_cursor"].as_str().map(str::to_string);
        if page < 2 {
            assert!(cursor.is_some(), "page {page} has a next page");
        }
    }
    assert!(cursor.is_none(), "the third page is the last");
    assert_eq!(seen, numbers, "every case once, soonest ending first");

    let one = app
        .get(
            &format!("/api/v1/public/notices?number={}", numbers[3]),
            None,
        )
        .await;
    assert_eq!(one.expect(200)["total"], 1);
    assert_eq!(one.body["items"][0]["number"], numbers[3].as_str());
    let bad = app
        .get("/api/v1/public/notices?cursor=not-a-cursor", None)
        .await;
    assert_eq!(bad.expect(422).clone()["fields"][0]["field"], "cursor");
}

#[tokio::test]
async fn the_same_objection_twice_is_stored_once() {
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let (id, number) = on_notice(&app, &t, "13800001111", 11).await;
    let path = format!("/api/v1/public/notices/{number}/objections");
    let body = json!({ "name": "孙", "contact": "13900000001", "content": "疑问" });
    let first = app.post(&path, None, &body).await;
    let again = app.post(&path, None, &body).await;
    assert_eq!(first.expect(201)["id"], again.expect(201)["id"]);
    let list = app
        .get(
            &format!("/api/v1/applications/{id}/objections"),
            Some(&t.reviewer),
        )
        .await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    let events = application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(id))
        .filter(application_event::Column::Action.eq("file_objection"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "one event for one objection");
}

#[tokio::test]
async fn a_reviewers_queue_page_and_case_detail_take_few_statements() {
    let (app, log) = TestApp::spawn_recording().await;
    let t = team(&app).await;
    let id = eligible_case(&app, "13800001119", 19).await;
    let queue = "/api/v1/review/queue?status=eligible&limit=20";
    let detail = format!("/api/v1/applications/{id}");
    // A first round warms the caches (places, policies) as a running service has.
    app.get(queue, Some(&t.reviewer)).await.expect(200);
    let statements = |path: String| {
        let (app, log, token) = (&app, log.clone(), t.reviewer.clone());
        async move {
            log.lock().unwrap().clear();
            let page = app.get(&path, Some(&token)).await;
            page.expect(200);
            (page.body, log.lock().unwrap().clone())
        }
    };
    // The session with its user (and the scope it carries), then the page.
    let (page, sql) = statements(queue.to_string()).await;
    assert_eq!(page["items"][0]["id"], id);
    assert_eq!(sql.len(), 2, "{}", sql.join("\n"));
    assert!(sql[0].contains(r#"FROM "session_token""#), "{}", sql[0]);
    // The session, the case, its events, duplicate flags (none: the other cases are not
    // looked up) and decision; and the view put on record.
    let (case, sql) = statements(detail.clone()).await;
    assert_eq!(case["id"], id);
    let selects = sql.iter().filter(|s| s.starts_with("SELECT")).count();
    assert_eq!(selects, 5, "{}", sql.join("\n"));
    assert!(
        !sql.iter().any(|s| s.contains("staff_scope")),
        "{}",
        sql.join("\n")
    );
    let recorded = sql
        .iter()
        .filter(|s| s.starts_with(r#"INSERT INTO "case_access""#))
        .count();
    assert_eq!(recorded, 1);
    let views = entity::case_access::Entity::find()
        .filter(entity::case_access::Column::ApplicationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        views.len(),
        1,
        "the view is on record before it is answered"
    );
    assert_eq!(views[0].what, "detail");
    // A session opened before sessions carried their scope reads it, and sees the same.
    entity::session_token::Entity::update_many()
        .col_expr(
            entity::session_token::Column::Scope,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let (page, sql) = statements(queue.to_string()).await;
    assert_eq!(page["items"][0]["id"], id);
    assert!(sql.iter().any(|s| s.contains(r#"FROM "staff_scope""#)));
}

#[tokio::test]
async fn the_queue_shows_the_applicant_masked_from_the_case_and_older_cases_get_it_from_their_form()
{
    use migration::MigratorTrait;
    let app = TestApp::spawn().await;
    let t = team(&app).await;
    let id = eligible_case(&app, "13800001129", 29).await;
    let expected = id_number("410104", "19800101", 29);
    let masked = format!("{}**********{}", &expected[..4], &expected[14..]);
    let queue = "/api/v1/review/queue?status=eligible";
    let page = app.get(queue, Some(&t.reviewer)).await;
    let item = page.expect(200)["items"][0].clone();
    assert_eq!(item["id"], id);
    assert_eq!(item["applicant_id_number"], masked.as_str());
    assert!(
        !page.body.to_string().contains(&expected),
        "never the whole number"
    );
    // A database from before the column: taking the migrations back to before it and
    // applying them again fills the column from each case's form.
    let all = migration::Migrator::migrations();
    let at = all
        .iter()
        .position(|m| m.name() == "m20261202_000014_applicant_masked")
        .unwrap();
    let back = u32::try_from(all.len() - at).unwrap();
    migration::Migrator::down(&app.state.db, Some(back))
        .await
        .unwrap();
    migration::Migrator::up(&app.state.db, None).await.unwrap();
    let case = entity::application::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.applicant_id_masked.as_deref(), Some(masked.as_str()));
    let again = app.get(queue, Some(&t.reviewer)).await;
    assert_eq!(again.expect(200)["items"][0], item);
}
