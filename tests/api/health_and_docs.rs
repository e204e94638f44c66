use crate::helpers::TestApp;

#[tokio::test]
async fn liveness_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get("/health/live", None).await.expect(200)["status"],
        "ok"
    );
    assert_eq!(
        app.get("/health/ready", None).await.expect(200)["status"],
        "ok"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await.unwrap();
    let a = app.get("/health/ready", None).await;
    assert_eq!(a.expect(503)["status"], "unavailable");
    assert_eq!(
        app.get("/health/live", None).await.expect(200)["status"],
        "ok"
    );
}

#[tokio::test]
async fn the_spec_and_the_docs_are_served() {
    let app = TestApp::spawn().await;
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.expect(200)["info"]["title"], "anju");
    let yaml = app.get("/openapi.yaml", None).await;
    assert!(yaml.expect(200).as_str().unwrap().contains("openapi: 3"));
    let docs = app.get("/docs", None).await;
    assert!(docs.expect(200).as_str().unwrap().contains("swagger"));
}

#[tokio::test]
async fn the_served_spec_is_the_committed_one_in_shapes_generators_take() {
    let app = TestApp::spawn().await;
    let served = app.get("/openapi.json", None).await;
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(*served.expect(200), committed);
    let text = served.body.to_string();
    assert!(
        !text.contains("naive-date"),
        "dates are published as `date`"
    );
    assert!(!text.contains("allOf"), "no allOf over a named type");
    let status = &served.body["components"]["schemas"]["ApplicationView"]["properties"]["status"];
    assert_eq!(status["$ref"], "#/components/schemas/Status");
    assert_eq!(status["description"], "Where the case stands.");
    let docs = app.get("/docs", None).await;
    let html = docs.expect(200).as_str().unwrap();
    assert!(html.contains(r#""format": "date""#) && !html.contains("naive-date"));
}

#[test]
fn the_committed_spec_matches_the_code() {
    let (yaml, json) = anju::openapi::spec_texts();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi");
    let committed_yaml = std::fs::read_to_string(format!("{dir}/openapi.yaml")).unwrap_or_default();
    let committed_json = std::fs::read_to_string(format!("{dir}/openapi.json")).unwrap_or_default();
    assert!(
        committed_yaml == yaml,
        "openapi/openapi.yaml is stale: run `cargo run -- openapi`"
    );
    assert!(
        committed_json == json,
        "openapi/openapi.json is stale: run `cargo run -- openapi`"
    );
}

#[test]
fn every_operation_has_an_id_a_summary_and_a_tag_and_every_field_a_description() {
    let (_, json) = anju::openapi::spec_texts();
    let spec: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{at}: operationId");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: summary"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}: tag"
            );
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if let Some(props) = schema["properties"].as_object() {
            for (field, prop) in props {
                assert!(
                    prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{name}.{field} has no description"
                );
            }
        }
    }
}
