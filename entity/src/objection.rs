//! An objection filed by anyone against a case on public notice.

use sea_orm::entity::prelude::*;

use crate::enums::ObjectionStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "objection")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    /// The objector's real name.
    pub name: String,
    /// The objector's mobile or landline.
    pub contact: String,
    pub content: String,
    pub status: ObjectionStatus,
    pub filed_at: DateTimeUtc,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<DateTimeUtc>,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
