//! An allocation round (配租方案): units, the groups that may register, the
//! intent-registration window (意向登记) and the ranking method.

use sea_orm::entity::prelude::*;

use crate::enums::{RankingMethod, RoundStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_round")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub status: RoundStatus,
    pub method: RankingMethod,
    /// Programmes whose waiting households may register, in priority order, comma-separated
    /// (`low_rent,public_rental`: former 廉租 families first).
    pub groups: String,
    pub intent_opens_on: Date,
    pub intent_closes_on: Date,
    /// SHA-256 of the published entrant list (`entrants`).
    pub entrants_sha256: Option<String>,
    /// The entrant list exactly as published and hashed.
    #[sea_orm(column_type = "Text", nullable)]
    pub entrants: Option<String>,
    /// SHA-256 of each official's secret, comma-separated, published before the draw.
    #[sea_orm(column_type = "Text", nullable)]
    pub commitments: Option<String>,
    /// The lottery's result file, as published (JSON text).
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub ranked_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
