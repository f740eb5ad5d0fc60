//! `GET /api/invoices`: filters, sort and pages, cached per (canonical query, viewer
//! scope, generation) in `search:invoices:{hash}` for 300 s.

use chrono::NaiveDate;
use common::auth::Role;
use common::money::{Currency, Money};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};
use serde::{Deserialize, Serialize};
use service_kit::auth::AuthUser;
use service_kit::http::FieldError;
use utoipa::{IntoParams, ToSchema};

use crate::domain::InvoiceStatus;
use crate::domain::InvoiceView;
use crate::outbound::{CACHE_SCOPE, LISTED_SCOPE, seller_scope};
use crate::store::entity::invoice;

/// The query string as sent. Unknown parameters are refused (422), not ignored.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// One status (investors only ever see `listed`).
    #[param(value_type = Option<InvoiceStatus>)]
    pub status: Option<String>,
    /// Decimal string, inclusive (at most 16 digits before the point, 2 after). A range
    /// with `min_amount` above `max_amount` matches nothing.
    #[param(pattern = r"^[0-9]{1,16}(\.[0-9]{1,2})?$")]
    pub min_amount: Option<String>,
    #[param(pattern = r"^[0-9]{1,16}(\.[0-9]{1,2})?$")]
    pub max_amount: Option<String>,
    /// ISO 4217.
    #[param(value_type = Option<Currency>)]
    pub currency: Option<String>,
    /// ISO date, inclusive. A window with `due_after` after `due_before` matches nothing.
    #[param(format = Date)]
    pub due_after: Option<String>,
    #[param(format = Date)]
    pub due_before: Option<String>,
    /// Substring of the debtor's name (case-insensitive; blank means any).
    #[param(max_length = 100)]
    pub debtor: Option<String>,
    /// Words in the number, debtor or description (case-insensitive, all must match;
    /// blank means any).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `due_date`, `amount` or `created_at`; `-` first for descending. Default `-created_at`.
    #[param(pattern = "^-?(due_date|amount|created_at)$")]
    pub sort: Option<String>,
    /// 1 to 10000. Default 1.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 10_000)]
    pub page: Option<String>,
    /// 1 to 100. Default 20.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum SortKey {
    DueDate,
    Amount,
    CreatedAt,
}

/// The checked query. Its JSON (fields in declaration order, values normalised) plus the
/// viewer's scope is the canonical form hashed into the cache key: the order of the
/// parameters cannot split entries, and two viewers' results can never share one.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    status: Option<InvoiceStatus>,
    min_amount_minor: Option<i64>,
    max_amount_minor: Option<i64>,
    currency: Option<Currency>,
    due_after: Option<NaiveDate>,
    due_before: Option<NaiveDate>,
    debtor: Option<String>,
    words: Vec<String>,
    sort: SortKey,
    descending: bool,
    page: u64,
    per_page: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<InvoiceView>,
    /// Matches over all pages.
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl SearchParams {
    /// The search asked for, or every parameter at fault.
    pub fn parse(&self) -> Result<Search, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            })
        };
        let status = self.status.as_deref().and_then(|s| {
            s.parse::<InvoiceStatus>()
                .map_err(|m| err("status", m))
                .ok()
        });
        let currency = self
            .currency
            .as_deref()
            .and_then(|c| c.parse::<Currency>().map_err(|m| err("currency", m)).ok());
        let mut amount = |field: &str, v: &Option<String>| {
            v.as_deref().and_then(|a| {
                // What the document's pattern says: up to 16 digits, then up to 2 decimals.
                let shaped = a.split_once('.').map_or(a.len() <= 16, |(w, f)| {
                    w.len() <= 16 && (1..=2).contains(&f.len())
                });
                if !shaped {
                    err(
                        field,
                        "must be a decimal number such as \"1500000.00\" (at most 16 digits before the point)".into(),
                    );
                    return None;
                }
                Money::parse(a, currency.unwrap_or(Currency::NGN))
                    .map(|m| m.minor())
                    .map_err(|e| err(field, e.to_string()))
                    .ok()
            })
        };
        let min_amount_minor = amount("min_amount", &self.min_amount);
        let max_amount_minor = amount("max_amount", &self.max_amount);
        let mut date = |field: &str, v: &Option<String>| {
            v.as_deref().and_then(|d| {
                service_kit::http::iso_date(d).or_else(|| {
                    err(field, "must be an ISO date such as 2027-01-31".into());
                    None
                })
            })
        };
        let due_after = date("due_after", &self.due_after);
        let due_before = date("due_before", &self.due_before);
        for (field, v) in [("debtor", &self.debtor), ("q", &self.q)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 100) {
                err(field, "at most 100 characters".into());
            }
        }
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
        };
        let debtor = text(&self.debtor);
        let q = text(&self.q);
        let words: Vec<String> = q
            .map(|q| q.split_whitespace().take(8).map(str::to_owned).collect())
            .unwrap_or_default();
        let (descending, key) = match self.sort.as_deref() {
            None => (true, "created_at"),
            Some(s) => match s.strip_prefix('-') {
                Some(k) => (true, k),
                None => (false, s),
            },
        };
        let sort = match key {
            "due_date" => Some(SortKey::DueDate),
            "amount" => Some(SortKey::Amount),
            "created_at" => Some(SortKey::CreatedAt),
            _ => {
                err(
                    "sort",
                    "one of due_date, amount, created_at, optionally with a - prefix".into(),
                );
                None
            }
        };
        let mut number = |field: &str, v: &Option<String>, default: u64, max: u64| {
            let n = match v.as_deref() {
                None => Some(default),
                Some(s) => s.parse::<u64>().ok(),
            };
            match n {
                Some(n) if (1..=max).contains(&n) => n,
                _ => {
                    err(field, format!("must be a whole number from 1 to {max}"));
                    default
                }
            }
        };
        let page = number("page", &self.page, 1, 10_000);
        let per_page = number("per_page", &self.per_page, 20, 100);
        match sort {
            Some(sort) if errors.is_empty() => Ok(Search {
                status,
                min_amount_minor,
                max_amount_minor,
                currency,
                due_after,
                due_before,
                debtor,
                words,
                sort,
                descending,
                page,
                per_page,
            }),
            _ => Err(errors),
        }
    }
}

