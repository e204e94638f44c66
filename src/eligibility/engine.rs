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

use super::input::{Household, Person, Tenure};
use super::policy::{AreaBasis, PolicyDocument, Rule, RuleKind, Severity};
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

/// Why a rule came out as it did: what the explanation needs besides the numbers.
/// Borrowed from the policy and the household, so judging allocates nothing.
#[derive(Clone, Debug)]
enum Why<'a> {
    OtherClass,
    CityYears { city: &'a str },
    MovedIn { city: &'a str },
    NobodyMovedIn,
    Income,
    NoStandard,
    Area { usable: bool },
    Owned { forbid_public: bool },
    Transfer { since: NaiveDate },
    NotSingle,
    SingleAge,
    Dibao,
    Pension,
    OtherBenefit,
    AnyOf,
}

/// What one rule found, before it is put into words.
#[derive(Clone, Debug)]
pub struct Judged<'a> {
    rule: &'a Rule,
    pub outcome: Outcome,
    value: Option<(i64, Unit)>,
    limit: Option<(i64, Unit)>,
    why: Why<'a>,
    alternatives: Vec<Judged<'a>>,
}

/// The decision in numbers: what `evaluate` computes. `explain` puts it into words.
#[derive(Clone, Debug)]
pub struct Verdict<'a> {
    pub admitted: bool,
    pub eligible: bool,
    pub flagged: bool,
    pub lines: Vec<Judged<'a>>,
}

fn judged<'a>(
    rule: &'a Rule,
    pass: bool,
    value: (i64, Unit),
    limit: (i64, Unit),
    why: Why<'a>,
) -> Judged<'a> {
    Judged {
        rule,
        outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        value: Some(value),
        limit: Some(limit),
        why,
        alternatives: vec![],
    }
}

fn skipped<'a>(rule: &'a Rule, why: Why<'a>) -> Judged<'a> {
    Judged {
        rule,
        outcome: Outcome::NotApplicable,
        value: None,
        limit: None,
        why,
        alternatives: vec![],
    }
}

fn applicant(h: &Household) -> Option<&Person> {
    h.members.iter().find(|m| m.applicant)
}

fn judge<'a>(
    r: &'a Rule,
    h: &Household,
    policy: &PolicyDocument,
    on: NaiveDate,
    facts: &Facts,
) -> Judged<'a> {
    if r.applies_to
        .as_ref()
        .is_some_and(|c| !c.contains(&h.applicant_class))
    {
        return skipped(r, Why::OtherClass);
    }
    match r.kind {
        RuleKind::CityHukouYears => judge_city_hukou_years(r, h, on),
        RuleKind::MovedInYears => judge_moved_in_years(r, h, on),
        RuleKind::IncomePerCapita => judge_income_per_capita(r, h, policy, on),
        RuleKind::AreaPerCapita => judge_area_per_capita(r, h),
        RuleKind::NoOwnedHousing => judge_no_owned_housing(r, h),
        RuleKind::NoRecentTransfer => judge_no_recent_transfer(r, h, on),
        RuleKind::SingleMinAge => judge_single_min_age(r, h, on),
        RuleKind::DibaoMonths => judge_dibao_months(r, h, on),
        RuleKind::PensionMonths => judge_pension_months(r, h),
        RuleKind::NoOtherBenefit => judge_no_other_benefit(r, facts),
        RuleKind::AnyOf => judge_any_of(r, h, policy, on, facts),
    }
}

/// A rule's minimum, 0 when the policy leaves it out.
fn at_least(v: Option<i32>) -> i64 {
    i64::from(v.unwrap_or(0))
}

fn judge_city_hukou_years<'a>(r: &'a Rule, h: &Household, on: NaiveDate) -> Judged<'a> {
    let city = r.city.as_deref().unwrap_or("");
    let best = h
        .members
        .iter()
        .filter(|m| same_city(&m.hukou_city, city))
        .map(|m| whole_years(m.hukou_since, on))
        .max()
        .unwrap_or(0);
    let need = at_least(r.min_years);
    judged(
        r,
        best >= need,
        (best, Unit::Years),
        (need, Unit::Years),
        Why::CityYears { city },
    )
}

