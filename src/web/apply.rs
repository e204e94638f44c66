//! The application form in steps (household and programme, members, income, housing,
//! contact), saved as a draft at every step through the same service calls as the API;
//! members, dwellings and transfers added and removed with buttons (no script); a
//! "check your answers" page; submission exactly once per rendered page.

use askama::Template;
use chrono::NaiveDate;
use poem::http::StatusCode;
use poem::web::{Form, Path};
use poem::{Response, handler};

use super::labels::Label;
use super::page::{Chrome, expired_form, not_found, render, unavailable};
use super::session::{CSRF_FIELD, Web};
use super::widgets::{Choice, Field, Fieldset, Kind, Problems, choices, parse_yuan, yuan};
use crate::applications::ApplicationError;
use crate::applications::domain::documents_for;
use crate::applications::form::{
    ApplicantClass, AssetsForm, DocumentKind, FiledAt, Form as AppForm, Gender, HousingForm,
    HousingNature, Language, MaritalStatus, MemberForm, Programme, Relationship, TransferForm,
    TransferKind,
};
use crate::applications::service::{self, CaseDetail, IdempotencyKey, Submitted};
use crate::error::FieldError;
use crate::i18n::{Lang, Msg};
use crate::lifecycle::Status;
use crate::places::PlaceKind;

/// The steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Household,
    Members,
    Income,
    Housing,
    Contact,
}

pub const STEPS: [Step; 5] = [
    Step::Household,
    Step::Members,
    Step::Income,
    Step::Housing,
    Step::Contact,
];

impl Step {
    pub fn slug(self) -> &'static str {
        match self {
            Step::Household => "household",
            Step::Members => "members",
            Step::Income => "income",
            Step::Housing => "housing",
            Step::Contact => "contact",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        STEPS.into_iter().find(|st| st.slug() == s)
    }

    pub fn title(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Step::Household => ("申请类别和社区", "Programme and community"),
            Step::Members => ("家庭成员", "Household members"),
            Step::Income => ("收入和资产", "Income and assets"),
            Step::Housing => ("住房情况", "Housing"),
            Step::Contact => ("联系方式和声明", "Contact and declaration"),
        };
        if lang == Lang::En { en } else { zh }
    }

    fn next(self) -> Option<Step> {
        let i = STEPS.iter().position(|s| *s == self)?;
        STEPS.get(i + 1).copied()
    }

    /// The step a field path belongs to, for links from the review page.
    pub fn of_field(path: &str) -> Step {
        let member_income = [
            "annual_income_fen",
            "dibao",
            "pension_months",
            "disabled",
            "serious_illness",
            "employer",
        ];
        if path.starts_with("members") {
            if member_income.iter().any(|k| path.contains(k)) {
                Step::Income
            } else {
                Step::Members
            }
        } else if path.starts_with("assets") {
            Step::Income
        } else if path.starts_with("housing") || path.starts_with("transfers") {
            Step::Housing
        } else if path.starts_with("contact")
            || path.starts_with("documents")
            || path.starts_with("consent")
            || path.starts_with("declaration")
            || path.starts_with("language")
        {
            Step::Contact
        } else {
            Step::Household
        }
    }
}

/// A posted form: `name=value` pairs in order.
pub struct Posted(Vec<(String, String)>);

