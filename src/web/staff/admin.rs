//! The admin's pages: policies as the commented TOML an officer edits (download, upload,
//! every problem with its line or path, simulation against the current cases, publication
//! with its effective date), the outbox (failed and dead messages, retry), accounts and
//! their scopes, and the places (naming the communities). Each calls the same service
//! function as its API endpoint; only the admin may use them.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Form, Multipart, Path, Query};
use poem::{Response, handler};

use super::{local, posted_by, refusal, staff};
use crate::access::{Principal, Role};
use crate::eligibility::policy::PolicyDocument;
use crate::eligibility::policy_toml;
use crate::error::{ApiError, FieldError};
use crate::i18n::Lang;
use crate::web::labels::Label;
use crate::web::page::{Chrome, expired_form, render};
use crate::web::session::{CSRF_FIELD, Web};
use crate::web::widgets::{Problem, Problems};

const ADMIN: &[Role] = &[Role::Admin];
/// The largest policy file taken (the shipped ones are about 5 KB).
const MAX_POLICY_BYTES: usize = 256 * 1024;

pub struct PolicyRow {
    pub version: String,
    pub programme: String,
    pub title: String,
    pub effective_from: String,
    pub published: String,
}

pub struct SimCommunity {
    pub name: String,
    pub became_eligible: u64,
    pub became_ineligible: u64,
    pub numbers: Vec<String>,
}

pub struct SimView {
    pub evaluated: u64,
    pub unchanged: u64,
    pub became_eligible: u64,
    pub became_ineligible: u64,
    pub communities: Vec<SimCommunity>,
    pub truncated: bool,
}

#[derive(Template)]
#[template(path = "admin_policies.html", config = "src/web/askama.toml")]
struct PoliciesPage {
    c: Chrome,
    problems: Problems,
    banner: Option<String>,
    rows: Vec<PolicyRow>,
    text: String,
    simulation: Option<SimView>,
    /// The text was checked and simulated: it may be published as it is.
    checked: bool,
    version: String,
    effective_from: String,
}

