//! The web pages, driven as a browser would (cookies, forms, redirects) but without
//! one: what `cargo test` can prove on its own. The browser tests in `tests/browser/`
//! drive the same pages in Chromium.

use std::collections::HashMap;

use poem::http::{Method, StatusCode, header};

use crate::fixtures::{APPLICANT_ID, id_number, spouse_id};
use crate::helpers::TestApp;

/// A browser: keeps cookies, follows redirects, reads the CSRF token off each page.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: HashMap<String, String>,
    /// The last page's HTML.
    pub html: String,
    pub status: StatusCode,
    /// Every URL visited, redirects included.
    visited: Vec<String>,
    set_cookies: Vec<String>,
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    html.find(marker)
        .map(|i| {
            let rest = &html[i + marker.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .unwrap_or_default()
}

pub fn attr_after(html: &str, marker: &str) -> Option<String> {
    let i = html.find(marker)?;
    let rest = &html[i + marker.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The links of the error summary: (href, text).
pub fn summary(html: &str) -> Vec<(String, String)> {
    let Some(start) = html.find("class=\"error-summary\"") else {
        return vec![];
    };
    let block = &html[start
        ..html[start..]
            .find("</div>")
            .map_or(html.len(), |e| start + e)];
    block
        .split("<li><a href=\"")
        .skip(1)
        .map(|s| {
            let (href, rest) = s.split_once('"').unwrap_or(("", ""));
            let text = rest
                .trim_start_matches('>')
                .split("</a>")
                .next()
                .unwrap_or("");
            (href.to_string(), text.to_string())
        })
        .collect()
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: HashMap::new(),
            html: String::new(),
            status: StatusCode::OK,
            visited: vec![],
            set_cookies: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn request(&mut self, method: Method, path: &str, form: Option<String>) {
        let typed = form.map(|f| ("application/x-www-form-urlencoded".to_string(), f));
        self.request_typed(method, path, typed).await;
    }

    /// Posts `fields` as `multipart/form-data` (a file upload form), with the CSRF token.
    pub async fn post_multipart(&mut self, path: &str, fields: &[(&str, &str)]) -> &mut Self {
        let boundary = "anju-test-boundary-7d1f";
        let csrf = csrf_of(&self.html);
        let mut body = String::new();
        for (k, v) in fields.iter().copied().chain([("_csrf", csrf.as_str())]) {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let typed = (format!("multipart/form-data; boundary={boundary}"), body);
        self.request_typed(Method::POST, path, Some(typed)).await;
        self
    }

    async fn request_typed(&mut self, method: Method, path: &str, form: Option<(String, String)>) {
        let mut method = method;
        let mut path = path.to_string();
        let mut form = form;
        for _ in 0..5 {
            self.visited.push(path.clone());
            let mut req = self.app.client.request(method.clone(), &path);
            if !self.cookies.is_empty() {
                req = req.header(header::COOKIE, self.cookie_header());
            }
            if let Some((kind, body)) = form.take() {
                req = req.header(header::CONTENT_TYPE, kind).body(body);
            }
            let resp = req.send().await.0;
            for v in resp.headers().get_all(header::SET_COOKIE) {
                let v = v.to_str().unwrap().to_string();
                let pair = v.split(';').next().unwrap();
                let (k, val) = pair.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), val.to_string());
                }
                self.set_cookies.push(v);
            }
            self.status = resp.status();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .map(|l| l.to_str().unwrap().to_string());
            let bytes = resp.into_body().into_bytes().await.unwrap();
            self.html = String::from_utf8_lossy(&bytes).into_owned();
            match location {
                Some(to) if self.status.is_redirection() => {
                    path = to;
                    method = Method::GET;
                }
                _ => return,
            }
        }
        panic!("too many redirects");
    }

    pub async fn get(&mut self, path: &str) -> &mut Self {
        self.request(Method::GET, path, None).await;
        self
    }

    /// Posts the form with this page's CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> &mut Self {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push(("_csrf".into(), csrf_of(&self.html)));
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        self.request(Method::POST, path, Some(body)).await;
        self
    }

    pub fn version(&self) -> String {
        attr_after(&self.html, "name=\"version\" value=\"").expect("a version on the page")
    }

    pub fn path(&self) -> &str {
        self.visited.last().unwrap()
    }

    pub async fn register_and_sign_in(&mut self, mobile: &str) {
        self.get("/register").await;
        self.post(
            "/register",
            &[
                ("display_name", "王小明"),
                ("mobile", mobile),
                ("email", &format!("{mobile}@example.org")),
                ("password", "a-long-password"),
            ],
        )
        .await;
        assert_eq!(self.status, StatusCode::OK, "{}", self.html);
        self.get("/login").await;
        self.post(
            "/login",
            &[
                ("login", mobile),
                ("password", "a-long-password"),
                ("next", "/applications"),
            ],
        )
        .await;
        assert_eq!(self.path(), "/applications", "{}", self.html);
    }
}

#[tokio::test]
async fn the_start_page_says_what_the_policy_in_force_says_in_both_languages() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    b.get("/").await;
    assert_eq!(b.status, StatusCode::OK);
    assert!(b.html.contains("<html lang=\"zh-CN\">"));
    // Straight from the shipped policies: versions, the low-rent area limit, the deadlines.
    assert!(
        b.html.contains("zz-gzf-2015.1") && b.html.contains("zz-lzf-2015.1"),
        "{}",
        b.html
    );
    assert!(b.html.contains("家庭人均住房建筑面积不超过 16 平方米"));
    assert!(b.html.contains("10 日内"));
    b.get("/lang/en?back=/").await;
    assert_eq!(b.path(), "/");
    assert!(b.html.contains("<html lang=\"en\">"));
    assert!(
        b.html
            .contains("housing per person is at most 16 m² of building area")
    );
    // Remembered: the next page is English too, and the cookie lasts a year.
    b.get("/check").await;
    assert!(b.html.contains("Do I qualify?"));
    assert!(
        b.set_cookies
            .iter()
            .any(|c| c.starts_with("anju_lang=en") && c.contains("Max-Age=31536000"))
    );
    // Only a path on this site is a place to go back to.
    b.get("/lang/zh?back=//evil.example/").await;
    assert_eq!(b.path(), "/");
}

