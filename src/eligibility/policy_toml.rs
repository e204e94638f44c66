//! A policy as the commented TOML file an officer edits: written out from a published
//! version with a comment before every setting, and read back into the same document
//! the JSON API takes. A syntax or type mistake is reported with its line and column; the
//! document's own checks (`PolicyDocument::check`) then name each bad setting by its path.

use crate::error::FieldError;
use crate::i18n::Msg;

use super::policy::PolicyDocument;

/// Comments put before a line that starts with the key (top level or a table header).
const COMMENTS: &[(&str, &str)] = &[
    (
        "programme",
        "# 住房类别：public_rental（公租房）或 low_rent（廉租房）",
    ),
    (
        "version",
        "# 版本号：每次发布须使用新的版本号，已发布的版本不能修改",
    ),
    ("title", "# 标题"),
    (
        "effective_from",
        "# 生效日期（郑州时间）：此日及以后提交的申请按本版本审核；须为今天或以后",
    ),
    (
        "admits",
        "# 可申请的类别：local（本市户籍）、new_worker（新就业职工）、migrant（外来务工人员）",
    ),
    (
        "maker_checker",
        "# 封存上报批次的人不能是批次中任何案件的初审通过人（true 或 false）",
    ),
    (
        "[deadlines]",
        "# 各环节时限：受理、初审、公示、异议（自然日），复核申请与答复（工作日），年审提醒与宽限（自然日）",
    ),
    (
        "[allocation]",
        "# 配租评分：每位 60 岁以上成员、残疾成员、重病成员和每轮候满一个月的分值；同分按轮候号先后。放弃选房：end_of_list（调至队尾）或 bar（decline_bar_months 个月内不再配租）",
    ),
    (
        "[[dibao_standard]]",
        "# 低保标准：from 起每人每月 monthly_fen 分（1 元 = 100 分）",
    ),
    (
        "[[rules]]",
        "# 一条审核规则：id 唯一；kind 为规则类型；severity 为 hard（不符合即不予通过）或 soft（提示，由审核人员核实）",
    ),
];

const HEADER: &str = "\
# 住房保障准入政策（anju 政策文件）
# 修改后在“政策”页面上传：系统逐项检查，可先模拟对现有申请的影响，再发布。
# 金额单位为分（1 元 = 100 分），面积单位为平方米。以 # 开头的行是说明，不影响内容。
# A housing policy for anju: edit, upload on the Policies page, check, simulate, publish.
# Money is in fen (1 yuan = 100 fen), areas in square metres; lines after # are comments.

";

/// The document as commented TOML: a shipped version as the file it came from (with
/// its own comments), any other with a comment before each setting.
pub fn to_commented_toml(doc: &PolicyDocument) -> Result<String, String> {
    let shipped = super::policy::DEFAULT_POLICIES
        .iter()
        .map(|(_, text)| *text)
        .find(|text| super::policy::from_toml(text).ok().as_ref() == Some(doc));
    if let Some(text) = shipped {
        return Ok(text.to_string());
    }
    generated(doc)
}

fn generated(doc: &PolicyDocument) -> Result<String, String> {
    let plain = toml::to_string_pretty(doc).map_err(|e| e.to_string())?;
    let mut out = String::from(HEADER);
    let mut in_table = false;
    let mut commented = std::collections::HashSet::new();
    for line in plain.lines() {
        if line.starts_with('[') {
            in_table = true;
        }
        let key = line.split(['=', ' ']).next().unwrap_or("");
        let header = line.trim();
        let found = COMMENTS.iter().find(|(k, _)| {
            (*k == header && k.starts_with('[')) || (!in_table && !k.starts_with('[') && *k == key)
        });
        if let Some((k, comment)) = found {
            // A table header repeated ([[rules]] once per rule) is explained once.
            if commented.insert(*k) {
                if !out.ends_with("\n\n") {
                    out.push('\n');
                }
                out.push_str(comment);
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// Reads an uploaded policy file. A mistake TOML or the document's shape refuses is one
/// problem naming its line and column (`field` is `toml`).
pub fn from_toml(text: &str) -> Result<PolicyDocument, Vec<FieldError>> {
    toml::from_str::<PolicyDocument>(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (line, column)
            })
            .unwrap_or((0, 0));
        let what = e.message().trim().to_string();
        vec![FieldError::new(
            "toml",
            "toml_invalid",
            Msg::new(
                format!("第 {line} 行第 {column} 列：{what}"),
                format!("line {line}, column {column}: {what}"),
            ),
        )]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<PolicyDocument> {
        super::super::policy::DEFAULT_POLICIES
            .iter()
            .map(|(_, t)| super::super::policy::from_toml(t).unwrap())
            .collect()
    }

    #[test]
    fn a_shipped_policy_comes_back_as_its_own_file_and_any_other_with_comments() {
        for (doc, (_, file)) in shipped().iter().zip(super::super::policy::DEFAULT_POLICIES) {
            assert_eq!(to_commented_toml(doc).unwrap(), file);
            let mut edited = doc.clone();
            edited.version.push_str("-next");
            let text = to_commented_toml(&edited).expect("writes");
            assert!(text.contains("# 生效日期"), "{text}");
            assert_eq!(text.matches("# 一条审核规则").count(), 1, "{text}");
            assert_eq!(from_toml(&text).expect("reads back"), edited);
        }
    }

    #[test]
    fn a_mistake_is_reported_with_its_line() {
        let mut doc = shipped().remove(0);
        doc.version.push_str("-next");
        let doc = &doc;
        let text = to_commented_toml(doc)
            .unwrap()
            .replace("maker_checker = true", "maker_checker = \"yes\"");
        let line = text
            .lines()
            .position(|l| l.starts_with("maker_checker"))
            .unwrap()
            + 1;
        let e = from_toml(&text).unwrap_err();
        assert_eq!(e[0].field, "toml");
        assert!(
            e[0].msg
                .get(crate::i18n::Lang::En)
                .starts_with(&format!("line {line},")),
            "{:?}",
            e[0].msg
        );
        let unknown = to_commented_toml(doc).unwrap() + "\nnotice_dayz = 3\n";
        let e = from_toml(&unknown).unwrap_err();
        assert!(
            e[0].msg.get(crate::i18n::Lang::En).contains("notice_dayz"),
            "{:?}",
            e[0].msg
        );
    }
}
