//! A housing policy as data: a versioned document per programme with the applicant
//! classes it admits and parameterised rules. The same structure is read from the
//! shipped TOML files, accepted as JSON by the publish and simulate endpoints, and
//! stored; `check` validates one and answers every problem with its path.

use chrono::NaiveDate;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::i18n::Msg;
use crate::values::str_enum;
use entity::enums::{ApplicantClass, Programme};

str_enum! {
    /// What a failing rule does.
    Severity {
        /// Failing makes the case ineligible.
        Hard = "hard",
        /// Failing flags the case for the reviewer; it stays eligible.
        Soft = "soft",
    }
}

str_enum! {
    /// The kinds of rule the engine knows.
    RuleKind {
        /// At least one member has had hukou in `city` for `min_years`.
        CityHukouYears = "city_hukou_years",
        /// Every other member with hukou in `city` moved it in at least `min_years` ago.
        MovedInYears = "moved_in_years",
        /// Per-capita monthly income at most `ceiling_fen`, or `dibao_multiple` × the 低保 standard.
        IncomePerCapita = "income_per_capita",
        /// Per-capita housing area (owned or rented public) at most `max_m2`, on `basis`.
        AreaPerCapita = "area_per_capita",
        /// No member owns housing (and, with `forbid_rented_public`, none rents public housing).
        NoOwnedHousing = "no_owned_housing",
        /// No property transferred or demolished within `years` before submission.
        NoRecentTransfer = "no_recent_transfer",
        /// A one-person household's applicant is at least `min_age`.
        SingleMinAge = "single_min_age",
        /// A member has held 低保 for at least `min_months`.
        DibaoMonths = "dibao_months",
        /// The applicant has at least `min_months` of pension contributions.
        PensionMonths = "pension_months",
        /// No member is in another case that already holds a housing benefit.
        NoOtherBenefit = "no_other_benefit",
        /// Passes when any rule in `any_of` passes.
        AnyOf = "any_of",
    }
}

str_enum! {
    /// Which area the per-capita limit is measured in.
    AreaBasis {
        /// 建筑面积: building area, as declared.
        Building = "building",
        /// 使用面积: usable area, `usable_ratio_percent` of the building area.
        Usable = "usable",
    }
}

/// One rule and its parameters; which parameters apply depends on `kind`.
#[derive(Object, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "PolicyRule")]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, unique in the policy, e.g. `hukou_years`.
    #[oai(validator(min_length = 1, max_length = 48))]
    pub id: String,
    /// The kind of rule.
    pub kind: RuleKind,
    /// `hard` (default) or `soft`.
    #[oai(default = "hard")]
    #[serde(default = "hard")]
    pub severity: Severity,
    /// Applicant classes the rule applies to; all classes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<Vec<ApplicantClass>>,
    /// Citation of the policy clause this rule implements.
    #[oai(validator(max_length = 500))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// City for hukou rules, e.g. 郑州.
    #[oai(validator(max_length = 50))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Minimum whole years (hukou rules, transfers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_years: Option<i32>,
    /// Window in years (no_recent_transfer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i32>,
    /// Absolute per-capita monthly income ceiling in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_fen: Option<i64>,
    /// Ceiling as a multiple of the 低保 standard, in hundredths (500 = 5×).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dibao_multiple_percent: Option<i64>,
    /// Per-capita area ceiling in m² (two decimals at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_m2: Option<f64>,
    /// Area basis for area_per_capita (default building).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<AreaBasis>,
    /// Usable area as a percentage of building area, for the usable basis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_ratio_percent: Option<i64>,
    /// Also refuse households renting public housing (no_owned_housing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbid_rented_public: Option<bool>,
    /// Minimum age in years (single_min_age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<i32>,
    /// Minimum months (dibao_months, pension_months).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_months: Option<i32>,
    /// Alternatives (any_of): passes when one of them passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<Rule>>,
}

fn hard() -> Severity {
    Severity::Hard
}

/// The 低保 standard from a date on.
#[derive(Object, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "DibaoPeriod")]
#[serde(deny_unknown_fields)]
pub struct DibaoPeriod {
    /// First day this standard applies.
    pub from: NaiveDate,
    /// Monthly standard per person, in fen.
    pub monthly_fen: i64,
}