async fn policies_page(
    web: &Web,
    status: StatusCode,
    text: String,
    problems: Problems,
    banner: Option<String>,
    simulated: Option<(PolicyDocument, SimView)>,
) -> Response {
    let lang = web.lang;
    let rows = match crate::eligibility::service::list(&web.state).await {
        Ok(all) => all
            .into_iter()
            .map(|p| PolicyRow {
                version: p.row.version.clone(),
                programme: p.document.programme.label(lang).into(),
                title: p.row.title.clone(),
                effective_from: p.row.effective_from.to_string(),
                published: local(p.row.published_at),
            })
            .collect(),
        Err(e) => return refusal(web, e),
    };
    let (checked, version, effective_from, simulation) = match simulated {
        Some((doc, sim)) => (true, doc.version, doc.effective_from.to_string(), Some(sim)),
        None => (false, String::new(), String::new(), None),
    };
    let page = PoliciesPage {
        c: Chrome::of(web, "政策", "Policies"),
        problems,
        banner,
        rows,
        text,
        simulation,
        checked,
        version,
        effective_from,
    };
    render(web, status, &page)
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/policies`.
#[handler]
pub async fn policies(web: Web, Query(q): Query<Done>) -> Response {
    if let Err(r) = staff(&web, ADMIN) {
        return r;
    }
    let banner = q
        .done
        .filter(|v| !v.is_empty())
        .map(|v| format!("{}{v}", web.t("已发布：", "Published: ")));
    policies_page(
        &web,
        StatusCode::OK,
        String::new(),
        Problems::default(),
        banner,
        None,
    )
    .await
}

/// `GET /admin/policies/{version}/toml`: the version as commented TOML, to edit.
#[handler]
pub async fn policy_file(web: Web, Path(version): Path<String>) -> Response {
    if let Err(r) = staff(&web, ADMIN) {
        return r;
    }
    let p = match crate::eligibility::service::get(&web.state, &version).await {
        Ok(p) => p,
        Err(e) => return refusal(&web, e),
    };
    match policy_toml::to_commented_toml(&p.document) {
        Ok(text) => {
            let name: String = version
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                .collect();
            Response::builder()
                .content_type("application/toml; charset=utf-8")
                .header(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.toml\""),
                )
                .header(header::CACHE_CONTROL, "no-store")
                .body(text)
        }
        Err(e) => {
            tracing::error!(error = %e, "a policy could not be written as TOML");
            crate::web::page::unavailable(&web)
        }
    }
}

/// The problems of a policy as the page's error summary, each naming its setting.
fn problems_of(web: &Web, fields: &[FieldError]) -> Problems {
    Problems(
        fields
            .iter()
            .map(|f| Problem {
                path: f.field.clone(),
                href: "#f-toml".into(),
                message: if f.field == "toml" {
                    f.msg.get(web.lang).to_string()
                } else {
                    format!("{}：{}", f.field, f.msg.get(web.lang))
                },
            })
            .collect(),
    )
}

fn sim_view(s: crate::applications::simulation::Simulation) -> SimView {
    let communities = s
        .by_community
        .iter()
        .map(|c| SimCommunity {
            name: c.name.clone(),
            became_eligible: c.became_eligible,
            became_ineligible: c.became_ineligible,
            numbers: s
                .changes
                .iter()
                .filter(|x| x.community_code == c.code)
                .map(|x| {
                    x.number
                        .clone()
                        .unwrap_or_else(|| format!("#{}", x.application_id))
                })
                .collect(),
        })
        .collect();
    SimView {
        evaluated: s.evaluated,
        unchanged: s.unchanged,
        became_eligible: s.became_eligible,
        became_ineligible: s.became_ineligible,
        communities,
        truncated: s.truncated,
    }
}

/// The fields of the upload form: the file (or the pasted text), the button pressed and
/// the CSRF token. Anything past the size limit is refused as a problem.
struct Upload {
    csrf: String,
    action: String,
    text: String,
    too_big: bool,
}

async fn read_upload(mut form: Multipart) -> Upload {
    let mut up = Upload {
        csrf: String::new(),
        action: String::new(),
        text: String::new(),
        too_big: false,
    };
    let mut file = String::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        let Ok(bytes) = field.bytes().await else {
            up.too_big = true;
            break;
        };
        if bytes.len() > MAX_POLICY_BYTES {
            up.too_big = true;
            continue;
        }
        let value = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            CSRF_FIELD => up.csrf = value,
            "action" => up.action = value,
            "file" => file = value,
            "toml" => up.text = value,
            _ => {}
        }
    }
    if !file.trim().is_empty() {
        up.text = file;
    }
    up
}

/// `POST /admin/policies`: check (and simulate) or publish the uploaded TOML.
#[handler]
pub async fn policy_upload(web: Web, form: Multipart) -> Response {
    let up = read_upload(form).await;
    if !web.csrf_ok(Some(&up.csrf)) {
        return expired_form(&web);
    }
    let p = match staff(&web, ADMIN) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let problem = |zh: &str, en: &str| {
        vec![FieldError::new(
            "toml",
            "toml_invalid",
            crate::i18n::Msg::new(zh, en),
        )]
    };
    if up.too_big {
        let f = problem(
            "文件过大（上限 256 KB）",
            "The file is too large (256 KB at most)",
        );
        return refused(&web, f, String::new()).await;
    }
    if up.text.trim().is_empty() {
        let f = problem(
            "请选择政策文件或粘贴其内容",
            "Choose a policy file or paste its text",
        );
        return refused(&web, f, String::new()).await;
    }
    let doc = match policy_toml::from_toml(&up.text) {
        Ok(doc) => doc,
        Err(fields) => return refused(&web, fields, up.text).await,
    };
    if let Err(e) = crate::eligibility::service::check_draft(&p, &doc) {
        let err = ApiError::from(e);
        return refused(&web, field_errors(&err), up.text).await;
    }
    if up.action == "publish" {
        return publish(&web, &p, doc, up.text).await;
    }
    match crate::applications::simulation::simulate(&web.state, &p, &doc).await {
        Ok(sim) => {
            let banner = Some(
                web.t(
                    "检查通过：以下是按此版本重新审核现有申请的结果（未作任何修改）。",
                    "No problems found. Below: what this version would change for the current cases (nothing was written).",
                )
                .to_string(),
            );
            let view = sim_view(sim);
            policies_page(
                &web,
                StatusCode::OK,
                up.text,
                Problems::default(),
                banner,
                Some((doc, view)),
            )
            .await
        }
        Err(e) => refusal(&web, e),
    }
}

/// The page again with the problems and the text to fix.
async fn refused(web: &Web, fields: Vec<FieldError>, text: String) -> Response {
    let problems = problems_of(web, &fields);
    policies_page(
        web,
        StatusCode::UNPROCESSABLE_ENTITY,
        text,
        problems,
        None,
        None,
    )
    .await
}

/// An API error's fields, or its message as one problem.
fn field_errors(err: &ApiError) -> Vec<FieldError> {
    let body = err.body();
    if body.fields.is_empty() {
        let m = body.message.clone();
        return vec![FieldError::new(
            "toml",
            "refused",
            crate::i18n::Msg::new(m.clone(), m),
        )];
    }
    body.fields
        .iter()
        .map(|f| {
            FieldError::new(
                f.field.clone(),
                "invalid",
                crate::i18n::Msg::new(f.message.clone(), f.message.clone()),
            )
        })
        .collect()
}

async fn publish(web: &Web, p: &Principal, doc: PolicyDocument, text: String) -> Response {
    let version = doc.version.clone();
    match crate::eligibility::service::publish(&web.state, p, doc).await {
        Ok(_) => web.redirect(&format!(
            "/admin/policies?done={}",
            version
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                .collect::<String>()
        )),
        Err(e) => {
            let err = ApiError::from(e);
            if err.status() == StatusCode::SERVICE_UNAVAILABLE {
                return refusal(web, err);
            }
            let problems = problems_of(web, &field_errors(&err));
            policies_page(web, err.status(), text, problems, None, None).await
        }
    }
}

pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub dead: bool,
    pub attempts: i32,
    pub error: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin_outbox.html", config = "src/web/askama.toml")]
struct OutboxPage {
    c: Chrome,
    banner: Option<(bool, String)>,
    status: String,
    rows: Vec<OutboxRow>,
}

#[derive(serde::Deserialize, Default)]
pub struct OutboxQuery {
    status: Option<String>,
    done: Option<String>,
}

fn outbox_status(s: &str, lang: Lang) -> &'static str {
    let (zh, en) = match s {
        "pending" => ("待发送", "pending"),
        "sent" => ("已发送", "sent"),
        "dead" => ("发送失败（已停止重试）", "failed, retries stopped"),
        _ => ("无收件地址", "no address"),
    };
    if lang == Lang::En { en } else { zh }
}

/// `GET /admin/outbox?status=dead`: the messages, the failed ones first by default.
#[handler]
pub async fn outbox(web: Web, Query(q): Query<OutboxQuery>) -> Response {
    let p = match staff(&web, ADMIN) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let status = q
        .status
        .as_deref()
        .and_then(crate::notifications::OutboxStatus::parse)
        .unwrap_or(crate::notifications::OutboxStatus::Dead);
    let rows = match crate::notifications::service::list(&web.state, &p, Some(status), None, 0, 200)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return refusal(&web, e),
    };
    let lang = web.lang;
    let banner = match q.done.as_deref() {
        Some("retried") => Some((true, web.t("已重新排队发送。", "Queued again.").to_string())),
        _ => None,
    };
    let page = OutboxPage {
        c: Chrome::of(&web, "发件箱", "Outbox"),
        banner,
        status: status.as_str().into(),
        rows: rows
            .into_iter()
            .map(|m| OutboxRow {
                id: m.id,
                kind: m.kind,
                recipient: m.recipient.unwrap_or_default(),
                status: outbox_status(m.status.as_str(), lang).into(),
                dead: m.status == crate::notifications::OutboxStatus::Dead,
                attempts: m.attempts,
                error: m.last_error.unwrap_or_default(),
                created: local(m.created_at),
            })
            .collect(),
    };
    render(&web, StatusCode::OK, &page)
}

/// `POST /admin/outbox/{id}/retry`.
#[handler]
pub async fn outbox_retry(
    web: Web,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, _posted) = match posted_by(&web, pairs, ADMIN) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match crate::notifications::service::retry(&web.state, &p, id).await {
        Ok(_) => web.redirect("/admin/outbox?status=dead&done=retried"),
        Err(e) => refusal(&web, e),
    }
}

pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub role: String,
    pub places: String,
    pub disabled: bool,
    pub staff: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html", config = "src/web/askama.toml")]
struct UsersPage {
    c: Chrome,
    problems: Problems,
    banner: Option<String>,
    rows: Vec<UserRow>,
    /// The form as sent, when it comes back with problems.
    form: Vec<(String, String)>,
}

fn role_name(r: Role, lang: Lang) -> &'static str {
    let (zh, en) = match r {
        Role::Applicant => ("申请人", "applicant"),
        Role::Reviewer => ("社区审核人员", "reviewer"),
        Role::Supervisor => ("街道审核人员", "supervisor"),
        Role::Bureau => ("区民政局", "bureau"),
        Role::Admin => ("管理员", "admin"),
    };
    if lang == Lang::En { en } else { zh }
}

async fn users_page(
    web: &Web,
    p: &Principal,
    status: StatusCode,
    problems: Problems,
    banner: Option<String>,
    form: Vec<(String, String)>,
) -> Response {
    let lang = web.lang;
    let mut rows = Vec::new();
    for role in [Role::Reviewer, Role::Supervisor, Role::Bureau, Role::Admin] {
        match crate::auth::service::list_users(&web.state, p, Some(role), 0, 500).await {
            Ok(accounts) => rows.extend(accounts.into_iter().map(|a| {
                UserRow {
                    id: a.user.id,
                    name: a.user.display_name.clone(),
                    login: a
                        .user
                        .email
                        .clone()
                        .or(a.user.mobile.clone())
                        .unwrap_or_default(),
                    role: role_name(a.role, lang).into(),
                    places: a
                        .places
                        .iter()
                        .map(|pl| format!("{} {}", pl.code, pl.name))
                        .collect::<Vec<_>>()
                        .join("、"),
                    disabled: a.user.disabled,
                    staff: a.role != Role::Admin,
                }
            })),
            Err(e) => return refusal(web, e),
        }
    }
    let page = UsersPage {
        c: Chrome::of(web, "账号与管辖范围", "Accounts and scopes"),
        problems,
        banner,
        rows,
        form,
    };
    render(web, status, &page)
}

impl UsersPage {
    /// A value of the form as sent back.
    fn sent(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(serde::Deserialize, Default)]
pub struct UsersQuery {
    done: Option<String>,
}

/// `GET /admin/users`: the staff accounts with their scopes, and a form for a new one.
#[handler]
pub async fn users(web: Web, Query(q): Query<UsersQuery>) -> Response {
    let p = match staff(&web, ADMIN) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let banner = match q.done.as_deref() {
        Some("created") => Some(web.t("账号已创建。", "The account is created.").to_string()),
        Some("disabled") => Some(
            web.t(
                "账号已停用，其登录已全部失效。",
                "The account is disabled and signed out everywhere.",
            )
            .to_string(),
        ),
        _ => None,
    };
    users_page(
        &web,
        &p,
        StatusCode::OK,
        Problems::default(),
        banner,
        vec![],
    )
    .await
}

/// `POST /admin/users`: a new staff account with its places.
#[handler]
pub async fn user_create(web: Web, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (p, posted) = match posted_by(&web, pairs.clone(), ADMIN) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let role = match posted.get("role") {
        Some("reviewer") => Some(Role::Reviewer),
        Some("supervisor") => Some(Role::Supervisor),
        Some("bureau") => Some(Role::Bureau),
        _ => None,
    };
    let sent: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "password" && k != CSRF_FIELD)
        .collect();
    let Some(role) = role else {
        let problems = problems_for_users(&web, &[FieldError::required("role")]);
        return users_page(
            &web,
            &p,
            StatusCode::UNPROCESSABLE_ENTITY,
            problems,
            None,
            sent,
        )
        .await;
    };
    let input = crate::auth::service::NewAccount {
        role,
        display_name: posted.text("display_name").unwrap_or_default(),
        mobile: posted.text("mobile"),
        email: posted.text("email"),
        password: posted.get("password").unwrap_or("").to_string(),
        place_codes: posted
            .get("places")
            .unwrap_or("")
            .split([',', '，', ' ', '\n'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        id_number: posted.text("id_number"),
    };
    match crate::auth::service::create_staff(&web.state, &p, input).await {
        Ok(_) => web.redirect("/admin/users?done=created"),
        Err(e) => {
            let err = ApiError::from(e);
            if err.status() == StatusCode::SERVICE_UNAVAILABLE {
                return refusal(&web, err);
            }
            let problems = problems_for_users(&web, &field_errors(&err));
            users_page(&web, &p, err.status(), problems, None, sent).await
        }
    }
}

fn problems_for_users(web: &Web, fields: &[FieldError]) -> Problems {
    Problems(
        fields
            .iter()
            .map(|f| {
                let id = match f.field.as_str() {
                    "place_codes" | "places" => "places",
                    "toml" => "display_name",
                    other => other,
                };
                Problem {
                    path: f.field.clone(),
                    href: format!("#u-{id}"),
                    message: format!("{}：{}", f.field, f.msg.get(web.lang)),
                }
            })
            .collect(),
    )
}

/// `POST /admin/users/{id}/disable`.
#[handler]
pub async fn user_disable(
    web: Web,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, _posted) = match posted_by(&web, pairs, ADMIN) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if id == p.user_id {
        return crate::web::page::message(
            &web,
            StatusCode::CONFLICT,
            ("不能停用自己的账号", "You cannot disable your own account"),
            ("请由另一位管理员操作。", "Ask another admin."),
        );
    }
    match crate::auth::service::disable_user(&web.state, &p, id).await {
        Ok(_) => web.redirect("/admin/users?done=disabled"),
        Err(e) => refusal(&web, e),
    }
}

#[derive(Template)]
#[template(path = "admin_places.html", config = "src/web/askama.toml")]
struct PlacesPage {
    c: Chrome,
    banner: Option<String>,
    /// (code, kind, name, depth).
    rows: Vec<(String, String, String, usize)>,
}

/// `GET /admin/places`: the place tree, each name editable (the 11 communities of
/// 南关街道 ship as placeholders to be named).
#[handler]
pub async fn places(web: Web, Query(q): Query<UsersQuery>) -> Response {
    if let Err(r) = staff(&web, ADMIN) {
        return r;
    }
    let all = match crate::places::service::list(&web.state).await {
        Ok(all) => all,
        Err(e) => return refusal(&web, e),
    };
    let lang = web.lang;
    let kind = |k: crate::places::PlaceKind| {
        use crate::places::PlaceKind as K;
        let (zh, en) = match k {
            K::District => ("区", "district"),
            K::Subdistrict => ("街道", "sub-district"),
            _ => ("社区", "community"),
        };
        if lang == Lang::En { en } else { zh }.to_string()
    };
    let depth = |p: &crate::places::Place| {
        let mut d = 0;
        let mut at = p.parent_id;
        while let Some(id) = at {
            d += 1;
            at = all.iter().find(|x| x.id == id).and_then(|x| x.parent_id);
            if d > 8 {
                break;
            }
        }
        d
    };
    let rows = all
        .iter()
        .map(|p| (p.code.clone(), kind(p.kind), p.name.clone(), depth(p)))
        .collect();
    let page = PlacesPage {
        c: Chrome::of(&web, "地点", "Places"),
        banner: q
            .done
            .filter(|d| d == "renamed")
            .map(|_| web.t("名称已更新。", "The name is changed.").to_string()),
        rows,
    };
    render(&web, StatusCode::OK, &page)
}

/// `POST /admin/places/{code}`: a new name.
#[handler]
pub async fn place_rename(
    web: Web,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, pairs, ADMIN) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = posted.get("name").unwrap_or("").trim().to_string();
    match crate::places::service::rename(&web.state, &p, &code, &name).await {
        Ok(_) => web.redirect("/admin/places?done=renamed"),
        Err(e) => refusal(&web, e),
    }
}
