//! Every database call of the review domain: the objections to cases on notice.

use chrono::{DateTime, Utc};
use entity::enums::ObjectionStatus;
use entity::objection;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

pub async fn insert(
    db: &impl ConnectionTrait,
    row: objection::ActiveModel,
) -> Result<objection::Model, DbErr> {
    row.insert(db).await
}

pub async fn of_case(
    db: &impl ConnectionTrait,
    case_id: i64,
) -> Result<Vec<objection::Model>, DbErr> {
    objection::Entity::find()
        .filter(objection::Column::ApplicationId.eq(case_id))
        .order_by_asc(objection::Column::Id)
        .all(db)
        .await
}

/// An objection that keeps the case on notice: still open, or upheld.
pub async fn blocking(
    db: &impl ConnectionTrait,
    case_id: i64,
) -> Result<Option<objection::Model>, DbErr> {
    objection::Entity::find()
        .filter(objection::Column::ApplicationId.eq(case_id))
        .filter(objection::Column::Status.is_in([ObjectionStatus::Open, ObjectionStatus::Upheld]))
        .one(db)
        .await
}

/// The same objection (case, contact and text) already on record.
pub async fn same(
    db: &impl ConnectionTrait,
    case_id: i64,
    contact: &str,
    content: &str,
) -> Result<Option<objection::Model>, DbErr> {
    objection::Entity::find()
        .filter(objection::Column::ApplicationId.eq(case_id))
        .filter(objection::Column::Contact.eq(contact))
        .filter(objection::Column::Content.eq(content))
        .one(db)
        .await
}

/// Decides an open objection of the case; whether there was one.
pub async fn decide(
    db: &impl ConnectionTrait,
    case_id: i64,
    id: i64,
    outcome: ObjectionStatus,
    by: i64,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = objection::Entity::update_many()
        .col_expr(objection::Column::Status, outcome.into())
        .col_expr(objection::Column::ResolvedBy, Some(by).into())
        .col_expr(objection::Column::ResolvedAt, Some(at).into())
        .col_expr(objection::Column::Note, note.map(str::to_string).into())
        .filter(objection::Column::Id.eq(id))
        .filter(objection::Column::ApplicationId.eq(case_id))
        .filter(objection::Column::Status.eq(ObjectionStatus::Open))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
