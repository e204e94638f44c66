//! Allocation rounds (配租方案): the bureau creates one over some units and groups,
//! publishes it (every waiting household of the groups is told), households register
//! intent within the window, registration closes with a re-check of each registrant
//! under the policy in force (动态审核; failures leave the list with reasons), then the
//! registrants are ranked by score, or by the verifiable lottery (entrants, hash and
//! commitments published first; the draw reveals the seed). Offers and answers are in
//! `offers`. Every change to a case goes through the case writer, every change to a unit
//! through the unit writer.

use chrono::{Datelike, NaiveDate};
use entity::enums::Programme;
use entity::{allocation_round, round_entry};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::lottery::{self, Entrant, ResultFile};
use super::repository as repo;
use super::service::{
    AllocationError, EntryStatus, OfferStatus, RankingMethod, RoundStatus, Unit, bureau_only,
};
use crate::access::{Principal, Role};
use crate::applications::service::{self as apps, Viewer};
use crate::applications::{Case, submission::failed_rules};
use crate::clock::local_date;
use crate::eligibility::{self, engine::Facts};
use crate::error::FieldError;
use crate::i18n::{Lang, Msg};
use crate::lifecycle::case_writer::{self, Actor, Change};
use crate::lifecycle::{Action, Status};
use crate::notifications::templates::Facts as MessageFacts;
use crate::state::AppState;
use crate::values::mask_name;

pub type Round = allocation_round::Model;
pub type Entry = round_entry::Model;

/// A round as the bureau asks for it.
#[derive(Clone, Debug)]
pub struct NewRound {
    pub name: String,
    pub method: RankingMethod,
    /// Programmes whose waiting households may register, in priority order.
    pub groups: Vec<Programme>,
    pub intent_opens_on: NaiveDate,
    pub intent_closes_on: NaiveDate,
    /// Every available unit of these projects…
    pub projects: Vec<String>,
    /// …or exactly these units.
    pub unit_ids: Vec<i64>,
}

