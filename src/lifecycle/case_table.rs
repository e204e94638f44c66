//! The case lifecycle as one table: from which statuses an action may be taken, by
//! which roles, to which status, whether it needs a comment or a reason code, and which
//! messages it sends. The case writer (`super::case_writer`) looks every change up here;
//! nothing else writes a status. A new transition is a row here plus its template.

use crate::access::Role;
use crate::notifications::templates::Template;

pub use entity::enums::{CaseAction as Action, CaseStatus as Status};

/// One row of the lifecycle table.
#[derive(Debug)]
pub struct Transition {
    pub from: &'static [Status],
    pub action: Action,
    /// The status after the action; `None` leaves it unchanged.
    pub to: Option<Status>,
    pub roles: &'static [Role],
    pub comment_required: bool,
    pub reason_required: bool,
    /// Taken by the service itself (no person acts; `roles` is empty).
    pub system: bool,
    /// Messages to the household, queued in the change's transaction.
    pub messages: &'static [Template],
}

use Status as S;

const REVIEWERS: &[Role] = &[Role::Reviewer, Role::Supervisor];
/// Statuses in which staff work a case before it is reported up.
const IN_REVIEW: &[Status] = &[
    S::Eligible,
    S::UnderReview,
    S::NeedsCorrection,
    S::PassedReview,
];

/// A row taken by reviewers and supervisors, with no comment, reason or message; the
/// table's rows adjust it with struct-update syntax.
const fn staff(from: &'static [Status], action: Action, to: Option<Status>) -> Transition {
    Transition {
        from,
        action,
        to,
        roles: REVIEWERS,
        comment_required: false,
        reason_required: false,
        system: false,
        messages: &[],
    }
}

/// A row the service itself takes.
const fn system(from: &'static [Status], action: Action, to: Option<Status>) -> Transition {
    Transition {
        roles: &[],
        system: true,
        ..staff(from, action, to)
    }
}

/// Statuses from which an applicant may still withdraw: anything before allocation
/// that is not already final.
const WITHDRAWABLE: &[Status] = &[
    S::Submitted,
    S::Eligible,
    S::Ineligible,
    S::UnderReview,
    S::NeedsCorrection,
    S::PassedReview,
    S::ReadyToReport,
    S::Reported,
    S::Approved,
    S::Returned,
    S::Waitlisted,
    S::Offered,
    S::AppealEligibility,
    S::AppealReview,
    S::AppealBureau,
    S::AppealExit,
];

const BUREAU: &[Role] = &[Role::Bureau];
const APPLICANT_OR_COUNTER: &[Role] = &[Role::Applicant, Role::Reviewer];
/// The household answers an offer itself, or the bureau records its answer at the
/// choosing desk (选房现场).
const OFFER_ANSWER: &[Role] = &[Role::Applicant, Role::Bureau];
use Template as T;

