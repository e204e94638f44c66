//! Every schema change, in order. The same migrations run on SQLite (the embedded
//! default) and PostgreSQL; each file is one migration because `DeriveMigrationName`
//! names a migration after its file.

pub use sea_orm_migration::prelude::*;

mod m20261130_000001_accounts_and_places;
mod m20261130_000002_applications;
mod m20261130_000003_eligibility;
mod m20261130_000004_review;
mod m20261130_000005_batches;
mod m20261130_000006_report_counters;
mod m20261201_000007_lifecycle;
mod m20261201_000008_password_reset;
mod m20261201_000009_calendar_and_appeals;
mod m20261201_000010_reverification;
mod m20261201_000011_allocation;
mod m20261202_000012_counter_delta;
mod m20261202_000013_session_scope;
mod m20261202_000014_applicant_masked;

mod holidays;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261130_000001_accounts_and_places::Migration),
            Box::new(m20261130_000002_applications::Migration),
            Box::new(m20261130_000003_eligibility::Migration),
            Box::new(m20261130_000004_review::Migration),
            Box::new(m20261130_000005_batches::Migration),
            Box::new(m20261130_000006_report_counters::Migration),
            Box::new(m20261201_000007_lifecycle::Migration),
            Box::new(m20261201_000008_password_reset::Migration),
            Box::new(m20261201_000009_calendar_and_appeals::Migration),
            Box::new(m20261201_000010_reverification::Migration),
            Box::new(m20261201_000011_allocation::Migration),
            Box::new(m20261202_000012_counter_delta::Migration),
            Box::new(m20261202_000013_session_scope::Migration),
            Box::new(m20261202_000014_applicant_masked::Migration),
        ]
    }
}
