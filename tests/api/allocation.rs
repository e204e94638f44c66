//! Allocation (配租) over HTTP on the injectable clock: the stock imported all or
//! nothing, a lottery round from publication to lets with its result file verified by
//! `anju lottery verify`, a score round whose re-check drops a household, and a unit
//! that concurrent offers and acceptances cannot let twice.

use std::process::Command;
use std::sync::Arc;

use chrono::Duration;
use entity::enums::{OfferStatus, UnitStatus};
use entity::{application_event, housing_unit, outbox_message, unit_event, unit_offer};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::batches::{Office, approve_all, office, ready_cases};
use crate::helpers::{PASSWORD, TestApp};

const HEADER: &str = "项目,楼栋,房号,保障类别,建筑面积,居室,楼层,月租金（元）,无障碍\n";

fn stock(n: usize) -> String {
    let mut csv = HEADER.to_string();
    for i in 0..n {
        csv.push_str(&format!(
            "南关安居小区,1号楼,{},廉租房,45.5,1,{},136.50,否\n",
            101 + i,
            1 + i
        ));
    }
    csv
}

async fn import(app: &TestApp, token: &str, body: &str) -> crate::helpers::Answer {
    app.raw(
        poem::http::Method::POST,
        "/api/v1/units/import?format=csv",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/octet-stream"),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

/// `n` approved public-rental households on the waiting list, with their tokens.
async fn waitlisted(app: &TestApp, o: &Office, n: u32, first: u32) -> Vec<(i64, String)> {
    let ids = ready_cases(app, o, n, first).await;
    approve_all(app, o, &ids).await;
    let mut out = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let t = app
            .token(&format!("1370000{:04}", first + i as u32), PASSWORD)
            .await;
        out.push((id, t));
    }
    out
}

/// Publishes the round and registers every household in it.
async fn open_and_register(app: &TestApp, o: &Office, round: i64, families: &[(i64, String)]) {
    app.post(
        &format!("/api/v1/rounds/{round}/publish"),
        Some(&o.bureau),
        &json!({}),
    )
    .await
    .expect(200);
    for (id, t) in families {
        app.post(
            &format!("/api/v1/applications/{id}/intent"),
            Some(t),
            &json!({ "round_id": round }),
        )
        .await
        .expect(201);
    }
}

async fn messages(app: &TestApp, id: i64, kind: &str) -> Vec<String> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::ApplicationId.eq(id))
        .filter(outbox_message::Column::Kind.eq(kind))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body_text)
        .collect()
}

