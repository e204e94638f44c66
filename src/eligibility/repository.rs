//! Every database call of the eligibility domain.

use chrono::NaiveDate;
use entity::{eligibility_decision, policy};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};

pub async fn count_for(db: &impl ConnectionTrait, programme: &str) -> Result<u64, DbErr> {
    policy::Entity::find()
        .filter(policy::Column::Programme.eq(programme))
        .count(db)
        .await
}

/// The version in force for `programme` on `day`: the latest effective on or before it.
pub async fn in_force(
    db: &impl ConnectionTrait,
    programme: &str,
    day: NaiveDate,
) -> Result<Option<policy::Model>, DbErr> {
    policy::Entity::find()
        .filter(policy::Column::Programme.eq(programme))
        .filter(policy::Column::EffectiveFrom.lte(day))
        .order_by_desc(policy::Column::EffectiveFrom)
        .order_by_desc(policy::Column::Id)
        .one(db)
        .await
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<policy::Model>, DbErr> {
    policy::Entity::find()
        .order_by_asc(policy::Column::Programme)
        .order_by_asc(policy::Column::EffectiveFrom)
        .all(db)
        .await
}

pub async fn by_version(
    db: &impl ConnectionTrait,
    version: &str,
) -> Result<Option<policy::Model>, DbErr> {
    policy::Entity::find()
        .filter(policy::Column::Version.eq(version))
        .one(db)
        .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    row: policy::ActiveModel,
) -> Result<policy::Model, DbErr> {
    row.insert(db).await
}

pub async fn insert_decisions(
    db: &impl ConnectionTrait,
    rows: Vec<eligibility_decision::ActiveModel>,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(1000) {
        eligibility_decision::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    Ok(())
}

pub async fn latest_decision(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Option<eligibility_decision::Model>, DbErr> {
    eligibility_decision::Entity::find()
        .filter(eligibility_decision::Column::ApplicationId.eq(application_id))
        .order_by_desc(eligibility_decision::Column::Id)
        .one(db)
        .await
}

/// The latest decision of each of these cases.
pub async fn latest_decisions(
    db: &impl ConnectionTrait,
    application_ids: &[i64],
) -> Result<Vec<eligibility_decision::Model>, DbErr> {
    let rows = eligibility_decision::Entity::find()
        .filter(eligibility_decision::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .order_by_asc(eligibility_decision::Column::Id)
        .all(db)
        .await?;
    let mut latest: std::collections::HashMap<i64, eligibility_decision::Model> =
        Default::default();
    for r in rows {
        latest.insert(r.application_id, r);
    }
    Ok(latest.into_values().collect())
}
