//! Message templates in Chinese and English, as plain text and HTML. Everything that
//! came from a user is HTML-escaped; identity numbers never appear in a message.

use crate::i18n::Lang;

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds text and HTML from a subject and paragraphs (already in the right language).
fn render(subject: String, paragraphs: &[String]) -> Rendered {
    let text = paragraphs.join("\n\n");
    let html = format!(
        "<!doctype html><html><body>{}</body></html>",
        paragraphs
            .iter()
            .map(|p| format!("<p>{}</p>", escape(p)))
            .collect::<String>()
    );
    Rendered {
        subject,
        text,
        html,
    }
}

fn pick(lang: Lang, zh: String, en: String) -> String {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// The written receipt the rules require on submission.
pub fn submission_receipt(
    lang: Lang,
    name: &str,
    number: &str,
    community: &str,
    submitted: &str,
) -> Rendered {
    render(
        pick(
            lang,
            format!("申请受理回执：{number}"),
            format!("Application received: {number}"),
        ),
        &[
            pick(lang, format!("{name}，您好："), format!("Dear {name},")),
            pick(
                lang,
                format!(
                    "您的住房保障申请已于 {submitted} 提交至{community}，申请编号为 {number}。请妥善保存本回执。"
                ),
                format!(
                    "Your housing application was submitted to {community} on {submitted}. Its number is {number}. Please keep this receipt."
                ),
            ),
            pick(
                lang,
                "系统将自动进行资格审核，结果将另行通知。".into(),
                "The eligibility check runs next; you will be told the result.".into(),
            ),
        ],
    )
}

/// The eligibility result, with each failed rule explained.
pub fn eligibility_result(
    lang: Lang,
    name: &str,
    number: &str,
    eligible: bool,
    failed: &[String],
) -> Rendered {
    let mut paragraphs = vec![pick(
        lang,
        format!("{name}，您好："),
        format!("Dear {name},"),
    )];
    if eligible {
        paragraphs.push(pick(
            lang,
            format!("您的申请（{number}）经资格审核，符合申请条件，请等待社区受理。"),
            format!("Your application {number} meets the conditions and now waits to be accepted by your community."),
        ));
    } else {
        paragraphs.push(pick(
            lang,
            format!("您的申请（{number}）经资格审核，不符合以下条件："),
            format!("Your application {number} does not meet these conditions:"),
        ));
        paragraphs.extend(failed.iter().map(|f| format!("- {f}")));
        paragraphs.push(pick(
            lang,
            "如有异议，可申请复核。".into(),
            "You may ask for reconsideration.".into(),
        ));
    }
    render(
        pick(
            lang,
            format!("资格审核结果：{number}"),
            format!("Eligibility result: {number}"),
        ),
        &paragraphs,
    )
}

fn greeting(lang: Lang, name: &str) -> String {
    pick(lang, format!("{name}，您好："), format!("Dear {name},"))
}

/// 受理: the community accepted the case for first review.
pub fn acceptance(lang: Lang, name: &str, number: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("申请已受理：{number}"),
            format!("Application accepted: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）已受理，街道将进行初审，可能入户调查。"),
                format!(
                    "Your application {number} has been accepted for first review; staff may visit your home."
                ),
            ),
        ],
    )
}

/// 一次性告知: every missing item at once.
pub fn correction_request(lang: Lang, name: &str, number: &str, items: &[String]) -> Rendered {
    let mut paragraphs = vec![
        greeting(lang, name),
        pick(
            lang,
            format!("您的申请（{number}）需要补正以下全部事项，补正后请重新提交："),
            format!(
                "Your application {number} needs all of the following; correct them and resubmit:"
            ),
        ),
    ];
    paragraphs.extend(items.iter().map(|i| format!("- {i}")));
    render(
        pick(
            lang,
            format!("补正告知：{number}"),
            format!("Items to correct: {number}"),
        ),
        &paragraphs,
    )
}

