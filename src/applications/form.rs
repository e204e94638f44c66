//! The application form as the applicant fills it in: every field optional so that a
//! draft can be saved half-done. The same struct is the request body (its OpenAPI
//! schema shows each limit), the stored draft, and, once submitted, the normalised
//! record. `domain::validate` turns it into a checked `Household`.

use chrono::NaiveDate;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};

pub use entity::enums::{ApplicantClass, Language, Programme};

use crate::values::str_enum;

str_enum! {
    /// Whether the community is the household's hukou or residence community.
    FiledAt {
        /// 户籍地: where the household's hukou is registered.
        Hukou = "hukou",
        /// 居住地: where the household lives.
        Residence = "residence",
    }
}

str_enum! {
    /// A member's relationship to the applicant.
    Relationship {
        /// 本人: the applicant.
        Applicant = "applicant",
        /// 配偶: spouse.
        Spouse = "spouse",
        /// 子女: child.
        Child = "child",
        /// 父母: parent.
        Parent = "parent",
        /// 兄弟姐妹: sibling.
        Sibling = "sibling",
        /// 孙子女: grandchild.
        Grandchild = "grandchild",
        /// 祖父母: grandparent.
        Grandparent = "grandparent",
        /// 其他: other relative.
        Other = "other",
    }
}

str_enum! {
    /// Gender as declared; must match the identity number.
    Gender {
        /// 男.
        Male = "male",
        /// 女.
        Female = "female",
    }
}

str_enum! {
    /// Marital status.
    MaritalStatus {
        /// 未婚.
        Single = "single",
        /// 已婚.
        Married = "married",
        /// 离异.
        Divorced = "divorced",
        /// 丧偶.
        Widowed = "widowed",
    }
}

str_enum! {
    /// How the household holds a dwelling.
    HousingNature {
        /// 自有: owned.
        Owned = "owned",
        /// 承租公房: rented public housing.
        RentedPublic = "rented_public",
        /// 租赁私房: rented private housing.
        RentedPrivate = "rented_private",
        /// 借住: borrowed.
        Borrowed = "borrowed",
        /// 无: none.
        None = "none",
    }
}

str_enum! {
    /// What happened to a property in the last five years.
    TransferKind {
        /// 转让: sold or given away.
        Transferred = "transferred",
        /// 拆迁: demolished.
        Demolished = "demolished",
    }
}

str_enum! {
    /// A document the applicant will bring to the community office.
    DocumentKind {
        /// 身份证.
        IdCard = "id_card",
        /// 户口簿.
        HukouBook = "hukou_book",
        /// 收入证明.
        IncomeProof = "income_proof",
        /// 婚姻证明.
        MarriageProof = "marriage_proof",
        /// 住房证明.
        HousingProof = "housing_proof",
        /// 劳动合同.
        LabourContract = "labour_contract",
        /// 社保缴纳证明.
        SocialInsuranceProof = "social_insurance_proof",
    }
}

/// One member of the household.
#[derive(Object, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "MemberForm")]
#[serde(deny_unknown_fields)]
pub struct MemberForm {
    /// Relationship to the applicant; exactly one member is `applicant` (本人).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    /// Full name, up to 50 characters.
    #[oai(validator(max_length = 50))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Identity number: 18 characters, or a legacy 15-digit number (stored as 18).
    #[oai(validator(max_length = 40))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// Gender; must match the identity number's sequence digit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// Marital status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marital_status: Option<MaritalStatus>,
    /// City of hukou registration, e.g. 郑州.
    #[oai(validator(max_length = 50))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hukou_city: Option<String>,
    /// Date the hukou was registered in that city (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hukou_since: Option<NaiveDate>,
    /// Employer, if any, up to 100 characters.
    #[oai(validator(max_length = 100))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employer: Option<String>,
    /// Annual income in fen (1 yuan = 100 fen), 0 to 10,000,000,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "10000000000")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_income_fen: Option<i64>,
    /// 低保 (minimum living allowance) certificate number, if the member has one.
    #[oai(validator(max_length = 32))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dibao_certificate: Option<String>,
    /// Date the 低保 started; required with a certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dibao_since: Option<NaiveDate>,
    /// Months of pension contributions in the last 3 years (migrant workers), 0 to 36.
    #[oai(validator(minimum(value = "0"), maximum(value = "36")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pension_months: Option<i32>,
    /// The member has a disability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// The member has a serious illness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serious_illness: Option<bool>,
}

