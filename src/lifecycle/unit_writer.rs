//! The unit writer: the only code that changes a housing unit's status or an offer's,
//! and the only code that writes a unit's history (`unit_event`). Every change is
//! conditional on the status it starts from, so two transactions racing for one unit
//! cannot both win: on PostgreSQL the second `UPDATE` waits for the first's row lock,
//! re-reads the row and matches nothing; on SQLite writes are serialised. Behind that,
//! a unique index on (unit, live marker) keeps a unit to one open offer or running lease.

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{OfferStatus, UnitStatus};
use entity::{housing_unit, unit_event, unit_offer};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

/// Who and what a unit change belongs to, for its history.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub application_id: Option<i64>,
    pub round_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub note: Option<String>,
}

/// Moves a unit to `to` if it is now in one of `from`; `false` (and nothing written)
/// if it is not, or there is no such unit.
pub async fn move_unit(
    db: &impl ConnectionTrait,
    unit_id: i64,
    from: &[UnitStatus],
    to: UnitStatus,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(unit) = housing_unit::Entity::find_by_id(unit_id).one(db).await? else {
        return Ok(false);
    };
    if !from.contains(&unit.status) {
        return Ok(false);
    }
    use housing_unit::Column as C;
    let moved = housing_unit::Entity::update_many()
        .col_expr(C::Status, Expr::value(to))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(unit_id))
        .filter(C::Status.eq(unit.status))
        .exec(db)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(false);
    }
    record(db, unit_id, Some(unit.status), to, ctx, now).await?;
    Ok(true)
}

/// Writes one line of a unit's history.
pub async fn record(
    db: &impl ConnectionTrait,
    unit_id: i64,
    from: Option<UnitStatus>,
    to: UnitStatus,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    unit_event::Entity::insert(unit_event::ActiveModel {
        unit_id: Set(unit_id),
        from_status: Set(from),
        to_status: Set(to),
        application_id: Set(ctx.application_id),
        round_id: Set(ctx.round_id),
        actor_id: Set(ctx.actor_id),
        note: Set(ctx.note.clone()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The history of new units: one line each, "added as available".
pub async fn record_new(
    db: &impl ConnectionTrait,
    units: &[(i64, UnitStatus)],
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if units.is_empty() {
        return Ok(());
    }
    let rows = units.iter().map(|(id, status)| unit_event::ActiveModel {
        unit_id: Set(*id),
        from_status: Set(None),
        to_status: Set(*status),
        actor_id: Set(actor_id),
        note: Set(Some("imported".into())),
        created_at: Set(now),
        ..Default::default()
    });
    unit_event::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Offers an available unit: the unit becomes `offered` and the offer is written;
/// `None` if the unit is not available any more.
pub async fn offer(
    db: &impl ConnectionTrait,
    offer: unit_offer::ActiveModel,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<Option<unit_offer::Model>, DbErr> {
    let unit_id = *offer.unit_id.as_ref();
    let taken = move_unit(
        db,
        unit_id,
        &[UnitStatus::Available],
        UnitStatus::Offered,
        ctx,
        now,
    )
    .await?;
    if !taken {
        return Ok(None);
    }
    let row = unit_offer::ActiveModel {
        status: Set(OfferStatus::Open),
        live_marker: Set(Some(1)),
        created_at: Set(now),
        ..offer
    };
    Ok(Some(
        unit_offer::Entity::insert(row)
            .exec_with_returning(db)
            .await?,
    ))
}

/// Answers an open offer: accepted lets the unit from `lease_starts_on`, declined puts it
/// back in the stock. `None` if the offer is not open (already answered or ended).
pub async fn answer(
    db: &impl ConnectionTrait,
    offer_id: i64,
    accept: Option<NaiveDate>,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<Option<unit_offer::Model>, DbErr> {
    use unit_offer::Column as C;
    let Some(offer) = unit_offer::Entity::find_by_id(offer_id).one(db).await? else {
        return Ok(None);
    };
    let (status, marker) = match accept {
        Some(_) => (OfferStatus::Accepted, Some(1)),
        None => (OfferStatus::Declined, None),
    };
    let done = unit_offer::Entity::update_many()
        .col_expr(C::Status, Expr::value(status))
        .col_expr(C::LiveMarker, Expr::value(marker))
        .col_expr(C::LeaseStartsOn, Expr::value(accept))
        .col_expr(C::AnsweredAt, Expr::value(Some(now)))
        .filter(C::Id.eq(offer_id))
        .filter(C::Status.eq(OfferStatus::Open))
        .exec(db)
        .await?;
    if done.rows_affected != 1 {
        return Ok(None);
    }
    let to = if accept.is_some() {
        UnitStatus::Let
    } else {
        UnitStatus::Available
    };
    let moved = move_unit(db, offer.unit_id, &[UnitStatus::Offered], to, ctx, now).await?;
    if !moved {
        // An open offer's unit is always `offered`; anything else is a broken invariant,
        // and the caller's transaction must not commit half of it.
        return Err(DbErr::Custom(format!(
            "unit {} of open offer {offer_id} was not offered",
            offer.unit_id
        )));
    }
    unit_offer::Entity::find_by_id(offer_id).one(db).await
}

/// A household leaves (withdraws, exits): its open offer or running lease ends and the
/// unit returns to the stock. Returns the units released.
pub async fn release_for_case(
    db: &impl ConnectionTrait,
    application_id: i64,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    use unit_offer::Column as C;
    let live = unit_offer::Entity::find()
        .filter(C::ApplicationId.eq(application_id))
        .filter(C::LiveMarker.is_not_null())
        .order_by_asc(C::Id)
        .all(db)
        .await?;
    let mut released = Vec::new();
    for offer in live {
        unit_offer::Entity::update_many()
            .col_expr(C::Status, Expr::value(OfferStatus::Ended))
            .col_expr(C::LiveMarker, Expr::value(Option::<i32>::None))
            .col_expr(
                C::AnsweredAt,
                Expr::value(Some(offer.answered_at.unwrap_or(now))),
            )
            .filter(C::Id.eq(offer.id))
            .exec(db)
            .await?;
        let ctx = Context {
            application_id: Some(application_id),
            round_id: Some(offer.round_id),
            actor_id,
            note: Some("household left the programme".into()),
        };
        if move_unit(
            db,
            offer.unit_id,
            &[UnitStatus::Offered, UnitStatus::Let],
            UnitStatus::Available,
            &ctx,
            now,
        )
        .await?
        {
            released.push(offer.unit_id);
        }
    }
    Ok(released)
}

/// A unit's history, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    unit_id: i64,
) -> Result<Vec<unit_event::Model>, DbErr> {
    unit_event::Entity::find()
        .filter(unit_event::Column::UnitId.eq(unit_id))
        .order_by_asc(unit_event::Column::Id)
        .all(db)
        .await
}

/// A unit's history line, as other domains read it.
pub type UnitEvent = unit_event::Model;
