//! A place in the administrative tree: district → sub-district → community.

use sea_orm::entity::prelude::*;

use crate::enums::PlaceKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "place")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: PlaceKind,
    /// Official division code where one exists (410104, 410104003) or a local id.
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
