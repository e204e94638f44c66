//! `anju demo`: 南关街道 as the 2015 newspaper report describes it, built by driving a
//! deterministic synthetic population through the real service layer (submit →
//! eligibility → accept → review → notice → objections → batch → bureau), so that the
//! funnel report reads 367 eligible → 240 accepted for first review → 179 reported up.
//!
//! The clock is a manual one starting on 2015-09-01, so events carry realistic dates
//! (notice windows really elapse). Running it again finds its marker and changes nothing.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::applications::form::Form;
use crate::applications::service::{self as apps, IdempotencyKey, Submitted};
use crate::auth::{Principal, Role, service as auth};
use crate::batches::service as batches;
use crate::clock::ManualClock;
use crate::lifecycle::Action;
use crate::review::actions::{self, ActionInput};
use crate::state::AppState;

/// Password of every demo account (documented in the README; demo data only).
pub const DEMO_PASSWORD: &str = "anju-demo-2015";
const MARKER: &str = "demo_seeded";

/// What a household is meant to become.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Intent {
    PublicRental,
    LowRent,
    Migrant,
    TooRich,
    OwnsHome,
    RecentHukou,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "玉兰",
];

struct People {
    rng: StdRng,
    used: HashSet<String>,
}

impl People {
    fn name(&mut self) -> String {
        let s = SURNAMES[self.rng.gen_range(0..SURNAMES.len())];
        let g = GIVEN[self.rng.gen_range(0..GIVEN.len())];
        format!("{s}{g}")
    }

    /// A valid, unused identity number for an address code, a birth year range and a gender.
    fn id(&mut self, address: &str, years: (i32, i32), male: bool) -> (String, NaiveDate) {
        loop {
            let year = self.rng.gen_range(years.0..=years.1);
            let birth = NaiveDate::from_ymd_opt(
                year,
                self.rng.gen_range(1..=12),
                self.rng.gen_range(1..=28),
            )
            .unwrap_or_default();
            let mut seq: u32 = self.rng.gen_range(1..=999);
            if (seq % 2 == 1) != male {
                seq = if seq == 999 { 998 } else { seq + 1 };
            }
            let body = format!("{address}{}{seq:03}", birth.format("%Y%m%d"));
            let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let sum: u32 = body
                .chars()
                .zip(w)
                .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
                .sum();
            let id = format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char);
            if self.used.insert(id.clone()) {
                return (id, birth);
            }
        }
    }

    /// A member registered in `origin`'s city since `origin.2` (or birth, if later).
    fn member(
        &mut self,
        rel: &str,
        origin: (&str, &str, NaiveDate),
        years: (i32, i32),
        male: bool,
        income: i64,
    ) -> Value {
        let (address, hukou_city, hukou_since) = origin;
        let (id, birth) = self.id(address, years, male);
        let since = hukou_since.max(birth);
        json!({
            "relationship": rel, "name": self.name(), "id_number": id,
            "gender": if male { "male" } else { "female" },
            "marital_status": if rel == "child" { "single" } else { "married" },
            "hukou_city": hukou_city, "hukou_since": since.to_string(), "annual_income_fen": income,
        })
    }

    /// A household form for `intent`, in `community`.
    fn household(&mut self, intent: Intent, community: &str, i: usize, today: NaiveDate) -> Value {
        // Hukou dates relative to today, so the outcome does not depend on the clock.
        let old = today - chrono::Days::new(14 * 365);
        let recent = today - chrono::Days::new(300);
        let migrant = intent == Intent::Migrant;
        let (address, city) = if migrant {
            (["411002", "410381", "412702", "411302"][i % 4], "许昌")
        } else {
            ("410104", "郑州")
        };
        let since = if intent == Intent::RecentHukou {
            recent
        } else {
            old
        };
        // Per-person annual incomes (fen): comfortably inside or outside the ceilings.
        let income = |rng: &mut StdRng| match intent {
            Intent::LowRent => rng.gen_range(600_000..1_100_000),
            Intent::TooRich => rng.gen_range(6_000_000..9_000_000),
            _ => rng.gen_range(1_500_000..2_800_000),
        };
        let a = income(&mut self.rng);
        let s = income(&mut self.rng);
        let y = chrono::Datelike::year(&today);
        let mut members = vec![
            self.member(
                "applicant",
                (address, city, since),
                (y - 55, y - 30),
                true,
                a,
            ),
            self.member("spouse", (address, city, since), (y - 53, y - 28), false, s),
        ];
        if self.rng.gen_bool(0.6) {
            let boy = self.rng.gen_bool(0.5);
            members.push(self.member("child", (address, city, since), (y - 16, y - 3), boy, 0));
        }
        let (nature, area) = match intent {
            Intent::OwnsHome => ("owned", 78.5),
            _ => (
                "rented_private",
                (self.rng.gen_range(2000..6000) as f64) / 100.0,
            ),
        };
        let mut form = json!({
            "programme": if intent == Intent::LowRent { "low_rent" } else { "public_rental" },
            "applicant_class": if migrant { "migrant" } else { "local" },
            "community_code": community,
            "filed_at": if migrant { "residence" } else { "hukou" },
            "contact_mobile": format!("1380371{:04}", i),
            "contact_email": format!("household{:03}@nanguan.demo", i),
            "language": "zh",
            "consent_verification": true,
            "declaration_truthful": true,
            "members": members,
            "housing": [{ "address": format!("郑州市管城区南关街道第{}号院", i + 1), "area_m2": area, "nature": nature }],
            "documents": if migrant { json!(["id_card", "labour_contract", "social_insurance_proof"]) } else { json!(["id_card", "hukou_book", "income_proof"]) },
        });
        if migrant {
            form["members"][0]["pension_months"] = json!(self.rng.gen_range(24..=36));
        }
        form
    }
}

