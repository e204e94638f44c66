//! One change of a unit's status: its history.

use sea_orm::entity::prelude::*;

use crate::enums::UnitStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub unit_id: i64,
    /// `None` when the unit was added to the stock.
    pub from_status: Option<UnitStatus>,
    pub to_status: UnitStatus,
    pub application_id: Option<i64>,
    pub round_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