/// A dwelling the household lives in or holds now.
#[derive(Object, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "HousingForm")]
#[serde(deny_unknown_fields)]
pub struct HousingForm {
    /// Address, up to 200 characters.
    #[oai(validator(max_length = 200))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Building area (建筑面积) in m², at most two decimals, up to 5,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "5000")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_m2: Option<f64>,
    /// How the household holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nature: Option<HousingNature>,
}

/// A property transferred or demolished in the last five years.
#[derive(Object, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "TransferForm")]
#[serde(deny_unknown_fields)]
pub struct TransferForm {
    /// Address, up to 200 characters.
    #[oai(validator(max_length = 200))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Building area in m², at most two decimals, up to 5,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "5000")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_m2: Option<f64>,
    /// Date of the transfer or demolition (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// Transferred or demolished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<TransferKind>,
}

/// The household's assets, in fen.
#[derive(Object, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "AssetsForm")]
#[serde(deny_unknown_fields)]
pub struct AssetsForm {
    /// Bank deposits in fen, 0 to 1,000,000,000,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deposits_fen: Option<i64>,
    /// Vehicles' value in fen, 0 to 1,000,000,000,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicles_fen: Option<i64>,
    /// Securities' value in fen, 0 to 1,000,000,000,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000")))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub securities_fen: Option<i64>,
}

/// A household's application. In a draft every field may be missing; submission
/// checks everything.
#[derive(Object, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none, rename = "ApplicationForm")]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// Programme applied for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programme: Option<Programme>,
    /// Applicant class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicant_class: Option<ApplicantClass>,
    /// Code of the community the application is filed in (see `GET /api/v1/places`).
    #[oai(validator(max_length = 32))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_code: Option<String>,
    /// Whether that community is the hukou or the residence community.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_at: Option<FiledAt>,
    /// Contact mobile number (required to submit).
    #[oai(validator(max_length = 20))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_mobile: Option<String>,
    /// Contact e-mail; notices are e-mailed here.
    #[oai(validator(max_length = 254))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// Language of notices (default zh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Consent to verification of income, housing and hukou data (must be true to submit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_verification: Option<bool>,
    /// Declaration that everything given is true (must be true to submit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declaration_truthful: Option<bool>,
    /// Household members, 1 to 30.
    #[oai(validator(max_items = 30))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberForm>>,
    /// Current housing, up to 20 entries.
    #[oai(validator(max_items = 20))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub housing: Option<Vec<HousingForm>>,
    /// Property transferred or demolished in the last five years, up to 20 entries.
    #[oai(validator(max_items = 20))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfers: Option<Vec<TransferForm>>,
    /// Assets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<AssetsForm>,
    /// Documents the applicant will bring (from the list for the applicant class).
    #[oai(validator(max_items = 10))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<DocumentKind>>,
}

impl Form {
    /// The member marked as the applicant (本人), if any.
    pub fn applicant(&self) -> Option<&MemberForm> {
        self.members
            .iter()
            .flatten()
            .find(|m| m.relationship == Some(Relationship::Applicant))
    }

    /// The applicant's name and identity number, masked for lists (张*明, 4101**********0037).
    pub fn applicant_masked(&self) -> (Option<String>, Option<String>) {
        let a = self.applicant();
        (
            a.and_then(|m| m.name.as_deref())
                .map(crate::values::mask_name),
            a.and_then(|m| m.id_number.as_deref())
                .map(crate::values::mask_id_number),
        )
    }

    /// Applies a partial update: every field present in `patch` replaces this one
    /// (lists are replaced whole).
    pub fn merge(&mut self, patch: Form) {
        macro_rules! take {
            ($($f:ident),*) => { $(if patch.$f.is_some() { self.$f = patch.$f; })* };
        }
        take!(
            programme,
            applicant_class,
            community_code,
            filed_at,
            contact_mobile,
            contact_email,
            language,
            consent_verification,
            declaration_truthful,
            members,
            housing,
            transfers,
            assets,
            documents
        );
    }
}
