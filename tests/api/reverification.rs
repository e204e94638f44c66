//! The annual re-verification (年审) across a year on the injectable clock: reminders,
//! declarations re-checked by the engine, exits (failed, not declared, for cause), an
//! exit appealed and overturned, and the funnel and e-mails showing each.

use anju::applications::reverification::{Tick, tick};
use anju::clock::Clock;
use chrono::{Days, Months, NaiveDate};
use entity::outbox_message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::batches::{
    accept_and_pass, approve_all, close_notices, new_batch, new_batch_in, office, ready_cases,
    seal_submit_ack,
};
use crate::fixtures::set;
use crate::helpers::{PASSWORD, TestApp, act, outcome, version};

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

/// Moves the clock to 10:00 in Zhengzhou on `day`.
fn go_to(app: &TestApp, day: NaiveDate) {
    let target = day.and_hms_opt(2, 0, 0).unwrap().and_utc();
    app.clock.advance(target - app.clock.now());
}

async fn declare(app: &TestApp, token: &str, id: i64, form: &Value) -> crate::helpers::Answer {
    let v = version(app, token, id).await;
    app.post(
        &format!("/api/v1/applications/{id}/reverification"),
        Some(token),
        &json!({ "version": v, "form": form }),
    )
    .await
}

#[tokio::test]
async fn a_year_of_reverification_reminds_rechecks_and_exits_as_the_policy_says() {
    // Sign-ins outlive the year and more this test spans.
    let app = TestApp::spawn_with(|s| s.token_ttl_minutes = 3 * 366 * 24 * 60).await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 3, 1).await;
    approve_all(&app, &o, &ids).await;
    // The first 年审 falls due a year after approval.
    let approved = anju::clock::local_date(app.clock.now());
    let due = approved + Months::new(12);
    let mut families = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let token = app.token(&format!("1370000{:04}", 1 + i), PASSWORD).await;
        let case = app
            .get(&format!("/api/v1/applications/{id}"), Some(&token))
            .await;
        let case = case.expect(200).clone();
        assert_eq!(case["status"], "waitlisted");
        assert_eq!(case["reverify_due_on"], due.to_string());
        families.push((*id, token, case["form"].clone()));
    }
    let (kept, failed, silent) = (&families[0], &families[1], &families[2]);
    assert_eq!(
        tick(&app.state).await.unwrap(),
        Tick::default(),
        "nothing due yet"
    );

    // 28 days before the day: each household is reminded once, however often the ticker runs.
    go_to(&app, due - Days::new(28));
    assert_eq!(
        tick(&app.state).await.unwrap(),
        Tick {
            reminded: 3,
            exited: 0
        }
    );
    assert_eq!(tick(&app.state).await.unwrap(), Tick::default());
    let reminder = messages(&app, kept.0, "reverification_reminder").await;
    assert_eq!(reminder.len(), 1);
    assert!(reminder[0].contains(&due.to_string()), "{}", reminder[0]);

    // The first declares the same household: it continues, next due a year on.
    let r = declare(&app, &kept.1, kept.0, &kept.2).await;
    let body = r.expect(200);
    assert_eq!(body["continued"], true);
    let next = (due + Months::new(12)).to_string();
    assert_eq!(body["next_due_on"], next);
    assert_eq!(body["application"]["status"], "waitlisted");
    assert!(messages(&app, kept.0, "reverification_outcome").await[0].contains(&next));

    // A declaration with a bad field is refused whole, naming it; nothing changes.
    let mut bad = failed.2.clone();
    set(&mut bad, "members[0].annual_income_fen", json!(-5));
    let before = version(&app, &failed.1, failed.0).await;
    let refused = declare(&app, &failed.1, failed.0, &bad).await;
    assert_eq!(
        version(&app, &failed.1, failed.0).await,
        before,
        "nothing written"
    );
    assert!(
        messages(&app, failed.0, "reverification_outcome")
            .await
            .is_empty()
    );
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .field_codes()
            .iter()
            .any(|(f, _)| f.contains("annual_income_fen")),
        "{:?}",
        refused.body
    );
    // The second's income has risen past the limit: it leaves, told why, and appeals.
    let mut richer = failed.2.clone();
    set(
        &mut richer,
        "members[0].annual_income_fen",
        json!(90_000_000),
    );
    let r = declare(&app, &failed.1, failed.0, &richer).await;
    let body = r.expect(200);
    assert_eq!(body["continued"], false);
    assert_eq!(body["application"]["status"], "exited");
    let rules = body["application"]["eligibility"]["rules"]
        .as_array()
        .unwrap();
    assert!(
        rules.iter().any(|r| r["outcome"] == "fail"),
        "the decision explains the exit"
    );
    let told = messages(&app, failed.0, "reverification_outcome").await;
    assert!(told[0].contains("复核"), "{}", told[0]);
    let v = version(&app, &failed.1, failed.0).await;
    let appealed = app
        .post(
            &format!("/api/v1/applications/{}/appeal", failed.0),
            Some(&failed.1),
            &json!({ "version": v, "reasons": "收入为一次性补发" }),
        )
        .await;
    assert_eq!(appealed.expect(201)["application"]["status"], "appeal_exit");
    let v = version(&app, &o.reviewer, failed.0).await;
    let back = act(
        &app,
        &o.reviewer,
        failed.0,
        json!({ "action": "overturn_appeal", "version": v, "comment": "补发工资不计入年收入" }),
    )
    .await;
    let back = back.expect(200);
    assert_eq!(back["status"], "waitlisted");
    assert_eq!(
        back["reverify_due_on"],
        (due - Days::new(28) + Months::new(12)).to_string()
    );

    // The third never declares: reminded again the day after, and out after the grace.
    go_to(&app, due + Days::new(1));
    assert_eq!(
        tick(&app.state).await.unwrap(),
        Tick {
            reminded: 1,
            exited: 0
        }
    );
    assert_eq!(
        messages(&app, silent.0, "reverification_reminder")
            .await
            .len(),
        2
    );
    go_to(&app, due + Days::new(31)); // past the day + 30 days' grace
    assert_eq!(
        tick(&app.state).await.unwrap(),
        Tick {
            reminded: 0,
            exited: 1
        }
    );
    let gone = app
        .get(
            &format!("/api/v1/applications/{}", silent.0),
            Some(&silent.1),
        )
        .await;
    let gone = gone.expect(200);
    assert_eq!(gone["status"], "exited");
    let last = gone["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "exit_no_declaration");
    assert_eq!(last["reason_code"], "no_declaration");
    assert!(messages(&app, silent.0, "reverification_outcome").await[0].contains("逾期未申报"));

    // Staff record another ground: only a supervisor or the bureau, with a reason and evidence.
    let v = version(&app, &o.reviewer, kept.0).await;
    let by_reviewer = act(&app, &o.reviewer, kept.0, json!({ "action": "exit_for_cause", "version": v, "reason_code": "unit_vacant", "comment": "2027年5月至11月水电为零" })).await;
    assert_eq!(by_reviewer.status, 403);
    let no_reason = act(
        &app,
        &o.supervisor,
        kept.0,
        json!({ "action": "exit_for_cause", "version": v, "comment": "x" }),
    )
    .await;
    assert_eq!(no_reason.status, 422);
    let out = act(&app, &o.supervisor, kept.0, json!({ "action": "exit_for_cause", "version": v, "reason_code": "unit_vacant", "comment": "2027年5月至11月水电为零" })).await;
    assert_eq!(out.expect(200)["status"], "exited");

    let report = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    let report = report.expect(200);
    assert_eq!(outcome(report, "reverified"), 1);
    assert_eq!(outcome(report, "exited"), 3);
    assert_eq!(outcome(report, "appeal_overturned"), 1);
}

