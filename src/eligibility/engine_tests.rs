//! Boundary tests of the pure engine: exactly at each limit, and one unit over.

use chrono::NaiveDate;

use super::*;
use crate::eligibility::input::{Dwelling, Household, Person, Tenure};
use crate::eligibility::policy::{DibaoPeriod, Rule};
use entity::enums::{ApplicantClass, Programme};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const ON: &str = "2026-11-02";

/// Who a member is to the applicant; only the applicant is told apart by the rules.
#[derive(PartialEq)]
enum Relationship {
    Applicant,
    Spouse,
    Child,
}

fn member(rel: Relationship, birth: &str, income: i64) -> Person {
    Person {
        applicant: rel == Relationship::Applicant,
        birth_date: d(birth),
        hukou_city: "郑州".into(),
        hukou_since: d("2000-01-01"),
        annual_income_fen: income,
        dibao_since: None,
        pension_months: None,
    }
}

fn household(members: Vec<Person>) -> Household {
    Household {
        programme: Programme::LowRent,
        applicant_class: ApplicantClass::Local,
        members,
        housing: vec![],
        transfers: vec![],
    }
}

fn dwelling(area_cm2: i64, tenure: Tenure) -> Dwelling {
    Dwelling { area_cm2, tenure }
}

fn rule(id: &str, kind: RuleKind) -> Rule {
    Rule {
        id: id.into(),
        kind,
        severity: Severity::Hard,
        applies_to: None,
        source: None,
        city: None,
        min_years: None,
        years: None,
        ceiling_fen: None,
        dibao_multiple_percent: None,
        max_m2: None,
        basis: None,
        usable_ratio_percent: None,
        forbid_rented_public: None,
        min_age: None,
        min_months: None,
        any_of: None,
    }
}

fn policy(rules: Vec<Rule>) -> PolicyDocument {
    PolicyDocument {
        programme: Programme::LowRent,
        version: "test-1".into(),
        title: "test".into(),
        effective_from: d("2015-01-01"),
        admits: vec![ApplicantClass::Local],
        dibao_standard: vec![
            DibaoPeriod {
                from: d("2014-07-01"),
                monthly_fen: 48_000,
            },
            DibaoPeriod {
                from: d("2015-07-01"),
                monthly_fen: 52_000,
            },
        ],
        deadlines: Default::default(),
        allocation: Default::default(),
        maker_checker: true,
        rules,
    }
}

fn outcome_on(h: &Household, p: &PolicyDocument, on: &str) -> RuleResult {
    let decision = decide(h, p, d(on), &Facts::default());
    decision.rules.into_iter().nth(1).unwrap()
}

fn outcome(h: &Household, p: &PolicyDocument) -> RuleResult {
    outcome_on(h, p, ON)
}

fn income_rule(ceiling: i64) -> Rule {
    Rule {
        ceiling_fen: Some(ceiling),
        ..rule("income", RuleKind::IncomePerCapita)
    }
}

#[test]
fn absolute_income_ceiling_is_exact_to_the_fen() {
    let p = policy(vec![income_rule(160_000)]);
    let three = |total: i64| {
        household(vec![
            member(Relationship::Applicant, "1980-01-01", total - 2),
            member(Relationship::Spouse, "1981-01-01", 1),
            member(Relationship::Child, "2010-01-01", 1),
        ])
    };
    let at = outcome(&three(160_000 * 12 * 3), &p);
    assert_eq!(at.outcome, Outcome::Pass);
    assert_eq!(at.value.as_ref().unwrap().zh, "1,600.00 元");
    assert_eq!(at.limit.as_ref().unwrap().en, "1,600.00 yuan");
    let over = outcome(&three(160_000 * 12 * 3 + 1), &p);
    assert_eq!(over.outcome, Outcome::Fail);
    // Displayed per capita is rounded down: one fen over still shows 1,600.00.
    assert_eq!(over.value.as_ref().unwrap().amount, 160_000);
    assert!(over.zh.contains("不符合") && over.en.contains("does not meet"));
}

#[test]
fn income_as_a_multiple_of_the_dibao_standard_uses_the_standard_of_the_day() {
    let p = policy(vec![Rule {
        dibao_multiple_percent: Some(500),
        ..rule("income", RuleKind::IncomePerCapita)
    }]);
    let two = |total: i64| {
        household(vec![
            member(Relationship::Applicant, "1980-01-01", total),
            member(Relationship::Spouse, "1981-01-01", 0),
        ])
    };
    // From 2015-07-01 the standard is 520 yuan: ceiling 2,600.00 yuan per person and month.
    let at = outcome(&two(260_000 * 12 * 2), &p);
    assert_eq!(at.outcome, Outcome::Pass);
    assert_eq!(at.limit.as_ref().unwrap().amount, 260_000);
    assert_eq!(
        outcome(&two(260_000 * 12 * 2 + 1), &p).outcome,
        Outcome::Fail
    );
    // On 2015-06-30 the standard was 480 yuan: ceiling 2,400.00.
    let earlier = outcome_on(&two(240_000 * 12 * 2), &p, "2015-06-30");
    assert_eq!(earlier.outcome, Outcome::Pass);
    assert_eq!(earlier.limit.as_ref().unwrap().amount, 240_000);
    assert_eq!(
        outcome_on(&two(240_000 * 12 * 2 + 1), &p, "2015-06-30").outcome,
        Outcome::Fail
    );
    // Before any standard: no judgement is possible, and that is a failure with a reason.
    let none = outcome_on(&two(0), &p, "2014-01-01");
    assert_eq!(none.outcome, Outcome::Fail);
    assert!(none.en.contains("no 低保 standard"));
}

