//! The eligibility engine: a pure function of a checked household, a policy, the
//! evaluation date and the facts only the database knows (other benefits). No I/O.
//!
//! Money is integer fen and area integer hundredths of a m². Limits are compared
//! exactly, without dividing: per-capita monthly income `total_annual / 12 / size ≤
//! ceiling` is tested as `total_annual ≤ ceiling × 12 × size` (a multiple of the 低保
//! standard as `total_annual × 100 ≤ standard × multiple% × 12 × size`), so a household
//! exactly at the limit passes and one fen over fails. The per-capita figures shown to
//! people are rounded down to the fen (or 0.01 m²).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::policy::{AreaBasis, PolicyDocument, Rule, RuleKind, Severity};
use crate::applications::domain::{Household, Member};
use crate::applications::form::{HousingNature, Relationship};
use crate::i18n::Msg;

/// Facts the engine cannot see in the form.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Numbers of other cases that hold a housing benefit and share a member.
    pub other_benefits: Vec<String>,
}

/// The unit of a value or limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Money in fen.
    Fen,
    /// Area in hundredths of a m².
    Cm2,
    Years,
    Months,
    Count,
}

/// A number with its unit and its display text in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantity {
    pub amount: i64,
    pub unit: Unit,
    pub zh: String,
    pub en: String,
}

/// `1234567` → `1,234,567`.
fn grouped(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

impl Quantity {
    pub fn new(amount: i64, unit: Unit) -> Quantity {
        let two = |v: i64| format!("{}.{:02}", grouped(v / 100), (v % 100).abs());
        let (zh, en) = match unit {
            Unit::Fen => (
                format!("{} 元", two(amount)),
                format!("{} yuan", two(amount)),
            ),
            Unit::Cm2 => (
                format!("{} 平方米", two(amount)),
                format!("{} m²", two(amount)),
            ),
            Unit::Years => (format!("{amount} 年"), format!("{amount} years")),
            Unit::Months => (format!("{amount} 个月"), format!("{amount} months")),
            Unit::Count => (format!("{amount} 项"), format!("{amount}")),
        };
        Quantity {
            amount,
            unit,
            zh,
            en,
        }
    }
}

/// What one rule found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    NotApplicable,
}

/// One line of a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleResult {
    pub id: String,
    pub kind: String,
    pub severity: String,
    pub outcome: Outcome,
    pub value: Option<Quantity>,
    pub limit: Option<Quantity>,
    pub zh: String,
    pub en: String,
    /// For `any_of`: what each alternative found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<RuleResult>,
}

/// The whole decision, stored with the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub policy_version: String,
    pub evaluated_on: NaiveDate,
    pub eligible: bool,
    /// A soft rule failed: the reviewer must look.
    pub flagged: bool,
    pub rules: Vec<RuleResult>,
}

/// Whole years from `from` to `to` (anniversaries passed).
pub fn whole_years(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut y = i64::from(to.year() - from.year());
    if (to.month(), to.day()) < (from.month(), from.day()) {
        y -= 1;
    }
    y.max(0)
}

/// Whole months from `from` to `to`.
pub fn whole_months(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut m =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    if to.day() < from.day() {
        m -= 1;
    }
    m.max(0)
}

fn same_city(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('市') == b.trim().trim_end_matches('市')
}

struct Line {
    outcome: Outcome,
    value: Option<Quantity>,
    limit: Option<Quantity>,
    msg: Msg,
    alternatives: Vec<RuleResult>,
}

fn line(pass: bool, value: Quantity, limit: Quantity, msg: Msg) -> Line {
    Line {
        outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        value: Some(value),
        limit: Some(limit),
        msg,
        alternatives: vec![],
    }
}

fn not_applicable(msg: Msg) -> Line {
    Line {
        outcome: Outcome::NotApplicable,
        value: None,
        limit: None,
        msg,
        alternatives: vec![],
    }
}

fn cmp_word(pass: bool) -> (&'static str, &'static str) {
    if pass {
        ("符合", "meets")
    } else {
        ("不符合", "does not meet")
    }
}