/// Stage deadlines in calendar days.
#[derive(Object, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "PolicyDeadlines")]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// Days to accept an eligible case (受理).
    #[oai(default = "default_days")]
    #[serde(default = "default_days")]
    pub acceptance_days: i32,
    /// Days for first review (初审).
    #[oai(default = "default_days")]
    #[serde(default = "default_days")]
    pub first_review_days: i32,
    /// Length of the public notice (公示).
    #[oai(default = "default_days")]
    #[serde(default = "default_days")]
    pub notice_days: i32,
    /// Days to investigate an objection.
    #[oai(default = "default_days")]
    #[serde(default = "default_days")]
    pub objection_days: i32,
    /// Working days after a refusal in which the household may ask for 复核.
    #[oai(default = "default_appeal_days")]
    #[serde(default = "default_appeal_days")]
    pub appeal_window_working_days: i32,
    /// Working days in which a 复核 is answered in writing.
    #[oai(default = "default_appeal_days")]
    #[serde(default = "default_appeal_days")]
    pub appeal_answer_working_days: i32,
    /// Days before the annual re-verification (年审) is due that the household is reminded.
    #[oai(default = "default_reverification_days")]
    #[serde(default = "default_reverification_days")]
    pub reverification_reminder_days: i32,
    /// Days after it was due that a household that has not declared is reminded again
    /// and then leaves the programme.
    #[oai(default = "default_reverification_days")]
    #[serde(default = "default_reverification_days")]
    pub reverification_grace_days: i32,
}

fn default_reverification_days() -> i32 {
    30
}

fn default_days() -> i32 {
    10
}

fn default_appeal_days() -> i32 {
    15
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            acceptance_days: 10,
            first_review_days: 10,
            notice_days: 10,
            objection_days: 10,
            appeal_window_working_days: 15,
            appeal_answer_working_days: 15,
            reverification_reminder_days: 30,
            reverification_grace_days: 30,
        }
    }
}

/// A policy version for one programme.
#[derive(Object, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "PolicyDocument")]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Programme the policy governs.
    pub programme: Programme,
    /// Unique version label, e.g. `zz-gzf-2015.1`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub version: String,
    /// Title for people.
    #[oai(validator(max_length = 200))]
    pub title: String,
    /// Applications submitted on or after this date (Zhengzhou time) use this version.
    pub effective_from: NaiveDate,
    /// Applicant classes the programme admits.
    pub admits: Vec<ApplicantClass>,
    /// The 低保 standard over time (needed by income rules given as a multiple).
    #[oai(default)]
    #[serde(default)]
    pub dibao_standard: Vec<DibaoPeriod>,
    /// Stage deadlines.
    #[oai(default)]
    #[serde(default)]
    pub deadlines: Deadlines,
    /// Whoever seals a report-up batch may not have passed a case in it.
    #[oai(default = "yes")]
    #[serde(default = "yes")]
    pub maker_checker: bool,
    /// How allocation rounds score households and what declining an offer costs.
    #[oai(default)]
    #[serde(default)]
    pub allocation: AllocationRules,
    /// The rules, evaluated in order.
    pub rules: Vec<Rule>,
}

/// Points for ranking by score (评分), and the penalty for declining an offer. Ties in
/// score go to the earlier waiting-list number.
#[derive(Object, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[oai(rename = "AllocationRules")]
#[serde(deny_unknown_fields)]
pub struct AllocationRules {
    /// Points for each member aged 60 or over on the day of ranking.
    #[oai(default = "five")]
    #[serde(default = "five")]
    pub points_per_member_over_60: i32,
    /// Points for each member with a disability.
    #[oai(default = "ten")]
    #[serde(default = "ten")]
    pub points_per_disabled_member: i32,
    /// Points for each member with a serious illness.
    #[oai(default = "ten")]
    #[serde(default = "ten")]
    pub points_per_seriously_ill_member: i32,
    /// Points for each full month on the waiting list.
    #[oai(default = "one")]
    #[serde(default = "one")]
    pub points_per_month_waiting: i32,
    /// `end_of_list`: a household that declines gets a new waiting-list number at the end;
    /// `bar`: it keeps its number but is offered nothing for `decline_bar_months`.
    #[oai(default = "end_of_list")]
    #[serde(default = "end_of_list")]
    pub decline_penalty: DeclinePenalty,
    /// Months a household that declines is barred, when the penalty is `bar`.
    #[oai(
        default = "twenty_four",
        validator(minimum(value = "0"), maximum(value = "120"))
    )]
    #[serde(default = "twenty_four")]
    pub decline_bar_months: i32,
}

/// What declining an offer costs.
#[derive(poem_openapi::Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeclinePenalty {
    /// A new waiting-list number at the end of the list.
    EndOfList,
    /// No offer for `decline_bar_months`.
    Bar,
}

fn five() -> i32 {
    5
}
fn ten() -> i32 {
    10
}
fn one() -> i32 {
    1
}
fn twenty_four() -> i32 {
    24
}
fn end_of_list() -> DeclinePenalty {
    DeclinePenalty::EndOfList
}

