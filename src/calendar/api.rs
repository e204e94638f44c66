//! HTTP for the calendar: anyone reads a year; the admin marks a day a holiday or a
//! working day, or clears it.

use chrono::NaiveDate;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json};

use super::service::{self, Kind};
use crate::access::BearerAuth;
use crate::error::{ApiError, FieldError};
use crate::http::body::JsonBody;
use crate::i18n::Msg;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// What a day off the Monday-to-Friday rule is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[oai(rename = "CalendarDayKind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// An official holiday: not a working day.
    Holiday,
    /// A weekend day that is a working day (调休).
    Workday,
}

impl From<DayKind> for Kind {
    fn from(k: DayKind) -> Self {
        match k {
            DayKind::Holiday => Kind::Holiday,
            DayKind::Workday => Kind::Workday,
        }
    }
}

impl From<Kind> for DayKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Holiday => DayKind::Holiday,
            Kind::Workday => DayKind::Workday,
        }
    }
}

/// One exception to Monday-to-Friday.
#[derive(Object)]
pub struct CalendarDayView {
    /// The day.
    pub day: NaiveDate,
    /// Holiday or working day.
    pub kind: DayKind,
    /// The holiday (or, for a working day, the holiday it makes up for).
    pub name: String,
}

/// A year's calendar.
#[derive(Object)]
pub struct CalendarYearView {
    /// The year shown.
    pub year: i32,
    /// Whether the year's holidays have been entered; when not, deadlines in it count
    /// Monday to Friday and say so.
    pub entered: bool,
    /// Holidays and make-up working days, in date order.
    pub days: Vec<CalendarDayView>,
}

/// Marks a day.
#[derive(Object, serde::Deserialize)]
pub struct CalendarDayRequest {
    /// Holiday or working day.
    pub kind: DayKind,
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(ApiResponse)]
pub enum CalendarYearResponse {
    #[oai(status = 200)]
    Ok(Json<CalendarYearView>),
}

#[derive(ApiResponse)]
pub enum CalendarDayResponse {
    /// Stored.
    #[oai(status = 200)]
    Ok(Json<CalendarDayView>),
}

#[derive(ApiResponse)]
pub enum CalendarDeleted {
    /// Cleared: the day follows Monday to Friday again.
    #[oai(status = 204)]
    Deleted,
}

pub struct CalendarApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Calendar")]
impl CalendarApi {
    /// A year's working-day calendar
    ///
    /// Public. Official holidays and make-up working days (调休) for the year; every
    /// other Monday to Friday is a working day.
    #[oai(
        path = "/api/v1/calendar/:year",
        method = "get",
        operation_id = "calendar_year"
    )]
    async fn year(&self, year: Path<i32>) -> Result<CalendarYearResponse, ApiError> {
        if !(1990..=2100).contains(&year.0) {
            return Err(ApiError::validation(vec![FieldError::new(
                "year",
                "out_of_range",
                Msg::new("年份应在 1990 至 2100 之间", "a year from 1990 to 2100"),
            )]));
        }
        let days = service::year(&self.state, year.0).await?;
        Ok(CalendarYearResponse::Ok(Json(CalendarYearView {
            year: year.0,
            entered: !days.is_empty(),
            days: days
                .into_iter()
                .map(|d| CalendarDayView {
                    day: d.day,
                    kind: d.kind.into(),
                    name: d.name,
                })
                .collect(),
        })))
    }

    /// Mark a day a holiday or a working day (admin)
    #[oai(
        path = "/api/v1/admin/calendar/:day",
        method = "put",
        operation_id = "calendar_set"
    )]
    async fn set(
        &self,
        auth: BearerAuth,
        day: Path<NaiveDate>,
        body: JsonBody<CalendarDayRequest>,
    ) -> Result<CalendarDayResponse, ApiError> {
        let name = crate::values::text("name", body.0.name.trim(), 100)
            .map_err(|e| ApiError::validation(vec![e]))?;
        if name.is_empty() {
            return Err(ApiError::validation(vec![FieldError::required("name")]));
        }
        let kind = body.0.kind;
        service::set(
            &self.state,
            &auth.0,
            day.0,
            Some((kind.into(), name.clone())),
        )
        .await?;
        Ok(CalendarDayResponse::Ok(Json(CalendarDayView {
            day: day.0,
            kind,
            name,
        })))
    }

    /// Clear a day (admin)
    #[oai(
        path = "/api/v1/admin/calendar/:day",
        method = "delete",
        operation_id = "calendar_clear"
    )]
    async fn clear(
        &self,
        auth: BearerAuth,
        day: Path<NaiveDate>,
    ) -> Result<CalendarDeleted, ApiError> {
        service::set(&self.state, &auth.0, day.0, None).await?;
        Ok(CalendarDeleted::Deleted)
    }
}
