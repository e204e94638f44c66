//! A unit offered to a ranked household (选房); accepted, it is the lease.

use sea_orm::entity::prelude::*;

use crate::enums::OfferStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_offer")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub round_id: i64,
    pub entry_id: i64,
    pub application_id: i64,
    pub unit_id: i64,
    pub status: OfferStatus,
    /// 1 while open or accepted; unique per unit and per case (see the migration).
    pub live_marker: Option<i32>,
    pub lease_starts_on: Option<Date>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub answered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
