//! An eligibility decision with every rule's outcome, value and limit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility_decision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    /// The event that recorded the outcome.
    pub event_id: i64,
    pub policy_version: String,
    pub eligible: bool,
    /// A soft rule failed.
    pub flagged: bool,
    /// The decision (see `eligibility::engine::Decision`).
    pub decision: Json,
    pub evaluated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