/// The published commitments of a round (empty before registration closes).
pub fn commitments(r: &Round) -> Vec<String> {
    r.commitments
        .as_deref()
        .map(|c| c.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// The groups of a round, in priority order.
pub fn groups(r: &Round) -> Vec<Programme> {
    r.groups.split(',').filter_map(Programme::parse).collect()
}

fn check_new(r: &NewRound) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = r.name.trim().chars().count();
    if name == 0 || name > 200 {
        errors.push(FieldError::out_of_range("name", 1, 200));
    }
    let mut g = r.groups.clone();
    g.sort();
    g.dedup();
    if r.groups.is_empty() || g.len() != r.groups.len() {
        errors.push(FieldError::new(
            "groups",
            "invalid",
            Msg::new(
                "须列出至少一个保障类别，且不重复",
                "name at least one programme, each once",
            ),
        ));
    }
    if r.intent_closes_on < r.intent_opens_on {
        errors.push(FieldError::new(
            "intent_closes_on",
            "before_opening",
            Msg::new(
                "登记截止日期不能早于开始日期",
                "registration cannot close before it opens",
            ),
        ));
    }
    errors
}

/// Creates a round (draft) over the available units it names.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    new: NewRound,
) -> Result<Round, AllocationError> {
    bureau_only(caller)?;
    let mut errors = check_new(&new);
    let txn = crate::db::begin_write(&state.db).await?;
    let units = repo::available_units(&txn, &new.projects, &new.unit_ids).await?;
    if units.is_empty() || (!new.unit_ids.is_empty() && units.len() != new.unit_ids.len()) {
        errors.push(FieldError::new(
            "unit_ids",
            "units_not_available",
            Msg::new(
                "所列房源须存在且可配租（至少一套）",
                "the units named must exist and be available (at least one)",
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(AllocationError::Invalid(errors));
    }
    let ids: Vec<i64> = units.iter().map(|u| u.id).collect();
    let row = allocation_round::ActiveModel {
        name: Set(new.name.trim().to_string()),
        status: Set(RoundStatus::Draft),
        method: Set(new.method),
        groups: Set(new
            .groups
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(",")),
        intent_opens_on: Set(new.intent_opens_on),
        intent_closes_on: Set(new.intent_closes_on),
        created_by: Set(caller.user_id),
        created_at: Set(state.clock.now()),
        ..Default::default()
    };
    let round = repo::insert_round(&txn, row, &ids).await?;
    txn.commit().await?;
    Ok(round)
}

/// A round with its units, entries and offers.
pub struct RoundDetail {
    pub round: Round,
    pub units: Vec<Unit>,
    pub entries: Vec<Entry>,
    pub offers: Vec<super::offers::Offer>,
}

pub async fn list(state: &AppState, caller: &Principal) -> Result<Vec<Round>, AllocationError> {
    bureau_only(caller)?;
    Ok(repo::rounds(&state.db).await?)
}

pub async fn detail(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<RoundDetail, AllocationError> {
    bureau_only(caller)?;
    detail_of(&state.db, id).await
}

pub(super) async fn detail_of(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<RoundDetail, AllocationError> {
    let round = repo::round(db, id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    let unit_ids = repo::round_unit_ids(db, id).await?;
    let offers = repo::offers(db, id).await?;
    let mut entries = repo::entries(db, id).await?;
    // A household that withdrew or exited while offered had its offer ended by the unit
    // writer, which does not touch the round: it has left the round.
    for e in entries
        .iter_mut()
        .filter(|e| e.status == EntryStatus::Offered)
    {
        let live = offers.iter().any(|o| {
            o.entry_id == e.id && matches!(o.status, OfferStatus::Open | OfferStatus::Accepted)
        });
        if !live {
            e.status = EntryStatus::Left;
        }
    }
    Ok(RoundDetail {
        units: repo::units_by_ids(db, &unit_ids).await?,
        entries,
        offers,
        round,
    })
}

/// Locks the round for a change and checks it is in `status`.
pub(super) async fn locked(
    db: &impl ConnectionTrait,
    id: i64,
    status: RoundStatus,
) -> Result<Round, AllocationError> {
    let round = repo::lock_round(db, id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    if round.status != status {
        return Err(AllocationError::WrongRoundState(round.status));
    }
    Ok(round)
}

/// Publishes a draft round: registration opens and every waiting household of its
/// groups is told (an event and an e-mail each), all in one transaction.
pub async fn publish(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Round, AllocationError> {
    bureau_only(caller)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let round = locked(&txn, id, RoundStatus::Draft).await?;
    let now = state.clock.now();
    if round.intent_closes_on < local_date(now) {
        return Err(AllocationError::conflict(
            "registration_window_past",
            "意向登记截止日期已过，请新建配租方案",
            "The registration window is already over; create a new round",
        ));
    }
    let today = local_date(now);
    // A household barred after declining an offer is not invited: it could not register.
    for case in apps::waiting(&txn, &groups(&round))
        .await?
        .into_iter()
        .filter(|c| barred(c, today).is_ok())
    {
        let Some(locked) = case_writer::lock(&txn, case.id).await? else {
            continue;
        };
        let change = Change::new(Action::InviteIntent, Actor::System).facts(MessageFacts {
            round: round.name.clone(),
            until: round.intent_closes_on.to_string(),
            ..Default::default()
        });
        case_writer::apply(&txn, locked, change, now).await?;
    }
    let round = set_status(&txn, round, RoundStatus::Registration, |_| {}).await?;
    txn.commit().await?;
    Ok(round)
}

pub(super) async fn set_status(
    db: &impl ConnectionTrait,
    round: Round,
    status: RoundStatus,
    more: impl FnOnce(&mut allocation_round::ActiveModel),
) -> Result<Round, DbErr> {
    let mut row: allocation_round::ActiveModel = round.clone().into();
    row.status = Set(status);
    more(&mut row);
    repo::update_round(db, row).await?;
    Ok(repo::round(db, round.id).await?.unwrap_or(round))
}

/// The household registers its intent (意向登记) in an open round, online or at the
/// community's counter (a reviewer in scope).
pub async fn register(
    state: &AppState,
    caller: &Principal,
    application_id: i64,
    round_id: i64,
) -> Result<Entry, AllocationError> {
    let viewer = Viewer::of(state, caller).await?;
    if !matches!(viewer.role, Role::Applicant | Role::Reviewer) {
        return Err(AllocationError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let round = repo::lock_round(&txn, round_id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    let case = apps::lock_visible(&txn, &viewer, application_id).await?;
    let now = state.clock.now();
    let today = local_date(now);
    let c = case.case().clone();
    let group = c
        .programme
        .and_then(|p| groups(&round).iter().position(|g| *g == p));
    if round.status != RoundStatus::Registration
        || today < round.intent_opens_on
        || today > round.intent_closes_on
    {
        return Err(AllocationError::conflict(
            "registration_closed",
            format!(
                "本轮意向登记时间为 {} 至 {}，现在不能登记",
                round.intent_opens_on, round.intent_closes_on
            ),
            format!(
                "Registration for this round runs from {} to {}; it is not open now",
                round.intent_opens_on, round.intent_closes_on
            ),
        ));
    }
    let Some(group) = group.filter(|_| c.status == Status::Waitlisted) else {
        return Err(AllocationError::conflict(
            "not_in_round_groups",
            "只有本轮所列保障类别的轮候家庭可以登记",
            "Only waiting households of the round's programmes may register",
        ));
    };
    barred(&c, today)?;
    if repo::entries_of_case(&txn, c.id)
        .await?
        .iter()
        .any(|e| e.round_id == round.id)
    {
        return Err(AllocationError::conflict(
            "already_registered",
            "已登记过本轮意向",
            "Already registered in this round",
        ));
    }
    let entry = repo::insert_entry(
        &txn,
        round_entry::ActiveModel {
            round_id: Set(round.id),
            application_id: Set(c.id),
            code: Set(c.number.clone().unwrap_or_else(|| c.id.to_string())),
            masked_name: Set(mask_name(c.applicant_name.as_deref().unwrap_or(""))),
            group_rank: Set(group as i32),
            waitlist_number: Set(c.waitlist_number.unwrap_or(i64::MAX)),
            status: Set(EntryStatus::Registered),
            registered_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    case_writer::apply(
        &txn,
        case,
        Change::new(Action::RegisterIntent, viewer.actor()),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(entry)
}

/// A household barred after declining may not register or be offered before the day.
pub(super) fn barred(c: &Case, today: NaiveDate) -> Result<(), AllocationError> {
    match c.barred_until {
        Some(day) if day > today => Err(AllocationError::conflict(
            "barred",
            format!("因放弃选房，{day} 前不能参加配租"),
            format!("After declining an offer the household may not take part before {day}"),
        )),
        _ => Ok(()),
    }
}

/// What closing registration gave: the round, and for a lottery the officials' secrets,
/// shown this once (anju keeps only their SHA-256, the published commitments).
pub struct Closed {
    pub round: Round,
    pub secrets: Vec<String>,
    pub failed_recheck: usize,
}

/// Closes registration after the window: re-checks every registrant, then ranks by
/// score, or publishes the entrant list, its hash and the commitments for the draw.
pub async fn close_registration(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Closed, AllocationError> {
    bureau_only(caller)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let round = locked(&txn, id, RoundStatus::Registration).await?;
    let now = state.clock.now();
    let today = local_date(now);
    if today <= round.intent_closes_on {
        return Err(AllocationError::conflict(
            "registration_open",
            format!(
                "意向登记至 {} 截止，截止后才能审核排序",
                round.intent_closes_on
            ),
            format!(
                "Registration runs until {}; ranking starts after it closes",
                round.intent_closes_on
            ),
        ));
    }
    let mut passed = Vec::new();
    let mut failed_recheck = 0;
    for entry in repo::entries(&txn, id).await? {
        match recheck(&txn, &entry, today, now).await? {
            Rechecked::Stays(case) => passed.push((entry, *case)),
            Rechecked::Failed => failed_recheck += 1,
            Rechecked::Gone => {}
        }
    }
    let (round, secrets) = match round.method {
        RankingMethod::Score => {
            let ranked = score_all(state, &passed, today).await?;
            (publish_ranking(&txn, round, &ranked, now).await?, vec![])
        }
        RankingMethod::Lottery => commit_to_draw(&txn, round, &passed).await?,
    };
    txn.commit().await?;
    Ok(Closed {
        round,
        secrets,
        failed_recheck,
    })
}

/// What the re-check of one registrant came to.
enum Rechecked {
    /// Still qualifies: stays in the round.
    Stays(Box<Case>),
    /// No longer qualifies: left the waiting list, with reasons.
    Failed,
    /// Withdrew or left the list otherwise since registering.
    Gone,
}

/// Re-checks one registrant.
async fn recheck(
    db: &impl ConnectionTrait,
    entry: &Entry,
    today: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Rechecked, AllocationError> {
    let Some(locked) = case_writer::lock(db, entry.application_id).await? else {
        return Ok(Rechecked::Gone);
    };
    let case = locked.case().clone();
    if case.status != Status::Waitlisted {
        repo::set_entry(db, entry.id, EntryStatus::Left, None, None, None).await?;
        return Ok(Rechecked::Gone);
    }
    let Some(standing) = apps::standing(&case, today)? else {
        // A stored form that no longer validates is not guessed at: it stays in.
        return Ok(Rechecked::Stays(Box::new(case)));
    };
    let Some(decision) =
        eligibility::service::decide(db, &standing.input, today, &Facts::default()).await?
    else {
        return Ok(Rechecked::Stays(Box::new(case)));
    };
    if decision.eligible {
        return Ok(Rechecked::Stays(Box::new(case)));
    }
    let lang = Lang::from(case.language);
    let change = Change::new(Action::FailRecheck, Actor::System)
        .reason(Some("recheck_failed".into()))
        .columns(crate::applications::CaseColumns {
            reverify_due_on: Set(None),
            policy_version: Set(Some(decision.policy_version.clone())),
            ..Default::default()
        })
        .facts(MessageFacts {
            failed: failed_rules(&decision, lang),
            ..Default::default()
        });
    let done = case_writer::apply(db, locked, change, now).await?;
    eligibility::service::record(db, case.id, done.event_id, &decision, now).await?;
    let why = failed_rules(&decision, Lang::Zh).join("；");
    repo::set_entry(
        db,
        entry.id,
        EntryStatus::FailedRecheck,
        None,
        None,
        Some(why),
    )
    .await?;
    Ok(Rechecked::Failed)
}

/// Whole months from `from` to `to`.
fn months(from: NaiveDate, to: NaiveDate) -> i32 {
    let mut m = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    if to.day() < from.day() {
        m -= 1;
    }
    m.max(0)
}

/// Each registrant's points under the policy in force for its programme, ranked: group,
/// then score (highest first), then waiting-list number (earliest first).
async fn score_all(
    state: &AppState,
    passed: &[(Entry, Case)],
    today: NaiveDate,
) -> Result<Vec<(Entry, i32)>, AllocationError> {
    let mut scored = Vec::with_capacity(passed.len());
    for (entry, case) in passed {
        let programme = case.programme.unwrap_or(Programme::PublicRental);
        let rules = eligibility::service::policy_in_force_cached(state, programme, today)
            .await?
            .map(|p| p.allocation.clone())
            .unwrap_or_default();
        let s = apps::standing(case, today)?;
        let count = |f: fn(&apps::Standing) -> i32| s.as_ref().map_or(0, f);
        let waited = months(local_date(case.status_since), today);
        let score = count(|s| s.members_over_60) * rules.points_per_member_over_60
            + count(|s| s.disabled_members) * rules.points_per_disabled_member
            + count(|s| s.seriously_ill_members) * rules.points_per_seriously_ill_member
            + waited * rules.points_per_month_waiting;
        scored.push((entry.clone(), score));
    }
    scored.sort_by(|(a, sa), (b, sb)| {
        (a.group_rank, -sa, a.waitlist_number, a.id).cmp(&(
            b.group_rank,
            -sb,
            b.waitlist_number,
            b.id,
        ))
    });
    Ok(scored)
}

/// Gives each entry its place (in the order given) and tells each household.
async fn publish_ranking(
    db: &impl ConnectionTrait,
    round: Round,
    ranked: &[(Entry, i32)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Round, AllocationError> {
    for (place, (entry, score)) in ranked.iter().enumerate() {
        let rank = place as i32 + 1;
        let score = (round.method == RankingMethod::Score).then_some(*score);
        let Some(locked) = case_writer::lock(db, entry.application_id).await? else {
            continue;
        };
        if locked.case().status != Status::Waitlisted {
            repo::set_entry(
                db,
                entry.id,
                EntryStatus::Left,
                Some(Some(rank)),
                Some(score),
                None,
            )
            .await?;
            continue;
        }
        repo::set_entry(
            db,
            entry.id,
            EntryStatus::Ranked,
            Some(Some(rank)),
            Some(score),
            None,
        )
        .await?;
        let change = Change::new(Action::Rank, Actor::System).facts(MessageFacts {
            round: round.name.clone(),
            position: rank,
            ..Default::default()
        });
        case_writer::apply(db, locked, change, now).await?;
    }
    Ok(set_status(db, round, RoundStatus::Ranked, |r| {
        r.ranked_at = Set(Some(now))
    })
    .await?)
}

/// Publishes the entrant list, its SHA-256 and the commitments to two fresh secrets.
async fn commit_to_draw(
    db: &impl ConnectionTrait,
    round: Round,
    passed: &[(Entry, Case)],
) -> Result<(Round, Vec<String>), AllocationError> {
    let mut entrants: Vec<&Entry> = passed.iter().map(|(e, _)| e).collect();
    entrants.sort_by_key(|e| (e.group_rank, e.waitlist_number, e.id));
    let list = lottery::entrant_list(
        &entrants
            .iter()
            .map(|e| Entrant {
                group: e.group_rank as u32,
                code: e.code.clone(),
                masked_name: e.masked_name.clone(),
            })
            .collect::<Vec<_>>(),
    );
    let (secrets, commitments) = fresh_secrets();
    let sha = lottery::sha256_hex(list.as_bytes());
    let round = set_status(db, round, RoundStatus::Drawing, |r| {
        r.entrants = Set(Some(list));
        r.entrants_sha256 = Set(Some(sha));
        r.commitments = Set(Some(commitments.join(",")));
    })
    .await?;
    Ok((round, secrets))
}

/// New secrets and commitments before the draw, when the ones shown at the close of
/// registration were lost (the answer never arrived, an envelope went missing). Safe
/// because the order also depends on the public value, unknown until the draw: renewing
/// the secrets cannot choose the order. The old commitments no longer verify anything.
pub async fn renew_secrets(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Closed, AllocationError> {
    bureau_only(caller)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let round = locked(&txn, id, RoundStatus::Drawing).await?;
    let (secrets, commitments) = fresh_secrets();
    let round = set_status(&txn, round, RoundStatus::Drawing, |r| {
        r.commitments = Set(Some(commitments.join(",")));
    })
    .await?;
    txn.commit().await?;
    Ok(Closed {
        round,
        secrets,
        failed_recheck: 0,
    })
}

/// Two fresh secrets and their SHA-256 (the commitments).
fn fresh_secrets() -> (Vec<String>, Vec<String>) {
    let secrets = vec![lottery::new_secret(), lottery::new_secret()];
    let commitments = secrets
        .iter()
        .map(|s| lottery::sha256_hex(s.as_bytes()))
        .collect();
    (secrets, commitments)
}

/// The draw: the officials' secrets are checked against the commitments, the public
/// value is entered, the order computed and published with everything needed to check
/// it, and the ranking published.
pub async fn draw(
    state: &AppState,
    caller: &Principal,
    id: i64,
    secrets: Vec<String>,
    public_value: String,
) -> Result<ResultFile, AllocationError> {
    bureau_only(caller)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let round = locked(&txn, id, RoundStatus::Drawing).await?;
    let commitments = commitments(&round);
    let secrets: Vec<String> = secrets.iter().map(|s| s.trim().to_lowercase()).collect();
    let public_value = public_value.trim().to_string();
    let mut errors = Vec::new();
    for (i, c) in commitments.iter().enumerate() {
        let given = secrets.get(i).map(|s| lottery::sha256_hex(s.as_bytes()));
        if given.as_ref() != Some(c) {
            errors.push(FieldError::new(
                format!("secrets[{i}]"),
                "commitment_mismatch",
                Msg::new(
                    "与摇号前公布的承诺值不符",
                    "does not match the commitment published before the draw",
                ),
            ));
        }
    }
    if secrets.len() > commitments.len() {
        errors.push(FieldError::out_of_range("secrets", 2, 2));
    }
    let len = public_value.chars().count();
    if len == 0 || len > 200 {
        errors.push(FieldError::out_of_range("public_value", 1, 200));
    }
    if !errors.is_empty() {
        return Err(AllocationError::Invalid(errors));
    }
    let list = round.entrants.clone().unwrap_or_default();
    let entrants = lottery::parse_entrant_list(&list)
        .ok_or_else(|| DbErr::Custom(format!("round {id}: stored entrant list unreadable")))?;
    let sha = round.entrants_sha256.clone().unwrap_or_default();
    let seed = lottery::seed(&sha, &secrets, &public_value);
    let now = state.clock.now();
    let file = ResultFile {
        algorithm: lottery::ALGORITHM.into(),
        round_id: round.id,
        round_name: round.name.clone(),
        entrants: list,
        entrants_sha256: sha,
        commitments,
        secrets,
        public_value,
        seed: hex::encode(seed),
        order: lottery::draw(&entrants, seed),
        drawn_at: now.to_rfc3339(),
    };
    let by_code = repo::entries(&txn, id).await?;
    let ranked: Vec<(Entry, i32)> = file
        .order
        .iter()
        .filter_map(|code| by_code.iter().find(|e| &e.code == code).cloned())
        .map(|e| (e, 0))
        .collect();
    let json = serde_json::to_string_pretty(&file).map_err(|e| DbErr::Json(e.to_string()))?;
    let round = set_status(&txn, round, RoundStatus::Drawing, |r| {
        r.result = Set(Some(json))
    })
    .await?;
    publish_ranking(&txn, round, &ranked, now).await?;
    txn.commit().await?;
    Ok(file)
}

/// What anyone may see of a round once registration closed (排序公示): the entrant list
/// with its hash and the commitments, the ranking with masked names, the result file.
pub struct Published {
    pub round: Round,
    pub entries: Vec<Entry>,
    pub result: Option<ResultFile>,
}

pub async fn published(state: &AppState, id: i64) -> Result<Published, AllocationError> {
    let round = repo::round(&state.db, id)
        .await?
        .filter(|r| !matches!(r.status, RoundStatus::Draft))
        .ok_or(AllocationError::NotFound)?;
    let entries = repo::entries(&state.db, id)
        .await?
        .into_iter()
        .filter(|e| e.rank.is_some())
        .collect();
    let result = match &round.result {
        Some(json) => Some(serde_json::from_str(json).map_err(|e| DbErr::Json(e.to_string()))?),
        None => None,
    };
    Ok(Published {
        round,
        entries,
        result,
    })
}

/// Rounds open for registration that a household of `programme` may join.
pub async fn open_for(
    db: &impl ConnectionTrait,
    programme: Option<Programme>,
    today: NaiveDate,
) -> Result<Vec<Round>, DbErr> {
    Ok(repo::rounds_in(db, RoundStatus::Registration)
        .await?
        .into_iter()
        .filter(|r| {
            programme.is_some_and(|p| groups(r).contains(&p))
                && r.intent_opens_on <= today
                && today <= r.intent_closes_on
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_whole_months() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(months(d("2015-01-31"), d("2015-02-28")), 0);
        assert_eq!(months(d("2015-01-15"), d("2015-03-15")), 2);
        assert_eq!(months(d("2015-03-15"), d("2015-01-15")), 0);
    }
}
