//! Periods (rolling, calendar week and month), labels of windows, and the remaining budget.

use std::time::Duration;

use super::config::{BudgetingMethod, Period};
use super::window::Windows;

use super::*;
/// SLI and remaining error budget over the period.
pub fn budget(
    w: &Windows,
    method: BudgetingMethod,
    target: f64,
    now: u64,
    period: u64,
) -> (Option<f64>, f64) {
    match method {
        BudgetingMethod::Occurrences => {
            let counts = w.counts(now, period);
            let sli = (counts.total > 0.0).then(|| counts.good / counts.total);
            (sli, 1.0 - counts.burn_rate(target).unwrap_or(0.0))
        }
        BudgetingMethod::Timeslices => {
            let slices = w.slices(now, period);
            let sli = (slices.total > 0.0).then(|| slices.good / slices.total);
            let bad = slices.total - slices.good;
            let remaining =
                if slices.total > 0.0 { 1.0 - bad / ((1.0 - target) * slices.total) } else { 1.0 };
            (sli, remaining)
        }
    }
}

/// The SLO window's length at `now`, seconds.
pub(super) fn period_seconds(period: Period, now: u64) -> u64 {
    let seconds = now / SECOND;
    let days = seconds / 86_400;
    match period {
        Period::Rolling(s) => s,
        Period::CalendarWeek => {
            let weekday = (days + 3) % 7; // 1970-01-01 was a Thursday; Monday is 0
            seconds - (days - weekday) * 86_400
        }
        Period::CalendarMonth => {
            let (_, _, day) = civil_from_days(days as i64);
            seconds - (days - (day as u64 - 1)) * 86_400
        }
    }
    .max(1)
}

/// (year, month, day) of days since 1970-01-01 (Howard Hinnant's civil-from-days).
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A window's label: `5m`, `1h`, `3d`.
pub(super) fn label(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
