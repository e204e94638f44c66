//! A report-up batch (上报) of one programme from one sub-district.

use sea_orm::entity::prelude::*;

use crate::enums::{BatchStatus, Programme};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "batch")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub programme: Programme,
    pub subdistrict_id: i64,
    pub status: BatchStatus,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub sealed_by: Option<i64>,
    pub sealed_at: Option<DateTimeUtc>,
    /// The canonical manifest frozen at sealing.
    pub manifest: Option<Json>,
    pub manifest_sha256: Option<String>,
    pub item_count: i32,
    pub submitted_by: Option<i64>,
    pub submitted_at: Option<DateTimeUtc>,
    pub received_by: Option<i64>,
    pub received_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
