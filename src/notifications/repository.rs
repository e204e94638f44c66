//! Every database call of the notifications domain: the outbox.

use chrono::{DateTime, Duration, Utc};
use entity::enums::OutboxStatus;
use entity::outbox_message::{self, Column as C};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

pub async fn insert(
    db: &impl ConnectionTrait,
    row: outbox_message::ActiveModel,
) -> Result<outbox_message::Model, DbErr> {
    row.insert(db).await
}

pub async fn insert_many(
    db: &impl ConnectionTrait,
    rows: Vec<outbox_message::ActiveModel>,
) -> Result<(), DbErr> {
    outbox_message::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A page of messages by id, optionally of one status and one case.
pub async fn page(
    db: &impl ConnectionTrait,
    status: Option<OutboxStatus>,
    application_id: Option<i64>,
    after: i64,
    limit: u64,
) -> Result<Vec<outbox_message::Model>, DbErr> {
    let mut q = outbox_message::Entity::find().filter(C::Id.gt(after));
    if let Some(s) = status {
        q = q.filter(C::Status.eq(s));
    }
    if let Some(a) = application_id {
        q = q.filter(C::ApplicationId.eq(a));
    }
    q.order_by_asc(C::Id).limit(limit).all(db).await
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<outbox_message::Model>, DbErr> {
    outbox_message::Entity::find_by_id(id).one(db).await
}

/// Queues a dead message again; whether it was dead.
pub async fn revive(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let res = outbox_message::Entity::update_many()
        .col_expr(C::Status, OutboxStatus::Pending.into())
        .col_expr(C::NextAttemptAt, now.into())
        .filter(C::Id.eq(id))
        .filter(C::Status.eq(OutboxStatus::Dead))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

fn unclaimed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(C::ClaimedUntil.is_null())
        .add(C::ClaimedUntil.lt(now))
}

/// Claims up to `limit` due messages for `lease`: each with a guarded update, so two
/// workers never claim the same message.
pub async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<outbox_message::Model>, DbErr> {
    let candidates = outbox_message::Entity::find()
        .filter(C::Status.eq(OutboxStatus::Pending))
        .filter(C::NextAttemptAt.lte(now))
        .filter(unclaimed(now))
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for row in candidates {
        let res = outbox_message::Entity::update_many()
            .col_expr(C::ClaimedUntil, Some(now + lease).into())
            .filter(C::Id.eq(row.id))
            .filter(C::Status.eq(OutboxStatus::Pending))
            .filter(unclaimed(now))
            .exec(db)
            .await?;
        if res.rows_affected == 1 {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// Records a delivery: sent with the server's reply.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    row: &outbox_message::Model,
    reply: String,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    outbox_message::Entity::update_many()
        .filter(C::Id.eq(row.id))
        .col_expr(C::Status, OutboxStatus::Sent.into())
        .col_expr(C::ServerReply, Some(reply).into())
        .col_expr(C::SentAt, Some(now).into())
        .col_expr(C::Attempts, (row.attempts + 1).into())
        .col_expr(C::ClaimedUntil, Option::<DateTime<Utc>>::None.into())
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt: pending again at `next`, or dead.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    row: &outbox_message::Model,
    error: String,
    dead: bool,
    next: DateTime<Utc>,
) -> Result<(), DbErr> {
    let status = if dead {
        OutboxStatus::Dead
    } else {
        OutboxStatus::Pending
    };
    outbox_message::Entity::update_many()
        .filter(C::Id.eq(row.id))
        .col_expr(C::Status, status.into())
        .col_expr(C::Attempts, (row.attempts + 1).into())
        .col_expr(C::LastError, Some(error).into())
        .col_expr(C::NextAttemptAt, next.into())
        .col_expr(C::ClaimedUntil, Option::<DateTime<Utc>>::None.into())
        .exec(db)
        .await?;
    Ok(())
}

/// Messages of a status, and the oldest one's creation time.
pub async fn backlog(
    db: &impl ConnectionTrait,
    status: OutboxStatus,
) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
    use sea_orm::PaginatorTrait;
    let count = outbox_message::Entity::find()
        .filter(C::Status.eq(status))
        .count(db)
        .await?;
    let oldest = outbox_message::Entity::find()
        .filter(C::Status.eq(status))
        .order_by_asc(C::Id)
        .one(db)
        .await?
        .map(|m| m.created_at);
    Ok((count, oldest))
}
