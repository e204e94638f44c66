//! Choosing units (选房): the bureau offers a unit of the round to the household whose
//! turn it is (the best-ranked household still waiting), the household accepts (the
//! unit is let and the case `allocated`, with the lease's start) or declines (the policy's
//! penalty: a new number at the end of the list, or a bar for some months). The unit
//! writer makes sure a unit has one open offer or lease at most.

use chrono::{Months, NaiveDate};
use entity::enums::Programme;
use entity::unit_offer;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::repository as repo;
use super::rounds::{self, Entry, Round};
use super::service::{
    AllocationError, EntryStatus, OfferStatus, RoundStatus, Unit, bureau_only, describe,
};
use crate::access::{Principal, Role};
use crate::applications::service::{self as apps, Viewer};
use crate::clock::local_date;
use crate::eligibility::{self, policy::DeclinePenalty};
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::case_writer::{self, Change};
use crate::lifecycle::unit_writer::{self, Context};
use crate::lifecycle::{Action, Status};
use crate::notifications::templates::Facts as MessageFacts;
use crate::state::AppState;

pub type Offer = unit_offer::Model;

/// The entry whose turn it is: the best-ranked one still ranked whose household is
/// still waiting and not barred.
async fn turn(
    db: &impl ConnectionTrait,
    round_id: i64,
    today: NaiveDate,
) -> Result<Option<Entry>, DbErr> {
    let entries: Vec<Entry> = repo::entries(db, round_id)
        .await?
        .into_iter()
        .filter(|e| e.status == EntryStatus::Ranked && e.rank.is_some())
        .collect();
    let ids: Vec<i64> = entries.iter().map(|e| e.application_id).collect();
    let cases = apps::by_ids(db, &ids).await?;
    Ok(entries.into_iter().find(|e| {
        cases.iter().any(|c| {
            c.id == e.application_id
                && c.status == Status::Waitlisted
                && c.barred_until.is_none_or(|d| d <= today)
        })
    }))
}

/// The household whose turn it is in a ranked round, if any.
pub async fn next_in_turn(state: &AppState, round_id: i64) -> Result<Option<Entry>, DbErr> {
    turn(&state.db, round_id, local_date(state.clock.now())).await
}

