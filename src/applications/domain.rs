//! The checked household and the rules that make a form one: every field's limits,
//! identity numbers, cross-field rules, and the warnings a reviewer must confirm.
//! Pure functions of the form and today's date; no database.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::form::*;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::values::{self, Email, IdGender, IdNumber, Mobile};

pub const MAX_MEMBERS: usize = 30;
pub const MAX_INCOME_FEN: i64 = 10_000_000_000;
pub const MAX_ASSET_FEN: i64 = 1_000_000_000_000;
/// Areas are kept in hundredths of a square metre.
pub const MAX_AREA_CM2: i64 = 500_000;
pub const MAX_PENSION_MONTHS: i32 = 36;
const NAME_MAX: usize = 50;
const ADDRESS_MAX: usize = 200;
const EMPLOYER_MAX: usize = 100;
const CITY_MAX: usize = 50;
const CERT_MAX: usize = 32;

/// A member, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub relationship: Relationship,
    pub name: String,
    pub id_number: IdNumber,
    pub gender: Gender,
    pub marital_status: MaritalStatus,
    pub hukou_city: String,
    pub hukou_since: NaiveDate,
    pub employer: Option<String>,
    pub annual_income_fen: i64,
    pub dibao: Option<(String, NaiveDate)>,
    pub pension_months: Option<i32>,
    pub disabled: bool,
    pub serious_illness: bool,
}

impl Member {
    pub fn birth_date(&self) -> NaiveDate {
        self.id_number.birth_date().unwrap_or_default()
    }

    /// Whole years of age on `day`.
    pub fn age_on(&self, day: NaiveDate) -> i32 {
        let b = self.birth_date();
        let mut age = day.year() - b.year();
        if (day.month(), day.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age
    }
}

/// A dwelling, checked. `area_cm2` is in hundredths of a square metre.
#[derive(Clone, Debug, PartialEq)]
pub struct Housing {
    pub address: String,
    pub area_cm2: i64,
    pub nature: HousingNature,
}

/// A transfer or demolition, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub address: String,
    pub area_cm2: i64,
    pub date: NaiveDate,
    pub kind: TransferKind,
}

/// A complete, checked application.
#[derive(Clone, Debug, PartialEq)]
pub struct Household {
    pub programme: Programme,
    pub applicant_class: ApplicantClass,
    pub community_code: String,
    pub filed_at: FiledAt,
    pub contact_mobile: Mobile,
    pub contact_email: Option<Email>,
    pub language: Language,
    pub members: Vec<Member>,
    pub housing: Vec<Housing>,
    pub transfers: Vec<Transfer>,
    pub deposits_fen: i64,
    pub vehicles_fen: i64,
    pub securities_fen: i64,
    pub documents: Vec<DocumentKind>,
}

/// Something unusual but possible, for a reviewer to confirm. Does not block submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub field: String,
    pub code: String,
    pub zh: String,
    pub en: String,
    /// `confirmed` or `overruled` once a reviewer has looked.
    #[serde(default)]
    pub resolution: Option<String>,
}

impl Warning {
    fn new(field: impl Into<String>, code: &str, msg: Msg) -> Warning {
        Warning {
            field: field.into(),
            code: code.into(),
            zh: msg.zh,
            en: msg.en,
            resolution: None,
        }
    }
}

/// The documents each applicant class may bring.
pub fn documents_for(class: ApplicantClass) -> &'static [DocumentKind] {
    use DocumentKind::*;
    match class {
        ApplicantClass::Local => &[IdCard, HukouBook, IncomeProof, MarriageProof, HousingProof],
        ApplicantClass::NewWorker => &[
            IdCard,
            HukouBook,
            IncomeProof,
            MarriageProof,
            HousingProof,
            LabourContract,
            SocialInsuranceProof,
        ],
        ApplicantClass::Migrant => &[
            IdCard,
            IncomeProof,
            MarriageProof,
            HousingProof,
            LabourContract,
            SocialInsuranceProof,
        ],
    }
}

/// Collects field errors while checking.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    fn check<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    fn required<T: Clone>(&mut self, field: &str, v: &Option<T>) -> Option<T> {
        if v.is_none() {
            self.push(FieldError::required(field));
        }
        v.clone()
    }

    fn rule(&mut self, field: impl Into<String>, code: &'static str, zh: &str, en: &str) {
        self.push(FieldError::new(field, code, Msg::new(zh, en)));
    }
}