pub const TABLE: &[Transition] = &[
    Transition {
        roles: APPLICANT_OR_COUNTER,
        messages: &[T::SubmissionReceipt],
        ..staff(&[S::Draft], Action::Submit, Some(S::Submitted))
    },
    Transition {
        roles: APPLICANT_OR_COUNTER,
        messages: &[T::SubmissionReceipt],
        ..staff(&[S::NeedsCorrection], Action::Resubmit, Some(S::Submitted))
    },
    Transition {
        messages: &[T::EligibilityResult],
        ..system(&[S::Submitted], Action::PassEligibility, Some(S::Eligible))
    },
    Transition {
        messages: &[T::EligibilityResult],
        ..system(
            &[S::Submitted],
            Action::FailEligibility,
            Some(S::Ineligible),
        )
    },
    Transition {
        messages: &[T::Acceptance],
        ..staff(&[S::Eligible], Action::Accept, Some(S::UnderReview))
    },
    Transition {
        roles: &[Role::Reviewer],
        ..staff(IN_REVIEW, Action::Claim, None)
    },
    Transition {
        roles: &[Role::Supervisor],
        ..staff(IN_REVIEW, Action::Assign, None)
    },
    Transition {
        comment_required: true,
        messages: &[T::CorrectionRequest],
        ..staff(
            &[S::UnderReview],
            Action::RequestCorrection,
            Some(S::NeedsCorrection),
        )
    },
    Transition {
        comment_required: true,
        messages: &[T::ReviewPassed, T::NoticeStarted],
        ..staff(&[S::UnderReview], Action::PassReview, Some(S::PassedReview))
    },
    Transition {
        comment_required: true,
        reason_required: true,
        messages: &[T::Rejected],
        ..staff(
            &[S::Eligible, S::UnderReview],
            Action::Reject,
            Some(S::Rejected),
        )
    },
    staff(
        &[S::Eligible, S::UnderReview],
        Action::ConfirmWarnings,
        None,
    ),
    Transition {
        comment_required: true,
        ..staff(IN_REVIEW, Action::ResolveDuplicate, None)
    },
    Transition {
        comment_required: true,
        reason_required: true,
        messages: &[T::Rejected],
        ..staff(
            &[S::PassedReview],
            Action::UpholdObjection,
            Some(S::Rejected),
        )
    },
    Transition {
        comment_required: true,
        ..staff(&[S::PassedReview], Action::DismissObjection, None)
    },
    system(
        &[S::PassedReview],
        Action::CloseNotice,
        Some(S::ReadyToReport),
    ),
    Transition {
        comment_required: true,
        ..system(&[S::PassedReview], Action::FileObjection, None)
    },
    Transition {
        comment_required: true,
        ..staff(&[S::Returned], Action::Reconfirm, Some(S::ReadyToReport))
    },
    Transition {
        messages: &[T::ReportedUp],
        ..system(&[S::ReadyToReport], Action::Report, Some(S::Reported))
    },
    Transition {
        roles: BUREAU,
        messages: &[T::BureauDecision],
        ..staff(&[S::Reported], Action::Approve, Some(S::Approved))
    },
    Transition {
        roles: BUREAU,
        comment_required: true,
        reason_required: true,
        messages: &[T::BureauDecision],
        ..staff(&[S::Reported], Action::Return, Some(S::Returned))
    },
    Transition {
        roles: BUREAU,
        comment_required: true,
        reason_required: true,
        messages: &[T::BureauDecision],
        ..staff(&[S::Reported], Action::BureauReject, Some(S::Rejected))
    },
    Transition {
        messages: &[T::WaitlistNumber],
        ..system(&[S::Approved], Action::Waitlist, Some(S::Waitlisted))
    },
    Transition {
        roles: &[Role::Applicant],
        messages: &[T::WithdrawalConfirmation],
        ..staff(WITHDRAWABLE, Action::Withdraw, Some(S::Withdrawn))
    },
    // 复核: the applicant asks (the service picks the row by who refused), the answer
    // comes from a reviewer who did not refuse, or from the bureau for its own refusal.
    appeal(
        S::Ineligible,
        Action::AppealEligibility,
        S::AppealEligibility,
    ),
    appeal(S::Rejected, Action::AppealReview, S::AppealReview),
    appeal(S::Rejected, Action::AppealBureau, S::AppealBureau),
    answer(
        S::AppealEligibility,
        Action::UpholdAppeal,
        S::Ineligible,
        REVIEWERS,
    ),
    answer(
        S::AppealEligibility,
        Action::OverturnAppeal,
        S::Eligible,
        REVIEWERS,
    ),
    answer(
        S::AppealReview,
        Action::UpholdAppeal,
        S::Rejected,
        REVIEWERS,
    ),
    answer(
        S::AppealReview,
        Action::OverturnAppeal,
        S::UnderReview,
        REVIEWERS,
    ),
    answer(S::AppealBureau, Action::UpholdAppeal, S::Rejected, BUREAU),
    answer(
        S::AppealBureau,
        Action::OverturnAppeal,
        S::ReadyToReport,
        BUREAU,
    ),
    // 年审: reminded, the household declares and is re-checked (continues or exits);
    // no declaration by the end of the grace period, or another ground, is an exit.
    Transition {
        messages: &[T::ReverificationReminder],
        ..system(HOUSED, Action::RemindReverification, None)
    },
    Transition {
        roles: &[Role::Applicant],
        messages: &[T::ReverificationOutcome],
        ..staff(HOUSED, Action::Reverify, None)
    },
    Transition {
        roles: &[Role::Applicant],
        messages: &[T::ReverificationOutcome],
        ..staff(HOUSED, Action::ExitReverification, Some(S::Exited))
    },
    Transition {
        roles: &[Role::Applicant],
        messages: &[T::ReverificationOutcome],
        ..staff(HOUSED, Action::AdjustReverification, None)
    },
    Transition {
        reason_required: true,
        messages: &[T::ReverificationOutcome],
        ..system(HOUSED, Action::ExitNoDeclaration, Some(S::Exited))
    },
    Transition {
        roles: &[Role::Supervisor, Role::Bureau],
        comment_required: true,
        reason_required: true,
        messages: &[T::ReverificationOutcome],
        ..staff(HOUSED, Action::ExitForCause, Some(S::Exited))
    },
    appeal(S::Exited, Action::AppealExit, S::AppealExit),
    // 配租: a round opens for the household's group, it registers intent, is re-checked
    // (leaving the list if it no longer qualifies), ranked, offered a unit and answers.
    Transition {
        messages: &[T::RoundOpened],
        ..system(&[S::Waitlisted], Action::InviteIntent, None)
    },
    Transition {
        roles: APPLICANT_OR_COUNTER,
        ..staff(&[S::Waitlisted], Action::RegisterIntent, None)
    },
    Transition {
        reason_required: true,
        messages: &[T::RecheckFailed],
        ..system(&[S::Waitlisted], Action::FailRecheck, Some(S::Exited))
    },
    Transition {
        messages: &[T::RankingPublished],
        ..system(&[S::Waitlisted], Action::Rank, None)
    },
    Transition {
        roles: BUREAU,
        messages: &[T::UnitOffered],
        ..staff(&[S::Waitlisted], Action::OfferUnit, Some(S::Offered))
    },
    Transition {
        roles: OFFER_ANSWER,
        messages: &[T::UnitAllocated],
        ..staff(&[S::Offered], Action::AcceptOffer, Some(S::Allocated))
    },
    Transition {
        roles: OFFER_ANSWER,
        messages: &[T::OfferDeclined],
        ..staff(&[S::Offered], Action::DeclineOffer, Some(S::Waitlisted))
    },
    answer(S::AppealExit, Action::UpholdAppeal, S::Exited, REVIEWERS),
    answer(
        S::AppealExit,
        Action::OverturnAppeal,
        S::Waitlisted,
        REVIEWERS,
    ),
];

