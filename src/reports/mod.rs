//! Reports: the funnel (submitted → eligible → accepted → passed first review →
//! reported up → approved → allocated) computed from the event log, never from a second
//! source of truth, scoped by role, as JSON, CSV, XLSX, an SVG chart or a terminal table.

pub mod api;
pub mod funnel;
pub mod render;
