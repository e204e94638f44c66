//! The lifecycle writers: a batch's own event log (`batch_event`), and the applicant's
//! name kept in a column beside the form, so that messages and lists written by the
//! writers need not read the household form (whose shape the applications domain owns).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BatchEvent {
    Table,
    Id,
    BatchId,
    ActorId,
    Action,
    FromStatus,
    ToStatus,
    /// The case an item action concerns.
    ApplicationId,
    Comment,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Batch {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Application {
    Table,
    ApplicantName,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BatchEvent::Table)
                    .col(big_pk_auto(BatchEvent::Id))
                    .col(big_integer(BatchEvent::BatchId))
                    .col(big_integer_null(BatchEvent::ActorId))
                    .col(string_len(BatchEvent::Action, 24))
                    .col(string_len_null(BatchEvent::FromStatus, 16))
                    .col(string_len(BatchEvent::ToStatus, 16))
                    .col(big_integer_null(BatchEvent::ApplicationId))
                    .col(text_null(BatchEvent::Comment))
                    .col(timestamp_with_time_zone(BatchEvent::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BatchEvent::Table, BatchEvent::BatchId)
                            .to(Batch::Table, Batch::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_batch_event_batch")
                    .table(BatchEvent::Table)
                    .col(BatchEvent::BatchId)
                    .to_owned(),
            )
            .await?;
        let mut col = text_null(Application::ApplicantName);
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        // The applicant is the member whose relationship is `applicant`; each database
        // reads it out of the stored JSON itself, so existing cases keep their names.
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "UPDATE application SET applicant_name = (SELECT m->>'name' \
                 FROM json_array_elements(CASE WHEN json_typeof(form->'members') = 'array' \
                 THEN form->'members' ELSE '[]'::json END) m \
                 WHERE m->>'relationship' = 'applicant' LIMIT 1)"
            }
            _ => {
                "UPDATE application SET applicant_name = (SELECT json_extract(m.value, '$.name') \
                 FROM json_each(application.form, '$.members') m \
                 WHERE json_extract(m.value, '$.relationship') = 'applicant' LIMIT 1) \
                 WHERE json_type(application.form, '$.members') = 'array'"
            }
        };
        manager
            .get_connection()
            .execute_unprepared(backfill)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .drop_column(Application::ApplicantName)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(BatchEvent::Table).to_owned())
            .await
    }
}