#[tokio::test]
async fn a_low_rent_household_whose_income_rose_continues_in_public_rental_housing() {
    let app = TestApp::spawn_with(|s| s.token_ttl_minutes = 2 * 366 * 24 * 60).await;
    let o = office(&app).await;
    // A single person at 1,500 yuan a month in 12 m²: low-rent housing.
    let token = app.applicant("13700009001").await;
    let mut form =
        crate::fixtures::single_household(&crate::fixtures::id_number("410104", "19750101", 901));
    set(&mut form, "programme", json!("low_rent"));
    set(&mut form, "members[0].annual_income_fen", json!(1_800_000));
    set(
        &mut form,
        "housing",
        json!([{ "address": "郑州市管城区南关街 2 号", "area_m2": 12.0, "nature": "rented_private" }]),
    );
    let r = app.file(&token, &form).await;
    assert_eq!(r["status"], "eligible", "{r}");
    let id = r["application_id"].as_i64().unwrap();
    accept_and_pass(&app, &o, id).await;
    close_notices(&app, &o).await;
    let batch = new_batch_in(&app, &o, "low_rent", &[id]).await;
    seal_submit_ack(&app, &o, batch).await;
    app.post(
        &format!("/api/v1/batches/{batch}/decisions"),
        Some(&o.bureau),
        &json!({ "items": [{ "application_id": id, "decision": "approve" }] }),
    )
    .await
    .expect(200);
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    let case = case.expect(200).clone();
    assert_eq!(case["status"], "waitlisted");
    assert_eq!(case["waitlist_number"], 1, "first on the low-rent list");
    // Someone is already on the public-rental list.
    let others = ready_cases(&app, &o, 1, 40).await;
    let b2 = new_batch(&app, &o, &others).await;
    seal_submit_ack(&app, &o, b2).await;
    app.post(
        &format!("/api/v1/batches/{b2}/decisions"),
        Some(&o.bureau),
        &json!({ "items": [{ "application_id": others[0], "decision": "approve" }] }),
    )
    .await
    .expect(200);

    // A year on, 2,000 yuan a month: over the low-rent limit, within public rental's.
    go_to(
        &app,
        NaiveDate::parse_from_str(case["reverify_due_on"].as_str().unwrap(), "%Y-%m-%d").unwrap()
            - Days::new(5),
    );
    let mut declared = case["form"].clone();
    set(
        &mut declared,
        "members[0].annual_income_fen",
        json!(2_400_000),
    );
    let answer = declare(&app, &token, id, &declared).await;
    let body = answer.expect(200).clone();
    assert_eq!(body["continued"], true);
    assert_eq!(body["adjusted_to"], "public_rental");
    let after = &body["application"];
    assert_eq!(after["status"], "waitlisted");
    assert_eq!(after["form"]["programme"], "public_rental");
    assert_eq!(
        after["waitlist_number"], 2,
        "the end of the public-rental list, after the one already there"
    );
    assert_eq!(
        after["events"].as_array().unwrap().last().unwrap()["action"],
        "adjust_reverification"
    );
    assert_eq!(after["eligibility"]["eligible"], true);
    let mail = messages(&app, id, "reverification_outcome").await;
    assert!(
        mail.iter()
            .any(|m| m.contains("转为公租房保障") && m.contains("轮候号 2")),
        "{mail:?}"
    );
    let funnel = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    assert_eq!(outcome(funnel.expect(200), "reverified"), 1);
    assert_eq!(outcome(&funnel.body, "exited"), 0);

    // Over public rental's limit too: the household leaves, nothing is adjusted.
    let mut too_much = after["form"].clone();
    set(
        &mut too_much,
        "members[0].annual_income_fen",
        json!(9_000_000),
    );
    let left = declare(&app, &token, id, &too_much).await;
    assert_eq!(left.expect(200)["continued"], false);
    assert!(left.body.get("adjusted_to").is_none(), "{}", left.body);
    assert_eq!(left.body["application"]["status"], "exited");
}
