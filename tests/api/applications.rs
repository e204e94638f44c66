use entity::{application, application_event, duplicate_flag, outbox_message};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixtures::*;
use crate::helpers::TestApp;

async fn outbox_for(app: &TestApp, id: i64) -> Vec<outbox_message::Model> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::ApplicationId.eq(id))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_applicant_drafts_fixes_every_listed_error_submits_once_and_follows_the_case() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let mut form = household();
    set(
        &mut form,
        "members[0].id_number",
        json!("410104198507150038"),
    );
    set(&mut form, "members[1].gender", json!("male"));
    set(&mut form, "contact_mobile", json!("12345"));
    set(&mut form, "declaration_truthful", json!(false));
    let (id, version) = app.draft(&token, &form).await;

    let first = app.submit(&token, id, "k1", &json!({})).await;
    first.expect(422);
    let mut fields = first.field_codes();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("contact_mobile".into(), "invalid_mobile".into()),
            ("declaration_truthful".into(), "must_be_true".into()),
            ("members[0].id_number".into(), "invalid_checksum".into()),
            ("members[1].gender".into(), "gender_mismatch".into()),
        ]
    );
    let unchanged = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    assert_eq!(unchanged.expect(200)["status"], "draft");
    assert!(unchanged.body["number"].is_null());
    assert_eq!(app.count(application_event::Entity).await, 0);
    assert_eq!(app.count(outbox_message::Entity).await, 0);

    let fixed = json!({
        "members": household()["members"],
        "contact_mobile": "138 0000 1111",
        "declaration_truthful": true,
    });
    let patched = app
        .patch(
            &token,
            &format!("/api/v1/applications/{id}"),
            version,
            &fixed,
        )
        .await;
    assert_eq!(patched.expect(200)["version"], version + 1);

    let receipt = app
        .submit(&token, id, "k2", &json!({ "version": version + 1 }))
        .await;
    let body = receipt.expect(201);
    let number = body["number"].as_str().unwrap().to_string();
    assert_eq!(number, "410104003-2026-000001");
    assert_eq!(body["status"], "eligible");
    assert_eq!(body["community_code"], COMMUNITY);

    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    let case = case.expect(200);
    assert_eq!(case["number"], number.as_str());
    assert_eq!(case["form"]["contact_mobile"], "13800001111");
    assert_eq!(case["member_facts"][0]["birth_date"], "1985-07-15");
    let events = case["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["action"], "submit");
    assert_eq!(events[0]["from_status"], "draft");
    assert_eq!(events[0]["to_status"], "submitted");
    assert_eq!(events[1]["action"], "pass_eligibility");
    assert_eq!(events[1]["to_status"], "eligible");
    assert!(events[1]["actor_id"].is_null());
    assert_eq!(events[1]["policy_version"], "zz-gzf-2015.1");
    assert!(case["next_step"].as_str().unwrap().contains("受理"));
    assert_eq!(case["duplicates"], json!([]));
    assert_eq!(case["eligibility"]["eligible"], true);

    let receipts = outbox_for(&app, id).await;
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[1].kind, "eligibility_result");
    let r = &receipts[0];
    assert_eq!(r.kind, "submission_receipt");
    assert_eq!(r.recipient.as_deref(), Some("wang@example.com"));
    assert_eq!(r.status.as_str(), "pending");
    assert!(r.subject.contains(&number));
    assert!(r.body_text.contains(&number) && r.body_text.contains("惠工街社区"));
    for text in [&r.subject, &r.body_text, &r.body_html] {
        assert!(
            !text.contains(APPLICANT_ID),
            "an identity number leaked into the receipt"
        );
    }
    assert_eq!(r.event_id, Some(events[0]["id"].as_i64().unwrap()));
}

/// Each row: a change to a valid household, and the field path and code the 422 must name.
type Change = Box<dyn Fn(&mut Value)>;

