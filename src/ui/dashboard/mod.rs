//! The dashboard: the summary (total, refresh, status per connection, notes), then
//! accounts per connection, assets, positions and the connection list. One file per part, so
//! the history and chart views can land beside them.

mod accounts;
mod assets;
mod connections;
mod positions;
mod summary;

pub use summary::Dashboard;
