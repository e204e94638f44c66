use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

const COMMUNITY: &str = "410104003-01";

#[tokio::test]
async fn an_admin_creates_a_reviewer_who_logs_in_and_is_refused_admin_endpoints() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &json!({
                "role": "reviewer", "display_name": "李审核", "email": "li@nanguan.test",
                "password": PASSWORD, "places": [COMMUNITY, "410104003-02"],
            }),
        )
        .await;
    let user = created.expect(201);
    assert_eq!(user["role"], "reviewer");
    let codes: Vec<&str> = user["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec![COMMUNITY, "410104003-02"]);
    assert_eq!(user["places"][0]["name"], "惠工街社区");

    let reviewer = app.token("li@nanguan.test", PASSWORD).await;
    let me = app.get("/api/v1/auth/me", Some(&reviewer)).await;
    assert_eq!(me.expect(200)["role"], "reviewer");
    let refused = app.get("/api/v1/admin/users", Some(&reviewer)).await;
    assert_eq!(refused.expect(403)["code"], "forbidden");
    let refused = app
        .post("/api/v1/admin/users", Some(&reviewer), &json!({
            "role": "admin", "display_name": "x", "email": "x@nanguan.test", "password": PASSWORD,
        }))
        .await;
    refused.expect(403);
    app.login("x@nanguan.test", PASSWORD).await.expect(401);
}

#[tokio::test]
async fn every_role_but_admin_is_refused_on_every_admin_endpoint() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let applicant = app.applicant("13800001111").await;
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let supervisor = app
        .staff(&admin, "supervisor", "s@nanguan.test", &["410104003"])
        .await;
    let bureau = app
        .staff(&admin, "bureau", "b@nanguan.test", &["410104"])
        .await;
    let new_user = json!({ "role": "admin", "display_name": "x", "email": "x@nanguan.test", "password": PASSWORD });
    let new_place =
        json!({ "kind": "community", "code": "X-1", "name": "新社区", "parent_code": "410104003" });
    for token in [&applicant, &reviewer, &supervisor, &bureau] {
        app.get("/api/v1/admin/users", Some(token))
            .await
            .expect(403);
        app.get("/api/v1/admin/users/1", Some(token))
            .await
            .expect(403);
        app.post("/api/v1/admin/users", Some(token), &new_user)
            .await
            .expect(403);
        app.post("/api/v1/admin/users/1/disable", Some(token), &json!({}))
            .await
            .expect(403);
        app.post("/api/v1/admin/places", Some(token), &new_place)
            .await
            .expect(403);
        app.send_json(
            "PATCH",
            "/api/v1/admin/places/410104003-02",
            Some(token),
            &json!({"name": "改名"}),
        )
        .await
        .expect(403);
    }
    // Without a token: 401, not 403.
    app.get("/api/v1/admin/users", None).await.expect(401);
    app.post("/api/v1/admin/users", None, &new_user)
        .await
        .expect(401);
    // And the admin may do all of it.
    app.get("/api/v1/admin/users", Some(&admin))
        .await
        .expect(200);
    app.post("/api/v1/admin/places", Some(&admin), &new_place)
        .await
        .expect(201);
    let places = app.get("/api/v1/places", None).await;
    assert!(
        places
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "改名")
    );
}

#[tokio::test]
async fn a_staff_scope_must_match_the_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cases = [
        (
            json!({"role": "reviewer", "places": ["410104003"]}),
            "places[0]",
            "wrong_place_kind",
        ),
        (
            json!({"role": "reviewer", "places": []}),
            "places",
            "scope_size",
        ),
        (
            json!({"role": "supervisor", "places": ["410104003", "410104"]}),
            "places",
            "scope_size",
        ),
        (
            json!({"role": "bureau", "places": [COMMUNITY]}),
            "places[0]",
            "wrong_place_kind",
        ),
        (
            json!({"role": "reviewer", "places": ["NOPE"]}),
            "places[0]",
            "unknown_place",
        ),
        (
            json!({"role": "admin", "places": [COMMUNITY]}),
            "places",
            "scope_not_allowed",
        ),
    ];
    for (i, (partial, field, code)) in cases.into_iter().enumerate() {
        let mut body = json!({ "display_name": "x", "email": format!("u{i}@nanguan.test"), "password": PASSWORD });
        body.as_object_mut()
            .unwrap()
            .extend(partial.as_object().unwrap().clone());
        let a = app.post("/api/v1/admin/users", Some(&admin), &body).await;
        a.expect(422);
        assert!(
            a.field_codes()
                .contains(&(field.to_string(), code.to_string())),
            "case {i}: {}",
            a.body
        );
        app.login(&format!("u{i}@nanguan.test"), PASSWORD)
            .await
            .expect(401);
    }
}

#[tokio::test]
async fn disabling_an_account_revokes_its_tokens_and_blocks_login() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let reviewer = app
        .staff(&admin, "reviewer", "r@nanguan.test", &[COMMUNITY])
        .await;
    let me = app.get("/api/v1/auth/me", Some(&reviewer)).await;
    let id = me.expect(200)["id"].as_i64().unwrap();
    let disabled = app
        .post(
            &format!("/api/v1/admin/users/{id}/disable"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.expect(200)["disabled"], true);
    app.get("/api/v1/auth/me", Some(&reviewer))
        .await
        .expect(401);
    let again = app.login("r@nanguan.test", PASSWORD).await;
    assert_eq!(again.expect(401)["code"], "invalid_credentials");
}

#[tokio::test]
async fn the_user_list_pages_by_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for i in 0..3 {
        app.staff(
            &admin,
            "reviewer",
            &format!("r{i}@nanguan.test"),
            &[COMMUNITY],
        )
        .await;
    }
    let first = app
        .get("/api/v1/admin/users?role=reviewer&limit=2", Some(&admin))
        .await;
    let body = first.expect(200);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let after = body["next_after"].as_i64().expect("a next page");
    let second = app
        .get(
            &format!("/api/v1/admin/users?role=reviewer&limit=2&after={after}"),
            Some(&admin),
        )
        .await;
    let body = second.expect(200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert!(body["next_after"].is_null());
    app.get("/api/v1/admin/users/999999", Some(&admin))
        .await
        .expect(404);
}
