//! Values stored as text whose set is closed: statuses, actions, programmes, roles.
//!
//! Each is a sea-orm active enum, so reading a row with a value outside the set is an
//! error (`DbErr::Type`) instead of a silent default. With the `openapi` feature each is
//! also a poem-openapi `Enum`, so the API publishes exactly the stored names; the names
//! are given once per variant and used by sea-orm, serde and the spec alike.

use sea_orm::entity::prelude::*;

macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $name:ident $(as $api:literal)? {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum,
            serde::Serialize, serde::Deserialize,
        )]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
        $(#[cfg_attr(feature = "openapi", oai(rename = $api))])?
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[sea_orm(string_value = $text)]
                #[serde(rename = $text)]
                #[cfg_attr(feature = "openapi", oai(rename = $text))]
                $variant
            ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and published) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value with this stored name, if there is one.
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum! {
    /// Where a case stands.
    CaseStatus as "Status" {
        /// Being filled in; not yet a case.
        Draft = "draft",
        /// Submitted; the eligibility check runs next.
        Submitted = "submitted",
        /// Passed the automatic eligibility check; waiting to be accepted (受理).
        Eligible = "eligible",
        /// Failed a hard eligibility rule.
        Ineligible = "ineligible",
        /// Accepted for first review (初审).
        UnderReview = "under_review",
        /// Returned to the applicant to correct or complete (一次性告知).
        NeedsCorrection = "needs_correction",
        /// Passed first review; on public notice (公示).
        PassedReview = "passed_review",
        /// Notice ended without upheld objections; can be reported up.
        ReadyToReport = "ready_to_report",
        /// Reported up to the district Civil Affairs Bureau (上报).
        Reported = "reported",
        /// Approved by the bureau.
        Approved = "approved",
        /// Returned by the bureau to the sub-district.
        Returned = "returned",
        /// Rejected, with reasons.
        Rejected = "rejected",
        /// On the waiting list (轮候).
        Waitlisted = "waitlisted",
        /// A unit has been offered.
        Offered = "offered",
        /// A unit has been allocated (配租).
        Allocated = "allocated",
        /// Withdrawn by the applicant.
        Withdrawn = "withdrawn",
        /// 复核 asked against the eligibility check's refusal; a reviewer answers.
        AppealEligibility = "appeal_eligibility",
        /// 复核 asked against a first-review rejection (or an upheld objection); a
        /// reviewer other than the one who rejected answers.
        AppealReview = "appeal_review",
        /// 复核 asked against the bureau's rejection; the bureau answers.
        AppealBureau = "appeal_bureau",
        /// Left the programme: failed the annual re-verification (年审), did not declare
        /// in time, or for cause (a unit left empty, rent arrears, a home bought).
        Exited = "exited",
        /// 复核 asked against an exit; a reviewer answers.
        AppealExit = "appeal_exit",
    }
}

