//! What the daemon's loop and the D-Bus edge exchange, and nothing else:
//! the loop hands D-Bus a read-only [`StateView`] and gets [`BusEvent`]s
//! back, which only the loop applies (docs/design.md §A2 rule 6: one thread
//! of control holds the state). The edge itself, present or a no-op when
//! the `dbus` feature is off, is [`crate::app::edge`].

use crate::base::root::Root;
use crate::desired::Wanted;
use crate::reconcile::engine::Engine;
use crate::sources::config::host::HostIdentity;
use crate::sources::config::StacdConf;

/// The daemon's state as D-Bus may read it: borrowed for one call.
#[derive(Debug, Clone, Copy)]
pub struct StateView<'a> {
    pub root: &'a Root,
    pub conf: &'a StacdConf,
    pub host: &'a HostIdentity,
    pub engine: &'a Engine,
    /// `--tron` given: written `tron` cannot turn trace off (docs/design.md D15).
    pub cli_tron: bool,
}

/// What D-Bus asks of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// stafd's I/O controllers are now these (its answer, or the ownership
    /// record's until it answers): the desired set's stafd part.
    Stafd(Vec<Wanted>),
    /// The D-Bus `tron` property was written (docs/design.md §6.2).
    Tron(bool),
}
