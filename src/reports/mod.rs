//! Reports: the funnel (submitted → eligible → accepted → passed first review →
//! reported up → approved → allocated), scoped by role, as JSON, CSV, XLSX, an SVG chart
//! or a terminal table. It reads the counters the lifecycle writers keep in step with
//! the event log in each event's transaction (`crate::lifecycle::counters`), which can
//! always be rebuilt from the log.

pub mod api;
pub mod funnel;
pub mod render;
