//! Counting working days, and the admin's edits to the calendar.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Weekday};
use sea_orm::DbErr;

use super::repository as repo;
use crate::access::{Principal, Role};
use crate::state::AppState;

/// Whether a day off the Monday-to-Friday rule is a holiday or a working day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Holiday,
    Workday,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "holiday" => Some(Kind::Holiday),
            "workday" => Some(Kind::Workday),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Holiday => "holiday",
            Kind::Workday => "workday",
        }
    }
}

/// The calendar as loaded: its exceptions, and the years that have any (a year without
/// is counted Monday to Friday, and deadlines in it say so).
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    exceptions: HashMap<NaiveDate, Kind>,
    years: BTreeSet<i32>,
}

/// A deadline counted in working days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The last day (inclusive).
    pub due_on: NaiveDate,
    pub working_days: u32,
    /// Every year the count crossed has its holidays entered.
    pub calendar_complete: bool,
}

impl Calendar {
    pub fn from_days(days: impl IntoIterator<Item = (NaiveDate, Kind)>) -> Self {
        let mut c = Calendar::default();
        for (d, k) in days {
            c.years.insert(d.year());
            c.exceptions.insert(d, k);
        }
        c
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.exceptions.get(&d) {
            Some(Kind::Holiday) => false,
            Some(Kind::Workday) => true,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// The `n`th working day after `from` (`from` itself not counted): the last day of a
    /// period of `n` working days starting the day after.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Deadline {
        let mut d = from;
        let mut left = n;
        let mut complete = self.covers(from.year());
        while left > 0 {
            d = d.succ_opt().unwrap_or(d);
            complete &= self.covers(d.year());
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        Deadline {
            due_on: d,
            working_days: n,
            calendar_complete: complete,
        }
    }

    /// Working days from the day after `from` up to and including `to` (0 if `to` is
    /// not after `from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut d = from;
        while d < to {
            d = d.succ_opt().unwrap_or(to);
            n += u32::from(self.is_working_day(d));
        }
        n
    }
}

/// The loaded calendar, kept for a minute (an admin's edit on another instance shows
/// within that; on this one at once).
#[derive(Default)]
pub struct CalendarCache(RwLock<Option<(Instant, Arc<Calendar>)>>);

const KEEP: Duration = Duration::from_secs(60);

/// The calendar in force.
pub async fn current(state: &AppState) -> Result<Arc<Calendar>, DbErr> {
    let cache = state.cache::<CalendarCache>();
    if let Some((at, c)) = cache.0.read().unwrap_or_else(|p| p.into_inner()).as_ref()
        && at.elapsed() < KEEP
    {
        return Ok(c.clone());
    }
    let rows = repo::all(&state.db).await?;
    let c = Arc::new(Calendar::from_days(
        rows.iter()
            .filter_map(|r| Kind::parse(&r.kind).map(|k| (r.day, k))),
    ));
    *cache.0.write().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), c.clone()));
    Ok(c)
}

/// One day of a year's calendar as stored.
#[derive(Clone, Debug)]
pub struct Day {
    pub day: NaiveDate,
    pub kind: Kind,
    pub name: String,
}

/// The exceptions of a year, and whether the year has any.
pub async fn year(state: &AppState, year: i32) -> Result<Vec<Day>, DbErr> {
    Ok(repo::year(&state.db, year)
        .await?
        .into_iter()
        .filter_map(|r| {
            Kind::parse(&r.kind).map(|kind| Day {
                day: r.day,
                kind,
                name: r.name,
            })
        })
        .collect())
}

/// Why an edit was refused.
#[derive(Debug)]
pub enum EditError {
    Forbidden,
    NotFound,
    Db(DbErr),
}

impl From<DbErr> for EditError {
    fn from(e: DbErr) -> Self {
        EditError::Db(e)
    }
}

/// Sets a day (admin); `None` removes it, so the day follows Monday to Friday again.
pub async fn set(
    state: &AppState,
    caller: &Principal,
    day: NaiveDate,
    value: Option<(Kind, String)>,
) -> Result<(), EditError> {
    if !caller.is(&[Role::Admin]) {
        return Err(EditError::Forbidden);
    }
    match value {
        Some((kind, name)) => repo::put(&state.db, day, kind.as_str(), &name).await?,
        None => {
            if !repo::delete(&state.db, day).await? {
                return Err(EditError::NotFound);
            }
        }
    }
    *state
        .cache::<CalendarCache>()
        .0
        .write()
        .unwrap_or_else(|p| p.into_inner()) = None;
    tracing::info!(user_id = caller.user_id, %day, "calendar edited");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn fifteen_working_days_over_the_spring_festival_of_2026() {
        let mut days: Vec<(NaiveDate, Kind)> = (15..=23)
            .map(|n| (NaiveDate::from_ymd_opt(2026, 2, n).unwrap(), Kind::Holiday))
            .collect();
        days.push((d("2026-02-14"), Kind::Workday));
        days.push((d("2026-02-28"), Kind::Workday));
        let cal = Calendar::from_days(days);
        // Filed on Friday 13 February: Sat 14 (调休) is day 1, the festival none, then
        // 24-27 February, Sat 28 (调休), 2-6 March and 9-12 March: 1 + 4 + 1 + 5 + 4.
        let due = cal.add_working_days(d("2026-02-13"), 15);
        assert_eq!(due.due_on, d("2026-03-12"));
        assert!(due.calendar_complete);
        assert_eq!(
            cal.working_days_between(d("2026-02-13"), d("2026-03-12")),
            15
        );
        // Weekdays only, the festival ignored, would have said 6 March.
        let naive = Calendar::default().add_working_days(d("2026-02-13"), 15);
        assert_eq!(naive.due_on, d("2026-03-06"));
        assert!(!naive.calendar_complete);
    }
}
