//! Reading the event logs, for the domains above: a case's history, a batch's history,
//! and who took an action on which cases (maker-checker).

use entity::{application_event, batch_event};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::case_table::Action;

/// One entry of a case's history.
pub type CaseEvent = application_event::Model;
/// One entry of a batch's history.
pub type BatchEvent = batch_event::Model;

/// A case's events, oldest first.
pub async fn of_case(db: &impl ConnectionTrait, id: i64) -> Result<Vec<CaseEvent>, DbErr> {
    application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(id))
        .order_by_asc(application_event::Column::Id)
        .all(db)
        .await
}

/// A batch's events, oldest first.
pub async fn of_batch(db: &impl ConnectionTrait, id: i64) -> Result<Vec<BatchEvent>, DbErr> {
    batch_event::Entity::find()
        .filter(batch_event::Column::BatchId.eq(id))
        .order_by_asc(batch_event::Column::Id)
        .all(db)
        .await
}

/// Whether `user_id` ever took `action` on any of these cases.
pub async fn acted_on_any(
    db: &impl ConnectionTrait,
    case_ids: &[i64],
    action: Action,
    user_id: i64,
) -> Result<bool, DbErr> {
    Ok(application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.is_in(case_ids.iter().copied()))
        .filter(application_event::Column::Action.eq(action))
        .filter(application_event::Column::ActorId.eq(user_id))
        .one(db)
        .await?
        .is_some())
}
