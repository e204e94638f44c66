//! A report-counter change appended by an event's transaction and not yet folded into
//! `funnel_count`, `funnel_duration` or `status_count` (append-only until folded).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "counter_delta")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `reached`, `duration` or `status`.
    pub kind: String,
    pub community_id: i64,
    pub programme: String,
    /// The stage or side exit, or the status.
    pub name: String,
    pub day: Date,
    /// Tenths of a day in the stage (duration only; 0 otherwise).
    pub tenths: i32,
    pub cases: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
