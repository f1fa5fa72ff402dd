//! The report page's charts, as inline SVG: no script, no font, nothing fetched. Every chart has
//! a title and a description for screen readers, axis captions with units, a legend when it has
//! more than one series, and each bar's value in its tooltip.

use std::fmt::Write as _;

use super::html::escape;

/// Colours a reader can tell apart with the common colour-vision deficiencies (Okabe and Ito),
/// each dark enough for white text beside it to be unnecessary: labels are never drawn on bars.
pub const SERIES_COLOURS: [&str; 7] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#6e7781",
];

/// The colour that marks what needs attention now.
pub const URGENT: &str = "#cf222e";
/// The colour of an ordinary bar.
pub const PLAIN: &str = "#0969da";

/// One bar of a column chart: its label, and one value per series.
pub struct Column {
    /// Under the bar.
    pub label: String,
    /// One value per series, stacked from the bottom.
    pub values: Vec<usize>,
    /// A colour for the whole bar instead of the series' colours (one series only).
    pub colour: Option<&'static str>,
}

/// A column chart: bars side by side, series stacked.
pub struct ColumnChart<'a> {
    /// What it shows, read out by screen readers and shown as a tooltip.
    pub title: &'a str,
    /// The caption under the labels, with the unit: "week the tokens expire in".
    pub x_caption: &'a str,
    /// The caption of the values: "active tokens".
    pub y_caption: &'a str,
    /// The series' names, for the legend (none drawn for one series).
    pub series: Vec<String>,
    /// The bars.
    pub columns: Vec<Column>,
    /// Draw every n-th label only (1: all), so that dense charts stay readable.
    pub label_every: usize,
}

/// The chart as an `<svg>` that scales to its container's width.
pub fn column_chart(chart: &ColumnChart<'_>) -> String {
    const LEFT: usize = 48;
    const TOP: usize = 12;
    const PLOT: usize = 180;
    const LABELS: usize = 92;
    // Labels slant down to the right from under their bar: room for the last one's.
    const RIGHT: usize = 96;
    let slot = (640usize.saturating_sub(LEFT) / chart.columns.len().max(1)).clamp(14, 64);
    let bar = slot * 3 / 4;
    let width = LEFT + slot * chart.columns.len().max(1) + RIGHT;
    let height = TOP + PLOT + LABELS + 18;
    let max = chart
        .columns
        .iter()
        .map(|c| c.values.iter().sum::<usize>())
        .max()
        .unwrap_or(0);
    let (top, step) = axis(max);
    let mut svg = open_svg(width, height, chart.title, &describe_columns(chart));
    // Grid lines and the value axis.
    let mut tick = 0;
    while tick <= top {
        let y = TOP + PLOT - tick * PLOT / top.max(1);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\"/>\
             <text class=\"tick\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{tick}</text>",
            x2 = width - RIGHT,
            tx = LEFT - 6,
            ty = y + 4,
        );
        tick += step;
    }
    let _ = write!(
        svg,
        "<text class=\"caption\" transform=\"translate(12 {y}) rotate(-90)\" \
         text-anchor=\"middle\">{caption}</text>",
        y = TOP + PLOT / 2,
        caption = escape(chart.y_caption),
    );
    for (index, column) in chart.columns.iter().enumerate() {
        let x = LEFT + index * slot + (slot - bar) / 2;
        let mut base = TOP + PLOT;
        for (series, value) in column.values.iter().enumerate() {
            if *value == 0 {
                continue;
            }
            let height = (value * PLOT / top.max(1)).max(1);
            base -= height;
            let colour = column.colour.unwrap_or(series_colour(None, series));
            segment(
                &mut svg,
                (x, base, bar, height),
                colour,
                &column.label,
                chart.series.get(series),
                *value,
            );
        }
        let total: usize = column.values.iter().sum();
        if total > 0 && chart.columns.len() <= 16 {
            let _ = write!(
                svg,
                "<text class=\"value\" x=\"{cx}\" y=\"{y}\" text-anchor=\"middle\">{total}</text>",
                cx = x + bar / 2,
                y = base.saturating_sub(3),
            );
        }
        if index % chart.label_every.max(1) == 0 {
            let _ = write!(
                svg,
                "<text class=\"label\" text-anchor=\"start\" \
                 transform=\"translate({cx} {y}) rotate(40)\">{label}</text>",
                cx = x + bar / 2 - 4,
                y = TOP + PLOT + 14,
                label = escape(&column.label),
            );
        }
    }
    let _ = write!(
        svg,
        "<text class=\"caption\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{caption}</text></svg>",
        x = LEFT + (width - LEFT - RIGHT) / 2,
        y = height - 4,
        caption = escape(chart.x_caption),
    );
    let mut html = String::from("<figure class=\"chart\">");
    html.push_str(&svg);
    html.push_str(&legend(&chart.series, None));
    html.push_str("</figure>");
    html
}

/// One bar of a bar chart: its label, and one value per series.
pub struct Bar {
    /// Left of the bar.
    pub label: String,
    /// One value per series, side by side along the bar.
    pub values: Vec<usize>,
}

/// A bar chart: one horizontal bar per label, series stacked along it.
pub struct BarChart<'a> {
    /// What it shows.
    pub title: &'a str,
    /// The caption of the values, with the unit: "users".
    pub x_caption: &'a str,
    /// The series' names, for the legend (none drawn for one series).
    pub series: Vec<String>,
    /// The colours of the series, when they mean something (default: [`SERIES_COLOURS`]).
    pub colours: Option<Vec<&'static str>>,
    /// The bars, top to bottom.
    pub bars: Vec<Bar>,
}

