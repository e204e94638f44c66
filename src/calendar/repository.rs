//! `calendar_day`: one row per exception to Monday-to-Friday.

use chrono::NaiveDate;
use entity::calendar_day;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<calendar_day::Model>, DbErr> {
    calendar_day::Entity::find()
        .order_by_asc(calendar_day::Column::Day)
        .all(db)
        .await
}

pub async fn year(db: &impl ConnectionTrait, year: i32) -> Result<Vec<calendar_day::Model>, DbErr> {
    let (first, last) = (
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default(),
    );
    calendar_day::Entity::find()
        .filter(calendar_day::Column::Day.between(first, last))
        .order_by_asc(calendar_day::Column::Day)
        .all(db)
        .await
}

pub async fn put(
    db: &impl ConnectionTrait,
    day: NaiveDate,
    kind: &str,
    name: &str,
) -> Result<(), DbErr> {
    calendar_day::Entity::insert(calendar_day::ActiveModel {
        day: Set(day),
        kind: Set(kind.into()),
        name: Set(name.into()),
    })
    .on_conflict(
        OnConflict::column(calendar_day::Column::Day)
            .update_columns([calendar_day::Column::Kind, calendar_day::Column::Name])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &impl ConnectionTrait, day: NaiveDate) -> Result<bool, DbErr> {
    let r = calendar_day::Entity::delete_by_id(day).exec(db).await?;
    Ok(r.rows_affected > 0)
}
