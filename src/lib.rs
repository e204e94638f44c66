//! anju (安居): public-housing applications for a Zhengzhou sub-district office.

pub mod access;
pub mod applications;
pub mod auth;
pub mod batches;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod db;
pub mod demo;
pub mod eligibility;
pub mod error;
pub mod export;
pub mod health;
pub mod http;
pub mod i18n;
pub mod lifecycle;
pub mod notifications;
pub mod openapi;
pub mod places;
pub mod reports;
pub mod review;
pub mod settings;
pub mod startup;
pub mod state;
pub mod values;
pub mod web;