fn judge_moved_in_years<'a>(r: &'a Rule, h: &Household, on: NaiveDate) -> Judged<'a> {
    let city = r.city.as_deref().unwrap_or("");
    // The longest-registered member is the one city_hukou_years rests on; this
    // rule is about everyone else who moved hukou into the city.
    let mut longest = i64::MIN;
    let mut shortest_other: Option<i64> = None;
    for years in h
        .members
        .iter()
        .filter(|m| same_city(&m.hukou_city, city))
        .map(|m| whole_years(m.hukou_since, on))
    {
        let other = if years > longest {
            std::mem::replace(&mut longest, years)
        } else {
            years
        };
        if other != i64::MIN {
            shortest_other = Some(shortest_other.map_or(other, |s| s.min(other)));
        }
    }
    let Some(shortest) = shortest_other else {
        return skipped(r, Why::NobodyMovedIn);
    };
    let need = at_least(r.min_years);
    judged(
        r,
        shortest >= need,
        (shortest, Unit::Years),
        (need, Unit::Years),
        Why::MovedIn { city },
    )
}

fn judge_income_per_capita<'a>(
    r: &'a Rule,
    h: &Household,
    policy: &PolicyDocument,
    on: NaiveDate,
) -> Judged<'a> {
    let n = h.members.len().max(1) as i64;
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
                return Judged {
                    rule: r,
                    outcome: Outcome::Fail,
                    value: Some((per_capita_monthly, Unit::Fen)),
                    limit: None,
                    why: Why::NoStandard,
                    alternatives: vec![],
                };
            }
        },
        (None, None) => (0, false),
    };
    judged(
        r,
        pass,
        (per_capita_monthly, Unit::Fen),
        (ceiling_monthly, Unit::Fen),
        Why::Income,
    )
}

fn judge_area_per_capita<'a>(r: &'a Rule, h: &Household) -> Judged<'a> {
    let n = h.members.len().max(1) as i64;
    let counted: i64 = h
        .housing
        .iter()
        .filter(|x| matches!(x.tenure, Tenure::Owned | Tenure::RentedPublic))
        .map(|x| x.area_cm2)
        .sum();
    let max_cm2 = (r.max_m2.unwrap_or(0.0) * 100.0).round() as i64;
    let usable = r.basis == Some(AreaBasis::Usable);
    let ratio = if usable {
        r.usable_ratio_percent.unwrap_or(100)
    } else {
        100
    };
    let total = i128::from(counted) * i128::from(ratio);
    let per_capita = (total / 100 / i128::from(n)) as i64;
    let pass = total <= i128::from(max_cm2) * 100 * i128::from(n);
    judged(
        r,
        pass,
        (per_capita, Unit::Cm2),
        (max_cm2, Unit::Cm2),
        Why::Area { usable },
    )
}

fn judge_no_owned_housing<'a>(r: &'a Rule, h: &Household) -> Judged<'a> {
    let forbid_public = r.forbid_rented_public.unwrap_or(false);
    let count = h
        .housing
        .iter()
        .filter(|x| {
            x.tenure == Tenure::Owned || (forbid_public && x.tenure == Tenure::RentedPublic)
        })
        .count() as i64;
    judged(
        r,
        count == 0,
        (count, Unit::Count),
        (0, Unit::Count),
        Why::Owned { forbid_public },
    )
}

fn judge_no_recent_transfer<'a>(r: &'a Rule, h: &Household, on: NaiveDate) -> Judged<'a> {
    let years = r.years.unwrap_or(0);
    let since = on
        .with_year(on.year() - years)
        .unwrap_or_else(|| on - chrono::Days::new(365 * years.max(0) as u64));
    let count = h.transfers.iter().filter(|t| **t > since).count() as i64;
    judged(
        r,
        count == 0,
        (count, Unit::Count),
        (0, Unit::Count),
        Why::Transfer { since },
    )
}

fn judge_single_min_age<'a>(r: &'a Rule, h: &Household, on: NaiveDate) -> Judged<'a> {
    if h.members.len() != 1 {
        return skipped(r, Why::NotSingle);
    }
    let age = applicant(h).map_or(0, |m| i64::from(m.age_on(on)));
    let need = at_least(r.min_age);
    judged(
        r,
        age >= need,
        (age, Unit::Years),
        (need, Unit::Years),
        Why::SingleAge,
    )
}

fn judge_dibao_months<'a>(r: &'a Rule, h: &Household, on: NaiveDate) -> Judged<'a> {
    let held = h
        .members
        .iter()
        .filter_map(|m| m.dibao_since.map(|since| whole_months(since, on)))
        .max()
        .unwrap_or(0);
    let need = at_least(r.min_months);
    judged(
        r,
        held >= need,
        (held, Unit::Months),
        (need, Unit::Months),
        Why::Dibao,
    )
}