async fn status(app: &TestApp, token: &str, id: i64) -> String {
    app.get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .expect(200)["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn new_round(app: &TestApp, o: &Office, method: &str, days: i64) -> i64 {
    let today = anju::clock::local_date(anju::clock::Clock::now(&app.clock));
    app.post(
        "/api/v1/rounds",
        Some(&o.bureau),
        &json!({
            "name": "2026年第一批实物配租",
            "method": method,
            "groups": ["public_rental"],
            "intent_opens_on": today.to_string(),
            "intent_closes_on": (today + Duration::days(days)).to_string(),
            "projects": ["南关安居小区"],
        }),
    )
    .await
    .expect(201)["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_bad_stock_file_is_reported_cell_by_cell_and_nothing_is_imported() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let bad = format!(
        "{HEADER}南关安居小区,1号楼,101,廉租房,45.5,1,1,136.50,否\n南关安居小区,1号楼,102,别墅,45.555,1,1,136.50,否\n"
    );
    let a = import(&app, &o.bureau, &bad).await;
    a.expect(422);
    let fields: Vec<String> = a.field_codes().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec!["line 3 column D", "line 3 column E"]);
    assert_eq!(
        app.count(housing_unit::Entity).await,
        0,
        "nothing half-imported"
    );
    // A reviewer may not import; the bureau may, once.
    import(&app, &o.reviewer, &stock(2)).await.expect(403);
    assert_eq!(
        import(&app, &o.bureau, &stock(2)).await.expect(201)["created"],
        2
    );
    let again = import(&app, &o.bureau, &stock(3)).await;
    again.expect(422);
    assert_eq!(
        app.count(housing_unit::Entity).await,
        2,
        "a repeated unit stops it all"
    );
    assert_eq!(app.count(unit_event::Entity).await, 2);
    // An XLSX workbook, numbers as numbers, imports the same way.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.trim().split(',').enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (c, v) in ["城东保障房小区", "3号楼", "501", "公租房"]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, c as u16, *v).unwrap();
    }
    for (c, v) in [(4, 52.25), (5, 2.0), (6, 5.0), (7, 135.85)] {
        sheet.write_number(1, c, v).unwrap();
    }
    sheet.write_string(1, 8, "是").unwrap();
    let xlsx = app
        .raw(
            poem::http::Method::POST,
            "/api/v1/units/import",
            &[
                ("Authorization", &format!("Bearer {}", o.bureau)),
                ("Content-Type", "application/octet-stream"),
            ],
            book.save_to_buffer().unwrap(),
        )
        .await;
    assert_eq!(xlsx.expect(201)["created"], 1);
    let page = app.get("/api/v1/units", Some(&o.bureau)).await;
    let u = page.expect(200)["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit_no"] == "501")
        .unwrap()
        .clone();
    assert_eq!(
        (
            u["area_centi"].clone(),
            u["rent_fen"].clone(),
            u["accessible"].clone()
        ),
        (json!(5225), json!(13585), json!(true))
    );
    assert_eq!(page.body["total"], 3);
    let unit = page.body["units"][0].clone();
    // Edit one unit: out of range is a named 422, a stale version a 409.
    let id = unit["id"].as_i64().unwrap();
    let path = format!("/api/v1/units/{id}");
    let wrong = app
        .send_json(
            "PATCH",
            &path,
            Some(&o.bureau),
            &json!({ "version": 1, "rooms": 40 }),
        )
        .await;
    assert_eq!(wrong.field_codes()[0].0, "rooms");
    let edited = app
        .send_json(
            "PATCH",
            &path,
            Some(&o.bureau),
            &json!({ "version": 1, "rent_fen": 15000, "available": false, "note": "维修" }),
        )
        .await;
    assert_eq!(edited.expect(200)["unit"]["status"], "unavailable");
    assert_eq!(edited.body["unit"]["rent_fen"], 15000);
    assert_eq!(edited.body["history"].as_array().unwrap().len(), 2);
    app.send_json(
        "PATCH",
        &path,
        Some(&o.bureau),
        &json!({ "version": 1, "rooms": 2 }),
    )
    .await
    .expect(409);
}

