use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::{TestApp, act, version};

pub struct Office {
    pub admin: String,
    pub reviewer: String,
    pub supervisor: String,
    pub bureau: String,
}

pub async fn office(app: &TestApp) -> Office {
    let admin = app.admin().await;
    let reviewer = app
        .staff(
            &admin,
            "reviewer",
            "r@nanguan.test",
            &[COMMUNITY, OTHER_COMMUNITY],
        )
        .await;
    let supervisor = app
        .staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
        .await;
    let bureau = app
        .staff(&admin, "bureau", "b@nanguan.test", &["410104"])
        .await;
    Office {
        admin,
        reviewer,
        supervisor,
        bureau,
    }
}

/// The reviewer accepts an eligible case and passes its first review (its notice starts).
pub async fn accept_and_pass(app: &TestApp, o: &Office, id: i64) {
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
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await
    .expect(200);
}

/// Eleven days on: every notice has ended and its case is ready to report.
pub async fn close_notices(app: &TestApp, o: &Office) {
    app.clock.advance(Duration::days(11));
    app.post(
        "/api/v1/review/notices/close-due",
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
}

/// `n` public-rental cases taken by the reviewer to ready-to-report.
pub async fn ready_cases(app: &TestApp, o: &Office, n: u32, first_seq: u32) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let t = app.applicant(&format!("1370000{:04}", first_seq + i)).await;
        let r = app
            .file(
                &t,
                &single_household(&id_number("410104", "19800101", first_seq + 2 * i)),
            )
            .await;
        let id = r["application_id"].as_i64().unwrap();
        accept_and_pass(app, o, id).await;
        ids.push(id);
    }
    close_notices(app, o).await;
    ids
}

pub async fn new_batch(app: &TestApp, o: &Office, ids: &[i64]) -> i64 {
    new_batch_in(app, o, "public_rental", ids).await
}

/// A draft batch of `programme` holding `ids`.
pub async fn new_batch_in(app: &TestApp, o: &Office, programme: &str, ids: &[i64]) -> i64 {
    let b = app
        .post(
            "/api/v1/batches",
            Some(&o.supervisor),
            &json!({ "programme": programme }),
        )
        .await;
    let id = b.expect(201)["id"].as_i64().unwrap();
    for a in ids {
        app.post(
            &format!("/api/v1/batches/{id}/items"),
            Some(&o.supervisor),
            &json!({ "application_id": a }),
        )
        .await
        .expect(200);
    }
    id
}

/// The cases reported up in one batch and all approved by the bureau: on the waiting list.
pub async fn approve_all(app: &TestApp, o: &Office, ids: &[i64]) {
    let batch = new_batch(app, o, ids).await;
    seal_submit_ack(app, o, batch).await;
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({ "application_id": id, "decision": "approve" }))
        .collect();
    app.post(
        &format!("/api/v1/batches/{batch}/decisions"),
        Some(&o.bureau),
        &json!({ "items": items }),
    )
    .await
    .expect(200);
}

pub async fn seal_submit_ack(app: &TestApp, o: &Office, batch: i64) {
    app.post(
        &format!("/api/v1/batches/{batch}/seal"),
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/api/v1/batches/{batch}/submit"),
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
    let m = app
        .get(
            &format!("/api/v1/batches/{batch}/manifest"),
            Some(&o.bureau),
        )
        .await;
    let body = m.expect(200).clone();
    let ours = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            body["manifest"].to_string().as_bytes(),
        ))
    };
    assert_eq!(
        ours, body["manifest_sha256"],
        "the bureau can recompute the hash"
    );
    app.post(
        &format!("/api/v1/batches/{batch}/acknowledge"),
        Some(&o.bureau),
        &json!({
            "item_count": body["item_count"], "manifest_sha256": ours,
        }),
    )
    .await
    .expect(200);
}

async fn raw_get(app: &TestApp, path: &str, token: &str) -> (u16, Vec<u8>, String) {
    let resp = app
        .client
        .get(path)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await;
    let status = resp.0.status().as_u16();
    let ct = resp
        .0
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.0.into_body().into_vec().await.unwrap();
    (status, bytes, ct)
}