fn applicant(h: &Household) -> Option<&Member> {
    h.members
        .iter()
        .find(|m| m.relationship == Relationship::Applicant)
}

fn evaluate_rule(
    r: &Rule,
    h: &Household,
    policy: &PolicyDocument,
    on: NaiveDate,
    facts: &Facts,
) -> Line {
    if r.applies_to
        .as_ref()
        .is_some_and(|c| !c.contains(&h.applicant_class))
    {
        return not_applicable(Msg::new(
            "该规则不适用于此申请类别",
            "does not apply to this applicant class",
        ));
    }
    let n = h.members.len().max(1) as i64;
    let min = |v: Option<i32>| i64::from(v.unwrap_or(0));
    match r.kind {
        RuleKind::CityHukouYears => {
            let city = r.city.as_deref().unwrap_or("");
            let best = h
                .members
                .iter()
                .filter(|m| same_city(&m.hukou_city, city))
                .map(|m| whole_years(m.hukou_since, on))
                .max()
                .unwrap_or(0);
            let need = min(r.min_years);
            let pass = best >= need;
            let (zw, ew) = cmp_word(pass);
            line(
                pass,
                Quantity::new(best, Unit::Years),
                Quantity::new(need, Unit::Years),
                Msg::new(
                    format!("家庭成员{city}户籍最长 {best} 年，{zw}至少 {need} 年的要求"),
                    format!(
                        "the longest {city} hukou in the household is {best} years, which {ew} the minimum of {need}"
                    ),
                ),
            )
        }
        RuleKind::MovedInYears => {
            let city = r.city.as_deref().unwrap_or("");
            let mut local: Vec<i64> = h
                .members
                .iter()
                .filter(|m| same_city(&m.hukou_city, city))
                .map(|m| whole_years(m.hukou_since, on))
                .collect();
            local.sort_unstable();
            // The longest-registered member is the one the city_hukou_years rule rests on;
            // this rule is about everyone else who moved in.
            local.pop();
            let Some(&shortest) = local.first() else {
                return not_applicable(Msg::new(
                    "没有其他迁入本市户籍的成员",
                    "no other member has moved hukou into the city",
                ));
            };
            let need = min(r.min_years);
            let pass = shortest >= need;
            let (zw, ew) = cmp_word(pass);
            line(
                pass,
                Quantity::new(shortest, Unit::Years),
                Quantity::new(need, Unit::Years),
                Msg::new(
                    format!("其他成员迁入户籍最短 {shortest} 年，{zw}至少 {need} 年的要求"),
                    format!(
                        "the most recent move of hukou into {city} was {shortest} years ago, which {ew} the minimum of {need}"
                    ),
                ),
            )
        }
        RuleKind::IncomePerCapita => {
            let total: i128 = h
                .members
                .iter()
                .map(|m| i128::from(m.annual_income_fen))
                .sum();
            let per_capita_monthly = (total / 12 / i128::from(n)) as i64;
            let (ceiling_monthly, pass) = match (r.ceiling_fen, r.dibao_multiple_percent) {
                (Some(c), _) => (c, total <= i128::from(c) * 12 * i128::from(n)),
                (None, Some(pct)) => match policy.dibao_on(on) {
                    Some(std) => (
                        (i128::from(std) * i128::from(pct) / 100) as i64,
                        total * 100 <= i128::from(std) * i128::from(pct) * 12 * i128::from(n),
                    ),
                    None => {
                        return Line {
                            outcome: Outcome::Fail,
                            value: Some(Quantity::new(per_capita_monthly, Unit::Fen)),
                            limit: None,
                            msg: Msg::new(
                                format!("政策未规定 {on} 适用的低保标准，无法判断收入"),
                                format!(
                                    "the policy sets no 低保 standard for {on}, so income cannot be judged"
                                ),
                            ),
                            alternatives: vec![],
                        };
                    }
                },
                (None, None) => (0, false),
            };
            let (zw, ew) = cmp_word(pass);
            let v = Quantity::new(per_capita_monthly, Unit::Fen);
            let l = Quantity::new(ceiling_monthly, Unit::Fen);
            let msg = Msg::new(
                format!("家庭人均月收入 {}，{zw}不高于 {} 的要求", v.zh, l.zh),
                format!(
                    "per-capita monthly income is {}, which {ew} the ceiling of {}",
                    v.en, l.en
                ),
            );
            line(pass, v, l, msg)
        }
        RuleKind::AreaPerCapita => {
            let counted: i64 = h
                .housing
                .iter()
                .filter(|x| matches!(x.nature, HousingNature::Owned | HousingNature::RentedPublic))
                .map(|x| x.area_cm2)
                .sum();
            let max_cm2 = (r.max_m2.unwrap_or(0.0) * 100.0).round() as i64;
            let (total, basis_zh, basis_en) = match r.basis.unwrap_or(AreaBasis::Building) {
                AreaBasis::Building => (i128::from(counted) * 100, "建筑面积", "building area"),
                AreaBasis::Usable => (
                    i128::from(counted) * i128::from(r.usable_ratio_percent.unwrap_or(100)),
                    "使用面积",
                    "usable area",
                ),
            };
            let per_capita = (total / 100 / i128::from(n)) as i64;
            let pass = total <= i128::from(max_cm2) * 100 * i128::from(n);
            let (zw, ew) = cmp_word(pass);
            let v = Quantity::new(per_capita, Unit::Cm2);
            let l = Quantity::new(max_cm2, Unit::Cm2);
            let msg = Msg::new(
                format!("人均住房{basis_zh} {}，{zw}不超过 {} 的要求", v.zh, l.zh),
                format!(
                    "per-capita {basis_en} is {}, which {ew} the limit of {}",
                    v.en, l.en
                ),
            );
            line(pass, v, l, msg)
        }
        RuleKind::NoOwnedHousing => {
            let forbid_public = r.forbid_rented_public.unwrap_or(false);
            let count = h
                .housing
                .iter()
                .filter(|x| {
                    x.nature == HousingNature::Owned
                        || (forbid_public && x.nature == HousingNature::RentedPublic)
                })
                .count() as i64;
            let pass = count == 0;
            let what = if forbid_public {
                ("自有住房或承租公房", "owned or rented public dwellings")
            } else {
                ("自有住房", "owned dwellings")
            };
            line(
                pass,
                Quantity::new(count, Unit::Count),
                Quantity::new(0, Unit::Count),
                Msg::new(
                    format!("家庭有{} {count} 处，要求为 0", what.0),
                    format!("the household has {count} {}; none are allowed", what.1),
                ),
            )
        }
        RuleKind::NoRecentTransfer => {
            let years = r.years.unwrap_or(0);
            let since = on
                .with_year(on.year() - years)
                .unwrap_or(on - chrono::Days::new(365 * years as u64));
            let count = h.transfers.iter().filter(|t| t.date > since).count() as i64;
            line(
                count == 0,
                Quantity::new(count, Unit::Count),
                Quantity::new(0, Unit::Count),
                Msg::new(
                    format!("{since} 之后转让或拆迁房产 {count} 处，要求为 0"),
                    format!(
                        "{count} properties transferred or demolished after {since}; none are allowed"
                    ),
                ),
            )
        }
        RuleKind::SingleMinAge => {
            if h.members.len() != 1 {
                return not_applicable(Msg::new(
                    "非单人家庭，不适用",
                    "not a one-person household",
                ));
            }
            let age = applicant(h).map_or(0, |m| i64::from(m.age_on(on)));
            let need = min(r.min_age);
            let pass = age >= need;
            let (zw, ew) = cmp_word(pass);
            line(
                pass,
                Quantity::new(age, Unit::Years),
                Quantity::new(need, Unit::Years),
                Msg::new(
                    format!("单身申请人年龄 {age} 岁，{zw}年满 {need} 周岁的要求"),
                    format!("the single applicant is {age}, which {ew} the minimum age of {need}"),
                ),
            )
        }
        RuleKind::DibaoMonths => {
            let held = h
                .members
                .iter()
                .filter_map(|m| m.dibao.as_ref().map(|(_, since)| whole_months(*since, on)))
                .max()
                .unwrap_or(0);
            let need = min(r.min_months);
            let pass = held >= need;
            let (zw, ew) = cmp_word(pass);
            line(
                pass,
                Quantity::new(held, Unit::Months),
                Quantity::new(need, Unit::Months),
                Msg::new(
                    format!("享受低保 {held} 个月，{zw}至少 {need} 个月的要求"),
                    format!("低保 held for {held} months, which {ew} the minimum of {need}"),
                ),
            )
        }
        RuleKind::PensionMonths => {
            let months = applicant(h)
                .and_then(|m| m.pension_months)
                .map_or(0, i64::from);
            let need = min(r.min_months);
            let pass = months >= need;
            let (zw, ew) = cmp_word(pass);
            line(
                pass,
                Quantity::new(months, Unit::Months),
                Quantity::new(need, Unit::Months),
                Msg::new(
                    format!("近 3 年养老保险缴费 {months} 个月，{zw}至少 {need} 个月的要求"),
                    format!(
                        "{months} months of pension contributions in 3 years, which {ew} the minimum of {need}"
                    ),
                ),
            )
        }
        RuleKind::NoOtherBenefit => {
            let count = facts.other_benefits.len() as i64;
            let list = facts.other_benefits.join(", ");
            let msg = if count == 0 {
                Msg::new(
                    "家庭成员未享受其他住房保障",
                    "no member holds another housing benefit",
                )
            } else {
                Msg::new(
                    format!("家庭成员已在其他案件中享受住房保障：{list}"),
                    format!("a member already holds a housing benefit in {list}"),
                )
            };
            line(
                count == 0,
                Quantity::new(count, Unit::Count),
                Quantity::new(0, Unit::Count),
                msg,
            )
        }
        RuleKind::AnyOf => {
            let alternatives: Vec<RuleResult> = r
                .any_of
                .iter()
                .flatten()
                .map(|sub| result_of(sub, h, policy, on, facts))
                .collect();
            let pass = alternatives.iter().any(|a| a.outcome == Outcome::Pass);
            let msg = if pass {
                Msg::new("满足备选条件之一", "meets one of the alternatives")
            } else {
                Msg::new("备选条件均不满足", "meets none of the alternatives")
            };
            Line {
                outcome: if pass { Outcome::Pass } else { Outcome::Fail },
                value: None,
                limit: None,
                msg,
                alternatives,
            }
        }
    }
}

