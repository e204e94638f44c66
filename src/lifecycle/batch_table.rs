//! The batch lifecycle as one table, like the case table: from which states an action
//! may be taken, by which role, and the state after it. Where `to` is `None` the state
//! is unchanged or, once the bureau has the batch, derived from its items
//! ([`derived`]): received → partly decided → closed as the cases are decided (a case
//! withdrawn by its applicant counts as decided).

use entity::batch_item;
use entity::enums::{BatchAction, BatchStatus};

use crate::access::Role;

/// One row of the batch table.
#[derive(Debug)]
pub struct BatchTransition {
    pub from: &'static [BatchStatus],
    pub action: BatchAction,
    pub to: Option<BatchStatus>,
    /// Who may take it; empty for the service itself.
    pub roles: &'static [Role],
}

use BatchAction as A;
use BatchStatus as B;

const SUPERVISOR: &[Role] = &[Role::Supervisor];
const BUREAU: &[Role] = &[Role::Bureau];

pub const TABLE: &[BatchTransition] = &[
    BatchTransition {
        from: &[B::Draft],
        action: A::AddItem,
        to: None,
        roles: SUPERVISOR,
    },
    BatchTransition {
        from: &[B::Draft],
        action: A::RemoveItem,
        to: None,
        roles: SUPERVISOR,
    },
    BatchTransition {
        from: &[B::Draft],
        action: A::Seal,
        to: Some(B::Sealed),
        roles: SUPERVISOR,
    },
    BatchTransition {
        from: &[B::Draft, B::Sealed],
        action: A::Cancel,
        to: Some(B::Cancelled),
        roles: SUPERVISOR,
    },
    BatchTransition {
        from: &[B::Sealed],
        action: A::Submit,
        to: Some(B::Submitted),
        roles: SUPERVISOR,
    },
    BatchTransition {
        from: &[B::Submitted],
        action: A::Acknowledge,
        to: Some(B::Received),
        roles: BUREAU,
    },
    BatchTransition {
        from: &[B::Received, B::PartlyDecided],
        action: A::Decide,
        to: None,
        roles: BUREAU,
    },
    // A sealed batch that loses a case goes back to draft: its manifest no longer
    // matches, and the supervisor must seal it again.
    BatchTransition {
        from: &[
            B::Draft,
            B::Sealed,
            B::Submitted,
            B::Received,
            B::PartlyDecided,
        ],
        action: A::ItemWithdrawn,
        to: None,
        roles: &[],
    },
];

/// The row for `action` from `from`, or `None` when the state does not allow it.
pub fn transition(from: BatchStatus, action: BatchAction) -> Option<&'static BatchTransition> {
    TABLE
        .iter()
        .find(|t| t.action == action && t.from.contains(&from))
}

/// The state of a batch the bureau holds, from its items: closed when every case is
/// decided, partly decided when some are.
pub fn derived(status: BatchStatus, items: &[batch_item::Model]) -> BatchStatus {
    if !matches!(status, B::Received | B::PartlyDecided) {
        return status;
    }
    let decided = items.iter().filter(|i| i.decision.is_some()).count();
    if decided == items.len() {
        B::Closed
    } else if decided > 0 {
        B::PartlyDecided
    } else {
        B::Received
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::enums::ItemOutcome;

    fn item(decision: Option<ItemOutcome>) -> batch_item::Model {
        batch_item::Model {
            id: 1,
            batch_id: 1,
            application_id: 1,
            open_marker: decision.is_none().then_some(1),
            decision,
            reason_code: None,
            comment: None,
            decided_by: None,
            decided_at: None,
        }
    }

    #[test]
    fn every_state_and_action_pair_has_at_most_one_row() {
        for &s in BatchStatus::ALL {
            for &a in BatchAction::ALL {
                let n = TABLE
                    .iter()
                    .filter(|t| t.action == a && t.from.contains(&s))
                    .count();
                assert!(n <= 1, "{s:?} x {a:?} has {n} rows");
            }
        }
    }

    #[test]
    fn a_batch_closes_when_its_last_case_is_decided_or_withdrawn() {
        let open = [item(None), item(None)];
        assert_eq!(derived(B::Received, &open), B::Received);
        let some = [item(Some(ItemOutcome::Approved)), item(None)];
        assert_eq!(derived(B::Received, &some), B::PartlyDecided);
        let all = [
            item(Some(ItemOutcome::Returned)),
            item(Some(ItemOutcome::Withdrawn)),
        ];
        assert_eq!(derived(B::PartlyDecided, &all), B::Closed);
        assert_eq!(
            derived(B::Submitted, &all),
            B::Submitted,
            "not before the bureau acknowledges"
        );
    }

    #[test]
    fn only_the_supervisor_fills_and_sends_and_only_the_bureau_decides() {
        for row in TABLE {
            let expected: &[Role] = match row.action {
                A::AddItem | A::RemoveItem | A::Seal | A::Cancel | A::Submit => SUPERVISOR,
                A::Acknowledge | A::Decide => BUREAU,
                A::ItemWithdrawn | A::Create => &[],
            };
            assert_eq!(row.roles, expected, "{:?}", row.action);
        }
        assert!(transition(B::Submitted, A::Cancel).is_none());
        assert!(transition(B::Closed, A::ItemWithdrawn).is_none());
    }
}
