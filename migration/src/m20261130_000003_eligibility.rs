//! Published policies and eligibility decisions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Policy {
    Table,
    Id,
    Programme,
    Version,
    Title,
    EffectiveFrom,
    Document,
    PublishedAt,
    PublishedBy,
}

#[derive(DeriveIden)]
enum EligibilityDecision {
    Table,
    Id,
    ApplicationId,
    EventId,
    PolicyVersion,
    Eligible,
    Flagged,
    Decision,
    EvaluatedAt,
}

#[derive(DeriveIden)]
enum Application {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Policy::Table)
                    .col(big_pk_auto(Policy::Id))
                    .col(string_len(Policy::Programme, 16))
                    .col(string_len_uniq(Policy::Version, 64))
                    .col(string_len(Policy::Title, 200))
                    .col(date(Policy::EffectiveFrom))
                    .col(json(Policy::Document))
                    .col(timestamp_with_time_zone(Policy::PublishedAt))
                    .col(big_integer_null(Policy::PublishedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_policy_programme_effective")
                    .table(Policy::Table)
                    .col(Policy::Programme)
                    .col(Policy::EffectiveFrom)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EligibilityDecision::Table)
                    .col(big_pk_auto(EligibilityDecision::Id))
                    .col(big_integer(EligibilityDecision::ApplicationId))
                    .col(big_integer(EligibilityDecision::EventId))
                    .col(string_len(EligibilityDecision::PolicyVersion, 64))
                    .col(boolean(EligibilityDecision::Eligible))
                    .col(boolean(EligibilityDecision::Flagged))
                    .col(json(EligibilityDecision::Decision))
                    .col(timestamp_with_time_zone(EligibilityDecision::EvaluatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                EligibilityDecision::Table,
                                EligibilityDecision::ApplicationId,
                            )
                            .to(Application::Table, Application::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_application")
                    .table(EligibilityDecision::Table)
                    .col(EligibilityDecision::ApplicationId)
                    .col(EligibilityDecision::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EligibilityDecision::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Policy::Table).to_owned())
            .await
    }
}