/// Offers a unit of the round to a household, in rank order.
pub async fn offer(
    state: &AppState,
    caller: &Principal,
    round_id: i64,
    application_id: i64,
    unit_id: i64,
) -> Result<Offer, AllocationError> {
    bureau_only(caller)?;
    let viewer = Viewer::of(state, caller).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let round = rounds::locked(&txn, round_id, RoundStatus::Ranked).await?;
    let case = apps::lock_visible(&txn, &viewer, application_id).await?;
    let now = state.clock.now();
    let today = local_date(now);
    let entries = repo::entries(&txn, round_id).await?;
    let Some(entry) = entries
        .iter()
        .find(|e| e.application_id == application_id)
        .cloned()
    else {
        return Err(AllocationError::NotFound);
    };
    let next = turn(&txn, round_id, today).await?;
    if entry.status != EntryStatus::Ranked || next.as_ref().map(|e| e.id) != Some(entry.id) {
        let (zh, en) = match &next {
            Some(n) => (
                format!(
                    "按排序应先为第 {} 位（{}）选房",
                    n.rank.unwrap_or(0),
                    n.code
                ),
                format!(
                    "In rank order, number {} ({}) chooses first",
                    n.rank.unwrap_or(0),
                    n.code
                ),
            ),
            None => (
                "本轮已没有等待选房的家庭".into(),
                "Nobody in this round is waiting to choose".into(),
            ),
        };
        return Err(AllocationError::conflict("not_in_turn", zh, en));
    }
    rounds::barred(case.case(), today)?;
    if !repo::round_unit_ids(&txn, round_id)
        .await?
        .contains(&unit_id)
    {
        return Err(AllocationError::Invalid(vec![FieldError::new(
            "unit_id",
            "unit_not_in_round",
            Msg::new(
                "该房源不在本轮配租房源中",
                "the unit is not one of this round's",
            ),
        )]));
    }
    let unit = repo::unit(&txn, unit_id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    let ctx = Context {
        application_id: Some(application_id),
        round_id: Some(round_id),
        actor_id: Some(caller.user_id),
        note: None,
    };
    let row = unit_offer::ActiveModel {
        round_id: Set(round_id),
        entry_id: Set(entry.id),
        application_id: Set(application_id),
        unit_id: Set(unit_id),
        created_by: Set(Some(caller.user_id)),
        ..Default::default()
    };
    let Some(offer) = unit_writer::offer(&txn, row, &ctx, now).await? else {
        return Err(unit_taken(&unit));
    };
    let change = Change::new(Action::OfferUnit, viewer.actor()).facts(MessageFacts {
        round: round.name.clone(),
        unit: describe(&unit),
        ..Default::default()
    });
    case_writer::apply(&txn, case, change, now).await?;
    repo::set_entry(&txn, entry.id, EntryStatus::Offered, None, None, None).await?;
    txn.commit().await?;
    Ok(offer)
}

fn unit_taken(unit: &Unit) -> AllocationError {
    AllocationError::conflict(
        "unit_not_available",
        format!("房源 {} 当前为 {}，不能再提供", describe(unit), unit.status),
        format!(
            "{} is {} and cannot be offered",
            describe(unit),
            unit.status
        ),
    )
}

/// The household's answer (or the bureau's record of it at the choosing desk).
pub struct Answer {
    pub accept: bool,
    /// For an acceptance: when the lease starts (today when not given).
    pub lease_starts_on: Option<NaiveDate>,
}

/// What an answer came to.
pub struct Answered {
    pub offer: Offer,
    pub unit: Unit,
    /// After declining: the new waiting-list number, or the bar's last day.
    pub waitlist_number: Option<i64>,
    pub barred_until: Option<NaiveDate>,
}

/// Accepts or declines the case's open offer.
pub async fn answer(
    state: &AppState,
    caller: &Principal,
    application_id: i64,
    answer: Answer,
) -> Result<Answered, AllocationError> {
    let viewer = Viewer::of(state, caller).await?;
    if !matches!(viewer.role, Role::Applicant | Role::Bureau) {
        return Err(AllocationError::Forbidden);
    }
    let now = state.clock.now();
    let today = local_date(now);
    let start = answer.lease_starts_on.unwrap_or(today);
    if answer.accept && (start < today || start > today + chrono::Duration::days(90)) {
        return Err(AllocationError::Invalid(vec![FieldError::new(
            "lease_starts_on",
            "out_of_range",
            Msg::new(
                "租赁起始日须在今天起 90 天内",
                "the lease must start within 90 days from today",
            ),
        )]));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    // Seen before locking (to find the round), checked again under the lock.
    let seen = apps::visible(&txn, &viewer, application_id).await?;
    let Some(open) = repo::open_offer_of_case(&txn, seen.id).await? else {
        return Err(no_open_offer());
    };
    let round = repo::lock_round(&txn, open.round_id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    let case = apps::lock_visible(&txn, &viewer, application_id).await?;
    let unit = repo::unit(&txn, open.unit_id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    let ctx = Context {
        application_id: Some(application_id),
        round_id: Some(round.id),
        actor_id: Some(caller.user_id),
        note: None,
    };
    let accept = answer.accept.then_some(start);
    let Some(offer) = unit_writer::answer(&txn, open.id, accept, &ctx, now).await? else {
        return Err(no_open_offer());
    };
    let mut columns = crate::applications::CaseColumns::default();
    let (mut number, mut bar) = (None, None);
    if !answer.accept {
        let programme = case.case().programme.unwrap_or(Programme::PublicRental);
        let rules = eligibility::service::policy_in_force_cached(state, programme, today)
            .await?
            .map(|p| p.allocation.clone())
            .unwrap_or_default();
        match rules.decline_penalty {
            DeclinePenalty::EndOfList => {
                let n = crate::db::next_in_sequence(&txn, &format!("waitlist:{programme}")).await?;
                columns.waitlist_number = Set(Some(n));
                number = Some(n);
            }
            DeclinePenalty::Bar => {
                let until = today.checked_add_months(Months::new(rules.decline_bar_months as u32));
                columns.barred_until = Set(until);
                bar = until;
            }
        }
    }
    let (action, status) = if answer.accept {
        (Action::AcceptOffer, EntryStatus::Allocated)
    } else {
        (Action::DeclineOffer, EntryStatus::Declined)
    };
    let change = Change::new(action, viewer.actor())
        .columns(columns)
        .facts(MessageFacts {
            round: round.name.clone(),
            unit: describe(&unit),
            until: start.to_string(),
            barred_until: bar.map(|d| d.to_string()).unwrap_or_default(),
            ..Default::default()
        });
    case_writer::apply(&txn, case, change, now).await?;
    repo::set_entry(&txn, offer.entry_id, status, None, None, None).await?;
    let unit = repo::unit(&txn, unit.id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    txn.commit().await?;
    Ok(Answered {
        offer,
        unit,
        waitlist_number: number,
        barred_until: bar,
    })
}

fn no_open_offer() -> AllocationError {
    AllocationError::conflict(
        "no_open_offer",
        "没有待答复的房源",
        "There is no offer waiting for an answer",
    )
}

/// Closes a ranked round once no offer is open; units not let stay in the stock.
pub async fn close(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Round, AllocationError> {
    bureau_only(caller)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let round = rounds::locked(&txn, id, RoundStatus::Ranked).await?;
    if repo::offers(&txn, id)
        .await?
        .iter()
        .any(|o| o.status == OfferStatus::Open)
    {
        return Err(AllocationError::conflict(
            "offers_open",
            "仍有待答复的房源，不能结束本轮",
            "Offers are still waiting for an answer",
        ));
    }
    let now = state.clock.now();
    let round = rounds::set_status(&txn, round, RoundStatus::Closed, |r| {
        r.closed_at = Set(Some(now))
    })
    .await?;
    txn.commit().await?;
    Ok(round)
}

/// A round's figures: units offered, accepted, declined, still vacant; households by
/// where they stand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub units: usize,
    pub units_offered: usize,
    pub offers_accepted: usize,
    pub offers_declined: usize,
    pub units_vacant: usize,
    pub registered: usize,
    pub failed_recheck: usize,
    pub ranked: usize,
    pub allocated: usize,
    pub declined: usize,
    pub left: usize,
}

pub async fn report(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Report, AllocationError> {
    bureau_only(caller)?;
    let d = rounds::detail_of(&state.db, id).await?;
    Ok(report_of(&d))
}

pub fn report_of(d: &rounds::RoundDetail) -> Report {
    let mut offered: Vec<i64> = d.offers.iter().map(|o| o.unit_id).collect();
    offered.sort_unstable();
    offered.dedup();
    let let_here: Vec<i64> = d
        .offers
        .iter()
        .filter(|o| o.status == OfferStatus::Accepted)
        .map(|o| o.unit_id)
        .collect();
    let count = |s: EntryStatus| d.entries.iter().filter(|e| e.status == s).count();
    Report {
        units: d.units.len(),
        units_offered: offered.len(),
        offers_accepted: let_here.len(),
        offers_declined: d
            .offers
            .iter()
            .filter(|o| o.status == OfferStatus::Declined)
            .count(),
        units_vacant: d.units.iter().filter(|u| !let_here.contains(&u.id)).count(),
        registered: d.entries.len(),
        failed_recheck: count(EntryStatus::FailedRecheck),
        ranked: d.entries.iter().filter(|e| e.rank.is_some()).count(),
        allocated: count(EntryStatus::Allocated),
        declined: count(EntryStatus::Declined),
        left: count(EntryStatus::Left),
    }
}

/// What a household sees of allocation on its case: rounds it may register in (and
/// whether it has), its entries, and its open offer or lease with the unit.
pub struct CaseAllocation {
    pub open_rounds: Vec<(Round, bool)>,
    pub entries: Vec<(Entry, String)>,
    pub offers: Vec<(Offer, Unit)>,
}

pub async fn for_case(
    state: &AppState,
    caller: &Principal,
    application_id: i64,
) -> Result<CaseAllocation, AllocationError> {
    let viewer = Viewer::of(state, caller).await?;
    let case = apps::visible(&state.db, &viewer, application_id).await?;
    let today = local_date(state.clock.now());
    let entries = repo::entries_of_case(&state.db, case.id).await?;
    let mut open_rounds = Vec::new();
    if case.status == Status::Waitlisted && rounds::barred(&case, today).is_ok() {
        for r in rounds::open_for(&state.db, case.programme, today).await? {
            let registered = entries.iter().any(|e| e.round_id == r.id);
            open_rounds.push((r, registered));
        }
    }
    let mut named = Vec::new();
    for e in entries {
        let name = repo::round(&state.db, e.round_id)
            .await?
            .map(|r| r.name)
            .unwrap_or_default();
        named.push((e, name));
    }
    let mut offers = Vec::new();
    for o in repo::offers_of_case(&state.db, case.id).await? {
        if let Some(u) = repo::unit(&state.db, o.unit_id).await? {
            offers.push((o, u));
        }
    }
    Ok(CaseAllocation {
        open_rounds,
        entries: named,
        offers,
    })
}