#[tokio::test]
async fn a_batch_goes_up_the_bureau_decides_and_the_reconciliation_adds_up() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 4, 11).await;
    let batch = new_batch(&app, &o, &ids).await;

    // The bureau does not see a batch before it is submitted.
    app.get(&format!("/api/v1/batches/{batch}"), Some(&o.bureau))
        .await
        .expect(404);
    seal_submit_ack(&app, &o, batch).await;
    for id in &ids {
        let c = app
            .get(&format!("/api/v1/applications/{id}"), Some(&o.reviewer))
            .await;
        assert_eq!(c.expect(200)["status"], "reported");
    }
    let listed = app
        .get("/api/v1/batches?status=received", Some(&o.bureau))
        .await;
    assert_eq!(listed.expect(200).as_array().unwrap().len(), 1);

    let decided = app
        .post(&format!("/api/v1/batches/{batch}/decisions"), Some(&o.bureau), &json!({ "items": [
            { "application_id": ids[0], "decision": "approve" },
            { "application_id": ids[1], "decision": "approve" },
            { "application_id": ids[2], "decision": "return", "reason_code": "incomplete_documents", "comment": "缺收入证明原件" },
            { "application_id": ids[3], "decision": "reject" },
        ]}))
        .await;
    let results = decided.expect(200)["results"].as_array().unwrap().clone();
    assert_eq!(results[0]["waitlist_number"], 1);
    assert_eq!(results[1]["waitlist_number"], 2);
    assert_eq!(results[0]["status"], "waitlisted");
    assert_eq!(results[2]["status"], "returned");
    assert_eq!(
        results[3]["ok"], false,
        "a rejection needs a reason and a comment"
    );
    let b = app
        .get(&format!("/api/v1/batches/{batch}"), Some(&o.bureau))
        .await;
    assert_eq!(b.expect(200)["status"], "partly_decided");
    app.post(&format!("/api/v1/batches/{batch}/decisions"), Some(&o.bureau), &json!({ "items": [
        { "application_id": ids[3], "decision": "reject", "reason_code": "owns_housing", "comment": "查有房产" },
    ]}))
    .await
    .expect(200);
    let b = app
        .get(&format!("/api/v1/batches/{batch}"), Some(&o.bureau))
        .await;
    assert_eq!(b.expect(200)["status"], "closed");

    // The returned case goes back to the reviewers and up again in a later batch.
    let v = version(&app, &o.reviewer, ids[2]).await;
    act(
        &app,
        &o.reviewer,
        ids[2],
        json!({ "action": "reconfirm", "version": v, "comment": "已补收入证明" }),
    )
    .await
    .expect(200);
    let second = new_batch(&app, &o, &[ids[2]]).await;
    seal_submit_ack(&app, &o, second).await;
    let r = app
        .post(
            &format!("/api/v1/batches/{second}/decisions"),
            Some(&o.bureau),
            &json!({ "items": [
                { "application_id": ids[2], "decision": "approve" }
            ]}),
        )
        .await;
    assert_eq!(r.expect(200)["results"][0]["waitlist_number"], 3);

    let rec = app
        .get(
            "/api/v1/reconciliation?subdistrict=410104003",
            Some(&o.bureau),
        )
        .await;
    let rec = rec.expect(200);
    assert_eq!(rec["sent"]["count"], 5);
    assert_eq!(rec["received"]["count"], 5);
    assert_eq!(rec["approved"]["count"], 3);
    assert_eq!(rec["returned"]["count"], 1);
    assert_eq!(rec["rejected"]["count"], 1);
    assert_eq!(rec["still_open"]["count"], 0);
    let sum: i64 = ["approved", "returned", "rejected", "still_open"]
        .iter()
        .map(|k| rec[k]["count"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, rec["sent"]["count"].as_i64().unwrap());
    let case = app
        .get(
            &format!("/api/v1/applications/{}", ids[0]),
            Some(&o.reviewer),
        )
        .await;
    let actions: Vec<&str> = case.expect(200)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.ends_with(&["report", "approve", "waitlist"]),
        "{actions:?}"
    );
    let _ = o.admin;
}

