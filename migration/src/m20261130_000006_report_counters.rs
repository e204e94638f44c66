//! Counters the funnel report reads instead of the event log: kept in step with every
//! event in the event's own transaction, rebuilt from the log when they are new (see
//! `anju::reports::counters`). Small tables: one row per community, local day, programme
//! and stage, never one per case.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Distinct cases that first reached a funnel stage (or side exit) on a day.
#[derive(DeriveIden)]
enum FunnelCount {
    Table,
    CommunityId,
    Day,
    Programme,
    Stage,
    Cases,
}

/// Cases that left a stage on a day after spending `tenths` tenths of a day in it.
#[derive(DeriveIden)]
enum FunnelDuration {
    Table,
    CommunityId,
    Day,
    Programme,
    Stage,
    Tenths,
    Cases,
}

/// Cases now in a status, by the local day they entered it (drafts are not counted).
#[derive(DeriveIden)]
enum StatusCount {
    Table,
    CommunityId,
    Programme,
    Status,
    SinceDay,
    Cases,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FunnelCount::Table)
                    .col(big_integer(FunnelCount::CommunityId))
                    .col(date(FunnelCount::Day))
                    .col(string_len(FunnelCount::Programme, 16))
                    .col(string_len(FunnelCount::Stage, 24))
                    .col(big_integer(FunnelCount::Cases))
                    // Day last: the report sums days per (community, programme, stage)
                    // straight off the key, with no sort.
                    .primary_key(
                        Index::create()
                            .col(FunnelCount::CommunityId)
                            .col(FunnelCount::Programme)
                            .col(FunnelCount::Stage)
                            .col(FunnelCount::Day),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FunnelDuration::Table)
                    .col(big_integer(FunnelDuration::CommunityId))
                    .col(date(FunnelDuration::Day))
                    .col(string_len(FunnelDuration::Programme, 16))
                    .col(string_len(FunnelDuration::Stage, 24))
                    .col(integer(FunnelDuration::Tenths))
                    .col(big_integer(FunnelDuration::Cases))
                    .primary_key(
                        Index::create()
                            .col(FunnelDuration::CommunityId)
                            .col(FunnelDuration::Day)
                            .col(FunnelDuration::Programme)
                            .col(FunnelDuration::Stage)
                            .col(FunnelDuration::Tenths),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StatusCount::Table)
                    .col(big_integer(StatusCount::CommunityId))
                    .col(string_len(StatusCount::Programme, 16))
                    .col(string_len(StatusCount::Status, 32))
                    .col(date(StatusCount::SinceDay))
                    .col(big_integer(StatusCount::Cases))
                    .primary_key(
                        Index::create()
                            .col(StatusCount::CommunityId)
                            .col(StatusCount::Programme)
                            .col(StatusCount::Status)
                            .col(StatusCount::SinceDay),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            StatusCount::Table.into_iden(),
            FunnelDuration::Table.into_iden(),
            FunnelCount::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
