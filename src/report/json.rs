//! The JSON report: one pretty-printed object, [`super::dto::Report`], described by
//! `schema/report.schema.json` (its `schema_version` is [`super::dto::REPORT_SCHEMA_VERSION`]).

use super::dto::Report;

/// The report as pretty-printed JSON, with a final newline.
pub fn render(report: &Report) -> String {
    let mut s = crate::sanitize::json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serialising plain data cannot fail; say so in JSON if it ever does.
        format!(
            "{{\"schema_version\":{},\"error\":{}}}",
            report.schema_version,
            serde_json::Value::String(e.to_string())
        )
    });
    s.push('\n');
    s
}
