//! Batches (上报批次) on the web. The supervisor creates one per programme, adds cases
//! that are ready to report, removes them, seals it (the manifest and its SHA-256 are
//! frozen; maker-checker refusals explained), submits or cancels it. The bureau sees the
//! batches sent to it, acknowledges one by typing the count and hash it received,
//! decides each case (or several at once) with reasons, and downloads the roster,
//! masked unless it states a purpose. Reconciliation with the numbers behind each
//! figure is on the list page.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Form, Path, Query};
use poem::{Response, handler};

use super::{explain, local, posted_by, reason_choices, refusal, staff};
use crate::access::{Principal, Role};
use crate::applications::form::Programme;
use crate::batches::roster;
use crate::batches::service::{self, BatchDetail, BatchFilter, Decision};
use crate::i18n::Lang;
use crate::lifecycle::Status;
use crate::review::queue::{self, Assigned, Order, QueueQuery};
use crate::web::labels::Label;
use crate::web::page::{Chrome, render};
use crate::web::session::Web;
use crate::web::widgets::Choice;

const BATCH_ROLES: &[Role] = &[Role::Supervisor, Role::Bureau];

fn batch_status(s: &str, lang: Lang) -> &'static str {
    let (zh, en) = match s {
        "draft" => ("草稿", "draft"),
        "sealed" => ("已封存", "sealed"),
        "submitted" => ("已上报，待签收", "sent, not yet received"),
        "received" => ("区民政局已签收", "received by the bureau"),
        "partly_decided" => ("部分已决定", "partly decided"),
        "closed" => ("已办结", "closed"),
        _ => ("已取消", "cancelled"),
    };
    if lang == Lang::En { en } else { zh }
}

fn outcome(s: Option<&str>, lang: Lang) -> &'static str {
    let (zh, en) = match s {
        Some("approved") => ("批准", "approved"),
        Some("returned") => ("退回", "returned"),
        Some("rejected") => ("不予批准", "rejected"),
        Some("withdrawn") => ("已撤回", "withdrawn"),
        _ => ("待决定", "to decide"),
    };
    if lang == Lang::En { en } else { zh }
}

pub struct BatchRow {
    pub id: i64,
    pub programme: String,
    pub subdistrict: String,
    pub status: String,
    pub count: i32,
    pub created: String,
    pub submitted: String,
}

#[derive(Template)]
#[template(path = "staff_batches.html", config = "src/web/askama.toml")]
struct ListPage {
    c: Chrome,
    rows: Vec<BatchRow>,
    may_create: bool,
    programmes: Vec<Choice>,
    /// (label, numbers) for each reconciliation figure.
    reconciliation: Vec<(String, Vec<String>)>,
}

/// `GET /staff/batches`.
#[handler]
pub async fn list(web: Web) -> Response {
    let p = match staff(&web, BATCH_ROLES) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let lang = web.lang;
    let filter = BatchFilter {
        limit: 200,
        ..Default::default()
    };
    let rows = match service::list(&web.state, &p, filter).await {
        Ok(rows) => rows,
        Err(e) => return refusal(&web, e),
    };
    let rec = match service::reconcile(&web.state, &p, None, None, None).await {
        Ok(r) => r,
        Err(e) => return refusal(&web, e),
    };
    let t = |zh: &str, en: &str| web.t(zh, en).to_string();
    let page = ListPage {
        c: Chrome::of(&web, "上报批次", "Batches"),
        rows: rows
            .into_iter()
            .map(|(b, sub)| BatchRow {
                id: b.id,
                programme: b.programme.label(lang).into(),
                subdistrict: sub.map(|s| s.name).unwrap_or_default(),
                status: batch_status(b.status.as_str(), lang).into(),
                count: b.item_count,
                created: local(b.created_at),
                submitted: b.submitted_at.map(local).unwrap_or_default(),
            })
            .collect(),
        may_create: p.role == Role::Supervisor,
        programmes: Programme::ALL
            .iter()
            .map(|pr| Choice {
                value: pr.as_str().into(),
                label: pr.label(lang).into(),
                selected: false,
            })
            .collect(),
        reconciliation: vec![
            (t("已上报", "Sent"), rec.sent),
            (t("已签收", "Received"), rec.received),
            (t("已批准", "Approved"), rec.approved),
            (t("已退回", "Returned"), rec.returned),
            (t("不予批准", "Rejected"), rec.rejected),
            (t("已撤回", "Withdrawn"), rec.withdrawn),
            (t("待决定", "Still open"), rec.open),
        ],
    };
    render(&web, StatusCode::OK, &page)
}