impl Default for AllocationRules {
    fn default() -> Self {
        AllocationRules {
            points_per_member_over_60: five(),
            points_per_disabled_member: ten(),
            points_per_seriously_ill_member: ten(),
            points_per_month_waiting: one(),
            decline_penalty: end_of_list(),
            decline_bar_months: twenty_four(),
        }
    }
}

fn yes() -> bool {
    true
}

fn err(field: String, code: &'static str, zh: &str, en: &str) -> FieldError {
    FieldError::new(field, code, Msg::new(zh, en))
}

fn need_non_negative(errors: &mut Vec<FieldError>, field: String, v: Option<i64>, required: bool) {
    match v {
        None if required => errors.push(FieldError::required(field)),
        Some(n) if n < 0 => errors.push(err(
            field,
            "negative_limit",
            "限值不能为负数",
            "must not be negative",
        )),
        _ => {}
    }
}

/// Parameters a rule of its kind does not take.
fn check_parameters(errors: &mut Vec<FieldError>, path: &str, r: &Rule) {
    use RuleKind as K;
    let p = |f: &str| format!("{path}.{f}");
    let present: [(&str, bool); 12] = [
        ("city", r.city.is_some()),
        ("min_years", r.min_years.is_some()),
        ("years", r.years.is_some()),
        ("ceiling_fen", r.ceiling_fen.is_some()),
        ("dibao_multiple_percent", r.dibao_multiple_percent.is_some()),
        ("max_m2", r.max_m2.is_some()),
        ("basis", r.basis.is_some()),
        ("usable_ratio_percent", r.usable_ratio_percent.is_some()),
        ("forbid_rented_public", r.forbid_rented_public.is_some()),
        ("min_age", r.min_age.is_some()),
        ("min_months", r.min_months.is_some()),
        ("any_of", r.any_of.is_some()),
    ];
    let allowed: &[&str] = match r.kind {
        K::CityHukouYears | K::MovedInYears => &["city", "min_years"],
        K::IncomePerCapita => &["ceiling_fen", "dibao_multiple_percent"],
        K::AreaPerCapita => &["max_m2", "basis", "usable_ratio_percent"],
        K::NoOwnedHousing => &["forbid_rented_public"],
        K::NoRecentTransfer => &["years"],
        K::SingleMinAge => &["min_age"],
        K::DibaoMonths | K::PensionMonths => &["min_months"],
        K::NoOtherBenefit => &[],
        K::AnyOf => &["any_of"],
    };
    for (name, is_present) in present {
        if is_present && !allowed.contains(&name) {
            errors.push(err(
                p(name),
                "unexpected_parameter",
                "该类规则不使用此参数",
                "this kind of rule takes no such parameter",
            ));
        }
    }
}

/// An area rule's limit and basis.
fn check_area(errors: &mut Vec<FieldError>, path: &str, r: &Rule) {
    let p = |f: &str| format!("{path}.{f}");
    match r.max_m2 {
        None => errors.push(FieldError::required(p("max_m2"))),
        Some(v) if !v.is_finite() || v < 0.0 => errors.push(err(
            p("max_m2"),
            "negative_limit",
            "限值不能为负数",
            "must not be negative",
        )),
        Some(v) if ((v * 100.0).round() - v * 100.0).abs() > 1e-6 => errors.push(err(
            p("max_m2"),
            "too_precise",
            "最多两位小数",
            "use at most two decimals",
        )),
        _ => {}
    }
    if r.basis == Some(AreaBasis::Usable) {
        match r.usable_ratio_percent {
            Some(v) if (1..=100).contains(&v) => {}
            Some(_) => errors.push(FieldError::out_of_range(p("usable_ratio_percent"), 1, 100)),
            None => errors.push(FieldError::required(p("usable_ratio_percent"))),
        }
    }
}

