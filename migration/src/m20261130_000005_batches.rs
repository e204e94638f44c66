//! Report-up batches (上报), their items and decisions, roster exports, and the
//! waiting-list number on a case.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Batch {
    Table,
    Id,
    Programme,
    SubdistrictId,
    Status,
    CreatedBy,
    CreatedAt,
    SealedBy,
    SealedAt,
    Manifest,
    ManifestSha256,
    ItemCount,
    SubmittedBy,
    SubmittedAt,
    ReceivedBy,
    ReceivedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum BatchItem {
    Table,
    Id,
    BatchId,
    ApplicationId,
    /// 1 while the item sits in an open batch, NULL once decided or removed: a unique
    /// index on (application_id, open_marker) keeps a case in one open batch at most.
    OpenMarker,
    Decision,
    ReasonCode,
    Comment,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
enum ExportLog {
    Table,
    Id,
    BatchId,
    UserId,
    At,
    Format,
    Masked,
    Purpose,
}

#[derive(DeriveIden)]
enum Application {
    Table,
    Id,
    WaitlistNumber,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Batch::Table)
                    .col(big_pk_auto(Batch::Id))
                    .col(string_len(Batch::Programme, 16))
                    .col(big_integer(Batch::SubdistrictId))
                    .col(string_len(Batch::Status, 16))
                    .col(big_integer(Batch::CreatedBy))
                    .col(timestamp_with_time_zone(Batch::CreatedAt))
                    .col(big_integer_null(Batch::SealedBy))
                    .col(timestamp_with_time_zone_null(Batch::SealedAt))
                    .col(json_null(Batch::Manifest))
                    .col(string_len_null(Batch::ManifestSha256, 64))
                    .col(integer(Batch::ItemCount).default(0).to_owned())
                    .col(big_integer_null(Batch::SubmittedBy))
                    .col(timestamp_with_time_zone_null(Batch::SubmittedAt))
                    .col(big_integer_null(Batch::ReceivedBy))
                    .col(timestamp_with_time_zone_null(Batch::ReceivedAt))
                    .col(timestamp_with_time_zone_null(Batch::ClosedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BatchItem::Table)
                    .col(big_pk_auto(BatchItem::Id))
                    .col(big_integer(BatchItem::BatchId))
                    .col(big_integer(BatchItem::ApplicationId))
                    .col(integer_null(BatchItem::OpenMarker))
                    .col(string_len_null(BatchItem::Decision, 16))
                    .col(string_len_null(BatchItem::ReasonCode, 48))
                    .col(text_null(BatchItem::Comment))
                    .col(big_integer_null(BatchItem::DecidedBy))
                    .col(timestamp_with_time_zone_null(BatchItem::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BatchItem::Table, BatchItem::BatchId)
                            .to(Batch::Table, Batch::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BatchItem::Table, BatchItem::ApplicationId)
                            .to(Application::Table, Application::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_batch_item_open")
                    .table(BatchItem::Table)
                    .col(BatchItem::ApplicationId)
                    .col(BatchItem::OpenMarker)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_batch_item_batch")
                    .table(BatchItem::Table)
                    .col(BatchItem::BatchId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExportLog::Table)
                    .col(big_pk_auto(ExportLog::Id))
                    .col(big_integer(ExportLog::BatchId))
                    .col(big_integer(ExportLog::UserId))
                    .col(timestamp_with_time_zone(ExportLog::At))
                    .col(string_len(ExportLog::Format, 8))
                    .col(boolean(ExportLog::Masked))
                    .col(text_null(ExportLog::Purpose))
                    .to_owned(),
            )
            .await?;
        let mut col = big_integer_null(Application::WaitlistNumber);
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        let _ = Application::Id;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ExportLog::Table.into_iden(),
            BatchItem::Table.into_iden(),
            Batch::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