/// `POST /staff/batches`: a new draft batch for a programme.
#[handler]
pub async fn create(web: Web, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (p, posted) = match posted_by(&web, pairs, &[Role::Supervisor]) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(programme) = posted.get("programme").and_then(Programme::parse) else {
        return refusal(
            &web,
            crate::error::ApiError::validation(vec![crate::error::FieldError::required(
                "programme",
            )]),
        );
    };
    match service::create(&web.state, &p, programme).await {
        Ok(d) => web.redirect(&format!("/staff/batches/{}", d.batch.id)),
        Err(e) => refusal(&web, e),
    }
}

pub struct ItemRow {
    pub application_id: i64,
    pub number: String,
    pub status: String,
    pub decision: String,
    pub decided: bool,
    pub reason: String,
    pub comment: String,
    pub waitlist: Option<i64>,
}

pub struct Ready {
    pub id: i64,
    pub number: String,
    pub community: String,
}

#[derive(Template)]
#[template(path = "staff_batch.html", config = "src/web/askama.toml")]
struct DetailPage {
    c: Chrome,
    banner: Option<(bool, String)>,
    id: i64,
    programme: String,
    subdistrict: String,
    status: String,
    count: i32,
    sha256: String,
    sealed: String,
    submitted: String,
    received: String,
    items: Vec<ItemRow>,
    ready: Vec<Ready>,
    draft: bool,
    may_seal: bool,
    may_submit: bool,
    may_cancel: bool,
    may_acknowledge: bool,
    may_decide: bool,
    reasons: Vec<Choice>,
}

/// Cases ready to report that a draft batch could take (its programme, the caller's
/// sub-district), up to 100, longest waiting first.
async fn ready_for(web: &Web, p: &Principal, d: &BatchDetail) -> Vec<Ready> {
    let q = QueueQuery {
        status: Status::ReadyToReport,
        programme: Some(d.batch.programme),
        community_code: None,
        assigned: Assigned::Anyone,
        flagged_duplicate: None,
        has_warnings: None,
        overdue: None,
        order: Order::Oldest,
        cursor: None,
        limit: 100,
    };
    let inside: Vec<i64> = d.items.iter().map(|(i, _)| i.application_id).collect();
    match queue::queue(&web.state, p, q).await {
        Ok(page) => page
            .items
            .into_iter()
            .filter(|i| !inside.contains(&i.case.id))
            .map(|i| Ready {
                id: i.case.id,
                number: i.case.number.clone().unwrap_or_default(),
                community: i.community.map(|c| c.name).unwrap_or_default(),
            })
            .collect(),
        Err(_) => vec![],
    }
}