#[tokio::test]
async fn the_roster_opens_in_a_spreadsheet_and_full_numbers_need_a_purpose() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 2, 11).await;
    let batch = new_batch(&app, &o, &ids).await;
    seal_submit_ack(&app, &o, batch).await;

    let (status, csv, ct) = raw_get(
        &app,
        &format!("/api/v1/batches/{batch}/roster?format=csv"),
        &o.supervisor,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&csv));
    assert!(ct.contains("octet-stream") || ct.contains("csv"), "{ct}");
    assert_eq!(&csv[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 BOM for Excel");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "\"序号\",\"申请编号\",\"社区\",\"申请人姓名\",\"身份证号码\",\"家庭人口\",\"保障项目\",\"申请类别\",\"政策版本\",\"区民政局意见\""
    );
    let first = lines.next().unwrap();
    assert!(
        first.contains("4101**********"),
        "masked by default: {first}"
    );
    assert!(first.contains("惠工街社区") && first.contains("公租房"));
    assert_eq!(text.lines().count(), 3);

    let (status, _, _) = raw_get(
        &app,
        &format!("/api/v1/batches/{batch}/roster?full=true"),
        &o.bureau,
    )
    .await;
    assert_eq!(status, 422, "a purpose is required");
    let (status, _, _) = raw_get(
        &app,
        &format!("/api/v1/batches/{batch}/roster?full=true&purpose=x"),
        &o.supervisor,
    )
    .await;
    assert_eq!(status, 403, "only the bureau may see full numbers");
    let (status, full, _) = raw_get(
        &app,
        &format!(
            "/api/v1/batches/{batch}/roster?full=true&purpose=%E6%94%B6%E5%85%A5%E6%A0%B8%E6%9F%A5"
        ),
        &o.bureau,
    )
    .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&full).contains(&id_number("410104", "19800101", 11)));

    let (status, xlsx, _) = raw_get(
        &app,
        &format!("/api/v1/batches/{batch}/roster?format=xlsx"),
        &o.bureau,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&xlsx[..2], b"PK", "an XLSX (zip) file");
    assert!(xlsx.len() > 2000);

    use entity::export_log;
    use sea_orm::EntityTrait;
    let log = export_log::Entity::find().all(&app.state.db).await.unwrap();
    let summary: Vec<(String, bool, Option<String>)> = log
        .into_iter()
        .map(|l| (l.format, l.masked, l.purpose))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("csv".into(), true, None),
            ("csv".into(), false, Some("收入核查".into())),
            ("xlsx".into(), true, None)
        ],
        "every export on record; refused ones are not"
    );
}

/// A case named to attack a spreadsheet, taken to ready-to-report.
async fn hostile_case(app: &TestApp, o: &Office, name: &str, seq: u32) -> (i64, String) {
    let t = app.applicant(&format!("1360000{seq:04}")).await;
    let id_no = id_number("410104", "19800101", seq);
    let mut form = single_household(&id_no);
    form["members"][0]["name"] = json!(name);
    let r = app.file(&t, &form).await;
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
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await
    .expect(200);
    (id, id_no)
}