stored_enum! {
    /// Something done to a case.
    CaseAction as "Action" {
        /// Submit a draft.
        Submit = "submit",
        /// Resubmit after correction.
        Resubmit = "resubmit",
        /// Withdraw the application (applicant).
        Withdraw = "withdraw",
        /// The eligibility check found no failing hard rule (system).
        PassEligibility = "pass_eligibility",
        /// The eligibility check found a failing hard rule (system).
        FailEligibility = "fail_eligibility",
        /// 受理: accept an eligible case for first review.
        Accept = "accept",
        /// Take the case as one's own (reviewer).
        Claim = "claim",
        /// Give the case to a reviewer (supervisor).
        Assign = "assign",
        /// 一次性告知: return the case to the applicant listing every missing item.
        RequestCorrection = "request_correction",
        /// Pass first review (初审) with an opinion; starts the public notice.
        PassReview = "pass_review",
        /// Reject with a reason code and a comment.
        Reject = "reject",
        /// Confirm or overrule warnings and soft-rule flags.
        ConfirmWarnings = "confirm_warnings",
        /// Resolve a duplicate flag as duplicate or not, with a note.
        ResolveDuplicate = "resolve_duplicate",
        /// An objection to the notice is upheld: the case is rejected.
        UpholdObjection = "uphold_objection",
        /// An objection to the notice is dismissed: the case continues.
        DismissObjection = "dismiss_objection",
        /// The notice window ended without an open or upheld objection (system).
        CloseNotice = "close_notice",
        /// Anyone filed an objection to the public notice (public; no status change).
        FileObjection = "file_objection",
        /// A returned case is ready to be reported again (reviewer, supervisor).
        Reconfirm = "reconfirm",
        /// Its batch was submitted to the bureau (上报; system).
        Report = "report",
        /// The bureau approves the case.
        Approve = "approve",
        /// The bureau returns the case to the sub-district, with a reason.
        Return = "return",
        /// The bureau rejects the case, with a reason.
        BureauReject = "bureau_reject",
        /// An approved case gets its waiting-list number (轮候; system).
        Waitlist = "waitlist",
        /// The applicant asks for 复核 of the eligibility check's refusal.
        AppealEligibility = "appeal_eligibility",
        /// The applicant asks for 复核 of a first-review rejection.
        AppealReview = "appeal_review",
        /// The applicant asks for 复核 of the bureau's rejection.
        AppealBureau = "appeal_bureau",
        /// 复核维持: the refusal stands, with reasons.
        UpholdAppeal = "uphold_appeal",
        /// 复核撤销: the refusal is set aside and the case re-enters the flow where it
        /// was refused (acceptance, first review, the next batch).
        OverturnAppeal = "overturn_appeal",
        /// The annual re-verification (年审) is due soon, or overdue (system).
        RemindReverification = "remind_reverification",
        /// The household declared its circumstances and still qualifies (年审).
        Reverify = "reverify",
        /// The household declared its circumstances and no longer qualifies.
        ExitReverification = "exit_reverification",
        /// The household declared its circumstances and qualifies only for public rental
        /// housing now (廉租房 → 公租房): it continues there, with a new waiting-list
        /// number while it waits.
        AdjustReverification = "adjust_reverification",
        /// No declaration by the end of the grace period (system).
        ExitNoDeclaration = "exit_no_declaration",
        /// Staff record another ground for exit, with evidence.
        ExitForCause = "exit_for_cause",
        /// The applicant asks for 复核 of an exit.
        AppealExit = "appeal_exit",
        /// An allocation round opened for the household's group: it may register (system).
        InviteIntent = "invite_intent",
        /// The household registers its intent in a round (意向登记).
        RegisterIntent = "register_intent",
        /// The re-check before ranking (动态审核) found the household no longer qualifies
        /// (system).
        FailRecheck = "fail_recheck",
        /// The round's ranking was published with the household's place (排序公示; system).
        Rank = "rank",
        /// The bureau offers the household a unit (选房).
        OfferUnit = "offer_unit",
        /// The household accepts the offered unit: it is let (配租).
        AcceptOffer = "accept_offer",
        /// The household declines the offered unit, with the policy's penalty.
        DeclineOffer = "decline_offer",
    }
}

stored_enum! {
    /// The housing programme applied for.
    Programme {
        /// 公租房: public rental housing.
        PublicRental = "public_rental",
        /// 廉租房: low-rent housing.
        LowRent = "low_rent",
    }
}

stored_enum! {
    /// Who is applying; the policy decides which classes a programme admits.
    ApplicantClass {
        /// A household with local (Zhengzhou) hukou.
        Local = "local",
        /// 新就业职工: a newly employed worker.
        NewWorker = "new_worker",
        /// 外来务工人员: a migrant worker with a stable job.
        Migrant = "migrant",
    }
}

stored_enum! {
    /// Language of the messages sent to the applicant.
    Language {
        /// Chinese (default).
        Zh = "zh",
        /// English.
        En = "en",
    }
}

stored_enum! {
    /// How an application reached the office.
    Source {
        /// Filed by the household itself, online.
        Online = "online",
        /// A paper application entered by staff at the counter.
        Counter = "counter",
    }
}

stored_enum! {
    /// What an account may do.
    Role {
        /// A household applying for housing; sees only its own applications.
        Applicant = "applicant",
        /// Sub-district staff scoped to one or more communities.
        Reviewer = "reviewer",
        /// Sub-district staff over a whole sub-district.
        Supervisor = "supervisor",
        /// District Civil Affairs Bureau staff over a whole district.
        Bureau = "bureau",
        /// Manages accounts, places and policies.
        Admin = "admin",
    }
}

stored_enum! {
    /// The level of a place in the tree.
    PlaceKind {
        /// 区: a district, e.g. 管城回族区 (410104).
        District = "district",
        /// 街道: a sub-district, e.g. 南关街道 (410104003).
        Subdistrict = "subdistrict",
        /// 社区: a community, where applications are filed.
        Community = "community",
    }
}

