//! Outputs read an [`crate::analysis::Analysis`] (and the [`crate::graph::Trace`] built from it) and
//! write one format each; they never detect. Host bytes reach them escaped; each format's own escaping
//! is in [`escape`].

pub mod escape;
pub mod findings_json;
pub mod graph_dot;
pub mod graph_json;
pub mod incidents;
pub mod lead;
pub mod report_html;
pub mod report_svg;
pub mod stix;
pub mod summary;
pub mod timeline_jsonl;

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const ISO_US: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
const ISO_MS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

fn from_us(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// ISO 8601 UTC with microseconds (`2024-05-01T12:00:00.000000Z`); out-of-range times clamp to the epoch.
pub fn iso_us(us: i64) -> String {
    from_us(us)
        .format(ISO_US)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".into())
}

/// ISO 8601 UTC with milliseconds, as STIX wants for `created`/`modified`.
pub fn iso_ms(ms: i64) -> String {
    from_us(ms.saturating_mul(1000))
        .format(ISO_MS)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_formats() {
        assert_eq!(iso_us(1_714_564_800_123_456), "2024-05-01T12:00:00.123456Z");
        assert_eq!(iso_ms(1_714_564_800_007), "2024-05-01T12:00:00.007Z");
        assert_eq!(iso_us(i64::MAX), "1970-01-01T00:00:00.000000Z");
    }
}
