//! Every database call of the writers: locking a case or a batch, guarded updates that
//! return the new row, and the event logs. Nothing outside `lifecycle` writes through
//! these; the writers are the only code that inserts an event.

use entity::{application, application_event, batch, batch_event, batch_item};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

/// The open batch a case sits in, read without a lock.
pub async fn open_batch_of(db: &impl ConnectionTrait, case_id: i64) -> Result<Option<i64>, DbErr> {
    batch_item::Entity::find()
        .select_only()
        .column(batch_item::Column::BatchId)
        .filter(batch_item::Column::ApplicationId.eq(case_id))
        .filter(batch_item::Column::OpenMarker.eq(1))
        .into_tuple()
        .one(db)
        .await
}

/// A case, locked until the transaction ends (`FOR UPDATE` on PostgreSQL; on SQLite the
/// write transaction already holds the database's one write lock).
pub async fn lock_case(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

/// A batch, locked until the transaction ends.
pub async fn lock_batch(db: &impl ConnectionTrait, id: i64) -> Result<Option<batch::Model>, DbErr> {
    batch::Entity::find_by_id(id).lock_exclusive().one(db).await
}

/// Updates a case still at `version`, bumping the version; the new row, or `None` when
/// the case was at another version.
pub async fn update_case(
    db: &impl ConnectionTrait,
    id: i64,
    version: i32,
    events: i32,
    mut changes: application::ActiveModel,
) -> Result<Option<application::Model>, DbErr> {
    changes.version = Set(version + events);
    Ok(application::Entity::update_many()
        .set(changes)
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(version))
        .exec_with_returning(db)
        .await?
        .pop())
}

/// Inserts new cases in one statement per chunk; the rows come back in input order.
pub async fn insert_cases(
    db: &impl ConnectionTrait,
    rows: Vec<application::ActiveModel>,
) -> Result<Vec<application::Model>, DbErr> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let mut inserted = application::Entity::insert_many(chunk.to_vec())
            .exec_with_returning(db)
            .await?;
        // RETURNING gives no order guarantee; ids grow with input order.
        inserted.sort_by_key(|m| m.id);
        out.extend(inserted);
    }
    Ok(out)
}

/// Inserts events in one statement per chunk; the rows come back in input order.
pub async fn insert_case_events(
    db: &impl ConnectionTrait,
    rows: Vec<application_event::ActiveModel>,
) -> Result<Vec<application_event::Model>, DbErr> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(2000) {
        let mut inserted = application_event::Entity::insert_many(chunk.to_vec())
            .exec_with_returning(db)
            .await?;
        inserted.sort_by_key(|m| m.id);
        out.extend(inserted);
    }
    Ok(out)
}

pub async fn cases_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
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

pub async fn insert_batch(
    db: &impl ConnectionTrait,
    row: batch::ActiveModel,
) -> Result<batch::Model, DbErr> {
    row.insert(db).await
}

/// Updates a locked batch and returns the new row.
pub async fn update_batch(
    db: &impl ConnectionTrait,
    id: i64,
    changes: batch::ActiveModel,
) -> Result<batch::Model, DbErr> {
    batch::Entity::update_many()
        .set(changes)
        .filter(batch::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?
        .pop()
        .ok_or_else(|| DbErr::RecordNotFound(format!("batch {id}")))
}

pub async fn insert_item(
    db: &impl ConnectionTrait,
    batch_id: i64,
    application_id: i64,
) -> Result<batch_item::Model, DbErr> {
    batch_item::ActiveModel {
        batch_id: Set(batch_id),
        application_id: Set(application_id),
        open_marker: Set(Some(1)),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn delete_item(db: &impl ConnectionTrait, item_id: i64) -> Result<(), DbErr> {
    batch_item::Entity::delete_by_id(item_id).exec(db).await?;
    Ok(())
}

pub async fn update_item(
    db: &impl ConnectionTrait,
    item_id: i64,
    changes: batch_item::ActiveModel,
) -> Result<(), DbErr> {
    batch_item::Entity::update_many()
        .set(changes)
        .filter(batch_item::Column::Id.eq(item_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Frees every item of a batch for another batch (a cancelled batch keeps its list).
pub async fn release_items(db: &impl ConnectionTrait, batch_id: i64) -> Result<(), DbErr> {
    batch_item::Entity::update_many()
        .col_expr(batch_item::Column::OpenMarker, Option::<i32>::None.into())
        .filter(batch_item::Column::BatchId.eq(batch_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_batch_event(
    db: &impl ConnectionTrait,
    row: batch_event::ActiveModel,
) -> Result<batch_event::Model, DbErr> {
    row.insert(db).await
}