stored_enum! {
    /// Where a report-up batch stands.
    BatchStatus {
        /// Being filled by the supervisor.
        Draft = "draft",
        /// Frozen: the manifest and its SHA-256 are fixed.
        Sealed = "sealed",
        /// Sent to the bureau (上报).
        Submitted = "submitted",
        /// The bureau acknowledged it, count and hash checked.
        Received = "received",
        /// Some of its cases are decided.
        PartlyDecided = "partly_decided",
        /// Every case is decided (or withdrawn).
        Closed = "closed",
        /// Cancelled by the supervisor before it was sent.
        Cancelled = "cancelled",
    }
}

stored_enum! {
    /// What became of a case in a batch.
    ItemOutcome {
        /// Approved by the bureau.
        Approved = "approved",
        /// Returned to the sub-district.
        Returned = "returned",
        /// Rejected by the bureau.
        Rejected = "rejected",
        /// Withdrawn by the applicant after the batch was sent.
        Withdrawn = "withdrawn",
    }
}

stored_enum! {
    /// Something done to a batch.
    BatchAction {
        /// The supervisor opened the batch.
        Create = "create",
        /// A case was put in the batch.
        AddItem = "add_item",
        /// A case was taken out of the batch.
        RemoveItem = "remove_item",
        /// The manifest was frozen.
        Seal = "seal",
        /// The batch was sent to the bureau.
        Submit = "submit",
        /// The bureau acknowledged receipt.
        Acknowledge = "acknowledge",
        /// The bureau decided one case of the batch.
        Decide = "decide",
        /// A case of the batch was withdrawn by its applicant.
        ItemWithdrawn = "item_withdrawn",
        /// The supervisor cancelled the batch before it was sent.
        Cancel = "cancel",
    }
}

stored_enum! {
    /// Where an objection to a public notice stands.
    ObjectionStatus {
        /// Filed and not yet decided.
        Open = "open",
        /// Found to be right: the case is rejected.
        Upheld = "upheld",
        /// Found not to be right: the case continues.
        Dismissed = "dismissed",
    }
}

stored_enum! {
    /// Where an outgoing e-mail stands.
    OutboxStatus {
        /// Waiting to be sent (or to be retried).
        Pending = "pending",
        /// Accepted by the mail server.
        Sent = "sent",
        /// Given up after the last retry.
        Dead = "dead",
        /// The household gave no e-mail address; kept so the office can see it.
        NoRecipient = "no_recipient",
    }
}

stored_enum! {
    /// Where a unit of the housing stock stands.
    UnitStatus {
        /// Free to be put in a round and offered.
        Available = "available",
        /// Offered to a household that has not yet answered.
        Offered = "offered",
        /// Let: a lease runs.
        Let = "let",
        /// Not to be let (repairs, reserved).
        Unavailable = "unavailable",
    }
}

stored_enum! {
    /// Where an allocation round stands.
    RoundStatus {
        /// Being prepared by the bureau; not yet public.
        Draft = "draft",
        /// Published; households register intent (意向登记).
        Registration = "registration",
        /// Registration closed, registrants re-checked; for a lottery the entrant list,
        /// its SHA-256 and the commitments to the seed are published, waiting for the draw.
        Drawing = "drawing",
        /// The ranking is published; households choose units in rank order (选房).
        Ranked = "ranked",
        /// Finished; units not let stay in the stock.
        Closed = "closed",
    }
}

stored_enum! {
    /// How a round orders its registrants.
    RankingMethod {
        /// By points (评分): the policy's points rules, ties by waiting-list number.
        Score = "score",
        /// By verifiable lottery (摇号).
        Lottery = "lottery",
    }
}

stored_enum! {
    /// Where a household stands in a round.
    EntryStatus {
        /// Registered; not yet re-checked.
        Registered = "registered",
        /// Failed the re-check before ranking; left the list with reasons.
        FailedRecheck = "failed_recheck",
        /// Ranked; waiting for its turn.
        Ranked = "ranked",
        /// A unit is offered.
        Offered = "offered",
        /// Accepted a unit.
        Allocated = "allocated",
        /// Declined (or its offer lapsed); the policy's penalty applies.
        Declined = "declined",
        /// Left the round otherwise (withdrew, exited).
        Left = "left",
    }
}

stored_enum! {
    /// Where an offer stands.
    OfferStatus {
        /// Waiting for the household's answer.
        Open = "open",
        /// Accepted: the lease runs.
        Accepted = "accepted",
        /// Declined by the household.
        Declined = "declined",
        /// The lease ended (the household left the programme) or the offer was withdrawn.
        Ended = "ended",
    }
}
