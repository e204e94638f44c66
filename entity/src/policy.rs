//! A published policy version. Never edited after publication.

use sea_orm::entity::prelude::*;

use crate::enums::Programme;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "policy")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `public_rental` or `low_rent`.
    pub programme: Programme,
    #[sea_orm(unique)]
    pub version: String,
    pub title: String,
    pub effective_from: Date,
    /// The policy document (see `eligibility::policy::PolicyDocument`).
    pub document: Json,
    pub published_at: DateTimeUtc,
    /// The admin who published it; absent for the shipped defaults.
    pub published_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
