//! The invoice state machine: every state, every action, and the one table that says which
//! action moves which state where. Anything not in the table is refused.

pub use common::events::invoice::InvoiceStatus;

/// What can happen to an invoice, and who may make it happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The seller: draft or rejected -> submitted.
    Submit,
    /// An admin: submitted -> listed.
    Verify,
    /// An admin: submitted -> rejected.
    Reject,
    /// The seller, while no offer is accepted.
    Cancel,
    /// Marketplace's reserved offer, confirmed here: listed -> accepted.
    ConfirmAcceptance,
    /// The acceptance lapsed (not funded in time, or released): accepted -> listed.
    ReleaseAcceptance,
    /// Payments: the investor's money arrived.
    Fund,
    /// Payments: the debtor repaid (also when overdue).
    Repay,
    /// Payments: the investor was paid back.
    Settle,
    /// The sweep: funded past due date + grace.
    MarkOverdue,
    /// The sweep: overdue past the default grace.
    MarkDefaulted,
}

use Action as A;
use InvoiceStatus as S;

/// The whole machine: (from, action) -> to.
const TRANSITIONS: &[(InvoiceStatus, Action, InvoiceStatus)] = &[
    (S::Draft, A::Submit, S::Submitted),
    (S::Rejected, A::Submit, S::Submitted),
    (S::Submitted, A::Verify, S::Listed),
    (S::Submitted, A::Reject, S::Rejected),
    (S::Draft, A::Cancel, S::Cancelled),
    (S::Submitted, A::Cancel, S::Cancelled),
    (S::Listed, A::Cancel, S::Cancelled),
    (S::Rejected, A::Cancel, S::Cancelled),
    (S::Listed, A::ConfirmAcceptance, S::Accepted),
    (S::Accepted, A::ReleaseAcceptance, S::Listed),
    (S::Accepted, A::Fund, S::Funded),
    (S::Funded, A::Repay, S::Repaid),
    (S::Overdue, A::Repay, S::Repaid),
    (S::Repaid, A::Settle, S::Settled),
    (S::Funded, A::MarkOverdue, S::Overdue),
    (S::Overdue, A::MarkDefaulted, S::Defaulted),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {verb} an invoice that is {from}", verb = .action.verb(), from = .from.as_str())]
pub struct NotAllowed {
    pub from: InvoiceStatus,
    pub action: Action,
}

/// The machine's rules on an [`InvoiceStatus`] (the status itself is the shared contract's,
/// `common::events::invoice`; what may happen to it is this service's).
pub trait Machine: Sized {
    /// Where `action` takes an invoice in this state, or why it cannot.
    fn apply(self, action: Action) -> Result<InvoiceStatus, NotAllowed>;
    /// The seller may change the invoice's fields (a rejected one before resubmitting).
    fn editable(self) -> bool;
    /// Investors see these (the marketplace's listings).
    fn public(self) -> bool;
}

impl Machine for InvoiceStatus {
    fn apply(self, action: Action) -> Result<InvoiceStatus, NotAllowed> {
        TRANSITIONS
            .iter()
            .find(|(from, a, _)| *from == self && *a == action)
            .map(|(_, _, to)| *to)
            .ok_or(NotAllowed { from: self, action })
    }

    fn editable(self) -> bool {
        matches!(self, S::Draft | S::Rejected)
    }

    fn public(self) -> bool {
        self == S::Listed
    }
}

impl Action {
    pub const ALL: [Action; 11] = [
        A::Submit,
        A::Verify,
        A::Reject,
        A::Cancel,
        A::ConfirmAcceptance,
        A::ReleaseAcceptance,
        A::Fund,
        A::Repay,
        A::Settle,
        A::MarkOverdue,
        A::MarkDefaulted,
    ];

    pub fn verb(self) -> &'static str {
        match self {
            A::Submit => "submit",
            A::Verify => "verify",
            A::Reject => "reject",
            A::Cancel => "cancel",
            A::ConfirmAcceptance => "accept an offer on",
            A::ReleaseAcceptance => "release the acceptance of",
            A::Fund => "fund",
            A::Repay => "record a repayment of",
            A::Settle => "settle",
            A::MarkOverdue => "mark overdue",
            A::MarkDefaulted => "mark defaulted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(from: InvoiceStatus, action: Action) -> Option<InvoiceStatus> {
        use Action::*;
        use InvoiceStatus::*;
        Some(match (from, action) {
            (Draft | Rejected, Submit) => Submitted,
            (Submitted, Verify) => Listed,
            (Submitted, Reject) => Rejected,
            (Draft | Submitted | Listed | Rejected, Cancel) => Cancelled,
            (Listed, ConfirmAcceptance) => Accepted,
            (Accepted, ReleaseAcceptance) => Listed,
            (Accepted, Fund) => Funded,
            (Funded | Overdue, Repay) => Repaid,
            (Repaid, Settle) => Settled,
            (Funded, MarkOverdue) => Overdue,
            (Overdue, MarkDefaulted) => Defaulted,
            _ => return None,
        })
    }

    #[test]
    fn every_pair_of_state_and_action_is_allowed_exactly_as_listed() {
        let mut allowed_count = 0;
        for &from in InvoiceStatus::ALL {
            for action in Action::ALL {
                match (from.apply(action), allowed(from, action)) {
                    (Ok(to), Some(expected)) => {
                        assert_eq!(to, expected, "{from:?} {action:?}");
                        allowed_count += 1;
                    }
                    (Err(e), None) => {
                        assert_eq!(e.from, from);
                        assert!(e.to_string().contains(from.as_str()), "{e}");
                    }
                    (got, want) => panic!("{from:?} {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(allowed_count, TRANSITIONS.len());
    }

    #[test]
    fn the_refusal_names_the_current_state() {
        let err = InvoiceStatus::Listed.apply(Action::Submit).unwrap_err();
        assert_eq!(err.to_string(), "cannot submit an invoice that is listed");
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for terminal in [
            InvoiceStatus::Settled,
            InvoiceStatus::Cancelled,
            InvoiceStatus::Defaulted,
        ] {
            assert!(
                Action::ALL.iter().all(|a| terminal.apply(*a).is_err()),
                "{terminal:?}"
            );
        }
    }

    #[test]
    fn only_drafts_and_rejected_invoices_are_editable_and_only_listed_ones_public() {
        for &s in InvoiceStatus::ALL {
            assert_eq!(
                s.editable(),
                matches!(s, InvoiceStatus::Draft | InvoiceStatus::Rejected)
            );
            assert_eq!(s.public(), s == InvoiceStatus::Listed);
            assert_eq!(s.as_str().parse::<InvoiceStatus>(), Ok(s));
        }
    }
}
