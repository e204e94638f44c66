//! The policy in force in plain words, for people deciding whether to apply (the start
//! page's 办事指南), and a quick anonymous check of a few facts through the real engine.
//! Both read the published policy: nothing here is a second copy of the rules.

use chrono::{Duration, NaiveDate};
use entity::enums::{ApplicantClass, Programme};

use super::engine::{self, Decision, Facts};
use super::input::{Dwelling, Household, Person, Tenure};
use super::policy::{AreaBasis, PolicyDocument, Rule, RuleKind, Severity};
use crate::i18n::Msg;

fn yuan(fen: i64) -> String {
    engine::Quantity::new(fen, engine::Unit::Fen)
        .zh
        .replace(" 元", "")
}

/// One rule as a sentence, saying so when failing it only asks a reviewer to look.
pub fn describe(rule: &Rule, policy: &PolicyDocument, day: NaiveDate) -> Msg {
    let m = sentence(rule, policy, day);
    if rule.severity == Severity::Soft {
        return Msg::new(
            format!("{}（不符时由审核人员核实，不直接拒绝）", m.zh),
            format!(
                "{} (if not, a reviewer checks it; it does not refuse by itself)",
                m.en
            ),
        );
    }
    m
}

/// Alternatives joined with "or".
fn alternatives(rule: &Rule, policy: &PolicyDocument, day: NaiveDate) -> Msg {
    let parts: Vec<Msg> = rule
        .any_of
        .iter()
        .flatten()
        .map(|r| describe(r, policy, day))
        .collect();
    Msg::new(
        parts
            .iter()
            .map(|p| p.zh.clone())
            .collect::<Vec<_>>()
            .join("，或"),
        parts
            .iter()
            .map(|p| p.en.clone())
            .collect::<Vec<_>>()
            .join(", or "),
    )
}

fn sentence(rule: &Rule, policy: &PolicyDocument, day: NaiveDate) -> Msg {
    let city = rule.city.clone().unwrap_or_else(|| "郑州".into());
    let years = rule.min_years.unwrap_or(0);
    let months = rule.min_months.unwrap_or(0);
    match rule.kind {
        RuleKind::CityHukouYears => Msg::new(
            format!("家庭中至少一人具有{city}户籍满 {years} 年"),
            format!("at least one member has held {city} hukou for {years} years or more"),
        ),
        RuleKind::MovedInYears => Msg::new(
            format!("其他成员户籍迁入{city}满 {years} 年"),
            format!("the other members moved their hukou to {city} at least {years} years ago"),
        ),
        RuleKind::IncomePerCapita => {
            let ceiling = rule.ceiling_fen.or_else(|| {
                let dibao = policy.dibao_on(day)?;
                Some(dibao * rule.dibao_multiple_percent? / 100)
            });
            match ceiling {
                Some(c) => Msg::new(
                    format!("家庭人均月收入不超过 {} 元", yuan(c)),
                    format!("monthly income per person is at most {} yuan", yuan(c)),
                ),
                None => Msg::new(
                    "家庭人均月收入不超过标准",
                    "monthly income per person is within the limit",
                ),
            }
        }
        RuleKind::AreaPerCapita => {
            let max = rule.max_m2.unwrap_or(0.0);
            let (zh, en) = match rule.basis.unwrap_or(AreaBasis::Building) {
                AreaBasis::Building => ("建筑面积", "building area"),
                AreaBasis::Usable => ("使用面积", "usable area"),
            };
            Msg::new(
                format!("家庭人均住房{zh}不超过 {max} 平方米"),
                format!("housing per person is at most {max} m² of {en}"),
            )
        }
        RuleKind::NoOwnedHousing => {
            if rule.forbid_rented_public == Some(true) {
                Msg::new(
                    "家庭成员在本市无自有住房，也未承租公房",
                    "no member owns housing in the city or rents public housing",
                )
            } else {
                Msg::new(
                    "家庭成员在本市无自有住房",
                    "no member owns housing in the city",
                )
            }
        }
        RuleKind::NoRecentTransfer => {
            let y = rule.years.unwrap_or(5);
            Msg::new(
                format!("申请前 {y} 年内未转让或拆迁住房"),
                format!(
                    "no housing sold, given away or demolished in the {y} years before applying"
                ),
            )
        }
        RuleKind::SingleMinAge => {
            let a = rule.min_age.unwrap_or(0);
            Msg::new(
                format!("单身申请的，申请人年满 {a} 周岁"),
                format!("a person applying alone is at least {a}"),
            )
        }
        RuleKind::DibaoMonths => Msg::new(
            format!("享受最低生活保障（低保）满 {months} 个月"),
            format!("has received the minimum living allowance (低保) for {months} months"),
        ),
        RuleKind::PensionMonths => Msg::new(
            format!("申请人近三年缴纳养老保险满 {months} 个月"),
            format!("the applicant paid pension contributions for {months} of the last 36 months"),
        ),
        RuleKind::NoOtherBenefit => Msg::new(
            "家庭成员未享受其他住房保障",
            "no member already receives another housing benefit",
        ),
        RuleKind::AnyOf => alternatives(rule, policy, day),
    }
}

/// A few facts a family knows by heart, for the anonymous check. Nothing is stored.
#[derive(Clone, Debug)]
pub struct QuickFacts {
    pub programme: Programme,
    pub applicant_class: ApplicantClass,
    pub household_size: u32,
    pub applicant_age: u32,
    pub hukou_city: String,
    pub hukou_years: u32,
    /// The whole household's income in a year.
    pub annual_income_fen: i64,
    /// Housing the household owns or rents from the state, in hundredths of a m².
    pub housing_area_cm2: i64,
    pub tenure: Tenure,
    pub dibao_months: Option<u32>,
    pub pension_months: Option<i32>,
    pub recent_transfer: bool,
}

/// The household the engine sees for these facts: income shared equally, every member
/// with the same hukou, the applicant of the given age.
pub fn household_of(q: &QuickFacts, day: NaiveDate) -> Household {
    let n = q.household_size.clamp(1, 30) as i64;
    let share = q.annual_income_fen / n;
    let years_ago = |y: u32| day - Duration::days(i64::from(y) * 366);
    let members = (0..n)
        .map(|i| Person {
            applicant: i == 0,
            birth_date: if i == 0 {
                years_ago(q.applicant_age)
            } else {
                years_ago(30)
            },
            hukou_city: q.hukou_city.clone(),
            hukou_since: years_ago(q.hukou_years),
            annual_income_fen: if i == 0 {
                q.annual_income_fen - share * (n - 1)
            } else {
                share
            },
            dibao_since: q
                .dibao_months
                .filter(|m| *m > 0 && i == 0)
                .map(|m| day - Duration::days(i64::from(m) * 31)),
            pension_months: q.pension_months.filter(|_| i == 0),
        })
        .collect();
    Household {
        programme: q.programme,
        applicant_class: q.applicant_class,
        members,
        housing: if q.housing_area_cm2 > 0 {
            vec![Dwelling {
                area_cm2: q.housing_area_cm2,
                tenure: q.tenure,
            }]
        } else {
            vec![]
        },
        transfers: if q.recent_transfer {
            vec![day - Duration::days(365)]
        } else {
            vec![]
        },
    }
}

/// What the policy would decide for these facts.
pub fn quick_check(q: &QuickFacts, policy: &PolicyDocument, day: NaiveDate) -> Decision {
    engine::decide(&household_of(q, day), policy, day, &Facts::default())
}
