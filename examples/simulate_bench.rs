//! Times a policy simulation over N submitted applications (default 100,000).
//!
//! `cargo run --release --example simulate_bench -- [N] [database-url]`
//!
//! The applications are synthetic households written straight into a fresh database
//! (SQLite in a temp dir unless a URL is given) with a stored eligible decision each:
//! this measures the simulation, not intake. Figures are in BENCHMARKS.md.

use std::sync::Arc;
use std::time::Instant;

use anju::applications::domain::{Household, Housing, Member};
use anju::applications::form::*;
use anju::auth::{Principal, Role};
use anju::clock::SystemClock;
use anju::eligibility::policy::{DEFAULT_POLICIES, from_toml};
use anju::settings::Settings;
use anju::values::{IdNumber, Mobile};
use chrono::{NaiveDate, TimeZone, Utc};
use entity::{application, eligibility_decision};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};

fn id(seq: u64) -> IdNumber {
    let birth = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap() + chrono::Days::new(seq % 14_000);
    let body = format!(
        "410104{}{:03}",
        birth.format("%Y%m%d"),
        (seq / 14_000) % 1000
    );
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

fn household(i: u64) -> Household {
    let member = |rel, seq: u64, income: i64| {
        let id = id(seq);
        Member {
            relationship: rel,
            name: "测试".into(),
            gender: if id.gender() == anju::values::IdGender::Male {
                Gender::Male
            } else {
                Gender::Female
            },
            id_number: id,
            marital_status: MaritalStatus::Married,
            hukou_city: "郑州".into(),
            hukou_since: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            employer: None,
            annual_income_fen: income,
            dibao: None,
            pension_months: None,
            disabled: false,
            serious_illness: false,
        }
    };
    // Per-capita monthly income spread over 1,000 to 3,000 yuan.
    let income = 100_000 * 12 * 2 + (i as i64 % 200) * 1_000 * 12 * 2;
    Household {
        programme: Programme::PublicRental,
        applicant_class: ApplicantClass::Local,
        community_code: "410104003-01".into(),
        filed_at: FiledAt::Hukou,
        contact_mobile: Mobile::parse("m", "13800001111").unwrap(),
        contact_email: None,
        language: Language::Zh,
        members: vec![
            member(Relationship::Applicant, i * 2, income),
            member(Relationship::Spouse, i * 2 + 1, 0),
        ],
        housing: vec![Housing {
            address: "惠工街".into(),
            area_cm2: 4_000,
            nature: HousingNature::RentedPrivate,
        }],
        transfers: vec![],
        deposits_fen: 0,
        vehicles_fen: 0,
        securities_fen: 0,
        documents: vec![DocumentKind::IdCard],
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("sim.db").display()));
    let settings = Settings {
        database_url: url.clone(),
        log: "warn".into(),
        ..Settings::default()
    };
    let state = anju::startup::prepare(settings, Arc::new(SystemClock)).await?;
    let community = anju::places::service::list(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let community_ids: Vec<i64> = community
        .iter()
        .filter(|p| p.code.starts_with("410104003-"))
        .map(|p| p.id)
        .collect();
    let submitted = Utc.with_ymd_and_hms(2026, 10, 1, 2, 0, 0).unwrap();

    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let txn = state.db.begin().await?;
        let end = (i + 2_000).min(n);
        let rows: Vec<application::ActiveModel> = (i..end)
            .map(|k| {
                let h = household(k);
                application::ActiveModel {
                    number: Set(Some(format!("410104003-2026-{:07}", k + 1))),
                    source: Set(entity::enums::Source::Online),
                    programme: Set(Some(entity::enums::Programme::PublicRental)),
                    applicant_class: Set(Some(entity::enums::ApplicantClass::Local)),
                    community_id: Set(Some(community_ids[k as usize % community_ids.len()])),
                    status: Set(entity::enums::CaseStatus::Eligible),
                    form: Set(serde_json::to_value(h.to_form()).unwrap()),
                    warnings: Set(serde_json::json!([])),
                    household_size: Set(2),
                    language: Set(entity::enums::Language::Zh),
                    version: Set(2),
                    created_at: Set(submitted),
                    updated_at: Set(submitted),
                    submitted_at: Set(Some(submitted)),
                    status_since: Set(submitted),
                    ..Default::default()
                }
            })
            .collect();
        application::Entity::insert_many(rows).exec(&txn).await?;
        txn.commit().await?;
        i = end;
    }
    // One stored decision per case: eligible under the shipped policy.
    let ids: Vec<i64> = {
        use sea_orm::QuerySelect;
        application::Entity::find()
            .select_only()
            .column(application::Column::Id)
            .into_tuple()
            .all(&state.db)
            .await?
    };
    for chunk in ids.chunks(2_000) {
        let txn = state.db.begin().await?;
        let rows = chunk.iter().map(|&a| eligibility_decision::ActiveModel {
            application_id: Set(a),
            event_id: Set(0),
            policy_version: Set("zz-gzf-2015.1".into()),
            eligible: Set(true),
            flagged: Set(false),
            decision: Set(serde_json::json!({})),
            evaluated_at: Set(submitted),
            ..Default::default()
        });
        eligibility_decision::Entity::insert_many(rows)
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
    println!(
        "inserted {n} applications in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut draft = from_toml(DEFAULT_POLICIES[0].1).map_err(|e| anyhow::anyhow!(e))?;
    draft.version = "draft".into();
    for r in &mut draft.rules {
        if r.id == "income" {
            r.dibao_multiple_percent = Some(400); // 5x -> 4x of the 低保 standard
        }
    }
    let admin = Principal {
        user_id: 0,
        session_id: 0,
        role: Role::Admin,
        place_ids: vec![],
        id_hash: None,
    };
    let started = Instant::now();
    let sim = anju::applications::service::simulate(&state, &admin, &draft)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {} applications in {secs:.2} s ({:.0} per second): {} unchanged, {} would become ineligible",
        sim.evaluated,
        sim.evaluated as f64 / secs,
        sim.unchanged,
        sim.became_ineligible
    );
    Ok(())
}