fn opt_text(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>, FieldError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => values::text(field, s, max).map(Some),
    }
}

fn money(field: &str, v: i64, max: i64) -> Result<i64, FieldError> {
    if (0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(FieldError::out_of_range(field, 0, max))
    }
}

/// Square metres with at most two decimals, to hundredths.
pub fn area_cm2(field: &str, v: f64) -> Result<i64, FieldError> {
    let scaled = v * 100.0;
    let rounded = scaled.round();
    if !v.is_finite() || v <= 0.0 || rounded > MAX_AREA_CM2 as f64 {
        return Err(FieldError::new(
            field,
            "out_of_range",
            Msg::new(
                "面积必须大于 0 且不超过 5000 平方米",
                "must be more than 0 and at most 5,000 m²",
            ),
        ));
    }
    if (scaled - rounded).abs() > 1e-6 {
        return Err(FieldError::new(
            field,
            "too_precise",
            Msg::new("面积最多保留两位小数", "use at most two decimals"),
        ));
    }
    Ok(rounded as i64)
}

fn not_future(field: &str, d: NaiveDate, today: NaiveDate) -> Result<NaiveDate, FieldError> {
    if d <= today {
        Ok(d)
    } else {
        Err(FieldError::new(
            field,
            "in_the_future",
            Msg::new("日期不能晚于今天", "must not be in the future"),
        ))
    }
}

/// The checks a draft gets: limits on whatever is present, nothing about completeness.
pub fn check_draft(form: &Form) -> Vec<FieldError> {
    let mut e = Errors::default();
    e.check(opt_text("community_code", &form.community_code, 32));
    e.check(opt_text("contact_mobile", &form.contact_mobile, 20));
    e.check(opt_text(
        "contact_email",
        &form.contact_email,
        Email::MAX_LEN,
    ));
    if form.members.as_ref().is_some_and(|m| m.len() > MAX_MEMBERS) {
        e.rule(
            "members",
            "too_many",
            "家庭成员最多 30 人",
            "at most 30 members",
        );
    }
    for (i, m) in form.members.iter().flatten().enumerate() {
        let p = |f: &str| format!("members[{i}].{f}");
        e.check(opt_text(&p("name"), &m.name, NAME_MAX));
        e.check(opt_text(&p("id_number"), &m.id_number, 40));
        e.check(opt_text(&p("hukou_city"), &m.hukou_city, CITY_MAX));
        e.check(opt_text(&p("employer"), &m.employer, EMPLOYER_MAX));
        e.check(opt_text(
            &p("dibao_certificate"),
            &m.dibao_certificate,
            CERT_MAX,
        ));
        if let Some(v) = m.annual_income_fen {
            e.check(money(&p("annual_income_fen"), v, MAX_INCOME_FEN));
        }
        if let Some(v) = m
            .pension_months
            .filter(|v| !(0..=MAX_PENSION_MONTHS).contains(v))
        {
            e.push(FieldError::out_of_range(
                p("pension_months"),
                0,
                MAX_PENSION_MONTHS.into(),
            ));
            let _ = v;
        }
    }
    for (i, h) in form.housing.iter().flatten().enumerate() {
        e.check(opt_text(
            &format!("housing[{i}].address"),
            &h.address,
            ADDRESS_MAX,
        ));
        if let Some(a) = h.area_m2 {
            e.check(area_cm2(&format!("housing[{i}].area_m2"), a));
        }
    }
    for (i, t) in form.transfers.iter().flatten().enumerate() {
        e.check(opt_text(
            &format!("transfers[{i}].address"),
            &t.address,
            ADDRESS_MAX,
        ));
        if let Some(a) = t.area_m2 {
            e.check(area_cm2(&format!("transfers[{i}].area_m2"), a));
        }
    }
    if let Some(a) = &form.assets {
        for (f, v) in [
            ("deposits_fen", a.deposits_fen),
            ("vehicles_fen", a.vehicles_fen),
            ("securities_fen", a.securities_fen),
        ] {
            if let Some(v) = v {
                e.check(money(&format!("assets.{f}"), v, MAX_ASSET_FEN));
            }
        }
    }
    e.0
}

