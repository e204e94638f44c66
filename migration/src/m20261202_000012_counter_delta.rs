//! Report counters without a shared row per transaction: every event appends its
//! counter changes to `counter_delta` (plain inserts, no row that two submissions both
//! update), and a background step folds them into `funnel_count`, `funnel_duration`
//! and `status_count` (see `anju::lifecycle::counters`). Reports read the folded rows
//! plus the few deltas not yet folded, so they are exact.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One counter change waiting to be folded.
#[derive(DeriveIden)]
enum CounterDelta {
    Table,
    Id,
    /// `reached`, `duration` or `status`: which folded table it belongs to.
    Kind,
    CommunityId,
    Programme,
    /// The stage or side exit (reached, duration) or the status (status).
    Name,
    /// The local day (for status: the day the case entered the status).
    Day,
    /// Tenths of a day spent in the stage (duration only; 0 otherwise).
    Tenths,
    /// How many cases to add (negative to take away).
    Cases,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CounterDelta::Table)
                    .col(big_pk_auto(CounterDelta::Id))
                    .col(string_len(CounterDelta::Kind, 8))
                    .col(big_integer(CounterDelta::CommunityId))
                    .col(string_len(CounterDelta::Programme, 16))
                    .col(string_len(CounterDelta::Name, 32))
                    .col(date(CounterDelta::Day))
                    .col(integer(CounterDelta::Tenths))
                    .col(big_integer(CounterDelta::Cases))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CounterDelta::Table).to_owned())
            .await
    }
}
