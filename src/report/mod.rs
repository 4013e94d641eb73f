//! Headless output. [`ndjson`] streams every event as one JSON object per line.

pub mod ndjson;
