//! sea-orm entities: persistence only. No business rules and no client JSON live here;
//! the service layer turns these rows into validated domain types and API views.

pub mod login_throttle;
pub mod place;
pub mod session_token;
pub mod staff_scope;
pub mod user_account;
