//! A case in a batch, and the bureau's decision on it.

use sea_orm::entity::prelude::*;

use crate::enums::ItemOutcome;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "batch_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_id: i64,
    pub application_id: i64,
    /// 1 while the case sits undecided in an open batch, NULL otherwise (unique per case).
    pub open_marker: Option<i32>,
    pub decision: Option<ItemOutcome>,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
