//! What each stored value is called on a page, in both languages.

use crate::allocation::service::{Availability, EntryStatus, RankingMethod, RoundStatus};
use crate::applications::form::{
    ApplicantClass, DocumentKind, FiledAt, Gender, HousingNature, Language, MaritalStatus,
    Programme, Relationship, TransferKind,
};
use crate::i18n::Lang;
use crate::lifecycle::{Action, Status};

/// A value's name on a page.
pub trait Label: Copy {
    fn names(self) -> (&'static str, &'static str);
    fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = self.names();
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

macro_rules! labels {
    ($ty:ty { $($v:ident => $zh:literal, $en:literal;)+ }) => {
        impl Label for $ty {
            fn names(self) -> (&'static str, &'static str) {
                match self { $(<$ty>::$v => ($zh, $en),)+ }
            }
        }
    };
}

labels!(Programme {
    PublicRental => "公共租赁住房（公租房）", "Public rental housing (公租房)";
    LowRent => "廉租住房（廉租房）", "Low-rent housing (廉租房)";
});
labels!(ApplicantClass {
    Local => "本市户籍家庭", "Household with Zhengzhou hukou";
    NewWorker => "新就业职工", "Newly employed worker";
    Migrant => "外来务工人员", "Migrant worker";
});
labels!(FiledAt {
    Hukou => "户籍所在社区", "The community of our hukou";
    Residence => "居住所在社区", "The community we live in";
});
labels!(Relationship {
    Applicant => "本人（申请人）", "Applicant (self)";
    Spouse => "配偶", "Spouse";
    Child => "子女", "Child";
    Parent => "父母", "Parent";
    Sibling => "兄弟姐妹", "Brother or sister";
    Grandchild => "孙子女", "Grandchild";
    Grandparent => "祖父母", "Grandparent";
    Other => "其他亲属", "Other relative";
});
labels!(Gender {
    Male => "男", "Male";
    Female => "女", "Female";
});
labels!(MaritalStatus {
    Single => "未婚", "Single";
    Married => "已婚", "Married";
    Divorced => "离异", "Divorced";
    Widowed => "丧偶", "Widowed";
});
labels!(HousingNature {
    Owned => "自有住房", "Owned";
    RentedPublic => "承租公房", "Renting public housing";
    RentedPrivate => "租赁私房", "Renting privately";
    Borrowed => "借住", "Living with others";
    None => "无住房", "No housing";
});
labels!(TransferKind {
    Transferred => "转让（出售或赠与）", "Sold or given away";
    Demolished => "拆迁", "Demolished";
});
labels!(DocumentKind {
    IdCard => "身份证", "Identity card";
    HukouBook => "户口簿", "Hukou booklet";
    IncomeProof => "收入证明", "Proof of income";
    MarriageProof => "婚姻状况证明", "Proof of marital status";
    HousingProof => "住房状况证明", "Proof of housing";
    LabourContract => "劳动合同", "Labour contract";
    SocialInsuranceProof => "社保缴纳证明", "Social insurance record";
});
labels!(Language {
    Zh => "中文", "Chinese";
    En => "English", "English";
});
labels!(Status {
    Draft => "草稿", "Draft";
    Submitted => "已提交", "Submitted";
    Eligible => "符合条件，待受理", "Eligible, waiting to be accepted";
    Ineligible => "不符合条件", "Not eligible";
    UnderReview => "初审中", "In first review";
    NeedsCorrection => "待补正", "Needs correction";
    PassedReview => "公示中", "On public notice";
    ReadyToReport => "待上报", "Waiting to be reported up";
    Reported => "已上报民政局", "Reported to the bureau";
    Approved => "已批准", "Approved";
    Returned => "退回街道", "Returned to the sub-district";
    Rejected => "未获批准", "Rejected";
    Waitlisted => "轮候中", "On the waiting list";
    Offered => "已提供房源", "Unit offered";
    Allocated => "已配租", "Unit allocated";
    Withdrawn => "已撤回", "Withdrawn";
    AppealEligibility => "复核中（资格审核）", "Under reconsideration (eligibility)";
    AppealReview => "复核中（初审）", "Under reconsideration (first review)";
    AppealBureau => "复核中（区民政局）", "Under reconsideration (bureau)";
    Exited => "已退出", "Left the programme";
    AppealExit => "复核中（退出）", "Under reconsideration (exit)";
});
labels!(Action {
    Submit => "提交申请", "Application submitted";
    Resubmit => "补正后重新提交", "Resubmitted after correction";
    Withdraw => "撤回申请", "Withdrawn";
    PassEligibility => "资格审核通过", "Passed the eligibility check";
    FailEligibility => "资格审核未通过", "Failed the eligibility check";
    Accept => "社区受理", "Accepted by the community";
    Claim => "审核人员接手", "Taken up by a reviewer";
    Assign => "分派审核人员", "Assigned to a reviewer";
    RequestCorrection => "要求补正", "Correction requested";
    PassReview => "通过初审，开始公示", "Passed first review; public notice began";
    Reject => "未获批准", "Rejected";
    ConfirmWarnings => "审核人员已核实提示", "Reviewer confirmed the warnings";
    ResolveDuplicate => "重复申请核查完成", "Duplicate check resolved";
    UpholdObjection => "公示异议成立", "Objection upheld";
    DismissObjection => "公示异议不成立", "Objection dismissed";
    CloseNotice => "公示期满", "Public notice ended";
    FileObjection => "收到公示异议", "Objection received";
    Reconfirm => "重新确认", "Reconfirmed";
    Report => "上报区民政局", "Reported to the district bureau";
    Approve => "区民政局批准", "Approved by the bureau";
    Return => "区民政局退回", "Returned by the bureau";
    BureauReject => "区民政局不予批准", "Rejected by the bureau";
    Waitlist => "进入轮候", "Placed on the waiting list";
    AppealEligibility => "申请复核（资格审核）", "Reconsideration asked (eligibility)";
    AppealReview => "申请复核（初审）", "Reconsideration asked (first review)";
    AppealBureau => "申请复核（区民政局）", "Reconsideration asked (bureau)";
    UpholdAppeal => "复核维持原决定", "Reconsideration: the refusal stands";
    OverturnAppeal => "复核撤销原决定", "Reconsideration: the refusal set aside";
    RemindReverification => "年审提醒", "Re-verification reminder";
    Reverify => "年审通过", "Re-verified";
    ExitReverification => "年审不符合条件，退出", "Left after re-verification";
    AdjustReverification => "年审后转为公租房保障", "Re-verified: moved to public rental housing";
    ExitNoDeclaration => "逾期未年审，退出", "Left: no declaration in time";
    ExitForCause => "退出住房保障", "Left the programme";
    AppealExit => "申请复核（退出）", "Reconsideration asked (exit)";
    InviteIntent => "配租意向登记开始", "Allocation round opened";
    RegisterIntent => "登记配租意向", "Registered for an allocation round";
    FailRecheck => "配租前审核不符合条件，退出轮候", "Left the list at the re-check before allocation";
    Rank => "配租排序公示", "Ranking published";
    OfferUnit => "提供房源", "Unit offered";
    AcceptOffer => "接受房源，配租完成", "Offer accepted; unit let";
    DeclineOffer => "放弃房源", "Offer declined";
});
labels!(Availability {
    Available => "可配租", "available";
    Offered => "已提供", "offered";
    Let => "已出租", "let";
    Unavailable => "暂停配租", "unavailable";
});
labels!(RoundStatus {
    Draft => "草稿", "draft";
    Registration => "意向登记中", "registration open";
    Drawing => "待摇号", "waiting for the draw";
    Ranked => "选房中", "choosing";
    Closed => "已结束", "closed";
});
labels!(RankingMethod {
    Score => "评分排序", "by score";
    Lottery => "摇号", "by lottery";
});
labels!(EntryStatus {
    Registered => "已登记", "registered";
    FailedRecheck => "审核不符合，退出轮候", "failed the re-check";
    Ranked => "等待选房", "waiting to choose";
    Offered => "已提供房源", "offered";
    Allocated => "已配租", "let a unit";
    Declined => "放弃选房", "declined";
    Left => "已退出本轮", "left the round";
});