/// First review passed.
pub fn review_passed(lang: Lang, name: &str, number: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("初审通过：{number}"),
            format!("First review passed: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）已通过街道初审。"),
                format!("Your application {number} has passed first review."),
            ),
        ],
    )
}

/// The public notice has started.
pub fn notice_started(lang: Lang, name: &str, number: &str, until: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("公示开始：{number}"),
            format!("Public notice started: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）正在社区公示，公示期至 {until}。"),
                format!(
                    "Your application {number} is on public notice in your community until {until}."
                ),
            ),
        ],
    )
}

/// Rejected in first review (or after an upheld objection), with the reasons.
pub fn rejected(lang: Lang, name: &str, number: &str, reason: &str, comment: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("申请未获通过：{number}"),
            format!("Application rejected: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）未获通过。原因：{reason}。{comment}"),
                format!("Your application {number} was rejected. Reason: {reason}. {comment}"),
            ),
            pick(
                lang,
                "如有异议，可在 15 个工作日内申请复核。".into(),
                "You may ask for reconsideration within 15 working days.".into(),
            ),
        ],
    )
}

/// The case was reported up to the district Civil Affairs Bureau.
pub fn reported_up(lang: Lang, name: &str, number: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("已上报区民政局：{number}"),
            format!("Reported to the district bureau: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）已上报区民政局审核。"),
                format!(
                    "Your application {number} has been reported to the district Civil Affairs Bureau."
                ),
            ),
        ],
    )
}

/// The bureau's decision, with the reason when it is not an approval.
pub fn bureau_decision(
    lang: Lang,
    name: &str,
    number: &str,
    decision: &str,
    reason: &str,
) -> Rendered {
    let (zh, en) = match decision {
        "approved" => ("已审核通过".to_string(), "approved".to_string()),
        "returned" => (
            format!("已退回街道重新审核。原因：{reason}"),
            format!("returned to the sub-district. Reason: {reason}"),
        ),
        _ => (
            format!("未获批准。原因：{reason}"),
            format!("rejected. Reason: {reason}"),
        ),
    };
    render(
        pick(
            lang,
            format!("区民政局审核结果：{number}"),
            format!("Bureau decision: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）经区民政局审核，{zh}。"),
                format!("Your application {number} was {en}."),
            ),
        ],
    )
}

/// The waiting-list (轮候) number.
pub fn waitlist_number(lang: Lang, name: &str, number: &str, position: i64) -> Rendered {
    render(
        pick(
            lang,
            format!("轮候号：{number}"),
            format!("Waiting-list number: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("您的申请（{number}）已进入轮候，轮候号为 {position}。"),
                format!("Your application {number} is on the waiting list with number {position}."),
            ),
        ],
    )
}

/// Someone tried to register with a login name this account already has.
pub fn registration_attempt(lang: Lang, name: &str) -> Rendered {
    render(
        pick(
            lang,
            "有人尝试用您的手机号码或邮箱注册".into(),
            "Someone tried to register with your mobile number or e-mail".into(),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                "有人使用您账号的手机号码或电子邮箱申请注册新账号，系统未创建新账号。如果是您本人，请直接登录；如果忘记密码，请使用“忘记密码”。如不是您本人操作，无需处理。".into(),
                "Someone asked to register a new account with your mobile number or e-mail address; no account was created. If it was you, sign in instead (or reset a forgotten password). If not, there is nothing to do.".into(),
            ),
        ],
    )
}

/// A link to set a new password.
pub fn password_reset(lang: Lang, name: &str, link: &str, minutes: i64) -> Rendered {
    render(
        pick(lang, "重置密码".into(), "Reset your password".into()),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!(
                    "请在 {minutes} 分钟内打开以下链接设置新密码（链接只能使用一次）：\n{link}"
                ),
                format!(
                    "Open this link within {minutes} minutes to set a new password (it works once):\n{link}"
                ),
            ),
            pick(
                lang,
                "如果不是您本人申请，请忽略本邮件，您的密码不会改变。".into(),
                "If you did not ask for this, ignore this message; your password stays as it is."
                    .into(),
            ),
        ],
    )
}

