//! Allocation (配租): the housing stock and its history, allocation rounds (配租方案), the
//! households registered in a round, and offers. An accepted offer is the lease.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HousingUnit {
    Table,
    Id,
    Project,
    Building,
    UnitNo,
    Programme,
    /// Floor area in hundredths of a square metre.
    AreaCenti,
    Rooms,
    Floor,
    RentFen,
    Accessible,
    Status,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UnitEvent {
    Table,
    Id,
    UnitId,
    FromStatus,
    ToStatus,
    ApplicationId,
    RoundId,
    ActorId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AllocationRound {
    Table,
    Id,
    Name,
    Status,
    Method,
    /// Programmes whose households may register, in priority order (comma-separated).
    Groups,
    IntentOpensOn,
    IntentClosesOn,
    EntrantsSha256,
    Entrants,
    /// SHA-256 of each official's secret, comma-separated.
    Commitments,
    /// The published result file (lottery), as JSON text.
    Result,
    CreatedBy,
    CreatedAt,
    RankedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum RoundUnit {
    Table,
    RoundId,
    UnitId,
}

#[derive(DeriveIden)]
enum RoundEntry {
    Table,
    Id,
    RoundId,
    ApplicationId,
    Code,
    MaskedName,
    GroupRank,
    WaitlistNumber,
    Status,
    Score,
    Rank,
    Explanation,
    RegisteredAt,
}

#[derive(DeriveIden)]
enum UnitOffer {
    Table,
    Id,
    RoundId,
    EntryId,
    ApplicationId,
    UnitId,
    Status,
    /// 1 while the offer is open or accepted (the lease runs), NULL otherwise: a unique
    /// index on (unit_id, live_marker) lets a unit have one live offer or lease at most.
    LiveMarker,
    LeaseStartsOn,
    CreatedBy,
    CreatedAt,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum Application {
    Table,
    BarredUntil,
}

/// Every download of a round's roster: who, when, which format, masked or not, and why.
#[derive(DeriveIden)]
enum AllocationExport {
    Table,
    Id,
    RoundId,
    UserId,
    At,
    Format,
    Masked,
    Purpose,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HousingUnit::Table)
                    .col(big_pk_auto(HousingUnit::Id))
                    .col(string_len(HousingUnit::Project, 100))
                    .col(string_len(HousingUnit::Building, 40))
                    .col(string_len(HousingUnit::UnitNo, 40))
                    .col(string_len(HousingUnit::Programme, 16))
                    .col(integer(HousingUnit::AreaCenti))
                    .col(integer(HousingUnit::Rooms))
                    .col(integer(HousingUnit::Floor))
                    .col(big_integer(HousingUnit::RentFen))
                    .col(boolean(HousingUnit::Accessible))
                    .col(string_len(HousingUnit::Status, 16))
                    .col(integer(HousingUnit::Version))
                    .col(timestamp_with_time_zone(HousingUnit::CreatedAt))
                    .col(timestamp_with_time_zone(HousingUnit::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_housing_unit_address")
                    .table(HousingUnit::Table)
                    .col(HousingUnit::Project)
                    .col(HousingUnit::Building)
                    .col(HousingUnit::UnitNo)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnitEvent::Table)
                    .col(big_pk_auto(UnitEvent::Id))
                    .col(big_integer(UnitEvent::UnitId))
                    .col(string_len_null(UnitEvent::FromStatus, 16))
                    .col(string_len(UnitEvent::ToStatus, 16))
                    .col(big_integer_null(UnitEvent::ApplicationId))
                    .col(big_integer_null(UnitEvent::RoundId))
                    .col(big_integer_null(UnitEvent::ActorId))
                    .col(text_null(UnitEvent::Note))
                    .col(timestamp_with_time_zone(UnitEvent::CreatedAt))
                    .foreign_key(&mut fk(
                        (UnitEvent::Table, UnitEvent::UnitId),
                        (HousingUnit::Table, HousingUnit::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_unit_event_unit")
                    .table(UnitEvent::Table)
                    .col(UnitEvent::UnitId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AllocationRound::Table)
                    .col(big_pk_auto(AllocationRound::Id))
                    .col(string_len(AllocationRound::Name, 200))
                    .col(string_len(AllocationRound::Status, 16))
                    .col(string_len(AllocationRound::Method, 16))
                    .col(string_len(AllocationRound::Groups, 64))
                    .col(date(AllocationRound::IntentOpensOn))
                    .col(date(AllocationRound::IntentClosesOn))
                    .col(string_len_null(AllocationRound::EntrantsSha256, 64))
                    .col(text_null(AllocationRound::Entrants))
                    .col(text_null(AllocationRound::Commitments))
                    .col(text_null(AllocationRound::Result))
                    .col(big_integer(AllocationRound::CreatedBy))
                    .col(timestamp_with_time_zone(AllocationRound::CreatedAt))
                    .col(timestamp_with_time_zone_null(AllocationRound::RankedAt))
                    .col(timestamp_with_time_zone_null(AllocationRound::ClosedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoundUnit::Table)
                    .col(big_integer(RoundUnit::RoundId))
                    .col(big_integer(RoundUnit::UnitId))
                    .primary_key(
                        Index::create()
                            .col(RoundUnit::RoundId)
                            .col(RoundUnit::UnitId),
                    )
                    .foreign_key(&mut fk(
                        (RoundUnit::Table, RoundUnit::RoundId),
                        (AllocationRound::Table, AllocationRound::Id),
                    ))
                    .foreign_key(&mut fk(
                        (RoundUnit::Table, RoundUnit::UnitId),
                        (HousingUnit::Table, HousingUnit::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoundEntry::Table)
                    .col(big_pk_auto(RoundEntry::Id))
                    .col(big_integer(RoundEntry::RoundId))
                    .col(big_integer(RoundEntry::ApplicationId))
                    .col(string_len(RoundEntry::Code, 64))
                    .col(string_len(RoundEntry::MaskedName, 64))
                    .col(integer(RoundEntry::GroupRank))
                    .col(big_integer(RoundEntry::WaitlistNumber))
                    .col(string_len(RoundEntry::Status, 16))
                    .col(integer_null(RoundEntry::Score))
                    .col(integer_null(RoundEntry::Rank))
                    .col(text_null(RoundEntry::Explanation))
                    .col(timestamp_with_time_zone(RoundEntry::RegisteredAt))
                    .foreign_key(&mut fk(
                        (RoundEntry::Table, RoundEntry::RoundId),
                        (AllocationRound::Table, AllocationRound::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_round_entry_case")
                    .table(RoundEntry::Table)
                    .col(RoundEntry::RoundId)
                    .col(RoundEntry::ApplicationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnitOffer::Table)
                    .col(big_pk_auto(UnitOffer::Id))
                    .col(big_integer(UnitOffer::RoundId))
                    .col(big_integer(UnitOffer::EntryId))
                    .col(big_integer(UnitOffer::ApplicationId))
                    .col(big_integer(UnitOffer::UnitId))
                    .col(string_len(UnitOffer::Status, 16))
                    .col(integer_null(UnitOffer::LiveMarker))
                    .col(date_null(UnitOffer::LeaseStartsOn))
                    .col(big_integer_null(UnitOffer::CreatedBy))
                    .col(timestamp_with_time_zone(UnitOffer::CreatedAt))
                    .col(timestamp_with_time_zone_null(UnitOffer::AnsweredAt))
                    .foreign_key(&mut fk(
                        (UnitOffer::Table, UnitOffer::UnitId),
                        (HousingUnit::Table, HousingUnit::Id),
                    ))
                    .foreign_key(&mut fk(
                        (UnitOffer::Table, UnitOffer::EntryId),
                        (RoundEntry::Table, RoundEntry::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "uq_unit_offer_live",
                vec![UnitOffer::UnitId, UnitOffer::LiveMarker],
            ),
            (
                "uq_unit_offer_case_live",
                vec![UnitOffer::ApplicationId, UnitOffer::LiveMarker],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(UnitOffer::Table).unique();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AllocationExport::Table)
                    .col(big_pk_auto(AllocationExport::Id))
                    .col(big_integer(AllocationExport::RoundId))
                    .col(big_integer(AllocationExport::UserId))
                    .col(timestamp_with_time_zone(AllocationExport::At))
                    .col(string_len(AllocationExport::Format, 8))
                    .col(boolean(AllocationExport::Masked))
                    .col(text_null(AllocationExport::Purpose))
                    .foreign_key(&mut fk(
                        (AllocationExport::Table, AllocationExport::RoundId),
                        (AllocationRound::Table, AllocationRound::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .add_column(date_null(Application::BarredUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .drop_column(Application::BarredUntil)
                    .to_owned(),
            )
            .await?;
        for t in [
            AllocationExport::Table.into_iden(),
            UnitOffer::Table.into_iden(),
            RoundEntry::Table.into_iden(),
            RoundUnit::Table.into_iden(),
            AllocationRound::Table.into_iden(),
            UnitEvent::Table.into_iden(),
            HousingUnit::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