async fn principal(state: &AppState, login: &str) -> anyhow::Result<Principal> {
    let out = crate::auth::login::login(state, login, DEMO_PASSWORD, "demo")
        .await
        .map_err(|e| anyhow::anyhow!("demo login {login}: {e}"))?;
    auth::authenticate(state, &out.token)
        .await?
        .context("demo session")
}

async fn account(
    state: &AppState,
    role: Role,
    email: &str,
    name: &str,
    places: &[&str],
) -> anyhow::Result<Principal> {
    auth::create_account(
        state,
        auth::NewAccount {
            role,
            display_name: name.into(),
            mobile: None,
            email: Some(email.into()),
            password: DEMO_PASSWORD.into(),
            place_codes: places.iter().map(|p| p.to_string()).collect(),
            id_number: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo account {email}: {e:?}"))?;
    principal(state, email).await
}

fn input(version: i32) -> ActionInput {
    ActionInput {
        version,
        ..Default::default()
    }
}

async fn case_by_id(
    state: &AppState,
    id: i64,
) -> Result<Option<crate::applications::Case>, sea_orm::DbErr> {
    Ok(apps::by_ids(&state.db, &[id]).await?.pop())
}

async fn version(state: &AppState, id: i64) -> anyhow::Result<i32> {
    Ok(case_by_id(state, id).await?.context("case")?.version)
}

async fn act(
    state: &AppState,
    who: &Principal,
    id: i64,
    action: Action,
    mut i: ActionInput,
) -> anyhow::Result<()> {
    i.version = version(state, id).await?;
    actions::act(state, who, id, action, i)
        .await
        .map_err(|e| anyhow::anyhow!("{action:?} on {id}: {e}"))?;
    Ok(())
}

/// Builds the demo on `state`'s database. `clock` must be the state's clock.
pub async fn run(
    state: &AppState,
    clock: &ManualClock,
    show_progress: bool,
) -> anyhow::Result<bool> {
    if crate::db::secret(&state.db, MARKER).await?.is_some() {
        return Ok(false);
    }
    let communities: Vec<String> = (1..=11).map(|i| format!("410104003-{i:02}")).collect();
    let c = |r: std::ops::Range<usize>| {
        communities[r]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    };
    let _admin = account(state, Role::Admin, "admin@nanguan.demo", "演示管理员", &[]).await?;
    let reviewers = [
        account(
            state,
            Role::Reviewer,
            "reviewer1@nanguan.demo",
            "审核员一",
            &c(0..4),
        )
        .await?,
        account(
            state,
            Role::Reviewer,
            "reviewer2@nanguan.demo",
            "审核员二",
            &c(4..8),
        )
        .await?,
        account(
            state,
            Role::Reviewer,
            "reviewer3@nanguan.demo",
            "审核员三",
            &c(8..11),
        )
        .await?,
    ];
    let supervisor = account(
        state,
        Role::Supervisor,
        "supervisor@nanguan.demo",
        "街道主管",
        &["410104003"],
    )
    .await?;
    let bureau = account(
        state,
        Role::Bureau,
        "bureau@nanguan.demo",
        "区民政局",
        &["410104"],
    )
    .await?;
    let reviewer_of = |k: usize| {
        &reviewers[if k < 4 {
            0
        } else if k < 8 {
            1
        } else {
            2
        }]
    };

    // 425 households: 330 public-rental and 37 low-rent eligible (of which 20 migrant
    // workers), 58 that fail a rule. The first 20 file online, the rest at the counter.
    let mut plan: Vec<Intent> = Vec::new();
    plan.extend(std::iter::repeat_n(Intent::PublicRental, 310));
    plan.extend(std::iter::repeat_n(Intent::Migrant, 20));
    plan.extend(std::iter::repeat_n(Intent::LowRent, 37));
    plan.extend(std::iter::repeat_n(Intent::TooRich, 30));
    plan.extend(std::iter::repeat_n(Intent::OwnsHome, 18));
    plan.extend(std::iter::repeat_n(Intent::RecentHukou, 10));
    let mut rng = StdRng::seed_from_u64(20151116);
    // Shuffle deterministically so communities and intents mix.
    for i in (1..plan.len()).rev() {
        let j = rng.gen_range(0..=i);
        plan.swap(i, j);
    }
    let mut people = People {
        rng,
        used: HashSet::new(),
    };
    let bar = if show_progress {
        ProgressBar::new(plan.len() as u64 + 240 + 179)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("submit");

    let mut eligible_pr: Vec<(i64, usize, bool)> = Vec::new(); // (case, community index, online)
    let mut online_made = 0;
    for (i, intent) in plan.iter().enumerate() {
        let k = i % 11;
        let online = *intent == Intent::PublicRental && online_made < 20;
        online_made += usize::from(online);
        let who = if online {
            let email = format!("applicant{i:03}@nanguan.demo");
            account(state, Role::Applicant, &email, "申请人", &[]).await?
        } else {
            reviewer_of(k).clone()
        };
        let today = crate::clock::local_date(clock_now(state));
        let form: Form =
            serde_json::from_value(people.household(*intent, &communities[k], i, today))?;
        let draft = apps::create_draft(state, &who, form)
            .await
            .map_err(|e| anyhow::anyhow!("draft {i}: {e:?}"))?;
        let key = IdempotencyKey {
            key: format!("demo-{i}"),
            request_hash: format!("demo-{i}"),
        };
        let receipt = match apps::submit(state, &who, draft.case.id, None, key)
            .await
            .map_err(|e| anyhow::anyhow!("submit {i}: {e:?}"))?
        {
            Submitted::Fresh(r) | Submitted::Replayed(r) => r,
        };
        let want = matches!(
            intent,
            Intent::PublicRental | Intent::Migrant | Intent::LowRent
        );
        if (receipt.status == "eligible") != want {
            bail!("household {i} ({intent:?}) came out {}", receipt.status);
        }
        if matches!(intent, Intent::PublicRental | Intent::Migrant) {
            eligible_pr.push((receipt.application_id, k, online));
        }
        clock.advance(Duration::minutes(150));
        bar.inc(1);
    }

    // 15 online households withdraw before acceptance.
    let mut waiting = Vec::new();
    let mut withdrawn = 0;
    for (id, k, online) in eligible_pr {
        if online && withdrawn < 15 {
            let owner = case_by_id(state, id)
                .await?
                .and_then(|c| c.applicant_id)
                .context("owner")?;
            let email = format!(
                "applicant{:03}@nanguan.demo",
                plan_index_of(state, owner).await?
            );
            let who = principal(state, &email).await?;
            apps::withdraw(state, &who, id, None, Some("已另行租房".into()))
                .await
                .map_err(|e| anyhow::anyhow!("withdraw: {e:?}"))?;
            withdrawn += 1;
        } else {
            waiting.push((id, k));
        }
    }

    // 240 accepted for first review (受理初审); 75 public-rental and 37 low-rent wait.
    clock.advance(Duration::days(3));
    bar.set_message("review");
    let accepted: Vec<(i64, usize)> = waiting.into_iter().take(240).collect();
    for (id, k) in &accepted {
        act(state, reviewer_of(*k), *id, Action::Accept, input(0)).await?;
        clock.advance(Duration::minutes(40));
        bar.inc(1);
    }
    clock.advance(Duration::days(4));
    // Of the 240: 183 pass, 20 are rejected, 12 wait for corrections, 25 are still in review.
    let reasons = [
        "income_over_limit",
        "home_visit_failed",
        "incomplete_documents",
        "false_declaration",
    ];
    for (n, (id, k)) in accepted.iter().enumerate() {
        let r = reviewer_of(*k);
        if n < 183 {
            act(
                state,
                r,
                *id,
                Action::PassReview,
                ActionInput {
                    comment: Some("入户调查属实，同意上报".into()),
                    ..input(0)
                },
            )
            .await?;
        } else if n < 203 {
            let reason = reasons[n % reasons.len()].to_string();
            act(
                state,
                r,
                *id,
                Action::Reject,
                ActionInput {
                    comment: Some("经核查不符合条件".into()),
                    reason_code: Some(reason),
                    ..input(0)
                },
            )
            .await?;
        } else if n < 215 {
            let items = vec![
                "补交近半年收入证明".to_string(),
                "补交现住房租赁合同".to_string(),
            ];
            act(
                state,
                r,
                *id,
                Action::RequestCorrection,
                ActionInput { items, ..input(0) },
            )
            .await?;
        }
        clock.advance(Duration::minutes(30));
    }

    // Objections during the notice: 4 upheld (the case is rejected), 6 dismissed.
    let passed: Vec<(i64, usize)> = accepted[..183].to_vec();
    for (n, (id, k)) in passed.iter().take(10).enumerate() {
        let number = case_by_id(state, *id)
            .await?
            .and_then(|c| c.number)
            .context("number")?;
        let objection = crate::review::notice::NewObjection {
            name: people.name(),
            contact: format!("0371-6{:07}", 1_000_000 + n),
            content: "申请人家庭另有住房，请核查".into(),
        };
        let filed =
            crate::review::notice::file_objection(state, &number, objection, &format!("demo-{n}"))
                .await
                .map_err(|e| anyhow::anyhow!("objection: {e}"))?;
        let (action, note) = if n < 4 {
            (Action::UpholdObjection, "经核查属实")
        } else {
            (Action::DismissObjection, "经核查不属实")
        };
        act(
            state,
            reviewer_of(*k),
            *id,
            action,
            ActionInput {
                objection_id: Some(filed.id),
                comment: Some(note.into()),
                ..input(0)
            },
        )
        .await?;
    }
    clock.advance(Duration::days(11));
    let ready = crate::review::notice::close_due_notices(state, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if ready != 179 {
        bail!("{ready} cases ready to report, expected 179");
    }

    // Two batches go up in mid-November; the bureau decides the first fully and the
    // second in part.
    bar.set_message("report");
    let to_report: Vec<i64> = passed[4..].iter().map(|(id, _)| *id).collect();
    for (chunk, decide) in [(&to_report[..100], 100usize), (&to_report[100..], 60usize)] {
        let b = batches::create(
            state,
            &supervisor,
            crate::applications::form::Programme::PublicRental,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        for id in chunk {
            batches::add_item(state, &supervisor, b.batch.id, *id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            bar.inc(1);
        }
        let sealed = batches::seal(state, &supervisor, b.batch.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        batches::submit(state, &supervisor, b.batch.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        clock.advance(Duration::days(2));
        let hash = sealed.batch.manifest_sha256.clone().unwrap_or_default();
        batches::acknowledge(state, &bureau, b.batch.id, sealed.batch.item_count, &hash)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        clock.advance(Duration::days(5));
        for (n, id) in chunk.iter().take(decide).enumerate() {
            let d = match n % 20 {
                18 => batches::Decision {
                    application_id: *id,
                    decision: "return".into(),
                    reason_code: Some("incomplete_documents".into()),
                    comment: Some("请补充收入核查材料".into()),
                },
                19 if n % 40 == 19 => batches::Decision {
                    application_id: *id,
                    decision: "reject".into(),
                    reason_code: Some("income_over_limit".into()),
                    comment: Some("收入核查超标".into()),
                },
                _ => batches::Decision {
                    application_id: *id,
                    decision: "approve".into(),
                    reason_code: None,
                    comment: None,
                },
            };
            batches::decide_one(state, &bureau, b.batch.id, &d)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            clock.advance(Duration::minutes(20));
        }
    }
    bar.set_message("allocate");
    allocate(state, clock, &bureau, &reviewers).await?;
    settle(&state.db).await?;
    crate::db::insert_secret(&state.db, MARKER, &Utc::now().to_rfc3339()).await?;
    bar.finish_with_message("done");
    Ok(true)
}

/// The district's 497 low-rent units (实物配租房源) as the bureau's spreadsheet would
/// list them: three estates, six floors a building.
fn stock_csv() -> String {
    let mut csv = String::from("项目,楼栋,房号,保障类别,建筑面积,居室,楼层,月租金（元）,无障碍\n");
    let estates = [
        ("南关安居小区", 200),
        ("城东保障房小区", 197),
        ("航海路廉租住房", 100),
    ];
    for (estate, units) in estates {
        for i in 0..units {
            let (building, floor, door) = (1 + i / 24, 1 + (i % 24) / 4, 1 + i % 4);
            let area = 4000 + (i * 37 % 2000) as i64; // 40.00 to 59.99 m²
            let rooms = if area >= 5000 { 2 } else { 1 };
            // 2.60 yuan per m² a month.
            let rent = area * 260 / 100;
            csv.push_str(&format!(
                "{estate},{building}号楼,{floor}0{door},廉租房,{}.{:02},{rooms},{floor},{}.{:02},{}\n",
                area / 100,
                area % 100,
                rent / 100,
                rent % 100,
                if floor == 1 && door == 1 { "是" } else { "否" }
            ));
        }
    }
    csv
}

/// The round the bureau runs in late November 2015: the 497 units, former 廉租 families
/// first, then public rental; households register at the community (the reviewer at the
/// counter), a lottery orders them, and they choose in drawn order (one in twenty
/// declines and goes to the end of the list).
async fn allocate(
    state: &AppState,
    clock: &ManualClock,
    bureau: &Principal,
    reviewers: &[Principal],
) -> anyhow::Result<()> {
    use crate::allocation::{offers, rounds, service as stock};
    let e = |e: crate::allocation::AllocationError| anyhow::anyhow!("allocation: {e}");
    let units = stock::import_units(
        state,
        bureau,
        stock_csv().as_bytes(),
        stock::FileFormat::Csv,
    )
    .await
    .map_err(e)?;
    if units.len() != 497 {
        bail!("{} units imported, expected 497", units.len());
    }
    let today = crate::clock::local_date(clock_now(state));
    let round = rounds::create(
        state,
        bureau,
        rounds::NewRound {
            name: "2015年管城区廉租住房实物配租（第一批）".into(),
            method: stock::RankingMethod::Lottery,
            groups: vec![
                crate::applications::form::Programme::LowRent,
                crate::applications::form::Programme::PublicRental,
            ],
            intent_opens_on: today,
            intent_closes_on: today + Duration::days(10),
            projects: vec![],
            unit_ids: units,
        },
    )
    .await
    .map_err(e)?;
    rounds::publish(state, bureau, round.id).await.map_err(e)?;
    let waiting = apps::waiting(
        &state.db,
        &[
            crate::applications::form::Programme::LowRent,
            crate::applications::form::Programme::PublicRental,
        ],
    )
    .await?;
    for (n, case) in waiting.iter().enumerate() {
        // A few households do not come forward.
        if n % 30 == 29 {
            continue;
        }
        let mut done = false;
        for r in reviewers {
            if rounds::register(state, r, case.id, round.id).await.is_ok() {
                done = true;
                break;
            }
        }
        if !done {
            bail!("no reviewer could register case {} for the round", case.id);
        }
    }
    clock.advance(Duration::days(11));
    let closed = rounds::close_registration(state, bureau, round.id)
        .await
        .map_err(e)?;
    clock.advance(Duration::hours(1));
    rounds::draw(
        state,
        bureau,
        round.id,
        closed.secrets,
        "2015-11-26 福彩3D 372".into(),
    )
    .await
    .map_err(e)?;
    let mut n = 0;
    while let Some(entry) = offers::next_in_turn(state, round.id).await? {
        let detail = rounds::detail(state, bureau, round.id).await.map_err(e)?;
        let Some(unit) = detail
            .units
            .iter()
            .find(|u| u.status == stock::Availability::Available)
        else {
            break;
        };
        offers::offer(state, bureau, round.id, entry.application_id, unit.id)
            .await
            .map_err(e)?;
        let answer = offers::Answer {
            accept: n % 20 != 19,
            lease_starts_on: Some(crate::clock::local_date(clock_now(state)) + Duration::days(7)),
        };
        offers::answer(state, bureau, entry.application_id, answer)
            .await
            .map_err(e)?;
        n += 1;
        clock.advance(Duration::minutes(10));
    }
    offers::close(state, bureau, round.id).await.map_err(e)?;
    Ok(())
}

fn clock_now(state: &AppState) -> chrono::DateTime<Utc> {
    state.clock.now()
}

/// Which plan index an online applicant account was made for (its e-mail carries it).
async fn plan_index_of(state: &AppState, user_id: i64) -> anyhow::Result<usize> {
    let user = crate::auth::service::find_user(&state.db, user_id)
        .await?
        .context("user")?;
    let email = user.email.unwrap_or_default();
    Ok(email
        .trim_start_matches("applicant")
        .trim_end_matches("@nanguan.demo")
        .parse()?)
}

/// `anju demo --households N`: N more synthetic households for benchmarks, through the
/// same checks and eligibility engine in bulk (`applications::bulk`), 1,000 per
/// transaction. Done once per database (a second run with any N changes nothing).
pub async fn generate(
    state: &AppState,
    n: u64,
    show_progress: bool,
) -> anyhow::Result<Option<crate::applications::bulk::Imported>> {
    const BULK_MARKER: &str = "demo_households";
    if crate::db::secret(&state.db, BULK_MARKER).await?.is_some() {
        return Ok(None);
    }
    let places = crate::places::service::all(&state.db).await?;
    let communities: Vec<_> = places
        .iter()
        .filter(|p| p.code.starts_with("410104003-"))
        .cloned()
        .collect();
    let mut people = People {
        rng: StdRng::seed_from_u64(n ^ 0x5eed),
        used: HashSet::new(),
    };
    let bar = if show_progress {
        ProgressBar::new(n)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("bulk");
    let start = state.clock.now();
    let mut total = crate::applications::bulk::Imported::default();
    let mut i = 0u64;
    while i < n {
        let end = (i + 1000).min(n);
        let mut chunk = Vec::with_capacity((end - i) as usize);
        for k in i..end {
            let intent = match k % 20 {
                0 => Intent::TooRich,
                1 => Intent::OwnsHome,
                2 | 3 => Intent::LowRent,
                4 => Intent::Migrant,
                _ => Intent::PublicRental,
            };
            let community = communities[(k % communities.len() as u64) as usize].clone();
            let submitted_at = start + Duration::seconds((k * 30) as i64);
            let today = crate::clock::local_date(submitted_at);
            let form: Form = serde_json::from_value(people.household(
                intent,
                &community.code,
                (k % 10_000) as usize,
                today,
            ))?;
            chunk.push(crate::applications::bulk::Incoming {
                form,
                community,
                subdistrict_code: "410104003".into(),
                submitted_at,
            });
        }
        let done = crate::applications::bulk::import(state, chunk).await?;
        total.eligible += done.eligible;
        total.ineligible += done.ineligible;
        total.invalid += done.invalid;
        bar.inc(end - i);
        i = end;
    }
    crate::db::insert_secret(&state.db, BULK_MARKER, &n.to_string()).await?;
    settle(&state.db).await?;
    bar.finish_with_message("done");
    Ok(Some(total))
}

/// After a bulk load: the counter deltas folded and, on PostgreSQL, the planner's
/// statistics refreshed, so the first report and queue page after it are fast.
async fn settle(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    crate::lifecycle::counters::fold_all(db).await?;
    crate::db::analyze(db).await?;
    Ok(())
}

/// The demo's lottery round, and how anyone checks its draw.
async fn print_round(state: &AppState) -> anyhow::Result<()> {
    let Ok(p) = crate::allocation::rounds::published(state, 1).await else {
        return Ok(());
    };
    let Some(file) = p.result else {
        return Ok(());
    };
    let let_units = p
        .entries
        .iter()
        .filter(|e| e.status == crate::allocation::service::EntryStatus::Allocated)
        .count();
    println!(
        "配租 round {}: {} entrants drawn by lottery, {} units let; entrant list SHA-256 {}",
        p.round.name,
        file.order.len(),
        let_units,
        file.entrants_sha256
    );
    println!(
        "verify the draw: curl -s {}/api/v1/public/rounds/{}/lottery -o lottery.json && anju lottery verify lottery.json",
        state.settings.public_url.trim_end_matches('/'),
        p.round.id
    );
    Ok(())
}

/// The clock the demo runs on: 2015-09-01, 09:00 in Zhengzhou.
pub fn demo_clock() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2015, 9, 1, 1, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
    )
}

/// For `anju demo` and `anju serve --demo`: a state on the configured database with the
/// demo clock, then the demo.
pub async fn seed(
    settings: crate::settings::Settings,
    households: Option<u64>,
    show_progress: bool,
) -> anyhow::Result<bool> {
    let clock = demo_clock();
    let state = crate::startup::prepare(settings, Arc::new(clock.clone())).await?;
    let story = run(&state, &clock, show_progress).await?;
    if story {
        print_round(&state).await?;
    }
    if let Some(n) = households {
        let started = std::time::Instant::now();
        match generate(&state, n, show_progress).await? {
            Some(done) => println!(
                "generated {n} households in {:.1} s: {} eligible, {} ineligible, {} invalid",
                started.elapsed().as_secs_f64(),
                done.eligible,
                done.ineligible,
                done.invalid
            ),
            None => println!("the bulk households were generated before; nothing changed"),
        }
    }
    Ok(story)
}
