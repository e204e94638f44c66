//! The reviewer's desk: the work queue with its filters (status, programme, community,
//! overdue, whose), longest waiting first with each case's deadline, keyset paging that
//! stays right while cases move, claiming a case, and bulk accept / pass / reject with
//! a result for every case.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Form, Query};
use poem::{Response, handler};

use super::{DESK, local, posted_by, reason_choices, refusal, staff};
use crate::applications::form::Programme;
use crate::i18n::Lang;
use crate::lifecycle::{Action, Status};
use crate::review::actions::{self, ActionInput};
use crate::review::queue::{self, Assigned, Order, QueueQuery};
use crate::web::labels::Label;
use crate::web::page::{Chrome, render};
use crate::web::session::Web;
use crate::web::widgets::Choice;

/// The statuses a desk works, in the order of the flow.
pub const QUEUES: &[Status] = &[
    Status::Eligible,
    Status::UnderReview,
    Status::NeedsCorrection,
    Status::PassedReview,
    Status::ReadyToReport,
    Status::Reported,
    Status::Returned,
    Status::AppealEligibility,
    Status::AppealReview,
    Status::AppealBureau,
    Status::AppealExit,
    Status::Waitlisted,
];

/// Actions the queue can take on several cases at once.
const BULK: &[Action] = &[Action::Accept, Action::PassReview, Action::Reject];

#[derive(serde::Deserialize, Default)]
pub struct Filters {
    status: Option<String>,
    programme: Option<String>,
    community: Option<String>,
    assigned: Option<String>,
    overdue: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    fn status(&self) -> Status {
        self.status
            .as_deref()
            .and_then(Status::parse)
            .filter(|s| QUEUES.contains(s))
            .unwrap_or(Status::Eligible)
    }

    fn programme(&self) -> Option<Programme> {
        self.programme.as_deref().and_then(Programme::parse)
    }

    fn assigned(&self) -> Assigned {
        match self.assigned.as_deref() {
            Some("me") => Assigned::Me,
            Some("unassigned") => Assigned::Unassigned,
            _ => Assigned::Anyone,
        }
    }

    fn overdue(&self) -> bool {
        self.overdue.as_deref() == Some("true")
    }

    fn community(&self) -> Option<String> {
        self.community.clone().filter(|c| !c.is_empty())
    }

    /// The query string of these filters (without the cursor).
    fn query(&self) -> String {
        let mut q = format!("status={}", self.status().as_str());
        if let Some(p) = self.programme() {
            q.push_str(&format!("&programme={}", p.as_str()));
        }
        if let Some(c) = self.community() {
            q.push_str(&format!("&community={}", urlencoding(&c)));
        }
        match self.assigned() {
            Assigned::Me => q.push_str("&assigned=me"),
            Assigned::Unassigned => q.push_str("&assigned=unassigned"),
            Assigned::Anyone => {}
        }
        if self.overdue() {
            q.push_str("&overdue=true");
        }
        q
    }
}

/// Community codes and cursors are `[0-9A-Za-z_-]`; anything else is dropped.
fn urlencoding(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect()
}

pub struct Row {
    pub id: i64,
    pub version: i32,
    pub number: String,
    pub applicant: String,
    pub household_size: i32,
    pub community: String,
    pub programme: String,
    pub since: String,
    pub due: String,
    pub days_left: Option<i64>,
    pub overdue: bool,
    pub assigned: String,
    pub mine: bool,
    pub flags: Vec<String>,
}

#[derive(Template)]
#[template(path = "staff_queue.html", config = "src/web/askama.toml")]
struct QueuePage {
    c: Chrome,
    status: String,
    statuses: Vec<Choice>,
    programmes: Vec<Choice>,
    communities: Vec<Choice>,
    assigned: Vec<Choice>,
    overdue: bool,
    rows: Vec<Row>,
    next: Option<String>,
    first_page: Option<String>,
    bulk: Vec<Choice>,
    reasons: Vec<Choice>,
    claimable: bool,
    back: String,
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    selected: Option<T>,
    label: impl Fn(T) -> String,
    value: impl Fn(T) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: value(*v).into(),
            label: label(*v),
            selected: Some(*v) == selected,
        })
        .collect()
}

/// The communities the caller covers, as (code, name).
async fn communities_of(web: &Web, p: &crate::access::Principal) -> Vec<(String, String)> {
    let Ok(ids) = crate::places::service::communities_within_cached(&web.state, &p.place_ids).await
    else {
        return vec![];
    };
    crate::places::service::list(&web.state)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|pl| ids.contains(&pl.id))
        .map(|pl| (pl.code, pl.name))
        .collect()
}

fn row_of(web: &Web, me: i64, item: queue::QueueItem) -> Row {
    let lang = web.lang;
    let now = web.state.clock.now();
    let case = item.case;
    let (name, _) = crate::applications::applicant_masked(&case);
    let mut flags = vec![];
    if case.duplicate_open {
        flags.push(web.t("疑似重复", "possible duplicate").to_string());
    }
    if case.warnings_open > 0 {
        flags.push(web.t("待核实提示", "warnings to confirm").to_string());
    }
    Row {
        id: case.id,
        version: case.version,
        number: case.number.clone().unwrap_or_default(),
        applicant: name.unwrap_or_default(),
        household_size: case.household_size,
        community: item.community.map(|c| c.name).unwrap_or_default(),
        programme: case
            .programme
            .map(|p| p.label(lang).to_string())
            .unwrap_or_default(),
        since: local(case.status_since),
        due: item.due_at.map(local).unwrap_or_default(),
        days_left: item
            .due_at
            .map(|d| (d - now).num_seconds().div_euclid(86_400)),
        overdue: item.due_at.is_some_and(|d| d < now),
        assigned: match case.assigned_to {
            Some(id) if id == me => web.t("我", "me").to_string(),
            Some(id) => format!("#{id}"),
            None => "—".into(),
        },
        mine: case.assigned_to == Some(me),
        flags,
    }
}

