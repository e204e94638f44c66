use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_first_start_creates_nanguan_and_its_eleven_communities() {
    let app = TestApp::spawn().await;
    let places = app.get("/api/v1/places", None).await;
    let list = places.expect(200).as_array().unwrap().clone();
    let district = list.iter().find(|p| p["code"] == "410104").unwrap();
    assert_eq!(district["name"], "管城回族区");
    assert!(district["parent_code"].is_null());
    let sub = list.iter().find(|p| p["code"] == "410104003").unwrap();
    assert_eq!(sub["name"], "南关街道");
    assert_eq!(sub["parent_code"], "410104");
    let communities: Vec<_> = list.iter().filter(|p| p["kind"] == "community").collect();
    assert_eq!(communities.len(), 11);
    assert!(communities.iter().all(|c| c["parent_code"] == "410104003"));
    assert!(communities.iter().any(|c| c["name"] == "惠工街社区"));
}

#[tokio::test]
async fn an_admin_adds_and_renames_places_with_checks_on_the_tree() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = app
        .post("/api/v1/admin/places", Some(&admin), &json!({
            "kind": "community", "code": "410104003-12", "name": "新建社区", "parent_code": "410104003",
        }))
        .await;
    assert_eq!(created.expect(201)["parent_code"], "410104003");
    let renamed = app
        .send_json(
            "PATCH",
            "/api/v1/admin/places/410104003-02",
            Some(&admin),
            &json!({"name": "东大街社区"}),
        )
        .await;
    assert_eq!(renamed.expect(200)["name"], "东大街社区");

    let dup = app
        .post("/api/v1/admin/places", Some(&admin), &json!({
            "kind": "community", "code": "410104003-12", "name": "重复", "parent_code": "410104003",
        }))
        .await;
    assert_eq!(dup.expect(409)["code"], "code_taken");
    let wrong_parent = app
        .post(
            "/api/v1/admin/places",
            Some(&admin),
            &json!({
                "kind": "community", "code": "X-2", "name": "错误", "parent_code": "410104",
            }),
        )
        .await;
    wrong_parent.expect(422);
    assert_eq!(
        wrong_parent.field_codes(),
        vec![("parent_code".into(), "wrong_parent_kind".into())]
    );
    let bad = app
        .post(
            "/api/v1/admin/places",
            Some(&admin),
            &json!({
                "kind": "district", "code": "a b", "name": " ", "parent_code": "410104",
            }),
        )
        .await;
    bad.expect(422);
    let mut fields = bad.field_codes();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("code".into(), "invalid_code".into()),
            ("name".into(), "required".into()),
            ("parent_code".into(), "unexpected_parent".into()),
        ]
    );
    app.send_json(
        "PATCH",
        "/api/v1/admin/places/NOPE",
        Some(&admin),
        &json!({"name": "x"}),
    )
    .await
    .expect(404);
    let list = app.get("/api/v1/places", None).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 14);
}