/// A member's 低保 certificate and its date: both or neither.
fn check_dibao(
    e: &mut Errors,
    i: usize,
    m: &MemberForm,
    today: NaiveDate,
) -> Option<Option<(String, NaiveDate)>> {
    let p = |f: &str| format!("members[{i}].{f}");
    let cert = e
        .check(opt_text(
            &p("dibao_certificate"),
            &m.dibao_certificate,
            CERT_MAX,
        ))
        .flatten();
    match (cert, m.dibao_since) {
        (None, None) => Some(None),
        (Some(c), Some(d)) => e
            .check(not_future(&p("dibao_since"), d, today))
            .map(|d| Some((c, d))),
        (Some(_), None) => {
            e.push(FieldError::required(p("dibao_since")));
            None
        }
        (None, Some(_)) => {
            e.push(FieldError::required(p("dibao_certificate")));
            None
        }
    }
}

/// Months of pension contributions: within limits, and required of a migrant applicant.
fn check_pension(
    e: &mut Errors,
    i: usize,
    m: &MemberForm,
    class: Option<ApplicantClass>,
    relationship: Option<Relationship>,
) -> Option<Option<i32>> {
    let p = |f: &str| format!("members[{i}].{f}");
    match m.pension_months {
        Some(v) if !(0..=MAX_PENSION_MONTHS).contains(&v) => {
            e.push(FieldError::out_of_range(
                p("pension_months"),
                0,
                MAX_PENSION_MONTHS.into(),
            ));
            None
        }
        None if class == Some(ApplicantClass::Migrant)
            && relationship == Some(Relationship::Applicant) =>
        {
            e.rule(
                p("pension_months"),
                "required_for_migrant",
                "外来务工人员须填写养老保险缴费月数",
                "is required for a migrant-worker applicant",
            );
            None
        }
        other => Some(other),
    }
}

fn check_member(
    e: &mut Errors,
    i: usize,
    m: &MemberForm,
    class: Option<ApplicantClass>,
    today: NaiveDate,
) -> Option<Member> {
    let p = |f: &str| format!("members[{i}].{f}");
    let relationship = e.required(&p("relationship"), &m.relationship);
    let name = e.check(values::text(
        &p("name"),
        m.name.as_deref().unwrap_or(""),
        NAME_MAX,
    ));
    let id_number = match m.id_number.as_deref() {
        None => e.required(&p("id_number"), &None::<IdNumber>),
        Some(raw) => e.check(IdNumber::parse(&p("id_number"), raw, today)),
    };
    let gender = e.required(&p("gender"), &m.gender);
    if let (Some(id), Some(g)) = (&id_number, gender) {
        let from_id = match id.gender() {
            IdGender::Male => Gender::Male,
            IdGender::Female => Gender::Female,
        };
        if from_id != g {
            e.rule(
                p("gender"),
                "gender_mismatch",
                "性别与身份证号码不符",
                "does not match the gender encoded in the identity number",
            );
        }
    }
    let marital_status = e.required(&p("marital_status"), &m.marital_status);
    let hukou_city = e.check(values::text(
        &p("hukou_city"),
        m.hukou_city.as_deref().unwrap_or(""),
        CITY_MAX,
    ));
    let hukou_since = e
        .required(&p("hukou_since"), &m.hukou_since)
        .and_then(|d| e.check(not_future(&p("hukou_since"), d, today)));
    if let (Some(id), Some(since)) = (&id_number, hukou_since)
        && id.birth_date().is_some_and(|b| since < b)
    {
        {
            e.rule(
                p("hukou_since"),
                "before_birth",
                "户籍登记日期早于出生日期",
                "is before the member's birth date",
            );
        }
    }
    let employer = e
        .check(opt_text(&p("employer"), &m.employer, EMPLOYER_MAX))
        .flatten();
    let income = e
        .required(&p("annual_income_fen"), &m.annual_income_fen)
        .and_then(|v| e.check(money(&p("annual_income_fen"), v, MAX_INCOME_FEN)));
    let dibao = check_dibao(e, i, m, today);
    let pension = check_pension(e, i, m, class, relationship);
    Some(Member {
        relationship: relationship?,
        name: name?,
        id_number: id_number?,
        gender: gender?,
        marital_status: marital_status?,
        hukou_city: hukou_city?,
        hukou_since: hukou_since?,
        employer,
        annual_income_fen: income?,
        dibao: dibao?,
        pension_months: pension?,
        disabled: m.disabled.unwrap_or(false),
        serious_illness: m.serious_illness.unwrap_or(false),
    })
}