fn bad_inputs() -> Vec<(&'static str, Change, &'static str, &'static str)> {
    let s = |p: &'static str, v: Value| -> Change { Box::new(move |f| set(f, p, v.clone())) };
    let r = |p: &'static str| -> Change { Box::new(move |f| remove(f, p)) };
    let legacy_female_1950_02_30 = id_number("410104", "19500230", 2);
    let future = id_number("410104", "20990101", 3);
    vec![
        ("programme missing", r("programme"), "programme", "required"),
        (
            "class missing",
            r("applicant_class"),
            "applicant_class",
            "required",
        ),
        (
            "community missing",
            r("community_code"),
            "community_code",
            "required",
        ),
        (
            "community unknown",
            s("community_code", json!("NOPE")),
            "community_code",
            "unknown_community",
        ),
        (
            "community is a sub-district",
            s("community_code", json!("410104003")),
            "community_code",
            "not_a_community",
        ),
        ("filed_at missing", r("filed_at"), "filed_at", "required"),
        (
            "mobile missing",
            r("contact_mobile"),
            "contact_mobile",
            "required",
        ),
        (
            "mobile bad",
            s("contact_mobile", json!("2345678901")),
            "contact_mobile",
            "invalid_mobile",
        ),
        (
            "landline as mobile",
            s("contact_mobile", json!("037166668888")),
            "contact_mobile",
            "invalid_mobile",
        ),
        (
            "email bad",
            s("contact_email", json!("wang@")),
            "contact_email",
            "invalid_email",
        ),
        (
            "no consent",
            s("consent_verification", json!(false)),
            "consent_verification",
            "must_be_true",
        ),
        (
            "consent missing",
            r("consent_verification"),
            "consent_verification",
            "must_be_true",
        ),
        (
            "no declaration",
            s("declaration_truthful", json!(false)),
            "declaration_truthful",
            "must_be_true",
        ),
        ("no members", s("members", json!([])), "members", "required"),
        (
            "two applicants",
            s("members[1].relationship", json!("applicant")),
            "members",
            "applicant_count",
        ),
        (
            "no applicant",
            s("members[0].relationship", json!("parent")),
            "members",
            "applicant_count",
        ),
        (
            "two spouses",
            s("members[2].relationship", json!("spouse")),
            "members",
            "spouse_count",
        ),
        (
            "name empty",
            s("members[1].name", json!("  ")),
            "members[1].name",
            "required",
        ),
        (
            "name of 1000 characters",
            s("members[2].name", json!("王".repeat(1000))),
            "members[2].name",
            "too_long",
        ),
        (
            "name with control characters",
            s("members[0].name", json!("王\u{0007}明")),
            "members[0].name",
            "control_characters",
        ),
        (
            "id missing",
            r("members[1].id_number"),
            "members[1].id_number",
            "required",
        ),
        (
            "id checksum",
            s("members[0].id_number", json!("410104198507150038")),
            "members[0].id_number",
            "invalid_checksum",
        ),
        (
            "id too short",
            s("members[2].id_number", json!("41010419850715")),
            "members[2].id_number",
            "invalid_format",
        ),
        (
            "id with letters",
            s("members[2].id_number", json!("41010419850715A037")),
            "members[2].id_number",
            "invalid_format",
        ),
        (
            "id impossible date",
            s("members[0].id_number", json!(legacy_female_1950_02_30)),
            "members[0].id_number",
            "invalid_birth_date",
        ),
        (
            "id born in the future",
            s("members[2].id_number", json!(future)),
            "members[2].id_number",
            "birth_date_out_of_range",
        ),
        (
            "same person twice",
            s("members[2].id_number", json!(APPLICANT_ID)),
            "members[2].id_number",
            "duplicate_in_household",
        ),
        (
            "gender mismatch",
            s("members[0].gender", json!("female")),
            "members[0].gender",
            "gender_mismatch",
        ),
        (
            "gender missing",
            r("members[0].gender"),
            "members[0].gender",
            "required",
        ),
        (
            "married with spouse but single",
            s("members[0].marital_status", json!("single")),
            "members[0].marital_status",
            "marital_status_conflict",
        ),
        (
            "hukou city missing",
            r("members[1].hukou_city"),
            "members[1].hukou_city",
            "required",
        ),
        (
            "hukou since in the future",
            s("members[1].hukou_since", json!("2099-01-01")),
            "members[1].hukou_since",
            "in_the_future",
        ),
        (
            "hukou before birth",
            s("members[2].hukou_since", json!("2000-01-01")),
            "members[2].hukou_since",
            "before_birth",
        ),
        (
            "income missing",
            r("members[0].annual_income_fen"),
            "members[0].annual_income_fen",
            "required",
        ),
        (
            "income negative",
            s("members[0].annual_income_fen", json!(-1)),
            "members[0].annual_income_fen",
            "out_of_range",
        ),
        (
            "income 10^15 fen",
            s(
                "members[0].annual_income_fen",
                json!(1_000_000_000_000_000_i64),
            ),
            "members[0].annual_income_fen",
            "out_of_range",
        ),
        (
            "income as a string",
            s("members[0].annual_income_fen", json!("3600000")),
            "members[0].annual_income_fen",
            "invalid_type",
        ),
        (
            "income as a float",
            s("members[0].annual_income_fen", json!(36000.5)),
            "members[0].annual_income_fen",
            "invalid_type",
        ),
        (
            "dibao without date",
            s("members[0].dibao_certificate", json!("DB-2024-1")),
            "members[0].dibao_since",
            "required",
        ),
        (
            "pension months over 36",
            s("members[0].pension_months", json!(40)),
            "members[0].pension_months",
            "out_of_range",
        ),
        (
            "area 10,000 m2",
            s("housing[0].area_m2", json!(10000)),
            "housing[0].area_m2",
            "out_of_range",
        ),
        (
            "area zero",
            s("housing[0].area_m2", json!(0)),
            "housing[0].area_m2",
            "out_of_range",
        ),
        (
            "area with three decimals",
            s("housing[0].area_m2", json!(32.505)),
            "housing[0].area_m2",
            "too_precise",
        ),
        (
            "housing nature unknown",
            s("housing[0].nature", json!("castle")),
            "housing[0].nature",
            "invalid_type",
        ),
        (
            "housing address missing",
            r("housing[0].address"),
            "housing[0].address",
            "required",
        ),
        (
            "transfer date in the future",
            s(
                "transfers",
                json!([{ "address": "a", "area_m2": 50, "date": "2099-01-01", "kind": "transferred" }]),
            ),
            "transfers[0].date",
            "in_the_future",
        ),
        (
            "deposits 10^15 fen",
            s("assets.deposits_fen", json!(1_000_000_000_000_000_i64)),
            "assets.deposits_fen",
            "out_of_range",
        ),
        (
            "no id card",
            s("documents", json!(["hukou_book"])),
            "documents",
            "id_card_required",
        ),
        (
            "document not for class",
            s("documents", json!(["id_card", "labour_contract"])),
            "documents[1]",
            "not_for_class",
        ),
        (
            "unknown field",
            s("members[0].nickname", json!("x")),
            "members[0]",
            "invalid_type",
        ),
        (
            "programme unknown",
            s("programme", json!("castle")),
            "programme",
            "invalid_type",
        ),
        (
            "migrant without pension months",
            s("applicant_class", json!("migrant")),
            "members[0].pension_months",
            "required_for_migrant",
        ),
    ]
}

