//! Applications (cases), their event log, duplicate detection, idempotent submission,
//! the notification outbox, gap-free number sequences and self-generated secrets.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Application {
    Table,
    Id,
    Number,
    ApplicantId,
    EnteredBy,
    Source,
    Programme,
    ApplicantClass,
    CommunityId,
    Status,
    Form,
    Warnings,
    HouseholdSize,
    ContactEmail,
    Language,
    Version,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
    StatusSince,
}

#[derive(DeriveIden)]
enum ApplicationEvent {
    Table,
    Id,
    ApplicationId,
    ActorId,
    Action,
    FromStatus,
    ToStatus,
    ReasonCode,
    Comment,
    PolicyVersion,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberKey {
    Table,
    ApplicationId,
    MemberIndex,
    IdHash,
}

#[derive(DeriveIden)]
enum DuplicateFlag {
    Table,
    Id,
    ApplicationId,
    MemberIndex,
    OtherApplicationId,
    OtherMemberIndex,
    CreatedAt,
    Resolution,
    ResolvedBy,
    ResolvedAt,
    Note,
}

#[derive(DeriveIden)]
enum IdempotencyRecord {
    Table,
    UserId,
    Key,
    RequestHash,
    ApplicationId,
    StatusCode,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    Id,
    ApplicationId,
    EventId,
    Kind,
    Recipient,
    Language,
    Subject,
    BodyText,
    BodyHtml,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    ServerReply,
    MessageId,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum NumberSequence {
    Table,
    Scope,
    LastValue,
}

#[derive(DeriveIden)]
enum AppSecret {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Place {
    Table,
    Id,
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

fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(c);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Application::Table)
                    .col(big_pk_auto(Application::Id))
                    .col(string_len_null(Application::Number, 32).unique_key())
                    .col(big_integer_null(Application::ApplicantId))
                    .col(big_integer_null(Application::EnteredBy))
                    .col(string_len(Application::Source, 16))
                    .col(string_len_null(Application::Programme, 16))
                    .col(string_len_null(Application::ApplicantClass, 16))
                    .col(big_integer_null(Application::CommunityId))
                    .col(string_len(Application::Status, 24))
                    .col(json(Application::Form))
                    .col(json(Application::Warnings))
                    .col(integer(Application::HouseholdSize))
                    .col(string_len_null(Application::ContactEmail, 254))
                    .col(string_len(Application::Language, 2))
                    .col(integer(Application::Version))
                    .col(timestamp_with_time_zone(Application::CreatedAt))
                    .col(timestamp_with_time_zone(Application::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Application::SubmittedAt))
                    .col(timestamp_with_time_zone(Application::StatusSince))
                    .foreign_key(&mut fk(
                        (Application::Table, Application::ApplicantId),
                        (UserAccount::Table, UserAccount::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Application::Table, Application::EnteredBy),
                        (UserAccount::Table, UserAccount::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Application::Table, Application::CommunityId),
                        (Place::Table, Place::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_application_applicant",
                vec![
                    Application::ApplicantId.into_iden(),
                    Application::Id.into_iden(),
                ],
            ),
            (
                "idx_application_community_status",
                vec![
                    Application::CommunityId.into_iden(),
                    Application::Status.into_iden(),
                    Application::Id.into_iden(),
                ],
            ),
        ] {
            manager
                .create_index(index(name, Application::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ApplicationEvent::Table)
                    .col(big_pk_auto(ApplicationEvent::Id))
                    .col(big_integer(ApplicationEvent::ApplicationId))
                    .col(big_integer_null(ApplicationEvent::ActorId))
                    .col(string_len(ApplicationEvent::Action, 32))
                    .col(string_len_null(ApplicationEvent::FromStatus, 24))
                    .col(string_len(ApplicationEvent::ToStatus, 24))
                    .col(string_len_null(ApplicationEvent::ReasonCode, 48))
                    .col(text_null(ApplicationEvent::Comment))
                    .col(string_len_null(ApplicationEvent::PolicyVersion, 64))
                    .col(timestamp_with_time_zone(ApplicationEvent::CreatedAt))
                    .foreign_key(&mut fk(
                        (ApplicationEvent::Table, ApplicationEvent::ApplicationId),
                        (Application::Table, Application::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_event_application",
                ApplicationEvent::Table,
                vec![
                    ApplicationEvent::ApplicationId.into_iden(),
                    ApplicationEvent::Id.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MemberKey::Table)
                    .col(big_integer(MemberKey::ApplicationId))
                    .col(integer(MemberKey::MemberIndex))
                    .col(string_len(MemberKey::IdHash, 64))
                    .primary_key(
                        Index::create()
                            .col(MemberKey::ApplicationId)
                            .col(MemberKey::MemberIndex),
                    )
                    .foreign_key(&mut fk(
                        (MemberKey::Table, MemberKey::ApplicationId),
                        (Application::Table, Application::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_member_key_hash",
                MemberKey::Table,
                vec![MemberKey::IdHash.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DuplicateFlag::Table)
                    .col(big_pk_auto(DuplicateFlag::Id))
                    .col(big_integer(DuplicateFlag::ApplicationId))
                    .col(integer(DuplicateFlag::MemberIndex))
                    .col(big_integer(DuplicateFlag::OtherApplicationId))
                    .col(integer(DuplicateFlag::OtherMemberIndex))
                    .col(timestamp_with_time_zone(DuplicateFlag::CreatedAt))
                    .col(string_len_null(DuplicateFlag::Resolution, 16))
                    .col(big_integer_null(DuplicateFlag::ResolvedBy))
                    .col(timestamp_with_time_zone_null(DuplicateFlag::ResolvedAt))
                    .col(text_null(DuplicateFlag::Note))
                    .foreign_key(&mut fk(
                        (DuplicateFlag::Table, DuplicateFlag::ApplicationId),
                        (Application::Table, Application::Id),
                    ))
                    .foreign_key(&mut fk(
                        (DuplicateFlag::Table, DuplicateFlag::OtherApplicationId),
                        (Application::Table, Application::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_duplicate_application",
                DuplicateFlag::Table,
                vec![DuplicateFlag::ApplicationId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecord::Table)
                    .col(big_integer(IdempotencyRecord::UserId))
                    .col(string_len(IdempotencyRecord::Key, 128))
                    .col(string_len(IdempotencyRecord::RequestHash, 64))
                    .col(big_integer(IdempotencyRecord::ApplicationId))
                    .col(integer(IdempotencyRecord::StatusCode))
                    .col(json(IdempotencyRecord::Response))
                    .col(timestamp_with_time_zone(IdempotencyRecord::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyRecord::UserId)
                            .col(IdempotencyRecord::Key),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutboxMessage::Table)
                    .col(big_pk_auto(OutboxMessage::Id))
                    .col(big_integer_null(OutboxMessage::ApplicationId))
                    .col(big_integer_null(OutboxMessage::EventId))
                    .col(string_len(OutboxMessage::Kind, 48))
                    .col(string_len_null(OutboxMessage::Recipient, 254))
                    .col(string_len(OutboxMessage::Language, 2))
                    .col(string_len(OutboxMessage::Subject, 255))
                    .col(text(OutboxMessage::BodyText))
                    .col(text(OutboxMessage::BodyHtml))
                    .col(string_len(OutboxMessage::Status, 16))
                    .col(integer(OutboxMessage::Attempts))
                    .col(timestamp_with_time_zone(OutboxMessage::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::ClaimedUntil))
                    .col(text_null(OutboxMessage::LastError))
                    .col(text_null(OutboxMessage::ServerReply))
                    .col(string_len_uniq(OutboxMessage::MessageId, 128))
                    .col(timestamp_with_time_zone(OutboxMessage::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::SentAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_outbox_due",
                vec![
                    OutboxMessage::Status.into_iden(),
                    OutboxMessage::NextAttemptAt.into_iden(),
                ],
            ),
            (
                "idx_outbox_application",
                vec![OutboxMessage::ApplicationId.into_iden()],
            ),
        ] {
            manager
                .create_index(index(name, OutboxMessage::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(NumberSequence::Table)
                    .col(string_len(NumberSequence::Scope, 64).primary_key())
                    .col(big_integer(NumberSequence::LastValue))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AppSecret::Table)
                    .col(string_len(AppSecret::Name, 64).primary_key())
                    .col(text(AppSecret::Value))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AppSecret::Table.into_iden(),
            NumberSequence::Table.into_iden(),
            OutboxMessage::Table.into_iden(),
            IdempotencyRecord::Table.into_iden(),
            DuplicateFlag::Table.into_iden(),
            MemberKey::Table.into_iden(),
            ApplicationEvent::Table.into_iden(),
            Application::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