/// The chart as an `<svg>` that scales to its container's width.
pub fn bar_chart(chart: &BarChart<'_>) -> String {
    const LABEL: usize = 200;
    const ROW: usize = 24;
    const PLOT: usize = 380;
    let width = LABEL + PLOT + 48;
    let height = 8 + ROW * chart.bars.len().max(1) + 40;
    let max = chart
        .bars
        .iter()
        .map(|b| b.values.iter().sum::<usize>())
        .max()
        .unwrap_or(0);
    let (top, step) = axis(max);
    let mut svg = open_svg(width, height, chart.title, &describe_bars(chart));
    let bottom = 8 + ROW * chart.bars.len().max(1);
    let mut tick = 0;
    while tick <= top {
        let x = LABEL + tick * PLOT / top.max(1);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{x}\" x2=\"{x}\" y1=\"4\" y2=\"{bottom}\"/>\
             <text class=\"tick\" x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{tick}</text>",
            ty = bottom + 14,
        );
        tick += step;
    }
    for (index, bar) in chart.bars.iter().enumerate() {
        let y = 8 + index * ROW;
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{x}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>",
            x = LABEL - 8,
            ty = y + ROW / 2 + 4,
            label = escape(&shorten(&bar.label, 30)),
        );
        let mut start = LABEL;
        for (series, value) in bar.values.iter().enumerate() {
            if *value == 0 {
                continue;
            }
            let length = (value * PLOT / top.max(1)).max(1);
            segment(
                &mut svg,
                (start, y + 4, length, ROW - 8),
                series_colour(chart.colours.as_deref(), series),
                &bar.label,
                chart.series.get(series),
                *value,
            );
            start += length;
        }
        let total: usize = bar.values.iter().sum();
        let _ = write!(
            svg,
            "<text class=\"value\" x=\"{x}\" y=\"{ty}\">{total}</text>",
            x = start + 4,
            ty = y + ROW / 2 + 4,
        );
    }
    let _ = write!(
        svg,
        "<text class=\"caption\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{caption}</text></svg>",
        x = LABEL + PLOT / 2,
        y = height - 4,
        caption = escape(chart.x_caption),
    );
    let mut html = String::from("<figure class=\"chart\">");
    html.push_str(&svg);
    html.push_str(&legend(&chart.series, chart.colours.as_deref()));
    html.push_str("</figure>");
    html
}

/// The legend, as a list a screen reader reads too; nothing for one series.
pub fn legend(series: &[String], colours: Option<&[&'static str]>) -> String {
    if series.len() < 2 {
        return String::new();
    }
    let mut html = String::from("<ul class=\"legend\">");
    for (index, name) in series.iter().enumerate() {
        let colour = series_colour(colours, index);
        let _ = write!(
            html,
            "<li><svg class=\"swatch\" width=\"12\" height=\"12\" aria-hidden=\"true\">\
             <rect width=\"12\" height=\"12\" fill=\"{colour}\"/></svg>{}</li>",
            escape(name)
        );
    }
    html.push_str("</ul>");
    html
}

/// The colour of series `index`: the chart's own, else the palette's.
fn series_colour(colours: Option<&[&'static str]>, index: usize) -> &'static str {
    colours
        .and_then(|colours| colours.get(index).copied())
        .unwrap_or(SERIES_COLOURS[index % SERIES_COLOURS.len()])
}

/// One bar or part of a stacked bar, `(x, y, width, height)`, with its value in its tooltip.
fn segment(
    svg: &mut String,
    (x, y, width, height): (usize, usize, usize, usize),
    colour: &str,
    label: &str,
    series: Option<&String>,
    value: usize,
) {
    let name = series.map(|s| format!("{s}: ")).unwrap_or_default();
    let _ = write!(
        svg,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" fill=\"{colour}\">\
         <title>{} — {}{value}</title></rect>",
        escape(label),
        escape(&name),
    );
}

fn open_svg(width: usize, height: usize, title: &str, description: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\"><title>{}</title><desc>{}</desc>",
        escape(title),
        escape(description)
    )
}

/// The chart's numbers in words, for a screen reader.
fn describe_columns(chart: &ColumnChart<'_>) -> String {
    let parts: Vec<String> = chart
        .columns
        .iter()
        .map(|c| format!("{}: {}", c.label, c.values.iter().sum::<usize>()))
        .collect();
    format!(
        "{} by {}. {}",
        chart.y_caption,
        chart.x_caption,
        parts.join("; ")
    )
}

fn describe_bars(chart: &BarChart<'_>) -> String {
    let parts: Vec<String> = chart
        .bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.values.iter().sum::<usize>()))
        .collect();
    format!("{}. {}", chart.x_caption, parts.join("; "))
}

/// The top of the value axis and its step: round numbers, about five ticks.
fn axis(max: usize) -> (usize, usize) {
    if max == 0 {
        return (1, 1);
    }
    let rough = max.div_ceil(5).max(1);
    let magnitude = 10usize.pow(rough.ilog10());
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10 * magnitude);
    (max.div_ceil(step) * step, step)
}

/// `text`, cut to `max` characters with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(1), (1, 1));
        assert_eq!(axis(7), (8, 2));
        assert_eq!(axis(10), (10, 2));
        assert_eq!(axis(43), (50, 10));
        assert_eq!(axis(1234), (1500, 500));
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
    }
}
