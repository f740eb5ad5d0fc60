//! The dashboard's companions: time series buckets, user-statistics periods, and the
//! user search's query, each checked from its query string (422 naming the parameter).

use chrono::{Datelike, Duration, Months, NaiveDate};
use common::auth::{KycStatus, Role};
use serde::{Deserialize, Serialize};
use service_kit::http::FieldError;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::domain::facts::{AccountStatus, Metric};

common::string_enum! {
    /// A time series' bucket.
    pub enum Bucket {
        Day = "day",
        /// ISO weeks, from Monday.
        Week = "week",
    }
}

impl Bucket {
    /// The first day of the bucket holding `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Day => day,
            Bucket::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        }
    }

    /// The first day of every bucket from `from`'s to `to`'s.
    pub fn starts(self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let step = match self {
            Bucket::Day => Duration::days(1),
            Bucket::Week => Duration::weeks(1),
        };
        let mut out = Vec::new();
        let mut day = self.start_of(from);
        while day <= to {
            out.push(day);
            day += step;
        }
        out
    }

    /// The most buckets one series may span.
    pub fn max_buckets(self) -> i64 {
        match self {
            Bucket::Day => 366,
            Bucket::Week => 104,
        }
    }
}

common::string_enum! {
    /// A user-statistics period (`admin:users:{period}`).
    pub enum Period {
        /// The last 30 days.
        Day = "day",
        /// The last 12 ISO weeks.
        Week = "week",
        /// The last 12 calendar months.
        Month = "month",
    }
}

impl Period {
    /// The first day of each bucket, oldest first, the last holding `today`.
    pub fn starts(self, today: NaiveDate) -> Vec<NaiveDate> {
        match self {
            Period::Day => (0..30).rev().map(|n| today - Duration::days(n)).collect(),
            Period::Week => {
                let monday = Bucket::Week.start_of(today);
                (0..12).rev().map(|n| monday - Duration::weeks(n)).collect()
            }
            Period::Month => {
                let first = today.with_day(1).unwrap_or(today);
                (0..12)
                    .rev()
                    .filter_map(|n| first.checked_sub_months(Months::new(n)))
                    .collect()
            }
        }
    }

    /// The last day of the bucket starting `start`.
    pub fn end_of(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => start,
            Period::Week => start + Duration::days(6),
            Period::Month => start
                .checked_add_months(Months::new(1))
                .map_or(start, |next| next - Duration::days(1)),
        }
    }
}

fn field(errors: &mut Vec<FieldError>, name: &str, message: &str) {
    errors.push(FieldError {
        field: name.into(),
        message: message.into(),
    });
}

/// `GET /api/admin/metrics`'s query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricParams {
    /// `signups`, `kyc_approved`, `kyc_rejected`, `listed`, `offers`, `funded`, `repaid`
    /// or `fee_revenue`.
    #[param(value_type = Metric)]
    pub metric: Option<String>,
    /// `day` (default) or `week`.
    #[param(value_type = Option<Bucket>)]
    pub bucket: Option<String>,
    /// First day (ISO date, 1970 or later; default: 29 days or 11 weeks before `to`). A
    /// window longer than 366 days (104 weeks) is cut to its last 366 days (104 weeks);
    /// one that ends before it starts has no buckets.
    #[param(format = Date, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub from: Option<String>,
    /// Last day (ISO date, 1970 or later; default today, UTC).
    #[param(format = Date, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    pub to: Option<String>,
}

/// A checked series request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricQuery {
    pub metric: Metric,
    pub bucket: Bucket,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn date(errors: &mut Vec<FieldError>, name: &str, v: Option<&str>) -> Option<NaiveDate> {
    let d = v?;
    match service_kit::http::iso_date(d) {
        Some(d) if (1970..=9999).contains(&d.year()) => Some(d),
        _ => {
            field(
                errors,
                name,
                "must be an ISO date from 1970-01-01 to 9999-12-31, such as 2027-01-31",
            );
            None
        }
    }
}

impl MetricParams {
    /// The series asked for on `today`, or every parameter at fault.
    pub fn parse(&self, today: NaiveDate) -> Result<MetricQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let metric = match self.metric.as_deref().map(str::parse::<Metric>) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                field(&mut errors, "metric", &e);
                None
            }
            None => {
                field(&mut errors, "metric", "required");
                None
            }
        };
        let bucket = match self.bucket.as_deref().map(str::parse::<Bucket>) {
            None => Bucket::Day,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                field(&mut errors, "bucket", &e);
                Bucket::Day
            }
        };
        let to = date(&mut errors, "to", self.to.as_deref()).unwrap_or(today);
        let default_from = match bucket {
            Bucket::Day => to - Duration::days(29),
            Bucket::Week => bucket.start_of(to) - Duration::weeks(11),
        };
        let asked_from = date(&mut errors, "from", self.from.as_deref()).unwrap_or(default_from);
        // The earliest first day that keeps the series within its most buckets.
        let earliest = match bucket {
            Bucket::Day => to - Duration::days(bucket.max_buckets() - 1),
            Bucket::Week => bucket.start_of(to) - Duration::weeks(bucket.max_buckets() - 1),
        };
        let from = asked_from.max(earliest);
        match metric {
            Some(metric) if errors.is_empty() => Ok(MetricQuery {
                metric,
                bucket,
                from,
                to,
            }),
            _ => Err(errors),
        }
    }
}

/// `GET /api/admin/users/stats`'s query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// `day` (the last 30 days), `week` (12 weeks) or `month` (12 months).
    #[param(value_type = Period)]
    pub period: Option<String>,
}

