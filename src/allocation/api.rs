//! HTTP for allocation (配租): the housing stock (bureau), rounds and their lottery
//! (bureau), the public ranking and result file (anyone), and a household's own
//! registration and answers.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::payload::{Attachment, AttachmentType, Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, param::Query};

use super::lottery::ResultFile;
use super::offers::{self, Answer, Offer};
use super::rounds::{self, Entry, NewRound, Round};
use super::service::{
    self, Availability, EntryStatus, FileFormat, OfferStatus, RankingMethod, RoundStatus, Unit,
    UnitEdit,
};
use crate::access::BearerAuth;
use crate::applications::form::Programme;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// A unit of the housing stock.
#[derive(Object)]
pub struct UnitView {
    /// Id.
    pub id: i64,
    /// Project (estate) the unit is in.
    pub project: String,
    /// Building.
    pub building: String,
    /// Unit number.
    pub unit_no: String,
    /// Programme the unit belongs to.
    pub programme: Programme,
    /// Floor area in hundredths of a square metre (4550 = 45.50 m²).
    pub area_centi: i32,
    /// Rooms.
    pub rooms: i32,
    /// Floor.
    pub floor: i32,
    /// Monthly rent in fen.
    pub rent_fen: i64,
    /// Accessible (无障碍).
    pub accessible: bool,
    /// Where it stands.
    pub status: Availability,
    /// Send it back with an edit.
    pub version: i32,
}

impl From<&Unit> for UnitView {
    fn from(u: &Unit) -> Self {
        UnitView {
            id: u.id,
            project: u.project.clone(),
            building: u.building.clone(),
            unit_no: u.unit_no.clone(),
            programme: u.programme,
            area_centi: u.area_centi,
            rooms: u.rooms,
            floor: u.floor,
            rent_fen: u.rent_fen,
            accessible: u.accessible,
            status: u.status,
            version: u.version,
        }
    }
}

/// One line of a unit's history.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UnitEventView {
    /// Status before (absent when the unit was added).
    pub from_status: Option<Availability>,
    /// Status after.
    pub to_status: Availability,
    /// Case id.
    pub application_id: Option<i64>,
    /// Round id.
    pub round_id: Option<i64>,
    /// Note for the history.
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

#[derive(Object)]
pub struct UnitDetailView {
    /// The unit.
    pub unit: UnitView,
    /// Oldest first.
    pub history: Vec<UnitEventView>,
}

#[derive(Object)]
pub struct StatusCountView {
    /// Where it stands.
    pub status: Availability,
    /// Units.
    pub units: i64,
}

#[derive(Object)]
pub struct UnitPageView {
    /// Units.
    pub units: Vec<UnitView>,
    /// Units matching the filter.
    pub total: u64,
    /// The whole stock by status.
    pub by_status: Vec<StatusCountView>,
    /// Projects in the stock.
    pub projects: Vec<String>,
}

#[derive(Object)]
pub struct ImportedView {
    /// Units added.
    pub created: usize,
    /// Ids of the units.
    pub unit_ids: Vec<i64>,
}

/// An edit of one unit; absent fields stay as they are.
#[derive(Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitEditRequest {
    /// The version the editor saw.
    pub version: i32,
    /// Floor area in hundredths of a square metre.
    pub area_centi: Option<i32>,
    /// Rooms.
    pub rooms: Option<i32>,
    /// Floor.
    pub floor: Option<i32>,
    /// Monthly rent in fen.
    pub rent_fen: Option<i64>,
    /// Accessible (无障碍).
    pub accessible: Option<bool>,
    /// `false` takes an available unit out of the stock (repairs), `true` puts it back.
    pub available: Option<bool>,
    /// Why, for the unit's history.
    #[oai(validator(max_length = 500))]
    pub note: Option<String>,
}

