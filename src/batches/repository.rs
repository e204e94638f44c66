//! Every database call of the batches domain that is not a change: finding and listing
//! batches, their items, and the roster export log. Changes to a batch go through the
//! batch writer (`crate::lifecycle::batch_writer`).

use chrono::{DateTime, Utc};
use entity::enums::{BatchStatus, Programme};
use entity::{batch, batch_item, export_log};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<batch::Model>, DbErr> {
    batch::Entity::find_by_id(id).one(db).await
}

pub async fn items_of(
    db: &impl ConnectionTrait,
    batch_id: i64,
) -> Result<Vec<batch_item::Model>, DbErr> {
    batch_item::Entity::find()
        .filter(batch_item::Column::BatchId.eq(batch_id))
        .order_by_asc(batch_item::Column::Id)
        .all(db)
        .await
}

/// What to list.
pub struct Listing {
    pub subdistricts: Vec<i64>,
    pub hide: Vec<BatchStatus>,
    pub status: Option<BatchStatus>,
    pub programme: Option<Programme>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_to: Option<DateTime<Utc>>,
    pub after: i64,
    pub limit: u64,
}

pub async fn list(db: &impl ConnectionTrait, l: Listing) -> Result<Vec<batch::Model>, DbErr> {
    let mut cond = Condition::all()
        .add(batch::Column::SubdistrictId.is_in(l.subdistricts))
        .add(batch::Column::Id.gt(l.after));
    if !l.hide.is_empty() {
        cond = cond.add(batch::Column::Status.is_not_in(l.hide));
    }
    if let Some(s) = l.status {
        cond = cond.add(batch::Column::Status.eq(s));
    }
    if let Some(p) = l.programme {
        cond = cond.add(batch::Column::Programme.eq(p));
    }
    if let Some(from) = l.submitted_from {
        cond = cond.add(batch::Column::SubmittedAt.gte(from));
    }
    if let Some(to) = l.submitted_to {
        cond = cond.add(batch::Column::SubmittedAt.lt(to));
    }
    batch::Entity::find()
        .filter(cond)
        .order_by_asc(batch::Column::Id)
        .limit(l.limit)
        .all(db)
        .await
}

pub async fn log_export(
    db: &impl ConnectionTrait,
    row: export_log::ActiveModel,
) -> Result<(), DbErr> {
    row.insert(db).await?;
    Ok(())
}

/// An export-log row for a roster download.
pub fn export_row(
    batch_id: i64,
    user_id: i64,
    at: DateTime<Utc>,
    xlsx: bool,
    masked: bool,
    purpose: Option<String>,
) -> export_log::ActiveModel {
    export_log::ActiveModel {
        batch_id: Set(batch_id),
        user_id: Set(user_id),
        at: Set(at),
        format: Set(if xlsx { "xlsx" } else { "csv" }.into()),
        masked: Set(masked),
        purpose: Set(purpose),
        ..Default::default()
    }
}
