//! Allocation use cases for the housing stock: import (all or nothing), list, read with
//! history, edit one unit. Rounds, registration, ranking and offers are in `rounds`.
//! Only the bureau manages the stock; every status change goes through the unit writer.

use entity::enums::UnitStatus;
use entity::housing_unit;
use sea_orm::{ActiveValue::Set, DbErr};

use super::repository as repo;
use super::stock::{self, BadCell};
use crate::access::{Principal, Role};
use crate::applications::ApplicationError;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::LifecycleError;
use crate::lifecycle::unit_writer::{self, Context, UnitEvent};
use crate::state::AppState;

pub use entity::enums::UnitStatus as Availability;
pub use entity::enums::{EntryStatus, OfferStatus, RankingMethod, RoundStatus};

/// A unit as other layers see it.
pub type Unit = housing_unit::Model;

#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    #[error("no such unit, round or offer")]
    NotFound,
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("the file has bad cells")]
    BadFile(Vec<BadCell>),
    #[error("not allowed while the round is {0}")]
    WrongRoundState(RoundStatus),
    #[error("{}", .1.en)]
    Conflict(&'static str, Msg),
    #[error("the unit changed since version {0}")]
    Stale(i32),
    #[error(transparent)]
    Case(#[from] ApplicationError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<LifecycleError> for AllocationError {
    fn from(e: LifecycleError) -> Self {
        AllocationError::Case(e.into())
    }
}

impl AllocationError {
    pub fn conflict(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        AllocationError::Conflict(code, Msg::new(zh, en))
    }
}

pub(super) fn bureau_only(caller: &Principal) -> Result<(), AllocationError> {
    if caller.role == Role::Bureau {
        Ok(())
    } else {
        Err(AllocationError::Forbidden)
    }
}

/// The file formats an import takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    /// By the file's name or its first bytes (an XLSX file is a zip archive).
    pub fn guess(name: &str, bytes: &[u8]) -> FileFormat {
        if name.to_lowercase().ends_with(".xlsx") || bytes.starts_with(b"PK\x03\x04") {
            FileFormat::Xlsx
        } else {
            FileFormat::Csv
        }
    }
}

/// Imports units from a spreadsheet: every row checked, every bad cell reported with its
/// line and column, and nothing written unless every row is good and new.
pub async fn import_units(
    state: &AppState,
    caller: &Principal,
    bytes: &[u8],
    format: FileFormat,
) -> Result<Vec<i64>, AllocationError> {
    bureau_only(caller)?;
    let rows = match format {
        FileFormat::Csv => stock::csv_rows(bytes),
        FileFormat::Xlsx => stock::xlsx_rows(bytes),
    }
    .map_err(|b| AllocationError::BadFile(vec![b]))?;
    let units = stock::read(&rows).map_err(AllocationError::BadFile)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let mut projects: Vec<String> = units.iter().map(|u| u.project.clone()).collect();
    projects.sort();
    projects.dedup();
    let existing = repo::existing_addresses(&txn, &projects).await?;
    let clashes: Vec<BadCell> = units
        .iter()
        .filter(|u| {
            existing
                .iter()
                .any(|(p, b, n)| *p == u.project && *b == u.building && *n == u.unit_no)
        })
        .map(|u| BadCell {
            line: u.line,
            column: String::new(),
            header: "房号",
            zh: format!("{} {} {} 已在房源中", u.project, u.building, u.unit_no),
            en: format!(
                "{} {} {} is already in the stock",
                u.project, u.building, u.unit_no
            ),
        })
        .collect();
    if !clashes.is_empty() {
        return Err(AllocationError::BadFile(clashes));
    }
    let now = state.clock.now();
    let ids = repo::insert_units(&txn, &units, now).await?;
    let added: Vec<(i64, UnitStatus)> = ids.iter().map(|i| (*i, UnitStatus::Available)).collect();
    unit_writer::record_new(&txn, &added, Some(caller.user_id), now).await?;
    txn.commit().await?;
    Ok(ids)
}

/// A page of the stock, with the count that matched and counts by status.
pub struct StockPage {
    pub units: Vec<Unit>,
    pub total: u64,
    pub by_status: Vec<(UnitStatus, i64)>,
    pub projects: Vec<String>,
}