/// A new round (配租方案).
#[derive(Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRoundRequest {
    /// Name of the round.
    #[oai(validator(max_length = 200))]
    pub name: String,
    /// Ranking method: score or lottery.
    pub method: RankingMethod,
    /// Programmes whose waiting households may register, in priority order (e.g.
    /// `["low_rent", "public_rental"]`: former 廉租 families first).
    pub groups: Vec<Programme>,
    /// First day of intent registration (意向登记).
    pub intent_opens_on: NaiveDate,
    /// Last day of intent registration.
    pub intent_closes_on: NaiveDate,
    /// Every available unit of these projects…
    #[serde(default)]
    #[oai(default)]
    pub projects: Vec<String>,
    /// …or exactly these units (takes precedence).
    #[serde(default)]
    #[oai(default)]
    pub unit_ids: Vec<i64>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RoundView {
    /// Id.
    pub id: i64,
    /// Name of the round.
    pub name: String,
    /// Where it stands.
    pub status: RoundStatus,
    /// Ranking method: score or lottery.
    pub method: RankingMethod,
    /// Programmes whose waiting households may register, in priority order.
    pub groups: Vec<Programme>,
    /// First day of intent registration (意向登记).
    pub intent_opens_on: NaiveDate,
    /// Last day of intent registration.
    pub intent_closes_on: NaiveDate,
    /// SHA-256 of the published entrant list (lottery, once registration closed).
    pub entrants_sha256: Option<String>,
    /// SHA-256 of each official's secret, published before the draw.
    pub commitments: Vec<String>,
    /// When the ranking was published.
    pub ranked_at: Option<DateTime<Utc>>,
    /// When the round was closed.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<&Round> for RoundView {
    fn from(r: &Round) -> Self {
        RoundView {
            id: r.id,
            name: r.name.clone(),
            status: r.status,
            method: r.method,
            groups: rounds::groups(r),
            intent_opens_on: r.intent_opens_on,
            intent_closes_on: r.intent_closes_on,
            entrants_sha256: r.entrants_sha256.clone(),
            commitments: rounds::commitments(r),
            ranked_at: r.ranked_at,
            closed_at: r.closed_at,
        }
    }
}

