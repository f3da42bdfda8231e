//! A section of the report as text: a heading, lines, tables and a note, rendered the
//! same way into `summary.md`, the HTML page and the summary run's text (TensorBoard
//! renders markdown), so that the three cannot disagree.
use super::html::escape;

/// A table of text cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A heading with its lines (a bulleted list), tables and a closing note.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<String>,
    pub tables: Vec<Table>,
    pub note: String,
}

impl Table {
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut md = line(&self.header);
        md.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            md.push_str(&line(row));
        }
        md
    }

    pub fn html(&self) -> String {
        let row = |tag: &str, cells: &[String]| {
            let cells: String = cells
                .iter()
                .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
                .collect();
            format!("<tr>{cells}</tr>\n")
        };
        let mut html = String::from("<table>\n");
        html.push_str(&row("th", &self.header));
        for cells in &self.rows {
            html.push_str(&row("td", cells));
        }
        html.push_str("</table>\n");
        html
    }
}

impl Section {
    /// `## heading`, the lines as a list, the tables, the note.
    pub fn markdown(&self) -> String {
        let mut md = format!("## {}\n\n", self.heading);
        for line in &self.lines {
            md.push_str(&format!("- {line}\n"));
        }
        for table in &self.tables {
            md.push('\n');
            md.push_str(&table.markdown());
        }
        if !self.note.is_empty() {
            md.push_str(&format!("\n{}\n", self.note));
        }
        md.push('\n');
        md
    }

    pub fn html(&self) -> String {
        let mut html = format!("<h2>{}</h2>\n", escape(&self.heading));
        if !self.lines.is_empty() {
            html.push_str("<ul>\n");
            for line in &self.lines {
                html.push_str(&format!("<li>{}</li>\n", escape(line)));
            }
            html.push_str("</ul>\n");
        }
        for table in &self.tables {
            html.push_str(&table.html());
        }
        if !self.note.is_empty() {
            html.push_str(&format!("<p class=\"note\">{}</p>\n", escape(&self.note)));
        }
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_renders_as_markdown_and_html() {
        let section = Section {
            heading: "H".into(),
            lines: vec!["a < b".into()],
            tables: vec![Table {
                header: vec!["x".into(), "y|z".into()],
                rows: vec![vec!["1".into(), "2".into()]],
            }],
            note: "n".into(),
        };
        assert_eq!(
            section.markdown(),
            "## H\n\n- a < b\n\n| x | y\\|z |\n|---|---|\n| 1 | 2 |\n\nn\n\n"
        );
        let html = section.html();
        assert!(html.contains("<li>a &lt; b</li>"), "{html}");
        assert!(html.contains("<tr><th>x</th><th>y|z</th></tr>"), "{html}");
    }
}
