//! Pages, one module per route (the routes themselves are in `App`). A page fetches its data
//! through `crate::api` and draws it with `crate::components`; pages never import each other.

pub mod compare;
pub mod datasets;
pub mod home;
pub mod landscape;
pub mod run;
pub mod share;
pub mod shares;
pub mod sweep;