#[tokio::test]
async fn every_bad_input_is_reported_with_its_field_path_and_code_and_nothing_is_submitted() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let cases = bad_inputs();
    assert!(cases.len() >= 30);
    for (i, (name, change, field, code)) in cases.into_iter().enumerate() {
        let mut form = household();
        change(&mut form);
        // A draft takes what it can; whatever it refuses, or submission refuses, must
        // name the field.
        let created = app.post("/api/v1/applications", Some(&token), &form).await;
        let answer = if created.status.as_u16() == 201 {
            let id = created.body["id"].as_i64().unwrap();
            let answer = app
                .submit(&token, id, &format!("bad-{i}"), &json!({}))
                .await;
            // Clear the draft away: an account keeps at most 20 open.
            let del = app
                .client
                .delete(format!("/api/v1/applications/{id}"))
                .header("Authorization", format!("Bearer {token}"))
                .header("If-Match", created.body["version"].to_string())
                .send()
                .await;
            assert_eq!(del.0.status(), 204, "{name}");
            answer
        } else {
            created
        };
        assert_eq!(answer.status.as_u16(), 422, "{name}: {}", answer.body);
        let codes = answer.field_codes();
        if code == "invalid_type" {
            // serde names the field it stopped at; the path must point into it.
            assert!(
                codes.iter().any(|(f, c)| c == code && f.starts_with(field)),
                "{name}: {codes:?}"
            );
        } else {
            assert!(
                codes.contains(&(field.to_string(), code.to_string())),
                "{name}: {codes:?}"
            );
        }
        assert!(
            answer.body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["message"].as_str().is_some_and(|m| !m.is_empty()))
        );
    }
    assert_eq!(app.count(application_event::Entity).await, 0);
    assert_eq!(app.count(outbox_message::Entity).await, 0);
    let submitted = application::Entity::find()
        .filter(application::Column::Number.is_not_null())
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(submitted.is_empty());
}

