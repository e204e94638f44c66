//! The writers under pressure: sealing while the list changes, the last decisions of a
//! batch landing together, a withdrawal in every state of its batch, cancelling, and
//! stored values that cannot be read.

use std::sync::Arc;

use entity::{batch, batch_event, batch_item};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::batches::{Office, new_batch, office, ready_cases, seal_submit_ack};
use crate::fixtures::*;
use crate::helpers::{Answer, PASSWORD, TestApp};

async fn batch_view(app: &TestApp, o: &Office, id: i64) -> Value {
    app.get(&format!("/api/v1/batches/{id}"), Some(&o.supervisor))
        .await
        .expect(200)
        .clone()
}

async fn post(app: &TestApp, token: &str, path: String, body: Value) -> Answer {
    app.post(&path, Some(token), &body).await
}

/// The numbers in a sealed manifest and the numbers of the batch's items.
async fn manifest_and_items(app: &TestApp, id: i64) -> (Vec<String>, Vec<String>, i64) {
    let b = batch::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let m = b.manifest.expect("a sealed batch has a manifest");
    let mut listed: Vec<String> = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let items = batch_item::Entity::find()
        .filter(batch_item::Column::BatchId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap();
    let ids: Vec<i64> = items.iter().map(|i| i.application_id).collect();
    let cases = entity::application::Entity::find()
        .filter(entity::application::Column::Id.is_in(ids))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut held: Vec<String> = cases.into_iter().filter_map(|c| c.number).collect();
    held.sort();
    (listed, held, m["item_count"].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_seals_racing_adds_and_removes_leave_every_sealed_batch_equal_to_its_manifest() {
    let app = Arc::new(TestApp::spawn().await);
    let o = Arc::new(office(&app).await);
    let cases = ready_cases(&app, &o, 12, 100).await;
    for round in 0..20 {
        let (inside, extra) = (&cases[..10], cases[10 + round % 2]);
        let id = new_batch(&app, &o, inside).await;
        let removed = inside[round % 10];
        let (a, s, r) = (app.clone(), o.supervisor.clone(), o.supervisor.clone());
        let (b, c) = (app.clone(), app.clone());
        let seal = tokio::spawn(async move {
            post(&a, &s, format!("/api/v1/batches/{id}/seal"), json!({})).await
        });
        let add = tokio::spawn({
            let t = o.supervisor.clone();
            async move {
                post(
                    &b,
                    &t,
                    format!("/api/v1/batches/{id}/items"),
                    json!({ "application_id": extra }),
                )
                .await
            }
        });
        let remove = tokio::spawn(async move {
            c.send_json(
                "DELETE",
                &format!("/api/v1/batches/{id}/items/{removed}"),
                Some(&r),
                &json!({}),
            )
            .await
        });
        let seal = seal.await.unwrap();
        for other in [add.await.unwrap(), remove.await.unwrap()] {
            assert!(
                [200, 409].contains(&other.status.as_u16()),
                "round {round}: {}",
                other.body
            );
        }
        seal.expect(200);
        let (listed, held, count) = manifest_and_items(&app, id).await;
        assert_eq!(listed, held, "round {round}: manifest and items differ");
        assert_eq!(count as usize, held.len(), "round {round}");
        // Free the cases for the next round.
        post(
            &app,
            &o.supervisor,
            format!("/api/v1/batches/{id}/cancel"),
            json!({ "reason": "测试" }),
        )
        .await
        .expect(200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_two_decisions_landing_together_close_the_batch() {
    let app = Arc::new(TestApp::spawn().await);
    let o = Arc::new(office(&app).await);
    for round in 0..5u32 {
        let cases = ready_cases(&app, &o, 2, 200 + 10 * round).await;
        let id = new_batch(&app, &o, &cases).await;
        seal_submit_ack(&app, &o, id).await;
        let mut tasks = Vec::new();
        for (case, decision) in cases.iter().copied().zip(["return", "reject"]) {
            let (app, o) = (app.clone(), o.clone());
            tasks.push(tokio::spawn(async move {
                post(
                    &app,
                    &o.bureau,
                    format!("/api/v1/batches/{id}/decisions"),
                    json!({ "items": [{ "application_id": case, "decision": decision,
                        "reason_code": "income_over_limit", "comment": "收入超标" }] }),
                )
                .await
            }));
        }
        for t in tasks {
            let a = t.await.unwrap();
            assert_eq!(a.expect(200)["results"][0]["ok"], true, "{}", a.body);
        }
        let b = batch_view(&app, &o, id).await;
        assert_eq!(b["status"], "closed", "round {round}");
        assert!(b["closed_at"].is_string());
    }
}

async fn withdraw(app: &TestApp, case: i64, mobile: &str) -> Answer {
    let token = app.token(mobile, PASSWORD).await;
    app.post(
        &format!("/api/v1/applications/{case}/withdraw"),
        Some(&token),
        &json!({ "reason": "已另行租房" }),
    )
    .await
}

/// The applicant's mobile of the `i`th case made by `ready_cases(.., first_seq)`.
fn mobile(first_seq: u32, i: u32) -> String {
    format!("1370000{:04}", first_seq + i)
}

async fn batch_actions(app: &TestApp, id: i64) -> Vec<String> {
    batch_event::Entity::find()
        .filter(batch_event::Column::BatchId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action.as_str().to_string())
        .collect()
}

#[tokio::test]
async fn a_case_withdrawn_from_a_draft_batch_leaves_it_and_the_batch_goes_on() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let cases = ready_cases(&app, &o, 2, 300).await;
    let id = new_batch(&app, &o, &cases).await;
    withdraw(&app, cases[0], &mobile(300, 0)).await.expect(200);
    let b = batch_view(&app, &o, id).await;
    assert_eq!(b["status"], "draft");
    assert_eq!(b["item_count"], 1);
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    assert_eq!(b["items"][0]["application_id"], cases[1]);
    assert_eq!(
        batch_actions(&app, id).await,
        ["create", "add_item", "add_item", "item_withdrawn"]
    );
    seal_submit_ack(&app, &o, id).await;
    assert_eq!(batch_view(&app, &o, id).await["status"], "received");
}

#[tokio::test]
async fn a_case_withdrawn_from_a_sealed_batch_unseals_it_so_the_manifest_is_made_again() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let cases = ready_cases(&app, &o, 2, 310).await;
    let id = new_batch(&app, &o, &cases).await;
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{id}/seal"),
        json!({}),
    )
    .await
    .expect(200);
    withdraw(&app, cases[1], &mobile(310, 1)).await.expect(200);
    let b = batch_view(&app, &o, id).await;
    assert_eq!(b["status"], "draft", "{b}");
    assert!(b["manifest_sha256"].is_null());
    assert_eq!(b["item_count"], 1);
    // Submitting the old seal is refused; sealing again lists the one case left.
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{id}/submit"),
        json!({}),
    )
    .await
    .expect(409);
    seal_submit_ack(&app, &o, id).await;
    let (listed, held, _) = manifest_and_items(&app, id).await;
    assert_eq!(listed, held);
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_case_withdrawn_after_reporting_counts_as_decided_so_the_batch_closes() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let cases = ready_cases(&app, &o, 3, 320).await;
    // Withdrawn while sent but not acknowledged, then after acknowledgement.
    let id = new_batch(&app, &o, &cases).await;
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{id}/seal"),
        json!({}),
    )
    .await
    .expect(200);
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{id}/submit"),
        json!({}),
    )
    .await
    .expect(200);
    withdraw(&app, cases[0], &mobile(320, 0)).await.expect(200);
    assert_eq!(batch_view(&app, &o, id).await["status"], "submitted");
    let b = app
        .get(&format!("/api/v1/batches/{id}"), Some(&o.bureau))
        .await;
    let item = b.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["application_id"] == cases[0])
        .cloned()
        .unwrap();
    assert_eq!(item["decision"], "withdrawn");
    assert_eq!(item["status"], "withdrawn");
    let m = app
        .get(&format!("/api/v1/batches/{id}/manifest"), Some(&o.bureau))
        .await;
    let m = m.expect(200).clone();
    post(
        &app,
        &o.bureau,
        format!("/api/v1/batches/{id}/acknowledge"),
        json!({ "item_count": m["item_count"], "manifest_sha256": m["manifest_sha256"] }),
    )
    .await
    .expect(200);
    withdraw(&app, cases[1], &mobile(320, 1)).await.expect(200);
    assert_eq!(batch_view(&app, &o, id).await["status"], "partly_decided");
    // The bureau's approve of a withdrawn case is refused and changes nothing.
    let refused = post(
        &app,
        &o.bureau,
        format!("/api/v1/batches/{id}/decisions"),
        json!({ "items": [{ "application_id": cases[1], "decision": "approve" }] }),
    )
    .await;
    assert_eq!(refused.expect(200)["results"][0]["ok"], false);
    assert_eq!(refused.body["results"][0]["error_code"], "already_decided");
    post(
        &app,
        &o.bureau,
        format!("/api/v1/batches/{id}/decisions"),
        json!({ "items": [{ "application_id": cases[2], "decision": "approve" }] }),
    )
    .await
    .expect(200);
    assert_eq!(batch_view(&app, &o, id).await["status"], "closed");
    let r = app.get("/api/v1/reconciliation", Some(&o.bureau)).await;
    let r = r.expect(200);
    assert_eq!(r["withdrawn"]["count"], 2);
    assert_eq!(r["approved"]["count"], 1);
    assert_eq!(r["still_open"]["count"], 0);
}