fn check_rule(errors: &mut Vec<FieldError>, path: &str, r: &Rule, ids: &mut Vec<String>) {
    if ids.contains(&r.id) {
        errors.push(err(
            format!("{path}.id"),
            "duplicate_rule_id",
            "规则编号重复",
            "rule ids must be unique",
        ));
    }
    ids.push(r.id.clone());
    check_parameters(errors, path, r);
    let p = |f: &str| format!("{path}.{f}");
    use RuleKind as K;
    let i = |v: Option<i32>| v.map(i64::from);
    match r.kind {
        K::CityHukouYears | K::MovedInYears => {
            if r.city.as_deref().is_none_or(|c| c.trim().is_empty()) {
                errors.push(FieldError::required(p("city")));
            }
            need_non_negative(errors, p("min_years"), i(r.min_years), true);
        }
        K::IncomePerCapita => {
            match (r.ceiling_fen, r.dibao_multiple_percent) {
                (Some(_), Some(_)) | (None, None) => errors.push(err(
                    p("ceiling_fen"),
                    "one_ceiling",
                    "须且只能给出 ceiling_fen 或 dibao_multiple_percent 之一",
                    "give exactly one of ceiling_fen and dibao_multiple_percent",
                )),
                _ => {}
            }
            need_non_negative(errors, p("ceiling_fen"), r.ceiling_fen, false);
            need_non_negative(
                errors,
                p("dibao_multiple_percent"),
                r.dibao_multiple_percent,
                false,
            );
        }
        K::AreaPerCapita => check_area(errors, path, r),
        K::NoRecentTransfer => need_non_negative(errors, p("years"), i(r.years), true),
        K::SingleMinAge => need_non_negative(errors, p("min_age"), i(r.min_age), true),
        K::DibaoMonths | K::PensionMonths => {
            need_non_negative(errors, p("min_months"), i(r.min_months), true)
        }
        K::NoOwnedHousing | K::NoOtherBenefit => {}
        K::AnyOf => match &r.any_of {
            Some(rules) if rules.len() >= 2 => {
                for (j, sub) in rules.iter().enumerate() {
                    check_rule(errors, &format!("{path}.any_of[{j}]"), sub, ids);
                }
            }
            _ => errors.push(err(
                p("any_of"),
                "too_few_alternatives",
                "至少需要两条备选规则",
                "needs at least two alternatives",
            )),
        },
    }
}

impl PolicyDocument {
    /// Every problem with the document, with its path; empty when it is valid.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.version.trim().is_empty() {
            errors.push(FieldError::required("version"));
        }
        if self.admits.is_empty() {
            errors.push(err(
                "admits".into(),
                "required",
                "至少接纳一类申请人",
                "admit at least one applicant class",
            ));
        }
        if self.rules.is_empty() {
            errors.push(err(
                "rules".into(),
                "required",
                "至少需要一条规则",
                "at least one rule is required",
            ));
        }
        for (i, d) in self.dibao_standard.iter().enumerate() {
            need_non_negative(
                &mut errors,
                format!("dibao_standard[{i}].monthly_fen"),
                Some(d.monthly_fen),
                true,
            );
        }
        for (name, v) in [
            ("acceptance_days", self.deadlines.acceptance_days),
            ("first_review_days", self.deadlines.first_review_days),
            ("notice_days", self.deadlines.notice_days),
            ("objection_days", self.deadlines.objection_days),
            (
                "appeal_window_working_days",
                self.deadlines.appeal_window_working_days,
            ),
            (
                "appeal_answer_working_days",
                self.deadlines.appeal_answer_working_days,
            ),
            (
                "reverification_reminder_days",
                self.deadlines.reverification_reminder_days,
            ),
            (
                "reverification_grace_days",
                self.deadlines.reverification_grace_days,
            ),
        ] {
            if !(1..=365).contains(&v) {
                errors.push(FieldError::out_of_range(
                    format!("deadlines.{name}"),
                    1,
                    365,
                ));
            }
        }
        let mut ids = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            check_rule(&mut errors, &format!("rules[{i}]"), r, &mut ids);
            if uses_dibao_multiple(r) && self.dibao_standard.is_empty() {
                errors.push(err(
                    "dibao_standard".into(),
                    "required",
                    "按低保标准倍数计算收入上限时须给出低保标准",
                    "an income ceiling given as a multiple needs the 低保 standard",
                ));
            }
        }
        errors
    }

    /// The 低保 standard on `day`, if one is set.
    pub fn dibao_on(&self, day: NaiveDate) -> Option<i64> {
        self.dibao_standard
            .iter()
            .filter(|p| p.from <= day)
            .max_by_key(|p| p.from)
            .map(|p| p.monthly_fen)
    }
}

fn uses_dibao_multiple(r: &Rule) -> bool {
    r.dibao_multiple_percent.is_some() || r.any_of.iter().flatten().any(uses_dibao_multiple)
}

/// The policies that ship with anju, loaded when the database has none.
pub const DEFAULT_POLICIES: [(&str, &str); 2] = [
    (
        "policies/zhengzhou-public-rental.toml",
        include_str!("../../policies/zhengzhou-public-rental.toml"),
    ),
    (
        "policies/zhengzhou-low-rent.toml",
        include_str!("../../policies/zhengzhou-low-rent.toml"),
    ),
];

/// Parses a policy from TOML (the shipped files).
pub fn from_toml(text: &str) -> Result<PolicyDocument, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policies_parse_and_are_valid() {
        for (name, text) in DEFAULT_POLICIES {
            let doc = from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(doc.check(), vec![], "{name}");
        }
    }
}