#[tokio::test]
async fn a_legacy_fifteen_digit_number_is_stored_as_eighteen_digits() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let mut form = single_household("11010519491231002X");
    set(&mut form, "members[0].id_number", json!("110105491231002"));
    set(&mut form, "members[0].hukou_since", json!("1970-01-01"));
    let receipt = app.file(&token, &form).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    let case = case.expect(200);
    assert_eq!(
        case["form"]["members"][0]["id_number"],
        "11010519491231002X"
    );
    assert_eq!(case["member_facts"][0]["birth_date"], "1949-12-31");
}

#[tokio::test]
async fn unusual_values_are_warnings_that_do_not_block_submission() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let mut form = household();
    set(&mut form, "members[1].annual_income_fen", json!(0));
    set(&mut form, "housing[0].area_m2", json!(250.75));
    let receipt = app.file(&token, &form).await;
    let mut codes: Vec<(String, String)> = receipt["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["field"].as_str().unwrap().into(),
                w["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            ("housing[0].area_m2".into(), "large_area".into()),
            (
                "members[1].annual_income_fen".into(),
                "zero_income_working_age".into()
            ),
        ]
    );
    let id = receipt["application_id"].as_i64().unwrap();
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    assert_eq!(case.expect(200)["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(case.body["status"], "eligible");
    // The child's zero income is no warning: the child is not of working age.
    assert!(!codes.iter().any(|(f, _)| f.starts_with("members[2]")));
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_original_receipt_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let (id, _) = app.draft(&token, &household()).await;
    let first = app.submit(&token, id, "retry-key", &json!({})).await;
    first.expect(201);
    assert!(first.headers.get("idempotency-replayed").is_none());
    let events = app.count(application_event::Entity).await;
    let mails = app.count(outbox_message::Entity).await;
    let again = app.submit(&token, id, "retry-key", &json!({})).await;
    assert_eq!(again.expect(201), &first.body);
    assert_eq!(again.headers.get("idempotency-replayed").unwrap(), "true");
    assert_eq!(app.count(application_event::Entity).await, events);
    assert_eq!(app.count(outbox_message::Entity).await, mails);

    let reused = app
        .submit(&token, id, "retry-key", &json!({ "version": 1 }))
        .await;
    assert_eq!(reused.expect(422)["code"], "idempotency_key_reused");
    let new_key = app.submit(&token, id, "another-key", &json!({})).await;
    assert_eq!(new_key.expect(409)["code"], "wrong_status");
    assert_eq!(app.count(application_event::Entity).await, events);
}

#[tokio::test]
async fn concurrent_double_submits_create_exactly_one_submission() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let token = app.applicant("13800001111").await;
    let (same_key, _) = app.draft(&token, &household()).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            app.submit(&token, same_key, "double-click", &json!({}))
                .await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        numbers.push(a.expect(201)["number"].as_str().unwrap().to_string());
    }
    numbers.dedup();
    assert_eq!(
        numbers.len(),
        1,
        "every identical submit gets the one receipt"
    );

    let (different_keys, _) = app.draft(&token, &single_household(&spouse_id())).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            app.submit(&token, different_keys, &format!("k{i}"), &json!({}))
                .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let a = t.await.unwrap();
        match a.status.as_u16() {
            201 => created += 1,
            409 => {}
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!(created, 1);
    let submits = application_event::Entity::find()
        .filter(application_event::Column::Action.eq("submit"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(submits.len(), 2);
    // A receipt and an eligibility result for each of the two cases, no more.
    assert_eq!(app.count(outbox_message::Entity).await, 4);
}

#[tokio::test]
async fn application_numbers_count_up_per_sub_district() {
    let app = TestApp::spawn().await;
    let a = app.applicant("13800001111").await;
    let b = app.applicant("13800002222").await;
    let first = app.file(&a, &household()).await;
    let mut other = single_household(&id_number("410104", "19900101", 5));
    set(&mut other, "community_code", json!(OTHER_COMMUNITY));
    let second = app.file(&b, &other).await;
    assert_eq!(first["number"], "410104003-2026-000001");
    assert_eq!(second["number"], "410104003-2026-000002");
}

#[tokio::test]
async fn a_person_in_two_households_is_flagged_across_programmes_for_staff_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let reviewer = app
        .staff(
            &admin,
            "reviewer",
            "r@nanguan.test",
            &[COMMUNITY, OTHER_COMMUNITY],
        )
        .await;
    let first_family = app.applicant("13800001111").await;
    let second_family = app.applicant("13800002222").await;
    let first = app.file(&first_family, &household()).await;

    // The spouse applies again on her own, for the other programme, in another community.
    let mut own = single_household(&spouse_id());
    set(&mut own, "programme", json!("low_rent"));
    set(&mut own, "community_code", json!(OTHER_COMMUNITY));
    let second = app.file(&second_family, &own).await;
    assert!(
        second["number"].is_string(),
        "a match does not block submission"
    );

    let id = second["application_id"].as_i64().unwrap();
    let staff_view = app
        .get(&format!("/api/v1/applications/{id}"), Some(&reviewer))
        .await;
    let dups = staff_view.expect(200)["duplicates"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0]["other_application_number"], first["number"]);
    assert_eq!(dups[0]["member_index"], 0);
    assert_eq!(dups[0]["other_member_index"], 1);
    let first_id = first["application_id"].as_i64().unwrap();
    let back = app
        .get(&format!("/api/v1/applications/{first_id}"), Some(&reviewer))
        .await;
    assert_eq!(
        back.expect(200)["duplicates"][0]["other_application_number"],
        second["number"]
    );

    let own_view = app
        .get(&format!("/api/v1/applications/{id}"), Some(&second_family))
        .await;
    assert_eq!(own_view.expect(200)["duplicates"], json!([]));
    assert!(
        !own_view
            .body
            .to_string()
            .contains(first["number"].as_str().unwrap())
    );
    assert_eq!(app.count(duplicate_flag::Entity).await, 2);
}