#[tokio::test]
async fn a_supervisor_cancels_a_draft_batch_and_its_cases_join_another() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let cases = ready_cases(&app, &o, 2, 330).await;
    let first = new_batch(&app, &o, &cases).await;
    let refused = post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{}/items", new_batch(&app, &o, &[]).await),
        json!({ "application_id": cases[0] }),
    )
    .await;
    assert_eq!(refused.expect(409)["code"], "case_in_another_batch");
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{first}/cancel"),
        json!({ "reason": "重新编批" }),
    )
    .await
    .expect(200);
    assert_eq!(batch_view(&app, &o, first).await["status"], "cancelled");
    let second = new_batch(&app, &o, &cases).await;
    assert_eq!(batch_view(&app, &o, second).await["item_count"], 2);
    // A cancelled batch takes no more changes, and the bureau never sees it.
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{first}/seal"),
        json!({}),
    )
    .await
    .expect(409);
    app.get(&format!("/api/v1/batches/{first}"), Some(&o.bureau))
        .await
        .expect(404);
    // A sent batch cannot be cancelled.
    seal_submit_ack(&app, &o, second).await;
    post(
        &app,
        &o.supervisor,
        format!("/api/v1/batches/{second}/cancel"),
        json!({}),
    )
    .await
    .expect(409);
}

