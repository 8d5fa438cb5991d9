//! The report's charts: grouped bar charts written as SVG files with
//! plotters' SVG backend. Text is written as SVG `<text>` elements in the
//! generic `sans-serif` family, laid out by plotters' built-in estimate
//! (no font files, no system fonts: the viewer's renderer picks the face).

use plotters::coord::Shift;
use plotters::prelude::*;
use std::error::Error;
use std::path::Path;

/// One bar chart: `series` bars (one per system) in each of `groups`
/// (scenarios or percentiles), on a logarithmic value axis.
pub(crate) struct Bars {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub groups: Vec<String>,
    /// Each series: its name, colour and one value per group (`None`: not
    /// measured there, no bar).
    pub series: Vec<(String, RGBColor, Vec<Option<f64>>)>,
    /// Axis label of a value.
    pub format: fn(f64) -> String,
}

const FONT: &str = "sans-serif";
const LEGEND_WIDTH: u32 = 190;

/// Writes `bars` to `path` as an SVG of `width` × `height` pixels.
pub(crate) fn write(path: &Path, bars: &Bars, (width, height): (u32, u32)) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(width - LEGEND_WIDTH);
    draw_bars(&plot, bars)?;
    draw_legend(&legend, bars)?;
    root.present()?;
    Ok(())
}

fn draw_bars(area: &DrawingArea<SVGBackend<'_>, Shift>, bars: &Bars) -> Result<(), Box<dyn Error>> {
    let values = bars.series.iter().flat_map(|s| s.2.iter().flatten().copied()).filter(|v| *v > 0.0);
    let (min, max) = values.fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if max <= 0.0 {
        return Err("no positive value to chart".into());
    }
    // Whole decades, so that the axis starts and ends on a labelled line.
    let lo = 10f64.powf(min.log10().floor());
    let hi = 10f64.powf(max.log10().ceil()).max(lo * 10.0);
    // A labelled line at 1, 2 and 5 times each power of ten.
    let mut lines = Vec::new();
    let mut decade = lo;
    while decade <= hi * 1.001 {
        lines.extend([decade, 2.0 * decade, 5.0 * decade].into_iter().filter(|&v| v <= hi * 1.001));
        decade *= 10.0;
    }
    let n = bars.groups.len();
    let mut chart = ChartBuilder::on(area)
        .caption(&bars.title, (FONT, 24))
        .margin(12)
        .x_label_area_size(52)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, (lo..hi).log_scale().with_key_points(lines))?;
    let groups = bars.groups.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                groups.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| (bars.format)(*v))
        .x_desc(bars.x_desc.as_str())
        .y_desc(bars.y_desc.as_str())
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 17))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.15))
        .draw()?;
    // Bars of one width everywhere; a group's bars side by side, centred on
    // the group, in series order, leaving out the series it lacks.
    let widest = (0..n).map(|g| bars.series.iter().filter(|s| s.2[g].is_some()).count()).max().unwrap_or(1).max(1);
    let w = 0.84 / widest as f64;
    for (i, (_, color, vals)) in bars.series.iter().enumerate() {
        let mut rects = Vec::new();
        for (g, v) in vals.iter().enumerate() {
            let Some(v) = *v else { continue };
            let present: Vec<usize> = (0..bars.series.len()).filter(|&j| bars.series[j].2[g].is_some()).collect();
            let slot = present.iter().position(|&j| j == i).unwrap_or(0);
            let x0 = g as f64 - present.len() as f64 * w / 2.0 + slot as f64 * w;
            rects.push(Rectangle::new([(x0 + w * 0.06, lo), (x0 + w * 0.94, v.max(lo))], color.filled()));
        }
        chart.draw_series(rects)?;
    }
    Ok(())
}

fn draw_legend(area: &DrawingArea<SVGBackend<'_>, Shift>, bars: &Bars) -> Result<(), Box<dyn Error>> {
    let top = 60;
    for (i, (name, color, _)) in bars.series.iter().enumerate() {
        let y = top + 24 * i as i32;
        area.draw(&Rectangle::new([(8, y), (24, y + 14)], color.filled()))?;
        area.draw(&Text::new(name.clone(), (32, y + 1), (FONT, 17).into_font().color(&BLACK)))?;
    }
    Ok(())
}

/// `1.5M`, `200k`: events per second on an axis.
pub(crate) fn per_second(v: f64) -> String {
    let (x, unit) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{unit}", trim(x))
}

/// `80 ns`, `1.5 µs`: a duration in nanoseconds on an axis.
pub(crate) fn nanoseconds(v: f64) -> String {
    if v >= 1e6 {
        format!("{} ms", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{} µs", trim(v / 1e3))
    } else {
        format!("{} ns", trim(v))
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}