pub async fn list_units(
    state: &AppState,
    caller: &Principal,
    project: Option<&str>,
    status: Option<UnitStatus>,
    offset: u64,
    limit: u64,
) -> Result<StockPage, AllocationError> {
    bureau_only(caller)?;
    let (units, total) = repo::units(&state.db, project, status, offset, limit.min(500)).await?;
    Ok(StockPage {
        units,
        total,
        by_status: repo::unit_counts(&state.db).await?,
        projects: repo::projects(&state.db).await?,
    })
}

/// A unit with its history.
pub async fn unit(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<(Unit, Vec<UnitEvent>), AllocationError> {
    bureau_only(caller)?;
    let unit = repo::unit(&state.db, id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    Ok((unit, unit_writer::history(&state.db, id).await?))
}

/// What an edit of one unit may change.
#[derive(Clone, Debug, Default)]
pub struct UnitEdit {
    pub area_centi: Option<i32>,
    pub rooms: Option<i32>,
    pub floor: Option<i32>,
    pub rent_fen: Option<i64>,
    pub accessible: Option<bool>,
    /// Take the unit out of the stock (`false`) or put it back (`true`).
    pub available: Option<bool>,
    pub note: Option<String>,
}

fn check_edit(e: &UnitEdit) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if e.area_centi.is_some_and(|a| !(500..=30_000).contains(&a)) {
        errors.push(FieldError::out_of_range("area_centi", 500, 30_000));
    }
    if e.rooms.is_some_and(|r| !(0..=10).contains(&r)) {
        errors.push(FieldError::out_of_range("rooms", 0, 10));
    }
    if e.floor.is_some_and(|f| !(-3..=100).contains(&f)) {
        errors.push(FieldError::out_of_range("floor", -3, 100));
    }
    if e.rent_fen.is_some_and(|r| !(0..=1_000_000).contains(&r)) {
        errors.push(FieldError::out_of_range("rent_fen", 0, 1_000_000));
    }
    if e.note.as_deref().is_some_and(|n| n.chars().count() > 500) {
        errors.push(FieldError::out_of_range("note", 0, 500));
    }
    errors
}

/// Edits one unit, if it is still at `version`.
pub async fn edit_unit(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: i32,
    edit: UnitEdit,
) -> Result<Unit, AllocationError> {
    bureau_only(caller)?;
    let errors = check_edit(&edit);
    if !errors.is_empty() {
        return Err(AllocationError::Invalid(errors));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let unit = repo::unit(&txn, id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    if unit.version != version {
        return Err(AllocationError::Stale(unit.version));
    }
    let now = state.clock.now();
    let row = housing_unit::ActiveModel {
        area_centi: set(edit.area_centi),
        rooms: set(edit.rooms),
        floor: set(edit.floor),
        rent_fen: set(edit.rent_fen),
        accessible: set(edit.accessible),
        updated_at: Set(now),
        ..Default::default()
    };
    if !repo::update_unit(&txn, id, version, row).await? {
        return Err(AllocationError::Stale(unit.version));
    }
    if let Some(available) = edit.available {
        let (from, to) = if available {
            (UnitStatus::Unavailable, UnitStatus::Available)
        } else {
            (UnitStatus::Available, UnitStatus::Unavailable)
        };
        let ctx = Context {
            actor_id: Some(caller.user_id),
            note: edit.note.clone(),
            ..Default::default()
        };
        if unit.status != to && !unit_writer::move_unit(&txn, id, &[from], to, &ctx, now).await? {
            return Err(AllocationError::conflict(
                "unit_busy",
                format!("房源当前状态为 {}，不能更改", unit.status),
                format!("The unit is {}; it cannot be changed now", unit.status),
            ));
        }
    }
    let unit = repo::unit(&txn, id)
        .await?
        .ok_or(AllocationError::NotFound)?;
    txn.commit().await?;
    Ok(unit)
}

fn set<T: Into<sea_orm::Value>>(v: Option<T>) -> sea_orm::ActiveValue<T> {
    v.map_or(sea_orm::ActiveValue::NotSet, Set)
}

/// The unit's address for people: project, building, unit, area.
pub fn describe(u: &Unit) -> String {
    format!(
        "{} {} {} ({}.{:02} m², {} 室)",
        u.project,
        u.building,
        u.unit_no,
        u.area_centi / 100,
        u.area_centi % 100,
        u.rooms
    )
}