/// A registrant of a round.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EntryView {
    /// Id.
    pub id: i64,
    /// Round id.
    pub round_id: i64,
    /// Case id.
    pub application_id: i64,
    /// The case number, as published.
    pub code: String,
    /// The applicant's name, masked.
    pub masked_name: String,
    /// 0 for the round's first group.
    pub group: i32,
    /// Waiting-list number.
    pub waitlist_number: i64,
    /// Where it stands.
    pub status: EntryStatus,
    /// Points (score rounds).
    pub score: Option<i32>,
    /// Place in the published ranking.
    pub rank: Option<i32>,
    /// Why the re-check failed.
    pub explanation: Option<String>,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        EntryView {
            id: e.id,
            round_id: e.round_id,
            application_id: e.application_id,
            code: e.code.clone(),
            masked_name: e.masked_name.clone(),
            group: e.group_rank,
            waitlist_number: e.waitlist_number,
            status: e.status,
            score: e.score,
            rank: e.rank,
            explanation: e.explanation.clone(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OfferView {
    /// Id.
    pub id: i64,
    /// Round id.
    pub round_id: i64,
    /// Case id.
    pub application_id: i64,
    /// Unit id.
    pub unit_id: i64,
    /// Where it stands.
    pub status: OfferStatus,
    /// When the lease starts.
    pub lease_starts_on: Option<NaiveDate>,
    /// When the unit was offered.
    pub offered_at: DateTime<Utc>,
    /// When the household answered.
    pub answered_at: Option<DateTime<Utc>>,
}

impl From<&Offer> for OfferView {
    fn from(o: &Offer) -> Self {
        OfferView {
            id: o.id,
            round_id: o.round_id,
            application_id: o.application_id,
            unit_id: o.unit_id,
            status: o.status,
            lease_starts_on: o.lease_starts_on,
            offered_at: o.created_at,
            answered_at: o.answered_at,
        }
    }
}

/// A round's figures.
#[derive(Object)]
pub struct RoundReportView {
    /// Units.
    pub units: usize,
    /// Units offered at least once.
    pub units_offered: usize,
    /// Offers accepted (units let).
    pub offers_accepted: usize,
    /// Offers declined.
    pub offers_declined: usize,
    /// Units of the round not let in it.
    pub units_vacant: usize,
    /// Households registered.
    pub registered: usize,
    /// Registrants who failed the re-check and left the list.
    pub failed_recheck: usize,
    /// Households ranked.
    pub ranked: usize,
    /// Households let a unit.
    pub allocated: usize,
    /// Households that declined.
    pub declined: usize,
    /// Households that left the round otherwise.
    pub left: usize,
}

impl From<offers::Report> for RoundReportView {
    fn from(r: offers::Report) -> Self {
        RoundReportView {
            units: r.units,
            units_offered: r.units_offered,
            offers_accepted: r.offers_accepted,
            offers_declined: r.offers_declined,
            units_vacant: r.units_vacant,
            registered: r.registered,
            failed_recheck: r.failed_recheck,
            ranked: r.ranked,
            allocated: r.allocated,
            declined: r.declined,
            left: r.left,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RoundDetailView {
    /// The round.
    pub round: RoundView,
    /// Units.
    pub units: Vec<UnitView>,
    /// In rank order once ranked.
    pub entries: Vec<EntryView>,
    /// Offers.
    pub offers: Vec<OfferView>,
    /// The round's figures.
    pub report: RoundReportView,
    /// The household whose turn it is to choose.
    pub next_in_turn: Option<EntryView>,
}

#[derive(Object)]
pub struct RegistrationClosedView {
    /// The round.
    pub round: RoundView,
    /// For a lottery: the two officials' secrets, shown this once. anju keeps only their
    /// SHA-256 (the commitments); each official keeps one, sealed, until the draw.
    pub secrets: Vec<String>,
    /// Registrants who failed the re-check and left the list.
    pub failed_recheck: usize,
}

impl From<rounds::Closed> for RegistrationClosedView {
    fn from(c: rounds::Closed) -> Self {
        RegistrationClosedView {
            round: (&c.round).into(),
            secrets: c.secrets,
            failed_recheck: c.failed_recheck,
        }
    }
}

/// The draw: each official's secret and the public value entered at the draw.
#[derive(Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    /// The officials' secrets.
    pub secrets: Vec<String>,
    /// The public value entered at the draw.
    #[oai(validator(max_length = 200))]
    pub public_value: String,
}

/// The lottery's result file: `anju lottery verify FILE` recomputes the order from it.
#[derive(Object)]
pub struct LotteryFileView {
    /// Algorithm version (`anju-lottery-v1`).
    pub algorithm: String,
    /// Round id.
    pub round_id: i64,
    /// Name of the round.
    pub round_name: String,
    /// The entrant list exactly as published: `n, group, code, masked name` per line.
    pub entrants: String,
    /// SHA-256 of the published entrant list.
    pub entrants_sha256: String,
    /// SHA-256 of each official's secret, published before the draw.
    pub commitments: Vec<String>,
    /// The officials' secrets.
    pub secrets: Vec<String>,
    /// The public value entered at the draw.
    pub public_value: String,
    /// Hex of the seed.
    pub seed: String,
    /// Case numbers in drawn order.
    pub order: Vec<String>,
    /// When the draw was made (RFC 3339).
    pub drawn_at: String,
}

impl From<ResultFile> for LotteryFileView {
    fn from(f: ResultFile) -> Self {
        LotteryFileView {
            algorithm: f.algorithm,
            round_id: f.round_id,
            round_name: f.round_name,
            entrants: f.entrants,
            entrants_sha256: f.entrants_sha256,
            commitments: f.commitments,
            secrets: f.secrets,
            public_value: f.public_value,
            seed: f.seed,
            order: f.order,
            drawn_at: f.drawn_at,
        }
    }
}

/// One place in the published ranking (排序公示).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RankView {
    /// Place in the published ranking.
    pub rank: i32,
    /// The case number, as published.
    pub code: String,
    /// The applicant's name, masked.
    pub masked_name: String,
    /// Position of the household's group (0 = first).
    pub group: i32,
    /// Points (score rounds).
    pub score: Option<i32>,
    /// Where it stands.
    pub status: EntryStatus,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PublicRoundView {
    /// The round.
    pub round: RoundView,
    /// The entrant list as published before the draw (lottery).
    pub entrants: Option<String>,
    /// The published ranking, masked.
    pub ranking: Vec<RankView>,
    /// The lottery's result file, once drawn.
    pub lottery: Option<LotteryFileView>,
}

#[derive(Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// Case id.
    pub application_id: i64,
    /// Unit id.
    pub unit_id: i64,
}

#[derive(Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRequest {
    /// Round id.
    pub round_id: i64,
}

#[derive(Object, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// When the lease starts: today when absent, at most 90 days ahead.
    pub lease_starts_on: Option<NaiveDate>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AnsweredView {
    /// The offer.
    pub offer: OfferView,
    /// The unit.
    pub unit: UnitView,
    /// After declining to the end of the list: the new waiting-list number.
    pub waitlist_number: Option<i64>,
    /// After declining under a bar: no offer before this day.
    pub barred_until: Option<NaiveDate>,
}

#[derive(Object)]
pub struct OpenRoundView {
    /// The round.
    pub round: RoundView,
    /// Whether the household has registered in it.
    pub registered: bool,
}

#[derive(Object)]
pub struct OfferedUnitView {
    /// The offer.
    pub offer: OfferView,
    /// The unit.
    pub unit: UnitView,
}

/// Allocation as a household sees it on its case.
#[derive(Object)]
pub struct CaseAllocationView {
    /// Rounds it may register in now.
    pub open_rounds: Vec<OpenRoundView>,
    /// Registrants, in rank order once ranked.
    pub entries: Vec<EntryView>,
    /// Its offers, newest first; an `accepted` one is the lease.
    pub offers: Vec<OfferedUnitView>,
}

#[derive(ApiResponse)]
pub enum ImportResponse {
    /// Every row was good: the units were added.
    #[oai(status = 201)]
    Created(Json<ImportedView>),
}

#[derive(ApiResponse)]
pub enum UnitPageResponse {
    #[oai(status = 200)]
    Ok(Json<UnitPageView>),
}

#[derive(ApiResponse)]
pub enum UnitResponse {
    #[oai(status = 200)]
    Ok(Json<UnitDetailView>),
}

#[derive(ApiResponse)]
pub enum RoundResponse {
    #[oai(status = 200)]
    Ok(Json<RoundView>),
    #[oai(status = 201)]
    Created(Json<RoundView>),
}

#[derive(ApiResponse)]
pub enum RoundsResponse {
    #[oai(status = 200)]
    Ok(Json<Vec<RoundView>>),
}

#[derive(ApiResponse)]
pub enum RoundDetailResponse {
    #[oai(status = 200)]
    Ok(Json<RoundDetailView>),
}

#[derive(ApiResponse)]
pub enum RegistrationClosedResponse {
    #[oai(status = 200)]
    Ok(Json<RegistrationClosedView>),
}

#[derive(ApiResponse)]
pub enum LotteryResponse {
    #[oai(status = 200)]
    Ok(Json<LotteryFileView>),
}

#[derive(ApiResponse)]
pub enum PublicRoundResponse {
    #[oai(status = 200)]
    Ok(Json<PublicRoundView>),
}

#[derive(ApiResponse)]
pub enum OfferResponse {
    #[oai(status = 201)]
    Created(Json<OfferView>),
}

#[derive(ApiResponse)]
pub enum EntryResponse {
    #[oai(status = 201)]
    Created(Json<EntryView>),
}

#[derive(ApiResponse)]
pub enum AnsweredResponse {
    #[oai(status = 200)]
    Ok(Json<AnsweredView>),
}

#[derive(ApiResponse)]
pub enum CaseAllocationResponse {
    #[oai(status = 200)]
    Ok(Json<CaseAllocationView>),
}

#[derive(ApiResponse)]
pub enum RankingRosterResponse {
    /// The ranking roster (CSV with BOM, or XLSX), names masked.
    #[oai(status = 200)]
    Ok(Attachment<Vec<u8>>),
}

pub struct AllocationApi {
    pub state: AppState,
}

pub fn detail_view(d: &rounds::RoundDetail, next: Option<&Entry>) -> RoundDetailView {
    RoundDetailView {
        round: (&d.round).into(),
        units: d.units.iter().map(UnitView::from).collect(),
        entries: d.entries.iter().map(EntryView::from).collect(),
        offers: d.offers.iter().map(OfferView::from).collect(),
        report: offers::report_of(d).into(),
        next_in_turn: next.map(EntryView::from),
    }
}

pub fn public_view(p: rounds::Published) -> PublicRoundView {
    PublicRoundView {
        round: (&p.round).into(),
        entrants: p.round.entrants.clone(),
        ranking: p
            .entries
            .iter()
            .map(|e| RankView {
                rank: e.rank.unwrap_or_default(),
                code: e.code.clone(),
                masked_name: e.masked_name.clone(),
                group: e.group_rank,
                score: e.score,
                status: e.status,
            })
            .collect(),
        lottery: p.result.map(LotteryFileView::from),
    }
}

#[OpenApi(tag = "ApiTags::Allocation")]
impl AllocationApi {
    /// Import housing units from CSV or XLSX (bureau)
    ///
    /// The body is the file. Chinese headers: 项目, 楼栋, 房号, 保障类别 (公租房 or 廉租房),
    /// 建筑面积 (m², two decimals), 居室, 楼层, 月租金 (yuan, two decimals), 无障碍 (是/否,
    /// optional). Every bad cell is reported with its line and column (`fields[].field`
    /// is `line 3 column E`) and nothing is imported unless every row is good and new.
    #[oai(
        path = "/api/v1/units/import",
        method = "post",
        operation_id = "units_import"
    )]
    async fn import(
        &self,
        auth: BearerAuth,
        /// `csv` or `xlsx`; guessed from the content when absent.
        format: Query<Option<String>>,
        body: Binary<Vec<u8>>,
    ) -> Result<ImportResponse, ApiError> {
        let format = match format.0.as_deref() {
            Some("xlsx") => FileFormat::Xlsx,
            Some("csv") => FileFormat::Csv,
            _ => FileFormat::guess("", &body.0),
        };
        let ids = service::import_units(&self.state, &auth.0, &body.0, format).await?;
        Ok(ImportResponse::Created(Json(ImportedView {
            created: ids.len(),
            unit_ids: ids,
        })))
    }

    /// The housing stock (bureau)
    #[oai(path = "/api/v1/units", method = "get", operation_id = "units_list")]
    async fn units(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 100))] project: Query<Option<String>>,
        status: Query<Option<Availability>>,
        #[oai(validator(minimum(value = "0")))] offset: Query<Option<u64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u64>>,
    ) -> Result<UnitPageResponse, ApiError> {
        let page = service::list_units(
            &self.state,
            &auth.0,
            project.0.as_deref(),
            status.0,
            offset.0.unwrap_or(0),
            limit.0.unwrap_or(100),
        )
        .await?;
        Ok(UnitPageResponse::Ok(Json(UnitPageView {
            units: page.units.iter().map(UnitView::from).collect(),
            total: page.total,
            by_status: page
                .by_status
                .into_iter()
                .map(|(status, units)| StatusCountView { status, units })
                .collect(),
            projects: page.projects,
        })))
    }

    /// One unit with its history (bureau)
    #[oai(path = "/api/v1/units/:id", method = "get", operation_id = "units_get")]
    async fn unit(&self, auth: BearerAuth, id: Path<i64>) -> Result<UnitResponse, ApiError> {
        let (unit, history) = service::unit(&self.state, &auth.0, id.0).await?;
        Ok(UnitResponse::Ok(Json(unit_detail(&unit, history))))
    }

    /// Edit one unit (bureau)
    #[oai(
        path = "/api/v1/units/:id",
        method = "patch",
        operation_id = "units_edit"
    )]
    async fn edit(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<UnitEditRequest>,
    ) -> Result<UnitResponse, ApiError> {
        let b = body.0;
        let edit = UnitEdit {
            area_centi: b.area_centi,
            rooms: b.rooms,
            floor: b.floor,
            rent_fen: b.rent_fen,
            accessible: b.accessible,
            available: b.available,
            note: b.note,
        };
        service::edit_unit(&self.state, &auth.0, id.0, b.version, edit).await?;
        let (unit, history) = service::unit(&self.state, &auth.0, id.0).await?;
        Ok(UnitResponse::Ok(Json(unit_detail(&unit, history))))
    }

    /// Create an allocation round (bureau)
    #[oai(
        path = "/api/v1/rounds",
        method = "post",
        operation_id = "rounds_create"
    )]
    async fn create_round(
        &self,
        auth: BearerAuth,
        body: JsonBody<NewRoundRequest>,
    ) -> Result<RoundResponse, ApiError> {
        let b = body.0;
        let new = NewRound {
            name: b.name,
            method: b.method,
            groups: b.groups,
            intent_opens_on: b.intent_opens_on,
            intent_closes_on: b.intent_closes_on,
            projects: b.projects,
            unit_ids: b.unit_ids,
        };
        let round = rounds::create(&self.state, &auth.0, new).await?;
        Ok(RoundResponse::Created(Json((&round).into())))
    }

    /// Allocation rounds, newest first (bureau)
    #[oai(path = "/api/v1/rounds", method = "get", operation_id = "rounds_list")]
    async fn rounds(&self, auth: BearerAuth) -> Result<RoundsResponse, ApiError> {
        let list = rounds::list(&self.state, &auth.0).await?;
        Ok(RoundsResponse::Ok(Json(
            list.iter().map(RoundView::from).collect(),
        )))
    }

    /// A round with its units, registrants, offers and figures (bureau)
    #[oai(
        path = "/api/v1/rounds/:id",
        method = "get",
        operation_id = "rounds_get"
    )]
    async fn round(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<RoundDetailResponse, ApiError> {
        let d = rounds::detail(&self.state, &auth.0, id.0).await?;
        let next = offers::next_in_turn(&self.state, id.0).await?;
        Ok(RoundDetailResponse::Ok(Json(detail_view(
            &d,
            next.as_ref(),
        ))))
    }

    /// Publish a round: registration opens and waiting households are told (bureau)
    #[oai(
        path = "/api/v1/rounds/:id/publish",
        method = "post",
        operation_id = "rounds_publish"
    )]
    async fn publish(&self, auth: BearerAuth, id: Path<i64>) -> Result<RoundResponse, ApiError> {
        let round = rounds::publish(&self.state, &auth.0, id.0).await?;
        Ok(RoundResponse::Ok(Json((&round).into())))
    }

    /// Close registration: re-check registrants, then rank (score) or commit to the draw (bureau)
    ///
    /// After the window. For a lottery the answer holds the two officials' secrets, shown
    /// this once; the entrant list, its SHA-256 and the commitments are public from now.
    #[oai(
        path = "/api/v1/rounds/:id/close-registration",
        method = "post",
        operation_id = "rounds_close_registration"
    )]
    async fn close_registration(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<RegistrationClosedResponse, ApiError> {
        let c = rounds::close_registration(&self.state, &auth.0, id.0).await?;
        Ok(RegistrationClosedResponse::Ok(Json(c.into())))
    }

    /// New secrets for the draw, when the ones shown at the close of registration were lost (bureau)
    ///
    /// Before the draw only. The answer holds the new secrets, shown this once; the old
    /// commitments are replaced (the order still depends on the public value entered at
    /// the draw, so renewing cannot choose it).
    #[oai(
        path = "/api/v1/rounds/:id/renew-secrets",
        method = "post",
        operation_id = "rounds_renew_secrets"
    )]
    async fn renew_secrets(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<RegistrationClosedResponse, ApiError> {
        let c = rounds::renew_secrets(&self.state, &auth.0, id.0).await?;
        Ok(RegistrationClosedResponse::Ok(Json(c.into())))
    }

    /// The draw (摇号): reveal the secrets, enter the public value (bureau)
    ///
    /// Each secret must hash to its published commitment (else 422 naming `secrets[i]`).
    /// The answer is the result file, also public at `/api/v1/public/rounds/{id}/lottery`.
    #[oai(
        path = "/api/v1/rounds/:id/draw",
        method = "post",
        operation_id = "rounds_draw"
    )]
    async fn draw(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<DrawRequest>,
    ) -> Result<LotteryResponse, ApiError> {
        let file = rounds::draw(
            &self.state,
            &auth.0,
            id.0,
            body.0.secrets,
            body.0.public_value,
        )
        .await?;
        Ok(LotteryResponse::Ok(Json(file.into())))
    }

    /// Offer a unit of the round to the household whose turn it is (bureau)
    #[oai(
        path = "/api/v1/rounds/:id/offers",
        method = "post",
        operation_id = "rounds_offer"
    )]
    async fn offer(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<OfferRequest>,
    ) -> Result<OfferResponse, ApiError> {
        let o = offers::offer(
            &self.state,
            &auth.0,
            id.0,
            body.0.application_id,
            body.0.unit_id,
        )
        .await?;
        Ok(OfferResponse::Created(Json((&o).into())))
    }

    /// Close a round once no offer is open (bureau)
    #[oai(
        path = "/api/v1/rounds/:id/close",
        method = "post",
        operation_id = "rounds_close"
    )]
    async fn close(&self, auth: BearerAuth, id: Path<i64>) -> Result<RoundResponse, ApiError> {
        let round = offers::close(&self.state, &auth.0, id.0).await?;
        Ok(RoundResponse::Ok(Json((&round).into())))
    }

    /// The ranking roster (bureau)
    ///
    /// CSV (UTF-8 with BOM) or XLSX. Names and identity numbers are masked unless `full=true`
    /// with a `purpose`; every download is recorded (who, when, format, masked, purpose).
    #[oai(
        path = "/api/v1/rounds/:id/roster",
        method = "get",
        operation_id = "rounds_roster"
    )]
    async fn roster(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        /// `csv` (default) or `xlsx`.
        format: Query<Option<String>>,
        /// Full names and identity numbers (with a purpose).
        full: Query<Option<bool>>,
        /// Why the full roster is needed.
        #[oai(validator(max_length = 500))]
        purpose: Query<Option<String>>,
    ) -> Result<RankingRosterResponse, ApiError> {
        let req = super::roster::Request {
            xlsx: format.0.as_deref() == Some("xlsx"),
            full: full.0.unwrap_or(false),
            purpose: purpose.0,
        };
        let (bytes, name) = super::roster::export(&self.state, &auth.0, id.0, req).await?;
        Ok(RankingRosterResponse::Ok(
            Attachment::new(bytes)
                .attachment_type(AttachmentType::Attachment)
                .filename(name),
        ))
    }

    /// A round's public ranking (排序公示), entrant list and lottery result
    ///
    /// No login. Names are masked; the entrant list, its SHA-256 and the commitments are
    /// public from the close of registration, the result file from the draw.
    #[oai(
        path = "/api/v1/public/rounds/:id",
        method = "get",
        operation_id = "public_round",
        tag = "ApiTags::Public"
    )]
    async fn public_round(&self, id: Path<i64>) -> Result<PublicRoundResponse, ApiError> {
        let p = rounds::published(&self.state, id.0).await?;
        Ok(PublicRoundResponse::Ok(Json(public_view(p))))
    }

    /// A round's lottery result file, for `anju lottery verify FILE`
    #[oai(
        path = "/api/v1/public/rounds/:id/lottery",
        method = "get",
        operation_id = "public_round_lottery",
        tag = "ApiTags::Public"
    )]
    async fn lottery(&self, id: Path<i64>) -> Result<LotteryResponse, ApiError> {
        let p = rounds::published(&self.state, id.0).await?;
        let file = p.result.ok_or_else(ApiError::not_found)?;
        Ok(LotteryResponse::Ok(Json(file.into())))
    }

    /// Register the household's intent in an open round (applicant)
    #[oai(
        path = "/api/v1/applications/:id/intent",
        method = "post",
        operation_id = "applications_register_intent"
    )]
    async fn register(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<IntentRequest>,
    ) -> Result<EntryResponse, ApiError> {
        let e = rounds::register(&self.state, &auth.0, id.0, body.0.round_id).await?;
        Ok(EntryResponse::Created(Json((&e).into())))
    }

    /// Accept the offered unit (applicant, or the bureau recording it)
    #[oai(
        path = "/api/v1/applications/:id/offer/accept",
        method = "post",
        operation_id = "applications_accept_offer"
    )]
    async fn accept(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<AcceptRequest>,
    ) -> Result<AnsweredResponse, ApiError> {
        let a = Answer {
            accept: true,
            lease_starts_on: body.0.lease_starts_on,
        };
        answered(offers::answer(&self.state, &auth.0, id.0, a).await?)
    }

    /// Decline the offered unit (applicant, or the bureau recording it)
    ///
    /// The policy's penalty applies: a new number at the end of the waiting list, or no
    /// offer for `decline_bar_months`.
    #[oai(
        path = "/api/v1/applications/:id/offer/decline",
        method = "post",
        operation_id = "applications_decline_offer"
    )]
    async fn decline(&self, auth: BearerAuth, id: Path<i64>) -> Result<AnsweredResponse, ApiError> {
        let a = Answer {
            accept: false,
            lease_starts_on: None,
        };
        answered(offers::answer(&self.state, &auth.0, id.0, a).await?)
    }

    /// Allocation on one case: open rounds, registrations, offers and lease
    #[oai(
        path = "/api/v1/applications/:id/allocation",
        method = "get",
        operation_id = "applications_allocation"
    )]
    async fn case_allocation(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<CaseAllocationResponse, ApiError> {
        let a = offers::for_case(&self.state, &auth.0, id.0).await?;
        Ok(CaseAllocationResponse::Ok(Json(CaseAllocationView {
            open_rounds: a
                .open_rounds
                .iter()
                .map(|(r, registered)| OpenRoundView {
                    round: r.into(),
                    registered: *registered,
                })
                .collect(),
            entries: a.entries.iter().map(|(e, _)| EntryView::from(e)).collect(),
            offers: a
                .offers
                .iter()
                .map(|(o, u)| OfferedUnitView {
                    offer: o.into(),
                    unit: u.into(),
                })
                .collect(),
        })))
    }
}

fn answered(a: offers::Answered) -> Result<AnsweredResponse, ApiError> {
    Ok(AnsweredResponse::Ok(Json(AnsweredView {
        offer: (&a.offer).into(),
        unit: (&a.unit).into(),
        waitlist_number: a.waitlist_number,
        barred_until: a.barred_until,
    })))
}

fn unit_detail(
    unit: &Unit,
    history: Vec<crate::lifecycle::unit_writer::UnitEvent>,
) -> UnitDetailView {
    UnitDetailView {
        unit: unit.into(),
        history: history
            .into_iter()
            .map(|h| UnitEventView {
                from_status: h.from_status,
                to_status: h.to_status,
                application_id: h.application_id,
                round_id: h.round_id,
                note: h.note,
                at: h.created_at,
            })
            .collect(),
    }
}