#[test]
fn per_capita_area_counts_owned_and_public_housing_only() {
    let p = policy(vec![Rule {
        max_m2: Some(16.0),
        basis: Some(AreaBasis::Building),
        ..rule("area", RuleKind::AreaPerCapita)
    }]);
    let with = |cm2: i64, nature: Tenure| {
        let mut h = household(vec![
            member(Relationship::Applicant, "1980-01-01", 0),
            member(Relationship::Spouse, "1981-01-01", 0),
        ]);
        h.housing = vec![dwelling(cm2, nature)];
        h
    };
    let at = outcome(&with(3_200, Tenure::Owned), &p);
    assert_eq!(at.outcome, Outcome::Pass);
    assert_eq!(at.value.as_ref().unwrap().zh, "16.00 平方米");
    assert_eq!(
        outcome(&with(3_201, Tenure::Owned), &p).outcome,
        Outcome::Fail
    );
    assert_eq!(
        outcome(&with(3_201, Tenure::RentedPublic), &p).outcome,
        Outcome::Fail
    );
    assert_eq!(
        outcome(&with(90_000, Tenure::Other), &p).outcome,
        Outcome::Pass
    );
}

#[test]
fn usable_area_basis_scales_the_building_area() {
    let p = policy(vec![Rule {
        max_m2: Some(15.0),
        basis: Some(AreaBasis::Usable),
        usable_ratio_percent: Some(75),
        ..rule("area", RuleKind::AreaPerCapita)
    }]);
    let mut h = household(vec![
        member(Relationship::Applicant, "1980-01-01", 0),
        member(Relationship::Spouse, "1981-01-01", 0),
    ]);
    h.housing = vec![dwelling(4_000, Tenure::Owned)];
    assert_eq!(
        outcome(&h, &p).outcome,
        Outcome::Pass,
        "40 m² building = 30 m² usable = 15 each"
    );
    h.housing[0].area_cm2 = 4_002;
    assert_eq!(outcome(&h, &p).outcome, Outcome::Fail);
}

#[test]
fn city_hukou_years_count_whole_years_to_the_day() {
    let p = policy(vec![Rule {
        city: Some("郑州".into()),
        min_years: Some(3),
        ..rule("hukou", RuleKind::CityHukouYears)
    }]);
    let mut h = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    h.members[0].hukou_since = d("2023-11-02");
    assert_eq!(outcome(&h, &p).outcome, Outcome::Pass);
    h.members[0].hukou_since = d("2023-11-03");
    let r = outcome(&h, &p);
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.value.unwrap().amount, 2);
    h.members[0].hukou_city = "郑州市".into();
    h.members[0].hukou_since = d("2000-01-01");
    assert_eq!(
        outcome(&h, &p).outcome,
        Outcome::Pass,
        "郑州 and 郑州市 are the same city"
    );
    h.members[0].hukou_city = "开封".into();
    assert_eq!(outcome(&h, &p).outcome, Outcome::Fail);
}

#[test]
fn moved_in_years_apply_to_everyone_but_the_longest_resident() {
    let p = policy(vec![Rule {
        city: Some("郑州".into()),
        min_years: Some(2),
        ..rule("moved", RuleKind::MovedInYears)
    }]);
    let mut h = household(vec![
        member(Relationship::Applicant, "1980-01-01", 0),
        member(Relationship::Spouse, "1981-01-01", 0),
    ]);
    h.members[1].hukou_since = d("2024-11-02");
    assert_eq!(outcome(&h, &p).outcome, Outcome::Pass);
    h.members[1].hukou_since = d("2024-11-03");
    assert_eq!(outcome(&h, &p).outcome, Outcome::Fail);
    let alone = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    assert_eq!(outcome(&alone, &p).outcome, Outcome::NotApplicable);
}

#[test]
fn a_single_applicant_must_have_reached_the_minimum_age() {
    let p = policy(vec![Rule {
        min_age: Some(28),
        ..rule("age", RuleKind::SingleMinAge)
    }]);
    let at = household(vec![member(Relationship::Applicant, "1998-11-02", 0)]);
    assert_eq!(outcome(&at, &p).outcome, Outcome::Pass);
    let day_short = household(vec![member(Relationship::Applicant, "1998-11-03", 0)]);
    assert_eq!(outcome(&day_short, &p).outcome, Outcome::Fail);
    let couple = household(vec![
        member(Relationship::Applicant, "2004-01-01", 0),
        member(Relationship::Spouse, "2004-01-01", 0),
    ]);
    assert_eq!(outcome(&couple, &p).outcome, Outcome::NotApplicable);
}

