//! The start page (办事指南) and the anonymous "do I qualify?" check, both from the
//! policy in force.

use askama::Template;
use poem::http::StatusCode;
use poem::web::Form;
use poem::{Response, handler};

use super::labels::Label;
use super::page::{Chrome, render, unavailable};
use super::session::Web;
use super::widgets::{Choice, Field, Kind, Problems, choices, parse_yuan};
use crate::applications::domain::documents_for;
use crate::applications::form::{ApplicantClass, Programme};
use crate::eligibility::engine::{Decision, Outcome};
use crate::eligibility::guide::{self, QuickFacts};
use crate::eligibility::input::Tenure;
use crate::eligibility::policy::PolicyDocument;
use crate::i18n::Lang;

pub struct Condition {
    pub text: String,
    /// Whom it applies to, when not everyone.
    pub only_for: Option<String>,
}

pub struct ProgrammeGuide {
    pub name: String,
    pub title: String,
    pub version: String,
    pub effective_from: String,
    pub who: Vec<String>,
    pub conditions: Vec<Condition>,
    /// (class, documents).
    pub documents: Vec<(String, Vec<String>)>,
    /// (stage, working time).
    pub stages: Vec<(String, String)>,
}

fn guide_of(doc: &PolicyDocument, lang: Lang, day: chrono::NaiveDate) -> ProgrammeGuide {
    let t = |zh: &str, en: &str| match lang {
        Lang::Zh => zh.to_string(),
        Lang::En => en.to_string(),
    };
    let days = |n: i32| match lang {
        Lang::Zh => format!("{n} 日内"),
        Lang::En => format!("within {n} days"),
    };
    let d = &doc.deadlines;
    ProgrammeGuide {
        name: doc.programme.label(lang).to_string(),
        title: doc.title.clone(),
        version: doc.version.clone(),
        effective_from: doc.effective_from.to_string(),
        who: doc
            .admits
            .iter()
            .map(|c| c.label(lang).to_string())
            .collect(),
        conditions: doc
            .rules
            .iter()
            .map(|r| Condition {
                text: guide::describe(r, doc, day).get(lang).to_string(),
                only_for: r.applies_to.as_ref().map(|classes| {
                    classes
                        .iter()
                        .map(|c| c.label(lang))
                        .collect::<Vec<_>>()
                        .join(if lang == Lang::Zh { "、" } else { ", " })
                }),
            })
            .collect(),
        documents: doc
            .admits
            .iter()
            .map(|&c| {
                (
                    c.label(lang).to_string(),
                    documents_for(c)
                        .iter()
                        .map(|k| k.label(lang).to_string())
                        .collect(),
                )
            })
            .collect(),
        stages: vec![
            (
                t("资格审核（系统自动）", "Eligibility check (automatic)"),
                t("提交后立即", "at once, on submission"),
            ),
            (
                t("社区受理", "Accepted by the community"),
                days(d.acceptance_days),
            ),
            (
                t(
                    "街道初审（可能入户调查）",
                    "First review by the sub-district (a home visit may follow)",
                ),
                days(d.first_review_days),
            ),
            (
                t("社区公示", "Public notice in the community"),
                days(d.notice_days),
            ),
            (
                t("公示异议核查", "Checking an objection to the notice"),
                days(d.objection_days),
            ),
            (
                t(
                    "上报区民政局审批，通过后轮候配租",
                    "Reported to the district Civil Affairs Bureau; once approved, the waiting list and allocation",
                ),
                t("按批次办理", "in batches"),
            ),
        ],
    }
}

#[derive(Template)]
#[template(path = "start.html", config = "src/web/askama.toml")]
struct StartPage {
    c: Chrome,
    guides: Vec<ProgrammeGuide>,
}

#[handler]
pub async fn start(web: Web) -> Response {
    let docs = match crate::eligibility::service::in_force_today(&web.state).await {
        Ok(d) => d,
        Err(_) => return unavailable(&web),
    };
    let today = crate::clock::local_date(web.state.clock.now());
    let page = StartPage {
        c: Chrome::of(&web, "申请公租房、廉租房", "Applying for public housing"),
        guides: docs.iter().map(|d| guide_of(d, web.lang, today)).collect(),
    };
    render(&web, StatusCode::OK, &page)
}