/// What the viewer may see, as part of the cache key: sellers their own invoices,
/// investors listed ones (each investor keyed apart, so per-investor visibility added
/// later cannot leak), admins all.
pub fn scope(viewer: &AuthUser) -> String {
    match viewer.role {
        Role::Admin => "admin".to_owned(),
        Role::Seller => format!("seller {}", viewer.id),
        Role::Investor => format!("investor {}", viewer.id),
    }
}

/// The cache generation the viewer's results hang on (writes bump only the scopes whose
/// results they can change: a seller's new draft leaves investors' cached pages alone).
pub fn generation_scope(viewer: &AuthUser) -> String {
    match viewer.role {
        Role::Admin => CACHE_SCOPE.to_owned(),
        Role::Seller => seller_scope(viewer.id),
        Role::Investor => LISTED_SCOPE.to_owned(),
    }
}

impl Search {
    /// The string hashed into the cache key.
    pub fn canonical(&self, scope: &str) -> String {
        format!(
            "{scope}\n{}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }

    fn select(&self, viewer: &AuthUser) -> Select<invoice::Entity> {
        let mut cond = Condition::all();
        match viewer.role {
            Role::Admin => {}
            Role::Seller => cond = cond.add(invoice::Column::SellerId.eq(viewer.id)),
            Role::Investor => {
                cond = cond.add(invoice::Column::Status.eq(InvoiceStatus::Listed.as_str()))
            }
        }
        if let Some(s) = self.status {
            cond = cond.add(invoice::Column::Status.eq(s.as_str()));
        }
        if let Some(min) = self.min_amount_minor {
            cond = cond.add(invoice::Column::AmountMinor.gte(min));
        }
        if let Some(max) = self.max_amount_minor {
            cond = cond.add(invoice::Column::AmountMinor.lte(max));
        }
        if let Some(c) = self.currency {
            cond = cond.add(invoice::Column::Currency.eq(c.code()));
        }
        if let Some(d) = self.due_after {
            cond = cond.add(invoice::Column::DueDate.gte(d));
        }
        if let Some(d) = self.due_before {
            cond = cond.add(invoice::Column::DueDate.lte(d));
        }
        if let Some(d) = &self.debtor {
            cond = cond.add(
                Expr::col(invoice::Column::DebtorSearch)
                    .like(LikeExpr::new(format!("%{}%", escape_like(d))).escape('\\')),
            );
        }
        for w in &self.words {
            cond = cond.add(
                Expr::col(invoice::Column::SearchText)
                    .like(LikeExpr::new(format!("%{}%", escape_like(w))).escape('\\')),
            );
        }
        let col = match self.sort {
            SortKey::DueDate => invoice::Column::DueDate,
            SortKey::Amount => invoice::Column::AmountMinor,
            SortKey::CreatedAt => invoice::Column::CreatedAt,
        };
        let order = if self.descending {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        };
        invoice::Entity::find()
            .filter(cond)
            .order_by(col, order.clone())
            .order_by(invoice::Column::Id, order)
    }

    /// Runs the query.
    pub async fn run(
        &self,
        db: &sea_orm::DatabaseConnection,
        viewer: &AuthUser,
    ) -> Result<SearchPage, sea_orm::DbErr> {
        let select = self.select(viewer);
        let total = select.clone().count(db).await?;
        let rows = select
            .offset((self.page - 1) * self.per_page)
            .limit(self.per_page)
            .all(db)
            .await?;
        Ok(SearchPage {
            items: rows
                .iter()
                .map(invoice::Model::view)
                .collect::<Result<_, _>>()?,
            total,
            page: self.page,
            per_page: self.per_page,
        })
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
