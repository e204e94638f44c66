//! The pure eligibility engine on a 4-member household under each shipped policy:
//! deciding alone (what simulation runs), and deciding plus the zh/en explanation
//! (what a submission stores).
//! Run: `cargo bench --bench eligibility`. Figures are in BENCHMARKS.md.

use std::hint::black_box;

use anju::applications::domain::{Household, Housing, Member};
use anju::applications::form::*;
use anju::eligibility::engine::{Facts, decide, evaluate};
use anju::eligibility::policy::{DEFAULT_POLICIES, from_toml};
use anju::values::{IdNumber, Mobile};
use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};

fn id(birth: &str, seq: u32) -> IdNumber {
    let body = format!("410104{birth}{seq:03}");
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(w)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    IdNumber::parse(
        "id",
        &format!("{body}{check}"),
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .unwrap()
}

fn member(rel: Relationship, birth: &str, seq: u32, income: i64) -> Member {
    Member {
        relationship: rel,
        name: "成员".into(),
        id_number: id(birth, seq),
        gender: if seq % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        },
        marital_status: MaritalStatus::Married,
        hukou_city: "郑州".into(),
        hukou_since: NaiveDate::from_ymd_opt(2010, 5, 1).unwrap(),
        employer: None,
        annual_income_fen: income,
        dibao: None,
        pension_months: None,
        disabled: false,
        serious_illness: false,
    }
}

fn household(programme: Programme) -> Household {
    Household {
        programme,
        applicant_class: ApplicantClass::Local,
        community_code: "410104003-01".into(),
        filed_at: FiledAt::Hukou,
        contact_mobile: Mobile::parse("m", "13800001111").unwrap(),
        contact_email: None,
        language: Language::Zh,
        members: vec![
            member(Relationship::Applicant, "19800101", 11, 2_400_000),
            member(Relationship::Spouse, "19820202", 22, 1_800_000),
            member(Relationship::Child, "20100303", 31, 0),
            member(Relationship::Parent, "19500404", 42, 600_000),
        ],
        housing: vec![Housing {
            address: "惠工街".into(),
            area_cm2: 5_600,
            nature: HousingNature::Owned,
        }],
        transfers: vec![],
        deposits_fen: 0,
        vehicles_fen: 0,
        securities_fen: 0,
        documents: vec![DocumentKind::IdCard],
    }
}

fn bench(c: &mut Criterion) {
    let on = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let facts = Facts::default();
    for (name, text) in DEFAULT_POLICIES {
        let policy = from_toml(text).unwrap();
        let h = household(policy.programme).eligibility_input();
        c.bench_function(&format!("evaluate 4-member household, {name}"), |b| {
            b.iter(|| evaluate(black_box(&h), black_box(&policy), on, &facts).eligible)
        });
        c.bench_function(&format!("evaluate and explain (zh+en), {name}"), |b| {
            b.iter(|| decide(black_box(&h), black_box(&policy), on, &facts))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