/// `GET /staff`: the work queue.
#[handler]
pub async fn queue_page(web: Web, Query(f): Query<Filters>) -> Response {
    let p = match staff(&web, DESK) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let lang = web.lang;
    let status = f.status();
    let q = QueueQuery {
        status,
        programme: f.programme(),
        community_code: f.community(),
        assigned: f.assigned(),
        flagged_duplicate: None,
        has_warnings: None,
        overdue: f.overdue().then_some(true),
        order: Order::Oldest,
        cursor: f.cursor.clone().filter(|c| !c.is_empty()),
        limit: 50,
    };
    let page = match queue::queue(&web.state, &p, q).await {
        Ok(page) => page,
        Err(e) => return refusal(&web, e),
    };
    let community = f.community();
    let communities = communities_of(&web, &p)
        .await
        .into_iter()
        .map(|(code, name)| Choice {
            selected: Some(&code) == community.as_ref(),
            value: code,
            label: name,
        })
        .collect();
    let filters = f.query();
    let assigned = [
        ("", "任何人", "anyone"),
        ("me", "我", "me"),
        ("unassigned", "未分配", "nobody"),
    ]
    .iter()
    .map(|(v, zh, en)| Choice {
        value: (*v).into(),
        label: web.t(zh, en).into(),
        selected: f.assigned.as_deref().unwrap_or("") == *v,
    })
    .collect();
    let rows = page
        .items
        .into_iter()
        .map(|i| row_of(&web, p.user_id, i))
        .collect();
    let page = QueuePage {
        c: Chrome::of(&web, "工作台", "Work queue"),
        status: status.label(lang).into(),
        statuses: choices(
            QUEUES,
            Some(status),
            |s| s.label(lang).into(),
            Status::as_str,
        ),
        programmes: choices(
            Programme::ALL,
            f.programme(),
            |p| p.label(lang).into(),
            Programme::as_str,
        ),
        communities,
        assigned,
        overdue: f.overdue(),
        rows,
        next: page
            .next_cursor
            .map(|c| format!("/staff?{filters}&cursor={}", urlencoding(&c))),
        first_page: f
            .cursor
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|_| format!("/staff?{filters}")),
        bulk: choices(BULK, None, |a| bulk_label(a, lang).into(), Action::as_str),
        reasons: reason_choices(lang, ""),
        claimable: p.role == crate::access::Role::Reviewer
            && matches!(
                status,
                Status::Eligible | Status::UnderReview | Status::PassedReview
            ),
        back: format!("/staff?{filters}"),
    };
    render(&web, StatusCode::OK, &page)
}

fn bulk_label(a: Action, lang: Lang) -> &'static str {
    let (zh, en) = match a {
        Action::Accept => ("受理", "Accept"),
        Action::PassReview => ("通过初审", "Pass first review"),
        _ => ("驳回", "Reject"),
    };
    if lang == Lang::En { en } else { zh }
}

pub struct BulkLine {
    pub id: i64,
    pub number: String,
    pub ok: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "staff_bulk.html", config = "src/web/askama.toml")]
struct BulkPage {
    c: Chrome,
    action: String,
    lines: Vec<BulkLine>,
    succeeded: usize,
    failed: usize,
    back: String,
}

/// `POST /staff/bulk`: the same action on every ticked case, each in its own
/// transaction, and a page with what happened to each.
#[handler]
pub async fn bulk(web: Web, Form(posted): Form<Vec<(String, String)>>) -> Response {
    let (p, posted) = match posted_by(&web, posted, DESK) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let back = super::super::local_path(posted.get("back")).to_string();
    let action = posted
        .get("action")
        .and_then(Action::parse)
        .filter(|a| BULK.contains(a));
    let picked: Vec<(i64, i32)> = posted
        .all("pick")
        .iter()
        .filter_map(|v| {
            let (id, version) = v.split_once(':')?;
            Some((id.parse().ok()?, version.parse().ok()?))
        })
        .take(100)
        .collect();
    let (Some(action), false) = (action, picked.is_empty()) else {
        return super::super::page::message(
            &web,
            StatusCode::UNPROCESSABLE_ENTITY,
            ("请选择操作和案件", "Choose an action and cases"),
            (
                "请在列表中勾选至少一个案件，并选择要执行的操作。",
                "Tick at least one case in the list and choose what to do with them.",
            ),
        );
    };
    let mut lines = Vec::with_capacity(picked.len());
    for (id, version) in picked {
        let input = ActionInput {
            version,
            comment: posted.text("comment"),
            reason_code: posted.text("reason_code"),
            ..Default::default()
        };
        lines.push(
            match actions::act(&web.state, &p, id, action, input).await {
                Ok(d) => BulkLine {
                    id,
                    number: d.case.number.clone().unwrap_or_default(),
                    ok: true,
                    text: d.case.status.label(web.lang).into(),
                },
                Err(e) => BulkLine {
                    id,
                    number: format!("#{id}"),
                    ok: false,
                    text: super::explain(&e.into()),
                },
            },
        );
    }
    let succeeded = lines.iter().filter(|l| l.ok).count();
    let status = if succeeded == lines.len() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    let page = BulkPage {
        c: Chrome::of(&web, "批量操作结果", "Bulk action results"),
        action: bulk_label(action, web.lang).into(),
        failed: lines.len() - succeeded,
        succeeded,
        lines,
        back,
    };
    render(&web, status, &page)
}