#[test]
fn a_transfer_counts_only_inside_the_window() {
    let p = policy(vec![Rule {
        years: Some(5),
        ..rule("transfer", RuleKind::NoRecentTransfer)
    }]);
    let mut h = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    let t = |date: &str| d(date);
    h.transfers = vec![t("2021-11-02")];
    assert_eq!(
        outcome(&h, &p).outcome,
        Outcome::Pass,
        "exactly five years ago is outside"
    );
    h.transfers = vec![t("2021-11-03")];
    assert_eq!(outcome(&h, &p).outcome, Outcome::Fail);
}

#[test]
fn dibao_and_pension_months_are_whole_months() {
    let dibao = policy(vec![Rule {
        min_months: Some(12),
        ..rule("dibao", RuleKind::DibaoMonths)
    }]);
    let mut h = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    h.members[0].dibao_since = Some(d("2025-11-02"));
    assert_eq!(outcome(&h, &dibao).outcome, Outcome::Pass);
    h.members[0].dibao_since = Some(d("2025-11-03"));
    assert_eq!(outcome(&h, &dibao).outcome, Outcome::Fail);

    let pension = policy(vec![Rule {
        min_months: Some(24),
        applies_to: Some(vec![ApplicantClass::Migrant]),
        ..rule("pension", RuleKind::PensionMonths)
    }]);
    let mut m = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    assert_eq!(
        outcome(&m, &pension).outcome,
        Outcome::NotApplicable,
        "local class"
    );
    m.applicant_class = ApplicantClass::Migrant;
    m.members[0].pension_months = Some(24);
    assert_eq!(outcome(&m, &pension).outcome, Outcome::Pass);
    m.members[0].pension_months = Some(23);
    assert_eq!(outcome(&m, &pension).outcome, Outcome::Fail);
}

#[test]
fn any_of_passes_on_one_alternative_and_explains_each() {
    let p = policy(vec![Rule {
        any_of: Some(vec![
            income_rule(160_000),
            Rule {
                min_months: Some(12),
                ..rule("dibao", RuleKind::DibaoMonths)
            },
        ]),
        ..rule("income_or_dibao", RuleKind::AnyOf)
    }]);
    let mut h = household(vec![member(
        Relationship::Applicant,
        "1980-01-01",
        160_000 * 12 + 1,
    )]);
    let r = outcome(&h, &p);
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.alternatives.len(), 2);
    h.members[0].dibao_since = Some(d("2024-01-01"));
    let r = outcome(&h, &p);
    assert_eq!(r.outcome, Outcome::Pass);
    assert_eq!(r.alternatives[0].outcome, Outcome::Fail);
    assert_eq!(r.alternatives[1].outcome, Outcome::Pass);
}

#[test]
fn hard_failures_make_a_case_ineligible_and_soft_ones_only_flag_it() {
    let mut soft = rule("transfer", RuleKind::NoRecentTransfer);
    soft.severity = Severity::Soft;
    soft.years = Some(5);
    let p = policy(vec![income_rule(160_000), soft]);
    let mut h = household(vec![member(Relationship::Applicant, "1980-01-01", 100)]);
    h.transfers = vec![d("2026-01-01")];
    let dec = decide(&h, &p, d(ON), &Facts::default());
    assert!(dec.eligible);
    assert!(dec.flagged);
    h.members[0].annual_income_fen = 160_000 * 12 + 1;
    let dec = decide(&h, &p, d(ON), &Facts::default());
    assert!(!dec.eligible);
    assert_eq!(dec.policy_version, "test-1");
}

#[test]
fn a_class_the_programme_does_not_admit_is_ineligible() {
    let p = policy(vec![income_rule(160_000)]);
    let mut h = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    h.applicant_class = ApplicantClass::Migrant;
    let dec = decide(&h, &p, d(ON), &Facts::default());
    assert!(!dec.eligible);
    assert_eq!(dec.rules[0].id, "admits_class");
    assert_eq!(dec.rules[0].outcome, Outcome::Fail);
}

#[test]
fn another_benefit_is_named_in_the_explanation() {
    let p = policy(vec![rule("other", RuleKind::NoOtherBenefit)]);
    let h = household(vec![member(Relationship::Applicant, "1980-01-01", 0)]);
    let facts = Facts {
        other_benefits: vec!["410104003-2025-000007".into()],
    };
    let dec = decide(&h, &p, d(ON), &facts);
    assert!(!dec.eligible);
    assert!(dec.rules[1].zh.contains("410104003-2025-000007"));
}

#[test]
fn quantities_group_thousands() {
    assert_eq!(Quantity::new(215_000, Unit::Fen).en, "2,150.00 yuan");
    assert_eq!(Quantity::new(123_456_789, Unit::Fen).zh, "1,234,567.89 元");
    assert_eq!(Quantity::new(5, Unit::Fen).zh, "0.05 元");
}