fn result_of(
    r: &Rule,
    h: &Household,
    policy: &PolicyDocument,
    on: NaiveDate,
    facts: &Facts,
) -> RuleResult {
    let l = evaluate_rule(r, h, policy, on, facts);
    RuleResult {
        id: r.id.clone(),
        kind: r.kind.as_str().to_string(),
        severity: r.severity.as_str().to_string(),
        outcome: l.outcome,
        value: l.value,
        limit: l.limit,
        zh: l.msg.zh,
        en: l.msg.en,
        alternatives: l.alternatives,
    }
}

/// Evaluates `h` against `policy` as of `on`.
pub fn evaluate(h: &Household, policy: &PolicyDocument, on: NaiveDate, facts: &Facts) -> Decision {
    let admitted = policy.admits.contains(&h.applicant_class);
    let class = h.applicant_class.as_str();
    let mut rules = vec![RuleResult {
        id: "admits_class".into(),
        kind: "admits_class".into(),
        severity: Severity::Hard.as_str().into(),
        outcome: if admitted {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        value: None,
        limit: None,
        zh: if admitted {
            format!("该项目接纳此类申请人（{class}）")
        } else {
            format!("该项目不接纳此类申请人（{class}）")
        },
        en: if admitted {
            format!("the programme admits this applicant class ({class})")
        } else {
            format!("the programme does not admit this applicant class ({class})")
        },
        alternatives: vec![],
    }];
    rules.extend(
        policy
            .rules
            .iter()
            .map(|r| result_of(r, h, policy, on, facts)),
    );
    let failed = |sev: Severity| {
        rules
            .iter()
            .any(|r| r.outcome == Outcome::Fail && r.severity == sev.as_str())
    };
    Decision {
        policy_version: policy.version.clone(),
        evaluated_on: on,
        eligible: !failed(Severity::Hard),
        flagged: failed(Severity::Soft),
        rules,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
