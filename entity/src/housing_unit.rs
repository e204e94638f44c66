//! A unit of the housing stock (房源), imported by the bureau and let through rounds.

use sea_orm::entity::prelude::*;

use crate::enums::{Programme, UnitStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "housing_unit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The estate or project (项目), e.g. 南关安居小区.
    pub project: String,
    pub building: String,
    pub unit_no: String,
    pub programme: Programme,
    /// Floor area in hundredths of a square metre (building area).
    pub area_centi: i32,
    pub rooms: i32,
    pub floor: i32,
    /// Monthly rent in fen.
    pub rent_fen: i64,
    pub accessible: bool,
    pub status: UnitStatus,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
