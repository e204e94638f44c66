//! The append-only event log of a batch: who filled, sealed, sent, acknowledged and
//! decided it, and which cases came and went.

use sea_orm::entity::prelude::*;

use crate::enums::{BatchAction, BatchStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "batch_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_id: i64,
    /// Who acted; absent for the system (e.g. a case withdrawn by its applicant).
    pub actor_id: Option<i64>,
    pub action: BatchAction,
    pub from_status: Option<BatchStatus>,
    pub to_status: BatchStatus,
    /// The case an item action concerns.
    pub application_id: Option<i64>,
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
