//! sea-orm entities: persistence only. No business rules and no client JSON live here;
//! the service layer turns these rows into validated domain types and API views.

pub mod app_secret;
pub mod application;
pub mod application_event;
pub mod batch;
pub mod batch_event;
pub mod batch_item;
pub mod case_access;
pub mod duplicate_flag;
pub mod eligibility_decision;
pub mod enums;
pub mod export_log;
pub mod funnel_count;
pub mod funnel_duration;
pub mod idempotency_record;
pub mod login_throttle;
pub mod member_key;
pub mod number_sequence;
pub mod objection;
pub mod outbox_message;
pub mod password_reset;
pub mod place;
pub mod policy;
pub mod session_token;
pub mod staff_scope;
pub mod status_count;
pub mod user_account;