#[tokio::test]
async fn the_quick_check_answers_rule_by_rule_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let before = app.count(entity::application::Entity).await;
    let mut b = Browser::new(&app);
    b.get("/check").await;
    let base = [
        ("programme", "low_rent"),
        ("applicant_class", "local"),
        ("household_size", "3"),
        ("applicant_age", "45"),
        ("hukou_city", "郑州"),
        ("hukou_years", "10"),
        ("housing_area", "30"),
        ("tenure", "owned"),
    ];
    let mut poor = base.to_vec();
    poor.push(("annual_income", "30000"));
    b.post("/check", &poor).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    assert!(b.html.contains("看来符合申请条件"), "{}", b.html);
    assert!(b.html.contains("tag pass"));
    let mut rich = base.to_vec();
    rich.push(("annual_income", "300000"));
    b.post("/check", &rich).await;
    assert!(b.html.contains("看来暂不符合申请条件"), "{}", b.html);
    assert!(b.html.contains("tag fail"));
    // Bad answers: every one named in the summary, linked to its field.
    b.post(
        "/check",
        &[("household_size", "many"), ("annual_income", "lots")],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    let links: Vec<String> = summary(&b.html).into_iter().map(|(h, _)| h).collect();
    for f in [
        "#f-programme",
        "#f-applicant_class",
        "#f-household_size",
        "#f-applicant_age",
        "#f-annual_income",
    ] {
        assert!(links.iter().any(|l| l == f), "{f} missing from {links:?}");
    }
    assert!(b.html.contains("id=\"f-household_size\"") && b.html.contains("aria-invalid=\"true\""));
    assert_eq!(
        app.count(entity::application::Entity).await,
        before,
        "nothing stored"
    );
}