#[tokio::test]
async fn a_roster_csv_runs_no_formula_and_keeps_identity_numbers_whole() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let names = [
        "=HYPERLINK(\"http://x\",\"点我\")",
        "+1+1",
        "@SUM(1)",
        "-2-3",
    ];
    let mut ids = Vec::new();
    let mut numbers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (id, no) = hostile_case(&app, &o, name, 61 + 2 * i as u32).await;
        ids.push(id);
        numbers.push(no);
    }
    app.clock.advance(Duration::days(11));
    app.post(
        "/api/v1/review/notices/close-due",
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
    let batch = new_batch(&app, &o, &ids).await;
    seal_submit_ack(&app, &o, batch).await;
    let (status, csv, _) = raw_get(
        &app,
        &format!("/api/v1/batches/{batch}/roster?full=true&purpose=%E6%A0%B8%E6%9F%A5"),
        &o.bureau,
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    for name in names {
        let quoted = format!("\"'{}\"", name.replace('"', "\"\""));
        assert!(text.contains(&quoted), "{name} not neutralised in {text}");
    }
    for no in &numbers {
        assert!(
            text.contains(&format!("\"\t{no}\"")),
            "{no} not kept as text"
        );
    }
    // For `.ci/run`, which opens the file in LibreOffice as a person would.
    if let Ok(dir) = std::env::var("ANJU_TEST_EXPORT_DIR") {
        std::fs::write(format!("{dir}/roster.csv"), &csv).unwrap();
        std::fs::write(
            format!("{dir}/roster-expected.json"),
            json!({ "names": names, "ids": numbers }).to_string(),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn batches_refuse_what_they_must() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 2, 11).await;
    let empty = app
        .post(
            "/api/v1/batches",
            Some(&o.supervisor),
            &json!({ "programme": "public_rental" }),
        )
        .await;
    let empty = empty.expect(201)["id"].as_i64().unwrap();
    let sealed = app
        .post(
            &format!("/api/v1/batches/{empty}/seal"),
            Some(&o.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(sealed.expect(409)["code"], "batch_empty");

    let batch = new_batch(&app, &o, &ids[..1]).await;
    let twice = app
        .post(
            &format!("/api/v1/batches/{empty}/items"),
            Some(&o.supervisor),
            &json!({ "application_id": ids[0] }),
        )
        .await;
    assert_eq!(twice.expect(409)["code"], "case_in_another_batch");
    let t = app.applicant("13911112222").await;
    let fresh = app
        .file(&t, &single_household(&id_number("410104", "19800101", 91)))
        .await;
    let not_ready = app
        .post(
            &format!("/api/v1/batches/{batch}/items"),
            Some(&o.supervisor),
            &json!({ "application_id": fresh["application_id"] }),
        )
        .await;
    assert_eq!(not_ready.expect(409)["code"], "case_not_ready");
    let low = app
        .post(
            "/api/v1/batches",
            Some(&o.supervisor),
            &json!({ "programme": "low_rent" }),
        )
        .await;
    let low = low.expect(201)["id"].as_i64().unwrap();
    let wrong_programme = app
        .post(
            &format!("/api/v1/batches/{low}/items"),
            Some(&o.supervisor),
            &json!({ "application_id": ids[1] }),
        )
        .await;
    assert_eq!(wrong_programme.expect(409)["code"], "case_not_ready");

    app.post(
        &format!("/api/v1/batches/{batch}/seal"),
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
    let add = app
        .post(
            &format!("/api/v1/batches/{batch}/items"),
            Some(&o.supervisor),
            &json!({ "application_id": ids[1] }),
        )
        .await;
    assert_eq!(add.expect(409)["code"], "batch_wrong_state");
    let remove = app
        .send_json(
            "DELETE",
            &format!("/api/v1/batches/{batch}/items/{}", ids[0]),
            Some(&o.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(remove.expect(409)["code"], "batch_wrong_state");
    let before = app
        .get(
            &format!("/api/v1/batches/{batch}/manifest"),
            Some(&o.supervisor),
        )
        .await
        .expect(200)
        .clone();
    app.post(
        &format!("/api/v1/batches/{batch}/submit"),
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
    let after = app
        .get(
            &format!("/api/v1/batches/{batch}/manifest"),
            Some(&o.supervisor),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(before, after, "the sealed manifest never changes");
    let wrong = app
        .post(
            &format!("/api/v1/batches/{batch}/acknowledge"),
            Some(&o.bureau),
            &json!({ "item_count": 1, "manifest_sha256": "0".repeat(64) }),
        )
        .await;
    assert_eq!(wrong.expect(409)["code"], "manifest_mismatch");
    let early = app
        .post(
            &format!("/api/v1/batches/{batch}/decisions"),
            Some(&o.bureau),
            &json!({ "items": [{ "application_id": ids[0], "decision": "approve" }] }),
        )
        .await;
    assert_eq!(
        early.expect(200)["results"][0]["error_code"],
        "batch_wrong_state",
        "decisions wait for the acknowledgement"
    );
    app.post(
        "/api/v1/batches",
        Some(&o.reviewer),
        &json!({ "programme": "public_rental" }),
    )
    .await
    .expect(403);
    app.post(
        "/api/v1/batches",
        Some(&o.bureau),
        &json!({ "programme": "public_rental" }),
    )
    .await
    .expect(403);
}

#[tokio::test]
async fn the_sealer_may_not_have_passed_a_case_in_the_batch() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let t = app.applicant("13700001111").await;
    let r = app
        .file(&t, &single_household(&id_number("410104", "19800101", 11)))
        .await;
    let id = r["application_id"].as_i64().unwrap();
    // The supervisor works this case personally.
    let v = version(&app, &o.supervisor, id).await;
    let v = act(
        &app,
        &o.supervisor,
        id,
        json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    act(
        &app,
        &o.supervisor,
        id,
        json!({ "action": "pass_review", "version": v, "comment": "属实" }),
    )
    .await
    .expect(200);
    app.clock.advance(Duration::days(11));
    app.post(
        "/api/v1/review/notices/close-due",
        Some(&o.supervisor),
        &json!({}),
    )
    .await
    .expect(200);
    let batch = new_batch(&app, &o, &[id]).await;
    let refused = app
        .post(
            &format!("/api/v1/batches/{batch}/seal"),
            Some(&o.supervisor),
            &json!({}),
        )
        .await;
    assert_eq!(refused.expect(409)["code"], "maker_checker");
    let b = app
        .get(&format!("/api/v1/batches/{batch}"), Some(&o.supervisor))
        .await;
    assert_eq!(b.expect(200)["status"], "draft");
    let other = app
        .staff(&o.admin, "supervisor", "s2@nanguan.test", &["410104003"])
        .await;
    app.post(
        &format!("/api/v1/batches/{batch}/seal"),
        Some(&other),
        &json!({}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn concurrent_approvals_give_gap_free_waiting_list_numbers() {
    let app = Arc::new(TestApp::spawn().await);
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 6, 11).await;
    let batch = new_batch(&app, &o, &ids).await;
    seal_submit_ack(&app, &o, batch).await;
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let (app, token) = (app.clone(), o.bureau.clone());
        tasks.push(tokio::spawn(async move {
            app.post(
                &format!("/api/v1/batches/{batch}/decisions"),
                Some(&token),
                &json!({ "items": [
                    { "application_id": id, "decision": "approve" }
                ]}),
            )
            .await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        let r = &a.expect(200)["results"][0];
        assert_eq!(r["ok"], true, "{r}");
        numbers.push(r["waitlist_number"].as_i64().unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
}