fn judge_pension_months<'a>(r: &'a Rule, h: &Household) -> Judged<'a> {
    let months = applicant(h)
        .and_then(|m| m.pension_months)
        .map_or(0, i64::from);
    let need = at_least(r.min_months);
    judged(
        r,
        months >= need,
        (months, Unit::Months),
        (need, Unit::Months),
        Why::Pension,
    )
}

fn judge_no_other_benefit<'a>(r: &'a Rule, facts: &Facts) -> Judged<'a> {
    let count = facts.other_benefits.len() as i64;
    judged(
        r,
        count == 0,
        (count, Unit::Count),
        (0, Unit::Count),
        Why::OtherBenefit,
    )
}

fn judge_any_of<'a>(
    r: &'a Rule,
    h: &Household,
    policy: &PolicyDocument,
    on: NaiveDate,
    facts: &Facts,
) -> Judged<'a> {
    let alternatives: Vec<Judged<'a>> = r
        .any_of
        .iter()
        .flatten()
        .map(|sub| judge(sub, h, policy, on, facts))
        .collect();
    let pass = alternatives.iter().any(|a| a.outcome == Outcome::Pass);
    Judged {
        rule: r,
        outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        value: None,
        limit: None,
        why: Why::AnyOf,
        alternatives,
    }
}

/// Evaluates `h` against `policy` as of `on`: the outcome in numbers, no text.
pub fn evaluate<'a>(
    h: &Household,
    policy: &'a PolicyDocument,
    on: NaiveDate,
    facts: &Facts,
) -> Verdict<'a> {
    let admitted = policy.admits.contains(&h.applicant_class);
    let lines: Vec<Judged<'a>> = policy
        .rules
        .iter()
        .map(|r| judge(r, h, policy, on, facts))
        .collect();
    let failed = |sev: Severity| {
        lines
            .iter()
            .any(|l| l.outcome == Outcome::Fail && l.rule.severity == sev)
    };
    Verdict {
        admitted,
        eligible: admitted && !failed(Severity::Hard),
        flagged: failed(Severity::Soft),
        lines,
    }
}

fn words(pass: bool) -> (&'static str, &'static str) {
    if pass {
        ("符合", "meets")
    } else {
        ("不符合", "does not meet")
    }
}

/// Puts one judged rule into words.
/// The numbers and words a line's explanation is made of.
struct Words {
    v: i64,
    l: i64,
    /// The value and the limit in words (zh, en).
    vt: (String, String),
    lt: (String, String),
    /// "meets" or "does not meet" (zh, en).
    zw: &'static str,
    ew: &'static str,
}

fn area_message(usable: bool, vt: &(String, String), lt: &(String, String), w: &Words) -> Msg {
    let (bz, be) = if usable {
        ("使用面积", "usable area")
    } else {
        ("建筑面积", "building area")
    };
    Msg::new(
        format!("人均住房{bz} {}，{}不超过 {} 的要求", vt.0, w.zw, lt.0),
        format!(
            "per-capita {be} is {}, which {} the limit of {}",
            vt.1, w.ew, lt.1
        ),
    )
}

fn owned_message(forbid_public: bool, v: i64) -> Msg {
    let (wz, we) = if forbid_public {
        ("自有住房或承租公房", "owned or rented public dwellings")
    } else {
        ("自有住房", "owned dwellings")
    };
    Msg::new(
        format!("家庭有{wz} {v} 处，要求为 0"),
        format!("the household has {v} {we}; none are allowed"),
    )
}

