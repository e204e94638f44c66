use chrono::Duration;
use entity::eligibility_decision;
use serde_json::{Value, json};

use crate::fixtures::*;
use crate::helpers::TestApp;

/// The public-rental ceiling under the shipped policy: 5 × 520.00 yuan per person-month.
const CEILING_FEN: i64 = 260_000;

fn with_total_income(total: i64) -> Value {
    let mut h = household();
    set(&mut h, "members[0].annual_income_fen", json!(total - 1));
    set(&mut h, "members[1].annual_income_fen", json!(1));
    set(&mut h, "members[2].annual_income_fen", json!(0));
    h
}

fn rule<'a>(case: &'a Value, id: &str) -> &'a Value {
    case["eligibility"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

async fn case(app: &TestApp, token: &str, receipt: &Value) -> Value {
    let id = receipt["application_id"].as_i64().unwrap();
    app.get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .expect(200)
        .clone()
}

#[tokio::test]
async fn a_household_exactly_at_the_income_limit_is_eligible_and_one_fen_over_is_not() {
    let app = TestApp::spawn().await;
    let at = app.applicant("13800001111").await;
    let over = app.applicant("13800002222").await;
    let at_limit = app
        .file(&at, &with_total_income(CEILING_FEN * 12 * 3))
        .await;
    assert_eq!(at_limit["status"], "eligible");
    let c = case(&app, &at, &at_limit).await;
    let income = rule(&c, "income");
    assert_eq!(income["outcome"], "pass");
    assert_eq!(income["value"]["amount"], CEILING_FEN);
    assert_eq!(income["limit"]["text"], "2,600.00 元");

    let mut form = with_total_income(CEILING_FEN * 12 * 3 + 1);
    // Another family, so that the duplicate check stays out of the way.
    set(
        &mut form,
        "members",
        json!([
            member(
                "applicant",
                "孙大",
                &id_number("410104", "19800101", 13),
                "male",
                "married",
                CEILING_FEN * 12 * 3
            ),
            member(
                "spouse",
                "周二",
                &id_number("410104", "19820202", 22),
                "female",
                "married",
                1
            ),
            member(
                "parent",
                "孙老",
                &id_number("410104", "19500303", 31),
                "male",
                "widowed",
                0
            ),
        ]),
    );
    let over_limit = app.file(&over, &form).await;
    assert_eq!(over_limit["status"], "ineligible");
    let c = case(&app, &over, &over_limit).await;
    let income = rule(&c, "income");
    assert_eq!(income["outcome"], "fail");
    assert_eq!(income["severity"], "hard");
    assert!(
        income["message"].as_str().unwrap().contains("2,600.00 元"),
        "{income}"
    );
    assert_eq!(c["eligibility"]["eligible"], false);
    assert_eq!(c["eligibility"]["policy_version"], "zz-gzf-2015.1");
    assert_eq!(c["events"][1]["action"], "fail_eligibility");

    // The applicant is told why, in their language, without the identity numbers.
    use entity::outbox_message;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mail = outbox_message::Entity::find()
        .filter(outbox_message::Column::Kind.eq("eligibility_result"))
        .filter(
            outbox_message::Column::ApplicationId
                .eq(over_limit["application_id"].as_i64().unwrap()),
        )
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(mail.body_text.contains("2,600.00 元"), "{}", mail.body_text);
    assert!(!mail.body_text.contains("410104198001010"));
}

#[tokio::test]
async fn low_rent_area_is_judged_per_capita_to_the_hundredth_of_a_square_metre() {
    let app = TestApp::spawn().await;
    let form = |area: f64| {
        let mut h = household();
        set(&mut h, "programme", json!("low_rent"));
        set(
            &mut h,
            "members",
            json!([
                member("applicant", "王小明", APPLICANT_ID, "male", "married", 0),
                member("spouse", "李小红", &spouse_id(), "female", "married", 0),
            ]),
        );
        set(&mut h, "members[0].dibao_certificate", json!("DB-2020-001"));
        set(&mut h, "members[0].dibao_since", json!("2020-01-01"));
        set(
            &mut h,
            "housing",
            json!([{ "address": "惠工街 2 号", "area_m2": area, "nature": "owned" }]),
        );
        h
    };
    let a = app.applicant("13800001111").await;
    let at = app.file(&a, &form(32.0)).await;
    assert_eq!(at["status"], "eligible");
    let c = case(&app, &a, &at).await;
    assert_eq!(rule(&c, "area")["value"]["text"], "16.00 平方米");
    let id = at["application_id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/applications/{id}/withdraw"),
        Some(&a),
        &json!({}),
    )
    .await
    .expect(200);

    let over = app.file(&a, &form(32.01)).await;
    assert_eq!(over["status"], "ineligible");
    let c = case(&app, &a, &over).await;
    assert_eq!(rule(&c, "area")["outcome"], "fail");
    assert_eq!(rule(&c, "income_or_dibao")["outcome"], "pass");
    assert_eq!(
        rule(&c, "income_or_dibao")["alternatives"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_soft_rule_flags_the_case_without_making_it_ineligible() {
    let app = TestApp::spawn().await;
    let a = app.applicant("13800001111").await;
    let mut h = household();
    set(&mut h, "programme", json!("low_rent"));
    set(&mut h, "members[0].annual_income_fen", json!(0));
    set(&mut h, "members[1].annual_income_fen", json!(0));
    set(
        &mut h,
        "transfers",
        json!([{ "address": "旧房", "area_m2": 40, "date": "2024-05-01", "kind": "transferred" }]),
    );
    let r = app.file(&a, &h).await;
    assert_eq!(r["status"], "eligible");
    let c = case(&app, &a, &r).await;
    assert_eq!(c["eligibility"]["flagged"], true);
    assert_eq!(rule(&c, "recent_transfer_check")["outcome"], "fail");
    assert_eq!(rule(&c, "recent_transfer_check")["severity"], "soft");
}

#[tokio::test]
async fn explanations_follow_accept_language() {
    let app = TestApp::spawn().await;
    let a = app.applicant("13800001111").await;
    let r = app.file(&a, &household()).await;
    let id = r["application_id"].as_i64().unwrap();
    let en = app
        .raw(
            poem::http::Method::GET,
            &format!("/api/v1/applications/{id}"),
            &[
                ("authorization", &format!("Bearer {a}")),
                ("accept-language", "en"),
            ],
            vec![],
        )
        .await;
    let income = rule(en.expect(200), "income");
    assert!(
        income["message"]
            .as_str()
            .unwrap()
            .starts_with("per-capita monthly income is 1,666.66 yuan"),
        "{income}"
    );
}

pub fn stricter_policy(version: &str, effective_from: &str) -> Value {
    json!({
        "programme": "public_rental",
        "version": version,
        "title": "更严格的公租房条件",
        "effective_from": effective_from,
        "admits": ["local", "new_worker", "migrant"],
        "dibao_standard": [{ "from": "2015-07-01", "monthly_fen": 52000 }],
        "rules": [
            { "id": "income", "kind": "income_per_capita", "dibao_multiple_percent": 300 },
            { "id": "no_owned_housing", "kind": "no_owned_housing", "forbid_rented_public": true }
        ]
    })
}

#[tokio::test]
async fn a_new_version_applies_only_to_applications_submitted_from_its_effective_date() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // Today is 2026-11-02 on the test clock; the new version starts on the 12th.
    let published = app
        .post(
            "/api/v1/policies",
            Some(&admin),
            &stricter_policy("zz-gzf-2026.1", "2026-11-12"),
        )
        .await;
    assert_eq!(published.expect(201)["version"], "zz-gzf-2026.1");

    // 1,666.66 yuan per capita: within 5 × 520 but over 3 × 520 = 1,560.
    let before = app.applicant("13800001111").await;
    let r = app.file(&before, &household()).await;
    assert_eq!(r["status"], "eligible");
    assert_eq!(
        case(&app, &before, &r).await["eligibility"]["policy_version"],
        "zz-gzf-2015.1"
    );

    app.clock.advance(Duration::days(10));
    let after = app.applicant("13800002222").await;
    let mut other = household();
    set(
        &mut other,
        "members",
        json!([
            member(
                "applicant",
                "孙大",
                &id_number("410104", "19800101", 13),
                "male",
                "married",
                3_600_000
            ),
            member(
                "spouse",
                "周二",
                &id_number("410104", "19820202", 22),
                "female",
                "married",
                2_400_000
            ),
            member(
                "child",
                "孙小",
                &id_number("410104", "20100101", 15),
                "male",
                "single",
                0
            ),
        ]),
    );
    set(&mut other, "members[2].hukou_since", json!("2010-02-01"));
    let r = app.file(&after, &other).await;
    assert_eq!(r["status"], "ineligible");
    let c = case(&app, &after, &r).await;
    assert_eq!(c["eligibility"]["policy_version"], "zz-gzf-2026.1");
    assert_eq!(rule(&c, "income")["limit"]["amount"], 156_000);

    // Both versions stay readable.
    app.get("/api/v1/policies/zz-gzf-2015.1", None)
        .await
        .expect(200);
    let list = app.get("/api/v1/policies", None).await;
    let versions: Vec<&str> = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect();
    assert!(
        versions.contains(&"zz-gzf-2015.1")
            && versions.contains(&"zz-gzf-2026.1")
            && versions.contains(&"zz-lzf-2015.1")
    );
}

#[tokio::test]
async fn a_policy_is_validated_with_paths_and_never_edited() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cases = [
        (
            "rules[0].kind",
            "invalid_type",
            json!({ "id": "x", "kind": "lottery_luck" }),
        ),
        (
            "rules[0].min_years",
            "invalid_type",
            json!({ "id": "x", "kind": "city_hukou_years", "city": "郑州", "min_years": "three" }),
        ),
        (
            "rules[0].min_years",
            "negative_limit",
            json!({ "id": "x", "kind": "city_hukou_years", "city": "郑州", "min_years": -1 }),
        ),
        (
            "rules[0].ceiling_fen",
            "negative_limit",
            json!({ "id": "x", "kind": "income_per_capita", "ceiling_fen": -5 }),
        ),
        (
            "rules[0].max_m2",
            "unexpected_parameter",
            json!({ "id": "x", "kind": "no_owned_housing", "max_m2": 12.0 }),
        ),
        (
            "rules[0].city",
            "required",
            json!({ "id": "x", "kind": "moved_in_years", "min_years": 1 }),
        ),
        (
            "rules[0].any_of",
            "too_few_alternatives",
            json!({ "id": "x", "kind": "any_of", "any_of": [] }),
        ),
    ];
    for (field, code, rule) in cases {
        let mut doc = stricter_policy("v-bad", "2026-12-01");
        doc["rules"] = json!([rule]);
        let a = app.post("/api/v1/policies", Some(&admin), &doc).await;
        a.expect(422);
        let codes = a.field_codes();
        assert!(
            codes.iter().any(|(f, c)| f.starts_with(field) && c == code),
            "{field} {code}: {codes:?}"
        );
    }
    let past = app
        .post(
            "/api/v1/policies",
            Some(&admin),
            &stricter_policy("v-past", "2026-01-01"),
        )
        .await;
    assert_eq!(past.expect(422).clone()["fields"][0]["code"], "in_the_past");
    let taken = app
        .post(
            "/api/v1/policies",
            Some(&admin),
            &stricter_policy("zz-gzf-2015.1", "2026-12-01"),
        )
        .await;
    assert_eq!(taken.expect(409)["code"], "version_taken");
    let original = app.get("/api/v1/policies/zz-gzf-2015.1", None).await;
    assert_eq!(
        original.expect(200)["document"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        8
    );

    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let bureau = app
        .staff(&admin, "bureau", "b@nanguan.test", &["410104"])
        .await;
    for token in [&reviewer, &bureau] {
        app.post(
            "/api/v1/policies",
            Some(token),
            &stricter_policy("v-x", "2026-12-01"),
        )
        .await
        .expect(403);
    }
    app.get("/api/v1/policies/v-x", None).await.expect(404);
}

#[tokio::test]
async fn simulation_reports_the_changes_per_community_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let bureau = app
        .staff(&admin, "bureau", "b@nanguan.test", &["410104"])
        .await;
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let a = app.applicant("13800001111").await;
    let b = app.applicant("13800002222").await;
    let richer = app.file(&a, &household()).await; // 1,666.66 yuan per capita
    let mut poorer = household();
    set(&mut poorer, "community_code", json!(OTHER_COMMUNITY));
    set(
        &mut poorer,
        "members",
        json!([
            member(
                "applicant",
                "孙大",
                &id_number("410104", "19800101", 13),
                "male",
                "married",
                1_000_000
            ),
            member(
                "spouse",
                "周二",
                &id_number("410104", "19820202", 22),
                "female",
                "married",
                0
            ),
        ]),
    );
    app.file(&b, &poorer).await; // 416.66 yuan per capita

    let decisions_before = app.count(eligibility_decision::Entity).await;
    let sim = app
        .post(
            "/api/v1/policies/simulate",
            Some(&bureau),
            &stricter_policy("draft", "2027-01-01"),
        )
        .await;
    let body = sim.expect(200);
    assert_eq!(body["evaluated"], 2);
    assert_eq!(body["became_ineligible"], 1);
    assert_eq!(body["became_eligible"], 0);
    assert_eq!(body["unchanged"], 1);
    assert_eq!(body["changes"][0]["number"], richer["number"]);
    assert_eq!(body["changes"][0]["from"], "eligible");
    assert_eq!(body["changes"][0]["to"], "ineligible");
    assert_eq!(
        body["by_community"],
        json!([{
            "community_code": COMMUNITY, "community_name": "惠工街社区", "became_eligible": 0, "became_ineligible": 1
        }])
    );
    assert_eq!(
        app.count(eligibility_decision::Entity).await,
        decisions_before
    );
    app.get("/api/v1/policies/draft", None).await.expect(404);

    let lenient = app
        .post(
            "/api/v1/policies/simulate",
            Some(&admin),
            &stricter_policy("draft2", "2027-01-01"),
        )
        .await;
    assert_eq!(lenient.expect(200)["became_ineligible"], 1);
    for token in [&reviewer, &a] {
        app.post(
            "/api/v1/policies/simulate",
            Some(token),
            &stricter_policy("d", "2027-01-01"),
        )
        .await
        .expect(403);
    }
    let mut broken = stricter_policy("d", "2027-01-01");
    broken["rules"][0]["dibao_multiple_percent"] = json!(-1);
    app.post("/api/v1/policies/simulate", Some(&bureau), &broken)
        .await
        .expect(422);
}
