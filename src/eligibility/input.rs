//! What the engine reads of a household: only the facts its rules look at, in its own
//! types, so the engine depends on no other domain. The applications domain turns a
//! checked form into one of these (`Household::eligibility_input`).

use chrono::{Datelike, NaiveDate};
use entity::enums::{ApplicantClass, Programme};

/// A household as the rules see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Household {
    pub programme: Programme,
    pub applicant_class: ApplicantClass,
    pub members: Vec<Person>,
    pub housing: Vec<Dwelling>,
    /// When each property transfer or demolition of the last years happened.
    pub transfers: Vec<NaiveDate>,
}

/// A member as the rules see them.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// The applicant (本人) rather than another member.
    pub applicant: bool,
    pub birth_date: NaiveDate,
    pub hukou_city: String,
    pub hukou_since: NaiveDate,
    pub annual_income_fen: i64,
    /// Since when the member holds a 低保 certificate.
    pub dibao_since: Option<NaiveDate>,
    /// Months of pension contributions in the last three years.
    pub pension_months: Option<i32>,
}

impl Person {
    /// Whole years of age on `day`.
    pub fn age_on(&self, day: NaiveDate) -> i32 {
        let b = self.birth_date;
        let mut age = day.year() - b.year();
        if (day.month(), day.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age
    }
}

/// How a dwelling is held, as far as the rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tenure {
    Owned,
    /// 承租公房: renting public housing.
    RentedPublic,
    /// Rented privately, borrowed, or none: not counted.
    Other,
}

/// A dwelling; `area_cm2` is in hundredths of a square metre.
#[derive(Clone, Debug, PartialEq)]
pub struct Dwelling {
    pub area_cm2: i64,
    pub tenure: Tenure,
}
