//! The staff pages, driven as a browser would (cookies, forms, redirects): the reviewer's
//! desk and case page, bulk actions, the supervisor's batches, the bureau's inbox and
//! decisions, the dashboard, counter intake, and each role refused the others' pages.

use poem::http::StatusCode;
use serde_json::json;

use crate::batches::{office, ready_cases};
use crate::fixtures::{APPLICANT_ID, COMMUNITY, household};
use crate::helpers::{PASSWORD, TestApp, act, version};
use crate::web::{Browser, attr_after, summary};

/// Signs in on the web page, asking to go to "my applications" as a login link does.
async fn sign_in(b: &mut Browser<'_>, login: &str, password: &str) {
    b.get("/login").await;
    b.post(
        "/login",
        &[
            ("login", login),
            ("password", password),
            ("next", "/applications"),
        ],
    )
    .await;
}

async fn staff_sign_in(b: &mut Browser<'_>, login: &str) {
    sign_in(b, login, PASSWORD).await;
    assert_eq!(b.path(), "/staff", "staff land on the desk: {}", b.html);
}

async fn status_of(app: &TestApp, token: &str, id: i64) -> String {
    app.get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .expect(200)["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn events_of(app: &TestApp, token: &str, id: i64) -> usize {
    app.get(&format!("/api/v1/applications/{id}/audit"), Some(token))
        .await
        .expect(200)["events"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_reviewer_accepts_asks_for_a_correction_and_passes_on_the_case_page() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let applicant = app.applicant("13800001111").await;
    let receipt = app.file(&applicant, &household()).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let number = receipt["number"].as_str().unwrap().to_string();

    let mut b = Browser::new(&app);
    staff_sign_in(&mut b, "r@nanguan.test").await;
    assert!(b.html.contains(&number), "the queue lists it: {}", b.html);
    assert!(
        !b.html.contains(APPLICANT_ID),
        "the queue shows no full identity number"
    );

    b.get(&format!("/staff/cases/{id}")).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    for part in [
        "资格审核结果（逐条）",
        "申请内容（按申报）",
        "办理记录",
        "查阅记录",
    ] {
        assert!(b.html.contains(part), "{part}: {}", b.html);
    }
    let v = b.version();
    b.post(
        &format!("/staff/cases/{id}/act"),
        &[("action", "accept"), ("version", &v)],
    )
    .await;
    assert_eq!(b.path(), format!("/staff/cases/{id}?done=accept"));
    assert!(b.html.contains("初审中"), "{}", b.html);

    // A correction request with no items: the page again, naming the field; no change.
    let before = events_of(&app, &o.reviewer, id).await;
    let v = b.version();
    b.post(
        &format!("/staff/cases/{id}/act"),
        &[
            ("action", "request_correction"),
            ("version", &v),
            ("items", " \n "),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.html);
    let problems = summary(&b.html);
    assert!(
        problems
            .iter()
            .any(|(href, text)| href == "#request_correction-items" && text.contains("补正事项")),
        "{problems:?}"
    );
    assert!(
        b.html.contains("id=\"request_correction-items\""),
        "the link has a target"
    );
    assert_eq!(status_of(&app, &o.reviewer, id).await, "under_review");
    assert_eq!(events_of(&app, &o.reviewer, id).await, before);

    b.post(
        &format!("/staff/cases/{id}/act"),
        &[
            ("action", "request_correction"),
            ("version", &v),
            ("items", "补交配偶收入证明\n住房面积与房产证不符"),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    assert_eq!(status_of(&app, &o.reviewer, id).await, "needs_correction");
    let mine = app
        .get(&format!("/api/v1/applications/{id}"), Some(&applicant))
        .await;
    let asked = mine.expect(200)["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "request_correction");
    assert!(asked, "the applicant sees the request");

    // The applicant resubmits; the case comes back eligible and is accepted again.
    app.submit(&applicant, id, "again-1", &json!({}))
        .await
        .expect(201);
    assert_eq!(status_of(&app, &o.reviewer, id).await, "eligible");
    b.get(&format!("/staff/cases/{id}")).await;
    b.post(
        &format!("/staff/cases/{id}/act"),
        &[("action", "accept"), ("version", &b.version())],
    )
    .await;
    let before_pass = b.version();
    // Passing needs the first-review opinion.
    b.post(
        &format!("/staff/cases/{id}/act"),
        &[("action", "pass_review"), ("version", &before_pass)],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        summary(&b.html)
            .iter()
            .any(|(href, _)| href == "#pass_review-comment"),
        "{}",
        b.html
    );
    b.post(
        &format!("/staff/cases/{id}/act"),
        &[
            ("action", "pass_review"),
            ("version", &before_pass),
            ("comment", "经入户调查，情况属实"),
        ],
    )
    .await;
    assert!(b.html.contains("公示中"), "{}", b.html);
    assert_eq!(status_of(&app, &o.reviewer, id).await, "passed_review");

    // Someone acting on what they saw before: refused, nothing changed, the case as
    // it now stands on the page.
    let events = events_of(&app, &o.reviewer, id).await;
    let mail = app.count(entity::outbox_message::Entity).await;
    b.post(
        &format!("/staff/cases/{id}/act"),
        &[
            ("action", "reject"),
            ("version", &before_pass),
            ("reason_code", "income_over_limit"),
            ("comment", "收入超标"),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.html);
    assert!(
        b.html.contains("未能执行") && b.html.contains("公示中"),
        "{}",
        b.html
    );
    assert_eq!(status_of(&app, &o.reviewer, id).await, "passed_review");
    assert_eq!(events_of(&app, &o.reviewer, id).await, events);
    assert_eq!(
        app.count(entity::outbox_message::Entity).await,
        mail,
        "no rejection e-mail for a refused action"
    );
}

#[tokio::test]
async fn bulk_accept_from_the_queue_reports_each_case_and_claim_returns_to_the_queue() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let mut ids = vec![];
    for (i, mobile) in ["13800002221", "13800002222"].iter().enumerate() {
        let t = app.applicant(mobile).await;
        let form = crate::fixtures::single_household(&crate::fixtures::id_number(
            "410104",
            "19800101",
            300 + 2 * i as u32,
        ));
        ids.push(
            app.file(&t, &form).await["application_id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut b = Browser::new(&app);
    staff_sign_in(&mut b, "r@nanguan.test").await;
    let v0 = version(&app, &o.reviewer, ids[0]).await.to_string();
    let stale = version(&app, &o.reviewer, ids[1]).await;
    // The second is accepted by someone else first.
    act(
        &app,
        &o.reviewer,
        ids[1],
        json!({ "action": "accept", "version": stale }),
    )
    .await
    .expect(200);
    let after_other = version(&app, &o.reviewer, ids[1]).await;
    let picks = [format!("{}:{v0}", ids[0]), format!("{}:{stale}", ids[1])];
    b.post(
        "/staff/bulk",
        &[
            ("action", "accept"),
            ("pick", &picks[0]),
            ("pick", &picks[1]),
            ("back", "/staff?status=eligible"),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.html);
    assert!(
        b.html.contains("成功 1") && b.html.contains("未完成 1"),
        "{}",
        b.html
    );
    assert_eq!(status_of(&app, &o.reviewer, ids[0]).await, "under_review");
    assert_eq!(
        version(&app, &o.reviewer, ids[1]).await,
        after_other,
        "the refused one is untouched"
    );

    // Nothing ticked: the form says so and nothing happens.
    b.get("/staff?status=under_review").await;
    b.post("/staff/bulk", &[("action", "pass_review")]).await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Claim from the queue: back to the same filtered queue, the case is mine.
    b.get("/staff?status=under_review").await;
    let v = version(&app, &o.reviewer, ids[0]).await.to_string();
    b.post(
        &format!("/staff/cases/{}/claim", ids[0]),
        &[("version", &v), ("back", "/staff?status=under_review")],
    )
    .await;
    assert_eq!(b.path(), "/staff?status=under_review", "{}", b.html);
    let mine = app
        .get(
            "/api/v1/review/queue?status=under_review&assigned=me",
            Some(&o.reviewer),
        )
        .await;
    assert_eq!(
        mine.expect(200)["items"][0]["id"],
        ids[0],
        "{:?}",
        mine.body
    );
    let case = app
        .get(
            &format!("/api/v1/applications/{}", ids[0]),
            Some(&o.reviewer),
        )
        .await;
    b.get("/staff?status=under_review&assigned=me").await;
    let number = case.body["number"].as_str().unwrap();
    assert!(b.html.contains(number), "{}", b.html);
}

#[tokio::test]
async fn each_role_is_refused_the_others_pages_and_other_communities_cases_are_not_found() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let elsewhere = app
        .staff(
            &o.admin,
            "reviewer",
            "far@nanguan.test",
            &[crate::fixtures::OTHER_COMMUNITY],
        )
        .await;
    let applicant = app.applicant("13800003331").await;
    let id = app.file(&applicant, &household()).await["application_id"]
        .as_i64()
        .unwrap();

    // Nobody signed in: sent to sign in.
    let mut anon = Browser::new(&app);
    anon.get("/staff").await;
    assert_eq!(anon.path(), "/login?next=/staff");

    // An applicant: 403 on every staff page.
    let mut a = Browser::new(&app);
    sign_in(&mut a, "13800003331", PASSWORD).await;
    for page in [
        "/staff".to_string(),
        format!("/staff/cases/{id}"),
        "/staff/batches".into(),
        "/staff/dashboard".into(),
        "/staff/dashboard/funnel.csv".into(),
    ] {
        a.get(&page).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{page}");
    }

    // A reviewer of another community: the case does not exist for them.
    let mut far = Browser::new(&app);
    staff_sign_in(&mut far, "far@nanguan.test").await;
    far.get(&format!("/staff/cases/{id}")).await;
    assert_eq!(far.status, StatusCode::NOT_FOUND);
    let v = version(&app, &o.reviewer, id).await.to_string();
    far.post(
        &format!("/staff/cases/{id}/act"),
        &[("action", "accept"), ("version", &v)],
    )
    .await;
    assert_eq!(far.status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, &o.reviewer, id).await, "eligible");
    assert!(!far.html.contains("王"), "nothing of the household leaks");
    let _ = elsewhere;

    // A reviewer has no batches; the bureau does not see drafts.
    let mut r = Browser::new(&app);
    staff_sign_in(&mut r, "r@nanguan.test").await;
    r.get("/staff/batches").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let draft = app
        .post(
            "/api/v1/batches",
            Some(&o.supervisor),
            &json!({ "programme": "public_rental" }),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let mut bureau = Browser::new(&app);
    staff_sign_in(&mut bureau, "b@nanguan.test").await;
    bureau.get(&format!("/staff/batches/{draft}")).await;
    assert_eq!(bureau.status, StatusCode::NOT_FOUND);
    // The supervisor may not decide for the bureau.
    let mut s = Browser::new(&app);
    staff_sign_in(&mut s, "s@nanguan.test").await;
    s.get(&format!("/staff/batches/{draft}")).await;
    s.post(
        &format!("/staff/batches/{draft}/decide"),
        &[(&format!("decision-{id}"), "approve")],
    )
    .await;
    assert_eq!(s.status, StatusCode::FORBIDDEN);
}

fn hash_on(html: &str) -> String {
    let marker = "<code class=\"hash\">";
    let i = html.find(marker).expect("a hash on the page");
    let rest = &html[i + marker.len()..];
    rest[..rest.find('<').unwrap()].to_string()
}

#[tokio::test]
async fn a_batch_is_sealed_and_sent_on_the_web_and_the_bureau_decides_it_there() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 2, 500).await;
    let numbers: Vec<String> = {
        let mut n = vec![];
        for id in &ids {
            let c = app
                .get(&format!("/api/v1/applications/{id}"), Some(&o.reviewer))
                .await;
            n.push(c.expect(200)["number"].as_str().unwrap().to_string());
        }
        n
    };

    let mut s = Browser::new(&app);
    staff_sign_in(&mut s, "s@nanguan.test").await;
    s.get("/staff/batches").await;
    s.post("/staff/batches", &[("programme", "public_rental")])
        .await;
    let batch: i64 = s
        .path()
        .trim_start_matches("/staff/batches/")
        .parse()
        .unwrap_or_else(|_| panic!("{}", s.path()));
    for n in &numbers {
        assert!(s.html.contains(n.as_str()), "ready to add: {n}");
    }
    let (a, b2) = (ids[0].to_string(), ids[1].to_string());
    // One case that is not ready among them: named, the two others added.
    s.post(
        &format!("/staff/batches/{batch}/add"),
        &[("pick", &a), ("pick", "999999"), ("pick", &b2)],
    )
    .await;
    assert_eq!(s.status, StatusCode::CONFLICT, "{}", s.html);
    assert!(
        s.html.contains("未能加入") && s.html.contains("#999999"),
        "{}",
        s.html
    );
    let api = app
        .get(&format!("/api/v1/batches/{batch}"), Some(&o.supervisor))
        .await;
    assert_eq!(api.expect(200)["item_count"], 2, "{:?}", api.body);
    s.post(&format!("/staff/batches/{batch}/seal"), &[]).await;
    assert!(s.path().ends_with("?done=sealed"), "{}", s.html);
    let hash = hash_on(&s.html);
    assert_eq!(hash.len(), 64, "{hash}");
    // The manifest downloads as exactly the bytes that were hashed.
    s.get(&format!("/staff/batches/{batch}/manifest")).await;
    assert_eq!(s.status, StatusCode::OK);
    let recomputed = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(s.html.as_bytes()))
    };
    assert_eq!(recomputed, hash);
    s.get(&format!("/staff/batches/{batch}")).await;
    s.post(&format!("/staff/batches/{batch}/submit"), &[]).await;
    assert!(s.path().ends_with("?done=submitted"), "{}", s.html);
    assert_eq!(status_of(&app, &o.reviewer, ids[0]).await, "reported");

    let mut bu = Browser::new(&app);
    staff_sign_in(&mut bu, "b@nanguan.test").await;
    bu.get("/staff/batches").await;
    assert!(bu.html.contains(&format!("/staff/batches/{batch}")));
    bu.get(&format!("/staff/batches/{batch}")).await;
    // A wrong hash is refused and nothing changes.
    bu.post(
        &format!("/staff/batches/{batch}/acknowledge"),
        &[("count", "2"), ("sha256", &"0".repeat(64))],
    )
    .await;
    assert_eq!(bu.status, StatusCode::CONFLICT, "{}", bu.html);
    assert!(bu.html.contains("不一致"), "{}", bu.html);
    let api = app
        .get(&format!("/api/v1/batches/{batch}"), Some(&o.bureau))
        .await;
    assert_eq!(api.expect(200)["status"], "submitted");
    bu.post(
        &format!("/staff/batches/{batch}/acknowledge"),
        &[("count", "2"), ("sha256", &hash)],
    )
    .await;
    assert!(bu.path().ends_with("?done=acknowledged"), "{}", bu.html);

    // Approve one; a return without a reason is refused for that case only.
    bu.post(
        &format!("/staff/batches/{batch}/decide"),
        &[
            (&format!("decision-{a}"), "approve"),
            (&format!("decision-{b2}"), "return"),
        ],
    )
    .await;
    assert_eq!(bu.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bu.html);
    assert!(bu.html.contains(&numbers[1]), "names the case refused");
    assert_eq!(status_of(&app, &o.reviewer, ids[0]).await, "waitlisted");
    assert_eq!(status_of(&app, &o.reviewer, ids[1]).await, "reported");
    bu.post(
        &format!("/staff/batches/{batch}/decide"),
        &[
            (&format!("decision-{b2}"), "return"),
            (&format!("reason-{b2}"), "incomplete_documents"),
            (&format!("comment-{b2}"), "缺少收入证明原件"),
        ],
    )
    .await;
    assert!(bu.path().ends_with("?done=decided"), "{}", bu.html);
    assert_eq!(status_of(&app, &o.reviewer, ids[1]).await, "returned");
    assert!(bu.html.contains("轮候号"), "the waiting-list number shows");

    // The masked roster downloads and is logged.
    let logged_before = app.count(entity::export_log::Entity).await;
    bu.get(&format!("/staff/batches/{batch}/roster?format=csv"))
        .await;
    assert_eq!(bu.status, StatusCode::OK);
    assert!(!bu.html.contains(APPLICANT_ID));
    assert_eq!(
        app.count(entity::export_log::Entity).await,
        logged_before + 1
    );
    // The full roster needs a purpose.
    bu.get(&format!(
        "/staff/batches/{batch}/roster?format=csv&full=true&purpose="
    ))
    .await;
    assert_eq!(bu.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count(entity::export_log::Entity).await,
        logged_before + 1
    );

    // Reconciliation on the list page, with the numbers behind each figure.
    s.get("/staff/batches").await;
    assert!(s.html.contains(&numbers[0]) && s.html.contains(&numbers[1]));

    // The dashboard shows the API's figures, stage by stage.
    bu.get("/staff/dashboard").await;
    assert_eq!(bu.status, StatusCode::OK, "{}", bu.html);
    let funnel = app.get("/api/v1/reports/funnel", Some(&o.bureau)).await;
    for stage in funnel.expect(200)["stages"].as_array().unwrap() {
        let row = format!(
            "<th scope=\"row\">{}</th><td>{}</td>",
            stage["label"].as_str().unwrap(),
            stage["count"]
        );
        assert!(bu.html.contains(&row), "{row}: {}", bu.html);
    }
    assert!(bu.html.contains("/staff/dashboard/funnel.svg"));
    bu.get("/staff/dashboard/funnel.svg").await;
    assert_eq!(bu.status, StatusCode::OK);
    assert!(bu.html.starts_with("<svg") && bu.html.contains("配租"));
    bu.get("/staff/dashboard/funnel.csv").await;
    assert_eq!(bu.status, StatusCode::OK);
    bu.get("/staff/dashboard?from=2015-13-01").await;
    assert_eq!(bu.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(summary(&bu.html).iter().any(|(h, _)| h == "#f-from"));
}

#[tokio::test]
async fn a_reviewer_enters_a_walk_in_familys_paper_application_at_the_counter() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let mut b = Browser::new(&app);
    staff_sign_in(&mut b, "r@nanguan.test").await;
    assert!(
        b.html.contains("/apply"),
        "the desk links to counter intake"
    );
    b.get("/apply").await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    b.post(
        "/apply",
        &[
            ("programme", "public_rental"),
            ("applicant_class", "local"),
            ("community_code", COMMUNITY),
            ("filed_at", "hukou"),
        ],
    )
    .await;
    let id: i64 = b.path().split('/').nth(2).unwrap().parse().unwrap();
    // The rest of the paper form, entered through the same checks.
    let v = version(&app, &o.reviewer, id).await;
    app.patch(
        &o.reviewer,
        &format!("/api/v1/applications/{id}"),
        v,
        &household(),
    )
    .await
    .expect(200);
    b.get(&format!("/applications/{id}/review")).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    let key = attr_after(&b.html, "name=\"key\" value=\"").unwrap();
    let v = b.version();
    b.post(
        &format!("/applications/{id}/submit"),
        &[("version", &v), ("key", &key)],
    )
    .await;
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&o.reviewer))
        .await;
    assert_eq!(case.expect(200)["status"], "eligible", "{:?}", case.body);
    assert_eq!(case.body["source"], "counter");
    b.get(&format!("/applications/{id}")).await;
    assert_eq!(
        b.path(),
        format!("/staff/cases/{id}"),
        "staff see cases on the desk"
    );
}

#[tokio::test]
async fn the_admin_uploads_a_policy_with_a_mistake_fixes_it_simulates_and_publishes() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    // A case decided under the policy in force, for the simulation to re-check.
    let applicant = app.applicant("13800005551").await;
    let receipt = app.file(&applicant, &household()).await;
    let number = receipt["number"].as_str().unwrap().to_string();

    let mut b = Browser::new(&app);
    sign_in(&mut b, "admin@anju.test", PASSWORD).await;
    assert_eq!(
        b.path(),
        "/staff/dashboard",
        "the admin lands on the dashboard"
    );
    b.get("/admin/policies").await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    b.get("/admin/policies/zz-gzf-2015.1/toml").await;
    assert_eq!(b.status, StatusCode::OK);
    let shipped = b.html.clone();
    assert!(shipped.starts_with("# "), "a commented file: {shipped}");
    // The officer's edit: a new version, a tighter income limit, and one mistake.
    let edited = shipped
        .replace("version = \"zz-gzf-2015.1\"", "version = \"zz-gzf-2026.2\"")
        .replace(
            "effective_from = \"2015-01-01\"",
            "effective_from = \"2026-12-01\"",
        )
        .replace(
            "dibao_multiple_percent = 500",
            "dibao_multiple_percent = 100",
        )
        .replace("notice_days = 10", "notice_days = -3");
    assert_ne!(edited, shipped);
    let published_before = app.count(entity::policy::Entity).await;
    b.get("/admin/policies").await;
    b.post_multipart("/admin/policies", &[("action", "check"), ("toml", &edited)])
        .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.html);
    let problems = summary(&b.html);
    assert!(
        problems
            .iter()
            .any(|(href, text)| href == "#f-toml" && text.contains("deadlines.notice_days")),
        "{problems:?}"
    );
    assert!(
        b.html.contains("zz-gzf-2026.2"),
        "the text comes back to fix"
    );
    // A syntax mistake names its line.
    b.post_multipart(
        "/admin/policies",
        &[
            ("action", "check"),
            ("toml", "programme = \"public_rental\"\nversion = \n"),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        summary(&b.html).iter().any(|(_, t)| t.contains("第 2 行")),
        "{:?}",
        summary(&b.html)
    );
    // Fixed: checked and simulated, nothing written.
    let fixed = edited.replace("notice_days = -3", "notice_days = 10");
    b.post_multipart("/admin/policies", &[("action", "check"), ("file", &fixed)])
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    assert!(b.html.contains("模拟结果"), "{}", b.html);
    assert!(
        b.html.contains(&number),
        "the case that would change is listed: {}",
        b.html
    );
    assert_eq!(app.count(entity::policy::Entity).await, published_before);
    b.post_multipart(
        "/admin/policies",
        &[("action", "publish"), ("toml", &fixed)],
    )
    .await;
    assert_eq!(b.path(), "/admin/policies?done=zz-gzf-2026.2", "{}", b.html);
    assert_eq!(
        app.count(entity::policy::Entity).await,
        published_before + 1
    );
    let p = app.get("/api/v1/policies/zz-gzf-2026.2", None).await;
    assert_eq!(p.expect(200)["document"]["effective_from"], "2026-12-01");
    // The same version again is refused, nothing written.
    b.post_multipart(
        "/admin/policies",
        &[("action", "publish"), ("toml", &fixed)],
    )
    .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.html);
    assert_eq!(
        app.count(entity::policy::Entity).await,
        published_before + 1
    );

    // Staff may not use the admin's pages.
    let mut r = Browser::new(&app);
    staff_sign_in(&mut r, "r@nanguan.test").await;
    for page in ["/admin/policies", "/admin/outbox"] {
        r.get(page).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{page}");
    }
    r.post_multipart(
        "/admin/policies",
        &[("action", "publish"), ("toml", &fixed)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let _ = o;
}

#[tokio::test]
async fn the_admin_makes_accounts_names_places_and_sees_the_outbox_on_the_web() {
    let app = TestApp::spawn().await;
    let _admin = app.admin().await;
    let mut b = Browser::new(&app);
    sign_in(&mut b, "admin@anju.test", PASSWORD).await;
    b.get("/admin/users").await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    let accounts = app.count(entity::user_account::Entity).await;
    // No password and an unknown place: both named, the rest of the form kept.
    b.post(
        "/admin/users",
        &[
            ("role", "reviewer"),
            ("display_name", "张审核"),
            ("email", "zhang@nanguan.test"),
            ("password", ""),
            ("places", "410104003-99"),
        ],
    )
    .await;
    assert!(b.status.is_client_error(), "{}", b.html);
    assert!(!summary(&b.html).is_empty(), "{}", b.html);
    assert!(b.html.contains("value=\"zhang@nanguan.test\""));
    assert_eq!(app.count(entity::user_account::Entity).await, accounts);
    b.post(
        "/admin/users",
        &[
            ("role", "reviewer"),
            ("display_name", "张审核"),
            ("email", "zhang@nanguan.test"),
            ("password", "a-long-reviewer-password"),
            ("places", COMMUNITY),
        ],
    )
    .await;
    assert_eq!(b.path(), "/admin/users?done=created", "{}", b.html);
    assert!(b.html.contains("zhang@nanguan.test") && b.html.contains(COMMUNITY));
    let mut r = Browser::new(&app);
    sign_in(&mut r, "zhang@nanguan.test", "a-long-reviewer-password").await;
    assert_eq!(r.path(), "/staff");
    // Disabled: signed out at once.
    let id = attr_after(&b.html, "action=\"/admin/users/")
        .and_then(|s| s.split('/').next().map(str::to_string))
        .unwrap();
    b.post(&format!("/admin/users/{id}/disable"), &[]).await;
    assert_eq!(b.path(), "/admin/users?done=disabled");
    r.get("/staff").await;
    assert_eq!(r.path(), "/login?next=/staff", "the session ended");

    // Naming a community.
    b.get("/admin/places").await;
    assert_eq!(b.status, StatusCode::OK);
    b.post("/admin/places/410104003-02", &[("name", "南关社区")])
        .await;
    assert_eq!(b.path(), "/admin/places?done=renamed");
    let places = app.get("/api/v1/places", None).await;
    let named = places.expect(200).to_string();
    assert!(named.contains("南关社区"), "{named}");

    // The outbox: a message that is not dead cannot be retried, and stays as it was.
    let applicant = app.applicant("13800006661").await;
    app.file(&applicant, &household()).await;
    let outbox = app.get("/api/v1/admin/outbox", Some(&_admin)).await;
    let first = outbox.expect(200)[0].clone();
    assert_ne!(first["status"], "dead");
    b.get(&format!(
        "/admin/outbox?status={}",
        first["status"].as_str().unwrap()
    ))
    .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    assert!(
        b.html.contains(first["kind"].as_str().unwrap()),
        "{}",
        b.html
    );
    b.post(&format!("/admin/outbox/{}/retry", first["id"]), &[])
        .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.html);
    let again = app.get("/api/v1/admin/outbox", Some(&_admin)).await;
    let same = again
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == first["id"])
        .cloned()
        .unwrap();
    assert_eq!(same["attempts"], first["attempts"]);
    assert_eq!(same["status"], first["status"]);
}

async fn account_id(app: &TestApp, token: &str) -> i64 {
    app.get("/api/v1/auth/me", Some(token)).await.expect(200)["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_supervisor_assigns_a_case_to_a_reviewer_chosen_from_those_covering_its_community() {
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let far = app
        .staff(&o.admin, "reviewer", "far@nanguan.test", &["410104003-05"])
        .await;
    let reviewer_id = account_id(&app, &o.reviewer).await;
    let far_id = account_id(&app, &far).await;
    let applicant = app.applicant("13800007771").await;
    let id = app.file(&applicant, &household()).await["application_id"]
        .as_i64()
        .unwrap();
    let mut s = Browser::new(&app);
    staff_sign_in(&mut s, "s@nanguan.test").await;
    s.get(&format!("/staff/cases/{id}")).await;
    assert!(
        s.html
            .contains(&format!("<option value=\"{reviewer_id}\">")),
        "the covering reviewer is offered: {}",
        s.html
    );
    assert!(
        !s.html.contains(&format!("<option value=\"{far_id}\">")),
        "a reviewer of another community is not"
    );
    let v = s.version();
    s.post(
        &format!("/staff/cases/{id}/act"),
        &[
            ("action", "assign"),
            ("version", &v),
            ("assignee_id", &reviewer_id.to_string()),
        ],
    )
    .await;
    assert_eq!(
        s.path(),
        format!("/staff/cases/{id}?done=assign"),
        "{}",
        s.html
    );
    let mine = app
        .get(
            "/api/v1/review/queue?status=eligible&assigned=me",
            Some(&o.reviewer),
        )
        .await;
    assert_eq!(mine.expect(200)["items"][0]["id"], id);
    // The other reviewer, typed in by hand, is refused and nothing changes.
    let v = s.version();
    s.post(
        &format!("/staff/cases/{id}/act"),
        &[
            ("action", "assign"),
            ("version", &v),
            ("assignee_id", &far_id.to_string()),
        ],
    )
    .await;
    assert!(s.status.is_client_error(), "{}", s.html);
    let still = app
        .get(
            "/api/v1/review/queue?status=eligible&assigned=me",
            Some(&o.reviewer),
        )
        .await;
    assert_eq!(still.expect(200)["items"][0]["id"], id);
}
