//! Accounts, sessions, login throttling and the place tree, seeded with 管城回族区,
//! 南关街道 and its 11 communities (only 惠工街社区 is named in the source; the others
//! carry clearly synthetic names until the office enters the real ones).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Place {
    Table,
    Id,
    Kind,
    Code,
    Name,
    ParentId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    Id,
    Role,
    Mobile,
    Email,
    DisplayName,
    PasswordHash,
    Disabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StaffScope {
    Table,
    UserId,
    PlaceId,
}

#[derive(DeriveIden)]
enum SessionToken {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    LoginHash,
    Failures,
    LockedUntil,
    UpdatedAt,
}

/// The 11 communities of 南关街道: (local code, name).
const COMMUNITIES: [(&str, &str); 11] = [
    ("410104003-01", "惠工街社区"),
    ("410104003-02", "示例社区02（待录入）"),
    ("410104003-03", "示例社区03（待录入）"),
    ("410104003-04", "示例社区04（待录入）"),
    ("410104003-05", "示例社区05（待录入）"),
    ("410104003-06", "示例社区06（待录入）"),
    ("410104003-07", "示例社区07（待录入）"),
    ("410104003-08", "示例社区08（待录入）"),
    ("410104003-09", "示例社区09（待录入）"),
    ("410104003-10", "示例社区10（待录入）"),
    ("410104003-11", "示例社区11（待录入）"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Place::Table)
                    .col(big_pk_auto(Place::Id))
                    .col(string_len(Place::Kind, 16))
                    .col(string_len_uniq(Place::Code, 32))
                    .col(string_len(Place::Name, 100))
                    .col(big_integer_null(Place::ParentId))
                    .col(timestamp_with_time_zone(Place::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Place::Table, Place::ParentId)
                            .to(Place::Table, Place::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_place_parent")
                    .table(Place::Table)
                    .col(Place::ParentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserAccount::Table)
                    .col(big_pk_auto(UserAccount::Id))
                    .col(string_len(UserAccount::Role, 16))
                    .col(string_len_null(UserAccount::Mobile, 16).unique_key())
                    .col(string_len_null(UserAccount::Email, 254).unique_key())
                    .col(string_len(UserAccount::DisplayName, 100))
                    .col(string_len(UserAccount::PasswordHash, 255))
                    .col(boolean(UserAccount::Disabled).default(false))
                    .col(timestamp_with_time_zone(UserAccount::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StaffScope::Table)
                    .col(big_integer(StaffScope::UserId))
                    .col(big_integer(StaffScope::PlaceId))
                    .primary_key(
                        Index::create()
                            .col(StaffScope::UserId)
                            .col(StaffScope::PlaceId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StaffScope::Table, StaffScope::UserId)
                            .to(UserAccount::Table, UserAccount::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StaffScope::Table, StaffScope::PlaceId)
                            .to(Place::Table, Place::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SessionToken::Table)
                    .col(big_pk_auto(SessionToken::Id))
                    .col(big_integer(SessionToken::UserId))
                    .col(string_len_uniq(SessionToken::TokenHash, 64))
                    .col(timestamp_with_time_zone(SessionToken::CreatedAt))
                    .col(timestamp_with_time_zone(SessionToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SessionToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SessionToken::Table, SessionToken::UserId)
                            .to(UserAccount::Table, UserAccount::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(string_len(LoginThrottle::LoginHash, 64).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(timestamp_with_time_zone_null(LoginThrottle::LockedUntil))
                    .col(timestamp_with_time_zone(LoginThrottle::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        seed_places(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginThrottle::Table.into_iden(),
            SessionToken::Table.into_iden(),
            StaffScope::Table.into_iden(),
            UserAccount::Table.into_iden(),
            Place::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn insert_place(
    manager: &SchemaManager<'_>,
    kind: &str,
    code: &str,
    name: &str,
    parent: Option<i64>,
) -> Result<i64, DbErr> {
    let db = manager.get_connection();
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table(Place::Table)
        .columns([
            Place::Kind,
            Place::Code,
            Place::Name,
            Place::ParentId,
            Place::CreatedAt,
        ])
        .values_panic([
            kind.into(),
            code.into(),
            name.into(),
            parent.into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    let select = Query::select()
        .column(Place::Id)
        .from(Place::Table)
        .and_where(Expr::col(Place::Code).eq(code))
        .to_owned();
    let row = db
        .query_one(&select)
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    row.try_get("", "id")
}

async fn seed_places(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let district = insert_place(manager, "district", "410104", "管城回族区", None).await?;
    let sub = insert_place(
        manager,
        "subdistrict",
        "410104003",
        "南关街道",
        Some(district),
    )
    .await?;
    for (code, name) in COMMUNITIES {
        insert_place(manager, "community", code, name, Some(sub)).await?;
    }
    Ok(())
}
