//! The working-day calendar and appeals (复核). `calendar_day` holds the exceptions to
//! "Monday to Friday are working days": official holidays and make-up working days on
//! weekends, seeded from `holidays.rs` for 2015 to 2026 and edited by the admin after.
//! A case under appeal keeps the day its answer is due (`appeal_due_on`, counted in
//! working days).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CalendarDay {
    Table,
    Day,
    Kind,
    Name,
}

#[derive(DeriveIden)]
enum Application {
    Table,
    AppealDueOn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CalendarDay::Table)
                    .col(date(CalendarDay::Day).primary_key())
                    .col(string_len(CalendarDay::Kind, 16))
                    .col(string_len(CalendarDay::Name, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .add_column(date_null(Application::AppealDueOn))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(CalendarDay::Table)
            .columns([CalendarDay::Day, CalendarDay::Kind, CalendarDay::Name])
            .to_owned();
        for (day, kind, name) in rows() {
            insert.values_panic([day.into(), kind.into(), name.into()]);
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Application::Table)
                    .drop_column(Application::AppealDueOn)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CalendarDay::Table).to_owned())
            .await
    }
}

/// Every seeded day: each day of each holiday period, then each make-up working day.
fn rows() -> Vec<(chrono::NaiveDate, &'static str, &'static str)> {
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
    let mut out = Vec::new();
    for (first, last, name) in crate::holidays::HOLIDAYS {
        let (mut d, last) = (day(first), day(last));
        while d <= last {
            out.push((d, "holiday", *name));
            d = d.succ_opt().expect("a next day");
        }
    }
    for (d, name) in crate::holidays::WORKDAYS {
        out.push((day(d), "workday", *name));
    }
    out
}
