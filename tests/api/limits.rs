//! Every limit the spec declares is enforced: the test walks the published spec, and for
//! each length, item count and range of every request body (nested fields included) and
//! of every query parameter it sends one value past the limit, expecting a JSON 4xx that
//! names the field, and nothing written.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The spec's schema behind a `$ref` (or the schema itself).
fn resolve<'a>(spec: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => s,
    }
}

/// A value just past each limit of `schema`, with the path it is at: (path, body).
fn over_limits(
    spec: &Value,
    schema: &Value,
    path: &str,
    depth: usize,
    out: &mut Vec<(String, Value)>,
) {
    let s = resolve(spec, schema);
    if depth > 4 {
        return;
    }
    if let Some(max) = s["maxLength"].as_u64() {
        out.push((path.to_string(), json!("长".repeat(max as usize + 1))));
    }
    if let Some(max) = s["maximum"].as_f64() {
        out.push((path.to_string(), json!(max as i64 + 1)));
    }
    if let Some(min) = s["minimum"].as_f64() {
        out.push((path.to_string(), json!(min as i64 - 1)));
    }
    if let Some(max) = s["maxItems"].as_u64() {
        let item = match resolve(spec, &s["items"])["type"].as_str() {
            Some("string") => json!("x"),
            Some("integer") | Some("number") => json!(1),
            Some("boolean") => json!(true),
            _ => json!({}),
        };
        out.push((path.to_string(), Value::Array(vec![item; max as usize + 1])));
    }
    if let Some(props) = s["properties"].as_object() {
        for (name, prop) in props {
            let mut inner = Vec::new();
            over_limits(spec, prop, name, depth + 1, &mut inner);
            for (p, v) in inner {
                let full = if path.is_empty() {
                    p
                } else {
                    format!("{path}.{p}")
                };
                let mut obj = serde_json::Map::new();
                obj.insert(name.clone(), v);
                out.push((full, Value::Object(obj)));
            }
        }
        return;
    }
    if s["type"] == "array" {
        let mut inner = Vec::new();
        over_limits(spec, &s["items"], "", depth + 1, &mut inner);
        for (p, v) in inner {
            let full = if p.is_empty() {
                format!("{path}[0]")
            } else {
                format!("{path}[0].{p}")
            };
            out.push((full, json!([v])));
        }
    }
}

fn concrete(path: &str) -> String {
    path.replace(":id", "1")
        .replace("{id}", "1")
        .replace("{number}", "410104003-2026-000001")
        .replace("{code}", "410104003")
        .replace("{version}", "v1")
        .replace("{format}", "csv")
        .replace("{application_id}", "1")
}

#[tokio::test]
async fn every_declared_limit_of_every_body_and_query_is_enforced() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (_, json_text) = anju::openapi::spec_texts();
    let spec: Value = serde_json::from_str(&json_text).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let url = concrete(path);
            // Bodies: every limited field, alone, past its limit.
            let schema = &op["requestBody"]["content"]["application/json; charset=utf-8"]["schema"];
            if !schema.is_null() {
                let mut cases = Vec::new();
                over_limits(&spec, schema, "", 0, &mut cases);
                for (field, body) in cases {
                    let a = send(&app, method, &url, &admin, &body).await;
                    assert_eq!(
                        a.status.as_u16(),
                        422,
                        "{method} {path} {field}: {}",
                        a.body
                    );
                    assert!(
                        a.field_codes().iter().any(|(f, _)| *f == field),
                        "{method} {path}: {field} not named in {}",
                        a.body
                    );
                    checked += 1;
                }
            }
            // Query parameters: each limited one past its limit.
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] != "query" {
                    continue;
                }
                let mut cases = Vec::new();
                over_limits(&spec, &p["schema"], "", 0, &mut cases);
                for (_, v) in cases {
                    let value = match &v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let name = p["name"].as_str().unwrap();
                    let q = format!("{url}?{name}={}", url_escape(&value));
                    let a = match method.as_str() {
                        "get" => app.get(&q, Some(&admin)).await,
                        m => send(&app, m, &q, &admin, &json!({})).await,
                    };
                    assert!(
                        [400, 422].contains(&a.status.as_u16()) && a.body["code"].is_string(),
                        "{method} {path}?{name}: {} {}",
                        a.status,
                        a.body
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} limits found");
    assert_eq!(
        app.count(entity::application::Entity).await,
        0,
        "nothing written"
    );
    assert_eq!(
        app.count(entity::policy::Entity).await,
        2,
        "only the shipped policies"
    );
}