fn check_household_rules(e: &mut Errors, members: &[MemberForm], checked: &[Option<Member>]) {
    let count = |r| members.iter().filter(|m| m.relationship == Some(r)).count();
    if !members.is_empty() && count(Relationship::Applicant) != 1 {
        e.rule(
            "members",
            "applicant_count",
            "家庭成员中必须有且只有一位“本人”",
            "exactly one member must be the applicant (本人)",
        );
    }
    if count(Relationship::Spouse) > 1 {
        e.rule(
            "members",
            "spouse_count",
            "配偶最多一人",
            "at most one member may be the spouse",
        );
    }
    let ids: Vec<Option<&str>> = checked
        .iter()
        .map(|m| m.as_ref().map(|m| m.id_number.as_str()))
        .collect();
    for (j, id) in ids.iter().enumerate() {
        if let Some(id) = id
            && ids[..j].iter().any(|prev| prev == &Some(*id))
        {
            {
                e.rule(
                    format!("members[{j}].id_number"),
                    "duplicate_in_household",
                    "同一身份证号码在家庭成员中出现了两次",
                    "the same identity number appears twice in the household",
                );
            }
        }
    }
    let has_spouse = count(Relationship::Spouse) > 0;
    if let Some((i, m)) = members
        .iter()
        .enumerate()
        .find(|(_, m)| m.relationship == Some(Relationship::Applicant))
        && has_spouse
        && m.marital_status
            .is_some_and(|s| s != MaritalStatus::Married)
    {
        e.rule(
            format!("members[{i}].marital_status"),
            "marital_status_conflict",
            "申请人有配偶，婚姻状况应为已婚",
            "the applicant has a spouse in the household, so must be married",
        );
    }
}

/// Checks a form for submission. On success returns the household and its warnings;
/// otherwise every failing field at once.
fn check_member_count(e: &mut Errors, count: usize) {
    if count == 0 {
        e.rule(
            "members",
            "required",
            "至少填写一位家庭成员",
            "at least one member is required",
        );
    } else if count > MAX_MEMBERS {
        e.rule(
            "members",
            "too_many",
            "家庭成员最多 30 人",
            "at most 30 members",
        );
    }
}

fn check_declarations(e: &mut Errors, form: &Form) {
    for (field, v) in [
        ("consent_verification", form.consent_verification),
        ("declaration_truthful", form.declaration_truthful),
    ] {
        if v != Some(true) {
            e.rule(
                field,
                "must_be_true",
                "必须同意后才能提交",
                "must be true to submit",
            );
        }
    }
}

fn check_housing(e: &mut Errors, form: &Form) -> Vec<Housing> {
    let mut housing = Vec::new();
    for (i, h) in form.housing.iter().flatten().enumerate() {
        let p = |f: &str| format!("housing[{i}].{f}");
        let address = e.check(values::text(
            &p("address"),
            h.address.as_deref().unwrap_or(""),
            ADDRESS_MAX,
        ));
        let area = e
            .required(&p("area_m2"), &h.area_m2)
            .and_then(|a| e.check(area_cm2(&p("area_m2"), a)));
        let nature = e.required(&p("nature"), &h.nature);
        if let (Some(address), Some(area_cm2), Some(nature)) = (address, area, nature) {
            housing.push(Housing {
                address,
                area_cm2,
                nature,
            });
        }
    }
    housing
}

fn check_transfers(e: &mut Errors, form: &Form, today: NaiveDate) -> Vec<Transfer> {
    let mut transfers = Vec::new();
    for (i, t) in form.transfers.iter().flatten().enumerate() {
        let p = |f: &str| format!("transfers[{i}].{f}");
        let address = e.check(values::text(
            &p("address"),
            t.address.as_deref().unwrap_or(""),
            ADDRESS_MAX,
        ));
        let area = e
            .required(&p("area_m2"), &t.area_m2)
            .and_then(|a| e.check(area_cm2(&p("area_m2"), a)));
        let date = e
            .required(&p("date"), &t.date)
            .and_then(|d| e.check(not_future(&p("date"), d, today)));
        let kind = e.required(&p("kind"), &t.kind);
        if let (Some(address), Some(area_cm2), Some(date), Some(kind)) = (address, area, date, kind)
        {
            transfers.push(Transfer {
                address,
                area_cm2,
                date,
                kind,
            });
        }
    }
    transfers
}