/// Households on the waiting list or housed: re-verified every year.
pub const HOUSED: &[Status] = &[S::Waitlisted, S::Offered, S::Allocated];

/// The applicant asks for 复核, giving reasons (the comment).
const fn appeal(from: Status, action: Action, to: Status) -> Transition {
    Transition {
        from: match from {
            S::Ineligible => &[S::Ineligible],
            S::Exited => &[S::Exited],
            _ => &[S::Rejected],
        },
        roles: &[Role::Applicant],
        comment_required: true,
        messages: &[T::AppealReceived],
        ..staff(&[], action, Some(to))
    }
}

/// The answer to a 复核, always with reasons; upholding also names a reason code.
const fn answer(from: Status, action: Action, to: Status, roles: &'static [Role]) -> Transition {
    let upheld = matches!(action, Action::UpholdAppeal);
    Transition {
        from: match from {
            S::AppealEligibility => &[S::AppealEligibility],
            S::AppealReview => &[S::AppealReview],
            S::AppealExit => &[S::AppealExit],
            _ => &[S::AppealBureau],
        },
        roles,
        comment_required: true,
        reason_required: upheld,
        messages: &[T::AppealAnswered],
        ..staff(&[], action, Some(to))
    }
}

impl Transition {
    /// The status after taking this transition from `from`.
    pub fn target(&self, from: Status) -> Status {
        self.to.unwrap_or(from)
    }
}

/// Why an action cannot be taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not allowed from the current status (409).
    WrongStatus,
    /// Not allowed for the caller's role (403).
    WrongRole,
}

