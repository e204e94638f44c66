//! A person who logs in: an applicant or a member of staff.

use sea_orm::entity::prelude::*;

use crate::enums::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_account")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub role: Role,
    /// Normalised mobile number (11 digits), unique when present.
    #[sea_orm(unique)]
    pub mobile: Option<String>,
    /// Lower-cased e-mail address, unique when present.
    #[sea_orm(unique)]
    pub email: Option<String>,
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
    /// Keyed hash of a staff member's own identity number (conflict-of-interest checks).
    pub id_hash: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
