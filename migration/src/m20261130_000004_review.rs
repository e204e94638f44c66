//! Review workflow: assignment, notice windows and open-flag counters on the case (kept
//! in step with their sources in the same transaction, so queues filter by index),
//! objections to public notices, the staff access log, and a staff member's own
//! identity-number hash for conflict-of-interest checks.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Application {
    Table,
    Id,
    AssignedTo,
    NoticeEndsAt,
    DuplicateOpen,
    WarningsOpen,
    PolicyVersion,
    Status,
    StatusSince,
}

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    IdHash,
}

#[derive(DeriveIden)]
enum Objection {
    Table,
    Id,
    ApplicationId,
    Name,
    Contact,
    Content,
    Status,
    FiledAt,
    ResolvedBy,
    ResolvedAt,
    Note,
}

#[derive(DeriveIden)]
enum CaseAccess {
    Table,
    Id,
    ApplicationId,
    UserId,
    What,
    At,
}

async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: ColumnDef,
) -> Result<(), DbErr> {
    let mut col = col;
    manager
        .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(
            manager,
            Application::Table,
            big_integer_null(Application::AssignedTo),
        )
        .await?;
        add(
            manager,
            Application::Table,
            timestamp_with_time_zone_null(Application::NoticeEndsAt),
        )
        .await?;
        add(
            manager,
            Application::Table,
            boolean(Application::DuplicateOpen)
                .default(false)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Application::Table,
            integer(Application::WarningsOpen).default(0).to_owned(),
        )
        .await?;
        add(
            manager,
            Application::Table,
            string_len_null(Application::PolicyVersion, 64),
        )
        .await?;
        add(
            manager,
            UserAccount::Table,
            string_len_null(UserAccount::IdHash, 64),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_application_status_since")
                    .table(Application::Table)
                    .col(Application::Status)
                    .col(Application::StatusSince)
                    .col(Application::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Objection::Table)
                    .col(big_pk_auto(Objection::Id))
                    .col(big_integer(Objection::ApplicationId))
                    .col(string_len(Objection::Name, 50))
                    .col(string_len(Objection::Contact, 20))
                    .col(text(Objection::Content))
                    .col(string_len(Objection::Status, 16))
                    .col(timestamp_with_time_zone(Objection::FiledAt))
                    .col(big_integer_null(Objection::ResolvedBy))
                    .col(timestamp_with_time_zone_null(Objection::ResolvedAt))
                    .col(text_null(Objection::Note))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Objection::Table, Objection::ApplicationId)
                            .to(Application::Table, Application::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_objection_application")
                    .table(Objection::Table)
                    .col(Objection::ApplicationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CaseAccess::Table)
                    .col(big_pk_auto(CaseAccess::Id))
                    .col(big_integer(CaseAccess::ApplicationId))
                    .col(big_integer(CaseAccess::UserId))
                    .col(string_len(CaseAccess::What, 32))
                    .col(timestamp_with_time_zone(CaseAccess::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_access_application")
                    .table(CaseAccess::Table)
                    .col(CaseAccess::ApplicationId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CaseAccess::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Objection::Table).to_owned())
            .await
    }
}