/// A request with the headers some operations require, so the body is what is judged.
async fn send(
    app: &TestApp,
    method: &str,
    url: &str,
    token: &str,
    body: &Value,
) -> crate::helpers::Answer {
    let method = poem::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    app.raw(
        method,
        url,
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {token}")),
            ("if-match", "1"),
            ("idempotency-key", "limits"),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_nul_anywhere_is_refused_with_422_on_both_databases() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let mut form = crate::fixtures::household();
    form["members"][0]["name"] = json!("王\u{0}明");
    let a = app.post("/api/v1/applications", Some(&token), &form).await;
    assert_eq!(a.expect(422)["fields"][0]["code"], "nul_character");
    assert_eq!(a.field_codes()[0].0, "members[0].name");
    // In the path and the query too, where no login is needed.
    let p = app.get("/api/v1/policies/a%00b", None).await;
    assert_eq!(p.status.as_u16(), 422, "{}", p.body);
    assert_eq!(p.body["fields"][0]["field"], "path");
    let q = app.get("/api/v1/public/notices?number=a%00b", None).await;
    assert_eq!(q.expect(422)["code"], "validation_failed");
    assert_eq!(q.body["fields"][0]["code"], "nul_character");
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "login": "a\u{0}@x.cn", "password": "12345678" }),
        )
        .await;
    assert_eq!(login.status.as_u16(), 422);
    assert_eq!(app.count(entity::application::Entity).await, 0);
}

#[tokio::test]
async fn json_with_bytes_after_the_value_is_malformed() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let a = app
        .raw(
            poem::http::Method::POST,
            "/api/v1/applications",
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {token}")),
            ],
            br#"{"programme":"low_rent"} {"programme":"public_rental"}"#.to_vec(),
        )
        .await;
    assert_eq!(a.expect(400)["code"], "malformed_json");
    assert_eq!(app.count(entity::application::Entity).await, 0);
}

#[tokio::test]
async fn a_bad_path_parameter_is_named() {
    let app = TestApp::spawn().await;
    let token = app.applicant("13800001111").await;
    let a = app
        .get("/api/v1/applications/not-a-number", Some(&token))
        .await;
    let body = a.expect(400);
    assert_eq!(body["code"], "invalid_parameter");
    assert_eq!(body["fields"][0]["field"], "id", "{body}");
    let bearer = format!("Bearer {token}");
    let a = app
        .raw(
            poem::http::Method::DELETE,
            "/api/v1/batches/1/items/x",
            &[("authorization", bearer.as_str())],
            vec![],
        )
        .await;
    assert_eq!(a.body["fields"][0]["field"], "application_id", "{}", a.body);
    let a = app
        .get("/api/v1/applications?limit=many", Some(&token))
        .await;
    assert_eq!(a.body["fields"][0]["field"], "limit", "{}", a.body);
}

#[tokio::test]
async fn oversized_headers_get_a_json_431() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(20 * 1024);
    let a = app
        .raw(
            poem::http::Method::GET,
            "/health/live",
            &[("x-padding", big.as_str())],
            vec![],
        )
        .await;
    assert_eq!(a.status.as_u16(), 431);
    assert_eq!(a.body["code"], "headers_too_large");
}