#[tokio::test]
async fn a_withdrawn_case_no_longer_counts_as_a_duplicate() {
    let app = TestApp::spawn().await;
    let a = app.applicant("13800001111").await;
    let b = app.applicant("13800002222").await;
    let first = app.file(&a, &household()).await;
    let id = first["application_id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/applications/{id}/withdraw"),
        Some(&a),
        &json!({}),
    )
    .await
    .expect(200);
    app.file(&b, &single_household(&spouse_id())).await;
    assert_eq!(app.count(duplicate_flag::Entity).await, 0);
}

#[tokio::test]
async fn another_applicants_case_answers_not_found_for_every_operation() {
    let app = TestApp::spawn().await;
    let owner = app.applicant("13800001111").await;
    let intruder = app.applicant("13800002222").await;
    let (draft, version) = app.draft(&owner, &household()).await;
    let path = format!("/api/v1/applications/{draft}");
    app.get(&path, Some(&intruder)).await.expect(404);
    app.patch(
        &intruder,
        &path,
        version,
        &json!({"contact_mobile": "13900000000"}),
    )
    .await
    .expect(404);
    app.submit(&intruder, draft, "steal", &json!({}))
        .await
        .expect(404);
    app.post(&format!("{path}/withdraw"), Some(&intruder), &json!({}))
        .await
        .expect(404);
    let list = app.get("/api/v1/applications", Some(&intruder)).await;
    assert_eq!(list.expect(200)["items"], json!([]));
    // Nothing happened to the owner's draft.
    let own = app.get(&path, Some(&owner)).await;
    assert_eq!(own.expect(200)["version"], version);
    assert_eq!(own.body["status"], "draft");
    assert_eq!(own.body["form"]["contact_mobile"], "13800001111");
}

