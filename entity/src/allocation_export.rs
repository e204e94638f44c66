//! One download of a round's ranking roster: who, when, which format, masked or not, why.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_export")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub round_id: i64,
    pub user_id: i64,
    pub at: DateTimeUtc,
    /// `csv` or `xlsx`.
    pub format: String,
    pub masked: bool,
    /// Why the full names and identity numbers were needed.
    pub purpose: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
