//! Failed-login counter per login name (hashed), kept whether or not the account
//! exists so that a lockout reveals nothing about which accounts exist.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_throttle")]
pub struct Model {
    /// Hex SHA-256 of the normalised login name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub login_hash: String,
    pub failures: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
