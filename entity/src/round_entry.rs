//! A waiting household registered in a round (意向登记), its re-check and its rank.

use sea_orm::entity::prelude::*;

use crate::enums::EntryStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "round_entry")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub round_id: i64,
    pub application_id: i64,
    /// The public code of the entrant: the case number.
    pub code: String,
    /// The applicant's name as published (张*).
    pub masked_name: String,
    /// Position of the household's group in the round's priority order (0 first).
    pub group_rank: i32,
    pub waitlist_number: i64,
    pub status: EntryStatus,
    pub score: Option<i32>,
    /// 1-based place in the published ranking.
    pub rank: Option<i32>,
    /// Why the re-check failed, in Chinese.
    #[sea_orm(column_type = "Text", nullable)]
    pub explanation: Option<String>,
    pub registered_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