#[tokio::test]
async fn a_lottery_round_lets_units_in_drawn_order_and_anyone_can_verify_the_draw() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    import(&app, &o.bureau, &stock(3)).await.expect(201);
    let families = waitlisted(&app, &o, 3, 1).await;
    let round = new_round(&app, &o, "lottery", 7).await;
    let r = |p: &str| format!("/api/v1/rounds/{round}{p}");
    // Before publication nothing is public and nobody may register.
    app.get(&format!("/api/v1/public/rounds/{round}"), None)
        .await
        .expect(404);
    app.post(&r("/publish"), Some(&families[0].1), &json!({}))
        .await
        .expect(403);
    app.post(&r("/publish"), Some(&o.bureau), &json!({}))
        .await
        .expect(200);
    for (id, _) in &families {
        assert_eq!(messages(&app, *id, "round_opened").await.len(), 1);
    }
    // Two of three register; twice is refused; someone else's case is not found.
    let intent = |id: i64| format!("/api/v1/applications/{id}/intent");
    for (id, t) in &families[..2] {
        app.post(&intent(*id), Some(t), &json!({ "round_id": round }))
            .await
            .expect(201);
    }
    let (a, b) = (&families[0], &families[1]);
    app.post(&intent(a.0), Some(&a.1), &json!({ "round_id": round }))
        .await
        .expect(409);
    app.post(
        &intent(families[2].0),
        Some(&a.1),
        &json!({ "round_id": round }),
    )
    .await
    .expect(404);
    // Registration closes only after the window.
    let early = app
        .post(&r("/close-registration"), Some(&o.bureau), &json!({}))
        .await;
    assert_eq!(early.expect(409)["code"], "registration_open");
    app.clock.advance(Duration::days(8));
    let closed = app
        .post(&r("/close-registration"), Some(&o.bureau), &json!({}))
        .await;
    let lost = closed.expect(200)["secrets"].clone();
    // The answer with the secrets was lost: new ones replace them before the draw, and a
    // retried close is refused rather than drawing up a second entrant list.
    let again = app
        .post(&r("/close-registration"), Some(&o.bureau), &json!({}))
        .await;
    assert_eq!(again.expect(409)["code"], "round_wrong_state");
    let renewed = app
        .post(&r("/renew-secrets"), Some(&o.bureau), &json!({}))
        .await;
    let secrets = renewed.expect(200)["secrets"].clone();
    assert_ne!(secrets, lost);
    let stale = app
        .post(
            &r("/draw"),
            Some(&o.bureau),
            &json!({ "secrets": lost, "public_value": "1" }),
        )
        .await;
    assert_eq!(
        stale.field_codes().len(),
        2,
        "the lost secrets no longer count"
    );
    assert_eq!(closed.body["round"]["status"], "drawing");
    let public = app
        .get(&format!("/api/v1/public/rounds/{round}"), None)
        .await;
    let entrants = public.expect(200)["entrants"].as_str().unwrap().to_string();
    assert_eq!(entrants.lines().count(), 2);
    assert!(!entrants.contains("赵单身"), "names are masked: {entrants}");
    assert_eq!(
        public.body["round"]["commitments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A wrong secret is named and nothing is drawn.
    let wrong = app
        .post(
            &r("/draw"),
            Some(&o.bureau),
            &json!({ "secrets": [secrets[0], "0".repeat(64)], "public_value": "0372" }),
        )
        .await;
    assert_eq!(
        wrong.field_codes(),
        vec![("secrets[1]".to_string(), "commitment_mismatch".to_string())]
    );
    assert!(messages(&app, a.0, "ranking_published").await.is_empty());
    let file = app
        .post(
            &r("/draw"),
            Some(&o.bureau),
            &json!({ "secrets": secrets, "public_value": "0372" }),
        )
        .await;
    let file = file.expect(200).clone();
    assert_eq!(file["order"].as_array().unwrap().len(), 2);
    let published = app
        .get(&format!("/api/v1/public/rounds/{round}/lottery"), None)
        .await;
    assert_eq!(published.expect(200), &file);
    verify_with_the_command(&file);

    // Households choose in drawn order.
    let first_code = file["order"][0].as_str().unwrap();
    let detail = app.get(&r(""), Some(&o.bureau)).await.expect(200).clone();
    let first = detail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == first_code)
        .unwrap()["application_id"]
        .as_i64()
        .unwrap();
    assert_eq!(detail["next_in_turn"]["application_id"], first);
    let (first, second) = if first == a.0 { (a, b) } else { (b, a) };
    assert!(messages(&app, first.0, "ranking_published").await[0].contains("第 1 位"));
    let units: Vec<i64> = detail["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    let offer = |case: i64, unit: i64| json!({ "application_id": case, "unit_id": unit });
    let out_of_turn = app
        .post(&r("/offers"), Some(&o.bureau), &offer(second.0, units[0]))
        .await;
    assert_eq!(out_of_turn.expect(409)["code"], "not_in_turn");
    app.post(&r("/offers"), Some(&o.bureau), &offer(first.0, units[0]))
        .await
        .expect(201);
    assert_eq!(status(&app, &first.1, first.0).await, "offered");
    assert_eq!(messages(&app, first.0, "unit_offered").await.len(), 1);
    // Another household cannot answer it; the household accepts.
    app.post(
        &format!("/api/v1/applications/{}/offer/accept", first.0),
        Some(&second.1),
        &json!({}),
    )
    .await
    .expect(404);
    let accepted = app
        .post(
            &format!("/api/v1/applications/{}/offer/accept", first.0),
            Some(&first.1),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.expect(200)["unit"]["status"], "let");
    assert_eq!(status(&app, &first.1, first.0).await, "allocated");
    assert_eq!(messages(&app, first.0, "unit_allocated").await.len(), 1);
    // The let unit cannot be offered again; the second household declines another.
    let taken = app
        .post(&r("/offers"), Some(&o.bureau), &offer(second.0, units[0]))
        .await;
    assert_eq!(taken.expect(409)["code"], "unit_not_available");
    app.post(&r("/offers"), Some(&o.bureau), &offer(second.0, units[1]))
        .await
        .expect(201);
    let before = app
        .get(
            &format!("/api/v1/applications/{}", second.0),
            Some(&second.1),
        )
        .await;
    let old_number = before.expect(200)["waitlist_number"].as_i64().unwrap();
    let declined = app
        .post(
            &format!("/api/v1/applications/{}/offer/decline", second.0),
            Some(&second.1),
            &json!({}),
        )
        .await;
    let new_number = declined.expect(200)["waitlist_number"].as_i64().unwrap();
    assert!(new_number > old_number, "to the end of the list");
    assert_eq!(declined.body["unit"]["status"], "available");
    assert_eq!(status(&app, &second.1, second.0).await, "waitlisted");
    assert!(messages(&app, second.0, "offer_declined").await[0].contains(&new_number.to_string()));

    let report = app.get(&r(""), Some(&o.bureau)).await.expect(200)["report"].clone();
    assert_eq!(
        (
            report["units"].clone(),
            report["units_offered"].clone(),
            report["offers_accepted"].clone()
        ),
        (json!(3), json!(2), json!(1))
    );
    assert_eq!(
        (
            report["offers_declined"].clone(),
            report["units_vacant"].clone()
        ),
        (json!(1), json!(2))
    );
    let funnel = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    let allocated = funnel.expect(200)["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "allocated")
        .unwrap()["count"]
        .clone();
    assert_eq!(
        allocated, 1,
        "配租 counts units let, not waiting-list numbers"
    );
    // The roster is masked unless the bureau says why; every download is recorded.
    let roster = app.get(&r("/roster"), Some(&o.bureau)).await;
    let text = roster.expect(200).as_str().unwrap().to_string();
    assert!(text.contains("赵*身") && !text.contains("赵单身"), "{text}");
    assert!(
        text.contains("4101**********"),
        "identity numbers masked: {text}"
    );
    let why = app.get(&r("/roster?full=true"), Some(&o.bureau)).await;
    assert_eq!(why.field_codes()[0].0, "purpose");
    let full = app
        .get(
            &r("/roster?full=true&purpose=%E5%85%A5%E4%BD%8F%E6%A0%B8%E5%AF%B9"),
            Some(&o.bureau),
        )
        .await;
    assert!(full.expect(200).as_str().unwrap().contains("赵单身"));
    app.get(&r("/roster?format=xlsx"), Some(&o.bureau))
        .await
        .expect(200);
    app.get(&r("/roster"), Some(&first.1)).await.expect(403);
    let logged = entity::allocation_export::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let seen: Vec<(bool, Option<String>)> = logged
        .iter()
        .map(|l| (l.masked, l.purpose.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![(true, None), (false, Some("入住核对".into())), (true, None)]
    );
    app.post(&r("/close"), Some(&o.bureau), &json!({}))
        .await
        .expect(200);

    // The housed household leaves for cause (6 months empty): the unit returns to the
    // stock, its history says why, and its lease ends.
    let v = crate::helpers::version(&app, &o.supervisor, first.0).await;
    let out = crate::helpers::act(
        &app,
        &o.supervisor,
        first.0,
        json!({ "action": "exit_for_cause", "version": v, "reason_code": "unit_vacant", "comment": "水电连续6个月为零" }),
    )
    .await;
    assert_eq!(out.expect(200)["status"], "exited");
    let unit = app
        .get(&format!("/api/v1/units/{}", units[0]), Some(&o.bureau))
        .await;
    assert_eq!(unit.expect(200)["unit"]["status"], "available");
    let last = unit.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["from_status"].clone(), last["to_status"].clone()),
        (json!("let"), json!("available"))
    );
    let lease = app
        .get(
            &format!("/api/v1/applications/{}/allocation", first.0),
            Some(&first.1),
        )
        .await;
    assert_eq!(lease.expect(200)["offers"][0]["offer"]["status"], "ended");
}

/// `anju lottery verify` on the published file says verified; an entrant changed (and
/// the hash refitted) or the algorithm renamed is caught, with exit status 1.
fn verify_with_the_command(file: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let run = |v: &Value| {
        let path = dir.path().join("result.json");
        std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_anju"))
            .args(["lottery", "verify"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let ok = run(file);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    assert!(text.contains("verified"), "{text}");
    let mut forged = file.clone();
    let list = forged["entrants"]
        .as_str()
        .unwrap()
        .replacen("\t0\t", "\t0\tX", 1);
    forged["entrants_sha256"] = json!(anju::allocation::lottery::sha256_hex(list.as_bytes()));
    forged["entrants"] = json!(list);
    let bad = run(&forged);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("FAIL seed"));
    let mut other = file.clone();
    other["algorithm"] = json!("anju-lottery-v0");
    assert!(!run(&other).status.success());
}

#[tokio::test]
async fn a_score_round_drops_a_household_that_no_longer_qualifies_and_ranks_the_rest() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    import(&app, &o.bureau, &stock(2)).await.expect(201);
    let families = waitlisted(&app, &o, 2, 21).await;
    // A stricter income rule (3 × 低保) takes effect before the re-check.
    let effective =
        anju::clock::local_date(anju::clock::Clock::now(&app.clock)) + Duration::days(5);
    app.post(
        "/api/v1/policies",
        Some(&o.admin),
        &crate::eligibility::stricter_policy("zz-gzf-2026.9", &effective.to_string()),
    )
    .await
    .expect(201);
    let round = new_round(&app, &o, "score", 7).await;
    let r = |p: &str| format!("/api/v1/rounds/{round}{p}");
    open_and_register(&app, &o, round, &families).await;
    app.clock.advance(Duration::days(8));
    let closed = app
        .post(&r("/close-registration"), Some(&o.bureau), &json!({}))
        .await;
    // Both single households earn 2,500 yuan a month: over 3 × 520 now.
    assert_eq!(closed.expect(200)["failed_recheck"], 2);
    assert_eq!(closed.body["round"]["status"], "ranked");
    assert!(closed.body["secrets"].as_array().unwrap().is_empty());
    for (id, t) in &families {
        assert_eq!(status(&app, t, *id).await, "exited");
        let m = messages(&app, *id, "recheck_failed").await;
        assert_eq!(m.len(), 1);
        assert!(m[0].contains("复核"), "{}", m[0]);
    }
    let d = app.get(&r(""), Some(&o.bureau)).await.expect(200).clone();
    assert!(
        d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "failed_recheck"
                && e["explanation"].as_str().is_some_and(|x| !x.is_empty()))
    );
    assert!(d["next_in_turn"].is_null());
}

#[tokio::test]
async fn a_unit_is_never_let_twice_under_concurrent_offers_and_acceptances() {
    let app = Arc::new(TestApp::spawn().await);
    let o = office(&app).await;
    import(&app, &o.bureau, &stock(1)).await.expect(201);
    let families = waitlisted(&app, &o, 2, 41).await;
    let round = new_round(&app, &o, "score", 1).await;
    open_and_register(&app, &o, round, &families).await;
    app.clock.advance(Duration::days(2));
    app.post(
        &format!("/api/v1/rounds/{round}/close-registration"),
        Some(&o.bureau),
        &json!({}),
    )
    .await
    .expect(200);
    let d = app
        .get(&format!("/api/v1/rounds/{round}"), Some(&o.bureau))
        .await;
    let first = d.expect(200)["next_in_turn"]["application_id"]
        .as_i64()
        .unwrap();
    let unit = d.body["units"][0]["id"].as_i64().unwrap();
    // Eight offers of the one unit at once.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, token) = (app.clone(), o.bureau.clone());
        tasks.push(tokio::spawn(async move {
            app.post(
                &format!("/api/v1/rounds/{round}/offers"),
                Some(&token),
                &json!({ "application_id": first, "unit_id": unit }),
            )
            .await
            .status
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 409), "{codes:?}");
    // Eight acceptances at once.
    let token = families
        .iter()
        .find(|(id, _)| *id == first)
        .unwrap()
        .1
        .clone();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            app.post(
                &format!("/api/v1/applications/{first}/offer/accept"),
                Some(&token),
                &json!({}),
            )
            .await
            .status
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    let lets = unit_event::Entity::find()
        .filter(unit_event::Column::UnitId.eq(unit))
        .filter(unit_event::Column::ToStatus.eq(UnitStatus::Let))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(lets, 1);
    let accepts = application_event::Entity::find()
        .filter(application_event::Column::Action.eq(entity::enums::CaseAction::AcceptOffer))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(accepts, 1);
    // Behind the conditional updates, the database itself refuses a second live offer.
    let second = families.iter().find(|(id, _)| *id != first).unwrap().0;
    let forged = unit_offer::Entity::insert(unit_offer::ActiveModel {
        round_id: Set(round),
        entry_id: Set(1),
        application_id: Set(second),
        unit_id: Set(unit),
        status: Set(OfferStatus::Open),
        live_marker: Set(Some(1)),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .exec(&app.state.db)
    .await;
    assert!(
        forged.is_err(),
        "a unit has one live offer or lease at most"
    );
}

/// The whole round on the web pages, as the bureau and a household would use them: the
/// stock imported (a bad file answered with every bad cell and nothing written), a round
/// created and published, the household registering and accepting on its case page, the
/// secrets shown once, the draw, the offer, and the public ranking.
#[tokio::test]
async fn the_bureau_and_a_household_run_a_round_on_the_web_pages() {
    use crate::web::{Browser, summary};
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let families = waitlisted(&app, &o, 1, 61).await;
    let (case, _) = families[0].clone();
    let mut bureau = Browser::new(&app);
    bureau.get("/login").await;
    bureau
        .post(
            "/login",
            &[
                ("login", "b@nanguan.test"),
                ("password", PASSWORD),
                ("next", "/staff/units"),
            ],
        )
        .await;
    bureau.get("/staff/units").await;
    assert_eq!(bureau.status, 200, "{}", bureau.html);
    let bad = format!("{HEADER}南关安居小区,1号楼,101,别墅,45.5,1,1,136.50,否\n");
    bureau
        .post_multipart("/staff/units/import", &[("file", &bad)])
        .await;
    assert_eq!(bureau.status, 422);
    assert!(
        summary(&bureau.html)
            .iter()
            .any(|(_, t)| t.contains("line 2 column D")),
        "{}",
        bureau.html
    );
    assert_eq!(app.count(housing_unit::Entity).await, 0);
    bureau
        .post_multipart("/staff/units/import", &[("file", &stock(2))])
        .await;
    assert_eq!(bureau.status, 200);
    assert!(bureau.html.contains("已导入 2"), "{}", bureau.html);

    bureau.get("/staff/rounds").await;
    let today = anju::clock::local_date(anju::clock::Clock::now(&app.clock));
    let closes = (today + Duration::days(3)).to_string();
    // A missing date comes back with the form and names the field.
    bureau
        .post(
            "/staff/rounds",
            &[
                ("name", "网页方案"),
                ("method", "lottery"),
                ("groups", "public_rental"),
                ("intent_opens_on", &today.to_string()),
            ],
        )
        .await;
    assert_eq!(bureau.status, 422);
    assert!(
        summary(&bureau.html)
            .iter()
            .any(|(h, _)| h == "#f-intent_closes_on")
    );
    bureau
        .post(
            "/staff/rounds",
            &[
                ("name", "网页方案"),
                ("method", "lottery"),
                ("groups", "public_rental"),
                ("intent_opens_on", &today.to_string()),
                ("intent_closes_on", &closes),
                ("projects", "南关安居小区"),
            ],
        )
        .await;
    let round_path = bureau.path().to_string();
    assert!(round_path.starts_with("/staff/rounds/"), "{round_path}");
    bureau.post(&format!("{round_path}/publish"), &[]).await;
    assert!(bureau.html.contains("意向登记中"), "{}", bureau.html);

    // The household registers on its case page.
    let mut family = Browser::new(&app);
    family.get("/login").await;
    family
        .post(
            "/login",
            &[
                ("login", "13700000061"),
                ("password", PASSWORD),
                ("next", "/applications"),
            ],
        )
        .await;
    family.get(&format!("/applications/{case}")).await;
    assert!(family.html.contains("登记配租意向"), "{}", family.html);
    let round_id = round_path.rsplit('/').next().unwrap().to_string();
    family
        .post(
            &format!("/applications/{case}/intent"),
            &[("round_id", &round_id)],
        )
        .await;
    assert!(family.html.contains("已登记意向"), "{}", family.html);

    app.clock.advance(Duration::days(4));
    bureau.get(&round_path).await;
    bureau
        .post(&format!("{round_path}/close-registration"), &[])
        .await;
    assert!(
        bureau.html.contains("仅显示这一次"),
        "the secrets are shown once"
    );
    let secrets: Vec<String> = bureau
        .html
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_string())
        .collect();
    assert_eq!(secrets.len(), 2);
    bureau.get(&round_path).await;
    assert!(!bureau.html.contains(&secrets[0]), "not shown again");
    bureau
        .post(
            &format!("{round_path}/draw"),
            &[
                ("secret1", &secrets[0]),
                ("secret2", "wrong"),
                ("public_value", "17"),
            ],
        )
        .await;
    assert_eq!(bureau.status, 422);
    assert!(
        summary(&bureau.html)
            .iter()
            .any(|(h, _)| h == "#f-secrets-1"),
        "{}",
        bureau.html
    );
    bureau
        .post(
            &format!("{round_path}/draw"),
            &[
                ("secret1", &secrets[0]),
                ("secret2", &secrets[1]),
                ("public_value", "17"),
            ],
        )
        .await;
    assert!(bureau.html.contains("选房"), "{}", bureau.html);
    let unit = crate::web::attr_after(&bureau.html, "<option value=\"").unwrap();
    bureau
        .post(
            &format!("{round_path}/offer"),
            &[("application_id", &case.to_string()), ("unit_id", &unit)],
        )
        .await;
    assert_eq!(bureau.status, 200, "{}", bureau.html);

    family.get(&format!("/applications/{case}")).await;
    assert!(family.html.contains("为您提供的房源"), "{}", family.html);
    family
        .post(
            &format!("/applications/{case}/offer"),
            &[("answer", "accept")],
        )
        .await;
    assert!(family.html.contains("已配租房源"), "{}", family.html);
    assert_eq!(messages(&app, case, "unit_allocated").await.len(), 1);

    // Anyone sees the ranking with the name masked; a household may not use the desk.
    let mut anyone = Browser::new(&app);
    anyone.get(&format!("/rounds/{round_id}")).await;
    assert_eq!(anyone.status, 200);
    assert!(
        anyone.html.contains("赵*身") && !anyone.html.contains("赵单身"),
        "{}",
        anyone.html
    );
    family.get("/staff/rounds").await;
    assert_eq!(family.status, 403);
    bureau.get(&format!("{round_path}/roster.csv")).await;
    assert_eq!(bureau.status, 200);
    assert!(!bureau.html.contains("赵单身"), "masked by default");
    bureau
        .get(&format!("{round_path}/roster.xlsx?full=yes&purpose="))
        .await;
    assert_eq!(bureau.status, 422);
    assert!(
        summary(&bureau.html).iter().any(|(h, _)| h == "#f-purpose"),
        "{}",
        bureau.html
    );
}

/// Approved, waiting households filed from these forms (mobiles 1370000{first+i}).
async fn waitlisted_forms(
    app: &TestApp,
    o: &Office,
    forms: &[Value],
    first: u32,
) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for (i, form) in forms.iter().enumerate() {
        let mobile = format!("1370000{:04}", first + i as u32);
        let t = app.applicant(&mobile).await;
        let id = app.file(&t, form).await["application_id"].as_i64().unwrap();
        crate::batches::accept_and_pass(app, o, id).await;
        out.push((id, t));
    }
    crate::batches::close_notices(app, o).await;
    let ids: Vec<i64> = out.iter().map(|(id, _)| *id).collect();
    approve_all(app, o, &ids).await;
    out
}

#[tokio::test]
async fn a_score_round_ranks_by_points_then_waiting_number_and_a_barred_decline_keeps_the_household_out()
 {
    use crate::fixtures::{id_number, set, single_household};
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    import(&app, &o.bureau, &stock(3)).await.expect(201);
    let plain = |seq| single_household(&id_number("410104", "19800101", seq));
    let mut disabled = plain(83);
    set(&mut disabled, "members[0].disabled", json!(true));
    let families = waitlisted_forms(&app, &o, &[plain(81), disabled, plain(85)], 81).await;
    // From tomorrow, declining bars a household for 24 months.
    let today = anju::clock::local_date(anju::clock::Clock::now(&app.clock));
    let mut policy = app
        .get("/api/v1/policies/zz-gzf-2015.1", None)
        .await
        .expect(200)["document"]
        .clone();
    policy["version"] = json!("zz-gzf-2026.bar");
    policy["effective_from"] = json!((today + Duration::days(1)).to_string());
    policy["allocation"] = json!({ "decline_penalty": "bar", "decline_bar_months": 24 });
    let published = app.post("/api/v1/policies", Some(&o.admin), &policy).await;
    assert_eq!(published.status, 201, "{}", published.body);
    let round = new_round(&app, &o, "score", 1).await;
    let r = |p: &str| format!("/api/v1/rounds/{round}{p}");
    open_and_register(&app, &o, round, &families).await;
    app.clock.advance(Duration::days(2));
    app.post(&r("/close-registration"), Some(&o.bureau), &json!({}))
        .await
        .expect(200);
    let d = app.get(&r(""), Some(&o.bureau)).await.expect(200).clone();
    let order: Vec<(i64, i64, i64)> = d["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["application_id"].as_i64().unwrap(),
                e["rank"].as_i64().unwrap(),
                e["score"].as_i64().unwrap(),
            )
        })
        .collect();
    let (a, b, c) = (families[0].0, families[1].0, families[2].0);
    // The disabled member's 10 points first; the two level households by waiting number.
    assert_eq!(order, vec![(b, 1, 10), (a, 2, 0), (c, 3, 0)]);
    assert!(messages(&app, b, "ranking_published").await[0].contains("第 1 位"));

    let units: Vec<i64> = d["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    app.post(
        &r("/offers"),
        Some(&o.bureau),
        &json!({ "application_id": b, "unit_id": units[0] }),
    )
    .await
    .expect(201);
    // The bureau records B's answer at the desk: declined.
    let declined = app
        .post(
            &format!("/api/v1/applications/{b}/offer/decline"),
            Some(&o.bureau),
            &json!({}),
        )
        .await;
    let until = (today + Duration::days(2))
        .checked_add_months(chrono::Months::new(24))
        .unwrap();
    assert_eq!(declined.expect(200)["barred_until"], until.to_string());
    assert!(
        declined.body["waitlist_number"].is_null(),
        "a bar keeps the number"
    );
    assert!(messages(&app, b, "offer_declined").await[0].contains(&until.to_string()));
    let next = app.get(&r(""), Some(&o.bureau)).await.expect(200)["next_in_turn"]["application_id"]
        .clone();
    assert_eq!(next, a, "the turn passes to the next household");
    // A reviewer may not offer units; a unit outside the round is named; then A is
    // offered one and withdraws: the offer ends and the unit is free again.
    let by_reviewer = app
        .post(
            &r("/offers"),
            Some(&o.reviewer),
            &json!({ "application_id": a, "unit_id": units[1] }),
        )
        .await;
    assert_eq!(by_reviewer.status, 403);
    let outside = app
        .post(
            &r("/offers"),
            Some(&o.bureau),
            &json!({ "application_id": a, "unit_id": 999_999 }),
        )
        .await;
    assert_eq!(outside.field_codes()[0].0, "unit_id");
    app.post(
        &r("/offers"),
        Some(&o.bureau),
        &json!({ "application_id": a, "unit_id": units[1] }),
    )
    .await
    .expect(201);
    app.post(
        &format!("/api/v1/applications/{a}/withdraw"),
        Some(&families[0].1),
        &json!({}),
    )
    .await
    .expect(200);
    let unit = app
        .get(&format!("/api/v1/units/{}", units[1]), Some(&o.bureau))
        .await;
    assert_eq!(unit.expect(200)["unit"]["status"], "available");
    let own = app
        .get(
            &format!("/api/v1/applications/{a}/allocation"),
            Some(&families[0].1),
        )
        .await;
    assert_eq!(own.expect(200)["offers"][0]["offer"]["status"], "ended");
    let next = app.get(&r(""), Some(&o.bureau)).await.expect(200)["next_in_turn"]["application_id"]
        .clone();
    assert_eq!(next, c, "the withdrawn household's turn has passed");
    let d = app.get(&r(""), Some(&o.bureau)).await.expect(200).clone();
    let left = d["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["application_id"] == a)
        .unwrap()["status"]
        .clone();
    assert_eq!(left, "left");
    assert_eq!(d["report"]["left"], 1);
    // A barred household can join no round before the day.
    let later = new_round(&app, &o, "score", 3).await;
    app.post(
        &format!("/api/v1/rounds/{later}/publish"),
        Some(&o.bureau),
        &json!({}),
    )
    .await
    .expect(200);
    let refused = app
        .post(
            &format!("/api/v1/applications/{b}/intent"),
            Some(&families[1].1),
            &json!({ "round_id": later }),
        )
        .await;
    assert_eq!(refused.expect(409)["code"], "barred");
    // It was not invited to the later round, and its case page offers no round.
    assert_eq!(messages(&app, b, "round_opened").await.len(), 1);
    assert_eq!(messages(&app, c, "round_opened").await.len(), 2);
    let own = app
        .get(
            &format!("/api/v1/applications/{b}/allocation"),
            Some(&families[1].1),
        )
        .await;
    assert!(
        own.expect(200)["open_rounds"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let funnel = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    assert_eq!(
        funnel.expect(200)["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "allocated")
            .unwrap()["count"],
        0
    );
}