async fn show(
    web: &Web,
    p: &Principal,
    id: i64,
    status: StatusCode,
    banner: Option<(bool, String)>,
) -> Response {
    let d = match service::detail(&web.state, p, id).await {
        Ok(d) => d,
        Err(e) => return refusal(web, e),
    };
    let lang = web.lang;
    let b = &d.batch;
    let st = b.status.as_str();
    let supervisor = p.role == Role::Supervisor;
    let bureau = p.role == Role::Bureau;
    let ready = if supervisor && st == "draft" {
        ready_for(web, p, &d).await
    } else {
        vec![]
    };
    let page = DetailPage {
        c: Chrome::of(web, "上报批次", "Batch"),
        banner,
        id: b.id,
        programme: b.programme.label(lang).into(),
        subdistrict: d
            .subdistrict
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        status: batch_status(st, lang).into(),
        count: b.item_count,
        sha256: b.manifest_sha256.clone().unwrap_or_default(),
        sealed: b.sealed_at.map(local).unwrap_or_default(),
        submitted: b.submitted_at.map(local).unwrap_or_default(),
        received: b.received_at.map(local).unwrap_or_default(),
        items: d
            .items
            .iter()
            .map(|(i, c)| ItemRow {
                application_id: i.application_id,
                number: c.number.clone().unwrap_or_default(),
                status: c.status.label(lang).into(),
                decision: outcome(i.decision.map(|o| o.as_str()), lang).into(),
                decided: i.decision.is_some(),
                reason: crate::web::cases::reason_text(&i.reason_code, lang),
                comment: i.comment.clone().unwrap_or_default(),
                waitlist: c.waitlist_number,
            })
            .collect(),
        ready,
        draft: supervisor && st == "draft",
        may_seal: supervisor && st == "draft",
        may_submit: supervisor && st == "sealed",
        may_cancel: supervisor && matches!(st, "draft" | "sealed"),
        may_acknowledge: bureau && st == "submitted",
        may_decide: bureau && matches!(st, "received" | "partly_decided"),
        reasons: reason_choices(lang, ""),
    };
    render(web, status, &page)
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

fn done_text(web: &Web, what: &str) -> Option<(bool, String)> {
    let (zh, en) = match what {
        "added" => ("已加入批次。", "Added to the batch."),
        "removed" => ("已移出批次。", "Removed from the batch."),
        "sealed" => (
            "批次已封存，清单及其哈希已固定。",
            "Sealed: the manifest and its hash are fixed.",
        ),
        "submitted" => (
            "批次已上报区民政局。",
            "Sent to the district Civil Affairs Bureau.",
        ),
        "cancelled" => ("批次已取消。", "The batch was cancelled."),
        "acknowledged" => (
            "已签收：件数和哈希与封存清单一致。",
            "Received: the count and hash match the sealed manifest.",
        ),
        "decided" => ("决定已记录。", "The decisions are recorded."),
        _ => return None,
    };
    Some((true, web.t(zh, en).to_string()))
}

/// `GET /staff/batches/{id}`.
#[handler]
pub async fn detail(web: Web, Path(id): Path<i64>, Query(q): Query<Done>) -> Response {
    let p = match staff(&web, BATCH_ROLES) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let banner = q.done.as_deref().and_then(|d| done_text(&web, d));
    show(&web, &p, id, StatusCode::OK, banner).await
}

/// After a change: back to the batch with what happened, or the batch as it stands
/// with why nothing was done.
async fn answer(
    web: &Web,
    p: &Principal,
    id: i64,
    done: Result<(), crate::batches::BatchError>,
    what: &str,
) -> Response {
    match done {
        Ok(()) => web.redirect(&format!("/staff/batches/{id}?done={what}")),
        Err(e) => {
            let err = crate::error::ApiError::from(e);
            match err.status() {
                StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                    let text = format!(
                        "{}{}",
                        web.t(
                            "未能执行，批次未作任何改动。",
                            "Not done; nothing changed. "
                        ),
                        explain(&err)
                    );
                    show(web, p, id, err.status(), Some((false, text))).await
                }
                _ => refusal(web, err),
            }
        }
    }
}

/// `POST /staff/batches/{id}/{step}`: add, remove, seal, submit, cancel, acknowledge.
#[handler]
pub async fn change(
    web: Web,
    Path((id, step)): Path<(i64, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, pairs, BATCH_ROLES) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let s = &web.state;
    let ok = |r: Result<BatchDetail, crate::batches::BatchError>| r.map(|_| ());
    let (done, what) = match step.as_str() {
        "add" => {
            let picked: Vec<i64> = posted
                .all("pick")
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect();
            return add_each(&web, &p, id, &picked).await;
        }
        "remove" => match posted.get("application_id").and_then(|v| v.parse().ok()) {
            Some(app) => (ok(service::remove_item(s, &p, id, app).await), "removed"),
            None => return crate::web::page::not_found(&web),
        },
        "seal" => (ok(service::seal(s, &p, id).await), "sealed"),
        "submit" => (ok(service::submit(s, &p, id).await), "submitted"),
        "cancel" => (
            ok(service::cancel(s, &p, id, posted.text("reason")).await),
            "cancelled",
        ),
        "acknowledge" => {
            let count = posted.get("count").and_then(|v| v.trim().parse().ok());
            let sha = posted.text("sha256").unwrap_or_default();
            match count {
                Some(n) => (
                    ok(service::acknowledge(s, &p, id, n, &sha).await),
                    "acknowledged",
                ),
                None => (
                    Err(crate::batches::BatchError::Invalid(vec![
                        crate::error::FieldError::required("count"),
                    ])),
                    "acknowledged",
                ),
            }
        }
        _ => return crate::web::page::not_found(&web),
    };
    answer(&web, &p, id, done, what).await
}