/// The transition for `action` from `from` by `role`, or why there is none.
pub fn transition(
    from: Status,
    action: Action,
    role: Role,
) -> Result<&'static Transition, Refusal> {
    let row = TABLE
        .iter()
        .find(|t| t.action == action && t.from.contains(&from))
        .ok_or(Refusal::WrongStatus)?;
    if row.roles.contains(&role) {
        Ok(row)
    } else {
        Err(Refusal::WrongRole)
    }
}

/// The transition for a system action from `from`.
pub fn system_transition(from: Status, action: Action) -> Result<&'static Transition, Refusal> {
    TABLE
        .iter()
        .find(|t| t.system && t.action == action && t.from.contains(&from))
        .ok_or(Refusal::WrongStatus)
}

/// Statuses in which a case counts as active for duplicate detection.
pub fn is_active(s: Status) -> bool {
    !matches!(
        s,
        S::Draft | S::Ineligible | S::Rejected | S::Withdrawn | S::Exited
    )
}

/// What the applicant should expect or do next, for the case view.
pub fn next_step(s: Status) -> crate::i18n::Msg {
    use crate::i18n::Msg;
    let (zh, en) = match s {
        S::Draft => ("请填写完整并提交申请。", "Complete the form and submit it."),
        S::Submitted => ("正在进行资格审核。", "The eligibility check is running."),
        S::Eligible => (
            "符合申请条件，等待社区受理。",
            "Eligible; waiting for the community to accept the application.",
        ),
        S::Ineligible => (
            "不符合申请条件，详见审核结果；可申请复核。",
            "Not eligible; see the decision. You may ask for reconsideration.",
        ),
        S::UnderReview => (
            "街道正在初审，可能入户调查。",
            "The sub-district is reviewing the application and may visit your home.",
        ),
        S::NeedsCorrection => (
            "请按告知的事项补正后重新提交。",
            "Correct the listed items and resubmit.",
        ),
        S::PassedReview => (
            "已通过初审，正在社区公示。",
            "Passed first review; on public notice in your community.",
        ),
        S::ReadyToReport => (
            "公示期满，等待上报区民政局。",
            "Notice ended; waiting to be reported to the district Civil Affairs Bureau.",
        ),
        S::Reported => (
            "已上报区民政局审核。",
            "Reported to the district Civil Affairs Bureau for checking.",
        ),
        S::Approved => (
            "已审核通过，将获得轮候号。",
            "Approved; a waiting-list number follows.",
        ),
        S::Returned => (
            "区民政局已退回街道重新审核。",
            "The bureau returned the application to the sub-district.",
        ),
        S::Rejected => (
            "申请未获批准，详见理由；可在 15 个工作日内申请复核。",
            "Rejected; see the reasons. You may ask for reconsideration within 15 working days.",
        ),
        S::Waitlisted => ("正在轮候。", "On the waiting list."),
        S::Offered => (
            "已为您提供房源，请及时答复。",
            "A unit has been offered; please respond.",
        ),
        S::Allocated => ("已配租。", "A unit has been allocated."),
        S::Withdrawn => ("申请已撤回。", "Withdrawn; nothing more to do."),
        S::AppealEligibility | S::AppealReview => (
            "已收到复核申请，街道将在 15 个工作日内书面答复。",
            "Your request for reconsideration was received; the sub-district answers in writing within 15 working days.",
        ),
        S::Exited => (
            "已退出住房保障，详见理由；可申请复核。",
            "Left the programme; see the reasons. You may ask for reconsideration.",
        ),
        S::AppealExit => (
            "已收到对退出决定的复核申请，将在 15 个工作日内书面答复。",
            "Your request to reconsider the exit was received; the answer comes in writing within 15 working days.",
        ),
        S::AppealBureau => (
            "已收到复核申请，区民政局将在 15 个工作日内书面答复。",
            "Your request for reconsideration was received; the district bureau answers in writing within 15 working days.",
        ),
    };
    Msg::new(zh, en)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_action_pair_has_at_most_one_row() {
        for &s in Status::ALL {
            for &a in Action::ALL {
                let rows = TABLE
                    .iter()
                    .filter(|t| t.action == a && t.from.contains(&s))
                    .count();
                assert!(rows <= 1, "{s:?} x {a:?} has {rows} rows");
            }
        }
    }

    /// The lifecycle as ../shared/DESIGN.md states it, written out independently of
    /// `TABLE`: every status x action x role must give exactly this answer.
    fn expected(s: Status, a: Action, r: Role) -> Result<Option<Status>, Refusal> {
        let in_review = matches!(
            s,
            S::Eligible | S::UnderReview | S::NeedsCorrection | S::PassedReview
        );
        let to = match (a, s) {
            (Action::Submit, S::Draft) => Some(S::Submitted),
            (Action::Resubmit, S::NeedsCorrection) => Some(S::Submitted),
            (
                Action::Withdraw,
                S::Draft | S::Rejected | S::Allocated | S::Withdrawn | S::Exited,
            ) => {
                return Err(Refusal::WrongStatus);
            }
            (Action::Withdraw, _) => Some(S::Withdrawn),
            (Action::PassEligibility, S::Submitted) => Some(S::Eligible),
            (Action::FailEligibility, S::Submitted) => Some(S::Ineligible),
            (Action::Accept, S::Eligible) => Some(S::UnderReview),
            (Action::Claim | Action::Assign | Action::ResolveDuplicate, _) if in_review => None,
            (Action::RequestCorrection, S::UnderReview) => Some(S::NeedsCorrection),
            (Action::PassReview, S::UnderReview) => Some(S::PassedReview),
            (Action::Reject, S::Eligible | S::UnderReview) => Some(S::Rejected),
            (Action::ConfirmWarnings, S::Eligible | S::UnderReview) => None,
            (Action::UpholdObjection, S::PassedReview) => Some(S::Rejected),
            (Action::DismissObjection, S::PassedReview) => None,
            (Action::CloseNotice, S::PassedReview) => Some(S::ReadyToReport),
            (Action::FileObjection, S::PassedReview) => None,
            (Action::Reconfirm, S::Returned) => Some(S::ReadyToReport),
            (Action::Report, S::ReadyToReport) => Some(S::Reported),
            (Action::Approve, S::Reported) => Some(S::Approved),
            (Action::Return, S::Reported) => Some(S::Returned),
            (Action::BureauReject, S::Reported) => Some(S::Rejected),
            (Action::Waitlist, S::Approved) => Some(S::Waitlisted),
            (Action::AppealEligibility, S::Ineligible) => Some(S::AppealEligibility),
            (Action::AppealReview, S::Rejected) => Some(S::AppealReview),
            (Action::AppealBureau, S::Rejected) => Some(S::AppealBureau),
            (Action::UpholdAppeal, S::AppealEligibility) => Some(S::Ineligible),
            (Action::UpholdAppeal, S::AppealReview | S::AppealBureau) => Some(S::Rejected),
            (Action::OverturnAppeal, S::AppealEligibility) => Some(S::Eligible),
            (Action::OverturnAppeal, S::AppealReview) => Some(S::UnderReview),
            (Action::OverturnAppeal, S::AppealBureau) => Some(S::ReadyToReport),
            (Action::AppealExit, S::Exited) => Some(S::AppealExit),
            (Action::UpholdAppeal, S::AppealExit) => Some(S::Exited),
            (Action::OverturnAppeal, S::AppealExit) => Some(S::Waitlisted),
            (
                Action::RemindReverification | Action::Reverify | Action::AdjustReverification,
                S::Waitlisted | S::Offered | S::Allocated,
            ) => None,
            (
                Action::ExitReverification | Action::ExitNoDeclaration | Action::ExitForCause,
                S::Waitlisted | S::Offered | S::Allocated,
            ) => Some(S::Exited),
            (Action::InviteIntent | Action::RegisterIntent | Action::Rank, S::Waitlisted) => None,
            (Action::FailRecheck, S::Waitlisted) => Some(S::Exited),
            (Action::OfferUnit, S::Waitlisted) => Some(S::Offered),
            (Action::AcceptOffer, S::Offered) => Some(S::Allocated),
            (Action::DeclineOffer, S::Offered) => Some(S::Waitlisted),
            _ => return Err(Refusal::WrongStatus),
        };
        if allowed(s, a, r) {
            Ok(to)
        } else {
            Err(Refusal::WrongRole)
        }
    }

    /// Who may take `a` from `s`, as the design says.
    fn allowed(s: Status, a: Action, r: Role) -> bool {
        let reviewer_or_supervisor = matches!(r, Role::Reviewer | Role::Supervisor);
        match a {
            Action::Submit | Action::Resubmit => matches!(r, Role::Applicant | Role::Reviewer),
            Action::Withdraw => r == Role::Applicant,
            // Only the service takes these: no person may.
            Action::PassEligibility
            | Action::FailEligibility
            | Action::CloseNotice
            | Action::FileObjection
            | Action::Report
            | Action::Waitlist => false,
            Action::Approve | Action::Return | Action::BureauReject => r == Role::Bureau,
            Action::AppealEligibility
            | Action::AppealReview
            | Action::AppealBureau
            | Action::AppealExit
            | Action::Reverify
            | Action::AdjustReverification
            | Action::ExitReverification => r == Role::Applicant,
            Action::RemindReverification
            | Action::ExitNoDeclaration
            | Action::InviteIntent
            | Action::FailRecheck
            | Action::Rank => false,
            Action::RegisterIntent => matches!(r, Role::Applicant | Role::Reviewer),
            Action::OfferUnit => r == Role::Bureau,
            Action::AcceptOffer | Action::DeclineOffer => {
                matches!(r, Role::Applicant | Role::Bureau)
            }
            Action::ExitForCause => matches!(r, Role::Supervisor | Role::Bureau),
            // The bureau answers appeals against its own refusals; reviewers the rest.
            Action::UpholdAppeal | Action::OverturnAppeal if s == S::AppealBureau => {
                r == Role::Bureau
            }
            Action::UpholdAppeal | Action::OverturnAppeal => reviewer_or_supervisor,
            Action::Reconfirm => reviewer_or_supervisor,
            Action::Claim => r == Role::Reviewer,
            Action::Assign => r == Role::Supervisor,
            Action::Accept
            | Action::RequestCorrection
            | Action::PassReview
            | Action::Reject
            | Action::ConfirmWarnings
            | Action::ResolveDuplicate
            | Action::UpholdObjection
            | Action::DismissObjection => reviewer_or_supervisor,
        }
    }

    #[test]
    fn the_table_answers_as_designed_for_every_status_action_and_role() {
        for &s in Status::ALL {
            for &a in Action::ALL {
                for &r in Role::ALL {
                    let got = transition(s, a, r).map(|t| t.to);
                    assert_eq!(got, expected(s, a, r), "{s:?} x {a:?} x {r:?}");
                }
            }
        }
    }

    #[test]
    fn comments_and_reasons_are_required_where_the_rules_say() {
        let row = |a| TABLE.iter().find(|t| t.action == a).unwrap();
        assert!(
            row(Action::PassReview).comment_required,
            "an opinion is required"
        );
        assert!(row(Action::Reject).comment_required && row(Action::Reject).reason_required);
        assert!(row(Action::RequestCorrection).comment_required);
        assert!(!row(Action::Accept).comment_required);
    }

    #[test]
    fn system_actions_are_only_for_the_service() {
        assert_eq!(
            system_transition(S::Submitted, Action::PassEligibility)
                .unwrap()
                .to,
            Some(S::Eligible)
        );
        assert_eq!(
            system_transition(S::Submitted, Action::FailEligibility)
                .unwrap()
                .to,
            Some(S::Ineligible)
        );
        assert_eq!(
            system_transition(S::PassedReview, Action::CloseNotice)
                .unwrap()
                .to,
            Some(S::ReadyToReport)
        );
        assert_eq!(
            system_transition(S::Eligible, Action::PassEligibility).unwrap_err(),
            Refusal::WrongStatus
        );
        assert_eq!(
            system_transition(S::Draft, Action::Submit).unwrap_err(),
            Refusal::WrongStatus
        );
    }

    #[test]
    fn names_match_the_wire_format() {
        for &s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