async fn corrupt(app: &TestApp, column: &str, value: &str, id: i64) {
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE application SET {column} = {value} WHERE id = {id}"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreadable_stored_value_is_an_opaque_500_never_a_default() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let (draft, _) = app.draft(&token, &household()).await;
    let receipt = app.file(&token, &single_household(&spouse_id())).await;
    let filed = receipt["application_id"].as_i64().unwrap();
    let path = |id: i64| format!("/api/v1/applications/{id}");

    corrupt(&app, "status", "'bogus'", draft).await;
    let a = app.get(&path(draft), Some(&token)).await;
    assert_eq!(a.expect(500)["code"], "internal");
    assert!(
        !a.body.to_string().contains("bogus"),
        "the cause stays in the log"
    );
    app.get("/api/v1/applications", Some(&token))
        .await
        .expect(500);
    corrupt(&app, "status", "'draft'", draft).await;
    app.get(&path(draft), Some(&token)).await.expect(200);

    corrupt(&app, "form", "'{\"members\": 5}'", filed).await;
    assert_eq!(
        app.get(&path(filed), Some(&token)).await.expect(500)["code"],
        "internal"
    );
    corrupt(&app, "form", "'{}'", filed).await;
    corrupt(&app, "warnings", "'{\"not\": \"a list\"}'", filed).await;
    assert_eq!(
        app.get(&path(filed), Some(&token)).await.expect(500)["code"],
        "internal"
    );
}
