//! Every database call of the places domain.

use chrono::{DateTime, Utc};
use entity::place;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<place::Model>, DbErr> {
    place::Entity::find()
        .order_by_asc(place::Column::Id)
        .all(db)
        .await
}

pub async fn by_codes(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<Vec<place::Model>, DbErr> {
    place::Entity::find()
        .filter(place::Column::Code.is_in(codes.iter().cloned()))
        .all(db)
        .await
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<place::Model>, DbErr> {
    place::Entity::find()
        .filter(place::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(place::Column::Id)
        .all(db)
        .await
}

pub async fn by_code(db: &impl ConnectionTrait, code: &str) -> Result<Option<place::Model>, DbErr> {
    place::Entity::find()
        .filter(place::Column::Code.eq(code))
        .one(db)
        .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    kind: entity::enums::PlaceKind,
    code: &str,
    name: &str,
    parent_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<place::Model, DbErr> {
    place::ActiveModel {
        kind: Set(kind),
        code: Set(code.to_string()),
        name: Set(name.to_string()),
        parent_id: Set(parent_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn rename(db: &impl ConnectionTrait, id: i64, name: &str) -> Result<(), DbErr> {
    place::Entity::update_many()
        .col_expr(place::Column::Name, name.into())
        .filter(place::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