/// Confirmation that the applicant withdrew.
pub fn withdrawal_confirmation(lang: Lang, name: &str, number: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("撤回申请确认：{number}"),
            format!("Application withdrawn: {number}"),
        ),
        &[
            pick(lang, format!("{name}，您好："), format!("Dear {name},")),
            pick(
                lang,
                format!("您已撤回编号为 {number} 的住房保障申请。"),
                format!("Your housing application {number} has been withdrawn."),
            ),
        ],
    )
}

/// The request for 复核 was received, with the day the answer is due.
pub fn appeal_received(lang: Lang, name: &str, number: &str, due: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("已收到复核申请：{number}"),
            format!("Reconsideration requested: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!("我们已收到您对申请（{number}）的复核申请，将于 {due} 前书面答复。"),
                format!(
                    "We received your request to reconsider application {number} and will answer in writing by {due}."
                ),
            ),
        ],
    )
}

/// The answer to a 复核: `upheld` (the refusal stands, with its reason) or `overturned`.
pub fn appeal_answered(
    lang: Lang,
    name: &str,
    number: &str,
    decision: &str,
    reason: &str,
    comment: &str,
) -> Rendered {
    let (zh, en) = if decision == "overturned" {
        (
            format!("复核结果：撤销原决定，您的申请（{number}）将继续办理。{comment}"),
            format!(
                "The refusal of application {number} has been set aside on reconsideration; it continues. {comment}"
            ),
        )
    } else {
        (
            format!("复核结果：维持原决定。原因：{reason}。{comment}"),
            format!(
                "On reconsideration the refusal of application {number} stands. Reason: {reason}. {comment}"
            ),
        )
    };
    render(
        pick(
            lang,
            format!("复核结果：{number}"),
            format!("Reconsideration answered: {number}"),
        ),
        &[greeting(lang, name), pick(lang, zh, en)],
    )
}

/// The annual re-verification (年审) is due by `due`.
pub fn reverification_reminder(lang: Lang, name: &str, number: &str, due: &str) -> Rendered {
    render(
        pick(
            lang,
            format!("请办理住房保障年审：{number}"),
            format!("Annual re-verification due: {number}"),
        ),
        &[
            greeting(lang, name),
            pick(
                lang,
                format!(
                    "请于 {due} 前申报家庭人口、收入和住房变化（年审）。逾期未申报的，将按规定退出住房保障。"
                ),
                format!(
                    "Please declare your household, income and housing by {due} (annual re-verification). Households that do not declare leave the programme."
                ),
            ),
        ],
    )
}

/// The outcome of a re-verification or an exit: `continued` (next due `until`) or an
/// exit with the failed rules or the reason, and the right to ask for 复核.
pub fn reverification_outcome(lang: Lang, name: &str, number: &str, f: &Facts) -> Rendered {
    let body = if f.decision == "adjusted" {
        let why = f.failed.join("；");
        pick(
            lang,
            format!(
                "您的年审（{number}）已完成：家庭情况已不符合廉租住房条件（{why}），但符合公共租赁住房条件，已转为公租房保障，轮候号 {}。下次年审日期：{}。如有异议，可在 15 个工作日内申请复核。",
                f.waitlist_number, f.until
            ),
            format!(
                "Your re-verification ({number}) is done: the household no longer qualifies for low-rent housing ({why}) but does for public rental housing, and continues there, waiting-list number {}. Next one due: {}. You may ask for reconsideration within 15 working days.",
                f.waitlist_number, f.until
            ),
        )
    } else if f.decision == "continued" {
        pick(
            lang,
            format!(
                "您的年审（{number}）已通过，继续享受住房保障。下次年审日期：{}。",
                f.until
            ),
            format!(
                "Your re-verification ({number}) is done and you stay in the programme. Next one due: {}.",
                f.until
            ),
        )
    } else {
        let why = if f.failed.is_empty() {
            f.reason.clone()
        } else {
            f.failed.join("；")
        };
        pick(
            lang,
            format!(
                "您（{number}）已退出住房保障。原因：{why}。{} 如有异议，可在 15 个工作日内申请复核。",
                f.comment
            ),
            format!(
                "You ({number}) have left the programme. Reason: {why}. {} You may ask for reconsideration within 15 working days.",
                f.comment
            ),
        )
    };
    render(
        pick(
            lang,
            format!("年审结果：{number}"),
            format!("Re-verification: {number}"),
        ),
        &[greeting(lang, name), body],
    )
}

