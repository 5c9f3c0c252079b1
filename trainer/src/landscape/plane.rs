//! Plane finding for network landscapes: the PCA plane, the curved PCA sheet, or a pair of
//! filter-normalised random directions, and where every stored checkpoint lands on it.

use experiment::landscape::LandscapeMethod;

use super::grid::Sheet;
use super::scratch::Scratch;
use super::{Reporter, pca, random};
use crate::TrainError;

/// Where each distinct checkpoint lands on the map.
pub struct Placed {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub dist: Vec<f64>,
    /// Distance of each checkpoint from the map's centre.
    pub from_centre: Vec<f64>,
}

/// What the method-specific phase produces.
pub struct Plane {
    pub sheet: Sheet,
    pub placed: Placed,
    pub explained: Vec<f64>,
    pub labels: (String, String),
}

/// The method's plane (or sheet) and where every stored checkpoint lies on it.
pub fn find_plane(
    method: &LandscapeMethod,
    scratch: &Scratch,
    mean: &[f64],
    last_main: usize,
    shapes: &[Vec<usize>],
    report: &mut Reporter<'_>,
) -> Result<Option<Plane>, TrainError> {
    let (t, p) = (scratch.len(), scratch.dim());
    let block = pca::block_len(t, p);
    match method {
        LandscapeMethod::Pca | LandscapeMethod::CurvedPca => {
            let curved = matches!(method, LandscapeMethod::CurvedPca);
            pca_plane(curved, scratch, mean, block, report)
        }
        LandscapeMethod::RandomFilterNormalized { seed } => {
            random_plane(*seed, scratch, last_main, shapes, block, report)
        }
    }
}

/// The plane of the first two principal components through the checkpoints' mean; `curved`
/// bends it along PC3 by the least-squares parabola in PC1.
fn pca_plane(
    curved: bool,
    scratch: &Scratch,
    mean: &[f64],
    block: usize,
    report: &mut Reporter<'_>,
) -> Result<Option<Plane>, TrainError> {
    let (t, p) = (scratch.len(), scratch.dim());
    let nblocks = pca::blocks(p, block);
    if t < 3 {
        return Err(TrainError::InvalidSpec(format!(
            "a PCA plane needs at least 3 distinct checkpoints, got {t}"
        )));
    }
    let k = if curved { 3 } else { 2 };
    // Two streamed passes: the Gram matrix, then the directions.
    let total = 2 * nblocks;
    let mut done = 0;
    let mut tick = || {
        done += 1;
        report.tick("pca", done, total)
    };
    let Some(pc) = pca::pca(scratch, mean, k, block, &mut tick)? else {
        return Ok(None);
    };
    let c1: Vec<f64> = pc.coords.iter().map(|c| c[0]).collect();
    let c2: Vec<f64> = pc.coords.iter().map(|c| c[1]).collect();
    let explained = pc.explained();
    let mut dirs = pc.directions.into_iter();
    let (d1, d2) = (
        dirs.next().unwrap_or_default(),
        dirs.next().unwrap_or_default(),
    );
    let (lift, dist) = if curved {
        let c3: Vec<f64> = pc.coords.iter().map(|c| c[2]).collect();
        let coef = pca::fit_quadratic(&c1, &c3);
        // Distance to the sheet point above (c1, c2): the off-sheet remainder plus the
        // PC3 gap to the fitted height.
        let dist = (0..t)
            .map(|i| {
                let [a, b, q] = coef;
                let h = a + b * c1[i] + q * c1[i] * c1[i];
                let rest = pc.sq_norms[i] - c1[i].powi(2) - c2[i].powi(2) - c3[i].powi(2);
                (rest.max(0.0) + (c3[i] - h).powi(2)).sqrt()
            })
            .collect();
        (Some((dirs.next().unwrap_or_default(), coef)), dist)
    } else {
        let dist = (0..t)
            .map(|i| {
                (pc.sq_norms[i] - c1[i].powi(2) - c2[i].powi(2))
                    .max(0.0)
                    .sqrt()
            })
            .collect();
        (None, dist)
    };
    let from_centre = pc.sq_norms.iter().map(|n| n.sqrt()).collect();
    Ok(Some(Plane {
        sheet: Sheet {
            centre: mean.iter().map(|&m| m as f32).collect(),
            d1,
            d2,
            lift,
        },
        placed: Placed {
            x: c1,
            y: c2,
            dist,
            from_centre,
        },
        explained,
        labels: ("PC1".into(), "PC2".into()),
    }))
}

/// Two filter-normalised random directions centred on the main path's last checkpoint, with
/// every checkpoint projected onto them.
fn random_plane(
    seed: u64,
    scratch: &Scratch,
    last_main: usize,
    shapes: &[Vec<usize>],
    block: usize,
    report: &mut Reporter<'_>,
) -> Result<Option<Plane>, TrainError> {
    let (t, p) = (scratch.len(), scratch.dim());
    let mut centre = vec![0.0f32; p];
    scratch.read(last_main, 0, &mut centre)?;
    // Streams 1 and 2 of the direction seed: the two axes are independent draws.
    let d1 = random::filter_normalised(seed, 1, &centre, shapes);
    let d2 = random::filter_normalised(seed, 2, &centre, shapes);
    let total = t as u64;
    let mut done = 0;
    let mut tick = || {
        done += 1;
        report.tick("pca", done, total)
    };
    let Some(proj) = random::project(scratch, &centre, &d1, &d2, block, &mut tick)? else {
        return Ok(None);
    };
    Ok(Some(Plane {
        sheet: Sheet {
            centre,
            d1,
            d2,
            lift: None,
        },
        placed: Placed {
            x: proj.iter().map(|p| p.x).collect(),
            y: proj.iter().map(|p| p.y).collect(),
            dist: proj.iter().map(|p| p.dist).collect(),
            from_centre: proj.iter().map(|p| p.from_centre).collect(),
        },
        explained: Vec::new(),
        labels: ("direction 1".into(), "direction 2".into()),
    }))
}
