//! Reasons a case may be rejected or returned for: the maintained list. The writers
//! refuse any other code, so every stored reason can be explained in both languages.

use crate::i18n::Msg;

/// (code, zh, en).
pub const REASON_CODES: &[(&str, &str, &str)] = &[
    (
        "income_over_limit",
        "家庭收入超过标准",
        "household income over the limit",
    ),
    (
        "owns_housing",
        "拥有住房或住房面积超标",
        "owns housing or too much housing area",
    ),
    (
        "hukou_insufficient",
        "户籍条件不符",
        "hukou conditions not met",
    ),
    ("false_declaration", "虚假申报", "false declaration"),
    (
        "incomplete_documents",
        "材料不全且逾期未补正",
        "documents incomplete and not corrected in time",
    ),
    ("duplicate_application", "重复申请", "duplicate application"),
    (
        "home_visit_failed",
        "入户调查不符",
        "home visit found the conditions unmet",
    ),
    (
        "objection_upheld",
        "公示异议成立",
        "an objection to the public notice was upheld",
    ),
    (
        "no_declaration",
        "逾期未申报年审",
        "no re-verification declared in time",
    ),
    (
        "unit_vacant",
        "连续6个月未在承租住房居住",
        "the unit was not lived in for 6 consecutive months",
    ),
    (
        "rent_arrears",
        "累计6个月未缴纳租金",
        "6 months' rent in arrears",
    ),
    (
        "bought_home",
        "已购买或取得其他住房",
        "bought or obtained another home",
    ),
    (
        "recheck_failed",
        "配租前动态审核不再符合条件",
        "no longer qualifies at the re-check before allocation",
    ),
    ("other", "其他原因", "other reason"),
];

/// The reason's text in both languages, if the code is on the list.
pub fn label(code: &str) -> Option<Msg> {
    REASON_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| Msg::new(*zh, *en))
}