/// The messages of an allocation round (配租): opened, re-check failed, ranking
/// published, offer, allocation, and what declining costs.
fn allocation(t: Template, lang: Lang, f: &Facts) -> Rendered {
    let (subject, body) = match t {
        Template::UnitOffered | Template::UnitAllocated | Template::OfferDeclined => choosing(t, f),
        _ => round_news(t, f),
    };
    render(
        pick(lang, subject.0, subject.1),
        &[greeting(lang, &f.name), pick(lang, body.0, body.1)],
    )
}

type Pair = (String, String);

/// Subject and body (zh, en) of a round's news: opened, re-check failed, ranking.
fn round_news(t: Template, f: &Facts) -> (Pair, Pair) {
    let (number, round) = (&f.number, &f.round);
    match t {
        Template::RoundOpened => (
            (
                format!("配租意向登记：{round}"),
                format!("Allocation round open: {round}"),
            ),
            (
                format!(
                    "{round}已开始意向登记，登记截止日期 {}。您的申请（{number}）正在轮候，如需参加本轮配租，请登录系统登记意向。",
                    f.until
                ),
                format!(
                    "Registration for {round} is open until {}. Your application ({number}) is on the waiting list; sign in and register your intent to take part.",
                    f.until
                ),
            ),
        ),
        Template::RecheckFailed => (
            (
                format!("配租资格复审结果：{number}"),
                format!("Re-check before allocation: {number}"),
            ),
            (
                format!(
                    "配租前动态审核发现您的家庭已不符合条件（{}），已退出轮候。{} 如有异议，可在 15 个工作日内申请复核。",
                    f.failed.join("；"),
                    f.reason
                ),
                format!(
                    "The re-check before allocation found that the household no longer qualifies ({}), and it has left the waiting list. {} You may ask for reconsideration within 15 working days.",
                    f.failed.join("; "),
                    f.reason
                ),
            ),
        ),
        _ => (
            (
                format!("配租排序公示：{round}"),
                format!("Ranking published: {round}"),
            ),
            (
                format!(
                    "{round}的排序已公示，您的申请（{number}）排第 {} 位。请按通知参加选房。",
                    f.position
                ),
                format!(
                    "The ranking of {round} is published: your application ({number}) is number {}. You will be called to choose a unit in this order.",
                    f.position
                ),
            ),
        ),
    }
}

/// Subject and body (zh, en) of choosing a unit: offered, let, declined.
fn choosing(t: Template, f: &Facts) -> (Pair, Pair) {
    let (number, round, unit) = (&f.number, &f.round, &f.unit);
    match t {
        Template::UnitOffered => (
            (
                format!("配租房源通知：{number}"),
                format!("A unit is offered: {number}"),
            ),
            (
                format!(
                    "{round}为您提供房源：{unit}。请尽快登录系统接受或放弃；放弃将按规定处理。"
                ),
                format!(
                    "{round} offers you a unit: {unit}. Please sign in to accept or decline; declining has the consequence the policy states."
                ),
            ),
        ),
        Template::UnitAllocated => (
            (
                format!("配租结果：{number}"),
                format!("Unit allocated: {number}"),
            ),
            (
                format!(
                    "您已选定房源 {unit}，租赁自 {} 起。请按通知签订租赁合同。",
                    f.until
                ),
                format!(
                    "You have been let {unit}, the lease starting on {}. You will be asked to sign the lease.",
                    f.until
                ),
            ),
        ),
        _ => (
            (
                format!("放弃选房确认：{number}"),
                format!("Offer declined: {number}"),
            ),
            if f.barred_until.is_empty() {
                (
                    format!(
                        "您已放弃房源 {unit}。按规定，您的轮候顺序调至队尾，新轮候号 {}。",
                        f.waitlist_number
                    ),
                    format!(
                        "You declined {unit}. As the policy says, the household goes to the end of the waiting list, new number {}.",
                        f.waitlist_number
                    ),
                )
            } else {
                (
                    format!(
                        "您已放弃房源 {unit}。按规定，{} 前不再为您配租。",
                        f.barred_until
                    ),
                    format!(
                        "You declined {unit}. As the policy says, no unit is offered to the household before {}.",
                        f.barred_until
                    ),
                )
            },
        ),
    }
}

