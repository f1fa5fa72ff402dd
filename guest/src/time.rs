//! Time arithmetic on [`Timestamp`](crate::Timestamp)s, which are whole Unix seconds.

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// `days` whole days, in seconds.
pub const fn days(days: i64) -> i64 {
    days * DAY
}

/// A duration in seconds as a number of days, rounding up: any part of a day counts as a day,
/// so a lifespan of 92½ days is reported as 93.
pub const fn days_rounded_up(seconds: i64) -> i64 {
    seconds.div_euclid(DAY) + if seconds.rem_euclid(DAY) > 0 { 1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_days_round_up() {
        assert_eq!(days_rounded_up(0), 0);
        assert_eq!(days_rounded_up(days(90)), 90);
        assert_eq!(days_rounded_up(days(90) + 1), 91);
        assert_eq!(days_rounded_up(days(92) + DAY / 2), 93);
        assert_eq!(days_rounded_up(-DAY / 2), 0);
    }
}