#[tokio::test]
async fn a_form_without_this_browsers_token_is_refused_and_does_nothing() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    b.register_and_sign_in("13800002222").await;
    let sessions = app.count(entity::session_token::Entity).await;
    // Another site posting into a signed-in browser: the cookie goes along, the token cannot.
    let mut forged = Browser::new(&app);
    forged.cookies = b.cookies.clone();
    forged.html = "<input name=\"_csrf\" value=\"0000\">".into();
    forged
        .post("/apply", &[("programme", "public_rental")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count(entity::application::Entity).await,
        0,
        "no draft written"
    );
    forged.html = "<input name=\"_csrf\" value=\"0000\">".into();
    forged.post("/logout", &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    b.get("/applications").await;
    assert_eq!(b.path(), "/applications", "still signed in");
    // A sign-in with no token at all (the first page never seen).
    let mut cold = Browser::new(&app);
    cold.post(
        "/login",
        &[("login", "13800002222"), ("password", "a-long-password")],
    )
    .await;
    assert_eq!(cold.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count(entity::session_token::Entity).await,
        sessions,
        "no session made"
    );
    // The session cookie is out of scripts' reach and not sent from other sites.
    let session = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("anju_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain http in tests");
}

async fn fill_household(b: &mut Browser<'_>) -> i64 {
    b.get("/apply").await;
    b.post(
        "/apply",
        &[
            ("programme", "public_rental"),
            ("applicant_class", "local"),
            ("community_code", crate::fixtures::COMMUNITY),
            ("filed_at", "hukou"),
        ],
    )
    .await;
    let path = b.path().to_string();
    assert!(path.ends_with("/edit/members"), "{path}: {}", b.html);
    path.split('/').nth(2).unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_applicant_applies_in_steps_sees_every_mistake_at_once_and_submits_once() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    b.register_and_sign_in("13800003333").await;
    let id = fill_household(&mut b).await;
    let members = format!("/applications/{id}/edit/members");
    let spouse = spouse_id();
    let mut m: Vec<(String, String)> = vec![];
    let mut member = |i: usize, rel: &str, name: &str, idn: &str, g: &str, ms: &str| {
        for (k, v) in [
            ("relationship", rel),
            ("name", name),
            ("id_number", idn),
            ("gender", g),
            ("marital_status", ms),
            ("hukou_city", "郑州"),
            ("hukou_since", "2000-01-01"),
        ] {
            m.push((format!("members[{i}].{k}"), v.to_string()));
        }
    };
    member(0, "applicant", "王小明", APPLICANT_ID, "male", "married");
    member(1, "spouse", "李小红", &spouse, "female", "married");
    // Add a member with the button (no script): the page comes back with two fieldsets.
    let v = b.version();
    let mut first: Vec<(&str, &str)> = m[..7]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    first.push(("version", &v));
    first.push(("go", "add_member"));
    b.post(&members, &first).await;
    assert_eq!(
        b.html.matches("<fieldset class=\"group\">").count(),
        2,
        "{}",
        b.html
    );
    let v = b.version();
    let mut both: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    both.push(("version", &v));
    b.post(&members, &both).await;
    assert!(b.path().ends_with("/edit/income"), "{}", b.html);
    let v = b.version();
    b.post(
        &format!("/applications/{id}/edit/income"),
        &[
            ("version", &v),
            ("members[0].annual_income_fen", "36000"),
            ("members[1].annual_income_fen", "24000"),
        ],
    )
    .await;
    let v = b.version();
    b.post(
        &format!("/applications/{id}/edit/housing"),
        &[("version", &v)],
    )
    .await;
    // Three mistakes on the last step: no mobile, no documents, no declaration.
    let v = b.version();
    b.post(
        &format!("/applications/{id}/edit/contact"),
        &[("version", &v), ("consent_verification", "true")],
    )
    .await;
    assert!(b.path().ends_with("/review"), "{}", b.html);
    let key = attr_after(&b.html, "name=\"key\" value=\"").unwrap();
    let v = b.version();
    b.post(
        &format!("/applications/{id}/submit"),
        &[("version", &v), ("key", &key)],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.html);
    let problems = summary(&b.html);
    let hrefs: Vec<&str> = problems.iter().map(|(h, _)| h.as_str()).collect();
    for expected in [
        format!("/applications/{id}/edit/contact#f-contact_mobile"),
        format!("/applications/{id}/edit/contact#f-documents"),
        format!("/applications/{id}/edit/contact#f-declaration_truthful"),
    ] {
        assert!(
            hrefs.contains(&expected.as_str()),
            "{expected} not in {hrefs:?}"
        );
    }
    assert!(
        problems.iter().all(|(_, text)| text.contains('：')),
        "each says which field: {problems:?}"
    );
    assert_eq!(
        app.count(entity::application_event::Entity).await,
        0,
        "nothing submitted"
    );
    // Fixed, then submitted twice with the same page (a double click): one submission.
    b.get(&format!("/applications/{id}/edit/contact")).await;
    let v = b.version();
    b.post(
        &format!("/applications/{id}/edit/contact"),
        &[
            ("version", &v),
            ("contact_mobile", "13800003333"),
            ("language", "zh"),
            ("documents", "id_card"),
            ("documents", "hukou_book"),
            ("consent_verification", "true"),
            ("declaration_truthful", "true"),
        ],
    )
    .await;
    let review = b.html.clone();
    let key = attr_after(&review, "name=\"key\" value=\"").unwrap();
    let v = b.version();
    b.post(
        &format!("/applications/{id}/submit"),
        &[("version", &v), ("key", &key)],
    )
    .await;
    assert!(b.path().ends_with("/receipt"), "{}", b.html);
    let receipt = b.html.clone();
    b.html = review;
    b.post(
        &format!("/applications/{id}/submit"),
        &[("version", &v), ("key", &key)],
    )
    .await;
    assert!(
        b.path().ends_with("/receipt"),
        "the repeat lands on the same receipt: {}",
        b.html
    );
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let submits = entity::application_event::Entity::find()
        .filter(entity::application_event::Column::Action.eq(entity::enums::CaseAction::Submit))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(submits, 1, "one submission");
    let number = app.get(&format!("/api/v1/applications/{id}"), None).await;
    assert_eq!(number.status.as_u16(), 401);
    assert!(
        receipt.contains("410104003-"),
        "the receipt shows the number: {receipt}"
    );
    // The case page: status, decision rule by rule, history.
    b.get(&format!("/applications/{id}")).await;
    assert!(b.html.contains("符合条件，待受理"), "{}", b.html);
    assert!(b.html.contains("资格审核结果") && b.html.contains("tag pass"));
    assert!(b.html.contains("提交申请") && b.html.contains("资格审核通过"));
    // No personal data in any URL visited.
    for url in &b.visited {
        assert!(
            !url.contains(APPLICANT_ID) && !url.contains("13800003333"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn another_applicants_pages_answer_404_and_strangers_are_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    owner.register_and_sign_in("13800004444").await;
    let id = fill_household(&mut owner).await;
    let mut other = Browser::new(&app);
    other.register_and_sign_in("13800005555").await;
    for path in [
        format!("/applications/{id}"),
        format!("/applications/{id}/edit/members"),
        format!("/applications/{id}/review"),
        format!("/applications/{id}/receipt"),
        format!("/applications/{id}/withdraw"),
    ] {
        other.get(&path).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!other.html.contains("惠工街"), "{path} leaks the case");
    }
    other.get("/applications").await;
    assert!(
        !other.html.contains(&format!("/applications/{id}")),
        "not in their list"
    );
    let mut stranger = Browser::new(&app);
    stranger.get(&format!("/applications/{id}")).await;
    assert!(stranger.path().starts_with("/login"), "{}", stranger.path());
    stranger.get("/no/such/page").await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    assert!(stranger.html.contains("找不到该页面"));
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_a_link_that_works_once() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    b.register_and_sign_in("13800006666").await;
    let mut other_device = Browser::new(&app);
    other_device.cookies = b.cookies.clone();
    let outbox = app.count(entity::outbox_message::Entity).await;
    let mut anon = Browser::new(&app);
    anon.get("/password/forgot").await;
    anon.post("/password/forgot", &[("login", "13999999999")])
        .await;
    let unknown = anon.html.clone();
    assert_eq!(
        app.count(entity::outbox_message::Entity).await,
        outbox,
        "no message for no account"
    );
    anon.get("/password/forgot").await;
    anon.post("/password/forgot", &[("login", "13800006666")])
        .await;
    assert_eq!(anon.status, StatusCode::OK);
    let known = anon.html.clone();
    assert_eq!(
        known
            .split("<main")
            .nth(1)
            .map(|m| m.replace(&csrf_of(&known), "")),
        unknown
            .split("<main")
            .nth(1)
            .map(|m| m.replace(&csrf_of(&unknown), "")),
        "the same answer whether or not the account exists"
    );
    use sea_orm::{EntityTrait, QueryOrder};
    let message = entity::outbox_message::Entity::find()
        .order_by_desc(entity::outbox_message::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.kind, "password_reset");
    assert_eq!(
        message.recipient.as_deref(),
        Some("13800006666@example.org")
    );
    let link = message
        .body_text
        .split_whitespace()
        .find(|w| w.contains("/password/reset/"))
        .unwrap()
        .to_string();
    let path = &link[link.find("/password/reset/").unwrap()..];
    anon.get(path).await;
    assert_eq!(anon.status, StatusCode::OK);
    anon.post(path, &[("password", "short")]).await;
    assert_eq!(anon.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(summary(&anon.html).iter().any(|(h, _)| h == "#f-password"));
    anon.post(path, &[("password", "a-new-long-password")])
        .await;
    assert_eq!(anon.status, StatusCode::OK, "{}", anon.html);
    // The old password is gone, the new one works, the other device is signed out.
    let old = app.login("13800006666", "a-long-password").await;
    assert_eq!(old.status.as_u16(), 401);
    app.login("13800006666", "a-new-long-password")
        .await
        .expect(200);
    other_device.get("/applications").await;
    assert!(
        other_device.path().starts_with("/login"),
        "signed out everywhere"
    );
    // Twice: the link is spent.
    anon.get(path).await;
    assert_eq!(anon.status, StatusCode::NOT_FOUND);
    // Expired: a fresh link, 31 minutes later.
    anon.get("/password/forgot").await;
    anon.post("/password/forgot", &[("login", "13800006666")])
        .await;
    let message = entity::outbox_message::Entity::find()
        .order_by_desc(entity::outbox_message::Column::Id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let link = message
        .body_text
        .split_whitespace()
        .find(|w| w.contains("/password/reset/"))
        .unwrap()
        .to_string();
    app.clock.advance(chrono::Duration::minutes(31));
    anon.get(&link[link.find("/password/reset/").unwrap()..])
        .await;
    assert_eq!(anon.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_notice_page_lists_masked_cases_and_takes_an_objection() {
    let app = TestApp::spawn().await;
    let number = crate::review::number_on_notice(&app).await;
    let mut b = Browser::new(&app);
    b.get("/notices").await;
    assert!(b.html.contains(&number), "{}", b.html);
    assert!(
        !b.html.contains(&id_number("410104", "19800101", 91)),
        "identity numbers masked"
    );
    b.get(&format!("/notices?number={number}")).await;
    assert!(b.html.contains(&number));
    b.get("/notices?number=410104003-1999-000001").await;
    assert!(!b.html.contains(&number));
    b.get(&format!("/notices/{number}/objection")).await;
    b.post(
        &format!("/notices/{number}/objection"),
        &[("name", ""), ("contact", "12"), ("content", "")],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    let hrefs: Vec<String> = summary(&b.html).into_iter().map(|(h, _)| h).collect();
    assert!(
        hrefs.contains(&"#f-name".to_string()) && hrefs.contains(&"#f-contact".to_string()),
        "{hrefs:?}"
    );
    assert_eq!(app.count(entity::objection::Entity).await, 0);
    b.post(
        &format!("/notices/{number}/objection"),
        &[
            ("name", "孙"),
            ("contact", "13912345678"),
            ("content", "该户有自有住房"),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    assert_eq!(app.count(entity::objection::Entity).await, 1);
}

#[tokio::test]
async fn staff_other_than_counter_reviewers_cannot_use_the_applicant_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.staff(&admin, "supervisor", "rev@example.org", &["410104003"])
        .await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    b.post(
        "/login",
        &[
            ("login", "rev@example.org"),
            ("password", crate::helpers::PASSWORD),
            ("next", "/apply"),
        ],
    )
    .await;
    assert_eq!(b.status, StatusCode::FORBIDDEN, "{}", b.html);
    assert_eq!(app.count(entity::application::Entity).await, 0);
}

async fn sign_in_as(b: &mut Browser<'_>, login: &str) {
    b.get("/login").await;
    b.post(
        "/login",
        &[
            ("login", login),
            ("password", crate::helpers::PASSWORD),
            ("next", "/applications"),
        ],
    )
    .await;
    assert_eq!(b.path(), "/applications", "{}", b.html);
}

#[tokio::test]
async fn a_correction_is_shown_resubmitted_and_a_case_withdrawn_after_a_confirmation() {
    use crate::helpers::{act, version};
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let reviewer = app
        .staff(
            &admin,
            "reviewer",
            "r@nanguan.test",
            &[crate::fixtures::COMMUNITY],
        )
        .await;
    let token = app.applicant("13800007777").await;
    let receipt = app.file(&token, &crate::fixtures::household()).await;
    let id = receipt["application_id"].as_i64().unwrap();
    let v = version(&app, &reviewer, id).await;
    let v = act(
        &app,
        &reviewer,
        id,
        serde_json::json!({ "action": "accept", "version": v }),
    )
    .await
    .expect(200)["version"]
        .as_i64()
        .unwrap();
    act(
        &app,
        &reviewer,
        id,
        serde_json::json!({ "action": "request_correction", "version": v, "items": ["补交配偶收入证明", "住房面积与房产证不符"] }),
    )
    .await
    .expect(200);
    let mut b = Browser::new(&app);
    sign_in_as(&mut b, "13800007777").await;
    b.get(&format!("/applications/{id}")).await;
    assert!(
        b.html.contains("需要补正的事项")
            && b.html.contains("补交配偶收入证明")
            && b.html.contains("住房面积与房产证不符"),
        "{}",
        b.html
    );
    assert!(
        b.html
            .contains(&format!("/applications/{id}/edit/household")),
        "a way to correct it"
    );
    // Correct (a save on a step) and resubmit from the review page.
    b.get(&format!("/applications/{id}/edit/housing")).await;
    let v = b.version();
    b.post(
        &format!("/applications/{id}/edit/housing"),
        &[
            ("version", &v),
            ("housing[0].address", "郑州市管城区惠工街 1 号"),
            ("housing[0].area_m2", "28.5"),
            ("housing[0].nature", "rented_private"),
        ],
    )
    .await;
    b.get(&format!("/applications/{id}/review")).await;
    assert!(b.html.contains("重新提交"));
    let key = attr_after(&b.html, "name=\"key\" value=\"").unwrap();
    let v = b.version();
    b.post(
        &format!("/applications/{id}/submit"),
        &[("version", &v), ("key", &key)],
    )
    .await;
    assert!(b.path().ends_with("/receipt"), "{}", b.html);
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    assert_eq!(case.expect(200)["status"], "eligible");
    assert_eq!(case.body["form"]["housing"][0]["area_m2"], 28.5);
    // Withdraw: the link asks first; nothing happens until confirmed.
    b.get(&format!("/applications/{id}/withdraw")).await;
    assert!(b.html.contains("确定要撤回申请吗"));
    assert_eq!(
        app.get(&format!("/api/v1/applications/{id}"), Some(&token))
            .await
            .body["status"],
        "eligible"
    );
    b.post(
        &format!("/applications/{id}/withdraw"),
        &[("version", &b.version()), ("reason", "已购房")],
    )
    .await;
    assert_eq!(b.path(), format!("/applications/{id}"));
    assert!(b.html.contains("已撤回"), "{}", b.html);
    assert_eq!(
        app.get(&format!("/api/v1/applications/{id}"), Some(&token))
            .await
            .body["status"],
        "withdrawn"
    );
    // Sign out: the session is revoked, not just the cookie dropped.
    let session = b.cookies["anju_session"].clone();
    b.post("/logout", &[]).await;
    assert_eq!(b.path(), "/");
    assert!(!b.cookies.contains_key("anju_session"));
    let stolen = app
        .client
        .get("/applications")
        .header(
            poem::http::header::COOKIE,
            format!("anju_session={session}"),
        )
        .send()
        .await;
    assert_eq!(
        stolen.0.status(),
        StatusCode::SEE_OTHER,
        "the old cookie signs in no more"
    );
}

#[tokio::test]
async fn members_are_removed_with_a_button_and_warnings_are_shown_without_blocking() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800008888").await;
    // An unusual value (a working-age member with no income) is a warning, not an error.
    let mut form = crate::fixtures::household();
    form["members"][1]["annual_income_fen"] = serde_json::json!(0);
    let (id, _) = app.draft(&token, &form).await;
    let mut b = Browser::new(&app);
    sign_in_as(&mut b, "13800008888").await;
    b.get(&format!("/applications/{id}/edit/members")).await;
    assert_eq!(b.html.matches("<fieldset class=\"group\">").count(), 3);
    // Post the page as it is, pressing "remove member 3".
    let fields: Vec<(String, String)> = [
        "relationship",
        "name",
        "id_number",
        "gender",
        "marital_status",
        "hukou_city",
        "hukou_since",
    ]
    .iter()
    .flat_map(|f| (0..3).map(move |i| (i, *f)))
    .map(|(i, f)| {
        let name = format!("members[{i}].{f}");
        let m = &form["members"][i];
        let v = m[f].as_str().unwrap_or("").to_string();
        (name, v)
    })
    .collect();
    let v = b.version();
    let mut post: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    post.push(("version", &v));
    post.push(("go", "remove_member:2"));
    b.post(&format!("/applications/{id}/edit/members"), &post)
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.html);
    assert_eq!(
        b.html.matches("<fieldset class=\"group\">").count(),
        2,
        "one fewer"
    );
    let draft = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    assert_eq!(
        draft.expect(200)["form"]["members"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "and saved"
    );
    b.get(&format!("/applications/{id}/review")).await;
    let key = attr_after(&b.html, "name=\"key\" value=\"").unwrap();
    let v = b.version();
    b.post(
        &format!("/applications/{id}/submit"),
        &[("version", &v), ("key", &key)],
    )
    .await;
    assert!(
        b.path().ends_with("/receipt"),
        "a warning does not block: {}",
        b.html
    );
    b.get(&format!("/applications/{id}")).await;
    assert!(
        b.html.contains("需要审核人员核实"),
        "the warning is shown: {}",
        b.html
    );
}

#[tokio::test]
async fn a_refused_household_asks_for_reconsideration_on_its_case_page() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800008888").await;
    let mut form = crate::fixtures::single_household(&id_number("410104", "19800101", 7));
    crate::fixtures::set(
        &mut form,
        "members[0].annual_income_fen",
        serde_json::json!(90_000_000),
    );
    let r = app.file(&token, &form).await;
    assert_eq!(r["status"], "ineligible");
    let id = r["application_id"].as_i64().unwrap();
    let mut b = Browser::new(&app);
    sign_in_as(&mut b, "13800008888").await;
    b.get(&format!("/applications/{id}")).await;
    assert!(
        b.html.contains(&format!("/applications/{id}/appeal")),
        "{}",
        b.html
    );
    b.get(&format!("/applications/{id}/appeal")).await;
    let v = b.version();
    b.post(
        &format!("/applications/{id}/appeal"),
        &[("version", &v), ("reasons", " ")],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problems = summary(&b.html);
    assert!(
        problems
            .iter()
            .any(|(href, _)| href.ends_with("#f-reasons")),
        "{problems:?}"
    );
    let still = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await;
    assert_eq!(still.expect(200)["status"], "ineligible", "nothing written");
    b.post(
        &format!("/applications/{id}/appeal"),
        &[("version", &v), ("reasons", "收入证明把年终奖算了两次")],
    )
    .await;
    assert_eq!(b.path(), format!("/applications/{id}"));
    assert!(b.html.contains("复核答复截止日期"), "{}", b.html);
    assert!(
        b.html.contains("2026-11-23"),
        "15 working days from 2 November"
    );
    assert!(
        !b.html.contains(&format!("/applications/{id}/appeal\"")),
        "asked once"
    );
}

#[tokio::test]
async fn a_waitlisted_household_declares_for_its_reverification_on_the_web() {
    use crate::batches::{new_batch, office, ready_cases, seal_submit_ack};
    let app = TestApp::spawn().await;
    let o = office(&app).await;
    let ids = ready_cases(&app, &o, 1, 5).await;
    let batch = new_batch(&app, &o, &ids).await;
    seal_submit_ack(&app, &o, batch).await;
    app.post(
        &format!("/api/v1/batches/{batch}/decisions"),
        Some(&o.bureau),
        &serde_json::json!({ "items": [{ "application_id": ids[0], "decision": "approve" }] }),
    )
    .await
    .expect(200);
    let id = ids[0];
    let mut b = Browser::new(&app);
    sign_in_as(&mut b, "13700000005").await;
    b.get(&format!("/applications/{id}")).await;
    let due = case_due(&app, &o.reviewer, id).await;
    assert!(b.html.contains(&due.to_string()), "the next 年审 is shown");
    b.get(&format!("/applications/{id}/reverification")).await;
    assert!(b.html.contains("30000.00"), "incomes as stored, in yuan");
    let v = b.version();
    b.post(
        &format!("/applications/{id}/reverification"),
        &[("version", &v), ("members[0].annual_income_fen", "三万")],
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    let hrefs: Vec<String> = summary(&b.html).into_iter().map(|p| p.0).collect();
    assert!(
        hrefs
            .iter()
            .any(|h| h.ends_with("#f-members-0-annual_income_fen")),
        "{hrefs:?}"
    );
    assert!(
        hrefs.iter().any(|h| h.ends_with("#f-declaration_truthful")),
        "{hrefs:?}"
    );
    b.post(
        &format!("/applications/{id}/reverification"),
        &[
            ("version", &v),
            ("members[0].annual_income_fen", "31,000"),
            ("declaration_truthful", "true"),
        ],
    )
    .await;
    assert_eq!(b.path(), format!("/applications/{id}"));
    let next = due + chrono::Months::new(12);
    assert!(
        b.html.contains(&next.to_string()),
        "continued, next due a year on"
    );
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(&o.reviewer))
        .await;
    let case = case.expect(200);
    assert_eq!(case["form"]["members"][0]["annual_income_fen"], 3_100_000);
    assert_eq!(
        case["events"].as_array().unwrap().last().unwrap()["action"],
        "reverify"
    );
}

async fn case_due(app: &TestApp, token: &str, id: i64) -> chrono::NaiveDate {
    let case = app
        .get(&format!("/api/v1/applications/{id}"), Some(token))
        .await;
    let due = case.expect(200)["reverify_due_on"]
        .as_str()
        .unwrap()
        .to_string();
    chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap()
}