/// A message the lifecycle sends: one per template, named by the `kind` stored with it.
/// A transition names its templates in the lifecycle table; [`Template::render`] is the
/// one place that knows which facts each template reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    SubmissionReceipt,
    EligibilityResult,
    Acceptance,
    CorrectionRequest,
    ReviewPassed,
    NoticeStarted,
    Rejected,
    ReportedUp,
    BureauDecision,
    WaitlistNumber,
    WithdrawalConfirmation,
    AppealReceived,
    AppealAnswered,
    ReverificationReminder,
    ReverificationOutcome,
    RoundOpened,
    RecheckFailed,
    RankingPublished,
    UnitOffered,
    UnitAllocated,
    OfferDeclined,
}

/// What a template may say about the case and the change, beyond its name and number.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub name: String,
    pub number: String,
    /// The community the case was filed in.
    pub community: String,
    /// The local day of the change (`2026-11-02`).
    pub date: String,
    /// The eligibility rules the household failed, in its language.
    pub failed: Vec<String>,
    /// Every item to correct (一次性告知).
    pub items: Vec<String>,
    /// The last local day of the public notice.
    pub until: String,
    /// The reason, in the household's language.
    pub reason: String,
    pub comment: String,
    /// `approved`, `returned` or `rejected`, for the bureau's decision.
    pub decision: &'static str,
    pub eligible: bool,
    pub waitlist_number: i64,
    /// The allocation round's name.
    pub round: String,
    /// The household's place in the published ranking.
    pub position: i32,
    /// The unit offered or let (project, building, unit, area).
    pub unit: String,
    /// After declining under a bar: the first day another offer may be made; empty when
    /// the household goes to the end of the list instead.
    pub barred_until: String,
}

