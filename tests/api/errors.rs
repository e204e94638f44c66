use poem::http::Method;
use serde_json::json;

use crate::helpers::TestApp;

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn malformed_json_gets_a_json_400() {
    let app = TestApp::spawn().await;
    let a = app
        .raw(
            Method::POST,
            "/api/v1/auth/register",
            &[JSON],
            b"{\"mobile\": ".to_vec(),
        )
        .await;
    assert_eq!(a.expect(400)["code"], "malformed_json");
    assert!(a.body["message"].as_str().unwrap().len() > 10);
}

#[tokio::test]
async fn a_wrong_type_gets_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "mobile": 13800001111_i64, "password": "long-enough", "display_name": "y" }),
        )
        .await;
    a.expect(422);
    assert_eq!(
        a.field_codes(),
        vec![("mobile".to_string(), "invalid_type".to_string())]
    );
}

#[tokio::test]
async fn an_unknown_route_gets_a_json_404() {
    let app = TestApp::spawn().await;
    let a = app.get("/api/v1/no-such-thing", None).await;
    assert_eq!(a.expect(404)["code"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let app = TestApp::spawn().await;
    let a = app
        .raw(Method::DELETE, "/api/v1/auth/login", &[], vec![])
        .await;
    assert_eq!(a.expect(405)["code"], "method_not_allowed");
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413_and_is_not_read() {
    let app = TestApp::spawn_with(|s| s.body_limit_bytes = 1024).await;
    let big = format!(
        "{{\"mobile\":\"13800001111\",\"password\":\"{}\",\"display_name\":\"x\"}}",
        "a".repeat(4096)
    );
    let a = app
        .raw(
            Method::POST,
            "/api/v1/auth/register",
            &[JSON],
            big.into_bytes(),
        )
        .await;
    assert_eq!(a.expect(413)["code"], "payload_too_large");
    use sea_orm::{EntityTrait, PaginatorTrait};
    let users = entity::user_account::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_a_json_415() {
    let app = TestApp::spawn().await;
    let a = app
        .raw(
            Method::POST,
            "/api/v1/auth/login",
            &[("content-type", "text/plain")],
            b"login=x".to_vec(),
        )
        .await;
    assert_eq!(a.expect(415)["code"], "unsupported_media_type");
}

#[tokio::test]
async fn a_garbage_bearer_token_gets_a_json_401() {
    let app = TestApp::spawn().await;
    let a = app
        .get("/api/v1/auth/me", Some("anju_not-a-real-token"))
        .await;
    assert_eq!(a.expect(401)["code"], "unauthorized");
    let a = app
        .raw(
            Method::GET,
            "/api/v1/auth/me",
            &[("authorization", "Basic Zm9vOmJhcg==")],
            vec![],
        )
        .await;
    assert_eq!(a.expect(401)["code"], "unauthorized");
}

#[tokio::test]
async fn messages_follow_accept_language() {
    let app = TestApp::spawn().await;
    let zh = app.raw(Method::GET, "/api/v1/nowhere", &[], vec![]).await;
    let en = app
        .raw(
            Method::GET,
            "/api/v1/nowhere",
            &[("accept-language", "en-GB,en;q=0.9")],
            vec![],
        )
        .await;
    assert_eq!(zh.expect(404)["message"], "未找到该资源");
    assert_eq!(en.expect(404)["message"], "No such resource");
    let body = json!({ "mobile": "1", "password": "long-enough", "display_name": "y" });
    let a = app
        .raw(
            Method::POST,
            "/api/v1/auth/register",
            &[JSON, ("accept-language", "en")],
            body.to_string().into_bytes(),
        )
        .await;
    a.expect(422);
    let mobile = a.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "mobile")
        .unwrap();
    assert!(
        mobile["message"]
            .as_str()
            .unwrap()
            .contains("mobile number"),
        "{mobile}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_one_is_echoed() {
    let app = TestApp::spawn().await;
    let a = app
        .raw(
            Method::GET,
            "/health/live",
            &[("x-request-id", "abc-123")],
            vec![],
        )
        .await;
    assert_eq!(a.headers.get("x-request-id").unwrap(), "abc-123");
    let a = app
        .raw(
            Method::GET,
            "/api/v1/nowhere",
            &[("x-request-id", "bad id with spaces")],
            vec![],
        )
        .await;
    let id = a
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 16);
    assert_eq!(a.body["request_id"], id);
}
