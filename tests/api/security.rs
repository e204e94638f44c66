//! Staff overreach and the smaller abuses: an online draft is the applicant's alone, staff
//! submit only what they entered, a staff member's own household is invisible to them, and
//! nobody keeps thousands of drafts.

use serde_json::json;

use crate::fixtures::*;
use crate::helpers::{PASSWORD, TestApp, act, version};

struct Staff {
    reviewer: String,
    other_reviewer: String,
    supervisor: String,
}

async fn staff(app: &TestApp) -> Staff {
    let admin = app.admin().await;
    Staff {
        reviewer: app
            .staff(&admin, "reviewer", "r1@nanguan.test", &[COMMUNITY])
            .await,
        other_reviewer: app
            .staff(&admin, "reviewer", "r2@nanguan.test", &[COMMUNITY])
            .await,
        supervisor: app
            .staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
            .await,
    }
}

#[tokio::test]
async fn an_online_draft_belongs_to_the_applicant_alone() {
    let app = TestApp::spawn().await;
    let s = staff(&app).await;
    let applicant = app.applicant("13800001111").await;
    let (id, v) = app.draft(&applicant, &household()).await;
    for token in [&s.reviewer, &s.supervisor] {
        let path = format!("/api/v1/applications/{id}");
        app.get(&path, Some(token)).await.expect(404);
        let del = app
            .client
            .delete(&path)
            .header("Authorization", format!("Bearer {token}"))
            .header("If-Match", v.to_string())
            .send()
            .await;
        assert_eq!(del.0.status(), 404);
        app.submit(token, id, "staff-submit", &json!({}))
            .await
            .expect(404);
        let list = app.get("/api/v1/applications", Some(token)).await;
        assert!(
            list.expect(200)["items"].as_array().unwrap().is_empty(),
            "{}",
            list.body
        );
    }
    // Untouched: still the applicant's draft, no event.
    let mine = app
        .get(&format!("/api/v1/applications/{id}"), Some(&applicant))
        .await;
    assert_eq!(mine.expect(200)["status"], "draft");
    assert_eq!(app.count(entity::application_event::Entity).await, 0);
}

#[tokio::test]
async fn staff_submit_only_the_counter_applications_they_entered() {
    let app = TestApp::spawn().await;
    let s = staff(&app).await;
    let (id, _) = app.draft(&s.reviewer, &household()).await;
    app.get(
        &format!("/api/v1/applications/{id}"),
        Some(&s.other_reviewer),
    )
    .await
    .expect(404);
    app.submit(&s.other_reviewer, id, "k", &json!({}))
        .await
        .expect(404);
    app.submit(&s.reviewer, id, "k", &json!({}))
        .await
        .expect(201);

    // A case returned for correction is resubmitted by whoever filed it, not by staff.
    let applicant = app.applicant("13800002222").await;
    let filed = app.file(&applicant, &single_household(&spouse_id())).await;
    let case = filed["application_id"].as_i64().unwrap();
    let v = version(&app, &s.reviewer, case).await;
    let v = act(
        &app,
        &s.reviewer,
        case,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    act(
        &app,
        &s.reviewer,
        case,
        json!({ "action": "request_correction", "version": v, "items": ["收入证明"] }),
    )
    .await
    .expect(200);
    let refused = app.submit(&s.reviewer, case, "resubmit", &json!({})).await;
    assert_eq!(refused.expect(403)["code"], "forbidden");
    app.submit(&applicant, case, "resubmit", &json!({}))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_reviewer_can_neither_read_nor_act_on_their_own_household() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.post("/api/v1/admin/users", Some(&admin), &json!({
        "role": "reviewer", "display_name": "王审核", "email": "wang@nanguan.test", "password": PASSWORD,
        "places": [COMMUNITY], "id_number": APPLICANT_ID,
    }))
    .await
    .expect(201);
    let own = app.token("wang@nanguan.test", PASSWORD).await;
    let colleague = app
        .staff(&admin, "reviewer", "li@nanguan.test", &[COMMUNITY])
        .await;
    let applicant = app.applicant("13800001111").await;
    let r = app.file(&applicant, &household()).await;
    let id = r["application_id"].as_i64().unwrap();
    let path = format!("/api/v1/applications/{id}");
    app.get(&path, Some(&own)).await.expect(404);
    app.get(&format!("{path}/audit"), Some(&own))
        .await
        .expect(404);
    let v = version(&app, &colleague, id).await;
    act(&app, &own, id, json!({ "action": "accept", "version": v }))
        .await
        .expect(404);
    assert_eq!(version(&app, &colleague, id).await, v, "nothing changed");
    let queue = app
        .get("/api/v1/review/queue?status=eligible", Some(&own))
        .await;
    assert!(queue.expect(200)["items"].as_array().unwrap().is_empty());
    let list = app.get("/api/v1/applications", Some(&own)).await;
    assert!(list.expect(200)["items"].as_array().unwrap().is_empty());
    // The colleague sees it as usual.
    let theirs = app
        .get("/api/v1/review/queue?status=eligible", Some(&colleague))
        .await;
    assert_eq!(theirs.expect(200)["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_account_keeps_at_most_twenty_open_drafts() {
    let app = TestApp::spawn().await;
    let applicant = app.applicant("13800001111").await;
    for _ in 0..20 {
        app.draft(&applicant, &json!({ "programme": "low_rent" }))
            .await;
    }
    let refused = app
        .post(
            "/api/v1/applications",
            Some(&applicant),
            &json!({ "programme": "low_rent" }),
        )
        .await;
    assert_eq!(refused.expect(409)["code"], "too_many_drafts");
    assert_eq!(app.count(entity::application::Entity).await, 20);
}

#[tokio::test]
async fn invisible_formatting_characters_are_refused_in_names() {
    let app = TestApp::spawn().await;
    let applicant = app.applicant("13800001111").await;
    let mut form = household();
    form["members"][0]["name"] = json!("王\u{202E}明");
    let a = app
        .post("/api/v1/applications", Some(&applicant), &form)
        .await;
    assert_eq!(
        a.expect(422).clone()["fields"][0]["code"],
        "invisible_characters"
    );
    assert_eq!(a.field_codes()[0].0, "members[0].name");
}