impl Template {
    /// The `kind` stored with the message (several templates may share one).
    pub fn kind(self) -> &'static str {
        match self {
            Template::SubmissionReceipt => "submission_receipt",
            Template::EligibilityResult => "eligibility_result",
            Template::Acceptance => "acceptance",
            Template::CorrectionRequest => "correction_request",
            Template::ReviewPassed | Template::Rejected => "first_review_result",
            Template::NoticeStarted => "notice_started",
            Template::ReportedUp => "reported_up",
            Template::BureauDecision => "bureau_decision",
            Template::WaitlistNumber => "waitlist_number",
            Template::WithdrawalConfirmation => "withdrawal_confirmation",
            Template::AppealReceived => "appeal_received",
            Template::AppealAnswered => "appeal_answered",
            Template::ReverificationReminder => "reverification_reminder",
            Template::ReverificationOutcome => "reverification_outcome",
            Template::RoundOpened => "round_opened",
            Template::RecheckFailed => "recheck_failed",
            Template::RankingPublished => "ranking_published",
            Template::UnitOffered => "unit_offered",
            Template::UnitAllocated => "unit_allocated",
            Template::OfferDeclined => "offer_declined",
        }
    }

    pub fn render(self, lang: Lang, f: &Facts) -> Rendered {
        let (name, number) = (f.name.as_str(), f.number.as_str());
        match self {
            Template::SubmissionReceipt => {
                submission_receipt(lang, name, number, &f.community, &f.date)
            }
            Template::EligibilityResult => {
                eligibility_result(lang, name, number, f.eligible, &f.failed)
            }
            Template::Acceptance => acceptance(lang, name, number),
            Template::CorrectionRequest => correction_request(lang, name, number, &f.items),
            Template::ReviewPassed => review_passed(lang, name, number),
            Template::NoticeStarted => notice_started(lang, name, number, &f.until),
            Template::Rejected => rejected(lang, name, number, &f.reason, &f.comment),
            Template::ReportedUp => reported_up(lang, name, number),
            Template::BureauDecision => bureau_decision(lang, name, number, f.decision, &f.reason),
            Template::WaitlistNumber => waitlist_number(lang, name, number, f.waitlist_number),
            Template::WithdrawalConfirmation => withdrawal_confirmation(lang, name, number),
            Template::AppealReceived => appeal_received(lang, name, number, &f.until),
            Template::AppealAnswered => {
                appeal_answered(lang, name, number, f.decision, &f.reason, &f.comment)
            }
            Template::ReverificationReminder => {
                reverification_reminder(lang, name, number, &f.until)
            }
            Template::ReverificationOutcome => reverification_outcome(lang, name, number, f),
            t => allocation(t, lang, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_is_escaped_in_html_but_not_in_text() {
        let r = submission_receipt(
            Lang::En,
            "<b>Ann</b>",
            "410104003-2026-000001",
            "惠工街社区",
            "2026-11-02",
        );
        assert!(r.html.contains("&lt;b&gt;Ann&lt;/b&gt;"));
        assert!(!r.html.contains("<b>Ann"));
        assert!(r.text.contains("<b>Ann</b>"));
        assert!(r.subject.contains("410104003-2026-000001"));
    }

    #[test]
    fn the_language_decides_the_text() {
        let zh = withdrawal_confirmation(Lang::Zh, "王", "N1");
        let en = withdrawal_confirmation(Lang::En, "Wang", "N1");
        assert!(zh.subject.starts_with("撤回申请确认"));
        assert!(en.subject.starts_with("Application withdrawn"));
    }

    #[test]
    fn allocation_messages_say_what_happened_in_both_languages() {
        let f = Facts {
            name: "<b>Li</b>".into(),
            number: "410104003-2015-000007".into(),
            round: "2015年第一批".into(),
            position: 3,
            unit: "南关安居小区 1号楼 101".into(),
            until: "2015-12-01".into(),
            waitlist_number: 42,
            failed: vec!["income over the limit".into()],
            ..Default::default()
        };
        let cases = [
            (Template::RoundOpened, "register your intent", "登记意向"),
            (Template::RecheckFailed, "no longer qualifies", "申请复核"),
            (Template::RankingPublished, "is number 3", "排第 3 位"),
            (
                Template::UnitOffered,
                "offers you a unit: 南关安居小区",
                "为您提供房源",
            ),
            (
                Template::UnitAllocated,
                "lease starting on 2015-12-01",
                "租赁自 2015-12-01",
            ),
            (Template::OfferDeclined, "new number 42", "新轮候号 42"),
        ];
        for (t, en, zh) in cases {
            let e = t.render(Lang::En, &f);
            let z = t.render(Lang::Zh, &f);
            assert!(e.text.contains(en), "{t:?}: {}", e.text);
            assert!(z.text.contains(zh), "{t:?}: {}", z.text);
            assert!(e.html.contains("&lt;b&gt;Li"), "{t:?}: the name is escaped");
            assert_ne!(e.subject, z.subject);
        }
        let barred = Facts {
            barred_until: "2017-12-01".into(),
            ..f
        };
        let e = Template::OfferDeclined.render(Lang::En, &barred);
        assert!(e.text.contains("before 2017-12-01") && !e.text.contains("new number"));
    }
}