impl StatsParams {
    pub fn parse(&self) -> Result<Period, Vec<FieldError>> {
        match self.period.as_deref().map(str::parse::<Period>) {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(vec![FieldError {
                field: "period".into(),
                message: e,
            }]),
            None => Err(vec![FieldError {
                field: "period".into(),
                message: "required: day, week or month".into(),
            }]),
        }
    }
}

/// Users per page unless `limit` says otherwise.
pub const DEFAULT_USERS: u64 = 50;

/// `GET /api/admin/users`'s query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserParams {
    /// Part of the email or name (case-insensitive, 2 to 100 characters).
    #[param(min_length = 2, max_length = 100)]
    pub q: Option<String>,
    /// `seller`, `investor` or `admin`.
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
    /// A KYC status.
    #[param(value_type = Option<KycStatus>)]
    pub kyc: Option<String>,
    /// `active` or `suspended`.
    #[param(value_type = Option<AccountStatus>)]
    pub status: Option<String>,
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// A checked user search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserQuery {
    /// Lowercased.
    pub text: Option<String>,
    pub role: Option<Role>,
    pub kyc: Option<KycStatus>,
    pub status: Option<AccountStatus>,
    pub limit: u64,
    /// Users before this id (the cursor).
    pub before: Option<Uuid>,
}

impl UserParams {
    pub fn parse(&self) -> Result<UserQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let text = self.q.as_deref().map(|q| q.trim().to_lowercase());
        if let Some(t) = &text
            && !(2..=100).contains(&t.chars().count())
        {
            field(&mut errors, "q", "must be 2 to 100 characters");
        }
        fn word<T: std::str::FromStr<Err = String>>(
            errors: &mut Vec<FieldError>,
            name: &str,
            v: Option<&str>,
        ) -> Option<T> {
            match v?.trim().parse::<T>() {
                Ok(t) => Some(t),
                Err(e) => {
                    field(errors, name, &e);
                    None
                }
            }
        }
        let role = word::<Role>(&mut errors, "role", self.role.as_deref());
        let kyc = word::<KycStatus>(&mut errors, "kyc", self.kyc.as_deref());
        let status = word::<AccountStatus>(&mut errors, "status", self.status.as_deref());
        let limit = match self.limit.as_deref().map(|l| l.trim().parse::<u64>()) {
            None => DEFAULT_USERS,
            Some(Ok(l)) if (1..=200).contains(&l) => l,
            Some(_) => {
                field(&mut errors, "limit", "must be a whole number from 1 to 200");
                DEFAULT_USERS
            }
        };
        let before = match self.cursor.as_deref().map(|c| c.trim().parse::<Uuid>()) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(_)) => {
                field(
                    &mut errors,
                    "cursor",
                    "must be a next_cursor this search returned",
                );
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(UserQuery {
            text,
            role,
            kyc,
            status,
            limit,
            before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-12-06 is a Sunday.
        assert_eq!(Bucket::Week.start_of(day("2026-12-06")), day("2026-11-30"));
        assert_eq!(
            Bucket::Week.starts(day("2026-11-25"), day("2026-12-06")),
            [day("2026-11-23"), day("2026-11-30")]
        );
        let months = Period::Month.starts(day("2026-12-06"));
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], day("2026-01-01"));
        assert_eq!(months[11], day("2026-12-01"));
        assert_eq!(Period::Month.end_of(day("2026-02-01")), day("2026-02-28"));
        assert_eq!(Period::Day.starts(day("2026-12-06")).len(), 30);
        assert_eq!(Period::Week.end_of(day("2026-11-30")), day("2026-12-06"));
    }

    #[test]
    fn a_series_names_what_is_wrong_with_it() {
        let today = day("2026-12-06");
        let p = MetricParams {
            metric: Some("funded".into()),
            ..MetricParams::default()
        };
        let q = p.parse(today).unwrap();
        assert_eq!((q.from, q.to), (day("2026-11-07"), today));
        let bad = MetricParams {
            metric: Some("profit".into()),
            bucket: Some("year".into()),
            from: Some("2026-13-01".into()),
            to: None,
        };
        let fields: Vec<String> = bad
            .parse(today)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["metric", "bucket", "from"]);
        let long = MetricParams {
            metric: Some("signups".into()),
            from: Some("2020-01-01".into()),
            ..MetricParams::default()
        };
        // A window too long is cut to its last 366 days; one reversed has no buckets.
        let cut = long.parse(today).unwrap();
        assert_eq!((cut.to - cut.from).num_days(), 365);
        assert_eq!(cut.to, today);
        let reversed = MetricParams {
            metric: Some("signups".into()),
            from: Some("2026-12-01".into()),
            to: Some("2026-11-01".into()),
            ..MetricParams::default()
        };
        let q = reversed.parse(today).unwrap();
        assert!(q.bucket.starts(q.from, q.to).is_empty());
        for (f, t) in [("0001-01-01", "2026-12-06"), ("2026-01-01", "+99999-01-01")] {
            let far = MetricParams {
                metric: Some("signups".into()),
                from: Some(f.into()),
                to: Some(t.into()),
                ..MetricParams::default()
            };
            assert!(far.parse(today).is_err(), "{f}..{t}");
        }
        let year = MetricParams {
            metric: Some("signups".into()),
            bucket: Some("week".into()),
            from: Some("2025-12-08".into()),
            to: Some("2026-12-06".into()),
        };
        let q = year.parse(today).unwrap();
        assert_eq!(Bucket::Week.starts(q.from, q.to).len(), 52);
    }
}