#[tokio::test]
async fn staff_see_only_their_communities_with_ids_masked_in_lists_and_full_in_detail() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let here = app
        .staff(&admin, "reviewer", "here@nanguan.test", &[COMMUNITY])
        .await;
    let elsewhere = app
        .staff(&admin, "reviewer", "there@nanguan.test", &[OTHER_COMMUNITY])
        .await;
    let supervisor = app
        .staff(&admin, "supervisor", "sup@nanguan.test", &["410104003"])
        .await;
    let applicant = app.applicant("13800001111").await;
    let receipt = app.file(&applicant, &household()).await;
    let id = receipt["application_id"].as_i64().unwrap();

    let list = app.get("/api/v1/applications", Some(&here)).await;
    let item = &list.expect(200)["items"][0];
    assert_eq!(item["applicant_id_number"], "4101**********0037");
    assert_eq!(item["applicant_name"], "王*明");
    assert!(!list.body.to_string().contains(APPLICANT_ID));
    let detail = app
        .get(&format!("/api/v1/applications/{id}"), Some(&here))
        .await;
    assert_eq!(
        detail.expect(200)["form"]["members"][0]["id_number"],
        APPLICANT_ID
    );
    app.get(&format!("/api/v1/applications/{id}"), Some(&supervisor))
        .await
        .expect(200);

    app.get(&format!("/api/v1/applications/{id}"), Some(&elsewhere))
        .await
        .expect(404);
    let none = app.get("/api/v1/applications", Some(&elsewhere)).await;
    assert_eq!(none.expect(200)["items"], json!([]));
    app.get("/api/v1/applications", Some(&admin))
        .await
        .expect(403);
}

#[tokio::test]
async fn a_reviewer_enters_a_paper_application_at_the_counter_within_their_scope() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let mut outside = household();
    set(&mut outside, "community_code", json!(OTHER_COMMUNITY));
    let refused = app
        .post("/api/v1/applications", Some(&reviewer), &outside)
        .await;
    refused.expect(422);
    assert_eq!(
        refused.field_codes(),
        vec![("community_code".into(), "outside_scope".into())]
    );

    let receipt = app.file(&reviewer, &household()).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&reviewer))
        .await;
    assert_eq!(case.expect(200)["source"], "counter");
    assert_eq!(
        case.body["events"][0]["actor_id"],
        app.get("/api/v1/auth/me", Some(&reviewer)).await.body["id"]
    );
    let supervisor = app
        .staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
        .await;
    app.post("/api/v1/applications", Some(&supervisor), &household())
        .await
        .expect(403);
}

#[tokio::test]
async fn an_applicant_withdraws_and_is_told_so_once() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let receipt = app.file(&token, &household()).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let done = app
        .post(
            &format!("/api/v1/applications/{id}/withdraw"),
            Some(&token),
            &json!({ "reason": "已购房" }),
        )
        .await;
    let body = done.expect(200);
    assert_eq!(body["status"], "withdrawn");
    let last = body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "withdraw");
    assert_eq!(last["comment"], "已购房");
    let kinds: Vec<String> = outbox_for(&app, id)
        .await
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "submission_receipt",
            "eligibility_result",
            "withdrawal_confirmation"
        ]
    );

    let again = app
        .post(
            &format!("/api/v1/applications/{id}/withdraw"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(again.expect(409)["code"], "wrong_status");
    assert_eq!(outbox_for(&app, id).await.len(), 3);
}

#[tokio::test]
async fn a_receipt_without_an_email_address_is_still_recorded() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let mut form = household();
    remove(&mut form, "contact_email");
    let receipt = app.file(&token, &form).await;
    let mail = outbox_for(&app, receipt["application_id"].as_i64().unwrap()).await;
    let kinds: Vec<&str> = mail.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, vec!["submission_receipt", "eligibility_result"]);
    assert!(
        mail.iter()
            .all(|m| m.status.as_str() == "no_recipient" && m.recipient.is_none())
    );
}

