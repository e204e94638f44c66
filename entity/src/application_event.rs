//! The append-only event log of a case: its audit trail and status history.

use sea_orm::entity::prelude::*;

use crate::enums::{CaseAction, CaseStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    /// Who acted; absent for the system (e.g. the eligibility engine).
    pub actor_id: Option<i64>,
    pub action: CaseAction,
    pub from_status: Option<CaseStatus>,
    pub to_status: CaseStatus,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
    pub policy_version: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::application::Entity",
        from = "Column::ApplicationId",
        to = "super::application::Column::Id"
    )]
    Application,
}

impl ActiveModelBehavior for ActiveModel {}
