//! CSV for people who open it in Excel or LibreOffice: UTF-8 with a BOM (so the Chinese
//! reads), every cell that a spreadsheet would run as a formula neutralised, and long
//! identifiers kept as text.
//!
//! - A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to a
//!   spreadsheet (`=HYPERLINK(…)` in a name is a link that leaks or runs something): it
//!   gets a leading `'`, which shows the text as typed and runs nothing.
//! - An identity number is 18 digits, which a spreadsheet turns into `4.1E+17`. It is
//!   written after a tab, which makes Excel and LibreOffice keep the cell as text and is
//!   not shown. (`="…"` is the other common trick, but LibreOffice opens a CSV without
//!   evaluating formulas and shows it literally.) Only a value made of digits and X is
//!   written so; anything else is neutralised text.

use std::borrow::Cow;

/// A cell as it is written.
pub enum Cell {
    /// Text from anywhere, neutralised.
    Text(String),
    /// A long number that must stay text (an identity number); anything but digits and X
    /// is written as plain neutralised text instead.
    Digits(String),
}

/// `'` before a cell a spreadsheet would treat as a formula.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

fn render(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Digits(d) if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == 'X') => {
            Cow::Owned(format!("\t{d}"))
        }
        Cell::Digits(t) | Cell::Text(t) => neutralise(t),
    }
}

/// The CSV file: BOM, header row, rows.
pub fn csv(headers: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, String> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        // Every field quoted, so a leading tab is inside the quotes for every reader.
        let mut w = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Always)
            .from_writer(&mut out);
        w.write_record(headers.iter().map(|h| neutralise(h).into_owned()))
            .map_err(|e| e.to_string())?;
        for row in rows {
            w.write_record(row.iter().map(|c| render(c).into_owned()))
                .map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_identity_numbers_stay_text() {
        let rows = vec![vec![
            Cell::Text("=HYPERLINK(\"http://x\",\"点我\")".into()),
            Cell::Text("+1+1".into()),
            Cell::Text("@SUM(1)".into()),
            Cell::Text("-2".into()),
            Cell::Text("\tx".into()),
            Cell::Text("王小明".into()),
            Cell::Digits("410104198507150037".into()),
            Cell::Digits("4101**********0037".into()),
            Cell::Digits("=1+1".into()),
        ]];
        let bytes = csv(&["a", "b", "c", "d", "e", "f", "g", "h", "i"], &rows).unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\",\"'+1+1\",\"'@SUM(1)\",\"'-2\",\"'\tx\",\
             \"王小明\",\"\t410104198507150037\",\"4101**********0037\",\"'=1+1\""
        );
    }
}