fn check_documents(
    e: &mut Errors,
    form: &Form,
    class: Option<ApplicantClass>,
) -> Vec<DocumentKind> {
    let documents = form.documents.clone().unwrap_or_default();
    if !documents.contains(&DocumentKind::IdCard) {
        e.rule(
            "documents",
            "id_card_required",
            "须携带身份证",
            "the identity card (id_card) is required",
        );
    }
    if let Some(class) = class {
        let allowed = documents_for(class);
        for (i, d) in documents.iter().enumerate() {
            if !allowed.contains(d) {
                e.rule(
                    format!("documents[{i}]"),
                    "not_for_class",
                    "该材料不属于此申请类别的材料清单",
                    "is not on the document list for this applicant class",
                );
            }
            if documents[..i].contains(d) {
                e.rule(
                    format!("documents[{i}]"),
                    "duplicate",
                    "材料重复",
                    "is listed twice",
                );
            }
        }
    }
    documents
}

pub fn validate(
    form: &Form,
    today: NaiveDate,
) -> Result<(Household, Vec<Warning>), Vec<FieldError>> {
    let mut e = Errors::default();
    let programme = e.required("programme", &form.programme);
    let class = e.required("applicant_class", &form.applicant_class);
    let community_code = e.check(values::text(
        "community_code",
        form.community_code.as_deref().unwrap_or(""),
        32,
    ));
    let filed_at = e.required("filed_at", &form.filed_at);
    let contact_mobile = match form.contact_mobile.as_deref() {
        None => e.required("contact_mobile", &None::<Mobile>),
        Some(m) => e.check(Mobile::parse("contact_mobile", m)),
    };
    let contact_email = match opt_text("contact_email", &form.contact_email, Email::MAX_LEN) {
        Ok(None) => Some(None),
        Ok(Some(v)) => e.check(Email::parse("contact_email", &v)).map(Some),
        Err(err) => {
            e.push(err);
            None
        }
    };
    check_declarations(&mut e, form);
    let members_form = form.members.clone().unwrap_or_default();
    check_member_count(&mut e, members_form.len());
    let checked: Vec<Option<Member>> = members_form
        .iter()
        .enumerate()
        .map(|(i, m)| check_member(&mut e, i, m, class, today))
        .collect();
    check_household_rules(&mut e, &members_form, &checked);

    let housing = check_housing(&mut e, form);
    let transfers = check_transfers(&mut e, form, today);
    let assets = form.assets.clone().unwrap_or_default();
    let mut asset = |f: &str, v: Option<i64>| {
        e.check(money(&format!("assets.{f}"), v.unwrap_or(0), MAX_ASSET_FEN))
    };
    let deposits = asset("deposits_fen", assets.deposits_fen);
    let vehicles = asset("vehicles_fen", assets.vehicles_fen);
    let securities = asset("securities_fen", assets.securities_fen);

    let documents = check_documents(&mut e, form, class);

    let (
        Some(programme),
        Some(applicant_class),
        Some(community_code),
        Some(filed_at),
        Some(contact_mobile),
        Some(contact_email),
        Some(deposits_fen),
        Some(vehicles_fen),
        Some(securities_fen),
        true,
    ) = (
        programme,
        class,
        community_code,
        filed_at,
        contact_mobile,
        contact_email,
        deposits,
        vehicles,
        securities,
        e.0.is_empty(),
    )
    else {
        return Err(e.0);
    };
    let household = Household {
        programme,
        applicant_class,
        community_code,
        filed_at,
        contact_mobile,
        contact_email,
        language: form.language.unwrap_or(Language::Zh),
        members: checked.into_iter().flatten().collect(),
        housing,
        transfers,
        deposits_fen,
        vehicles_fen,
        securities_fen,
        documents,
    };
    let warnings = warnings(&household, today);
    Ok((household, warnings))
}

