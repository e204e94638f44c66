//! A session carries its user's staff scope, read once at sign-in, so that an
//! authenticated request takes one statement (the session with its user) instead of two.
//! `NULL` for sessions opened before this column: those still read the scope each time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SessionToken {
    Table,
    /// The place ids of the user's scope, comma-separated ("" for none).
    Scope,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SessionToken::Table)
                    .add_column(text_null(SessionToken::Scope))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SessionToken::Table)
                    .drop_column(SessionToken::Scope)
                    .to_owned(),
            )
            .await
    }
}
