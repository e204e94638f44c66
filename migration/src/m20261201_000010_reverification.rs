//! The annual re-verification (年审): the day a household's next one is due, and the
//! day it was last reminded (so the ticker reminds once before and once after).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Application {
    Table,
    ReverifyDueOn,
    ReverifyRemindedOn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [Application::ReverifyDueOn, Application::ReverifyRemindedOn] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Application::Table)
                        .add_column(date_null(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_application_reverify_due")
                    .table(Application::Table)
                    .col(Application::ReverifyDueOn)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Application::ReverifyDueOn, Application::ReverifyRemindedOn] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Application::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