#[tokio::test]
async fn drafts_are_versioned_and_only_drafts_can_be_deleted() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let (id, version) = app.draft(&token, &json!({ "programme": "low_rent" })).await;
    let path = format!("/api/v1/applications/{id}");
    app.patch(
        &token,
        &path,
        version,
        &json!({ "contact_email": "a@example.com" }),
    )
    .await
    .expect(200);
    let stale = app
        .patch(
            &token,
            &path,
            version,
            &json!({ "contact_email": "b@example.com" }),
        )
        .await;
    assert_eq!(stale.expect(409)["code"], "stale_version");
    let case = app.get(&path, Some(&token)).await;
    assert_eq!(case.expect(200)["form"]["contact_email"], "a@example.com");
    assert_eq!(
        case.body["form"]["programme"], "low_rent",
        "a partial update keeps other fields"
    );

    let delete = |v: i64| {
        let req = app
            .client
            .delete(&path)
            .header("Authorization", format!("Bearer {token}"))
            .header("If-Match", format!("\"{v}\""));
        async move { req.send().await.0.status().as_u16() }
    };
    assert_eq!(delete(version).await, 409);
    assert_eq!(delete(version + 1).await, 204);
    app.get(&path, Some(&token)).await.expect(404);

    let receipt = app.file(&token, &household()).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let submitted = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    let v = submitted.expect(200)["version"].as_i64().unwrap();
    let edit = app
        .patch(
            &token,
            &format!("/api/v1/applications/{id}"),
            v,
            &json!({ "contact_email": "c@example.com" }),
        )
        .await;
    assert_eq!(edit.expect(409)["code"], "wrong_status");
}