/// Unusual but possible values: for the reviewer to confirm, never blocking.
pub fn warnings(h: &Household, today: NaiveDate) -> Vec<Warning> {
    let mut out = Vec::new();
    for (i, m) in h.members.iter().enumerate() {
        let age = m.age_on(today);
        if (18..60).contains(&age)
            && m.annual_income_fen == 0
            && !m.disabled
            && !m.serious_illness
            && m.dibao.is_none()
        {
            out.push(Warning::new(
                format!("members[{i}].annual_income_fen"),
                "zero_income_working_age",
                Msg::new(
                    "劳动年龄成员申报收入为零，请核实",
                    "a working-age member declares no income; please confirm",
                ),
            ));
        }
    }
    for (i, hs) in h.housing.iter().enumerate() {
        if hs.area_cm2 > 20_000 {
            out.push(Warning::new(
                format!("housing[{i}].area_m2"),
                "large_area",
                Msg::new(
                    "住房面积超过 200 平方米，请核实",
                    "the area is over 200 m²; please confirm",
                ),
            ));
        }
    }
    if h.members.len() > 10 {
        out.push(Warning::new(
            "members",
            "large_household",
            Msg::new(
                "家庭成员超过 10 人，请核实",
                "more than 10 members; please confirm",
            ),
        ));
    }
    out
}

impl Household {
    /// What the eligibility engine reads of this household.
    pub fn eligibility_input(&self) -> crate::eligibility::input::Household {
        use crate::eligibility::input::{Dwelling, Person, Tenure};
        crate::eligibility::input::Household {
            programme: self.programme,
            applicant_class: self.applicant_class,
            members: self
                .members
                .iter()
                .map(|m| Person {
                    applicant: m.relationship == Relationship::Applicant,
                    birth_date: m.birth_date(),
                    hukou_city: m.hukou_city.clone(),
                    hukou_since: m.hukou_since,
                    annual_income_fen: m.annual_income_fen,
                    dibao_since: m.dibao.as_ref().map(|(_, since)| *since),
                    pension_months: m.pension_months,
                })
                .collect(),
            housing: self
                .housing
                .iter()
                .map(|h| Dwelling {
                    area_cm2: h.area_cm2,
                    tenure: match h.nature {
                        HousingNature::Owned => Tenure::Owned,
                        HousingNature::RentedPublic => Tenure::RentedPublic,
                        _ => Tenure::Other,
                    },
                })
                .collect(),
            transfers: self.transfers.iter().map(|t| t.date).collect(),
        }
    }

    /// The normalised form stored for a submitted application (18-digit identity
    /// numbers, trimmed text, areas back in m²).
    pub fn to_form(&self) -> Form {
        let m2 = |cm2: i64| cm2 as f64 / 100.0;
        Form {
            programme: Some(self.programme),
            applicant_class: Some(self.applicant_class),
            community_code: Some(self.community_code.clone()),
            filed_at: Some(self.filed_at),
            contact_mobile: Some(self.contact_mobile.as_str().to_string()),
            contact_email: self.contact_email.as_ref().map(|e| e.as_str().to_string()),
            language: Some(self.language),
            consent_verification: Some(true),
            declaration_truthful: Some(true),
            members: Some(
                self.members
                    .iter()
                    .map(|m| MemberForm {
                        relationship: Some(m.relationship),
                        name: Some(m.name.clone()),
                        id_number: Some(m.id_number.as_str().to_string()),
                        gender: Some(m.gender),
                        marital_status: Some(m.marital_status),
                        hukou_city: Some(m.hukou_city.clone()),
                        hukou_since: Some(m.hukou_since),
                        employer: m.employer.clone(),
                        annual_income_fen: Some(m.annual_income_fen),
                        dibao_certificate: m.dibao.as_ref().map(|d| d.0.clone()),
                        dibao_since: m.dibao.as_ref().map(|d| d.1),
                        pension_months: m.pension_months,
                        disabled: Some(m.disabled),
                        serious_illness: Some(m.serious_illness),
                    })
                    .collect(),
            ),
            housing: Some(
                self.housing
                    .iter()
                    .map(|h| HousingForm {
                        address: Some(h.address.clone()),
                        area_m2: Some(m2(h.area_cm2)),
                        nature: Some(h.nature),
                    })
                    .collect(),
            ),
            transfers: Some(
                self.transfers
                    .iter()
                    .map(|t| TransferForm {
                        address: Some(t.address.clone()),
                        area_m2: Some(m2(t.area_cm2)),
                        date: Some(t.date),
                        kind: Some(t.kind),
                    })
                    .collect(),
            ),
            assets: Some(AssetsForm {
                deposits_fen: Some(self.deposits_fen),
                vehicles_fen: Some(self.vehicles_fen),
                securities_fen: Some(self.securities_fen),
            }),
            documents: Some(self.documents.clone()),
        }
    }
}
