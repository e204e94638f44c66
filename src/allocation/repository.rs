//! Every sea-orm call of the allocation domain. Private to it.

use chrono::{DateTime, Utc};
use entity::enums::{EntryStatus, OfferStatus, RoundStatus, UnitStatus};
use entity::{allocation_round, housing_unit, round_entry, round_unit, unit_offer};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::stock::NewUnit;

/// Units that already exist at any of these addresses.
pub async fn existing_addresses(
    db: &impl ConnectionTrait,
    projects: &[String],
) -> Result<Vec<(String, String, String)>, DbErr> {
    use housing_unit::Column as C;
    housing_unit::Entity::find()
        .select_only()
        .columns([C::Project, C::Building, C::UnitNo])
        .filter(C::Project.is_in(projects.iter().cloned()))
        .into_tuple()
        .all(db)
        .await
}

/// Inserts new units (available), returning their ids in order.
pub async fn insert_units(
    db: &impl ConnectionTrait,
    units: &[NewUnit],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let mut ids = Vec::with_capacity(units.len());
    for chunk in units.chunks(500) {
        let rows = chunk.iter().map(|u| housing_unit::ActiveModel {
            project: Set(u.project.clone()),
            building: Set(u.building.clone()),
            unit_no: Set(u.unit_no.clone()),
            programme: Set(u.programme),
            area_centi: Set(u.area_centi),
            rooms: Set(u.rooms),
            floor: Set(u.floor),
            rent_fen: Set(u.rent_fen),
            accessible: Set(u.accessible),
            status: Set(UnitStatus::Available),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        let inserted = housing_unit::Entity::insert_many(rows)
            .exec_with_returning(db)
            .await?;
        ids.extend(inserted.into_iter().map(|u| u.id));
    }
    Ok(ids)
}

/// A page of units, by project, building and unit number.
pub async fn units(
    db: &impl ConnectionTrait,
    project: Option<&str>,
    status: Option<UnitStatus>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<housing_unit::Model>, u64), DbErr> {
    use housing_unit::Column as C;
    let mut q = housing_unit::Entity::find();
    if let Some(p) = project {
        q = q.filter(C::Project.eq(p));
    }
    if let Some(s) = status {
        q = q.filter(C::Status.eq(s));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(C::Project)
        .order_by_asc(C::Building)
        .order_by_asc(C::UnitNo)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Unit counts by status.
pub async fn unit_counts(db: &impl ConnectionTrait) -> Result<Vec<(UnitStatus, i64)>, DbErr> {
    use housing_unit::Column as C;
    housing_unit::Entity::find()
        .select_only()
        .column(C::Status)
        .column_as(C::Id.count(), "n")
        .group_by(C::Status)
        .into_tuple()
        .all(db)
        .await
}

pub async fn projects(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    use housing_unit::Column as C;
    housing_unit::Entity::find()
        .select_only()
        .column(C::Project)
        .distinct()
        .order_by_asc(C::Project)
        .into_tuple()
        .all(db)
        .await
}

pub async fn unit(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<housing_unit::Model>, DbErr> {
    housing_unit::Entity::find_by_id(id).one(db).await
}

pub async fn units_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<housing_unit::Model>, DbErr> {
    housing_unit::Entity::find()
        .filter(housing_unit::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(housing_unit::Column::Id)
        .all(db)
        .await
}

/// Available units of the projects (all projects when empty) or with these ids.
pub async fn available_units(
    db: &impl ConnectionTrait,
    projects: &[String],
    ids: &[i64],
) -> Result<Vec<housing_unit::Model>, DbErr> {
    use housing_unit::Column as C;
    let mut q = housing_unit::Entity::find().filter(C::Status.eq(UnitStatus::Available));
    if !ids.is_empty() {
        q = q.filter(C::Id.is_in(ids.iter().copied()));
    } else if !projects.is_empty() {
        q = q.filter(C::Project.is_in(projects.iter().cloned()));
    }
    q.order_by_asc(C::Id).all(db).await
}

/// Changes the described columns of a unit if its version is still `version`.
pub async fn update_unit(
    db: &impl ConnectionTrait,
    id: i64,
    version: i32,
    row: housing_unit::ActiveModel,
) -> Result<bool, DbErr> {
    use housing_unit::Column as C;
    let mut q = housing_unit::Entity::update_many()
        .col_expr(C::Version, Expr::value(version + 1))
        .filter(C::Id.eq(id))
        .filter(C::Version.eq(version));
    for (col, v) in [
        (C::AreaCenti, row.area_centi.into_value()),
        (C::Rooms, row.rooms.into_value()),
        (C::Floor, row.floor.into_value()),
        (C::RentFen, row.rent_fen.into_value()),
        (C::Accessible, row.accessible.into_value()),
        (C::UpdatedAt, row.updated_at.into_value()),
    ] {
        if let Some(v) = v {
            q = q.col_expr(col, Expr::value(v));
        }
    }
    Ok(q.exec(db).await?.rows_affected == 1)
}

pub async fn insert_round(
    db: &impl ConnectionTrait,
    row: allocation_round::ActiveModel,
    unit_ids: &[i64],
) -> Result<allocation_round::Model, DbErr> {
    let round = allocation_round::Entity::insert(row)
        .exec_with_returning(db)
        .await?;
    for chunk in unit_ids.chunks(500) {
        let rows = chunk.iter().map(|u| round_unit::ActiveModel {
            round_id: Set(round.id),
            unit_id: Set(*u),
        });
        round_unit::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([round_unit::Column::RoundId, round_unit::Column::UnitId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(round)
}

pub async fn rounds(db: &impl ConnectionTrait) -> Result<Vec<allocation_round::Model>, DbErr> {
    allocation_round::Entity::find()
        .order_by_desc(allocation_round::Column::Id)
        .all(db)
        .await
}

pub async fn rounds_in(
    db: &impl ConnectionTrait,
    status: RoundStatus,
) -> Result<Vec<allocation_round::Model>, DbErr> {
    allocation_round::Entity::find()
        .filter(allocation_round::Column::Status.eq(status))
        .order_by_asc(allocation_round::Column::Id)
        .all(db)
        .await
}

pub async fn round(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<allocation_round::Model>, DbErr> {
    allocation_round::Entity::find_by_id(id).one(db).await
}

/// The round, locked for a change (a no-op on SQLite, where writes are serialised).
pub async fn lock_round(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<allocation_round::Model>, DbErr> {
    let mut q = allocation_round::Entity::find_by_id(id);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(db).await
}

pub async fn update_round(
    db: &impl ConnectionTrait,
    row: allocation_round::ActiveModel,
) -> Result<(), DbErr> {
    allocation_round::Entity::update(row).exec(db).await?;
    Ok(())
}

pub async fn round_unit_ids(db: &impl ConnectionTrait, round_id: i64) -> Result<Vec<i64>, DbErr> {
    round_unit::Entity::find()
        .select_only()
        .column(round_unit::Column::UnitId)
        .filter(round_unit::Column::RoundId.eq(round_id))
        .order_by_asc(round_unit::Column::UnitId)
        .into_tuple()
        .all(db)
        .await
}

pub async fn entries(
    db: &impl ConnectionTrait,
    round_id: i64,
) -> Result<Vec<round_entry::Model>, DbErr> {
    use round_entry::Column as C;
    round_entry::Entity::find()
        .filter(C::RoundId.eq(round_id))
        .order_by_asc(C::Rank)
        .order_by_asc(C::GroupRank)
        .order_by_asc(C::WaitlistNumber)
        .order_by_asc(C::Id)
        .all(db)
        .await
}

pub async fn entries_of_case(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Vec<round_entry::Model>, DbErr> {
    round_entry::Entity::find()
        .filter(round_entry::Column::ApplicationId.eq(application_id))
        .order_by_desc(round_entry::Column::Id)
        .all(db)
        .await
}

pub async fn insert_entry(
    db: &impl ConnectionTrait,
    row: round_entry::ActiveModel,
) -> Result<round_entry::Model, DbErr> {
    round_entry::Entity::insert(row)
        .exec_with_returning(db)
        .await
}

pub async fn set_entry(
    db: &impl ConnectionTrait,
    id: i64,
    status: EntryStatus,
    rank: Option<Option<i32>>,
    score: Option<Option<i32>>,
    explanation: Option<String>,
) -> Result<(), DbErr> {
    let mut row = round_entry::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id),
        status: Set(status),
        ..Default::default()
    };
    if let Some(r) = rank {
        row.rank = Set(r);
    }
    if let Some(s) = score {
        row.score = Set(s);
    }
    if explanation.is_some() {
        row.explanation = Set(explanation);
    }
    round_entry::Entity::update(row).exec(db).await?;
    Ok(())
}

pub async fn offers(
    db: &impl ConnectionTrait,
    round_id: i64,
) -> Result<Vec<unit_offer::Model>, DbErr> {
    unit_offer::Entity::find()
        .filter(unit_offer::Column::RoundId.eq(round_id))
        .order_by_asc(unit_offer::Column::Id)
        .all(db)
        .await
}

pub async fn offers_of_case(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Vec<unit_offer::Model>, DbErr> {
    unit_offer::Entity::find()
        .filter(unit_offer::Column::ApplicationId.eq(application_id))
        .order_by_desc(unit_offer::Column::Id)
        .all(db)
        .await
}

pub async fn open_offer_of_case(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Option<unit_offer::Model>, DbErr> {
    unit_offer::Entity::find()
        .filter(unit_offer::Column::ApplicationId.eq(application_id))
        .filter(unit_offer::Column::Status.eq(OfferStatus::Open))
        .one(db)
        .await
}

/// Records a roster download.
pub async fn log_export(
    db: &impl ConnectionTrait,
    row: entity::allocation_export::ActiveModel,
) -> Result<(), DbErr> {
    entity::allocation_export::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}