/// The explanation of one line, in both languages.
fn message(j: &Judged<'_>, facts: &Facts, w: &Words) -> Msg {
    let Words {
        v,
        l,
        vt,
        lt,
        zw,
        ew,
    } = w;
    match &j.why {
        Why::OtherClass => Msg::new(
            "该规则不适用于此申请类别",
            "does not apply to this applicant class",
        ),
        Why::CityYears { city } => Msg::new(
            format!("家庭成员{city}户籍最长 {v} 年，{zw}至少 {l} 年的要求"),
            format!(
                "the longest {city} hukou in the household is {v} years, which {ew} the minimum of {l}"
            ),
        ),
        Why::MovedIn { city } => Msg::new(
            format!("其他成员迁入户籍最短 {v} 年，{zw}至少 {l} 年的要求"),
            format!(
                "the most recent move of hukou into {city} was {v} years ago, which {ew} the minimum of {l}"
            ),
        ),
        Why::NobodyMovedIn => Msg::new(
            "没有其他迁入本市户籍的成员",
            "no other member has moved hukou into the city",
        ),
        Why::Income => Msg::new(
            format!("家庭人均月收入 {}，{zw}不高于 {} 的要求", vt.0, lt.0),
            format!(
                "per-capita monthly income is {}, which {ew} the ceiling of {}",
                vt.1, lt.1
            ),
        ),
        Why::NoStandard => Msg::new(
            "政策未规定该日期适用的低保标准，无法判断收入",
            "the policy sets no 低保 standard for that date, so income cannot be judged",
        ),
        Why::Area { usable } => area_message(*usable, vt, lt, w),
        Why::Owned { forbid_public } => owned_message(*forbid_public, *v),
        Why::Transfer { since } => Msg::new(
            format!("{since} 之后转让或拆迁房产 {v} 处，要求为 0"),
            format!("{v} properties transferred or demolished after {since}; none are allowed"),
        ),
        Why::NotSingle => Msg::new("非单人家庭，不适用", "not a one-person household"),
        Why::SingleAge => Msg::new(
            format!("单身申请人年龄 {v} 岁，{zw}年满 {l} 周岁的要求"),
            format!("the single applicant is {v}, which {ew} the minimum age of {l}"),
        ),
        Why::Dibao => Msg::new(
            format!("享受低保 {v} 个月，{zw}至少 {l} 个月的要求"),
            format!("低保 held for {v} months, which {ew} the minimum of {l}"),
        ),
        Why::Pension => Msg::new(
            format!("近 3 年养老保险缴费 {v} 个月，{zw}至少 {l} 个月的要求"),
            format!(
                "{v} months of pension contributions in 3 years, which {ew} the minimum of {l}"
            ),
        ),
        Why::OtherBenefit if *v == 0 => Msg::new(
            "家庭成员未享受其他住房保障",
            "no member holds another housing benefit",
        ),
        Why::OtherBenefit => {
            let list = facts.other_benefits.join(", ");
            Msg::new(
                format!("家庭成员已在其他案件中享受住房保障：{list}"),
                format!("a member already holds a housing benefit in {list}"),
            )
        }
        Why::AnyOf if j.outcome == Outcome::Pass => {
            Msg::new("满足备选条件之一", "meets one of the alternatives")
        }
        Why::AnyOf => Msg::new("备选条件均不满足", "meets none of the alternatives"),
    }
}

fn explain_line(j: &Judged<'_>, facts: &Facts) -> RuleResult {
    let q = |x: Option<(i64, Unit)>| x.map(|(a, u)| Quantity::new(a, u));
    let value = q(j.value);
    let limit = q(j.limit);
    let (v, l) = (j.value.map_or(0, |x| x.0), j.limit.map_or(0, |x| x.0));
    let (zw, ew) = words(j.outcome == Outcome::Pass);
    let vt = value.as_ref().map_or((String::new(), String::new()), |x| {
        (x.zh.clone(), x.en.clone())
    });
    let lt = limit.as_ref().map_or((String::new(), String::new()), |x| {
        (x.zh.clone(), x.en.clone())
    });
    let w = Words {
        v,
        l,
        vt,
        lt,
        zw,
        ew,
    };
    let msg = message(j, facts, &w);
    RuleResult {
        id: j.rule.id.clone(),
        kind: j.rule.kind.as_str().to_string(),
        severity: j.rule.severity.as_str().to_string(),
        outcome: j.outcome,
        value,
        limit,
        zh: msg.zh,
        en: msg.en,
        alternatives: j
            .alternatives
            .iter()
            .map(|a| explain_line(a, facts))
            .collect(),
    }
}

/// Puts a verdict into words: the decision that is stored and shown.
pub fn explain(
    verdict: &Verdict<'_>,
    policy: &PolicyDocument,
    h: &Household,
    on: NaiveDate,
    facts: &Facts,
) -> Decision {
    let class = h.applicant_class.as_str();
    let admitted = verdict.admitted;
    let mut rules = Vec::with_capacity(verdict.lines.len() + 1);
    rules.push(RuleResult {
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
    });
    rules.extend(verdict.lines.iter().map(|j| explain_line(j, facts)));
    Decision {
        policy_version: policy.version.clone(),
        evaluated_on: on,
        eligible: verdict.eligible,
        flagged: verdict.flagged,
        rules,
    }
}

/// Evaluates and explains: what a submission stores.
pub fn decide(h: &Household, policy: &PolicyDocument, on: NaiveDate, facts: &Facts) -> Decision {
    explain(&evaluate(h, policy, on, facts), policy, h, on, facts)
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