/// `POST /api/v1/applications` with a key and the whole form.
pub(crate) async fn one_shot(
    app: &TestApp,
    token: &str,
    key: &str,
    form: &Value,
) -> crate::helpers::Answer {
    app.raw(
        poem::http::Method::POST,
        "/api/v1/applications",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", key),
        ],
        serde_json::to_vec(form).unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_complete_form_with_a_key_is_filed_in_one_request_exactly_once() {
    let app = TestApp::spawn().await;
    let t = app.applicant("13800007777").await;
    let filed = one_shot(&app, &t, "once-1", &household()).await;
    let case = filed.expect(201).clone();
    assert_eq!(case["status"], "eligible", "{case}");
    assert!(case["number"].as_str().unwrap().starts_with("410104003-"));
    assert!(filed.headers.get("Idempotency-Replayed").is_none());
    // Answered from the rows it wrote, it is exactly the case as stored: the same as
    // reading it back, history and decision included.
    let read = app
        .get(&format!("/api/v1/applications/{}", case["id"]), Some(&t))
        .await;
    assert_eq!(read.expect(200), &case);
    assert_eq!(case["events"].as_array().map(Vec::len), Some(2), "{case}");
    assert!(case["eligibility"]["eligible"].is_boolean(), "{case}");
    let (cases, mails) = (
        app.count(application::Entity).await,
        app.count(outbox_message::Entity).await,
    );
    // The same key and form: the same case, nothing written again.
    let again = one_shot(&app, &t, "once-1", &household()).await;
    assert_eq!(again.expect(201)["id"], case["id"]);
    assert_eq!(again.headers.get("Idempotency-Replayed").unwrap(), "true");
    assert_eq!(app.count(application::Entity).await, cases);
    assert_eq!(
        app.count(outbox_message::Entity).await,
        mails,
        "no second receipt"
    );
    // The same key with another form is refused.
    let mut other = household();
    set(&mut other, "contact_mobile", json!("13800007778"));
    let reused = one_shot(&app, &t, "once-1", &other).await;
    assert_eq!(reused.expect(422)["code"], "idempotency_key_reused");
    // A form that does not pass names every problem and leaves no draft behind.
    let mut bad = household();
    set(
        &mut bad,
        "members[0].id_number",
        json!("410104198507150038"),
    );
    remove(&mut bad, "contact_mobile");
    let refused = one_shot(&app, &t, "once-2", &bad).await;
    refused.expect(422);
    let fields: Vec<String> = refused.field_codes().into_iter().map(|(f, _)| f).collect();
    assert!(
        fields.contains(&"members[0].id_number".to_string()),
        "{fields:?}"
    );
    assert!(fields.contains(&"contact_mobile".to_string()), "{fields:?}");
    assert_eq!(app.count(application::Entity).await, cases, "no draft left");
    assert_eq!(
        app.count(outbox_message::Entity).await,
        mails,
        "no receipt for a refused form"
    );
    // Without a key it is a draft, as before.
    let draft = app
        .post("/api/v1/applications", Some(&t), &household())
        .await;
    assert_eq!(draft.expect(201)["status"], "draft");
}

#[tokio::test]
async fn concurrent_one_shot_requests_with_one_key_file_one_case() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let t = app.applicant("13800008888").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (app, t) = (app.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let a = one_shot(&app, &t, "race-1", &household()).await;
            (a.status, a.body["id"].as_i64())
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let (status, id) = task.await.unwrap();
        assert_eq!(status, 201);
        ids.push(id.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        app.count(application::Entity).await,
        1,
        "one case, no stray draft"
    );
}

#[tokio::test]
async fn a_one_shot_submission_takes_few_statements_and_the_number_row_late() {
    let (app, log) = TestApp::spawn_recording().await;
    let t = app.applicant("13800007711").await;
    // A first filing warms the caches (places, staff scopes) as a running service has.
    one_shot(&app, &t, "warm", &household()).await.expect(201);
    // Another household (no duplicate to flag), as most submissions are.
    let second = single_household(&id_number("410104", "19800101", 17));
    log.lock().unwrap().clear();
    let filed = one_shot(&app, &t, "count", &second).await;
    let status = filed.expect(201)["status"].clone();
    assert!(status == "eligible" || status == "ineligible", "{status}");
    let sql = log.lock().unwrap().clone();
    // Outside the writer's transaction: the session, and the answer read back after the
    // commit. Inside: the key and member look-ups, the policy, the number, the inserts.
    let first = sql
        .iter()
        .position(|s| s.starts_with("SELECT") && s.contains(r#"FROM "idempotency_record""#))
        .expect("the key is looked up");
    let last = sql
        .iter()
        .position(|s| s.starts_with(r#"INSERT INTO "idempotency_record""#))
        .expect("the key is recorded");
    let txn = &sql[first..=last];
    assert!(
        !sql[last..].iter().any(|s| s.starts_with("SELECT")),
        "the answer is built from the rows written, nothing read back:\n{}",
        sql[last..].join("\n")
    );
    assert!(
        txn.len() <= 11,
        "{} statements in the filing's transaction:\n{}",
        txn.len(),
        txn.join("\n")
    );
    assert!(
        !sql.iter().any(|s| s.contains("COUNT(*)")),
        "a one-shot submission leaves no draft, so open drafts are not counted"
    );
    assert!(
        !sql.iter()
            .any(|s| s.contains("funnel_count") || s.contains("status_count")),
        "no counter row is updated in the request"
    );
    // The number is the one shared row, taken once, after every read: what follows it
    // are the inserts of the filing's rows.
    let count = |prefix: &str| txn.iter().filter(|s| s.starts_with(prefix)).count();
    assert_eq!(count(r#"INSERT INTO "number_sequence""#), 1);
    let number_at = txn
        .iter()
        .position(|s| s.contains("number_sequence"))
        .unwrap();
    assert!(
        txn[number_at + 1..].iter().all(|s| s.starts_with("INSERT")),
        "only inserts after the number:\n{}",
        txn[number_at..].join("\n")
    );
    // The case is born submitted and decided: one insert, no update; one insert each
    // for its events, messages and counter deltas.
    assert_eq!(count(r#"UPDATE "application""#), 0, "{}", txn.join("\n"));
    assert_eq!(count(r#"INSERT INTO "application" "#), 1);
    assert_eq!(count(r#"INSERT INTO "application_event""#), 1);
    assert_eq!(count(r#"INSERT INTO "outbox_message""#), 1);
    assert_eq!(count(r#"INSERT INTO "counter_delta""#), 1);
}
