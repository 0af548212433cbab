//! Pictures for `--plot FILE`: PNG or SVG by the file's extension, drawn with plotters.
//!
//! plotters runs without its default features: no system fonts or font-config. Text is drawn
//! with ab_glyph from a font embedded in the binary (`host/assets/DejaVuSans-subset.ttf`: the
//! printable ASCII, °, ×, β, −, –, —, … of DejaVu Sans; licence beside it), and PNGs are encoded
//! from plotters' RGB buffer with the png crate. Each plot is a value ([`Lines`],
//! [`Histogram`], [`Scatter`], [`ImageGrid`], [`ImageRows`], [`Matrix`]) written by [`write`].

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The embedded font (ASCII subset of DejaVu Sans).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";

/// Why a plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{0}: --plot writes .png or .svg files (by the extension)")]
    Extension(String),
    #[error("{path}: cannot draw: {message}")]
    Draw { path: String, message: String },
    #[error("{0}: nothing to plot")]
    Empty(String),
}

/// A drawable plot.
pub trait Plot {
    /// Pixel size (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws onto `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // the embedded bytes are a valid font (a unit test draws text with them)
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

fn draw_err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Writes `plot` to `path` as PNG or SVG (by extension, case-insensitive).
pub fn write<P: Plot>(path: &Path, plot: &P) -> Result<(), PlotError> {
    register_font();
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let (w, h) = plot.size();
    let fail = |message: String| PlotError::Draw {
        path: name.clone(),
        message,
    };
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| fail(draw_err(e)))?;
            plot.draw(&root).map_err(fail)?;
            root.present().map_err(|e| fail(draw_err(e)))?;
            Ok(())
        }
        Some("png") => {
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(|e| fail(draw_err(e)))?;
                plot.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(draw_err(e)))?;
            }
            let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
            let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(|e| fail(e.to_string()))?;
            wr.write_image_data(&rgb).map_err(|e| fail(e.to_string()))?;
            wr.finish().map_err(|e| fail(e.to_string()))?;
            Ok(())
        }
        _ => Err(PlotError::Extension(name)),
    }
}

/// The (min, max) of `values`, widened when flat so an axis has a span.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.03 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Line series against a common x axis (energy against sweeps, accuracy per epoch).
pub struct Lines {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// (name, points); a name of "" stays out of the legend.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

impl Plot for Lines {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let pts = || self.series.iter().flat_map(|(_, p)| p.iter());
        let (x0, x1) = span(pts().map(|p| p.0));
        let (y0, y1) = span(pts().map(|p| p.1));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FAMILY, 14))
            .draw()
            .map_err(draw_err)?;
        let named = self.series.iter().any(|(n, _)| !n.is_empty());
        for (k, (name, p)) in self.series.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            let s = chart
                .draw_series(LineSeries::new(p.iter().copied(), colour.stroke_width(2)))
                .map_err(draw_err)?;
            if !name.is_empty() {
                s.label(name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            }
        }
        if named {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font((FAMILY, 13))
                .draw()
                .map_err(draw_err)?;
        }
        Ok(())
    }
}

/// A histogram of values in equal-width bins.
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub values: Vec<f64>,
    pub bins: usize,
}

impl Plot for Histogram {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (lo, hi) = span(self.values.iter().copied());
        let bins = self.bins.max(1);
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0u64; bins];
        for &v in self.values.iter().filter(|v| v.is_finite()) {
            counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.05;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, 0.0..top)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc("samples")
            .label_style((FAMILY, 14))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(b, &c)| {
                let x = lo + b as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, c as f64)], BLUE.mix(0.6).filled())
            }))
            .map_err(draw_err)?;
        Ok(())
    }
}

/// Points (x, y) against the diagonal y = x (sampled against exact marginals).
pub struct Scatter {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub points: Vec<(f64, f64)>,
}

impl Plot for Scatter {
    fn size(&self) -> (u32, u32) {
        (600, 600)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (lo, hi) = span(self.points.iter().flat_map(|p| [p.0, p.1]));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FAMILY, 14))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4)))
            .map_err(draw_err)?;
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, RED.mix(0.8).filled())),
            )
            .map_err(draw_err)?;
        Ok(())
    }
}

