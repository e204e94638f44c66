//! Black-box tests over HTTP. Every test gets a fresh database: a SQLite file in a temp
//! directory, or, with `ANJU_TEST_POSTGRES_URL` set, its own PostgreSQL schema.

mod fixtures;
mod helpers;

mod allocation;
mod appeals;
mod applications;
mod auth;
mod batches;
mod cli;
mod eligibility;
mod errors;
mod group_commit;
mod health_and_docs;
mod lifecycle;
mod limits;
mod mail;
mod network;
mod operations;
mod places;
mod replica;
mod reports;
mod reverification;
mod review;
mod security;
mod staff_web;
mod startup;
mod users;
mod web;