/// The check's form as typed.
#[derive(Default, serde::Deserialize)]
pub struct CheckInput {
    #[serde(default)]
    programme: String,
    #[serde(default)]
    applicant_class: String,
    #[serde(default)]
    household_size: String,
    #[serde(default)]
    applicant_age: String,
    #[serde(default)]
    hukou_city: String,
    #[serde(default)]
    hukou_years: String,
    #[serde(default)]
    annual_income: String,
    #[serde(default)]
    housing_area: String,
    #[serde(default)]
    tenure: String,
    #[serde(default)]
    dibao_months: String,
    #[serde(default)]
    pension_months: String,
    #[serde(default)]
    recent_transfer: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub struct RuleLine {
    pub passed: bool,
    pub not_applicable: bool,
    pub text: String,
    pub value: Option<String>,
    pub limit: Option<String>,
}

pub struct CheckResult {
    pub eligible: bool,
    pub flagged: bool,
    pub policy_version: String,
    pub lines: Vec<RuleLine>,
}

/// A decision's lines in the page's language.
pub fn lines_of(d: &Decision, lang: Lang) -> Vec<RuleLine> {
    let q = |q: &Option<crate::eligibility::engine::Quantity>| {
        q.as_ref().map(|q| match lang {
            Lang::Zh => q.zh.clone(),
            Lang::En => q.en.clone(),
        })
    };
    d.rules
        .iter()
        .map(|r| RuleLine {
            passed: r.outcome == Outcome::Pass,
            not_applicable: r.outcome == Outcome::NotApplicable,
            text: match lang {
                Lang::Zh => r.zh.clone(),
                Lang::En => r.en.clone(),
            },
            value: q(&r.value),
            limit: q(&r.limit),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "check.html", config = "src/web/askama.toml")]
struct CheckPage {
    c: Chrome,
    problems: Problems,
    fields: Vec<Field>,
    result: Option<CheckResult>,
}

fn check_fields(web: &Web, input: &CheckInput, problems: &Problems) -> Vec<Field> {
    who_fields(web, input)
        .into_iter()
        .chain(means_fields(web, input))
        .map(|f| f.errors_from(problems))
        .collect()
}

/// Who is applying, and their hukou.
fn who_fields(web: &Web, input: &CheckInput) -> Vec<Field> {
    let lang = web.lang;
    let t = |zh: &'static str, en: &'static str| web.t(zh, en).to_string();
    vec![
        Field::new(
            "programme",
            t("申请哪类住房", "Which housing"),
            Kind::Radios,
        )
        .choices(choices(
            Programme::ALL,
            Programme::parse(&input.programme),
            Programme::as_str,
            lang,
        ))
        .required(),
        Field::new(
            "applicant_class",
            t("申请人类别", "Who is applying"),
            Kind::Radios,
        )
        .choices(choices(
            ApplicantClass::ALL,
            ApplicantClass::parse(&input.applicant_class),
            ApplicantClass::as_str,
            lang,
        ))
        .required(),
        Field::new(
            "household_size",
            t(
                "家庭人数（含申请人）",
                "People in the household, you included",
            ),
            Kind::Number,
        )
        .value(input.household_size.clone())
        .inputmode("numeric")
        .required(),
        Field::new(
            "applicant_age",
            t("申请人年龄（周岁）", "Your age, in years"),
            Kind::Number,
        )
        .value(input.applicant_age.clone())
        .inputmode("numeric")
        .required(),
        Field::new(
            "hukou_city",
            t("户籍所在城市", "City of your hukou"),
            Kind::Text,
        )
        .value(if input.hukou_city.is_empty() {
            "郑州".into()
        } else {
            input.hukou_city.clone()
        })
        .hint(t("例如：郑州", "For example 郑州 (Zhengzhou)")),
        Field::new(
            "hukou_years",
            t(
                "在该城市落户已满几年",
                "Whole years your hukou has been there",
            ),
            Kind::Number,
        )
        .value(input.hukou_years.clone())
        .inputmode("numeric")
        .required(),
    ]
}

/// Income, housing and benefits.
fn means_fields(web: &Web, input: &CheckInput) -> Vec<Field> {
    let t = |zh: &'static str, en: &'static str| web.t(zh, en).to_string();
    vec![
        Field::new(
            "annual_income",
            t(
                "全家去年总收入（元）",
                "The whole household's income last year, in yuan",
            ),
            Kind::Number,
        )
        .value(input.annual_income.clone())
        .inputmode("decimal")
        .hint(t(
            "工资、经营、养老金等全部收入之和",
            "Wages, business, pensions: everything together",
        ))
        .required(),
        Field::new(
            "housing_area",
            t(
                "现有住房建筑面积（平方米）",
                "Floor area of the housing you own or rent from the state (m²)",
            ),
            Kind::Number,
        )
        .value(input.housing_area.clone())
        .inputmode("decimal")
        .hint(t("没有则填 0", "0 if none")),
        Field::new("tenure", t("这套住房是", "That housing is"), Kind::Radios).choices(vec![
            Choice {
                value: "owned".into(),
                label: t("自有", "owned by us"),
                selected: input.tenure == "owned",
            },
            Choice {
                value: "rented_public".into(),
                label: t("承租公房", "rented public housing"),
                selected: input.tenure == "rented_public",
            },
            Choice {
                value: "other".into(),
                label: t("租私房、借住或没有", "rented privately, borrowed, or none"),
                selected: input.tenure.is_empty() || input.tenure == "other",
            },
        ]),
        Field::new(
            "dibao_months",
            t(
                "享受低保已满几个月",
                "Months on the minimum living allowance (低保)",
            ),
            Kind::Number,
        )
        .value(input.dibao_months.clone())
        .inputmode("numeric")
        .hint(t("没有则留空", "Leave empty if none")),
        Field::new(
            "pension_months",
            t(
                "近三年缴纳养老保险月数",
                "Months of pension contributions in the last 3 years",
            ),
            Kind::Number,
        )
        .value(input.pension_months.clone())
        .inputmode("numeric")
        .hint(t(
            "外来务工人员、新就业职工填写",
            "For migrant and newly employed workers",
        )),
        Field::new(
            "recent_transfer",
            t(
                "近 5 年内出售、赠与或拆迁过住房",
                "We sold, gave away or lost to demolition a home in the last 5 years",
            ),
            Kind::Check,
        )
        .value(if input.recent_transfer == "true" {
            "true"
        } else {
            ""
        }),
    ]
}

#[handler]
pub async fn check_form(web: Web) -> Response {
    let input = CheckInput::default();
    let page = CheckPage {
        fields: check_fields(&web, &input, &Problems::default()),
        c: Chrome::of(&web, "我能申请吗？", "Do I qualify?"),
        problems: Problems::default(),
        result: None,
    };
    render(&web, StatusCode::OK, &page)
}

/// Collects the problems of the check's form.
#[derive(Default)]
struct Checker(Vec<crate::error::FieldError>);

impl Checker {
    fn bad(&mut self, path: &str, zh: &str, en: &str) {
        self.0.push(crate::error::FieldError::new(
            path.to_string(),
            "invalid",
            crate::i18n::Msg::new(zh, en),
        ));
    }

    /// A whole number in `range`, or a problem.
    fn whole(
        &mut self,
        raw: &str,
        range: std::ops::RangeInclusive<u32>,
        path: &str,
        zh: &str,
        en: &str,
    ) -> Option<u32> {
        let v = raw.trim().parse::<u32>().ok().filter(|n| range.contains(n));
        if v.is_none() {
            self.bad(path, zh, en);
        }
        v
    }

    /// Empty, or a whole number up to `max`.
    fn optional(&mut self, raw: &str, max: u32, path: &str, zh: &str, en: &str) -> Option<u32> {
        if raw.trim().is_empty() {
            return None;
        }
        self.whole(raw, 0..=max, path, zh, en)
    }

    fn choice<T>(&mut self, v: Option<T>, path: &str, zh: &str, en: &str) -> Option<T> {
        if v.is_none() {
            self.bad(path, zh, en);
        }
        v
    }
}

fn parse_facts(web: &Web, i: &CheckInput) -> Result<QuickFacts, Problems> {
    let mut c = Checker::default();
    let programme = c.choice(
        Programme::parse(&i.programme),
        "programme",
        "请选择申请哪类住房",
        "Choose which housing",
    );
    let class = c.choice(
        ApplicantClass::parse(&i.applicant_class),
        "applicant_class",
        "请选择申请人类别",
        "Choose who is applying",
    );
    let size = c.whole(
        &i.household_size,
        1..=30,
        "household_size",
        "家庭人数请填 1 到 30 的整数",
        "Household size must be a whole number from 1 to 30",
    );
    let age = c.whole(
        &i.applicant_age,
        16..=120,
        "applicant_age",
        "年龄请填 16 到 120 的整数",
        "Age must be a whole number from 16 to 120",
    );
    let hukou_years = c.whole(
        &i.hukou_years,
        0..=120,
        "hukou_years",
        "落户年数请填整数，未落户填 0",
        "Hukou years must be a whole number; 0 if none",
    );
    let income = c.choice(
        parse_yuan(&i.annual_income).filter(|f| *f <= 10_000_000_000),
        "annual_income",
        "收入请填金额，例如 36000 或 36000.50",
        "Income must be an amount such as 36000 or 36000.50",
    );
    let area = c.choice(
        if i.housing_area.trim().is_empty() {
            Some(0)
        } else {
            parse_yuan(&i.housing_area).filter(|a| *a <= 500_000)
        },
        "housing_area",
        "面积请填数字，最多两位小数；没有填 0",
        "Area must be a number with at most two decimals; 0 if none",
    );
    let dibao = c.optional(
        &i.dibao_months,
        1200,
        "dibao_months",
        "低保月数请填整数，或留空",
        "Allowance months must be a whole number, or empty",
    );
    let pension = c.optional(
        &i.pension_months,
        36,
        "pension_months",
        "养老保险月数请填 0 到 36 的整数，或留空",
        "Pension months must be a whole number from 0 to 36, or empty",
    );
    let city = i.hukou_city.trim();
    if !city.is_empty() && crate::values::text("hukou_city", city, 50).is_err() {
        c.bad("hukou_city", "城市名称无效", "The city name is not valid");
    }
    if !c.0.is_empty() {
        return Err(Problems::from_fields(&c.0, web.lang, |_| String::new()));
    }
    Ok(QuickFacts {
        programme: programme.unwrap_or(Programme::PublicRental),
        applicant_class: class.unwrap_or(ApplicantClass::Local),
        household_size: size.unwrap_or(1),
        applicant_age: age.unwrap_or(30),
        hukou_city: if city.is_empty() {
            "郑州".into()
        } else {
            city.to_string()
        },
        hukou_years: hukou_years.unwrap_or(0),
        annual_income_fen: income.unwrap_or(0),
        housing_area_cm2: area.unwrap_or(0),
        tenure: match i.tenure.as_str() {
            "owned" => Tenure::Owned,
            "rented_public" => Tenure::RentedPublic,
            _ => Tenure::Other,
        },
        dibao_months: dibao,
        pension_months: pension.map(|m| m as i32),
        recent_transfer: i.recent_transfer == "true",
    })
}

#[handler]
pub async fn check_submit(web: Web, Form(input): Form<CheckInput>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return super::page::expired_form(&web);
    }
    let title = Chrome::of(&web, "我能申请吗？", "Do I qualify?");
    let facts = match parse_facts(&web, &input) {
        Ok(f) => f,
        Err(problems) => {
            let fields = check_fields(&web, &input, &problems);
            let problems = problems.labelled(&fields);
            let page = CheckPage {
                c: title,
                fields,
                problems,
                result: None,
            };
            return render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let docs = match crate::eligibility::service::in_force_today(&web.state).await {
        Ok(d) => d,
        Err(_) => return unavailable(&web),
    };
    let today = crate::clock::local_date(web.state.clock.now());
    let result = docs
        .iter()
        .find(|d| d.programme == facts.programme)
        .map(|policy| {
            let d = guide::quick_check(&facts, policy, today);
            CheckResult {
                eligible: d.eligible,
                flagged: d.flagged,
                policy_version: d.policy_version.clone(),
                lines: lines_of(&d, web.lang),
            }
        });
    let page = CheckPage {
        c: title,
        fields: check_fields(&web, &input, &Problems::default()),
        problems: Problems::default(),
        result,
    };
    render(&web, StatusCode::OK, &page)
}
