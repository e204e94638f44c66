//! The applicant's identity number, masked as lists show it (`4101**********0037`),
//! kept with the case, so that a queue page or a list reads neither the form nor its
//! JSON (parsing 20 forms was most of a queue page's cost). Filled here for the cases
//! there are, from the form's applicant member, as `values::id_number::mask` masks:
//! the first and last four characters kept, the rest `*`; all `*` for eight or fewer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Application {
    Table,
    ApplicantIdMasked,
}

const SQLITE: &str = "UPDATE application SET applicant_id_masked = (
    SELECT CASE WHEN length(n) <= 8 THEN replace(hex(zeroblob(length(n))), '00', '*')
           ELSE substr(n, 1, 4) || replace(hex(zeroblob(length(n) - 8)), '00', '*')
                || substr(n, -4) END
    FROM (SELECT json_extract(m.value, '$.id_number') AS n
          FROM json_each(application.form, '$.members') m
          WHERE json_extract(m.value, '$.relationship') = 'applicant'
            AND json_type(m.value, '$.id_number') = 'text' LIMIT 1))
    WHERE json_type(application.form, '$.members') = 'array'";

const POSTGRES: &str = "UPDATE application SET applicant_id_masked = (
    SELECT CASE WHEN length(n) <= 8 THEN repeat('*', length(n))
           ELSE left(n, 4) || repeat('*', length(n) - 8) || right(n, 4) END
    FROM (SELECT m->>'id_number' AS n
          FROM json_array_elements(CASE WHEN json_typeof(form->'members') = 'array'
                                   THEN form->'members' ELSE '[]'::json END) m
          WHERE m->>'relationship' = 'applicant'
            AND json_typeof(m->'id_number') = 'string' LIMIT 1) a)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .add_column(string_len_null(Application::ApplicantIdMasked, 32))
                    .to_owned(),
            )
            .await?;
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES,
            _ => SQLITE,
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
                    .drop_column(Application::ApplicantIdMasked)
                    .to_owned(),
            )
            .await
    }
}