impl Posted {
    pub fn new(pairs: Vec<(String, String)>) -> Posted {
        Posted(pairs)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn checked(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// How many entries of a list were posted (`members[3].name` → at least 4).
    fn count(&self, list: &str) -> usize {
        let prefix = format!("{list}[");
        self.0
            .iter()
            .filter_map(|(k, _)| {
                k.strip_prefix(&prefix)?
                    .split(']')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Reads typed values, collecting what cannot be read.
struct Reader<'a> {
    posted: &'a Posted,
    errors: Vec<FieldError>,
}

impl Reader<'_> {
    fn bad(&mut self, path: &str, zh: &str, en: &str) {
        self.errors.push(FieldError::new(
            path.to_string(),
            "invalid_value",
            Msg::new(zh, en),
        ));
    }

    fn money(&mut self, path: &str) -> Option<i64> {
        let raw = self.posted.text(path)?;
        let v = parse_yuan(&raw);
        if v.is_none() {
            self.bad(
                path,
                "请填写金额（元），最多两位小数",
                "enter an amount in yuan, at most two decimals",
            );
        }
        v
    }

    fn area(&mut self, path: &str) -> Option<f64> {
        let raw = self.posted.text(path)?;
        match parse_yuan(&raw) {
            Some(cm2) => Some(cm2 as f64 / 100.0),
            None => {
                self.bad(
                    path,
                    "请填写面积（平方米），最多两位小数",
                    "enter an area in m², at most two decimals",
                );
                None
            }
        }
    }

    fn int(&mut self, path: &str) -> Option<i32> {
        let raw = self.posted.text(path)?;
        let v = raw.parse::<i32>().ok();
        if v.is_none() {
            self.bad(path, "请填写整数", "enter a whole number");
        }
        v
    }

    fn date(&mut self, path: &str) -> Option<NaiveDate> {
        let raw = self.posted.text(path)?;
        let v = NaiveDate::parse_from_str(&raw, "%Y-%m-%d").ok();
        if v.is_none() {
            self.bad(
                path,
                "请按“年-月-日”填写日期，例如 2010-03-01",
                "enter a date as year-month-day, e.g. 2010-03-01",
            );
        }
        v
    }

    fn choice<T>(&mut self, path: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let raw = self.posted.text(path)?;
        let v = parse(&raw);
        if v.is_none() {
            self.bad(path, "请从列表中选择", "choose one of the options");
        }
        v
    }
}

/// Which list button was pressed: `add_member`, `remove_member:2`, `next`, `save`.
fn pressed(posted: &Posted) -> (&str, Option<usize>) {
    let go = posted.get("go").unwrap_or("next");
    match go.split_once(':') {
        Some((what, i)) => (what, i.parse().ok()),
        None => (go, None),
    }
}

/// Applies one step's posted fields to the form. Returns what could not be read.
fn apply_step(step: Step, form: &mut AppForm, posted: &Posted) -> Vec<FieldError> {
    let mut r = Reader {
        posted,
        errors: vec![],
    };
    let pressed = pressed(posted);
    match step {
        Step::Household => read_household(form, posted, &mut r),
        Step::Members => read_members(form, posted, &mut r, pressed),
        Step::Income => read_income(form, posted, &mut r),
        Step::Housing => read_housing(form, posted, &mut r, pressed),
        Step::Contact => read_contact(form, posted, &mut r),
    }
    r.errors
}

fn read_household(form: &mut AppForm, posted: &Posted, r: &mut Reader<'_>) {
    {
        form.programme = r.choice("programme", Programme::parse);
        form.applicant_class = r.choice("applicant_class", ApplicantClass::parse);
        form.community_code = posted.text("community_code");
        form.filed_at = r.choice("filed_at", FiledAt::parse);
    }
}

fn read_members(
    form: &mut AppForm,
    posted: &Posted,
    r: &mut Reader<'_>,
    (button, index): (&str, Option<usize>),
) {
    {
        let old = form.members.clone().unwrap_or_default();
        let mut members: Vec<MemberForm> = (0..posted.count("members"))
            .map(|i| {
                let p = |f: &str| format!("members[{i}].{f}");
                let mut m = old.get(i).cloned().unwrap_or_default();
                m.relationship = r.choice(&p("relationship"), Relationship::parse);
                m.name = posted.text(&p("name"));
                m.id_number = posted.text(&p("id_number"));
                m.gender = r.choice(&p("gender"), Gender::parse);
                m.marital_status = r.choice(&p("marital_status"), MaritalStatus::parse);
                m.hukou_city = posted.text(&p("hukou_city"));
                m.hukou_since = r.date(&p("hukou_since"));
                m
            })
            .collect();
        match (button, index) {
            ("add_member", _) if members.len() < 30 => members.push(MemberForm::default()),
            ("remove_member", Some(i)) if i < members.len() => {
                members.remove(i);
                // Field errors point at positions that moved: drop them.
                r.errors.clear();
            }
            _ => {}
        }
        form.members = Some(members);
    }
}

fn read_income(form: &mut AppForm, posted: &Posted, r: &mut Reader<'_>) {
    {
        let mut members = form.members.clone().unwrap_or_default();
        for (i, m) in members.iter_mut().enumerate() {
            let p = |f: &str| format!("members[{i}].{f}");
            m.employer = posted.text(&p("employer"));
            m.annual_income_fen = r.money(&p("annual_income_fen"));
            m.dibao_certificate = posted.text(&p("dibao_certificate"));
            m.dibao_since = r.date(&p("dibao_since"));
            m.pension_months = r.int(&p("pension_months"));
            m.disabled = Some(posted.checked(&p("disabled")));
            m.serious_illness = Some(posted.checked(&p("serious_illness")));
        }
        form.members = Some(members);
        form.assets = Some(AssetsForm {
            deposits_fen: r.money("assets.deposits_fen"),
            vehicles_fen: r.money("assets.vehicles_fen"),
            securities_fen: r.money("assets.securities_fen"),
        });
    }
}

fn read_housing(
    form: &mut AppForm,
    posted: &Posted,
    r: &mut Reader<'_>,
    (button, index): (&str, Option<usize>),
) {
    {
        let mut housing: Vec<HousingForm> = (0..posted.count("housing"))
            .map(|i| {
                let p = |f: &str| format!("housing[{i}].{f}");
                HousingForm {
                    address: posted.text(&p("address")),
                    area_m2: r.area(&p("area_m2")),
                    nature: r.choice(&p("nature"), HousingNature::parse),
                }
            })
            .collect();
        let mut transfers: Vec<TransferForm> = (0..posted.count("transfers"))
            .map(|i| {
                let p = |f: &str| format!("transfers[{i}].{f}");
                TransferForm {
                    address: posted.text(&p("address")),
                    area_m2: r.area(&p("area_m2")),
                    date: r.date(&p("date")),
                    kind: r.choice(&p("kind"), TransferKind::parse),
                }
            })
            .collect();
        match (button, index) {
            ("add_housing", _) if housing.len() < 20 => housing.push(HousingForm::default()),
            ("remove_housing", Some(i)) if i < housing.len() => {
                housing.remove(i);
                r.errors.clear();
            }
            ("add_transfer", _) if transfers.len() < 20 => transfers.push(TransferForm::default()),
            ("remove_transfer", Some(i)) if i < transfers.len() => {
                transfers.remove(i);
                r.errors.clear();
            }
            _ => {}
        }
        form.housing = Some(housing);
        form.transfers = Some(transfers);
    }
}

fn read_contact(form: &mut AppForm, posted: &Posted, r: &mut Reader<'_>) {
    {
        form.contact_mobile = posted.text("contact_mobile");
        form.contact_email = posted.text("contact_email");
        form.language = r.choice("language", Language::parse);
        let mut docs = Vec::new();
        for raw in posted.all("documents") {
            match DocumentKind::parse(raw) {
                Some(d) if !docs.contains(&d) => docs.push(d),
                Some(_) => {}
                None => r.bad("documents", "请从列表中选择", "choose from the list"),
            }
        }
        form.documents = Some(docs);
        form.consent_verification = Some(posted.checked("consent_verification"));
        form.declaration_truthful = Some(posted.checked("declaration_truthful"));
    }
}

/// Whether the button pressed only changes a list and stays on the step.
fn stays(posted: &Posted) -> bool {
    matches!(
        pressed(posted).0,
        "add_member"
            | "remove_member"
            | "add_housing"
            | "remove_housing"
            | "add_transfer"
            | "remove_transfer"
            | "save"
    )
}

fn t(lang: Lang, zh: &'static str, en: &'static str) -> String {
    if lang == Lang::En {
        en.into()
    } else {
        zh.into()
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The fieldsets of a step, filled from the form.
fn fieldsets(
    step: Step,
    form: &AppForm,
    communities: &[(String, String)],
    lang: Lang,
) -> Vec<Fieldset> {
    match step {
        Step::Household => household_sets(form, communities, lang),
        Step::Members => member_sets(form, lang),
        Step::Income => income_sets(form, lang),
        Step::Housing => housing_sets(form, lang),
        Step::Contact => contact_sets(form, lang),
    }
}

fn set(legend: String, fields: Vec<Field>) -> Fieldset {
    Fieldset {
        legend,
        fields,
        remove: None,
    }
}

fn household_sets(form: &AppForm, communities: &[(String, String)], lang: Lang) -> Vec<Fieldset> {
    vec![set(
        t(lang, "申请什么", "What you apply for"),
        vec![
            Field::new(
                "programme",
                t(lang, "申请哪类住房", "Which housing"),
                Kind::Radios,
            )
            .choices(choices(
                Programme::ALL,
                form.programme,
                Programme::as_str,
                lang,
            ))
            .required(),
            Field::new(
                "applicant_class",
                t(lang, "申请人类别", "Who is applying"),
                Kind::Radios,
            )
            .choices(choices(
                ApplicantClass::ALL,
                form.applicant_class,
                ApplicantClass::as_str,
                lang,
            ))
            .required(),
            Field::new(
                "community_code",
                t(lang, "在哪个社区申请", "Community you apply in"),
                Kind::Select,
            )
            .choices(
                communities
                    .iter()
                    .map(|(code, name)| Choice {
                        value: code.clone(),
                        label: name.clone(),
                        selected: form.community_code.as_deref() == Some(code),
                    })
                    .collect(),
            )
            .required(),
            Field::new(
                "filed_at",
                t(lang, "该社区是", "That community is"),
                Kind::Radios,
            )
            .choices(choices(FiledAt::ALL, form.filed_at, FiledAt::as_str, lang))
            .required(),
        ],
    )]
}

fn member_sets(form: &AppForm, lang: Lang) -> Vec<Fieldset> {
    form.members
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| {
            let p = |f: &str| format!("members[{i}].{f}");
            Fieldset {
                legend: match lang {
                    Lang::Zh => format!("成员 {}", i + 1),
                    Lang::En => format!("Member {}", i + 1),
                },
                fields: vec![
                    Field::new(
                        p("relationship"),
                        t(lang, "与申请人关系", "Relationship to the applicant"),
                        Kind::Select,
                    )
                    .choices(choices(
                        Relationship::ALL,
                        m.relationship,
                        Relationship::as_str,
                        lang,
                    ))
                    .hint(t(
                        lang,
                        "申请人本人选“本人”",
                        "For the applicant, choose “Applicant (self)”",
                    ))
                    .required(),
                    Field::new(p("name"), t(lang, "姓名", "Full name"), Kind::Text)
                        .value(opt(&m.name))
                        .required(),
                    Field::new(
                        p("id_number"),
                        t(lang, "身份证号码", "Identity number"),
                        Kind::Text,
                    )
                    .value(opt(&m.id_number))
                    .hint(t(
                        lang,
                        "18 位，最后一位可能是 X",
                        "18 characters; the last may be X",
                    ))
                    .required(),
                    Field::new(p("gender"), t(lang, "性别", "Sex"), Kind::Radios)
                        .choices(choices(Gender::ALL, m.gender, Gender::as_str, lang))
                        .required(),
                    Field::new(
                        p("marital_status"),
                        t(lang, "婚姻状况", "Marital status"),
                        Kind::Select,
                    )
                    .choices(choices(
                        MaritalStatus::ALL,
                        m.marital_status,
                        MaritalStatus::as_str,
                        lang,
                    ))
                    .required(),
                    Field::new(
                        p("hukou_city"),
                        t(lang, "户籍所在城市", "City of hukou"),
                        Kind::Text,
                    )
                    .value(opt(&m.hukou_city))
                    .hint(t(lang, "例如：郑州", "For example 郑州 (Zhengzhou)"))
                    .required(),
                    Field::new(
                        p("hukou_since"),
                        t(lang, "落户日期", "Hukou registered there since"),
                        Kind::Date,
                    )
                    .value(opt(&m.hukou_since))
                    .required(),
                ],
                remove: Some((
                    "go".into(),
                    format!("remove_member:{i}"),
                    match lang {
                        Lang::Zh => format!("删除成员 {}", i + 1),
                        Lang::En => format!("Remove member {}", i + 1),
                    },
                )),
            }
        })
        .collect()
}

fn member_income_set(i: usize, m: &MemberForm, lang: Lang) -> Fieldset {
    let p = |f: &str| format!("members[{i}].{f}");
    let who = m.name.clone().unwrap_or_else(|| match lang {
        Lang::Zh => format!("成员 {}", i + 1),
        Lang::En => format!("Member {}", i + 1),
    });
    set(
        who,
        vec![
            Field::new(p("employer"), t(lang, "工作单位", "Employer"), Kind::Text)
                .value(opt(&m.employer))
                .hint(t(lang, "没有可不填", "Leave empty if none")),
            Field::new(
                p("annual_income_fen"),
                t(lang, "去年全年收入（元）", "Income last year (yuan)"),
                Kind::Number,
            )
            .value(yuan(m.annual_income_fen))
            .inputmode("decimal")
            .hint(t(lang, "没有收入填 0", "0 if none"))
            .required(),
            Field::new(
                p("dibao_certificate"),
                t(
                    lang,
                    "低保证号码",
                    "低保 (minimum allowance) certificate number",
                ),
                Kind::Text,
            )
            .value(opt(&m.dibao_certificate))
            .hint(t(lang, "没有可不填", "Leave empty if none")),
            Field::new(
                p("dibao_since"),
                t(lang, "享受低保起始日期", "On 低保 since"),
                Kind::Date,
            )
            .value(opt(&m.dibao_since)),
            Field::new(
                p("pension_months"),
                t(
                    lang,
                    "近三年缴纳养老保险月数",
                    "Months of pension contributions in the last 3 years",
                ),
                Kind::Number,
            )
            .value(opt(&m.pension_months))
            .inputmode("numeric"),
            Field::new(
                p("disabled"),
                t(lang, "残疾", "Has a disability"),
                Kind::Check,
            )
            .value(if m.disabled == Some(true) { "true" } else { "" }),
            Field::new(
                p("serious_illness"),
                t(lang, "患重大疾病", "Has a serious illness"),
                Kind::Check,
            )
            .value(if m.serious_illness == Some(true) {
                "true"
            } else {
                ""
            }),
        ],
    )
}

fn income_sets(form: &AppForm, lang: Lang) -> Vec<Fieldset> {
    {
        let mut sets: Vec<Fieldset> = form
            .members
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, m)| member_income_set(i, m, lang))
            .collect();
        let a = form.assets.clone().unwrap_or_default();
        sets.push(set(
            t(lang, "家庭资产", "Household assets"),
            vec![
                Field::new(
                    "assets.deposits_fen",
                    t(lang, "存款（元）", "Savings (yuan)"),
                    Kind::Number,
                )
                .value(yuan(a.deposits_fen))
                .inputmode("decimal"),
                Field::new(
                    "assets.vehicles_fen",
                    t(lang, "车辆价值（元）", "Vehicles' value (yuan)"),
                    Kind::Number,
                )
                .value(yuan(a.vehicles_fen))
                .inputmode("decimal"),
                Field::new(
                    "assets.securities_fen",
                    t(lang, "有价证券（元）", "Shares and bonds (yuan)"),
                    Kind::Number,
                )
                .value(yuan(a.securities_fen))
                .inputmode("decimal"),
            ],
        ));
        sets
    }
}

fn housing_sets(form: &AppForm, lang: Lang) -> Vec<Fieldset> {
    {
        let mut sets: Vec<Fieldset> = form
            .housing
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, h)| {
                let p = |f: &str| format!("housing[{i}].{f}");
                Fieldset {
                    legend: match lang {
                        Lang::Zh => format!("现住房 {}", i + 1),
                        Lang::En => format!("Dwelling {}", i + 1),
                    },
                    fields: vec![
                        Field::new(p("address"), t(lang, "地址", "Address"), Kind::Text)
                            .value(opt(&h.address))
                            .autocomplete("street-address"),
                        Field::new(
                            p("area_m2"),
                            t(lang, "建筑面积（平方米）", "Floor area (m²)"),
                            Kind::Number,
                        )
                        .value(h.area_m2.map(|a| format!("{a}")).unwrap_or_default())
                        .inputmode("decimal"),
                        Field::new(
                            p("nature"),
                            t(lang, "住房性质", "How you hold it"),
                            Kind::Select,
                        )
                        .choices(choices(
                            HousingNature::ALL,
                            h.nature,
                            HousingNature::as_str,
                            lang,
                        )),
                    ],
                    remove: Some((
                        "go".into(),
                        format!("remove_housing:{i}"),
                        match lang {
                            Lang::Zh => format!("删除现住房 {}", i + 1),
                            Lang::En => format!("Remove dwelling {}", i + 1),
                        },
                    )),
                }
            })
            .collect();
        sets.extend(form.transfers.iter().flatten().enumerate().map(|(i, x)| {
            let p = |f: &str| format!("transfers[{i}].{f}");
            Fieldset {
                legend: match lang {
                    Lang::Zh => format!("5 年内转让或拆迁的住房 {}", i + 1),
                    Lang::En => {
                        format!("Home sold or demolished in the last 5 years {}", i + 1)
                    }
                },
                fields: vec![
                    Field::new(p("address"), t(lang, "地址", "Address"), Kind::Text)
                        .value(opt(&x.address)),
                    Field::new(
                        p("area_m2"),
                        t(lang, "建筑面积（平方米）", "Floor area (m²)"),
                        Kind::Number,
                    )
                    .value(x.area_m2.map(|a| format!("{a}")).unwrap_or_default())
                    .inputmode("decimal"),
                    Field::new(p("date"), t(lang, "日期", "Date"), Kind::Date).value(opt(&x.date)),
                    Field::new(p("kind"), t(lang, "方式", "What happened"), Kind::Radios).choices(
                        choices(TransferKind::ALL, x.kind, TransferKind::as_str, lang),
                    ),
                ],
                remove: Some((
                    "go".into(),
                    format!("remove_transfer:{i}"),
                    match lang {
                        Lang::Zh => format!("删除第 {} 项", i + 1),
                        Lang::En => format!("Remove entry {}", i + 1),
                    },
                )),
            }
        }));
        sets
    }
}

fn contact_sets(form: &AppForm, lang: Lang) -> Vec<Fieldset> {
    {
        let class = form.applicant_class.unwrap_or(ApplicantClass::Local);
        let docs = form.documents.clone().unwrap_or_default();
        vec![set(
            t(lang, "联系方式", "How to reach you"),
            vec![
                Field::new(
                    "contact_mobile",
                    t(lang, "联系手机", "Mobile number"),
                    Kind::Tel,
                )
                .value(opt(&form.contact_mobile))
                .autocomplete("tel")
                .inputmode("numeric")
                .required(),
                Field::new("contact_email", t(lang, "电子邮箱", "E-mail"), Kind::Email)
                    .value(opt(&form.contact_email))
                    .autocomplete("email")
                    .hint(t(
                        lang,
                        "办理进度通知会发到这个邮箱",
                        "Notices about your case go to this address",
                    )),
                Field::new(
                    "language",
                    t(lang, "通知语言", "Language of notices"),
                    Kind::Radios,
                )
                .choices(choices(
                    Language::ALL,
                    form.language.or(Some(Language::Zh)),
                    Language::as_str,
                    lang,
                )),
                Field::new(
                    "documents",
                    t(
                        lang,
                        "将带到社区窗口的材料",
                        "Papers you will bring to the community office",
                    ),
                    Kind::Checkboxes,
                )
                .choices(
                    documents_for(class)
                        .iter()
                        .map(|d| Choice {
                            value: d.as_str().into(),
                            label: d.label(lang).into(),
                            selected: docs.contains(d),
                        })
                        .collect(),
                )
                .required(),
                Field::new(
                    "consent_verification",
                    t(
                        lang,
                        "我同意有关部门核查我家的收入、住房和户籍信息",
                        "I agree that the authorities may check our income, housing and hukou",
                    ),
                    Kind::Check,
                )
                .value(if form.consent_verification == Some(true) {
                    "true"
                } else {
                    ""
                })
                .required(),
                Field::new(
                    "declaration_truthful",
                    t(
                        lang,
                        "我声明所填内容真实完整，如有虚假愿承担责任",
                        "I declare that everything given is true and complete",
                    ),
                    Kind::Check,
                )
                .value(if form.declaration_truthful == Some(true) {
                    "true"
                } else {
                    ""
                })
                .required(),
            ],
        )]
    }
}

impl StepPage {
    /// Shows what was typed in the fields whose value could not be read.
    fn keep_typed(&mut self, posted: &Posted) {
        for f in self.sets.iter_mut().flat_map(|s| s.fields.iter_mut()) {
            if f.error.is_some()
                && matches!(
                    f.kind,
                    Kind::Text | Kind::Number | Kind::Date | Kind::Tel | Kind::Email
                )
                && let Some(raw) = posted.get(&f.name)
            {
                f.value = raw.to_string();
            }
        }
    }
}

#[derive(Template)]
#[template(path = "step.html", config = "src/web/askama.toml")]
struct StepPage {
    c: Chrome,
    heading: String,
    number: usize,
    steps: Vec<(String, String, bool)>,
    problems: Problems,
    notice: Option<String>,
    action: String,
    version: i32,
    sets: Vec<Fieldset>,
    add: Option<(String, String)>,
    add_second: Option<(String, String)>,
    empty: Option<String>,
}

async fn communities(web: &Web) -> Result<Vec<(String, String)>, crate::places::PlaceError> {
    let places = crate::places::service::list(&web.state).await?;
    Ok(places
        .into_iter()
        .filter(|p| p.kind == PlaceKind::Community)
        .map(|p| (p.code, p.name))
        .collect())
}

fn step_page(
    web: &Web,
    step: Step,
    id: Option<i64>,
    version: i32,
    form: &AppForm,
    communities: &[(String, String)],
    problems: Problems,
) -> StepPage {
    let lang = web.lang;
    let mut sets = fieldsets(step, form, communities, lang);
    for s in &mut sets {
        s.fields = std::mem::take(&mut s.fields)
            .into_iter()
            .map(|f| f.errors_from(&problems))
            .collect();
    }
    let all: Vec<Field> = sets.iter().flat_map(|s| s.fields.clone()).collect();
    let problems = problems.labelled(&all);
    let base = id.map(|id| format!("/applications/{id}/edit"));
    let (add, add_second, empty) = match step {
        Step::Members => (
            Some((
                "add_member".into(),
                t(lang, "添加一名家庭成员", "Add a household member"),
            )),
            None,
            None,
        ),
        Step::Housing => (
            Some((
                "add_housing".into(),
                t(lang, "添加一处现住房", "Add a dwelling you live in or hold"),
            )),
            Some((
                "add_transfer".into(),
                t(
                    lang,
                    "添加一处 5 年内转让或拆迁的住房",
                    "Add a home sold or demolished in the last 5 years",
                ),
            )),
            form.housing.as_ref().is_none_or(Vec::is_empty).then(|| {
                t(
                    lang,
                    "没有住房的不用添加。",
                    "If you hold no housing, add nothing.",
                )
            }),
        ),
        _ => (None, None, None),
    };
    StepPage {
        c: Chrome::of(web, step.title(Lang::Zh), step.title(Lang::En)),
        heading: step.title(lang).into(),
        number: STEPS.iter().position(|s| *s == step).unwrap_or(0) + 1,
        steps: STEPS
            .iter()
            .map(|s| {
                let href = match &base {
                    Some(b) => format!("{b}/{}", s.slug()),
                    None => String::new(),
                };
                (s.title(lang).to_string(), href, *s == step)
            })
            .collect(),
        problems,
        notice: None,
        action: match &base {
            Some(b) => format!("{b}/{}", step.slug()),
            None => "/apply".into(),
        },
        version,
        sets,
        add,
        add_second,
        empty,
    }
}

fn need_applicant(web: &Web) -> Option<Response> {
    match &web.principal {
        None => Some(web.redirect(&format!("/login?next={}", web.path))),
        // A reviewer enters a walk-in family's paper application on the same form
        // (a counter draft, theirs alone until submitted).
        Some(p)
            if !p.is(&[
                crate::access::Role::Applicant,
                crate::access::Role::Reviewer,
            ]) =>
        {
            Some(super::page::message(
                web,
                StatusCode::FORBIDDEN,
                (
                    "此页面供申请家庭和窗口审核人员使用",
                    "This page is for applicant families and counter reviewers",
                ),
                (
                    "纸质申请由社区审核人员在窗口录入。",
                    "Paper applications are entered by a community reviewer at the counter.",
                ),
            ))
        }
        Some(_) => None,
    }
}

/// An application error as a page: problems to show, or the answer itself.
enum Outcome {
    Problems(Problems),
    Answer(Response),
}

fn outcome_of(web: &Web, e: ApplicationError, href_of: impl Fn(&str) -> String) -> Outcome {
    match e {
        ApplicationError::Invalid(fields) => {
            Outcome::Problems(Problems::from_fields(&fields, web.lang, href_of))
        }
        ApplicationError::NotFound | ApplicationError::Forbidden => Outcome::Answer(not_found(web)),
        ApplicationError::TooManyDrafts => Outcome::Answer(super::page::message(
            web,
            StatusCode::CONFLICT,
            ("草稿太多", "Too many drafts"),
            (
                "您已有 20 份未提交的草稿，请先提交或删除一些。",
                "You already have 20 unsubmitted drafts; submit or delete some first.",
            ),
        )),
        ApplicationError::Stale(_) => Outcome::Answer(super::page::message(
            web,
            StatusCode::CONFLICT,
            ("申请已在别处修改", "The application changed elsewhere"),
            (
                "该申请在另一个窗口或设备上被修改过。请返回重新打开后再修改。",
                "It was changed in another window or device. Go back and open it again.",
            ),
        )),
        ApplicationError::WrongStatus(_) => Outcome::Answer(super::page::message(
            web,
            StatusCode::CONFLICT,
            ("现在不能修改", "This cannot be changed now"),
            (
                "该申请已提交，正在办理中。",
                "The application has been submitted and is being handled.",
            ),
        )),
        ApplicationError::KeyReused | ApplicationError::Db(_) => Outcome::Answer(unavailable(web)),
    }
}

#[handler]
pub async fn new_form(web: Web) -> Response {
    if let Some(r) = need_applicant(&web) {
        return r;
    }
    let Ok(comm) = communities(&web).await else {
        return unavailable(&web);
    };
    let page = step_page(
        &web,
        Step::Household,
        None,
        0,
        &AppForm::default(),
        &comm,
        Problems::default(),
    );
    render(&web, StatusCode::OK, &page)
}

#[handler]
pub async fn new_submit(web: Web, Form(posted): Form<Vec<(String, String)>>) -> Response {
    if let Some(r) = need_applicant(&web) {
        return r;
    }
    let posted = Posted(posted);
    if !web.csrf_ok(posted.get(CSRF_FIELD)) {
        return expired_form(&web);
    }
    let Ok(comm) = communities(&web).await else {
        return unavailable(&web);
    };
    let mut form = AppForm {
        language: Some(if web.lang == Lang::En {
            Language::En
        } else {
            Language::Zh
        }),
        ..AppForm::default()
    };
    let errors = apply_step(Step::Household, &mut form, &posted);
    let problems = if errors.is_empty() {
        let principal = web.principal.clone().expect("checked above");
        match service::create_draft(&web.state, &principal, form.clone()).await {
            Ok(d) => return web.redirect(&format!("/applications/{}/edit/members", d.case.id)),
            Err(e) => match outcome_of(&web, e, |_| String::new()) {
                Outcome::Problems(p) => p,
                Outcome::Answer(r) => return r,
            },
        }
    } else {
        Problems::from_fields(&errors, web.lang, |_| String::new())
    };
    let page = step_page(&web, Step::Household, None, 0, &form, &comm, problems);
    render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The case, if the caller may edit it now; otherwise the answer to give.
async fn editable(web: &Web, id: i64) -> Result<CaseDetail, Response> {
    if let Some(r) = need_applicant(web) {
        return Err(r);
    }
    let principal = web.principal.clone().expect("checked above");
    match service::get(&web.state, &principal, id).await {
        Ok(d) if matches!(d.case.status, Status::Draft | Status::NeedsCorrection) => Ok(d),
        Ok(d) => Err(web.redirect(&format!("/applications/{}", d.case.id))),
        Err(e) => Err(match outcome_of(web, e, |_| String::new()) {
            Outcome::Answer(r) => r,
            Outcome::Problems(_) => unavailable(web),
        }),
    }
}

#[handler]
pub async fn edit_form(web: Web, Path((id, step)): Path<(i64, String)>) -> Response {
    let Some(step) = Step::parse(&step) else {
        return not_found(&web);
    };
    let d = match editable(&web, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Ok(comm) = communities(&web).await else {
        return unavailable(&web);
    };
    let mut form = d.form.clone();
    if step == Step::Members && form.members.as_ref().is_none_or(Vec::is_empty) {
        form.members = Some(vec![MemberForm {
            relationship: Some(Relationship::Applicant),
            ..Default::default()
        }]);
    }
    let page = step_page(
        &web,
        step,
        Some(id),
        d.case.version,
        &form,
        &comm,
        Problems::default(),
    );
    render(&web, StatusCode::OK, &page)
}

#[handler]
pub async fn edit_submit(
    web: Web,
    Path((id, step)): Path<(i64, String)>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let Some(step) = Step::parse(&step) else {
        return not_found(&web);
    };
    let posted = Posted(posted);
    if !web.csrf_ok(posted.get(CSRF_FIELD)) {
        return expired_form(&web);
    }
    let d = match editable(&web, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Ok(comm) = communities(&web).await else {
        return unavailable(&web);
    };
    let version = posted
        .get("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(d.case.version);
    let mut form = d.form.clone();
    let errors = apply_step(step, &mut form, &posted);
    let principal = web.principal.clone().expect("checked by editable");
    // A value that could not be read saves nothing: what is stored stays as it was, and
    // the page shows what was typed beside the problem.
    let (saved_version, problems) = if errors.is_empty() {
        match service::update_draft(&web.state, &principal, id, version, form.clone()).await {
            Ok(saved) => (saved.case.version, Problems::default()),
            Err(e) => match outcome_of(&web, e, |_| String::new()) {
                Outcome::Problems(p) => (version, p),
                Outcome::Answer(r) => return r,
            },
        }
    } else {
        (
            version,
            Problems::from_fields(&errors, web.lang, |_| String::new()),
        )
    };
    if problems.is_empty() && !stays(&posted) {
        let to = match step.next() {
            Some(next) => format!("/applications/{id}/edit/{}", next.slug()),
            None => format!("/applications/{id}/review"),
        };
        return web.redirect(&to);
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut page = step_page(&web, step, Some(id), saved_version, &form, &comm, problems);
    page.keep_typed(&posted);
    if status == StatusCode::OK && pressed(&posted).0 == "save" {
        page.notice = Some(t(web.lang, "已保存草稿。", "Draft saved."));
    }
    render(&web, status, &page)
}

/// One line of the answers: label, value.
pub struct Answer {
    pub label: String,
    pub value: String,
}

pub struct Section {
    pub title: String,
    pub href: String,
    pub groups: Vec<(String, Vec<Answer>)>,
}

fn yes(lang: Lang, v: Option<bool>) -> String {
    match v {
        Some(true) => t(lang, "是", "Yes"),
        Some(false) => t(lang, "否", "No"),
        None => String::new(),
    }
}

fn label_of<T: Label>(v: Option<T>, lang: Lang) -> String {
    v.map(|v| v.label(lang).to_string()).unwrap_or_default()
}

/// Everything entered, by step, for the review page and the case page.
pub fn sections(id: i64, form: &AppForm, community: Option<&str>, lang: Lang) -> Vec<Section> {
    let members: Vec<&MemberForm> = form.members.iter().flatten().collect();
    vec![
        household_section(id, form, community, lang),
        members_section(id, &members, lang),
        income_section(id, form, &members, lang),
        housing_section(id, form, lang),
        contact_section(id, form, lang),
    ]
}
fn household_section(id: i64, form: &AppForm, community: Option<&str>, lang: Lang) -> Section {
    let a = |label: String, value: String| Answer { label, value };
    Section {
        title: Step::Household.title(lang).into(),
        href: format!("/applications/{id}/edit/household"),
        groups: vec![(
            String::new(),
            vec![
                a(
                    t(lang, "申请哪类住房", "Which housing"),
                    label_of(form.programme, lang),
                ),
                a(
                    t(lang, "申请人类别", "Who is applying"),
                    label_of(form.applicant_class, lang),
                ),
                a(
                    t(lang, "社区", "Community"),
                    community
                        .map(str::to_string)
                        .or(form.community_code.clone())
                        .unwrap_or_default(),
                ),
                a(
                    t(lang, "该社区是", "That community is"),
                    label_of(form.filed_at, lang),
                ),
            ],
        )],
    }
}
fn members_section(id: i64, members: &[&MemberForm], lang: Lang) -> Section {
    let a = |label: String, value: String| Answer { label, value };
    Section {
        title: Step::Members.title(lang).into(),
        href: format!("/applications/{id}/edit/members"),
        groups: members
            .iter()
            .map(|m| {
                (
                    m.name.clone().unwrap_or_default(),
                    vec![
                        a(
                            t(lang, "与申请人关系", "Relationship"),
                            label_of(m.relationship, lang),
                        ),
                        a(
                            t(lang, "身份证号码", "Identity number"),
                            m.id_number.clone().unwrap_or_default(),
                        ),
                        a(t(lang, "性别", "Sex"), label_of(m.gender, lang)),
                        a(
                            t(lang, "婚姻状况", "Marital status"),
                            label_of(m.marital_status, lang),
                        ),
                        a(
                            t(lang, "户籍", "Hukou"),
                            format!("{} {}", opt(&m.hukou_city), opt(&m.hukou_since))
                                .trim()
                                .to_string(),
                        ),
                    ],
                )
            })
            .collect(),
    }
}
fn income_section(id: i64, form: &AppForm, members: &[&MemberForm], lang: Lang) -> Section {
    let a = |label: String, value: String| Answer { label, value };
    let assets = form.assets.clone().unwrap_or_default();
    let mut income: Vec<(String, Vec<Answer>)> = members
        .iter()
        .map(|m| {
            (
                m.name.clone().unwrap_or_default(),
                vec![
                    a(
                        t(lang, "去年收入（元）", "Income last year (yuan)"),
                        yuan(m.annual_income_fen),
                    ),
                    a(t(lang, "工作单位", "Employer"), opt(&m.employer)),
                    a(
                        t(lang, "低保", "低保"),
                        format!("{} {}", opt(&m.dibao_certificate), opt(&m.dibao_since))
                            .trim()
                            .to_string(),
                    ),
                    a(
                        t(lang, "残疾 / 重大疾病", "Disability / serious illness"),
                        format!(
                            "{} / {}",
                            yes(lang, m.disabled),
                            yes(lang, m.serious_illness)
                        ),
                    ),
                ],
            )
        })
        .collect();
    income.push((
        t(lang, "家庭资产", "Household assets"),
        vec![
            a(
                t(lang, "存款（元）", "Savings (yuan)"),
                yuan(assets.deposits_fen),
            ),
            a(
                t(lang, "车辆（元）", "Vehicles (yuan)"),
                yuan(assets.vehicles_fen),
            ),
            a(
                t(lang, "有价证券（元）", "Shares and bonds (yuan)"),
                yuan(assets.securities_fen),
            ),
        ],
    ));
    Section {
        title: Step::Income.title(lang).into(),
        href: format!("/applications/{id}/edit/income"),
        groups: income,
    }
}
fn housing_section(id: i64, form: &AppForm, lang: Lang) -> Section {
    let a = |label: String, value: String| Answer { label, value };
    let mut housing: Vec<(String, Vec<Answer>)> = form
        .housing
        .iter()
        .flatten()
        .map(|h| {
            (
                opt(&h.address),
                vec![
                    a(
                        t(lang, "建筑面积（平方米）", "Floor area (m²)"),
                        h.area_m2.map(|v| v.to_string()).unwrap_or_default(),
                    ),
                    a(
                        t(lang, "住房性质", "How you hold it"),
                        label_of(h.nature, lang),
                    ),
                ],
            )
        })
        .collect();
    housing.extend(form.transfers.iter().flatten().map(|x| {
        (
            format!(
                "{}{}",
                t(lang, "转让或拆迁：", "Sold or demolished: "),
                opt(&x.address)
            ),
            vec![
                a(
                    t(lang, "建筑面积（平方米）", "Floor area (m²)"),
                    x.area_m2.map(|v| v.to_string()).unwrap_or_default(),
                ),
                a(t(lang, "日期", "Date"), opt(&x.date)),
                a(t(lang, "方式", "What happened"), label_of(x.kind, lang)),
            ],
        )
    }));
    if housing.is_empty() {
        housing.push((
            String::new(),
            vec![a(t(lang, "住房", "Housing"), t(lang, "无", "None"))],
        ));
    }
    Section {
        title: Step::Housing.title(lang).into(),
        href: format!("/applications/{id}/edit/housing"),
        groups: housing,
    }
}
fn contact_section(id: i64, form: &AppForm, lang: Lang) -> Section {
    let a = |label: String, value: String| Answer { label, value };
    let docs = form
        .documents
        .iter()
        .flatten()
        .map(|d| d.label(lang))
        .collect::<Vec<_>>()
        .join(if lang == Lang::Zh { "、" } else { ", " });
    Section {
        title: Step::Contact.title(lang).into(),
        href: format!("/applications/{id}/edit/contact"),
        groups: vec![(
            String::new(),
            vec![
                a(
                    t(lang, "联系手机", "Mobile number"),
                    opt(&form.contact_mobile),
                ),
                a(t(lang, "电子邮箱", "E-mail"), opt(&form.contact_email)),
                a(
                    t(lang, "通知语言", "Language of notices"),
                    label_of(form.language, lang),
                ),
                a(t(lang, "材料", "Papers"), docs),
                a(
                    t(lang, "同意核查", "Agreed to checks"),
                    yes(lang, form.consent_verification),
                ),
                a(
                    t(lang, "声明属实", "Declared true"),
                    yes(lang, form.declaration_truthful),
                ),
            ],
        )],
    }
}

#[derive(Template)]
#[template(path = "review.html", config = "src/web/askama.toml")]
struct ReviewPage {
    c: Chrome,
    id: i64,
    version: i32,
    key: String,
    resubmit: bool,
    problems: Problems,
    sections: Vec<Section>,
}

/// Every field of every step, labelled with its group ("成员 2 · 身份证号码"), so that a
/// problem found at submission says which field it is.
fn all_fields(form: &AppForm, lang: Lang) -> Vec<Field> {
    STEPS
        .iter()
        .flat_map(|&step| fieldsets(step, form, &[], lang))
        .flat_map(|set| {
            let legend = set.legend.clone();
            set.fields.into_iter().map(move |mut f| {
                f.label = format!("{legend} · {}", f.label);
                f
            })
        })
        .collect()
}

fn review_page(web: &Web, d: &CaseDetail, problems: Problems) -> ReviewPage {
    let community = d.community.as_ref().map(|c| c.name.as_str());
    let problems = problems.labelled(&all_fields(&d.form, web.lang));
    ReviewPage {
        c: Chrome::of(web, "核对申请内容", "Check your answers"),
        id: d.case.id,
        version: d.case.version,
        key: super::session::random_hex(16),
        resubmit: d.case.status == Status::NeedsCorrection,
        problems,
        sections: sections(d.case.id, &d.form, community, web.lang),
    }
}

#[handler]
pub async fn review(web: Web, Path(id): Path<i64>) -> Response {
    let d = match editable(&web, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    render(
        &web,
        StatusCode::OK,
        &review_page(&web, &d, Problems::default()),
    )
}

#[handler]
pub async fn submit(
    web: Web,
    Path(id): Path<i64>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted(posted);
    if !web.csrf_ok(posted.get(CSRF_FIELD)) {
        return expired_form(&web);
    }
    if let Some(r) = need_applicant(&web) {
        return r;
    }
    let principal = web.principal.clone().expect("checked above");
    let key = posted
        .get("key")
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .unwrap_or("");
    if key.is_empty() {
        return expired_form(&web);
    }
    let version = posted.get("version").and_then(|v| v.parse().ok());
    let key = IdempotencyKey {
        key: format!("web:{key}"),
        request_hash: format!("web-submit:{id}"),
    };
    match service::submit(&web.state, &principal, id, version, key).await {
        Ok(Submitted::Fresh(r) | Submitted::Replayed(r)) => {
            web.redirect(&format!("/applications/{}/receipt", r.application_id))
        }
        Err(e) => {
            let href =
                |path: &str| format!("/applications/{id}/edit/{}", Step::of_field(path).slug());
            match outcome_of(&web, e, href) {
                Outcome::Problems(p) => match editable(&web, id).await {
                    Ok(d) => render(
                        &web,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &review_page(&web, &d, p),
                    ),
                    Err(r) => r,
                },
                Outcome::Answer(r) => r,
            }
        }
    }
}