/// Binary images (row-major, `width` pixels a row) in a grid, 1 black on white.
pub struct ImageGrid {
    pub title: String,
    pub images: Vec<Vec<bool>>,
    pub width: usize,
}

/// Pixels per image pixel, and the gap between images.
const CELL: u32 = 8;
const GAP: u32 = 6;

/// One binary image (row-major, `width` pixels a row; `cell` its size in pixels) in column
/// `col`, row `row` of a grid of such cells below the title, framed in grey, 1 black on white.
fn draw_image<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    image: &[bool],
    width: usize,
    (w, h): (u32, u32),
    col: u32,
    row: u32,
) -> Result<(), String> {
    let x0 = (GAP + col * (w * CELL + GAP)) as i32;
    let y0 = (30 + GAP + row * (h * CELL + GAP)) as i32;
    root.draw(&Rectangle::new(
        [
            (x0 - 1, y0 - 1),
            (x0 + (w * CELL) as i32, y0 + (h * CELL) as i32),
        ],
        BLACK.mix(0.3),
    ))
    .map_err(draw_err)?;
    for (i, _) in image.iter().enumerate().filter(|(_, &on)| on) {
        let (px, py) = ((i % width) as i32, (i / width) as i32);
        let (x, y) = (x0 + px * CELL as i32, y0 + py * CELL as i32);
        root.draw(&Rectangle::new(
            [(x, y), (x + CELL as i32, y + CELL as i32)],
            BLACK.filled(),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

impl ImageGrid {
    fn layout(&self) -> (u32, u32, u32, u32) {
        let w = self.width.max(1) as u32;
        let h = self
            .images
            .first()
            .map_or(1, |i| i.len().div_ceil(self.width.max(1))) as u32;
        let cols = (self.images.len() as f64).sqrt().ceil().max(1.0) as u32;
        let rows = (self.images.len() as u32).div_ceil(cols).max(1);
        (w, h, cols, rows)
    }
}

impl Plot for ImageGrid {
    fn size(&self) -> (u32, u32) {
        let (w, h, cols, rows) = self.layout();
        (
            (cols * (w * CELL + GAP) + GAP).max(200),
            rows * (h * CELL + GAP) + GAP + 30,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, h, cols, _) = self.layout();
        root.draw(&Text::new(
            self.title.clone(),
            (GAP as i32, 6),
            (FAMILY, 16),
        ))
        .map_err(draw_err)?;
        for (k, im) in self.images.iter().enumerate() {
            let (c, r) = (k as u32 % cols, k as u32 / cols);
            draw_image(root, im, self.width, (w, h), c, r)?;
        }
        Ok(())
    }
}

/// Binary images in given rows (row-major pixels, `width` a row), 1 black on white: e.g. a
/// denoising trajectory per row, then rows of samples. An empty row leaves a gap.
pub struct ImageRows {
    pub title: String,
    pub rows: Vec<Vec<Vec<bool>>>,
    pub width: usize,
}

impl ImageRows {
    fn cell(&self) -> (u32, u32) {
        let w = self.width.max(1) as u32;
        let h = self
            .rows
            .iter()
            .flatten()
            .next()
            .map_or(1, |i| i.len().div_ceil(self.width.max(1))) as u32;
        (w, h)
    }
}

impl Plot for ImageRows {
    fn size(&self) -> (u32, u32) {
        let (w, h) = self.cell();
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as u32;
        (
            (cols * (w * CELL + GAP) + GAP)
                .max(300)
                .max(self.title.len() as u32 * 9 + 2 * GAP),
            self.rows.len().max(1) as u32 * (h * CELL + GAP) + GAP + 30,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, h) = self.cell();
        root.draw(&Text::new(
            self.title.clone(),
            (GAP as i32, 6),
            (FAMILY, 16),
        ))
        .map_err(draw_err)?;
        for (r, row) in self.rows.iter().enumerate() {
            for (c, im) in row.iter().enumerate() {
                draw_image(root, im, self.width, (w, h), c as u32, r as u32)?;
            }
        }
        Ok(())
    }
}

/// A matrix of counts as shaded cells with their numbers (a confusion matrix: rows true,
/// columns predicted).
pub struct Matrix {
    pub title: String,
    pub cells: Vec<Vec<u64>>,
}

const MCELL: i32 = 44;

impl Plot for Matrix {
    fn size(&self) -> (u32, u32) {
        let k = self.cells.len() as u32;
        ((k * MCELL as u32 + 120).max(320), k * MCELL as u32 + 110)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (x0, y0) = (70, 70);
        root.draw(&Text::new(self.title.clone(), (10, 8), (FAMILY, 18)))
            .map_err(draw_err)?;
        root.draw(&Text::new("predicted", (x0, 40), (FAMILY, 14)))
            .map_err(draw_err)?;
        root.draw(&Text::new("true", (6, y0 - 20), (FAMILY, 14)))
            .map_err(draw_err)?;
        for (r, row) in self.cells.iter().enumerate() {
            let total = row.iter().sum::<u64>().max(1) as f64;
            let ry = y0 + r as i32 * MCELL;
            root.draw(&Text::new(format!("{r}"), (x0 - 22, ry + 14), (FAMILY, 14)))
                .map_err(draw_err)?;
            for (c, &n) in row.iter().enumerate() {
                let cx = x0 + c as i32 * MCELL;
                if r == 0 {
                    root.draw(&Text::new(format!("{c}"), (cx + 16, y0 - 18), (FAMILY, 14)))
                        .map_err(draw_err)?;
                }
                let f = n as f64 / total;
                let shade = (255.0 * (1.0 - f)) as u8;
                let fill = RGBColor(shade, shade, 255);
                root.draw(&Rectangle::new(
                    [(cx, ry), (cx + MCELL - 2, ry + MCELL - 2)],
                    fill.filled(),
                ))
                .map_err(draw_err)?;
                if n > 0 {
                    let colour = if f > 0.5 { WHITE } else { BLACK };
                    root.draw(&Text::new(
                        format!("{n}"),
                        (cx + 8, ry + 13),
                        (FAMILY, 14).into_font().color(&colour),
                    ))
                    .map_err(draw_err)?;
                }
            }
        }
        Ok(())
    }
}

/// Energy against sweeps, one colour per read: the current energy as a thin line and the best
/// so far as a thick one (`pbit anneal --plot`).
pub struct EnergyTraces {
    pub title: String,
    /// Per read: (name, points).
    pub reads: Vec<(String, Vec<TracePoint>)>,
}

/// (sweep, current energy, best energy so far).
pub type TracePoint = (f64, f64, f64);

impl Plot for EnergyTraces {
    fn size(&self) -> (u32, u32) {
        (900, 550)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let pts = || self.reads.iter().flat_map(|(_, p)| p.iter());
        let (x0, x1) = span(pts().map(|p| p.0));
        let (y0, y1) = span(pts().flat_map(|p| [p.1, p.2]));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("sweeps")
            .y_desc("energy (thin: current, thick: best so far)")
            .label_style((FAMILY, 14))
            .draw()
            .map_err(draw_err)?;
        // a legend only while it stays readable
        let legend = self.reads.len() <= 12;
        for (k, (name, p)) in self.reads.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    p.iter().map(|q| (q.0, q.1)),
                    colour.mix(0.45).stroke_width(1),
                ))
                .map_err(draw_err)?;
            let s = chart
                .draw_series(LineSeries::new(
                    p.iter().map(|q| (q.0, q.2)),
                    colour.stroke_width(3),
                ))
                .map_err(draw_err)?;
            if legend {
                s.label(name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
            }
        }
        if legend && !self.reads.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font((FAMILY, 13))
                .draw()
                .map_err(draw_err)?;
        }
        Ok(())
    }
}

/// A histogram beside a scatter (`pbit sample --plot`: the energies, and the sampled marginals
/// against the exact ones where they can be computed); the histogram alone without one.
pub struct HistogramAndScatter {
    pub histogram: Histogram,
    pub scatter: Option<Scatter>,
}

impl Plot for HistogramAndScatter {
    fn size(&self) -> (u32, u32) {
        let (hw, hh) = self.histogram.size();
        match &self.scatter {
            Some(s) => (hw + s.size().0, hh.max(s.size().1)),
            None => (hw, hh),
        }
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        match &self.scatter {
            None => self.histogram.draw(root),
            Some(s) => {
                let (left, right) = root.split_horizontally(self.histogram.size().0);
                self.histogram.draw(&left)?;
                s.draw(&right)
            }
        }
    }
}

/// Checks that `path` can be written as a plot before long work starts (extension only).
pub fn check_path(path: &Path) -> Result<(), PlotError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("png") | Some("svg") => Ok(()),
        _ => Err(PlotError::Extension(path.display().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pbit-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// Decodes a PNG: (width, height, pixels that are not white).
    fn decode(path: &Path) -> (u32, u32, usize) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        let px = &buf[..info.buffer_size()];
        let drawn = px.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        (info.width, info.height, drawn)
    }

    fn plots() -> (Lines, ImageGrid, Matrix, Histogram, Scatter) {
        (
            Lines {
                title: "energy".into(),
                x_label: "sweep".into(),
                y_label: "E".into(),
                series: vec![("read 0".into(), vec![(0.0, 1.0), (1.0, -2.0), (2.0, -3.0)])],
            },
            ImageGrid {
                title: "label 3".into(),
                images: vec![vec![true, false, false, true]; 5],
                width: 2,
            },
            Matrix {
                title: "confusion".into(),
                cells: vec![vec![5, 1], vec![0, 7]],
            },
            Histogram {
                title: "energies".into(),
                x_label: "E".into(),
                values: vec![-3.0, -2.0, -2.0, 0.5],
                bins: 4,
            },
            Scatter {
                title: "marginals".into(),
                x_label: "exact".into(),
                y_label: "sampled".into(),
                points: vec![(0.1, 0.12), (0.5, 0.49)],
            },
        )
    }

    #[test]
    fn pngs_decode_with_their_size_and_something_drawn() {
        let (l, g, m, h, s) = plots();
        let check = |name: &str, size: (u32, u32)| {
            let (w, hh, drawn) = decode(&tmp(name));
            assert_eq!((w, hh), size, "{name}");
            // more than a frame's worth: text, lines or cells were drawn
            assert!(drawn > 200, "{name}: {drawn} non-white pixels");
        };
        write(&tmp("l.png"), &l).unwrap();
        check("l.png", l.size());
        write(&tmp("g.png"), &g).unwrap();
        check("g.png", g.size());
        write(&tmp("m.png"), &m).unwrap();
        check("m.png", m.size());
        write(&tmp("h.png"), &h).unwrap();
        check("h.png", h.size());
        write(&tmp("s.png"), &s).unwrap();
        check("s.png", s.size());
    }

    #[test]
    fn energy_traces_and_histogram_beside_scatter_decode() {
        let (_, _, _, h, sc) = plots();
        let t = EnergyTraces {
            title: "anneal".into(),
            reads: (0..3)
                .map(|r| {
                    let p = (0..50)
                        .map(|k| {
                            let e = -(k as f64) - r as f64 + (k % 3) as f64;
                            (k as f64, e, -(k as f64) - r as f64)
                        })
                        .collect();
                    (format!("read {r}"), p)
                })
                .collect(),
        };
        let both = HistogramAndScatter {
            histogram: h,
            scatter: Some(sc),
        };
        for (name, size) in [("t.png", t.size()), ("b.png", both.size())] {
            if name == "t.png" {
                write(&tmp(name), &t).unwrap();
            } else {
                write(&tmp(name), &both).unwrap();
            }
            let (w, hh, drawn) = decode(&tmp(name));
            assert_eq!((w, hh), size, "{name}");
            assert!(drawn > 200, "{name}: {drawn} non-white pixels");
        }
        assert_eq!(both.size(), (1400, 600));
    }

    #[test]
    fn svgs_are_svg_with_text_and_shapes() {
        let (l, _, m, _, _) = plots();
        for (name, size) in [("l.svg", l.size()), ("m.svg", m.size())] {
            let p = tmp(name);
            if name == "l.svg" {
                write(&p, &l).unwrap();
            } else {
                write(&p, &m).unwrap();
            }
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(t.contains("<svg"), "{name}");
            assert!(
                t.contains(&format!("width=\"{}\"", size.0))
                    && t.contains(&format!("height=\"{}\"", size.1)),
                "{name}"
            );
            assert!(t.contains("<text") && (t.contains("<rect") || t.contains("<polyline")));
        }
        assert!(matches!(
            write(&tmp("x.jpg"), &l),
            Err(PlotError::Extension(_))
        ));
        assert!(check_path(Path::new("a.PNG")).is_ok());
        assert!(check_path(Path::new("a")).is_err());
    }
}