/// Adds each ticked case in its own transaction; any refusal brings the batch back
/// naming the cases not added (the others are in).
async fn add_each(web: &Web, p: &Principal, id: i64, picked: &[i64]) -> Response {
    let mut refused = Vec::new();
    for app in picked {
        if let Err(e) = service::add_item(&web.state, p, id, *app).await {
            let err = crate::error::ApiError::from(e);
            if err.status() == StatusCode::NOT_FOUND || err.status() == StatusCode::FORBIDDEN {
                return refusal(web, err);
            }
            refused.push(format!("#{app}：{}", explain(&err)));
        }
    }
    if refused.is_empty() {
        return web.redirect(&format!("/staff/batches/{id}?done=added"));
    }
    let text = format!(
        "{}{}",
        web.t(
            "以下案件未能加入（其余已加入）：",
            "Not added (the others are in): "
        ),
        refused.join("；")
    );
    show(web, p, id, StatusCode::CONFLICT, Some((false, text))).await
}

/// `POST /staff/batches/{id}/decide`: every case of the form with a decision chosen
/// (`decision-{case}`, with `reason-{case}` and `comment-{case}`), each in its own
/// transaction. Any refusal brings the batch back naming the cases not decided.
#[handler]
pub async fn decide(
    web: Web,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, pairs, &[Role::Bureau]) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let chosen: Vec<(i64, String)> = posted
        .pairs()
        .iter()
        .filter_map(|(k, v)| {
            let app = k.strip_prefix("decision-")?.parse().ok()?;
            (!v.is_empty()).then(|| (app, v.clone()))
        })
        .collect();
    if chosen.is_empty() {
        let text = web
            .t(
                "请至少为一个案件选择决定。",
                "Choose a decision for at least one case.",
            )
            .to_string();
        return show(
            &web,
            &p,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((false, text)),
        )
        .await;
    }
    let mut refused = Vec::new();
    for (app, decision) in chosen {
        let d = Decision {
            application_id: app,
            decision,
            reason_code: posted.text(&format!("reason-{app}")),
            comment: posted.text(&format!("comment-{app}")),
        };
        if let Err(e) = service::decide_one(&web.state, &p, id, &d).await {
            refused.push((app, explain(&e.into())));
        }
    }
    // The refused cases by their numbers, read once after all the decisions.
    let numbers = if refused.is_empty() {
        vec![]
    } else {
        service::detail(&web.state, &p, id)
            .await
            .map(|b| b.items)
            .unwrap_or_default()
    };
    let refused: Vec<String> = refused
        .into_iter()
        .map(|(app, why)| {
            let number = numbers
                .iter()
                .find(|(i, _)| i.application_id == app)
                .and_then(|(_, c)| c.number.clone())
                .unwrap_or_else(|| format!("#{app}"));
            format!("{number}：{why}")
        })
        .collect();
    if refused.is_empty() {
        return web.redirect(&format!("/staff/batches/{id}?done=decided"));
    }
    let text = format!(
        "{}{}",
        web.t(
            "以下案件未能决定（其余已记录）：",
            "Not decided (the others are recorded): "
        ),
        refused.join("；")
    );
    show(
        &web,
        &p,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some((false, text)),
    )
    .await
}

#[derive(serde::Deserialize, Default)]
pub struct RosterQuery {
    format: Option<String>,
    full: Option<String>,
    purpose: Option<String>,
}

/// `GET /staff/batches/{id}/roster`: the roster as CSV or XLSX, masked unless the bureau
/// asks for the full one with a purpose; every download is in the export log.
#[handler]
pub async fn roster_file(web: Web, Path(id): Path<i64>, Query(q): Query<RosterQuery>) -> Response {
    let p = match staff(&web, BATCH_ROLES) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let xlsx = q.format.as_deref() == Some("xlsx");
    let req = roster::Request {
        full: q.full.as_deref() == Some("true"),
        purpose: q.purpose,
        xlsx,
    };
    match roster::export(&web.state, &p, id, req).await {
        Ok((bytes, name)) => Response::builder()
            .content_type(if xlsx {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            } else {
                "text/csv; charset=utf-8"
            })
            .header(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            )
            .header(header::CACHE_CONTROL, "no-store")
            .body(bytes),
        Err(e) => refusal(&web, e),
    }
}

/// `GET /staff/batches/{id}/manifest`: the sealed manifest exactly as hashed, so that
/// `sha256sum` of the downloaded file gives the hash shown on the page.
#[handler]
pub async fn manifest_file(web: Web, Path(id): Path<i64>) -> Response {
    let p = match staff(&web, BATCH_ROLES) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = match service::detail(&web.state, &p, id).await {
        Ok(d) => d,
        Err(e) => return refusal(&web, e),
    };
    let Some(m) = d.batch.manifest else {
        return crate::web::page::not_found(&web);
    };
    Response::builder()
        .content_type("application/json")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"batch-{id}-manifest.json\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(m.to_string())
}
